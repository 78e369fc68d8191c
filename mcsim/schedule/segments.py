"""One piece of a schedule on which temperature is linear in time: the Segment record, the
checks that a sequence of them forms a schedule, and when a segment reaches a temperature."""

from __future__ import annotations

from dataclasses import dataclass

from mcsim.errors import ConfigError
from mcsim.schedule.limits import check_temperature

SEGMENT_KINDS = ("ramp", "hold", "cool", "quench")


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


def check_segments(start_c: float, segments: tuple) -> None:
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
    check_temperature(f"{key}.end_c", segment.end_c)


def segment_hit_time_s(segment: Segment, temp_c: float):
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
