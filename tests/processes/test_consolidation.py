"""Consolidation of part-filled layered oxide above the sintering onset
(mcsim.processes.restructure): the porosity finer than a voxel sinters into resolved pores."""

from __future__ import annotations

import numpy as np
import pytest

from mcsim import params
from mcsim import phases as ph
from mcsim.processes.restructure import PairRestructuring
from mcsim.state import State, full_amount_table

FULL = full_amount_table()


def slab_of_part_filled_layered(n=12, fill=0.89, seed=4):
    """A plate of two grains (split at x = n/2) of layered voxels ``fill`` full, 4 voxels
    thick along z, in intergranular pore (-1)."""
    phase = np.full((n, n, n), ph.PORE, dtype=np.uint8)
    grain = np.full((n, n, n), -1, dtype=np.int32)
    amount = np.zeros((n, n, n), dtype=np.uint16)
    z0 = n // 2 - 2
    phase[z0:z0 + 4] = ph.LAYERED
    grain[z0:z0 + 4] = np.where(np.arange(n) < n // 2, 1, 2)[None, None, :]
    amount[z0:z0 + 4] = int(fill * FULL[ph.LAYERED])
    st = State.from_arrays(phase, grain, amount, np.zeros((n, n, n), dtype=np.float32))
    st.census.update({"rocksalt_partial": 0, "layered_overfull": 0, "lioh": 0})
    return st


def process(**overrides):
    return PairRestructuring(params.resolve("ncm622-lioh", overrides), {}, 1)


def steps(p, st, n, temperature_c=850.0, dt_s=3600.0):
    for i in range(n):
        st.step = i
        p.advance(st, dt_s, temperature_c)


def test_no_consolidation_at_or_below_the_onset_or_when_switched_off():
    p = process()
    onset = p.params["sinter_onset_c"]
    assert p.consolidation_rate(onset) == 0.0 and p.consolidation_rate(onset + 50) > 0.0
    for proc, t in ((p, onset), (process(consolidation_rate_factor=0.0), 850.0)):
        st = slab_of_part_filled_layered()
        before = st.interior("amount").copy()
        assert not proc.active(st, t)
        steps(proc, st, 3, t)
        assert np.array_equal(st.interior("amount"), before)


def test_consolidation_gathers_the_sub_voxel_porosity_into_pores_and_conserves_tm():
    st = slab_of_part_filled_layered()
    p = process(consolidation_rate_factor=1e4)  # many moves in a few steps
    assert p.active(st, 850.0)
    tm0 = int(st.interior("amount").astype(np.int64).sum())
    n0 = int(np.count_nonzero(st.interior("phase") == ph.LAYERED))
    steps(p, st, 6)
    lay = st.interior("phase") == ph.LAYERED
    assert int(st.interior("amount")[lay].astype(np.int64).sum()) == tm0
    assert (st.interior("amount")[lay] <= FULL[ph.LAYERED]).all()
    emptied = n0 - int(np.count_nonzero(lay))
    assert emptied > 0
    full_now = int(np.count_nonzero(st.interior("amount")[lay] == FULL[ph.LAYERED]))
    assert full_now > 0
    # the solid volume is the same, held by fewer, fuller voxels: at most the TM of the
    # emptied voxels' worth of room was made
    assert emptied <= n0 - tm0 // FULL[ph.LAYERED]
    # the plate is four voxels thick: every voxel is on or next to the surface, so the
    # emptied ones open gaps (-1) on the grains' surfaces, and no grain moves TM to another
    pore = (st.interior("phase") == ph.PORE)
    was_solid = np.zeros_like(pore)
    n = st.shape[0]
    was_solid[n // 2 - 2:n // 2 + 2] = True
    assert (st.interior("grain")[pore & was_solid] != 0).all()


def test_full_layered_voxels_do_not_consolidate():
    st = slab_of_part_filled_layered(fill=1.0)
    before = st.interior("amount").copy()
    steps(process(consolidation_rate_factor=1e4), st, 3)
    assert np.array_equal(st.interior("amount"), before)


def test_consolidation_runs_in_batches_and_the_accumulator_round_trips():
    p = process()
    k = p.consolidation_rate(850.0)
    dt = 0.4 * p.CONSOLIDATION_BATCH / k
    st = slab_of_part_filled_layered()
    before = st.interior("amount").copy()
    p.advance(st, dt, 850.0)
    p.advance(st, dt, 850.0)  # 0.8 of a batch: no sweep yet
    assert np.array_equal(st.interior("amount"), before)
    assert p.consolidation_tau == pytest.approx(0.8 * p.CONSOLIDATION_BATCH)
    q = process()
    q.load_state_dict(p.state_dict())
    assert q.consolidation_tau == p.consolidation_tau
    p.advance(st, dt, 850.0)  # the batch is reached: swept, the sum starts again
    assert p.consolidation_tau == 0.0
