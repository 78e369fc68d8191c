"""The split of dehydration's free volume between the grain's outline and its inside at
intermediate ``ripening_surface_gaps`` (mcsim.processes.restructure): a share p of the
outline's sites may retreat (drawn once per voxel), a kept rock-salt site that would empty
takes from an inner partner instead, and two kept sites leave their pair alone. At 0 and 1 the
rule is the one before (tests/processes/test_nanopores.py and the frozen-copy tests)."""

from __future__ import annotations

import numba
import numpy as np

from mcsim import phases as ph
from mcsim.processes.restructure import (SURFACE_BIT, _retreats, _site_draw,
                                         coordination_kernel, restructure_kernel)
from mcsim.state import State, full_amount_table
from tests.support import layered_block, ripening_lattice

FULL = full_amount_table()
SEED = 1


def index(v, shape):
    """Global index of interior voxel ``v`` on a lone domain of interior ``shape``."""
    return (v[0] * shape[1] + v[1]) * shape[2] + v[2]


def site_draw(v, shape):
    """The voxel's fixed draw: it is a kept site of the outline for any p at or below it."""
    return _site_draw(SEED, index(v, shape))


def ripen(phase, grain, amount, p_gap, steps=1, li=None):
    st = State.from_arrays(phase, grain, amount, li)
    for k in range(steps):
        restructure_kernel(st.phase, st.grain, st.amount, st.li, st.disorder, 1.0, 0.0, FULL,
                           SEED, k, *st.offset, *st.global_shape[1:], st.dirty_flags(), 1.0,
                           p_gap)
    return st


def surface_pair():
    """s = (3, 3, 1) on the grain's surface (an intergranular pore at x = 0) with 900 TM quanta,
    its inner partner i = (3, 3, 2) with 1100: by coordination s gives and would empty."""
    phase, grain, amount = layered_block()
    phase[3, 3, 0], grain[3, 3, 0], amount[3, 3, 0] = ph.PORE, -1, 0
    s, i = (3, 3, 1), (3, 3, 2)
    phase[s], amount[s] = ph.ROCKSALT, 900
    phase[i], amount[i] = ph.ROCKSALT, 1100
    return phase, grain, amount, s, i


def test_a_kept_outline_site_takes_from_its_inner_partner_which_leaves_a_nanopore():
    phase, grain, amount, s, i = surface_pair()
    u = site_draw(s, phase.shape)
    assert 0.02 < u < 0.98  # room for a p on either side
    st = ripen(phase.copy(), grain.copy(), amount.copy(), 0.5 * u)  # s is kept
    p, g, m = st.interior("phase"), st.interior("grain"), st.interior("amount")
    assert p[s] == ph.ROCKSALT and m[s] == 2000  # the outline stays where it was
    assert p[i] == ph.PORE and g[i] == 1 and m[i] == 0  # the free volume stays inside
    st = ripen(phase.copy(), grain.copy(), amount.copy(), 0.5 * (u + 1.0))  # s retreats
    p, g, m = st.interior("phase"), st.interior("grain"), st.interior("amount")
    assert p[s] == ph.PORE and g[s] == -1 and m[i] == 2000  # the grain shrank: a gap
    assert int(m.astype(np.int64).sum()) == int(amount.astype(np.int64).sum())


def test_two_kept_outline_sites_leave_their_pair_alone():
    phase, grain, amount, s, i = surface_pair()
    phase[3, 3, 3], grain[3, 3, 3], amount[3, 3, 3] = ph.PORE, -1, 0  # i on the surface too
    p_gap = 0.5 * min(site_draw(s, phase.shape), site_draw(i, phase.shape))
    st = ripen(phase.copy(), grain.copy(), amount.copy(), p_gap, steps=5)
    m = st.interior("amount")
    assert m[s] == 900 and m[i] == 1100


def _run(p_gap, steps=12):
    """Ripening on a random two-grain lattice; the rock salt turned gap and nanopore, and the
    rock salt on the grains' outline at the start that is now pore."""
    phase, grain, amount, li = ripening_lattice(n=14, seed=7)
    st0 = State.from_arrays(phase, grain, amount)
    ctc = np.zeros(st0.phase.shape, dtype=np.uint8)
    coordination_kernel(st0.phase, st0.grain, ctc)
    outline = ((ctc[1:-1, 1:-1, 1:-1] & SURFACE_BIT) != 0) & (phase == ph.ROCKSALT)
    st = ripen(phase.copy(), grain.copy(), amount.copy(), p_gap, steps, li.copy())
    was_rs = phase == ph.ROCKSALT
    now = st.interior("phase"), st.interior("grain"), st.interior("amount")
    gaps = was_rs & (now[0] == ph.PORE) & (now[1] == -1)
    nano = was_rs & (now[0] == ph.PORE) & (now[1] > 0)
    assert int(now[2].astype(np.int64).sum()) == int(amount.astype(np.int64).sum())
    return gaps, nano, outline & (now[0] == ph.PORE), phase.shape


def test_fewer_gaps_and_more_nanopores_as_fewer_sites_retreat():
    counts = []
    for p_gap in (1.0, 0.5, 0.15):
        gaps, nano, retreated, shape = _run(p_gap)
        counts.append((int(gaps.sum()), int(nano.sum())))
        sites = list(zip(*np.nonzero(retreated)))
        assert sites  # the outline moved
        # a site of the outline that empties is a retreating one (at 1: every site)
        assert all(_retreats(SEED, index(v, shape), p_gap) for v in sites)
    (g1, n1), (g5, n5), (g15, n15) = counts
    assert g1 > g5 > g15 > 0
    assert n1 < n5 < n15


def test_same_bits_on_one_and_two_threads():
    results = []
    for threads in (1, 2):
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        phase, grain, amount, li = ripening_lattice(n=14, seed=8)
        st = ripen(phase, grain, amount, 0.3, 6, li)
        results.append([st.interior(f).copy() for f in ("phase", "grain", "amount", "li")])
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    for a, b in zip(*results):
        assert np.array_equal(a, b)
