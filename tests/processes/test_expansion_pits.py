"""The spill rule's variant ``expansion_fills_pits_first`` (mcsim.processes.restructure): an
expanding grain fills a pore beside it only where no pore face neighbour of that pore is more
enclosed, so a pit of the grain's outline fills from its bottom instead of being sealed at its
mouth into a nanopore."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from scipy import ndimage as ndi

from mcsim import params
from mcsim import phases as ph
from mcsim.processes.restructure import (PIT_BIT, PairRestructuring, pit_bits_kernel,
                                         pit_counts_kernel, restructure_kernel)
from mcsim.state import State, full_amount_table

FULL = full_amount_table()
LAY = int(FULL[ph.LAYERED])
PIT = (4, 4, 4)
MOUTH = (4, 4, 5)
KNOB = (4, 3, 5)


def pitted_surface(n=9):
    """Grain 1, full layered oxide for x <= 4, the gap (pore -1) for x >= 5; a pit of the gap
    at ``PIT`` (x = 4), whose mouth is ``MOUTH``; beside the mouth a knob of grain 1 at
    ``KNOB``, overfull by seven voxels' worth. Only the knob can spill into the mouth, and
    only a full voxel of the pit's rim, which the knob's excess must pass through, into the
    pit."""
    phase = np.full((n, n, n), ph.PORE, dtype=np.uint8)
    grain = np.full((n, n, n), -1, dtype=np.int32)
    amount = np.zeros((n, n, n), dtype=np.uint16)
    phase[:, :, :5], grain[:, :, :5], amount[:, :, :5] = ph.LAYERED, 1, LAY
    phase[PIT], grain[PIT], amount[PIT] = ph.PORE, -1, 0
    phase[KNOB], grain[KNOB], amount[KNOB] = ph.LAYERED, 1, 8 * LAY
    st = State.from_arrays(phase, grain, amount)
    st.census.update({"rocksalt_partial": 0, "layered_overfull": 1, "lioh": 0})
    return st


def steps(st, p_pit, n, first=0, seed=11):
    for k in range(first, first + n):
        restructure_kernel(st.phase, st.grain, st.amount, st.li, st.disorder, 0.0, 0.0, FULL,
                           seed, k, *st.offset, *st.global_shape[1:], st.dirty_flags(),
                           p_fill=0.0, p_pit=p_pit)


def enclosed_pores(st, g=1):
    """Pore components inside the lattice whose face neighbours are all solid of grain ``g``."""
    phase, grain = st.interior("phase"), st.interior("grain")
    pore = phase == ph.PORE
    lab, n = ndi.label(pore)
    out = 0
    for i in range(1, n + 1):
        comp = lab == i
        if comp[0].any() or comp[-1].any() or comp[:, 0].any() or comp[:, -1].any() \
                or comp[:, :, 0].any() or comp[:, :, -1].any():
            continue
        ring = ndi.binary_dilation(comp) & ~comp
        if np.all((phase[ring] >= ph.HYDROXIDE) & (grain[ring] == g)):
            out += 1
    return out


def tm(st):
    return int(st.interior("amount").astype(np.int64).sum())


def test_the_pore_snapshot_marks_the_most_enclosed_pores():
    st = pitted_surface()
    ctc = np.zeros(st.phase.shape, dtype=np.uint8)
    rows = np.ones(st.phase.shape[:2], dtype=np.uint8)
    pit_counts_kernel(st.phase, ctc, rows)
    pit_bits_kernel(st.phase, ctc, rows)
    h = tuple(i + 1 for i in PIT)  # halo offset
    m = tuple(i + 1 for i in MOUTH)
    assert ctc[h] & 31 == 9 + 8 + 1  # the plane below, the rim, the knob
    assert ctc[m] & 31 == 8 + 1  # the rim and the knob
    assert ctc[h] & PIT_BIT  # nothing beside the pit is more enclosed
    assert not ctc[m] & PIT_BIT  # the pit beside the mouth is
    assert not ctc[st.phase.shape[0] // 2, 1, 1]  # solid: no count


def test_without_the_order_the_knob_seals_the_pit_into_a_nanopore():
    st = pitted_surface()
    tm0 = tm(st)
    steps(st, 0.0, 1)
    assert st.interior("phase")[MOUTH] == ph.LAYERED
    assert st.interior("phase")[PIT] == ph.PORE
    assert enclosed_pores(st) == 1
    assert tm(st) == tm0


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_pits_first_never_seals_the_pit(seed):
    st = pitted_surface()
    tm0 = tm(st)
    for k in range(0, 400, 5):
        steps(st, 1.0, 5, first=k, seed=seed)
        assert enclosed_pores(st) == 0
        if st.interior("amount").max() <= LAY:
            break
    assert st.interior("amount").max() <= LAY  # no voxel is left overfull
    phase = st.interior("phase")
    if phase[MOUTH] == ph.LAYERED:  # the mouth closed only after the pit had filled
        assert phase[PIT] == ph.LAYERED and st.interior("grain")[PIT] == 1
    assert tm(st) == tm0


@pytest.mark.parametrize("p_pit, movable", [(0.0, False), (1.0, True)])
def test_a_walled_in_excess_moves_on_under_pits_first(p_pit, movable):
    from tests.support import walled_in
    st, _ = walled_in(excess=300)
    proc = PairRestructuring(params.resolve("ncm622-lioh", {
        "consolidation_rate_factor": 0.0, "expansion_fills_pits_first": p_pit}), {}, 1)
    assert proc.active(st, 850.0) == movable


def test_same_bits_on_one_and_two_threads():
    rng = np.random.default_rng(7)
    n = 24
    phase = np.full((n, n, n), ph.LAYERED, dtype=np.uint8)
    grain = rng.integers(1, 4, size=(n, n, n)).astype(np.int32)
    amount = np.full((n, n, n), LAY, dtype=np.uint16)
    over = rng.random((n, n, n)) < 0.1
    amount[over] += 300
    pores = rng.random((n, n, n)) < 0.2
    phase[pores], amount[pores] = ph.PORE, 0
    grain[pores & (rng.random((n, n, n)) < 0.5)] = -1
    results = []
    for threads in (1, 2):
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        st = State.from_arrays(phase.copy(), grain.copy(), amount.copy())
        steps(st, 1.0, 12)
        results.append([st.interior(f).copy() for f in ("phase", "grain", "amount")])
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    for a, b in zip(*results):
        assert np.array_equal(a, b)
    assert int(results[0][2].astype(np.int64).sum()) == int(amount[~pores].astype(np.int64).sum())
