"""The pore-migration sweep equals a plain reference implementation, bit for bit.

:func:`mcsim.processes.sintering.pore_migration_kernel` runs the sub-sweeps that share their
anchor planes plane by plane in one call, steps its anchor rows and columns by their period
from the first one of the right residue instead of testing every voxel's global coordinate,
and draws no random number for a swap whose acceptance is 1. The reference below is the
straightforward version: every local voxel, kept when its global coordinate has the
sub-sweep's residues and its pair lies inside the lattice, in order on one thread, one
sub-sweep after the other, and a uniform drawn for every candidate swap. Both must give the
same fields, contact counts, change flags and swap counts on 1 and 2 threads, on the whole
lattice and on blocks cut at arbitrary offsets (as a rank of a split lattice holds them).
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from mcsim import phases as ph
from mcsim import rng
from mcsim.processes import sintering as si
from mcsim.processes.sintering.common import (_SHIFT11, _TWO_M53, SOLID_MIN,
                                              SUB_PORE_MIGRATION)
from mcsim.processes.sintering.pore_migration import _RUNS_FUSED, _RUNS_SINGLE
from mcsim.state import State, full_amount_table

SHAPE = (20, 23, 25)


@numba.njit
def _reference_bump(s, z, y, x, delta):
    for zz in range(max(0, z - 1), min(s.shape[0], z + 2)):
        for yy in range(max(0, y - 1), min(s.shape[1], y + 2)):
            for xx in range(max(0, x - 1), min(s.shape[2], x + 2)):
                if zz != z or yy != y or xx != x:
                    s[zz, yy, xx] = np.uint8((np.int64(s[zz, yy, xx]) + delta) & 255)


@numba.njit
def _reference_try_swap(phase, grain, amount, li, disorder, s, dirty, accept, az, ay, ax, bz,
                        by, bx, seed, mcs, sub, ga, nano_mobility):
    """The swap of the pore-solid pair a-b as the module docstring states it; a uniform is
    drawn for every pair that gets as far as the acceptance."""
    ca = phase[az, ay, ax]
    cb = phase[bz, by, bx]
    if ca == ph.PORE and cb >= SOLID_MIN and grain[az, ay, ax] != 0:
        pz, py, px, qz, qy, qx = az, ay, ax, bz, by, bx
    elif cb == ph.PORE and ca >= SOLID_MIN and grain[bz, by, bx] != 0:
        pz, py, px, qz, qy, qx = bz, by, bx, az, ay, ax
    else:
        return 0
    d = np.int64(s[qz, qy, qx]) - np.int64(s[pz, py, px])
    label = grain[pz, py, px]
    a = accept[d + 26]
    if label > 0:
        a *= nano_mobility
        if a <= 0.0:
            return 0
    w0, _, _, _ = rng.philox4x64(ga, mcs, sub, 0, seed, rng.STREAM_SINTER)
    if np.float64(w0 >> _SHIFT11) * _TWO_M53 >= a:
        return 0
    # the fields move with the solid; the pore takes its place
    phase[pz, py, px] = phase[qz, qy, qx]
    phase[qz, qy, qx] = ph.PORE
    grain[pz, py, px] = grain[qz, qy, qx]
    amount[pz, py, px] = amount[qz, qy, qx]
    amount[qz, qy, qx] = 0
    tl = li[pz, py, px]
    li[pz, py, px] = li[qz, qy, qx]
    li[qz, qy, qx] = tl
    disorder[pz, py, px] = disorder[qz, qy, qx]
    disorder[qz, qy, qx] = 0
    dirty[pz, py, px] = 1
    dirty[qz, qy, qx] = 1
    _reference_bump(s, pz, py, px, 1)
    _reference_bump(s, qz, qy, qx, -1)
    inside = (1 <= qz <= phase.shape[0] - 2 and 1 <= qy <= phase.shape[1] - 2
              and 1 <= qx <= phase.shape[2] - 2)
    if label > 0 and inside:  # a nanopore next to another grain's solid: intergranular
        for zz in range(qz - 1, qz + 2):
            for yy in range(qy - 1, qy + 2):
                for xx in range(qx - 1, qx + 2):
                    if phase[zz, yy, xx] >= SOLID_MIN and grain[zz, yy, xx] != label:
                        label = -1
    grain[qz, qy, qx] = label
    return 1


@numba.njit
def _reference_sub_sweep(phase, grain, amount, li, disorder, s, dirty, accept, seed, mcs, axis,
                         sub, oz, oy, ox, gnz, gny, gnx, nano_mobility):
    """Every local voxel in z, y, x order; an anchor when its global coordinate is r mod 3 along
    ``axis``, p, q mod 2 along the others (``sub`` = 4 r + 2 p + q) and its pair is inside."""
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    r = sub // 4
    p = (sub >> 1) & 1
    q = sub & 1
    period = np.full(3, 2, dtype=np.int64)
    period[axis] = 3
    residue = np.empty(3, dtype=np.int64)
    others = [a for a in range(3) if a != axis]
    residue[axis] = r
    residue[others[0]] = p
    residue[others[1]] = q
    e = np.zeros(3, dtype=np.int64)
    e[axis] = 1
    key_sub = SUB_PORE_MIGRATION + 12 * axis + sub
    swaps = 0
    for z in range(1 - e[0], nz + 1):
        for y in range(1 - e[1], ny + 1):
            for x in range(1 - e[2], nx + 1):
                g = (oz + z - 1, oy + y - 1, ox + x - 1)
                n = (gnz, gny, gnx)
                keep = True
                for a in range(3):
                    if g[a] < 0 or g[a] + e[a] > n[a] - 1 or g[a] % period[a] != residue[a]:
                        keep = False
                if not keep:
                    continue
                ga = (g[0] * gny + g[1]) * gnx + g[2]
                did = _reference_try_swap(phase, grain, amount, li, disorder, s, dirty, accept,
                                          z, y, x, z + e[0], y + e[1], x + e[2], seed, mcs,
                                          key_sub, ga, nano_mobility)
                if did and z >= 1 and y >= 1 and x >= 1:
                    swaps += 1
    return swaps


def _lattice():
    """Fields with halo of a porous polycrystal filling the box to its faces (so that anchors
    at the lattice's and the blocks' edges do swap): 3.5-voxel grains of the three solids,
    intergranular pores (-1) and nanopores (pores that keep their grain's id), integer
    lithium; and its contact counts."""
    grain = si.polycrystal(SHAPE, 3.5, seed=3)
    r = np.random.default_rng(4)
    phase = (ph.HYDROXIDE + grain % 3).astype(np.uint8)
    u = r.random(SHAPE)
    pore, nano = u < 0.25, (u >= 0.25) & (u < 0.29)
    phase[pore | nano] = ph.PORE
    grain = np.where(pore, -1, grain).astype(np.int32)
    amount = np.where(pore | nano, 0, full_amount_table()[phase]).astype(np.uint16)
    li = np.where(pore | nano, 0, r.integers(0, 50, SHAPE)).astype(np.float32)
    disorder = np.where(phase == ph.LAYERED, r.integers(0, 80, SHAPE), 0).astype(np.uint8)
    st = State.from_arrays(phase, grain, amount, li)
    st.disorder[1:-1, 1:-1, 1:-1] = disorder
    s = si.contact_field(st)
    si.contact_count_kernel(st.phase, s)
    return [f.copy() for f in (st.phase, st.grain, st.amount, st.li, st.disorder, s,
                               st.dirty_flags())]


def _sweeps(fields, offset, gshape, kernel, runs, n_mcs=2):
    """``n_mcs`` MCS of the 36 sub-sweeps, one call per run of ``runs[axis]``, on ``fields``
    (changed in place); the swap counts of the calls."""
    accept = si.pore_migration_accept_table(0.6)
    counts = []
    for mcs in range(n_mcs):
        for axis in range(3):
            for subs in runs[axis]:
                counts.append(int(kernel(*fields, accept, np.uint64(5), np.uint64(mcs), axis,
                                         subs, *offset, *gshape, 0.3)))
    return counts


def _reference(*args):
    """The reference sub-sweeps of a run, one after the other."""
    subs = args[11]
    return sum(_reference_sub_sweep(*args[:11], sub, *args[12:]) for sub in subs)


SINGLE = (_RUNS_SINGLE,) * 3


def _threads(t):
    if t > numba.config.NUMBA_NUM_THREADS:
        pytest.skip(f"Numba sees {numba.config.NUMBA_NUM_THREADS} thread(s); run with "
                    "NUMBA_NUM_THREADS=2 to compare 2 threads")
    numba.set_num_threads(t)


@pytest.mark.parametrize("runs", ["single", "fused"])
@pytest.mark.parametrize("threads", [1, 2])
def test_pore_migration_matches_the_reference_on_the_whole_lattice(threads, runs):
    """One sub-sweep per call (a split lattice) and the runs of sub-sweeps that share their
    anchor planes (a lone domain, :func:`pore_migration_mcs`) both equal the reference."""
    _threads(threads)
    runs = SINGLE if runs == "single" else _RUNS_FUSED
    try:
        ref = _lattice()
        new = [f.copy() for f in ref]
        want = _sweeps(ref, (0, 0, 0), SHAPE, _reference, runs)
        got = _sweeps(new, (0, 0, 0), SHAPE, si.pore_migration_kernel, runs)
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert sum(want) > 100  # the sweeps do move pores, on every face of the lattice too
    moved = ref[6][1:-1, 1:-1, 1:-1]
    for face in (moved[0], moved[-1], moved[:, 0], moved[:, -1], moved[:, :, 0], moved[:, :, -1]):
        assert face.any()
    assert got == want
    for a, b in zip(new, ref):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("block", [((0, 11), (3, 17), (5, 25)),
                                   ((7, 20), (0, 23), (1, 24)),
                                   ((4, 9), (10, 23), (0, 8)),
                                   ((13, 20), (5, 6), (12, 25))])
def test_pore_migration_matches_the_reference_on_offset_blocks(threads, block):
    """A block [lo, hi) per axis with its one-voxel halo, as a rank holds it: every residue
    of the offsets, blocks at the lattice's faces and inside, and a one-row block; one
    sub-sweep per call, as on a split lattice, and the runs too."""
    _threads(threads)
    whole = _lattice()
    cut = tuple(slice(lo, hi + 2) for lo, hi in block)
    offset = tuple(lo for lo, _ in block)
    try:
        for runs in (SINGLE, _RUNS_FUSED):
            ref = [np.ascontiguousarray(f[cut]) for f in whole]
            new = [f.copy() for f in ref]
            want = _sweeps(ref, offset, SHAPE, _reference, runs)
            got = _sweeps(new, offset, SHAPE, si.pore_migration_kernel, runs)
            assert sum(want) > 0
            assert got == want
            for a, b in zip(new, ref):
                assert np.array_equal(a, b)
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


def test_a_run_of_sub_sweeps_on_different_planes_is_refused():
    fields = _lattice()
    with pytest.raises(ValueError, match="same planes"):
        si.pore_migration_kernel(*fields, si.pore_migration_accept_table(0.6), np.uint64(5),
                                 np.uint64(0), 1, np.array([1, 2]), 0, 0, 0, *SHAPE, 0.3)


def test_the_mcs_fuses_on_a_lone_domain_and_gives_the_reference_result():
    """:func:`pore_migration_mcs` on a lone state: the same fields as the reference."""
    fields = _lattice()
    st = State.from_arrays(fields[0][1:-1, 1:-1, 1:-1], fields[1][1:-1, 1:-1, 1:-1],
                           fields[2][1:-1, 1:-1, 1:-1], fields[3][1:-1, 1:-1, 1:-1])
    st.disorder[...] = fields[4]
    si.contact_count_kernel(st.phase, si.contact_field(st))
    accept = si.pore_migration_accept_table(0.6)
    swaps = si.drive(st, si.pore_migration_mcs(st, accept, 5, 0, 0.3))
    want = _sweeps(fields, (0, 0, 0), SHAPE, _reference, SINGLE, n_mcs=1)
    assert swaps == sum(want) > 0
    for name, ref in zip(("phase", "grain", "amount", "li", "disorder"), fields):
        assert np.array_equal(getattr(st, name), ref), name
    assert np.array_equal(si.contact_field(st), fields[5])
