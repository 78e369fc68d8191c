"""The spill rule's switch ``expansion_fills_nanopores`` (mcsim.processes.restructure): at 1
(the default) layered oxide made from ripened rock salt spills into any pore beside it; at 0 it
leaves the nanopores of its grain alone and passes its excess on through full voxels of its
grain to the grain's surface."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from mcsim import params
from mcsim import phases as ph
from mcsim.processes.restructure import PairRestructuring, restructure_kernel
from mcsim.state import State, full_amount_table
from tests.support import walled_in

FULL = full_amount_table()
EXCESS = 300


def grain_with_nanopore(n=9):
    """Full layered oxide of grain 1 with an overfull voxel at the centre, a nanopore of grain 1
    as its +x face neighbour and an intergranular pore (-1) filling the last interior plane
    along x (the grain's surface)."""
    phase = np.full((n, n, n), ph.LAYERED, dtype=np.uint8)
    grain = np.ones((n, n, n), dtype=np.int32)
    amount = np.full((n, n, n), FULL[ph.LAYERED], dtype=np.uint16)
    c = n // 2
    amount[c, c, c] = FULL[ph.LAYERED] + EXCESS
    phase[c, c, c + 1], amount[c, c, c + 1] = ph.PORE, 0  # keeps grain id 1: a nanopore
    phase[:, :, -1], grain[:, :, -1], amount[:, :, -1] = ph.PORE, -1, 0
    st = State.from_arrays(phase, grain, amount)
    st.census.update({"rocksalt_partial": 0, "layered_overfull": 1, "lioh": 0})
    return st, (c, c, c), (c, c, c + 1)


def steps(st, p_fill, n, first=0):
    """``n`` restructure steps (six sweeps each) with only the spill rule at work."""
    for k in range(first, first + n):
        restructure_kernel(st.phase, st.grain, st.amount, st.li, st.disorder, 0.0, 0.0, FULL,
                           11, k, *st.offset, *st.global_shape[1:], st.dirty_flags(),
                           p_fill=p_fill)


def tm(st):
    return int(st.interior("amount").astype(np.int64).sum())


def test_default_rule_fills_the_nanopore_beside_it():
    st, c, nano = grain_with_nanopore()
    tm0 = tm(st)
    steps(st, 1.0, 1)
    assert st.interior("phase")[nano] == ph.LAYERED
    assert st.interior("amount")[nano] == EXCESS
    assert st.interior("amount")[c] == FULL[ph.LAYERED]
    assert tm(st) == tm0


def test_without_filling_the_nanopore_stays_and_the_excess_reaches_the_grain_surface():
    st, c, nano = grain_with_nanopore()
    tm0 = tm(st)
    full = FULL[ph.LAYERED]
    for k in range(0, 4000, 20):
        steps(st, 0.0, 20, first=k)
        if st.interior("amount").max() <= full:
            break
    amount, phase, grain = st.interior("amount"), st.interior("phase"), st.interior("grain")
    assert amount.max() <= full  # no voxel is left overfull
    assert phase[nano] == ph.PORE and grain[nano] == 1  # the nanopore is untouched
    assert tm(st) == tm0
    # the excess went into the intergranular pore at the grain's surface, as grain 1 layered
    surface = phase[:, :, -1] == ph.LAYERED
    assert surface.sum() == 1
    assert grain[:, :, -1][surface][0] == 1 and amount[:, :, -1][surface][0] == EXCESS


@pytest.mark.parametrize("p_fill, movable", [(1.0, False), (0.0, True)])
def test_a_walled_in_excess_keeps_the_sweeps_on_only_when_it_can_move_on(p_fill, movable):
    st, _ = walled_in(excess=EXCESS)
    proc = PairRestructuring(params.resolve("ncm622-lioh", {
        "consolidation_rate_factor": 0.0, "expansion_fills_nanopores": p_fill}), {}, 1)
    assert proc.active(st, 850.0) == movable


def test_same_bits_on_one_and_two_threads():
    rng = np.random.default_rng(5)
    n = 24
    phase = np.full((n, n, n), ph.LAYERED, dtype=np.uint8)
    grain = rng.integers(1, 4, size=(n, n, n)).astype(np.int32)
    amount = np.full((n, n, n), FULL[ph.LAYERED], dtype=np.uint16)
    over = rng.random((n, n, n)) < 0.1
    amount[over] += EXCESS
    pores = rng.random((n, n, n)) < 0.1
    phase[pores], amount[pores] = ph.PORE, 0
    grain[pores & (rng.random((n, n, n)) < 0.5)] = -1  # half of them intergranular
    results = []
    for threads in (1, 2):
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        st = State.from_arrays(phase.copy(), grain.copy(), amount.copy())
        steps(st, 0.0, 12)
        results.append([st.interior(f).copy() for f in ("phase", "grain", "amount")])
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    for a, b in zip(*results):
        assert np.array_equal(a, b)
    assert int(results[0][2].astype(np.int64).sum()) == int(
        amount[~pores].astype(np.int64).sum())
