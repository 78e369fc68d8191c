"""The restructure step's coordination snapshot and join rule (mcsim.processes.restructure),
as rewritten on 2026-12-08 for speed, against what they must give: the snapshot against a
voxel-by-voxel NumPy count, the join to its closure in one call against the one-layer rule
of 2026-12-04 (``tests/processes/_restructure_2026_12_04.py``) repeated until it relabels
nothing, on random lattices full of nanopore clusters, on 1 and 2 threads."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from mcsim import phases as ph
from mcsim.processes.restructure import (SURFACE_BIT, WALL_BIT, coordination_kernel,
                                         coordination_rows_kernel, join_kernel)
from mcsim.state import State
from tests.processes import _restructure_2026_12_04 as old
from tests.support import THREADS

SHAPE = (14, 17, 45)  # rows longer than a vector, odd lengths


def random_state(seed, pore=0.3):
    """A lone-domain state whose voxels are pore, LiOH, hydroxide, rock salt or layered at
    random, with grain ids -1, 0 (pores only), 1, 2 or 3."""
    gen = np.random.default_rng(seed)
    phase = gen.choice(np.array([ph.PORE, ph.LIOH, ph.HYDROXIDE, ph.ROCKSALT, ph.LAYERED],
                                dtype=np.uint8), SHAPE, p=[pore, 0.05, 0.1,
                                                           0.55 - pore, 0.3])
    grain = gen.integers(1, 4, SHAPE).astype(np.int32)
    is_pore = phase == ph.PORE
    grain[is_pore] = gen.choice(np.array([-1, 0, 1, 2, 3], dtype=np.int32), is_pore.sum(),
                                p=[0.05, 0.05, 0.3, 0.3, 0.3])
    grain[phase == ph.LIOH] = 0
    return State.from_arrays(phase, grain)


def snapshot_reference(phase, grain, layered):
    """The snapshot voxel by voxel (halo included in ``phase`` and ``grain``)."""
    out = np.zeros(phase.shape, dtype=np.uint8)
    nz, ny, nx = (n - 2 for n in phase.shape)
    count = 0
    for z in range(1, nz + 1):
        for y in range(1, ny + 1):
            for x in range(1, nx + 1):
                c = phase[z, y, x]
                if not (c == ph.ROCKSALT or (layered and c == ph.LAYERED)):
                    continue
                box = phase[z - 1:z + 2, y - 1:y + 2, x - 1:x + 2]
                k = int((box >= ph.HYDROXIDE).sum()) - 1
                surface = wall = False
                for d in ((-1, 0, 0), (1, 0, 0), (0, -1, 0), (0, 1, 0), (0, 0, -1), (0, 0, 1)):
                    cn = phase[z + d[0], y + d[1], x + d[2]]
                    gn = grain[z + d[0], y + d[1], x + d[2]]
                    if gn != grain[z, y, x] or (cn != ph.PORE and cn < ph.HYDROXIDE):
                        surface = True
                    elif cn == ph.PORE:
                        wall = True
                k += SURFACE_BIT * surface + WALL_BIT * wall
                out[z, y, x] = k
                count += k >= SURFACE_BIT
    return out, count


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("layered", [False, True])
def test_the_snapshot_counts_as_the_voxel_by_voxel_rule(threads, layered):
    numba.set_num_threads(threads)
    try:
        for seed in (1, 2):
            st = random_state(seed)
            st.phase[3:8, 4:9, 10:15] = ph.ROCKSALT  # a dense block: fully coordinated voxels
            st.grain[3:8, 4:9, 10:15] = 1
            want, n_want = snapshot_reference(st.phase, st.grain, layered)
            assert (want & SURFACE_BIT).any() and (want & WALL_BIT).any() and \
                ((want & 31) == 26).any()  # every case is there
            ctc = np.full(st.phase.shape, 255, dtype=np.uint8)
            assert coordination_kernel(st.phase, st.grain, ctc, layered) == n_want
            assert np.array_equal(ctc[1:-1, 1:-1, 1:-1], want[1:-1, 1:-1, 1:-1])
            # the rows kernel writes the marked rows only, the same values
            rows = np.zeros(st.phase.shape[:2], dtype=np.uint8)
            rows[1::3, 2::2] = 1
            ctc = np.full(st.phase.shape, 255, dtype=np.uint8)
            coordination_rows_kernel(st.phase, st.grain, ctc, layered, rows)
            inner = np.zeros(st.phase.shape, dtype=bool)
            inner[1:-1, 1:-1, 1:-1] = True
            marked = inner & (rows[:, :, None] != 0)
            assert np.array_equal(ctc[marked], want[marked])
            assert (ctc[~marked] == 255).all()
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


@pytest.mark.parametrize("threads", THREADS)
def test_one_join_call_reaches_the_closure_of_the_one_layer_rule(threads):
    numba.set_num_threads(threads)
    try:
        layers = []
        for seed in range(1, 6):
            # many pores, so nanopore clusters are large and take many layers to join
            st = random_state(seed, pore=0.45)
            ref_grain, ref_dirty = st.grain.copy(), st.dirty_flags().copy()
            mark = np.zeros(st.phase.shape, dtype=np.uint8)
            total, calls = 0, 0
            while True:
                n = old.join_kernel(st.phase, ref_grain, mark, ref_dirty)
                calls += 1
                total += n
                if n == 0:
                    break
            layers.append(calls - 1)
            grain, dirty = st.grain.copy(), st.dirty_flags().copy()
            joined = join_kernel(st.phase, grain, np.zeros_like(mark), dirty)
            assert joined == total > 0
            assert np.array_equal(grain, ref_grain)
            assert np.array_equal(dirty, ref_dirty)
            # nothing is left to join (a lone domain needs no second call)
            assert join_kernel(st.phase, grain, np.zeros_like(mark), dirty) == 0
        assert max(layers) >= 3  # clusters that the one-layer rule needed several calls for
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


def test_join_does_nothing_without_a_nanopore_to_join():
    st = random_state(3)
    g = st.grain
    g[(st.phase == ph.PORE) & (g > 0)] = -1  # no nanopores left
    before = g.copy()
    assert join_kernel(st.phase, g, np.zeros(st.phase.shape, np.uint8), st.dirty_flags()) == 0
    assert np.array_equal(g, before) and not st.dirty_flags().any()
