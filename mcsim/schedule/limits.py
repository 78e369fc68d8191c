"""What a schedule may ask for: the allowed temperatures, rates and length, and the checks of
single numbers against them (each raises ConfigError naming the key)."""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from mcsim.errors import ConfigError

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


def is_number(value) -> bool:
    """True for real, finite, non-boolean numbers."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
        return False
    return math.isfinite(float(value))


def check_number(key: str, value, allowed: str = "must be a finite number") -> float:
    """Return ``value`` as float or raise ConfigError naming ``key``."""
    if not is_number(value):
        raise ConfigError(key, value, allowed)
    return float(value)


def check_temperature(key: str, value) -> float:
    """A temperature in the allowed range, °C."""
    allowed = (f"must be a temperature in °C within [{MIN_TEMPERATURE_C}, "
               f"{MAX_TEMPERATURE_C}]")
    temp_c = check_number(key, value, allowed)
    if not MIN_TEMPERATURE_C <= temp_c <= MAX_TEMPERATURE_C:
        raise ConfigError(key, value, allowed)
    return temp_c


def check_rate(key: str, value) -> float:
    """A heating or cooling rate in (0, MAX_RATE_C_PER_MIN], °C/min."""
    allowed = f"must be a rate in °C/min above 0 and at most {MAX_RATE_C_PER_MIN:g}"
    rate = check_number(key, value, allowed)
    if not 0.0 < rate <= MAX_RATE_C_PER_MIN:
        raise ConfigError(key, value, allowed)
    return rate


def check_positive_minutes(key: str, value) -> float:
    """A duration in minutes, > 0."""
    allowed = "must be a duration in minutes above 0"
    minutes = check_number(key, value, allowed)
    if minutes <= 0.0:
        raise ConfigError(key, value, allowed)
    return minutes
