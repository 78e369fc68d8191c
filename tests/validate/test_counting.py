"""The counting interval of a density ratio (mcsim.validate.counting): exact values, the
limits, and coverage of the true ratio over many Poisson draws."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mcsim.validate.counting import rate_ratio_interval


def test_equal_counts_bracket_one_as_the_normal_approximation_does():
    lo, hi = rate_ratio_interval(400, 400)
    # log-normal approximation: exp(+-1.96 sqrt(1/400 + 1/400)) = 0.871, 1.148
    assert lo == pytest.approx(0.871, abs=0.01) and hi == pytest.approx(1.148, abs=0.01)
    assert lo < 1.0 < hi


def test_values_match_the_binomial_quantiles_computed_by_hand():
    from scipy.stats import beta

    lo, hi = rate_ratio_interval(16, 13, level=0.9)
    p_lo, p_hi = beta.ppf(0.05, 16, 14), beta.ppf(0.95, 17, 13)
    assert lo == pytest.approx(p_lo / (1 - p_lo), rel=1e-12)
    assert hi == pytest.approx(p_hi / (1 - p_hi), rel=1e-12)


def test_the_volumes_scale_the_interval():
    lo1, hi1 = rate_ratio_interval(30, 20)
    lo2, hi2 = rate_ratio_interval(30, 20, volume_ratio=2.0)  # a counted over twice the volume
    assert lo2 == pytest.approx(lo1 / 2.0) and hi2 == pytest.approx(hi1 / 2.0)


def test_one_sided_bound_is_below_the_two_sided_one_and_zero_counts_are_handled():
    _, up = rate_ratio_interval(26, 130, sided="upper")
    _, hi = rate_ratio_interval(26, 130)
    assert 26 / 130 < up < hi
    assert rate_ratio_interval(0, 0) == (0.0, math.inf)
    lo, hi = rate_ratio_interval(0, 20)
    assert lo == 0.0 and 0.0 < hi < 0.25          # none in a: at most ~3.7 / 20
    lo, hi = rate_ratio_interval(20, 0)
    assert hi == math.inf and lo > 4.0


@pytest.mark.parametrize("bad", [dict(n_a=-1, n_b=3), dict(n_a=1, n_b=1, level=1.0),
                                 dict(n_a=1, n_b=1, volume_ratio=0.0),
                                 dict(n_a=1, n_b=1, sided="lower")])
def test_bad_arguments_are_refused(bad):
    with pytest.raises(ValueError):
        rate_ratio_interval(**bad)


def test_the_interval_covers_the_true_ratio_at_least_as_often_as_its_level():
    """4 000 pairs of Poisson counts with means 12 and 8 (ratio 1.5): the exact interval is
    conservative, so the true ratio falls outside at most 5 % of the time (binomial
    sampling error of that fraction: 0.35 %)."""
    rng = np.random.default_rng(20261206)
    a = rng.poisson(12.0, 4000)
    b = rng.poisson(8.0, 4000)
    missed = 0
    for na, nb in zip(a, b):
        lo, hi = rate_ratio_interval(int(na), int(nb))
        missed += not (lo <= 1.5 <= hi)
    assert missed / 4000 <= 0.05
