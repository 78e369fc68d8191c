"""Restructuring (mcsim.processes.restructure): the sweeps are skipped exactly when they could
change nothing."""

from __future__ import annotations

import numpy as np
import pytest

from mcsim import params
from mcsim import phases as ph
from mcsim.processes.restructure import PairRestructuring, restructure_kernel
from mcsim.state import full_amount_table
from tests.support import walled_in

FULL = full_amount_table()
FIELDS = ("phase", "grain", "amount", "li", "disorder")


def process():
    # consolidation off: above the sintering onset it would keep the process active
    return PairRestructuring(params.resolve("ncm622-lioh", {"consolidation_rate_factor": 0.0}),
                             {}, 1)


def sweep(st):
    before = [getattr(st, f).copy() for f in FIELDS]
    restructure_kernel(st.phase, st.grain, st.amount, st.li, st.disorder, 0.0, 0.0, FULL, 1, 0,
                       *st.offset, *st.global_shape[1:], st.dirty_flags())
    return [not np.array_equal(b, getattr(st, f)) for b, f in zip(before, FIELDS)]


@pytest.mark.parametrize("neighbour, movable", [
    (None, False),  # every face neighbour full layered of its grain
    ((ph.LAYERED, 2, 900), False),  # partly filled, but another grain's
    ((ph.PORE, -1, 0), True),
    ((ph.LAYERED, 1, 900), True),  # partly filled layered of its own grain
])
def test_sweeps_run_only_when_an_overfull_voxel_can_spill_and_skipping_is_exact(
        neighbour, movable):
    st, c = walled_in(neighbour)
    assert process().active(st, 850.0) == movable
    tm0 = int(st.interior("amount").astype(np.int64).sum())
    changed = sweep(st)
    assert any(changed) == movable  # a skipped sweep would have changed nothing
    assert int(st.interior("amount").astype(np.int64).sum()) == tm0
    if movable:  # the excess went into the neighbour, as far as it had room
        room = FULL[ph.LAYERED] - (neighbour[2] if neighbour[0] == ph.LAYERED else 0)
        assert st.interior("amount")[c] == FULL[ph.LAYERED] + 300 - min(300, room)


def test_partial_rock_salt_or_molten_source_keep_the_sweeps_on():
    st, _ = walled_in()
    p = process()
    st.census.update({"rocksalt_partial": 3})
    assert p.active(st, 300.0)
    st.census.update({"rocksalt_partial": 0, "layered_overfull": 0, "lioh": 5})
    assert p.active(st, p.params["source_melt_c"] + 1.0)
    assert not p.active(st, p.params["source_melt_c"] - 1.0)
