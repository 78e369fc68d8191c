"""User step tables (``{"ramp_c_per_min": 5, "to_c": 850}``, ...): their validation, their
translation into segments and back."""

from __future__ import annotations

from mcsim.errors import ConfigError
from mcsim.schedule.limits import (MAX_DURATION_S, check_positive_minutes, check_rate,
                                   check_temperature)
from mcsim.schedule.segments import Segment

#: The step forms accepted by :meth:`Schedule.from_steps`: kind -> its exact set of keys.
_STEP_FORMS = {
    "ramp": frozenset({"ramp_c_per_min", "to_c"}),
    "cool": frozenset({"cool_c_per_min", "to_c"}),
    "hold": frozenset({"hold_min"}),
    "quench": frozenset({"quench_to_c"}),
}
_STEP_KEYS = ("ramp_c_per_min", "cool_c_per_min", "to_c", "hold_min", "quench_to_c")
_FORMS_TEXT = ('one of {"ramp_c_per_min", "to_c"}, {"cool_c_per_min", "to_c"}, '
               '{"hold_min"} or {"quench_to_c"}')


class TooLongError(ConfigError):
    """A step that ends the schedule past :data:`MAX_DURATION_S`.

    Parameters
    ----------
    key : str
        Dotted key of the step, e.g. ``schedule.steps[1]``.
    index : int
        Index of the step.
    step : dict
        The step table.
    end_s : float
        When the step would end, s.
    """

    def __init__(self, key: str, index: int, step: dict, end_s: float):
        self.index = index
        self.step = step
        field = next(name for name in ("hold_min", "ramp_c_per_min", "cool_c_per_min")
                     if name in step)
        super().__init__(f"{key}.{field}", step[field],
                         f"allowed: a schedule of at most {MAX_DURATION_S / 60:g} min "
                         f"({MAX_DURATION_S / 3600:g} h) in total; with this step it lasts "
                         f"{end_s / 60:.4g} min")


def segments_from_steps(start_c: float, steps, key: str) -> list:
    """The segments of a user step table starting at ``start_c`` °C at t = 0.

    Raises ConfigError (TooLongError past :data:`MAX_DURATION_S`) for any malformed,
    out-of-range or inconsistent step, with the full dotted key under ``key``.
    """
    parent = key.rpartition(".")[0]
    start_key = f"{parent}.start_c" if parent else "start_c"
    current_c = check_temperature(start_key, start_c)
    if isinstance(steps, (str, bytes, dict)) or not hasattr(steps, "__len__"):
        raise ConfigError(key, steps, "must be a list of step tables")
    if len(steps) == 0:
        raise ConfigError(key, steps, "at least one step is required")
    segments = []
    t_s = 0.0
    for index, step in enumerate(steps):
        segment = _segment_from_step(f"{key}[{index}]", index, step, t_s, current_c)
        if not segment.t_end_s <= MAX_DURATION_S:  # checked per step: no inf + inf
            raise TooLongError(f"{key}[{index}]", index, step, segment.t_end_s)
        segments.append(segment)
        t_s, current_c = segment.t_end_s, segment.end_c
    return segments


def _step_kind(key: str, step) -> str:
    """Identify which form a step dict has, or raise ConfigError."""
    if not isinstance(step, dict):
        raise ConfigError(key, step, f"each step must be a table (dict), {_FORMS_TEXT}")
    for name in step:
        if name not in _STEP_KEYS:
            raise ConfigError(f"{key}.{name}", step[name],
                              f"unknown step key; allowed keys are {', '.join(_STEP_KEYS)}")
    names = frozenset(step)
    for kind, form in _STEP_FORMS.items():
        if names == form:
            return kind
    raise ConfigError(key, step, f"a step must have exactly {_FORMS_TEXT}")


def _reached_by(index: int, temp_c: float) -> str:
    """Phrase naming the temperature the schedule has reached before step ``index``."""
    if index == 0:
        return f"the start temperature ({temp_c} °C)"
    return f"the temperature reached by step {index - 1} ({temp_c} °C)"


def _segment_from_step(key: str, index: int, step, t_s: float, current_c: float) -> Segment:
    """Validate one step dict and turn it into the segment starting at (t_s, current_c)."""
    kind = _step_kind(key, step)
    if kind == "hold":
        minutes = check_positive_minutes(f"{key}.hold_min", step["hold_min"])
        return Segment("hold", t_s, t_s + minutes * 60.0, current_c, current_c)
    if kind == "quench":
        target_c = check_temperature(f"{key}.quench_to_c", step["quench_to_c"])
        if not target_c < current_c:
            raise ConfigError(f"{key}.quench_to_c", step["quench_to_c"],
                              f"must be below {_reached_by(index, current_c)} for a quench")
        return Segment("quench", t_s, t_s, current_c, target_c)
    rate_key = "ramp_c_per_min" if kind == "ramp" else "cool_c_per_min"
    rate = check_rate(f"{key}.{rate_key}", step[rate_key])
    target_c = check_temperature(f"{key}.to_c", step["to_c"])
    heating = kind == "ramp"
    if (target_c > current_c) != heating or target_c == current_c:
        side = "above" if heating else "below"
        raise ConfigError(f"{key}.to_c", step["to_c"],
                          f"must be {side} {_reached_by(index, current_c)} for a {kind}")
    minutes = abs(target_c - current_c) / rate
    return Segment(kind, t_s, t_s + minutes * 60.0, current_c, target_c)


def _round12(value: float) -> float:
    """Round to 12 significant digits (undoes float noise from time arithmetic)."""
    return float(f"{value:.12g}")


def step_from_segment(segment: Segment) -> dict:
    """The step dict that produces ``segment``."""
    minutes = segment.duration_s / 60.0
    if segment.kind == "hold":
        return {"hold_min": _round12(minutes)}
    if segment.kind == "quench":
        return {"quench_to_c": segment.end_c}
    rate = _round12(abs(segment.end_c - segment.start_c) / minutes)
    rate_key = "ramp_c_per_min" if segment.kind == "ramp" else "cool_c_per_min"
    return {rate_key: rate, "to_c": segment.end_c}
