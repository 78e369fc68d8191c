"""The verdicts of the voxel-size check (``mcsim validate``'s ``voxel_size_nanopores``), from
per-seed rows made by hand: the pooled ratio, the 30 % band, and no pass without nanopores."""

from __future__ import annotations

import math

import pytest

from mcsim.validate.harness import registered
from mcsim.validate.microstructure import (MAX_VOXEL_CHANGE, check_voxel_size_nanopores,
                                           voxel_results)


def row(seed, core10, d10, core5, d5):
    return {"seed": seed,
            10.0: {"nanopore_density_core_per_um3": core10, "nanopore_mean_diameter_nm": d10,
                   "nanopore_count": 1.0},
            5.0: {"nanopore_density_core_per_um3": core5, "nanopore_mean_diameter_nm": d5,
                  "nanopore_count": 1.0}}


def verdicts(rows):
    return {r.name: r for r in voxel_results(rows, quick=False)}


def test_the_figure_is_the_ratio_of_the_pooled_densities_and_mean_diameters():
    # what was measured on 2026-12-05 (seeds 1 and 2): fails on both figures
    out = verdicts([row(1, 209.4, 15.85, 568.6, 6.9), row(2, 209.4, 13.5, 426.7, 6.94)])
    dens, diam = out["nanopores_voxel_core_density"], out["nanopores_voxel_mean_diameter"]
    assert dens.simulated == pytest.approx((568.6 + 426.7) / (2 * 209.4))
    assert diam.simulated == pytest.approx((6.9 + 6.94) / (15.85 + 13.5))
    assert not dens.passed and not diam.passed
    assert dens.kind == diam.kind == "numerics"
    assert dens.per_seed == pytest.approx((568.6 / 209.4, 426.7 / 209.4))


def test_within_30_percent_passes_and_outside_fails():
    inside = 1.0 + 0.9 * MAX_VOXEL_CHANGE
    outside = 1.0 - 1.1 * MAX_VOXEL_CHANGE
    out = verdicts([row(1, 100.0, 10.0, 100.0 * inside, 10.0 * outside)])
    assert out["nanopores_voxel_core_density"].passed
    assert not out["nanopores_voxel_mean_diameter"].passed


def test_no_nanopores_on_the_coarse_lattice_is_no_pass():
    out = verdicts([row(1, 0.0, math.nan, 0.0, math.nan)])
    for r in out.values():
        assert math.isnan(r.simulated) and not r.passed


def test_the_check_is_registered():
    assert any(fn is check_voxel_size_nanopores for _, fn in registered())
