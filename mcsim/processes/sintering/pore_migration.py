"""Pore migration by surface diffusion: pore-solid swaps that shorten the pore surface.

A pore voxel a inside the particle (grain id != 0) swaps with a solid face neighbour b. With
s(x) the number of solid voxels among the 26 neighbours of x, the number of solid/non-solid
26-neighbour contacts changes by dU = 2 - 2 s(a) + 2 s(b): before the swap the pair's contacts
are s(a) + (26 - s(b)) - 1 (the pair a-b counted once), after it (26 - (s(a) - 1)) +
(s(b) + 1) - 1. Accepted with min(1, exp(-J_s dU / kT)). The swap moves phase, amount, li,
disorder and the grain id of the solid; the pore keeps its label, except that a nanopore
(label = a grain id) that arrives where a solid neighbour belongs to another grain becomes
intergranular (-1), and a pore that arrives where its 26 neighbours are all solid of one grain
becomes a nanopore of that grain, whatever it was (:func:`_label_after_move`). The label thus
follows what encloses the pore, as the pore statistics and densification see it: a pore left
inside a grain by a boundary that swept past it, or by a grain that grew around it, is
trapped there as a nanopore (pore-boundary separation, Brook, J. Am. Ceram. Soc. 52, 56
(1969)), instead of keeping an intergranular label, and the mobility, of its earlier history.
s is kept in a uint8 field with halo
(:func:`~mcsim.processes.sintering.common.contact_field`) and updated by +1 / -1 around each
swap. A single-voxel pore inside a grain has dU = 0 for every move, so it random-walks: 6
attempts per MCS, each accepted with the nanopore acceptance m below, so 6 m hops per MCS.

Nanopores. A pore labelled with a grain id (inside one grain) is accepted m times as often as
other pores, m = min(1, ``nanopore_mobility`` x (10 nm / voxel_nm) ** q)
(:func:`nanopore_acceptance`). ``nanopore_mobility`` (0.01) is the ratio of surface
diffusion on the nanopore's wall, Li-deficient rock salt (the paper's Fig. 3f), to that on the
layered walls of boundary pores: TM moves on rock salt as in NiO, whose cation
self-diffusion has Ea = 243 kJ/mol (Atkinson & Taylor 1978) against the 200 kJ/mol of pore
migration, exp(-43 kJ/mol / RT) = 0.010 at 850 C (an estimate: surface and lattice
diffusion are taken to differ by the same energy on both walls). q = ``nanopore_voxel_exponent``
= 2 completes the voxel scaling of the pore-migration MCS rate ((10 / voxel_nm)^4, Herring's
law for surface diffusion, :mod:`~mcsim.processes.sintering.process`) to the ^6 of a pore's
Brownian motion: the random surface hops of its wall atoms give a pore of radius r a
diffusivity ~ D_s / r^4 (Gruber, J. Appl. Phys. 38, 243 (1967)), so a single-voxel
nanopore's hop over one voxel, dx^2 / D_p, takes ~ dx^6. The cap at 1 binds below
10 nm x 0.01^(1/2) = 1 nm. With ~60 pore-migration MCS in 12 h at 850 C a
single-voxel nanopore makes 6 x 60 x 0.01 = 3.6 hops at 10 nm, a walk of about one voxel:
nanopores inside a grain survive the hold because they are slow and their grain's boundary is
one or more voxels away, not because they cannot move; one that reaches a voxel next to another
grain's solid becomes intergranular (below) and densification can then remove it. What else
keeps them: densification removes pores at grain boundaries only (vacancies inside a grain
would have to leave by slow lattice diffusion), and the H2O or O2 trapped in a closed pore
resists its shrinkage.

Detachment. A move of a pore voxel p into a solid q whose 25 other neighbours are all solid,
while p touches another pore, cuts a single voxel off a larger pore: a new nanopore one voxel
across. Its acceptance is multiplied by ``pore_migration_detach`` (1, the rule before: the
Potts energy alone decides; 0: such a move is never made). Surface diffusion rounds a pore and
moves it; it does not break off voxel-sized pieces (a pore splits only when a channel much
longer than its width pinches off, Rayleigh's instability). The lattice charges such a move
dU = 52 - 2 s(p) contacts at J/kT each, and the lattice-temperature convention lowers J/kT
on finer lattices (0.5 at 5 nm), so a finer lattice sheds more pieces into the grains, where
a physical pore of 5 nm, whose surface energy is some 10^4 kT at 850 C, would not. The test
reads only s of the pair's two voxels, as the acceptance does, so the colouring below still
holds; for the same reason it does not see a pore leaving a voxel behind (the voxel that
joined it moves away), which would need the contacts of the voxels around p.

Colouring. Pairs (a, a + e) along one axis are anchored at a, whose global coordinate is
r mod 3 along the axis and p, q mod 2 along the other two: 3 x 2 x 2 = 12 sub-sweeps per axis,
36 per MCS. Claim: no voxel of one pair of a sub-sweep lies in the 26-neighbourhood (Chebyshev
distance <= 1) of a voxel of another. Proof: two anchors differ by 3i along the axis and by
2j, 2k along the others. If i != 0 the pairs' coordinates along the axis, {c, c+1} and
{c+3i, c+3i+1}, are at least |3i| - 1 >= 2 apart; if i = 0, then j or k != 0 and the pairs
are 2|j| or 2|k| >= 2 apart along that axis. Hence a swap reads (its pair's fields and s
values, the grain ids around its new pore) nothing that another swap of the sub-sweep writes:
the fields of other pairs lie outside its closed neighbourhood W, and the s values other swaps
change lie in their own W, which never contain this pair. So the outcome does not depend on
the order of the swaps or the number of threads. The s increments of two swaps may land on the
same voxel; they commute, and they are made free of data races by running the anchor planes
of a sub-sweep in two interleaved groups whose footprints (planes z-1..z+2 resp. z-1..z+1) are
disjoint.

Runs of sub-sweeps. Consecutive sub-sweeps whose anchors lie on the same planes (the four with
one r for pairs along z, anchored on planes r mod 3; the two with one r and p for pairs along
y or x, anchored on planes p mod 2) are done in one call plane by plane, each anchor plane
taking all of them in order, so the plane's rows are read once for the run instead of once
per sub-sweep. That equals running them one after the other: two swaps of the run on the same
plane keep their order, and two on different anchor planes of the run (3 apart along z, or 2
apart for y and x pairs) share no voxel whose fields one writes and the other reads (the
fields written are the pair's planes, those read the pair's planes and the ones next to them,
s is read on the pair's voxels only): their footprints meet on at most one plane, where both
only add to s, and additions commute. The two interleaved groups of planes keep the threads
apart as before. On a lattice split into subdomains the sub-sweeps run one at a time, with
halo exchanges between them.
"""

from __future__ import annotations

import numba
import numpy as np

from mcsim import phases as ph
from mcsim import rng
from mcsim.processes.restructure import voxel_rate_factor
from mcsim.processes.sintering.grain_growth import lattice_j_over_kt
from mcsim.processes.sintering.common import (_SHIFT11, _TWO_M53, SOLID_MIN,
                                              SUB_PORE_MIGRATION, _fields, contact_field,
                                              contact_shell_kernel)


def nanopore_acceptance(params: dict, voxel_nm: float) -> float:
    """m = min(1, nanopore_mobility x (10 nm / voxel_nm) ** nanopore_voxel_exponent): the
    pore-migration acceptance of a nanopore relative to other pores (module docstring)."""
    m = float(params["nanopore_mobility"])
    if m <= 0.0:
        return 0.0
    return min(1.0, m * voxel_rate_factor(voxel_nm, params["nanopore_voxel_exponent"]))


def lattice_surface_j_over_kt(params: dict, voxel_nm: float) -> float:
    """Pore migration's J/kT on a lattice of ``voxel_nm``: the convention of
    :func:`~mcsim.processes.sintering.grain_growth.lattice_j_over_kt` for the pore surfaces
    (with one J/kT on every lattice, pores of a given size roughen on a finer lattice but stop
    coarsening). At 10 nm it is ``pore_migration_j_over_kt`` exactly."""
    return lattice_j_over_kt(params, voxel_nm, "pore_migration")


def pore_migration_accept_table(j_over_kt: float) -> np.ndarray:
    """min(1, exp(-J_s/kT dU)), dU = 2 + 2 d, for d = s(b) - s(a) in -26..26 (index d + 26)."""
    d = np.arange(-26, 27, dtype=np.float64)
    return np.minimum(1.0, np.exp(-j_over_kt * (2.0 + 2.0 * d)))


@numba.njit(inline="always")
def _bump(s, z, y, x, delta):
    """Add ``delta`` to s on the 26 neighbours of (z, y, x) that lie in the array."""
    for zz in range(max(0, z - 1), min(s.shape[0], z + 2)):
        for yy in range(max(0, y - 1), min(s.shape[1], y + 2)):
            for xx in range(max(0, x - 1), min(s.shape[2], x + 2)):
                if zz != z or yy != y or xx != x:
                    s[zz, yy, xx] = np.uint8((np.int64(s[zz, yy, xx]) + delta) & 255)


@numba.njit(inline="always")
def _label_after_move(phase, grain, z, y, x, label):
    """The label of a pore voxel that has just moved to (z, y, x), from what encloses it there:
    the grain id g when its 26 neighbours are all solid of grain g (a lone pore inside one
    grain: a nanopore, whatever its label was), -1 when a nanopore (``label`` > 0) has come next
    to solid of another grain, else ``label`` unchanged."""
    enclosing = np.int64(-2)  # -2: no solid neighbour seen yet; -1: not one grain all round
    for dz in range(-1, 2):
        for dy in range(-1, 2):
            for dx in range(-1, 2):
                if dz == 0 and dy == 0 and dx == 0:
                    continue
                if phase[z + dz, y + dy, x + dx] >= SOLID_MIN:
                    g = np.int64(grain[z + dz, y + dy, x + dx])
                    if enclosing == -2:
                        enclosing = g
                    elif g != enclosing:
                        enclosing = -1
                    if label > 0 and g != label:
                        label = -1
                else:
                    if label <= 0:  # not enclosed, and no nanopore label to check: unchanged
                        return label
                    enclosing = -1
    if enclosing > 0:
        return enclosing
    return label


@numba.njit(inline="always")
def _label_scan_needed(label, s_q):
    """Whether :func:`_label_after_move` can change the label of a pore that has just moved to
    q, whose contact count (after the swap's updates, so the voxel it left counts as solid) is
    ``s_q``: only for a nanopore label (it may meet another grain) or when every neighbour is
    solid (it may be enclosed by one grain). Otherwise the scan would meet a non-solid
    neighbour and keep the label, so it is skipped: most swaps, those of boundary pores."""
    return label > 0 or s_q == 26


@numba.njit(inline="always")
def _try_swap(phase, grain, amount, li, disorder, s, dirty, accept, az, ay, ax, bz, by, bx, seed,
              mcs, sub, ga, nano_mobility, detach):
    """Attempt the swap of the pair a-b; returns 1 if it swapped. A pore tagged as a nanopore
    (label > 0: inside one grain) is accepted ``nano_mobility`` times as often; a move that
    would cut a voxel off a larger pore (module docstring, *Detachment*) ``detach`` times as
    often."""
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
    if detach < 1.0 and s[qz, qy, qx] == 25 and s[pz, py, px] < 26:
        # q's other 25 neighbours are solid and p touches another pore: the move cuts a
        # single voxel off a larger pore
        a *= detach
        if a <= 0.0:
            return 0
    if a < 1.0:  # a uniform in [0, 1) is always below a >= 1: no draw needed then
        w0, _, _, _ = rng.philox4x64(ga, mcs, sub, 0, seed, rng.STREAM_SINTER)
        if np.float64(w0 >> _SHIFT11) * _TWO_M53 >= a:
            return 0
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
    _bump(s, pz, py, px, 1)
    _bump(s, qz, qy, qx, -1)
    if _label_scan_needed(label, s[qz, qy, qx]) and 1 <= qz <= phase.shape[0] - 2 \
            and 1 <= qy <= phase.shape[1] - 2 and 1 <= qx <= phase.shape[2] - 2:
        label = _label_after_move(phase, grain, qz, qy, qx, label)
    grain[qz, qy, qx] = label
    return 1


#: The sub-sweeps of each axis that one kernel call runs plane by plane on a lone domain: the
#: runs of consecutive sub-sweeps whose anchors lie on the same planes (same residue of z).
_RUNS_FUSED = (tuple(np.arange(4 * r, 4 * r + 4, dtype=np.int64) for r in range(3)),
               tuple(np.arange(2 * h, 2 * h + 2, dtype=np.int64) for h in range(6)),
               tuple(np.arange(2 * h, 2 * h + 2, dtype=np.int64) for h in range(6)))
_RUNS_SINGLE = tuple(np.array([j], dtype=np.int64) for j in range(12))


@numba.njit(cache=True)
def _anchor_residues(axis, sub):
    """Period and residue of the anchor coordinate along z, y, x of sub-sweep ``sub``."""
    r = sub // 4
    p = (sub >> 1) & 1
    q = sub & 1
    mz = 3 if axis == 0 else 2
    rz = r if axis == 0 else p
    my = 3 if axis == 1 else 2
    ry = r if axis == 1 else (p if axis == 0 else q)
    mx = 3 if axis == 2 else 2
    rx = r if axis == 2 else q
    return mz, rz, my, ry, mx, rx


@numba.njit(parallel=True, cache=True)
def pore_migration_kernel(phase, grain, amount, li, disorder, s, dirty, accept, seed, mcs, axis,
                          subs, oz, oy, ox, gnz, gny, gnx, nano_mobility=1.0, detach=1.0):
    """Pore-migration sub-sweeps ``subs`` (int64 array, in order) of pairs along ``axis``
    (0 z, 1 y, 2 x). Sub-sweep ``sub`` = 4 r + 2 p + q (0..11) anchors its pairs where the
    global coordinate is r mod 3 along the axis and p, q mod 2 along the other two. Pairs with
    either end in the interior are processed.

    All of ``subs`` must anchor on the same planes (the same residue of z: the four with one r
    for axis 0, the two with one r and p for axes 1 and 2); they are then done plane by plane,
    each plane all of ``subs`` in order, which equals doing them one after the other over the
    lattice (module docstring, *Runs of sub-sweeps*) and reads the plane's rows once for all of
    them. A lattice split into subdomains passes one sub-sweep at a time (halos are exchanged
    between sub-sweeps). ``detach`` multiplies the acceptance of a move that cuts a single
    voxel off a larger pore (1: the rule before; 0: never).

    Returns the number of swaps whose anchor is interior (each swap counted by one subdomain).
    """
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    ez = 1 if axis == 0 else 0
    ey = 1 if axis == 1 else 0
    ex = 1 if axis == 2 else 0
    mz, rz, _, _, _, _ = _anchor_residues(axis, subs[0])
    for sub in subs:
        if _anchor_residues(axis, sub)[1] != rz:
            raise ValueError("pore_migration_kernel: the sub-sweeps of one call must anchor "
                             "on the same planes")
    # anchor planes: local z in [1 - ez, nz], global z in [0, gnz - 1 - ez], gz % mz == rz
    zlo = 1 - ez
    n_planes = 0
    first = -1
    for z in range(zlo, nz + 1):
        gz = oz + z - 1
        if gz >= 0 and gz + ez <= gnz - 1 and gz % mz == rz:
            if first < 0:
                first = z
            n_planes += 1
    count = np.zeros(max(n_planes, 1), dtype=np.int64)
    for group in range(2):
        n_group = (n_planes - group + 1) // 2
        for kk in numba.prange(n_group):
            k = 2 * kk + group
            z = first + mz * k
            gz = oz + z - 1
            swaps = 0
            for sub in subs:
                _, _, my, ry, mx, rx = _anchor_residues(axis, sub)
                key_sub = SUB_PORE_MIGRATION + 12 * axis + sub
                # anchor rows and columns: local y in [1 - ey, ny] with global y in
                # [0, gny - 1 - ey] and gy % my == ry, stepped by my from the first (likewise x)
                ylo = max(1 - ey, 1 - oy)
                ylo += (ry - (oy + ylo - 1)) % my
                yhi = min(ny, gny - ey - oy)
                xlo = max(1 - ex, 1 - ox)
                xlo += (rx - (ox + xlo - 1)) % mx
                xhi = min(nx, gnx - ex - ox)
                for y in range(ylo, yhi + 1, my):
                    gy = oy + y - 1
                    for x in range(xlo, xhi + 1, mx):
                        gx = ox + x - 1
                        ga = (gz * gny + gy) * gnx + gx
                        did = _try_swap(phase, grain, amount, li, disorder, s, dirty, accept, z,
                                        y, x, z + ez, y + ey, x + ex, seed, mcs, key_sub, ga,
                                        nano_mobility, detach)
                        if did and z >= 1 and y >= 1 and x >= 1:
                            swaps += 1
            count[k] = swaps
    return count.sum()


def pore_migration_mcs(state, accept, seed, mcs, nano_mobility=1.0, detach=1.0):
    """One pore-migration MCS: 3 axes x 12 sub-sweeps, on a lone domain in runs that share
    their anchor planes (three runs of four for z, six of two for y and for x), on a split
    lattice one at a time, each call followed by halo exchanges of the fields and of s
    (recounted next to the halo first on a split lattice). Returns swaps."""
    s = contact_field(state)
    swaps = 0
    for axis in range(3):
        for subs in (_RUNS_FUSED[axis] if state.lone else _RUNS_SINGLE):
            swaps += int(pore_migration_kernel(*_fields(state), s, state.dirty_flags(), accept,
                                               np.uint64(seed), np.uint64(mcs), axis, subs,
                                               *state.offset, *state.global_shape,
                                               nano_mobility, detach))
            yield ("exchange", _fields(state))
            if not state.lone:
                contact_shell_kernel(state.phase, s)
            yield ("exchange", (s,))
    return swaps
