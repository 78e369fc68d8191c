"""Densification's curvature factor (``densification_curvature_weight``): a grain-boundary pore
voxel annihilates at p times (1 - w) + w clip((n - 9) / 17, 0, 1), n its solid neighbours."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from mcsim import phases as ph
from mcsim.processes import sintering as si
from mcsim.processes.sintering.densification import FLAT_SOLID, curvature_factor


def _padded(phase):
    out = np.zeros(tuple(s + 2 for s in phase.shape), dtype=np.uint8)
    out[1:-1, 1:-1, 1:-1] = phase
    return out


def test_factor_is_zero_at_a_flat_wall_one_for_an_isolated_vacancy_and_linear_between():
    solid = np.full((5, 5, 5), ph.LAYERED, dtype=np.uint8)
    iso = solid.copy()
    iso[2, 2, 2] = ph.PORE
    assert curvature_factor(_padded(iso), 3, 3, 3, 1.0) == 1.0
    wall = solid.copy()
    wall[2:, :, :] = ph.PORE  # the pore at z = 2 touches the flat wall z = 1
    assert FLAT_SOLID == 9
    assert curvature_factor(_padded(wall), 3, 3, 3, 1.0) == 0.0
    slit = solid.copy()
    slit[2, :, :] = ph.PORE  # a one-voxel slit: 18 solid neighbours
    assert curvature_factor(_padded(slit), 3, 3, 3, 1.0) == pytest.approx(9.0 / 17.0)
    # the weight blends towards the old rule (every pore alike)
    assert curvature_factor(_padded(wall), 3, 3, 3, 0.0) == 1.0
    assert curvature_factor(_padded(slit), 3, 3, 3, 0.5) == pytest.approx(0.5 + 0.5 * 9 / 17)


def _lattice():
    """Two grains (ids 1 and 2, split at x = 16) of layered oxide, 32^3, with (a) isolated
    vacancies on the grain boundary and (b) a wide slab pore crossing the boundary, whose
    wall voxels have n = 9."""
    shape = (32, 32, 32)
    phase = np.full(shape, ph.LAYERED, dtype=np.uint8)
    grain = np.ones(shape, dtype=np.int32)
    grain[:, :, 16:] = 2
    iso = [(z, y, 16) for z in range(3, 14, 3) for y in range(3, 30, 3)]
    for z, y, x in iso:
        phase[z, y, x] = ph.PORE
        grain[z, y, x] = -1
    phase[18:28, 2:30, 6:26] = ph.PORE  # a wide pore 10 voxels thick
    grain[18:28, 2:30, 6:26] = -1
    return phase, grain, iso


def _events(phase, grain, p, w, mcs):
    """The events of one MCS as the densification driver lists them (:func:`si._two_pass`:
    counted per row, then written where rows hold some)."""
    st_phase, st_grain = _padded(phase), np.zeros(tuple(s + 2 for s in grain.shape), np.int32)
    st_grain[1:-1, 1:-1, 1:-1] = grain
    _, ny, nx = phase.shape
    idx, _, _, _ = si._two_pass(
        si.densify_events_kernel, SimpleNamespace(shape=phase.shape),
        (st_phase, st_grain, p, w, np.uint64(3), np.uint64(mcs), 0, 0, 0, ny, nx),
        (np.int64, np.uint64, np.int32, np.float64))
    return np.unravel_index(idx, phase.shape)


def test_wide_pores_do_not_annihilate_and_isolated_vacancies_do_at_the_full_rate():
    phase, grain, iso = _lattice()
    iso_set = set(iso)
    p, n_mcs = 0.5, 40
    hits_iso = hits_wall = hits_other = 0
    for mcs in range(n_mcs):
        z, y, x = _events(phase, grain, p, 1.0, mcs)
        for c in zip(z.tolist(), y.tolist(), x.tolist()):
            if c in iso_set:
                hits_iso += 1
            elif c[0] in (18, 27) and 3 <= c[1] <= 28:
                hits_wall += 1  # flat faces of the wide pore, away from its edges: n = 9
            else:
                hits_other += 1
    trials = n_mcs * len(iso)
    assert abs(hits_iso - p * trials) < 4 * np.sqrt(trials * p * (1 - p))
    assert hits_wall == 0
    # inside the wide pore nothing touches a grain boundary; its edges and corners (n > 9)
    # may annihilate
    assert hits_other < hits_iso


def test_weight_zero_is_the_rule_without_curvature():
    phase, grain, _ = _lattice()
    for mcs in range(3):
        z0 = _events(phase, grain, 0.3, 0.0, mcs)
        z1 = _events(phase, grain, 0.3, 1.0, mcs)
        walls = int((np.isin(z0[0], (18, 27)) & (z0[1] >= 3) & (z0[1] <= 28)).sum())
        assert walls > 0  # flat walls on the boundary annihilate without the factor
        assert set(zip(*[a.tolist() for a in z1])) <= set(zip(*[a.tolist() for a in z0]))
