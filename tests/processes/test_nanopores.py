"""Nanopores (issue 12, items 2 and 4): where the volume that dehydration frees goes (the split
rule of ripening: a surface donor opens an intergranular gap, an inside donor a nanopore), the
voxel scaling of the ripening and nanopore-migration rates, and nanopores that move (slowly)
by surface diffusion. Each new mechanism's switch restores the rule before the issue."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from mcsim import params
from mcsim import phases as ph
from mcsim import rng
from mcsim.processes import sintering as si
from mcsim.processes.restructure import (SURFACE_BIT, WALL_BIT, PairRestructuring,
                                         coordination_kernel, restructure_kernel,
                                         voxel_rate_factor)
from mcsim.processes.sintering.pore_migration import nanopore_acceptance
from mcsim.state import State, full_amount_table
from tests.support import layered_block, ripening_lattice

FULL = full_amount_table()
FULL_RS = int(FULL[ph.ROCKSALT])
FIELDS = ("phase", "grain", "amount", "li", "disorder")
HALF = 1000  # a dehydrated voxel: the TM of one hydroxide voxel, 48 % of a rock-salt voxel


def ripen_once(phase, grain, amount, p_coord=1.0, p_gap=1.0):
    """One restructure step of certain ripening (p_rip = 1) on a lone domain."""
    st = State.from_arrays(phase, grain, amount)
    restructure_kernel(st.phase, st.grain, st.amount, st.li, st.disorder, 1.0, 0.0, FULL, 1, 0,
                       *st.offset, *st.global_shape[1:], st.dirty_flags(), p_coord, p_gap)
    return st.interior("phase"), st.interior("grain"), st.interior("amount")


def test_a_surface_donor_opens_a_gap_and_an_inside_donor_a_nanopore():
    phase, grain, amount = layered_block()
    # surface pair: s = (3, 3, 1) touches an intergranular pore at x = 0, i = (3, 3, 2)
    phase[3, 3, 0], grain[3, 3, 0], amount[3, 3, 0] = ph.PORE, -1, 0
    s, i = (3, 3, 1), (3, 3, 2)
    # inside pair: a = (2, 3, 4) touches a nanopore of its own grain at (1, 3, 4), b = (3, 3, 4)
    phase[1, 3, 4], grain[1, 3, 4], amount[1, 3, 4] = ph.PORE, 1, 0
    a, b = (2, 3, 4), (3, 3, 4)
    for v, amt in ((s, 900), (i, 1100), (a, 900), (b, 1100)):
        phase[v], amount[v] = ph.ROCKSALT, amt
    st = State.from_arrays(phase, grain, amount)
    ctc = np.zeros(st.phase.shape, dtype=np.uint8)
    coordination_kernel(st.phase, st.grain, ctc)
    inner = ctc[1:-1, 1:-1, 1:-1]
    assert inner[s] == 25 + SURFACE_BIT and inner[i] == 26  # its pore is another's: surface
    # a pore of its own grain: inside, a nanopore's wall
    assert inner[a] == 25 + WALL_BIT and inner[b] == 26
    p, g, m = ripen_once(phase, grain, amount)
    # the less coordinated voxel gives all its TM to the better coordinated one
    assert p[s] == ph.PORE and g[s] == -1 and m[s] == 0 and m[i] == 2000
    assert p[a] == ph.PORE and g[a] == 1 and m[a] == 0 and m[b] == 2000
    assert int(m.astype(np.int64).sum()) == int(amount.astype(np.int64).sum())


def test_the_coordination_decides_the_donor_even_against_the_amounts():
    phase, grain, amount = layered_block()
    phase[3, 3, 0], grain[3, 3, 0], amount[3, 3, 0] = ph.PORE, -1, 0
    s, i = (3, 3, 1), (3, 3, 2)
    phase[s], amount[s] = ph.ROCKSALT, 1100  # the fuller, but at the surface
    phase[i], amount[i] = ph.ROCKSALT, 900
    p, g, m = ripen_once(phase, grain, amount)
    assert m[i] == 2000 and p[s] == ph.PORE and g[s] == -1
    # switched off (the rule before issue 12): the emptier gives and leaves a nanopore
    p, g, m = ripen_once(phase, grain, amount, p_coord=0.0, p_gap=0.0)
    assert p[i] == ph.PORE and g[i] == 1 and m[s] == 2000


def test_a_nanopore_that_comes_to_touch_a_gap_joins_it():
    phase, grain, amount = layered_block()
    phase[3, 3, 0], grain[3, 3, 0], amount[3, 3, 0] = ph.PORE, -1, 0
    s, i = (3, 3, 1), (3, 3, 2)
    phase[s], amount[s] = ph.ROCKSALT, 900
    phase[i], amount[i] = ph.ROCKSALT, 1100
    nano = [(2, 3, 1), (1, 3, 1)]  # a two-voxel nanopore of grain 1 next to s
    for v in nano:
        phase[v], grain[v], amount[v] = ph.PORE, 1, 0
    p, g, m = ripen_once(phase, grain, amount)
    assert g[s] == -1 and all(g[v] == -1 for v in nano)  # joined, all the way along
    p, g, m = ripen_once(phase, grain, amount, p_gap=0.0)  # no gaps: no joining either
    assert g[s] == 1 and all(g[v] == 1 for v in nano)


# ---- the rule before issue 12, written out in plain Python: the ablation reference --------


def old_ripening(phase, grain, amount, li, seed, step):
    """The six sweeps of rock-salt ripening as before issue 12 (p_rip = 1): in each pair the
    emptier gives (a tie: the lower voxel gives when u1 >= 0.5) until the receiver is full or
    the donor empty, and an emptied voxel becomes a nanopore keeping its grain id."""
    phase, grain, amount, li = (a.copy() for a in (phase, grain, amount, li))
    shape = phase.shape
    for axis in range(3):
        for parity in range(2):
            e = np.eye(3, dtype=int)[axis]
            sub = 1 + 2 * axis + parity
            for z, y, x in np.ndindex(*shape):
                lo = (z, y, x)
                hi = (z + e[0], y + e[1], x + e[2])
                if lo[axis] % 2 != parity or hi[axis] >= shape[axis]:
                    continue
                if phase[lo] != ph.ROCKSALT or phase[hi] != ph.ROCKSALT:
                    continue
                if amount[lo] >= FULL_RS and amount[hi] >= FULL_RS:
                    continue
                idx = (z * shape[1] + y) * shape[2] + x
                _, u1, _, _ = rng.uniform_sub(1, rng.STREAM_RESTRUCTURE, idx, step, sub)
                if grain[lo] != grain[hi]:
                    continue
                for s, d in ((lo, hi), (hi, lo)):
                    a_s, a_d = int(amount[s]), int(amount[d])
                    if a_s > a_d or (a_s == a_d and u1 < 0.5) or a_d >= FULL_RS:
                        continue
                    t = min(a_s, FULL_RS - a_d)
                    amount[d], amount[s] = a_d + t, a_s - t
                    if a_s - t == 0:
                        phase[s] = ph.PORE
                        li[d] += li[s]
                        li[s] = 0.0
                    break
    return phase, grain, amount, li


def test_switched_off_the_ripening_is_the_rule_before_issue_12_voxel_for_voxel():
    arrays = ripening_lattice(n=9, seed=4)
    st = State.from_arrays(*arrays)
    restructure_kernel(st.phase, st.grain, st.amount, st.li, st.disorder, 1.0, 0.0, FULL, 1, 0,
                       *st.offset, *st.global_shape[1:], st.dirty_flags(), 0.0, 0.0)
    ref = old_ripening(*arrays, seed=1, step=0)
    for name, want in zip(("phase", "grain", "amount", "li"), ref):
        assert np.array_equal(st.interior(name), want), name
    emptied = (arrays[0] == ph.ROCKSALT) & (ref[0] == ph.PORE)
    assert emptied.sum() > 20 and (st.interior("grain")[emptied] > 0).all()
    # switched on, the same lattice opens gaps at the grains' surfaces
    st = State.from_arrays(*arrays)
    restructure_kernel(st.phase, st.grain, st.amount, st.li, st.disorder, 1.0, 0.0, FULL, 1, 0,
                       *st.offset, *st.global_shape[1:], st.dirty_flags(), 1.0, 1.0)
    emptied = (arrays[0] == ph.ROCKSALT) & (st.interior("phase") == ph.PORE)
    assert (st.interior("grain")[emptied] == -1).sum() > 0


def test_parameters_switch_each_mechanism_off():
    off = params.resolve("ncm622-lioh", {"ripening_coordination": 0.0,
                                         "ripening_surface_gaps": 0.0,
                                         "ripening_voxel_exponent": 0.0,
                                         "nanopore_mobility": 0.0})
    p = PairRestructuring(off, {}, 1)
    assert p.ripening_rate(500.0, 5.0) == p.ripening_rate(500.0, 10.0)
    assert nanopore_acceptance(off, 5.0) == 0.0
    arrays = ripening_lattice(n=9, seed=4)
    st = State.from_arrays(*arrays)
    st.census.update({"rocksalt_partial": 1})
    p.ripening_rate = lambda t, v: 1e9  # certain ripening in the step
    out = p.advance(st, 1.0, 500.0)
    ref = old_ripening(*arrays, seed=1, step=0)
    for name, want in zip(("phase", "grain", "amount", "li"), ref):
        assert np.array_equal(st.interior(name), want), name
    assert out["nanopore_voxels_opened"] == int(((arrays[0] != ref[0])).sum())
    assert p.gap_voxels_opened == 0


# ---- sweep order, threads and subdomains -------------------------------------------------


class _Pair:
    """Two z-halves in two Python threads: halo exchanges and integer sums meet at a
    barrier, standing in for MPI (the y and x faces stay the inert global boundary)."""

    def __init__(self):
        self.barrier = threading.Barrier(2)
        self.slots = [None, None]

    def exchange(self, rank, *arrays):
        self.slots[rank] = arrays
        self.barrier.wait()
        if rank == 0:
            for lo, up in zip(*self.slots):
                for arr in (lo, up):
                    arr[:, 0] = arr[:, -1] = 0
                    arr[:, :, 0] = arr[:, :, -1] = 0
                lo[0] = 0
                up[-1] = 0
                lo[-1] = up[1]
                up[0] = lo[-2]
        self.barrier.wait()

    def allreduce(self, rank, out):
        self.slots[rank] = out.copy()
        self.barrier.wait()
        total = self.slots[0] + self.slots[1]
        self.barrier.wait()
        out[:] = total


class _Decomp:
    def __init__(self, pair, rank):
        self.pair, self.rank = pair, rank

    def exchange(self, *arrays):
        self.pair.exchange(self.rank, *arrays)


class _Comm:
    def __init__(self, pair, rank):
        self.pair, self.rank = pair, rank

    def Get_size(self):
        return 2

    def Allreduce(self, _inplace, out, op=None):
        self.pair.allreduce(self.rank, out)


def _steps(st, proc, n):
    tallies = []
    for k in range(n):
        st.step = k
        tallies.append(proc.advance(st, 30.0, 450.0))
    return tallies


@pytest.mark.parametrize("p_gap", [1.0, 0.3])  # 0.3: kept outline sites, drawn per voxel
def test_two_subdomains_match_the_whole_lattice_bit_for_bit(p_gap):
    arrays = ripening_lattice(seed=5, shape=(14, 12, 12))
    pr = params.resolve("ncm622-lioh", {"ripening_a_per_s": 1.0e9,
                                        "ripening_surface_gaps": p_gap})
    whole = State.from_arrays(*arrays)
    whole.census.update({"rocksalt_partial": 1})
    pw = PairRestructuring(pr, {}, 1)
    out_whole = _steps(whole, pw, 3)
    assert sum(t["nanopore_voxels_opened"] for t in out_whole) > 0 and pw.gap_voxels_opened > 0
    pair = _Pair()
    halves, procs = [], []
    for rank, (lo, hi) in enumerate(((0, 7), (7, 14))):
        st = State.from_arrays(*[a[lo:hi] for a in arrays])
        st.global_shape = whole.global_shape
        st.offset = (lo, 0, 0)
        st.lone = False
        st.decomposition = _Decomp(pair, rank)
        st.comm = _Comm(pair, rank)
        st.census.update({"rocksalt_partial": 1})
        halves.append(st)
        procs.append(PairRestructuring(pr, {}, 1))
    for name in FIELDS:
        pair.slots = [None, None]
        t = threading.Thread(target=pair.exchange, args=(1, getattr(halves[1], name)))
        t.start()
        pair.exchange(0, getattr(halves[0], name))
        t.join()
    results = [None, None]

    def run(rank):
        results[rank] = _steps(halves[rank], procs[rank], 3)

    threads = [threading.Thread(target=run, args=(r,)) for r in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert results[0] == results[1] == out_whole
    assert procs[0].gap_voxels_opened == procs[1].gap_voxels_opened == pw.gap_voxels_opened
    for name in FIELDS:
        joined = np.concatenate([h.interior(name) for h in halves])
        assert np.array_equal(joined, whole.interior(name)), name


# ---- voxel scaling and nanopore mobility --------------------------------------------------


def test_rates_scale_with_the_voxel_size_from_the_10_nm_calibration():
    pr = params.resolve("ncm622-lioh")
    p = PairRestructuring(pr, {}, 1)
    k10 = p.ripening_rate(400.0, 10.0)
    assert k10 > 0.0
    assert p.ripening_rate(400.0, 5.0) == pytest.approx(4.0 * k10, rel=1e-12)  # dx^-2
    assert p.ripening_rate(400.0, 20.0) == pytest.approx(k10 / 4.0, rel=1e-12)
    m10 = nanopore_acceptance(pr, 10.0)
    assert m10 == pr["nanopore_mobility"] > 0.0
    assert nanopore_acceptance(pr, 5.0) == pytest.approx(4.0 * m10, rel=1e-12)  # dx^-2 (x dx^-4 MCS)
    assert nanopore_acceptance(pr, 1.0) == 1.0  # capped: never above a boundary pore's
    assert voxel_rate_factor(10.0, 3.0) == 1.0
    with pytest.raises(ValueError, match="voxel_nm"):
        voxel_rate_factor(0.0, 2.0)


def single_nanopore(n=31, voxel_nm=10.0):
    """A cube of full layered oxide of grain 1 with a single-voxel nanopore at its centre."""
    phase, grain, amount = layered_block(n)
    c = n // 2
    phase[c, c, c], grain[c, c, c], amount[c, c, c] = ph.PORE, 1, 0
    return State.from_arrays(phase, grain, amount, voxel_nm=voxel_nm)


@pytest.mark.parametrize("mobility, voxel_nm", [(0.05, 10.0), (0.012, 5.0)])
def test_a_single_nanopore_random_walks_at_6_m_hops_per_mcs(mobility, voxel_nm):
    pr = params.resolve("ncm622-lioh", {"nanopore_mobility": mobility})
    m = nanopore_acceptance(pr, voxel_nm)
    st = single_nanopore(voxel_nm=voxel_nm)
    proc = si.PottsSintering(pr, {}, 1)
    n_mcs = 100
    out = si.drive(st, proc.steps(st, {"grain_growth": (0, 0), "pore_migration": (0, n_mcs),
                                       "densification": (0, 0)}))
    hops = out["pore_swaps"]
    expected = 6.0 * m * n_mcs  # 30 at 10 nm; 0.012 x 4 x 600 = 28.8 at 5 nm
    assert abs(hops - expected) < 4.0 * np.sqrt(expected), (hops, expected)
    pore = np.argwhere(st.interior("phase") == ph.PORE)
    assert len(pore) == 1 and st.interior("grain")[tuple(pore[0])] == 1  # still a nanopore
    # immobile when switched off (the rule before issue 12)
    off = params.resolve("ncm622-lioh", {"nanopore_mobility": 0.0})
    st = single_nanopore(voxel_nm=voxel_nm)
    out = si.drive(st, si.PottsSintering(off, {}, 1).steps(
        st, {"grain_growth": (0, 0), "pore_migration": (0, 20), "densification": (0, 0)}))
    assert out["pore_swaps"] == 0


def test_a_nanopore_that_reaches_another_grain_becomes_intergranular():
    """After every MCS the lone pore's label says what encloses it: -1 next to both grains,
    the grain's id inside one grain (grain 1 where it started, grain 2 if it walked through
    the boundary)."""
    n = 9
    phase, grain, amount = layered_block(n)
    grain[:, :, 5:] = 2
    phase[4, 4, 3], grain[4, 4, 3], amount[4, 4, 3] = ph.PORE, 1, 0  # two voxels from grain 2
    st = State.from_arrays(phase, grain, amount)
    pr = params.resolve("ncm622-lioh", {"nanopore_mobility": 1.0})
    proc = si.PottsSintering(pr, {}, 1)
    seen = set()
    for k in range(60):
        si.drive(st, proc.steps(st, {"grain_growth": (0, 0), "pore_migration": (k, 1),
                                     "densification": (0, 0)}))
        z, y, x = np.argwhere(st.interior("phase") == ph.PORE)[0]
        label = st.interior("grain")[z, y, x]
        box = st.interior("grain")[max(0, z - 1):z + 2, max(0, y - 1):y + 2,
                                   max(0, x - 1):x + 2]
        grains = set(np.unique(box[box > 0]).tolist())
        if grains == {1, 2}:
            assert label == -1
        elif grains == {2} and box.size == 27:
            assert label == 2
        elif grains == {1} and box.size == 27:
            assert label == 1
        seen.add(frozenset(grains))
    assert frozenset({1, 2}) in seen, "the nanopore never reached grain 2 in 60 MCS"


def test_a_pore_left_alone_inside_a_grain_is_trapped_there_as_a_nanopore():
    """An intergranular label (-1) on a lone pore voxel whose 26 neighbours are all one grain's
    solid is history (a boundary swept past it): after its first move the pore is a nanopore
    of that grain and walks at the nanopore's 6 m hops per MCS, not at a boundary pore's."""
    pr = params.resolve("ncm622-lioh", {"nanopore_mobility": 0.05})
    m = nanopore_acceptance(pr, 10.0)
    st = single_nanopore()
    c = st.interior("grain").shape[0] // 2
    st.interior("grain")[c, c, c] = -1
    proc = si.PottsSintering(pr, {}, 1)

    def mcs(k, n=1):
        return si.drive(st, proc.steps(st, {"grain_growth": (0, 0), "pore_migration": (k, n),
                                            "densification": (0, 0)}))["pore_swaps"]

    assert mcs(0) >= 1  # full acceptance while labelled -1: it moves in its first MCS
    pore = np.argwhere(st.interior("phase") == ph.PORE)
    assert len(pore) == 1 and st.interior("grain")[tuple(pore[0])] == 1
    n_mcs = 100
    hops = mcs(1, n_mcs)
    expected = 6.0 * m * n_mcs  # 30; a boundary pore's label would give about 600
    assert abs(hops - expected) < 4.0 * np.sqrt(expected), (hops, expected)


def test_a_nanopore_whose_grain_was_replaced_around_it_belongs_to_the_new_grain():
    """A nanopore labelled with grain 1 that grain 3 has grown around is a nanopore of grain 3
    after it moves (not intergranular: no other grain touches it)."""
    st = single_nanopore()
    g = st.interior("grain")
    solid = st.interior("phase") >= ph.HYDROXIDE
    g[solid] = 3  # grain 3 replaced grain 1 everywhere; the pore keeps its old label 1
    pr = params.resolve("ncm622-lioh", {"nanopore_mobility": 1.0})
    proc = si.PottsSintering(pr, {}, 1)
    out = si.drive(st, proc.steps(st, {"grain_growth": (0, 0), "pore_migration": (0, 3),
                                       "densification": (0, 0)}))
    assert out["pore_swaps"] >= 1
    pore = np.argwhere(st.interior("phase") == ph.PORE)
    assert len(pore) == 1 and st.interior("grain")[tuple(pore[0])] == 3


def test_the_contact_count_shortcut_leaves_the_label_as_the_scan_does():
    """After a swap the pore's label is recomputed by scanning its 26 neighbours only when it
    carries a nanopore label or the contact count s says every neighbour is solid; otherwise
    the scan would keep the label anyway. Checked on every pore voxel of random lattices, with
    s counted from the phases and labels of every kind."""
    import numba

    from mcsim.processes.sintering.common import SOLID_MIN, contact_count_kernel
    from mcsim.processes.sintering.pore_migration import _label_after_move, _label_scan_needed

    label_after_move = numba.njit(_label_after_move.py_func)
    scan_needed = numba.njit(_label_scan_needed.py_func)
    gen = np.random.default_rng(5)
    checked = skipped = 0
    for pore_fraction in (0.02, 0.1, 0.4):
        shape = (14, 15, 16)
        phase = np.where(gen.random(shape) < pore_fraction, ph.PORE, ph.LAYERED).astype(np.uint8)
        grain = gen.integers(1, 3, size=shape).astype(np.int32)  # two grains, mixed
        grain[6:, :, :] = 1  # and a region of one grain, where pores are enclosed
        s = np.zeros(shape, dtype=np.uint8)
        contact_count_kernel(phase, s)
        for z, y, x in np.argwhere(phase[1:-1, 1:-1, 1:-1] == ph.PORE) + 1:
            for label in (-1, 0, 1, 2):
                scanned = label_after_move(phase, grain, z, y, x, label)
                if scan_needed(label, s[z, y, x]):
                    checked += 1
                else:  # the shortcut keeps the label without the scan
                    skipped += 1
                    assert scanned == label, (z, y, x, label, s[z, y, x])
        assert (phase >= SOLID_MIN).any()
    assert checked > 0 and skipped > 0
