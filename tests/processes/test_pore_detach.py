"""Pore migration's ``pore_migration_detach`` (mcsim.processes.sintering.pore_migration): at 1
(the default) the Potts energy alone decides, and on a hot lattice a pore sheds single voxels
into the grain around it; at 0 a move that would cut the moving voxel off a larger pore is
never made (a pore can still leave a voxel behind when the voxel that joined it moves away)."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from scipy import ndimage as ndi

from mcsim import params
from mcsim import phases as ph
from mcsim.processes import sintering as si
from mcsim.state import State, full_amount_table

FULL = full_amount_table()
CUBE = ndi.generate_binary_structure(3, 3)


def grain_with_pores(n=16):
    """Full layered oxide of grain 1 holding two intergranular pores (label -1) of 3 x 3 x 3
    voxels, away from the lattice's faces."""
    phase = np.full((n, n, n), ph.LAYERED, dtype=np.uint8)
    grain = np.ones((n, n, n), dtype=np.int32)
    amount = np.full((n, n, n), FULL[ph.LAYERED], dtype=np.uint16)
    for c in ((4, 4, 4), (10, 9, 11)):
        sl = tuple(slice(i - 1, i + 2) for i in c)
        phase[sl], grain[sl], amount[sl] = ph.PORE, -1, 0
    st = State.from_arrays(phase, grain, amount)
    si.contact_count_kernel(st.phase, si.contact_field(st))
    return st


def pores_and_singles(st):
    pore = st.interior("phase") == ph.PORE
    lab, n = ndi.label(pore, structure=CUBE)
    sizes = np.bincount(lab.ravel())[1:]
    return n, int((sizes == 1).sum())


def migrate(st, j_over_kt, n_mcs, detach, seed=3):
    accept = si.pore_migration_accept_table(j_over_kt)
    swaps = 0
    for m in range(n_mcs):
        swaps += si.drive(st, si.pore_migration_mcs(st, accept, seed, m, 1.0, detach))
    return swaps


def test_a_hot_lattice_sheds_single_voxels_by_default():
    st = grain_with_pores()
    assert pores_and_singles(st) == (2, 0)
    migrate(st, 0.3, 20, 1.0)
    n, singles = pores_and_singles(st)
    assert singles > 0 and n > 2


def bumped_pore(n=12):
    """A 3 x 3 x 3 pore (label -1) in full layered oxide of grain 1, with a one-voxel bump on
    its +z face: the bump P at global (6, 4, 4), the solid Q above it at (7, 4, 4) has no other
    non-solid neighbour."""
    phase = np.full((n, n, n), ph.LAYERED, dtype=np.uint8)
    grain = np.ones((n, n, n), dtype=np.int32)
    amount = np.full((n, n, n), FULL[ph.LAYERED], dtype=np.uint16)
    for sl in ((slice(3, 6),) * 3, (6, 4, 4)):
        phase[sl], grain[sl], amount[sl] = ph.PORE, -1, 0
    st = State.from_arrays(phase, grain, amount)
    si.contact_count_kernel(st.phase, si.contact_field(st))
    return st


@pytest.mark.parametrize("detach, moved", [(1.0, True), (0.0, False)])
def test_the_move_that_cuts_a_voxel_off_is_the_one_refused(detach, moved):
    """Every move accepted (J/kT = 0); the z sub-sweep anchored on global z = 0 mod 3, y and x
    even, holds one pore-solid pair: the bump and the solid above it. At 1 the bump moves up and
    is cut off; at 0 it stays."""
    st = bumped_pore()
    s = si.contact_field(st)
    assert s[7 + 1, 4 + 1, 4 + 1] == 25 and s[6 + 1, 4 + 1, 4 + 1] < 26
    swaps = si.pore_migration_kernel(st.phase, st.grain, st.amount, st.li, st.disorder, s,
                                     st.dirty_flags(), si.pore_migration_accept_table(0.0),
                                     np.uint64(5), np.uint64(0), 0, np.array([0]),
                                     *st.offset, *st.global_shape, 1.0, detach)
    assert swaps == (1 if moved else 0)
    phase = st.interior("phase")
    assert (phase[7, 4, 4] == ph.PORE) == moved and (phase[6, 4, 4] == ph.PORE) != moved
    assert pores_and_singles(st) == ((2, 1) if moved else (1, 0))


def test_without_detachment_a_hot_lattice_sheds_fewer_voxels():
    """At the 5 nm lattice's J/kT (0.5) over 20 MCS and three seeds: 4 single voxels cut off
    by default, 1 without detachment (a pore can still leave a voxel behind, when the voxel
    that connected it moves away: the rule reads only the pair's own contact counts)."""
    singles = {}
    for detach in (1.0, 0.0):
        singles[detach] = 0
        for seed in (3, 4, 5):
            st = grain_with_pores()
            migrate(st, 0.5, 20, detach, seed=seed)
            singles[detach] += pores_and_singles(st)[1]
    assert singles[0.0] < singles[1.0]


def test_a_lone_voxel_still_moves_and_joins_a_pore():
    """Detachment concerns only a voxel leaving a larger pore: a single-voxel pore walks (its
    moves cost nothing) and merges with a pore it meets."""
    st = grain_with_pores()
    z, y, x = 7, 4, 4  # two voxels above the first pore's top face
    st.phase[z + 1, y + 1, x + 1], st.grain[z + 1, y + 1, x + 1] = ph.PORE, -1
    st.amount[z + 1, y + 1, x + 1] = 0
    si.contact_count_kernel(st.phase, si.contact_field(st))
    assert pores_and_singles(st) == (3, 1)
    for m in range(0, 400, 10):
        migrate(st, 2.0, 10, 0.0, seed=m)
        if pores_and_singles(st)[1] == 0:
            break
    assert pores_and_singles(st) == (2, 0)


def test_the_default_gives_the_bits_of_the_rule_before():
    a, b = grain_with_pores(), grain_with_pores()
    accept = si.pore_migration_accept_table(0.3)
    for m in range(5):
        si.drive(a, si.pore_migration_mcs(a, accept, 3, m, 1.0))
        si.drive(b, si.pore_migration_mcs(b, accept, 3, m, 1.0, 1.0))
    for name in ("phase", "grain", "amount"):
        assert np.array_equal(getattr(a, name), getattr(b, name))


def test_same_bits_on_one_and_two_threads():
    results = []
    for threads in (1, 2):
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        st = grain_with_pores()
        migrate(st, 0.3, 8, 0.0)
        results.append([st.interior(f).copy() for f in ("phase", "grain")])
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    for a, b in zip(*results):
        assert np.array_equal(a, b)


def test_the_parameter_reaches_the_kernel():
    assert params.resolve("ncm622-lioh", {})["pore_migration_detach"] == 1.0
    with pytest.raises(params.ConfigError, match="pore_migration_detach"):
        params.resolve("ncm622-lioh", {"pore_migration_detach": 2.0})
