"""The standard schedules (the protocols of Park et al., Nat. Chem. 2022): their options and
defaults, and the step tables they stand for.

:data:`PRESET_BUILDERS` maps each name to (step builder, option defaults); the first line of
a builder's docstring describes the preset in the generated configuration reference.
"""

from __future__ import annotations

from mcsim.errors import ConfigError
from mcsim.schedule.limits import (check_number, check_positive_minutes, check_rate,
                                   check_temperature)

#: Marks a preset option without a default, which the user must give.
REQUIRED = object()


def _check_preset_number(option: str, value) -> None:
    """Validate rate (``*_c_per_min``) and duration (``*_min``) preset options."""
    if option.endswith("_c_per_min"):
        check_rate(f"schedule.{option}", value)
    elif option.endswith("hold_min"):  # a preset's hold may be 0 (left out)
        key = f"schedule.{option}"
        allowed = "must be a duration in minutes, 0 or more"
        if check_number(key, value, allowed) < 0.0:
            raise ConfigError(key, value, allowed)
    elif option.endswith("_min"):
        check_positive_minutes(f"schedule.{option}", value)


def _check_above(option: str, value, floor_c: float, what: str) -> float:
    """A temperature option that must lie above ``floor_c``."""
    temp_c = check_temperature(f"schedule.{option}", value)
    if not temp_c > floor_c:
        raise ConfigError(f"schedule.{option}", value, f"must be above {what} ({floor_c} °C)")
    return temp_c


def _hold(minutes) -> list:
    """A preset's hold step, or none for a hold of 0 minutes (so a sweep over hold times can
    start at 0 h; an explicit step in a custom schedule must still last > 0 min)."""
    if isinstance(minutes, (int, float)) and not isinstance(minutes, bool) and minutes == 0:
        return []
    return [{"hold_min": minutes}]


def _steps_r_ncm(start_c: float, opts: dict) -> list:
    """Conventional one-step calcination: ramp, long hold, cool."""
    peak_c = _check_above("peak_c", opts["peak_c"], start_c, "start_c")
    return [{"ramp_c_per_min": opts["ramp_c_per_min"], "to_c": peak_c},
            *_hold(opts["hold_min"]),
            {"cool_c_per_min": opts["cool_c_per_min"], "to_c": start_c}]


def _steps_ts_ncm(start_c: float, opts: dict) -> list:
    """Two-step calcination: intermediate hold, then the high-temperature hold."""
    hold_c = _check_above("hold_c", opts["hold_c"], start_c, "start_c")
    peak_c = _check_above("peak_c", opts["peak_c"], hold_c, "hold_c")
    return [{"ramp_c_per_min": opts["ramp_c_per_min"], "to_c": hold_c},
            *_hold(opts["hold_min"]),
            {"ramp_c_per_min": opts["ramp_c_per_min"], "to_c": peak_c},
            *_hold(opts["peak_hold_min"]),
            {"cool_c_per_min": opts["cool_c_per_min"], "to_c": start_c}]


def _steps_quasi_equilibrium(start_c: float, opts: dict) -> list:
    """In situ XRD profile: ramp to each temperature in turn and relax there."""
    key = "schedule.step_temperatures_c"
    temps = opts["step_temperatures_c"]
    if isinstance(temps, (str, bytes)) or not hasattr(temps, "__len__") or len(temps) == 0:
        raise ConfigError(key, temps, "must be a non-empty list of temperatures in °C")
    steps, previous_c = [], start_c
    for index, value in enumerate(temps):
        temp_c = check_temperature(f"{key}[{index}]", value)
        if not temp_c > previous_c:
            raise ConfigError(f"{key}[{index}]", value,
                              f"must be above the previous temperature ({previous_c} °C); "
                              "the list must increase and start above start_c")
        steps.append({"ramp_c_per_min": opts["ramp_c_per_min"], "to_c": temp_c})
        steps.append({"hold_min": opts["relax_min"]})
        previous_c = temp_c
    return steps


def _steps_interrupted(start_c: float, opts: dict) -> list:
    """Ex situ sample: ramp to a temperature and quench back to start_c."""
    quench_at_c = _check_above("quench_at_c", opts["quench_at_c"], start_c, "start_c")
    return [{"ramp_c_per_min": opts["ramp_c_per_min"], "to_c": quench_at_c},
            {"quench_to_c": start_c}]


def _steps_ramp(start_c: float, opts: dict) -> list:
    """A single heating ramp with no cooling."""
    to_c = _check_above("to_c", opts["to_c"], start_c, "start_c")
    return [{"ramp_c_per_min": opts["ramp_c_per_min"], "to_c": to_c}]


#: Preset name -> (step builder, option defaults; REQUIRED marks required options).
PRESET_BUILDERS = {
    "R-NCM": (_steps_r_ncm, {"ramp_c_per_min": 5.0, "peak_c": 850.0, "hold_min": 720.0,
                             "cool_c_per_min": 5.0}),
    "TS-NCM": (_steps_ts_ncm, {"ramp_c_per_min": 5.0, "hold_c": 250.0, "hold_min": 360.0,
                               "peak_c": 850.0, "peak_hold_min": 360.0,
                               "cool_c_per_min": 5.0}),
    "quasi-equilibrium": (_steps_quasi_equilibrium,
                          {"step_temperatures_c": tuple(float(t) for t in range(100, 851, 25)),
                           "relax_min": 5.0, "ramp_c_per_min": 5.0}),
    "interrupted": (_steps_interrupted, {"quench_at_c": REQUIRED, "ramp_c_per_min": 5.0}),
    "ramp": (_steps_ramp, {"to_c": REQUIRED, "ramp_c_per_min": 5.0}),
}

#: Names accepted by :meth:`Schedule.preset`.
PRESETS = tuple(PRESET_BUILDERS)


def preset_steps(name: str, start_c: float, options: dict) -> tuple:
    """Check a preset's name and options and return (start_c, steps, values).

    ``start_c`` comes back as a checked float, ``steps`` is the step table the preset stands
    for and ``values`` its options with the defaults filled in. Raises ConfigError with key
    ``schedule.preset`` or ``schedule.<option>``.
    """
    if name not in PRESET_BUILDERS:
        raise ConfigError("schedule.preset", name,
                          f"unknown preset; allowed: {', '.join(PRESETS)}")
    builder, defaults = PRESET_BUILDERS[name]
    for option in options:
        if option not in defaults:
            allowed = ", ".join(defaults) if defaults else "none"
            raise ConfigError(f"schedule.{option}", options[option],
                              f"unknown option for preset {name!r}; allowed: {allowed}")
    values = {**defaults, **options}
    for option, value in values.items():
        if value is REQUIRED:
            raise ConfigError(f"schedule.{option}", None, f"required by preset {name!r}")
    for option, value in values.items():
        _check_preset_number(option, value)
    start_c = check_temperature("schedule.start_c", start_c)
    return start_c, builder(start_c, values), values


def preset_option(values: dict, step: dict) -> str:
    """The preset option that sets the length of ``step`` (a hold's ``*_min`` option of
    the same value, else the step's rate option)."""
    if "hold_min" in step:
        for option, value in values.items():
            if option.endswith("_min") and not option.endswith("_c_per_min") \
                    and value == step["hold_min"]:
                return option
    return "ramp_c_per_min" if "ramp_c_per_min" in step else "cool_c_per_min"
