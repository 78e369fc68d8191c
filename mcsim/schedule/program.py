"""The Schedule: an immutable temperature program T(t) built from segments, with its
evaluation (temperature, rate, arrival times), its Arrhenius integral and its description."""

from __future__ import annotations

import numpy as np

from mcsim.errors import ConfigError
from mcsim.schedule.arrhenius import (GAS_CONSTANT_J_PER_MOL_K, adaptive_ramp_integral,
                                      boltzmann)
from mcsim.schedule.limits import check_temperature
from mcsim.schedule.presets import preset_option, preset_steps
from mcsim.schedule.segments import check_segments, segment_hit_time_s
from mcsim.schedule.steps import TooLongError, segments_from_steps, step_from_segment


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
        start_c = check_temperature("schedule.start_c", start_c)
        segments = tuple(segments)
        check_segments(start_c, segments)
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
        return cls(start_c, segments_from_steps(start_c, steps, key))

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
        start_c, steps, values = preset_steps(name, start_c, options)
        try:
            return cls.from_steps(start_c, steps, key="schedule.steps")
        except TooLongError as exc:  # name the preset option behind the longest step
            option = preset_option(values, exc.step)
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
            hit_s = segment_hit_time_s(segment, temp_c)
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
            return (hi_s - lo_s) * boltzmann(b_k, self.temperature_c(mid_s))
        temp_lo_c = self.temperature_c(mid_s) - rate * (mid_s - lo_s)
        return adaptive_ramp_integral(b_k, temp_lo_c, rate, lo_s, hi_s)

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
        return [step_from_segment(segment) for segment in self._segments]
