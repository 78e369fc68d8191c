"""The verdicts of the voxel-size check (``mcsim validate``'s ``voxel_size_nanopores``), from
per-seed rows made by hand: the pooled ratio, the 30 % band, the counts that must show the
density inside it, and no pass without nanopores."""

from __future__ import annotations

import math

import pytest

from mcsim.validate.harness import registered
from mcsim.validate.counting import rate_ratio_interval
from mcsim.validate.microstructure import (MAX_VOXEL_CHANGE, VOXEL_EQUIVALENCE_LEVEL,
                                           check_voxel_size_nanopores, voxel_results)

#: The core (r < 0.5 R) of the check's 0.3 um particle at 10 nm: 0.01432 um^3 (1432 voxels).
CORE_UM3 = 0.01432


def row(seed, core10, d10, core5, d5, counts=True):
    """A seed's figures; the core counts follow from the densities over the core's volume."""
    def figures(core, d):
        out = {"nanopore_density_core_per_um3": core, "nanopore_mean_diameter_nm": d,
               "nanopore_count": 1.0}
        if counts:
            out["nanopore_count_core"] = float(round(core * CORE_UM3))
        return out

    return {"seed": seed, 10.0: figures(core10, d10), 5.0: figures(core5, d5)}


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
    # 2 000 and 2 300 pores in the cores: the counts bound the ratio tightly around 1.15
    inside = 1.0 + 0.5 * MAX_VOXEL_CHANGE
    outside = 1.0 - 1.1 * MAX_VOXEL_CHANGE
    n = 2000.0 / CORE_UM3
    out = verdicts([row(1, n, 10.0, n * inside, 10.0 * outside)])
    assert out["nanopores_voxel_core_density"].passed
    assert not out["nanopores_voxel_mean_diameter"].passed
    assert "inside the band" in out["nanopores_voxel_core_density"].detail


def test_a_ratio_inside_the_band_from_a_handful_of_pores_is_no_pass():
    """What the full validation measured on 2026-12-05 (0.3 um particle, seeds 1-3): the pooled
    core densities 907 and 1138 per um^3 (ratio 1.25, inside 1 +- 0.3) are 13 and 16 pores,
    which cannot tell a ratio of 1.25 from one of 0.6 or 2.5."""
    rows = [row(1, 349.0, 14.4, 214.0, 6.8), row(2, 349.0, 12.8, 570.0, 7.1),
            row(3, 209.0, 13.1, 354.0, 6.5)]
    dens = verdicts(rows)["nanopores_voxel_core_density"]
    assert abs(dens.simulated - 1.0) < MAX_VOXEL_CHANGE  # the ratio alone would pass
    n10 = sum(r[10.0]["nanopore_count_core"] for r in rows)
    n5 = sum(r[5.0]["nanopore_count_core"] for r in rows)
    assert (n10, n5) == (13.0, 16.0)
    lo, hi = rate_ratio_interval(int(n5), int(n10), level=VOXEL_EQUIVALENCE_LEVEL)
    assert lo < 1.0 - MAX_VOXEL_CHANGE and hi > 1.0 + MAX_VOXEL_CHANGE
    assert not dens.passed
    assert f"[{lo:.2f}, {hi:.2f}]" in dens.detail and "cannot show" in dens.detail


def test_without_core_counts_the_density_cannot_pass():
    """Rows read from result files older than schema 3.1 carry no core counts."""
    n = 2000.0 / CORE_UM3
    dens = verdicts([row(1, n, 10.0, n, 10.0, counts=False)])["nanopores_voxel_core_density"]
    assert dens.simulated == pytest.approx(1.0) and not dens.passed


def test_no_nanopores_on_the_coarse_lattice_is_no_pass():
    out = verdicts([row(1, 0.0, math.nan, 0.0, math.nan)])
    for r in out.values():
        assert math.isnan(r.simulated) and not r.passed


def test_the_check_is_registered():
    assert any(fn is check_voxel_size_nanopores for _, fn in registered())
