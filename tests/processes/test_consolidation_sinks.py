"""The sink mode of consolidation (``consolidation_sinks`` = 1, mcsim.processes.restructure):
part-filled layered oxide (made from hydroxide, 89 % full) swaps fills among inner voxels of
its grain, so its free volume hops until the grain's outline or a nanopore's wall takes it in;
no new nanopore opens inside a grain. At 0 (the default) any pair of the grain may empty one
voxel, and inner pairs leave nanopores."""

from __future__ import annotations

import numba
import numpy as np
from scipy import ndimage

from mcsim import phases as ph
from mcsim.processes.restructure import restructure_kernel
from mcsim.state import State, full_amount_table

FULL = full_amount_table()
SEED = 3
TOPOTACTIC = int(0.89 * int(FULL[ph.LAYERED]))  # a layered voxel made from hydroxide


def _grain_in_gap(n=14, wall=2):
    """A cube of grain 1, every voxel part-filled layered oxide, inside a shell of
    intergranular pore (label -1) ``wall`` voxels deep: the grain has an outline."""
    phase = np.full((n, n, n), ph.PORE, dtype=np.uint8)
    grain = np.full((n, n, n), -1, dtype=np.int32)
    amount = np.zeros((n, n, n), dtype=np.uint16)
    inner = (slice(wall, n - wall),) * 3
    phase[inner], grain[inner], amount[inner] = ph.LAYERED, 1, TOPOTACTIC
    return phase, grain, amount


def consolidate(phase, grain, amount, c_sink, steps):
    """``steps`` restructure steps with consolidation only (every pair tried), the
    coordination rule and every outline site retreating."""
    st = State.from_arrays(phase, grain, amount)
    for k in range(steps):
        restructure_kernel(st.phase, st.grain, st.amount, st.li, st.disorder, 0.0, 0.0, FULL,
                           SEED, k, *st.offset, *st.global_shape[1:], st.dirty_flags(),
                           1.0, 1.0, 1.0, 1.0, 0.0, 0.0, c_sink)
    return st


def _nanopores(st):
    p, g = st.interior("phase"), st.interior("grain")
    return (p == ph.PORE) & (g > 0)


def test_inner_pairs_leave_nanopores_without_the_sink_mode():
    phase, grain, amount = _grain_in_gap()
    st = consolidate(phase, grain, amount, False, 6)
    _, count = ndimage.label(_nanopores(st))
    assert count > 3


def test_sink_mode_empties_only_the_outline_and_conserves_tm():
    phase, grain, amount = _grain_in_gap()
    before = int(amount.astype(np.int64).sum())
    st = consolidate(phase.copy(), grain.copy(), amount.copy(), True, 6)
    p, g, m = st.interior("phase"), st.interior("grain"), st.interior("amount")
    assert int(m.astype(np.int64).sum()) == before
    assert not _nanopores(st).any()
    emptied = (phase == ph.LAYERED) & (p == ph.PORE)
    assert emptied.sum() > 10  # the grain shrank: its outline retreated into gaps
    assert np.all(g[emptied] == -1)
    # the free volume moved, not just stayed: inner voxels hold other fills than they started
    assert np.any((p == ph.LAYERED) & (m != TOPOTACTIC))
    # every emptied voxel lay on the grain's outline: a pore face neighbour of the gap, or of
    # a voxel emptied before it, so the gap stays one piece with the shell
    _, count = ndimage.label(p == ph.PORE)
    assert count == 1


def test_sink_mode_feeds_an_existing_nanopore_and_opens_no_other():
    phase, grain, amount = _grain_in_gap(16, wall=1)
    c = 8
    phase[c, c, c], grain[c, c, c], amount[c, c, c] = ph.PORE, 1, 0  # a nanopore of grain 1
    st = consolidate(phase.copy(), grain.copy(), amount.copy(), True, 8)
    nano = _nanopores(st)
    labels, count = ndimage.label(nano)
    assert count == 1 and labels[c, c, c] == 1
    assert nano.sum() > 1  # its walls took free volume in: it grew from where it was


def test_sink_mode_same_bits_on_one_and_two_threads():
    results = []
    for threads in (1, 2):
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        phase, grain, amount = _grain_in_gap(16, wall=1)
        r = np.random.default_rng(7)
        inner = phase == ph.LAYERED
        amount[inner] = r.integers(TOPOTACTIC - 300, int(FULL[ph.LAYERED]) + 1,
                                   inner.sum()).astype(np.uint16)
        st = consolidate(phase, grain, amount, True, 5)
        results.append([st.interior(f).copy() for f in ("phase", "grain", "amount")])
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    for a, b in zip(*results):
        assert np.array_equal(a, b)
