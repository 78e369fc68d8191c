"""Counting error of a ratio of two pore densities.

A nanopore density is a count over a volume, and on the particles the validation can afford the
count is small: the core of the default particle (r < 0.5 R, 0.11 µm³) holds a few dozen
nanopores, the core of the 0.3 µm particle of the voxel check a handful. Two trajectories of
one seed then differ by about the square root of the count, and a ratio of two such densities
can land inside a tolerance by chance. The checks that compare densities therefore ask for an
interval of the ratio that the counts support, not only for the ratio itself.

The interval treats each count as Poisson with a mean proportional to its volume (pores form
and vanish independently of one another at this scale, to first order). Given the total
``N = n_a + n_b``, ``n_a`` is binomial with ``pi = rho v / (rho v + 1)``, where ``rho`` is the
ratio of the densities and ``v = V_a / V_b`` the ratio of the volumes counted over; the exact
(Clopper and Pearson, Biometrika 26, 404 (1934)) interval of ``pi`` maps one to one onto
``rho``: the conditional method for two Poisson counts (Przyborowski and Wilenski, Biometrika
31 (1940)). It is conservative: its coverage is at least the level asked for.
"""

from __future__ import annotations

import math

__all__ = ["rate_ratio_interval"]


def rate_ratio_interval(n_a: int, n_b: int, volume_ratio: float = 1.0, level: float = 0.95,
                        sided: str = "two") -> tuple[float, float]:
    """Interval of the density ratio (n_a / V_a) / (n_b / V_b) from the counts ``n_a``, ``n_b``.

    Parameters
    ----------
    n_a, n_b : int
        The counts (non-negative).
    volume_ratio : float
        V_a / V_b, the ratio of the volumes the counts were made over (1: the same volume).
    level : float
        Confidence level, in (0, 1).
    sided : {"two", "upper"}
        ``"two"``: the two-sided interval at ``level``; ``"upper"``: the one-sided upper bound
        at ``level`` (the lower end is then 0).

    Returns
    -------
    (float, float)
        ``(lower, upper)``; ``upper`` is ``inf`` when ``n_b`` is 0, and ``(0, inf)`` when both
        counts are 0 (no information).
    """
    from scipy.stats import beta  # lazy: scipy.stats is slow to import

    n_a, n_b = int(n_a), int(n_b)
    if n_a < 0 or n_b < 0:
        raise ValueError(f"counts must be non-negative, got {n_a} and {n_b}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if not volume_ratio > 0.0:
        raise ValueError(f"volume_ratio must be positive, got {volume_ratio}")
    if sided not in ("two", "upper"):
        raise ValueError(f"sided must be 'two' or 'upper', got {sided!r}")
    total = n_a + n_b
    if total == 0:
        return 0.0, math.inf
    alpha = 1.0 - level
    tail = alpha / 2.0 if sided == "two" else alpha
    if sided == "upper" or n_a == 0:
        p_lo = 0.0
    else:
        p_lo = float(beta.ppf(tail, n_a, n_b + 1))
    p_hi = 1.0 if n_b == 0 else float(beta.ppf(1.0 - tail, n_a + 1, n_b))

    def to_ratio(p: float) -> float:
        if p >= 1.0:
            return math.inf
        return p / (1.0 - p) / volume_ratio

    return to_ratio(p_lo), to_ratio(p_hi)
