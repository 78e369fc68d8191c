"""Piecewise-linear heating schedules (ramps, holds, cooling, quenches) and their presets."""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

import numpy as np

from mcsim.errors import ConfigError

__all__ = ["Segment", "Schedule", "PRESETS", "GAS_CONSTANT_J_PER_MOL_K"]

#: Molar gas constant, J/(mol K).
GAS_CONSTANT_J_PER_MOL_K = 8.314462618
#: 0 °C in kelvin.
_ZERO_C_IN_K = 273.15
#: Allowed temperature range, °C.
MIN_TEMPERATURE_C = -273.15
MAX_TEMPERATURE_C = 2000.0
#: Largest heating or cooling rate a step may ask for, °C/min.
MAX_RATE_C_PER_MIN = 1000.0
#: Longest schedule, s (1000 h, about six weeks). Industrial calcinations and the paper's
#: schedules last hours to a day (R-NCM about 18 h, TS-NCM about 18 h, the quasi-equilibrium
#: profile about 8 h); the engine takes at least one step per ``numerics.dt_max_s`` and a
#: time-series row per ``output.timeseries_interval_s``, so a schedule of years (a mistyped
#: hold, a rate of 1e-6 °C/min) would only run until the job is killed. 1000 h leaves room
#: for long holds and slow ramps (25 to 850 °C at 0.02 °C/min is 688 h).
MAX_DURATION_S = 1000.0 * 3600.0

SEGMENT_KINDS = ("ramp", "hold", "cool", "quench")

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

#: Relative tolerance of :meth:`Schedule.integrate_arrhenius`.
_ARRHENIUS_RTOL = 1e-12
#: Gauss-Legendre nodes and weights on [-1, 1] used for ramps.
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(16)


@dataclass(frozen=True)
class Segment:
    """One piece of a heating schedule on which temperature is linear in time.

    Attributes
    ----------
    kind : str
        "ramp" (heating), "hold" (constant), "cool" (cooling at a finite rate) or
        "quench" (instantaneous drop, ``t_end_s == t_start_s``).
    t_start_s, t_end_s : float
        Start and end times, s.
    start_c, end_c : float
        Temperatures at the start and end of the segment, °C.
    """

    kind: str
    t_start_s: float
    t_end_s: float
    start_c: float
    end_c: float

    @property
    def duration_s(self) -> float:
        """Length of the segment, s (0 for a quench)."""
        return self.t_end_s - self.t_start_s

    @property
    def rate_c_per_s(self) -> float:
        """dT/dt on the segment, °C/s (0 for holds and quenches)."""
        if self.duration_s <= 0.0:
            return 0.0
        return (self.end_c - self.start_c) / self.duration_s


# --------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------

def _is_number(value) -> bool:
    """True for real, finite, non-boolean numbers."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
        return False
    return math.isfinite(float(value))


def _number(key: str, value, allowed: str = "must be a finite number") -> float:
    """Return ``value`` as float or raise ConfigError naming ``key``."""
    if not _is_number(value):
        raise ConfigError(key, value, allowed)
    return float(value)


def _temperature(key: str, value) -> float:
    """A temperature in the allowed range, °C."""
    allowed = (f"must be a temperature in °C within [{MIN_TEMPERATURE_C}, "
               f"{MAX_TEMPERATURE_C}]")
    temp_c = _number(key, value, allowed)
    if not MIN_TEMPERATURE_C <= temp_c <= MAX_TEMPERATURE_C:
        raise ConfigError(key, value, allowed)
    return temp_c


def _rate(key: str, value) -> float:
    """A heating or cooling rate in (0, MAX_RATE_C_PER_MIN], °C/min."""
    allowed = f"must be a rate in °C/min above 0 and at most {MAX_RATE_C_PER_MIN:g}"
    rate = _number(key, value, allowed)
    if not 0.0 < rate <= MAX_RATE_C_PER_MIN:
        raise ConfigError(key, value, allowed)
    return rate


def _positive_minutes(key: str, value) -> float:
    """A duration in minutes, > 0."""
    allowed = "must be a duration in minutes above 0"
    minutes = _number(key, value, allowed)
    if minutes <= 0.0:
        raise ConfigError(key, value, allowed)
    return minutes


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


# --------------------------------------------------------------------------------------
# Schedule
# --------------------------------------------------------------------------------------

class Schedule:
    """An immutable temperature program T(t), piecewise linear with optional quenches.

    Parameters
    ----------
    start_c : float
        Temperature at t = 0 (and before), °C.
    segments : sequence of Segment
        Contiguous segments; the first starts at t = 0 s at ``start_c`` and each starts
        where and at the temperature the previous one ended.

    Notes
    -----
    Before t = 0 the temperature is ``start_c``; after the last segment it is the final
    temperature. A quench is a discontinuity: at the quench instant the temperature is the
    one after the quench.
    """

    __slots__ = ("_start_c", "_segments", "_lin_t0_s", "_lin_t1_s", "_lin_c0", "_lin_rate",
                 "_frozen")

    def __init__(self, start_c: float, segments=()):
        start_c = _temperature("schedule.start_c", start_c)
        segments = tuple(segments)
        _check_segments(start_c, segments)
        self._start_c = start_c
        self._segments = segments
        # Segments of positive length, for the vectorised lookups.
        linear = [s for s in segments if s.duration_s > 0.0]
        self._lin_t0_s = np.array([s.t_start_s for s in linear], dtype=float)
        self._lin_t1_s = np.array([s.t_end_s for s in linear], dtype=float)
        self._lin_c0 = np.array([s.start_c for s in linear], dtype=float)
        self._lin_rate = np.array([s.rate_c_per_s for s in linear], dtype=float)
        for array in (self._lin_t0_s, self._lin_t1_s, self._lin_c0, self._lin_rate):
            array.flags.writeable = False
        self._frozen = True

    def __setattr__(self, name, value):
        if getattr(self, "_frozen", False):
            raise AttributeError("Schedule is immutable")
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        raise AttributeError("Schedule is immutable")

    def __eq__(self, other):
        if not isinstance(other, Schedule):
            return NotImplemented
        return self._start_c == other._start_c and self._segments == other._segments

    def __hash__(self):
        return hash((self._start_c, self._segments))

    def __repr__(self):
        return f"Schedule(start_c={self._start_c!r}, segments={list(self._segments)!r})"

    # ---------------------------------------------------------------- construction

    @classmethod
    def from_steps(cls, start_c: float, steps, key: str = "schedule.steps") -> "Schedule":
        """Build a schedule from a user step table.

        Parameters
        ----------
        start_c : float
            Temperature at t = 0, °C.
        steps : list of dict
            Each step is exactly one of ``{"ramp_c_per_min": r, "to_c": T}`` (heating to
            T above the current temperature), ``{"cool_c_per_min": r, "to_c": T}``
            (cooling to T below it), ``{"hold_min": m}`` (m > 0 minutes) or
            ``{"quench_to_c": T}`` (instantaneous drop to T below it). Rates are in
            °C/min, at most 1000.
        key : str
            Dotted configuration path of ``steps``, used in error messages.

        Returns
        -------
        Schedule

        Raises
        ------
        ConfigError
            For any malformed, out-of-range or inconsistent step, with the full dotted key
            (e.g. ``schedule.steps[2].to_c``).
        """
        parent = key.rpartition(".")[0]
        start_key = f"{parent}.start_c" if parent else "start_c"
        current_c = _temperature(start_key, start_c)
        if isinstance(steps, (str, bytes, dict)) or not hasattr(steps, "__len__"):
            raise ConfigError(key, steps, "must be a list of step tables")
        if len(steps) == 0:
            raise ConfigError(key, steps, "at least one step is required")
        segments = []
        t_s = 0.0
        for index, step in enumerate(steps):
            segment = _segment_from_step(f"{key}[{index}]", index, step, t_s, current_c)
            if not segment.t_end_s <= MAX_DURATION_S:  # checked per step: no inf + inf
                raise _TooLongError(f"{key}[{index}]", index, step, segment.t_end_s)
            segments.append(segment)
            t_s, current_c = segment.t_end_s, segment.end_c
        return cls(start_c, segments)

    @classmethod
    def preset(cls, name: str, *, start_c: float = 25.0, **options) -> "Schedule":
        """One of the standard schedules (the protocols of Park et al., Nat. Chem. 2022).

        Parameters
        ----------
        name : str
            One of :data:`PRESETS`: "R-NCM", "TS-NCM", "quasi-equilibrium",
            "interrupted", "ramp".
        start_c : float
            Room temperature the schedule starts from (and cools or quenches back to), °C.
        **options
            Preset options, with defaults in brackets; unknown options raise ConfigError
            with key ``schedule.<option>``.

            - R-NCM: ``ramp_c_per_min`` (5), ``peak_c`` (850), ``hold_min`` (720),
              ``cool_c_per_min`` (5).
            - TS-NCM: ``ramp_c_per_min`` (5), ``hold_c`` (250), ``hold_min`` (360),
              ``peak_c`` (850), ``peak_hold_min`` (360), ``cool_c_per_min`` (5).
            - quasi-equilibrium: ``step_temperatures_c`` (100, 125, ..., 850),
              ``relax_min`` (5), ``ramp_c_per_min`` (5).
            - interrupted: ``quench_at_c`` (required), ``ramp_c_per_min`` (5).
            - ramp: ``to_c`` (required), ``ramp_c_per_min`` (5).

        Returns
        -------
        Schedule
        """
        if name not in _PRESET_BUILDERS:
            raise ConfigError("schedule.preset", name,
                              f"unknown preset; allowed: {', '.join(PRESETS)}")
        builder, defaults = _PRESET_BUILDERS[name]
        for option in options:
            if option not in defaults:
                allowed = ", ".join(defaults) if defaults else "none"
                raise ConfigError(f"schedule.{option}", options[option],
                                  f"unknown option for preset {name!r}; allowed: {allowed}")
        values = {**defaults, **options}
        for option, value in values.items():
            if value is _REQUIRED:
                raise ConfigError(f"schedule.{option}", None,
                                  f"required by preset {name!r}")
        for option, value in values.items():
            _check_preset_number(option, value)
        start_c = _temperature("schedule.start_c", start_c)
        try:
            return cls.from_steps(start_c, builder(start_c, values), key="schedule.steps")
        except _TooLongError as exc:  # name the preset option behind the longest step
            option = _preset_option(values, exc.step)
            raise ConfigError(f"schedule.{option}", values[option], exc.allowed) from None

    # ---------------------------------------------------------------- properties

    @property
    def start_c(self) -> float:
        """Temperature at t = 0, °C."""
        return self._start_c

    @property
    def end_c(self) -> float:
        """Temperature at the end of the schedule, °C."""
        return self._segments[-1].end_c if self._segments else self._start_c

    @property
    def segments(self) -> tuple:
        """The segments, in time order."""
        return self._segments

    @property
    def duration_s(self) -> float:
        """Total length of the schedule, s."""
        return self._segments[-1].t_end_s if self._segments else 0.0

    @property
    def breakpoints_s(self) -> np.ndarray:
        """Sorted distinct segment boundary times, s (0 and the end included)."""
        times = [0.0] + [s.t_end_s for s in self._segments]
        return np.unique(np.array(times, dtype=float))

    @property
    def max_c(self) -> float:
        """Highest temperature the schedule reaches, °C."""
        return max([self._start_c] + [s.end_c for s in self._segments])

    # ---------------------------------------------------------------- evaluation

    def _linear_segment_index(self, t_s: np.ndarray) -> np.ndarray:
        """Index into the positive-length segments of the one containing each time.

        A time on a boundary belongs to the segment that starts there, so the instant of a
        quench maps to the segment after it.
        """
        index = np.searchsorted(self._lin_t0_s, t_s, side="right") - 1
        return np.clip(index, 0, max(len(self._lin_t0_s) - 1, 0))

    def temperature_c(self, t_s):
        """Temperature at time ``t_s``.

        Parameters
        ----------
        t_s : float or array_like
            Time(s), s.

        Returns
        -------
        float or numpy.ndarray
            Temperature, °C; a float for scalar input.
        """
        times = np.asarray(t_s, dtype=float)
        result = np.full(times.shape, self.end_c, dtype=float)
        result[times < 0.0] = self._start_c
        inside = (times >= 0.0) & (times < self.duration_s)
        if np.any(inside) and len(self._lin_t0_s):
            t_in = times[inside]
            i = self._linear_segment_index(t_in)
            result[inside] = self._lin_c0[i] + (t_in - self._lin_t0_s[i]) * self._lin_rate[i]
        return float(result) if result.ndim == 0 else result

    def rate_c_per_s(self, t_s):
        """dT/dt of the segment containing ``t_s`` (0 before the start and after the end).

        Parameters
        ----------
        t_s : float or array_like
            Time(s), s.

        Returns
        -------
        float or numpy.ndarray
            Heating rate, °C/s (negative while cooling).
        """
        times = np.asarray(t_s, dtype=float)
        result = np.zeros(times.shape, dtype=float)
        inside = (times >= 0.0) & (times < self.duration_s)
        if np.any(inside) and len(self._lin_t0_s):
            result[inside] = self._lin_rate[self._linear_segment_index(times[inside])]
        return float(result) if result.ndim == 0 else result

    def time_at_c(self, temp_c: float, occurrence: int = 0):
        """Time at which the schedule reaches ``temp_c`` for the ``occurrence``-th time.

        An occurrence is one separate arrival at the temperature: a ramp ending at T, the
        hold at T after it and the cooling that leaves T count as one. A hold at exactly T
        returns the hold's start; the start temperature counts as reached at t = 0. A
        quench reaches only its final temperature, not the ones it jumps over.

        Parameters
        ----------
        temp_c : float
            Target temperature, °C.
        occurrence : int
            0 for the first arrival, 1 for the second, ...

        Returns
        -------
        float or None
            Time, s, or None if the schedule reaches ``temp_c`` fewer than
            ``occurrence + 1`` times.
        """
        if occurrence < 0:
            raise ValueError(f"occurrence = {occurrence!r}: must be >= 0")
        arrivals = self._arrival_times_s(float(temp_c))
        return arrivals[occurrence] if occurrence < len(arrivals) else None

    def _arrival_times_s(self, temp_c: float) -> list:
        """All separate arrival times at ``temp_c``, s, in order."""
        arrivals = []
        at_target = self._start_c == temp_c
        if at_target:
            arrivals.append(0.0)
        for segment in self._segments:
            hit_s = _segment_hit_time_s(segment, temp_c)
            continues = at_target and hit_s == segment.t_start_s
            if hit_s is not None and not continues:
                arrivals.append(hit_s)
            at_target = segment.end_c == temp_c
        return arrivals

    # ---------------------------------------------------------------- kinetics

    def integrate_arrhenius(self, a_per_s: float, ea_j_per_mol: float,
                            t0_s: float, t1_s: float) -> float:
        """Integral of A exp(-Ea / (R T(t))) dt over [t0_s, t1_s], T in kelvin.

        Constant-temperature pieces (holds, before the start, after the end) are exact;
        ramps and cooling use 16-point Gauss-Legendre quadrature with adaptive bisection
        to about 1e-12 relative accuracy.

        Parameters
        ----------
        a_per_s : float
            Pre-exponential factor, 1/s.
        ea_j_per_mol : float
            Activation energy, J/mol.
        t0_s, t1_s : float
            Integration limits, s; if ``t1_s < t0_s`` the result is negated.

        Returns
        -------
        float
            The integral (dimensionless, e.g. -ln of a first-order survival fraction).
        """
        if t1_s < t0_s:
            return -self.integrate_arrhenius(a_per_s, ea_j_per_mol, t1_s, t0_s)
        b_k = ea_j_per_mol / GAS_CONSTANT_J_PER_MOL_K
        cuts = self.breakpoints_s
        edges = np.concatenate(([t0_s], cuts[(cuts > t0_s) & (cuts < t1_s)], [t1_s]))
        total = 0.0
        for lo_s, hi_s in zip(edges[:-1], edges[1:]):
            if hi_s <= lo_s:
                continue
            total += self._piece_integral(b_k, float(lo_s), float(hi_s))
        return a_per_s * total

    def _piece_integral(self, b_k: float, lo_s: float, hi_s: float) -> float:
        """∫ exp(-b/T) dt on a piece where T is linear, b = Ea/R in K."""
        mid_s = 0.5 * (lo_s + hi_s)
        rate = self.rate_c_per_s(mid_s) if 0.0 <= mid_s < self.duration_s else 0.0
        if rate == 0.0:
            return (hi_s - lo_s) * _boltzmann(b_k, self.temperature_c(mid_s))
        temp_lo_c = self.temperature_c(mid_s) - rate * (mid_s - lo_s)
        return _adaptive_ramp_integral(b_k, temp_lo_c, rate, lo_s, hi_s)

    # ---------------------------------------------------------------- output

    def describe(self) -> str:
        """Human-readable table of the segments (kind, from, to, rate, duration)."""
        header = (f"{'#':>3}  {'kind':<7}{'from °C':>10}{'to °C':>10}"
                  f"{'rate °C/min':>13}{'start min':>11}{'duration min':>14}")
        lines = [f"Schedule starting at {self._start_c:g} °C, "
                 f"total {self.duration_s / 60.0:g} min, max {self.max_c:g} °C", header]
        for number, segment in enumerate(self._segments):
            rate = {"quench": "instant", "hold": "0"}.get(
                segment.kind, f"{segment.rate_c_per_s * 60.0:+.4g}")
            lines.append(f"{number:>3}  {segment.kind:<7}{segment.start_c:>10.6g}"
                         f"{segment.end_c:>10.6g}{rate:>13}"
                         f"{segment.t_start_s / 60.0:>11.6g}"
                         f"{segment.duration_s / 60.0:>14.6g}")
        return "\n".join(lines)

    def to_steps(self) -> list:
        """The schedule as a step table accepted by :meth:`from_steps`.

        Rates and hold lengths are rounded to 12 significant digits so that numbers the
        user typed come back unchanged.

        Returns
        -------
        list of dict
        """
        return [_step_from_segment(segment) for segment in self._segments]


# --------------------------------------------------------------------------------------
# Module-level helpers of Schedule
# --------------------------------------------------------------------------------------

def _check_segments(start_c: float, segments: tuple) -> None:
    """Raise ConfigError unless segments form a contiguous, consistent schedule."""
    t_s, temp_c = 0.0, start_c
    for index, segment in enumerate(segments):
        key = f"schedule.segments[{index}]"
        if not isinstance(segment, Segment):
            raise ConfigError(key, segment, "must be a Segment")
        if segment.kind not in SEGMENT_KINDS:
            raise ConfigError(f"{key}.kind", segment.kind,
                              f"allowed: {', '.join(SEGMENT_KINDS)}")
        if segment.t_start_s != t_s or segment.start_c != temp_c:
            raise ConfigError(key, segment, f"must start at t = {t_s} s and {temp_c} °C, "
                                            "where the previous segment ended")
        _check_segment_shape(key, segment)
        t_s, temp_c = segment.t_end_s, segment.end_c


def _check_segment_shape(key: str, segment: Segment) -> None:
    """Raise ConfigError if a segment's times and temperatures do not fit its kind."""
    duration_s = segment.duration_s
    rise_c = segment.end_c - segment.start_c
    expected = {
        "ramp": (duration_s > 0.0 and rise_c > 0.0, "a ramp needs positive duration and rise"),
        "cool": (duration_s > 0.0 and rise_c < 0.0, "a cool needs positive duration and drop"),
        "hold": (duration_s > 0.0 and rise_c == 0.0,
                 "a hold needs positive duration and constant temperature"),
        "quench": (duration_s == 0.0 and rise_c < 0.0,
                   "a quench needs zero duration and a temperature drop"),
    }
    ok, message = expected[segment.kind]
    if not ok:
        raise ConfigError(key, segment, message)
    _temperature(f"{key}.end_c", segment.end_c)


def _segment_from_step(key: str, index: int, step, t_s: float, current_c: float) -> Segment:
    """Validate one step dict and turn it into the segment starting at (t_s, current_c)."""
    kind = _step_kind(key, step)
    if kind == "hold":
        minutes = _positive_minutes(f"{key}.hold_min", step["hold_min"])
        return Segment("hold", t_s, t_s + minutes * 60.0, current_c, current_c)
    if kind == "quench":
        target_c = _temperature(f"{key}.quench_to_c", step["quench_to_c"])
        if not target_c < current_c:
            raise ConfigError(f"{key}.quench_to_c", step["quench_to_c"],
                              f"must be below {_reached_by(index, current_c)} for a quench")
        return Segment("quench", t_s, t_s, current_c, target_c)
    rate_key = "ramp_c_per_min" if kind == "ramp" else "cool_c_per_min"
    rate = _rate(f"{key}.{rate_key}", step[rate_key])
    target_c = _temperature(f"{key}.to_c", step["to_c"])
    heating = kind == "ramp"
    if (target_c > current_c) != heating or target_c == current_c:
        side = "above" if heating else "below"
        raise ConfigError(f"{key}.to_c", step["to_c"],
                          f"must be {side} {_reached_by(index, current_c)} for a {kind}")
    minutes = abs(target_c - current_c) / rate
    return Segment(kind, t_s, t_s + minutes * 60.0, current_c, target_c)


class _TooLongError(ConfigError):
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


def _preset_option(values: dict, step: dict) -> str:
    """The preset option that sets the length of ``step`` (a hold's ``*_min`` option of
    the same value, else the step's rate option)."""
    if "hold_min" in step:
        for option, value in values.items():
            if option.endswith("_min") and not option.endswith("_c_per_min") \
                    and value == step["hold_min"]:
                return option
    return "ramp_c_per_min" if "ramp_c_per_min" in step else "cool_c_per_min"


def _round12(value: float) -> float:
    """Round to 12 significant digits (undoes float noise from time arithmetic)."""
    return float(f"{value:.12g}")


def _step_from_segment(segment: Segment) -> dict:
    """The step dict that produces ``segment``."""
    minutes = segment.duration_s / 60.0
    if segment.kind == "hold":
        return {"hold_min": _round12(minutes)}
    if segment.kind == "quench":
        return {"quench_to_c": segment.end_c}
    rate = _round12(abs(segment.end_c - segment.start_c) / minutes)
    rate_key = "ramp_c_per_min" if segment.kind == "ramp" else "cool_c_per_min"
    return {rate_key: rate, "to_c": segment.end_c}


def _segment_hit_time_s(segment: Segment, temp_c: float):
    """Earliest time in a segment at which its temperature equals ``temp_c``, or None."""
    if segment.kind == "quench":
        return segment.t_start_s if segment.end_c == temp_c else None
    if segment.kind == "hold":
        return segment.t_start_s if segment.start_c == temp_c else None
    low_c, high_c = sorted((segment.start_c, segment.end_c))
    if not low_c <= temp_c <= high_c:
        return None
    if temp_c == segment.start_c:
        return segment.t_start_s
    if temp_c == segment.end_c:
        return segment.t_end_s
    fraction = (temp_c - segment.start_c) / (segment.end_c - segment.start_c)
    return segment.t_start_s + fraction * segment.duration_s


def _boltzmann(b_k: float, temp_c):
    """exp(-b / T) with T in kelvin; 0 at or below absolute zero."""
    temp_k = np.asarray(temp_c, dtype=float) + _ZERO_C_IN_K
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        value = np.where(temp_k > 0.0, np.exp(-b_k / np.where(temp_k > 0.0, temp_k, 1.0)),
                         0.0)
    return float(value) if value.ndim == 0 else value


def _gauss_ramp(b_k: float, temp0_c: float, rate: float, t0_s: float,
                lo_s: float, hi_s: float) -> float:
    """16-point Gauss-Legendre estimate of ∫ exp(-b/T) dt on [lo_s, hi_s] of a ramp."""
    half_s = 0.5 * (hi_s - lo_s)
    times = lo_s + half_s * (_GL_NODES + 1.0)
    temps = temp0_c + rate * (times - t0_s)
    return half_s * float(np.dot(_GL_WEIGHTS, _boltzmann(b_k, temps)))


def _adaptive_ramp_integral(b_k: float, temp0_c: float, rate: float,
                            t0_s: float, t1_s: float, depth: int = 0,
                            whole: float | None = None) -> float:
    """∫ exp(-b/T) dt over a linear-temperature piece, bisecting until converged."""
    if whole is None:
        whole = _gauss_ramp(b_k, temp0_c, rate, t0_s, t0_s, t1_s)
    mid_s = 0.5 * (t0_s + t1_s)
    left = _gauss_ramp(b_k, temp0_c, rate, t0_s, t0_s, mid_s)
    right = _gauss_ramp(b_k, temp0_c, rate, t0_s, mid_s, t1_s)
    both = left + right
    if abs(both - whole) <= _ARRHENIUS_RTOL * abs(both) or depth >= 40:
        return both
    temp_mid_c = temp0_c + rate * (mid_s - t0_s)
    return (_adaptive_ramp_integral(b_k, temp0_c, rate, t0_s, mid_s, depth + 1, left)
            + _adaptive_ramp_integral(b_k, temp_mid_c, rate, mid_s, t1_s, depth + 1, right))


# --------------------------------------------------------------------------------------
# Presets (the protocols of Park et al., Nat. Chem. 2022)
# --------------------------------------------------------------------------------------

_REQUIRED = object()


def _check_preset_number(option: str, value) -> None:
    """Validate rate (``*_c_per_min``) and duration (``*_min``) preset options."""
    if option.endswith("_c_per_min"):
        _rate(f"schedule.{option}", value)
    elif option.endswith("hold_min"):  # a preset's hold may be 0 (left out)
        key = f"schedule.{option}"
        allowed = "must be a duration in minutes, 0 or more"
        if _number(key, value, allowed) < 0.0:
            raise ConfigError(key, value, allowed)
    elif option.endswith("_min"):
        _positive_minutes(f"schedule.{option}", value)


def _check_above(option: str, value, floor_c: float, what: str) -> float:
    """A temperature option that must lie above ``floor_c``."""
    temp_c = _temperature(f"schedule.{option}", value)
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
        temp_c = _temperature(f"{key}[{index}]", value)
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


#: Preset name -> (step builder, option defaults; _REQUIRED marks required options).
_PRESET_BUILDERS = {
    "R-NCM": (_steps_r_ncm, {"ramp_c_per_min": 5.0, "peak_c": 850.0, "hold_min": 720.0,
                             "cool_c_per_min": 5.0}),
    "TS-NCM": (_steps_ts_ncm, {"ramp_c_per_min": 5.0, "hold_c": 250.0, "hold_min": 360.0,
                               "peak_c": 850.0, "peak_hold_min": 360.0,
                               "cool_c_per_min": 5.0}),
    "quasi-equilibrium": (_steps_quasi_equilibrium,
                          {"step_temperatures_c": tuple(float(t) for t in range(100, 851, 25)),
                           "relax_min": 5.0, "ramp_c_per_min": 5.0}),
    "interrupted": (_steps_interrupted, {"quench_at_c": _REQUIRED, "ramp_c_per_min": 5.0}),
    "ramp": (_steps_ramp, {"to_c": _REQUIRED, "ramp_c_per_min": 5.0}),
}

#: Names accepted by :meth:`Schedule.preset`.
PRESETS = tuple(_PRESET_BUILDERS)
