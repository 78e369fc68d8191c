"""Sintering above an onset temperature: Potts grain growth, pore migration by surface diffusion
and densification by vacancy annihilation at grain boundaries (kinetic Monte Carlo in the style
of Tikare et al., J. Am. Ceram. Soc. 2010).

Solid means a transition-metal voxel (hydroxide, rock salt, layered: phase codes >= 4); lithium
sources are neither solid nor pore here (inert). Three mechanisms, each with its own Arrhenius
attempt rate k_m(T) = A_m exp(-Ea_m / RT) in Monte Carlo steps (MCS) per second. Each keeps an
accumulator tau_m += k_m(T) dt over engine steps and performs one full MCS each time tau_m
passes an integer, so the number of MCS depends only on the schedule (a 12 h hold does twice
the MCS of a 6 h one). Below the onset ``sinter_onset_c`` nothing happens and nothing runs.
The integer part of tau_m is the MCS index that keys the random numbers of that MCS.

Grain growth (Q-state Potts, 26 neighbours)
    A solid voxel picks one of its 26 neighbours; if that is solid with another grain id g',
    the voxel takes g' with probability min(1, exp(-dE / kT)), dE = J_gb (n_g - n_g'), n_h the
    number of solid neighbours with id h (the change of the count of unlike solid neighbours).
    Pores never give their label to a solid. Eight colour sub-sweeps by the parities of the
    global coordinates (gz % 2, gy % 2, gx % 2): two voxels of one colour differ by 2 along
    some axis, so they are never 26-neighbours, and a voxel's update reads only voxels of
    other colours. The four colours of one z parity are done plane by plane (each plane reads
    only its neighbour planes, of the other parity, which do not change meanwhile), so a plane
    and its neighbours are loaded into cache once for four sub-sweeps; a lattice split in y or
    x runs the colours one at a time with halo exchanges between them, with the same result.
    For the sweep, the grain ids of non-solid voxels that carry a positive id (nanopores)
    get their sign bit set, so that grain > 0 means "solid of that grain" and the kernel reads
    no phase; n_g - n_g' is then summed over the 3 x 3 x 3 box as nine 3-lane vector rows
    (:func:`_box_diff`). Random numbers: every solid site of a colour draws a 16-bit lane v of
    a Philox block shared by the 16 sites of that colour in a 32-voxel stretch of a row
    (counter: the stretch's first global index, the MCS, the colour). For v < 65520 = 26 x
    2520 the neighbour is v // 2520 and the acceptance lane c = v % 2520, independent and
    exactly uniform; the move is accepted when c < floor(2520 a), or, on the tie
    c == floor(2520 a), when the fine part of the voxel's own block is below the fraction
    (exact acceptance a, as in :mod:`mcsim.processes.reactions`). The 16 lanes v >= 65520 draw
    both from the voxel's own block.

Pore migration (surface diffusion)
    A pore voxel a inside the particle (grain id != 0) swaps with a solid face neighbour b.
    With s(x) the number of solid voxels among the 26 neighbours of x, the number of
    solid/non-solid 26-neighbour contacts changes by dU = 2 - 2 s(a) + 2 s(b): before the
    swap the pair's contacts are s(a) + (26 - s(b)) - 1 (the pair a-b counted once), after it
    (26 - (s(a) - 1)) + (s(b) + 1) - 1. Accepted with min(1, exp(-J_s dU / kT)). The swap moves
    phase, amount, li, disorder and the grain id of the solid; the pore keeps its label,
    except that a nanopore (label = a grain id) that arrives where a solid neighbour belongs
    to another grain becomes intergranular (-1). s is kept in a uint8 field with halo
    (:func:`contact_field`) and updated by +1 / -1 around each swap. A single-voxel pore inside
    a grain has dU = 0 for every move, so it random-walks (6 attempts per MCS): the number of
    pore-migration MCS (~60 in 12 h at 850 C by default) sets how many such nanopores reach a
    grain boundary, where densification can remove them.

    Colouring. Pairs (a, a + e) along one axis are anchored at a, whose global coordinate is
    r mod 3 along the axis and p, q mod 2 along the other two: 3 x 2 x 2 = 12 sub-sweeps per
    axis, 36 per MCS. Claim: no voxel of one pair of a sub-sweep lies in the 26-neighbourhood
    (Chebyshev distance <= 1) of a voxel of another. Proof: two anchors differ by 3i along the
    axis and by 2j, 2k along the others. If i != 0 the pairs' coordinates along the axis,
    {c, c+1} and {c+3i, c+3i+1}, are at least |3i| - 1 >= 2 apart; if i = 0, then j or k != 0
    and the pairs are 2|j| or 2|k| >= 2 apart along that axis. Hence a swap reads (its pair's
    fields and s values, the grain ids around its new pore) nothing that another swap of the
    sub-sweep writes: the fields of other pairs lie outside its closed neighbourhood W, and the
    s values other swaps change lie in their own W, which never contain this pair. So the
    outcome does not depend on the order of the swaps or the number of threads. The s
    increments of two swaps may land on the same voxel; they commute, and they are made free
    of data races by running the anchor planes of a sub-sweep in two interleaved groups whose
    footprints (planes z-1..z+2 resp. z-1..z+1) are disjoint.

Densification (vacancy annihilation at grain boundaries)
    Each MCS, a pore voxel inside the particle whose 26-neighbourhood holds solid voxels of at
    least two grains is annihilated with probability p: it is filled and the same volume leaves
    at a sink. Each event draws a second uniform: below the template rigidity (below) its
    vacancy goes to the voids inside the particle, else to the outer surface. Sinks are solid
    voxels with a face-neighbour pore of grain 0 (outer surface) or, if not that, of grain -1
    (inner voids); outer sinks are ordered by a Philox key, inner ones innermost first (their
    key's top bits are the distance from the centre in whole voxels), and the events of each
    kind, ordered by their own key, are paired i-th with i-th; unpaired events are dropped.
    The pore takes phase, amount and disorder of its partner, adds its lithium, and takes the
    most frequent grain id among its solid neighbours (ties: the smallest id), decided before
    any voxel changes; the partner becomes outside pore (grain 0) or intergranular pore (-1),
    and nanopores that it opens onto join that pore (-1). A pore whose solid neighbours all
    belong to one grain is never annihilated: intragranular nanopores survive. The lists are
    global (:func:`_allgather`; each rank sends its own first n of each kind), so the pairing
    is the same for any number of threads or ranks.

The lithiated shell as a template
    In the paper's reading (Park et al. 2022, Fig. 3a-c and 5), lithiation templates the outer
    perimeter as a rigid, dense shell while the dehydrating core shrinks; in sintering the
    shell keeps the outline and the core grains are drawn outwards, leaving voids near the
    centre. The process probes the core-shell solid-fraction contrast C (shell r/R >= 0.7
    minus core r/R < 0.5; ``contrast_density`` of the time series) every
    :data:`TEMPLATE_PROBE_S` of simulated time until sintering starts, keeps its first value
    C0 and its largest Cmax, and sends the share
    min(1, ``template_inward_per_contrast`` (Cmax - C0)) of the vacancies inwards (the
    template rigidity; 0 when the parameter is 0). A particle whose shell and core lithiate
    together keeps its contrast and shrinks as a whole.

Transition metal (per phase) and lithium are conserved exactly by all three mechanisms: they
only move voxel contents.

Decomposition. Kernels touch interior voxels (grain growth, densification) or pairs with
either end in the interior (pore migration; the anchor may lie in the lower halo layer), so two
subdomains update a straddling pair identically from the same halo data and the same random
number, keyed by the anchor's global index. Every sub-sweep ends with a halo exchange of what
it wrote (:meth:`mcsim.state.State.exchange_field`). The increments of s are exact for
interior voxels whose 26 neighbours are interior; on a split lattice the interior layer next to
the halo is recounted from the exchanged phases before s itself is exchanged. The kernels are
driven by generators that yield ``("exchange", arrays)`` and ``("allgather", arrays)``
requests, so a test can run two halves of a lattice in lock step.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from mcsim import phases as ph
from mcsim import rng
from mcsim.diagnostics import N_RADIAL_BINS, core_shell_contrast, radial_kernel, shell_density
from mcsim.parallel import allreduce_int
from mcsim.processes.base import Process, arrhenius
from mcsim.state import full_amount_table

#: Phase codes >= SOLID_MIN are transition-metal solids.
SOLID_MIN = ph.HYDROXIDE

# Sub-counters of the Philox counter (the third word): one per sub-sweep or purpose, so the
# mechanisms never share a block even when their MCS indices coincide.
SUB_GRAIN_GROWTH = 0      # + colour (0..7)
SUB_GG_REDRAW = 8         # grain growth: a voxel's own block when its lane is >= 65520
SUB_GG_FINE = 9           # grain growth: the fine part of a voxel's acceptance uniform
SUB_PORE_MIGRATION = 16   # + 12 * axis + sub-sweep (0..35)
SUB_EVENT = 64            # densification: the event uniform of a pore
SUB_EVENT_KEY = 65        # densification: the ordering key of an event
SUB_SURFACE_KEY = 66      # densification: the ordering key of a surface voxel
SUB_INNER_KEY = 67        # densification: the ordering key of an inner-void surface voxel

#: Simulated seconds between two probes of the core-shell solid-fraction contrast while the
#: lithiated shell forms (:meth:`PottsSintering.probe_template`).
TEMPLATE_PROBE_S = 60.0

MECHANISMS = ("grain_growth", "pore_migration", "densification")

#: The grain-growth colours by call: two plane-fused groups, or one colour at a time.
_GROUPS_FUSED = (np.arange(4, dtype=np.int64), np.arange(4, 8, dtype=np.int64))
_GROUPS_SINGLE = tuple(np.array([c], dtype=np.int64) for c in range(8))

#: A grain-growth lane v < 65520 = 26 * 2520 gives the neighbour v // 2520 and the acceptance
#: lane v % 2520, independent and uniform (the rest is a voxel's own block).
_ACCEPT_LEVELS = 2520
_LANE_SPLIT = 26 * _ACCEPT_LEVELS
_SHIFT11 = np.uint64(11)
_TWO_M53 = 1.0 / 9007199254740992.0

_FIELD_NAMES = ("phase", "grain", "amount", "li", "disorder")


# ---------------------------------------------------------------------------------------------
# helpers


def _allgather(state, arrays):
    """``arrays`` of every rank, in rank order: ``[arrays]`` on a lone process."""
    comm = getattr(state, "comm", None)
    if comm is None:
        return [arrays]
    return comm.allgather(arrays)


def contact_field(state) -> np.ndarray:
    """The uint8 contact-count field s (solid voxels among the 26 neighbours) of ``state``,
    shaped like the fields (with halo), allocated once and kept on the state."""
    s = getattr(state, "sinter_contacts", None)
    if s is None or s.shape != state.phase.shape:
        s = np.zeros(state.phase.shape, dtype=np.uint8)
        state.sinter_contacts = s
    return s


def grain_growth_accept_table(j_over_kt: float) -> np.ndarray:
    """min(1, exp(-J/kT d)) for d = n_g - n_g' in -26..26 (index d + 26)."""
    d = np.arange(-26, 27, dtype=np.float64)
    return np.minimum(1.0, np.exp(-j_over_kt * d))


def pore_migration_accept_table(j_over_kt: float) -> np.ndarray:
    """min(1, exp(-J_s/kT dU)), dU = 2 + 2 d, for d = s(b) - s(a) in -26..26 (index d + 26)."""
    d = np.arange(-26, 27, dtype=np.float64)
    return np.minimum(1.0, np.exp(-j_over_kt * (2.0 + 2.0 * d)))


@numba.njit(inline="always")
def _solid(c):
    return c >= SOLID_MIN


# ---------------------------------------------------------------------------------------------
# contact counts s


@numba.njit(parallel=True, cache=True)
def contact_count_kernel(phase, s):
    """s = number of solid voxels among the 26 neighbours, for every interior voxel (separable
    3 x 3 column sums, then a 3-wide window along x)."""
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    for z in numba.prange(1, nz + 1):
        col = np.empty(nx + 2, dtype=np.int64)
        for y in range(1, ny + 1):
            for x in range(nx + 2):
                c = 0
                for dz in range(-1, 2):
                    for dy in range(-1, 2):
                        c += phase[z + dz, y + dy, x] >= SOLID_MIN
                col[x] = c
            for x in range(1, nx + 1):
                s[z, y, x] = col[x - 1] + col[x] + col[x + 1] - (phase[z, y, x] >= SOLID_MIN)


@numba.njit(inline="always")
def _count_at(phase, z, y, x):
    c = 0
    for dz in range(-1, 2):
        for dy in range(-1, 2):
            for dx in range(-1, 2):
                c += phase[z + dz, y + dy, x + dx] >= SOLID_MIN
    return c - (phase[z, y, x] >= SOLID_MIN)


@numba.njit(cache=True)
def contact_refresh_kernel(phase, s, zs, ys, xs):
    """Recount s on the interior voxels of the 3 x 3 x 3 boxes around local (zs, ys, xs)."""
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    for i in range(zs.shape[0]):
        for z in range(max(1, zs[i] - 1), min(nz, zs[i] + 1) + 1):
            for y in range(max(1, ys[i] - 1), min(ny, ys[i] + 1) + 1):
                for x in range(max(1, xs[i] - 1), min(nx, xs[i] + 1) + 1):
                    s[z, y, x] = _count_at(phase, z, y, x)


@numba.njit(parallel=True, cache=True)
def contact_shell_kernel(phase, s):
    """Recount s on the interior layer next to the halo (all six faces), for split lattices."""
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    for z in numba.prange(1, nz + 1):
        for y in range(1, ny + 1):
            if z == 1 or z == nz or y == 1 or y == ny:
                for x in range(1, nx + 1):
                    s[z, y, x] = _count_at(phase, z, y, x)
            else:
                s[z, y, 1] = _count_at(phase, z, y, 1)
                s[z, y, nx] = _count_at(phase, z, y, nx)


# ---------------------------------------------------------------------------------------------
# grain growth


@intrinsic
def _box_diff(typingctx, flat, i, sz, sy, g, g2):
    """Sum over the 3 x 3 x 3 box around flat index ``i`` of a 1-D int32 array of
    ``(a == g) - (a == g2)``; ``sz``, ``sy`` are the flat strides of z and y.

    Written as LLVM IR so that each of the box's nine rows is one 3-lane vector load and two
    vector compares (any LLVM target lowers <3 x i32>); the loads never leave the box."""
    if not (isinstance(flat, types.Array) and flat.ndim == 1 and flat.dtype == types.int32):
        return None
    sig = types.int64(flat, types.int64, types.int64, types.int64, types.int32, types.int32)

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        i, sz, sy, g, g2 = args[1:]
        i32, i64 = ir.IntType(32), ir.IntType(64)
        vec = ir.VectorType(i32, 3)

        def splat(x):
            v = ir.Constant(vec, ir.Undefined)
            for k in range(3):
                v = builder.insert_element(v, x, ir.Constant(i32, k))
            return v

        gs, g2s = splat(g), splat(g2)
        acc = ir.Constant(vec, [0, 0, 0])
        for dz in (-1, 0, 1):
            for dy in (-1, 0, 1):
                row = builder.add(builder.mul(sz, ir.Constant(i64, dz)),
                                  builder.mul(sy, ir.Constant(i64, dy)))
                start = builder.sub(builder.add(i, row), ir.Constant(i64, 1))
                v = builder.load(builder.bitcast(builder.gep(data, [start]), vec.as_pointer()),
                                 align=4)
                same = builder.zext(builder.icmp_signed("==", v, gs), vec)
                other = builder.zext(builder.icmp_signed("==", v, g2s), vec)
                acc = builder.add(acc, builder.sub(same, other))
        tot = builder.extract_element(acc, ir.Constant(i32, 0))
        for k in (1, 2):
            tot = builder.add(tot, builder.extract_element(acc, ir.Constant(i32, k)))
        return builder.sext(tot, i64)

    return sig, codegen


@numba.njit(inline="always")
def _offsets26(shape):
    """Flat offsets of the 26 neighbours of a voxel, k = 9 dz + 3 dy + dx over dz, dy, dx in
    0..2 for -1..1, the centre (k = 13) left out."""
    sy = shape[2]
    sz = shape[1] * shape[2]
    off = np.empty(26, dtype=np.int64)
    j = 0
    for k in range(27):
        if k != 13:
            off[j] = (k // 9 - 1) * sz + ((k // 3) % 3 - 1) * sy + (k % 3 - 1)
            j += 1
    return off


@numba.njit(parallel=True, cache=True)
def mark_nonsolid_kernel(phase, grain):
    """Set the sign bit of the grain id of every non-solid voxel whose id is positive
    (nanopores, source inside a grain), halo included, so that while it is set grain > 0
    holds exactly on the solid voxels of that grain (:func:`grain_growth_kernel`)."""
    pf = phase.reshape(phase.size)
    gf = grain.reshape(grain.size)
    for i in numba.prange(pf.size):
        g = gf[i]
        gf[i] = g | (np.int32((g > 0) & (pf[i] < SOLID_MIN)) << np.int32(31))


@numba.njit(parallel=True, cache=True)
def unmark_nonsolid_kernel(phase, grain):
    """Undo :func:`mark_nonsolid_kernel` (grain ids of marked voxels are below -1)."""
    pf = phase.reshape(phase.size)
    gf = grain.reshape(grain.size)
    for i in numba.prange(pf.size):
        g = gf[i]
        gf[i] = g & ~(np.int32((g < -1) & (pf[i] < SOLID_MIN)) << np.int32(31))


@numba.njit(parallel=True, cache=True)
def grain_growth_kernel(grain, dirty, accept, seed, mcs, colours, oz, oy, ox, gny, gnx):
    """Colour sub-sweeps of the Potts grain growth over the interior, on a grain field marked
    by :func:`mark_nonsolid_kernel` (grain > 0 exactly on solid voxels).

    The colours (all of one z parity) are done plane by plane: for each plane of that parity
    (in parallel), every colour of ``colours`` in order. That equals doing the colours one
    after the other over the whole lattice, because a site of a plane reads only that plane
    and its two neighbour planes, which are of the other parity and unchanged; the caller
    passes one colour at a time when the lattice is split in y or x (whose halos must be
    exchanged between colours).

    Parameters
    ----------
    grain, dirty : ndarray
        C-contiguous fields with a one-voxel halo; ``grain`` of flipped voxels is rewritten,
        ``dirty`` set.
    accept : float64 array (53)
        :func:`grain_growth_accept_table`.
    seed, mcs : int
        Philox key word and counter (the grain-growth MCS index).
    colours : int64 array
        Colours 0..7 of one z parity: (gz % 2, gy % 2, gx % 2) = (c >> 2 & 1, c >> 1 & 1, c & 1).
    oz, oy, ox, gny, gnx : int
        Global offset of the first interior voxel, global row lengths.

    Returns
    -------
    int64 array (2,)
        Flips, and candidate attempts (the picked neighbour is a solid of another grain).
    """
    nz = grain.shape[0] - 2
    ny = grain.shape[1] - 2
    nx = grain.shape[2] - 2
    gf = grain.reshape(grain.size)
    df = dirty.reshape(dirty.size)
    off = _offsets26(grain.shape)
    sy = np.int64(nx + 2)
    sz = np.int64((ny + 2) * (nx + 2))
    z0 = 1 + (((colours[0] >> 2) & 1) - oz) % 2
    nzc = (nz - z0) // 2 + 1 if z0 <= nz else 0
    out = np.zeros((max(nzc, 1), 2), dtype=np.int64)
    key1 = rng.STREAM_SINTER
    for k in numba.prange(nzc):
        z = z0 + 2 * k
        flips = 0
        tried = 0
        for colour in colours:
            y0 = 1 + (((colour >> 1) & 1) - oy) % 2
            x0 = 1 + ((colour & 1) - ox) % 2
            sub = SUB_GRAIN_GROWTH + colour
            for y in range(y0, ny + 1, 2):
                rowg = ((oz + z - 1) * gny + (oy + y - 1)) * gnx
                base = (z * (ny + 2) + y) * (nx + 2)
                cur = np.int64(-1)
                w0 = w1 = w2 = w3 = np.uint64(0)
                for x in range(x0, nx + 1, 2):
                    i = base + x
                    g = gf[i]
                    if g <= 0:
                        continue
                    gx = ox + x - 1
                    grp = gx >> 5
                    if grp != cur:
                        w0, w1, w2, w3 = rng.philox4x64(rowg + (grp << 5), mcs, sub, 0, seed,
                                                        key1)
                        cur = grp
                    v = rng.lane16(w0, w1, w2, w3, gx >> 1)
                    if v < _LANE_SPLIT:  # neighbour v // 2520, acceptance lane v % 2520
                        n = v // _ACCEPT_LEVELS
                        c = v - _ACCEPT_LEVELS * n
                    else:  # 16 of 65536 lanes: both from the voxel's own block
                        q0, q1, _, _ = rng.philox4x64(rowg + gx, mcs, SUB_GG_REDRAW, 0, seed,
                                                      key1)
                        n = np.int64(rng._mulhi64(q0, np.uint64(26)))
                        c = np.int64(rng._mulhi64(q1, np.uint64(_ACCEPT_LEVELS)))
                    g2 = gf[i + off[n]]
                    d = _box_diff(gf, i, sz, sy, g, g2) - 1  # the site itself counted once
                    t = accept[d + 26] * _ACCEPT_LEVELS
                    kk = np.int64(t)
                    ok = c < kk
                    if c == kk:  # a tie of the coarse lane: the fine part decides
                        f0, _, _, _ = rng.philox4x64(rowg + gx, mcs, SUB_GG_FINE, 0, seed, key1)
                        ok = np.float64(f0 >> _SHIFT11) * _TWO_M53 < t - kk
                    cand = (g2 != g) & (g2 > 0)
                    flip = ok & cand
                    tried += cand
                    gf[i] = g2 if flip else g
                    df[i] = df[i] | flip
                    flips += flip
        out[k, 0] = flips
        out[k, 1] = tried
    return out.sum(axis=0)


# ---------------------------------------------------------------------------------------------
# pore migration


@numba.njit(inline="always")
def _bump(s, z, y, x, delta):
    """Add ``delta`` to s on the 26 neighbours of (z, y, x) that lie in the array."""
    for zz in range(max(0, z - 1), min(s.shape[0], z + 2)):
        for yy in range(max(0, y - 1), min(s.shape[1], y + 2)):
            for xx in range(max(0, x - 1), min(s.shape[2], x + 2)):
                if zz != z or yy != y or xx != x:
                    s[zz, yy, xx] = np.uint8((np.int64(s[zz, yy, xx]) + delta) & 255)


@numba.njit(inline="always")
def _try_swap(phase, grain, amount, li, disorder, s, dirty, accept, az, ay, ax, bz, by, bx, seed,
              mcs, sub, ga, nano_mobility):
    """Attempt the swap of the pair a-b; returns 1 if it swapped. A pore tagged as a nanopore
    (label > 0: inside one grain) is accepted ``nano_mobility`` times as often."""
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
    if label > 0 and 1 <= qz <= phase.shape[0] - 2 and 1 <= qy <= phase.shape[1] - 2 \
            and 1 <= qx <= phase.shape[2] - 2:
        for dz in range(-1, 2):
            for dy in range(-1, 2):
                for dx in range(-1, 2):
                    if phase[qz + dz, qy + dy, qx + dx] >= SOLID_MIN \
                            and grain[qz + dz, qy + dy, qx + dx] != label:
                        label = -1
    grain[qz, qy, qx] = label
    return 1


@numba.njit(parallel=True, cache=True)
def pore_migration_kernel(phase, grain, amount, li, disorder, s, dirty, accept, seed, mcs, axis,
                          sub, oz, oy, ox, gnz, gny, gnx, nano_mobility=1.0):
    """One pore-migration sub-sweep: pairs along ``axis`` (0 z, 1 y, 2 x) anchored where the
    global coordinate is r mod 3 along the axis and p, q mod 2 along the other two
    (``sub`` = 4 r + 2 p + q, 0..11). Pairs with either end in the interior are processed.

    Returns the number of swaps whose anchor is interior (each swap counted by one subdomain).
    """
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    r = sub // 4
    p = (sub >> 1) & 1
    q = sub & 1
    # period and residue of the anchor coordinate along z, y, x
    mz = 3 if axis == 0 else 2
    rz = r if axis == 0 else p
    my = 3 if axis == 1 else 2
    ry = r if axis == 1 else (p if axis == 0 else q)
    mx = 3 if axis == 2 else 2
    rx = r if axis == 2 else q
    ez = 1 if axis == 0 else 0
    ey = 1 if axis == 1 else 0
    ex = 1 if axis == 2 else 0
    key_sub = SUB_PORE_MIGRATION + 12 * axis + sub
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
            for y in range(1 - ey, ny + 1):
                gy = oy + y - 1
                if gy < 0 or gy + ey > gny - 1 or gy % my != ry:
                    continue
                for x in range(1 - ex, nx + 1):
                    gx = ox + x - 1
                    if gx < 0 or gx + ex > gnx - 1 or gx % mx != rx:
                        continue
                    ga = (gz * gny + gy) * gnx + gx
                    did = _try_swap(phase, grain, amount, li, disorder, s, dirty, accept, z, y,
                                    x, z + ez, y + ey, x + ex, seed, mcs, key_sub, ga,
                                    nano_mobility)
                    if did and z >= 1 and y >= 1 and x >= 1:
                        swaps += 1
            count[k] = swaps
    return count.sum()


# ---------------------------------------------------------------------------------------------
# densification


@numba.njit(inline="always")
def _grain_boundary_choice(phase, grain, z, y, x):
    """For a pore at (z, y, x): 0 if its solid 26-neighbours hold fewer than two grain ids,
    else the most frequent of those ids (ties: the smallest)."""
    first = np.int32(0)
    two = False
    for dz in range(-1, 2):
        for dy in range(-1, 2):
            for dx in range(-1, 2):
                if phase[z + dz, y + dy, x + dx] >= SOLID_MIN:
                    gn = grain[z + dz, y + dy, x + dx]
                    if first == 0:
                        first = gn
                    elif gn != first:
                        two = True
    if not two:
        return np.int32(0)
    best = np.int32(0)
    best_n = 0
    for i in range(27):
        ph_i = phase[z + i // 9 - 1, y + (i // 3) % 3 - 1, x + i % 3 - 1]
        if ph_i < SOLID_MIN:
            continue
        gi = grain[z + i // 9 - 1, y + (i // 3) % 3 - 1, x + i % 3 - 1]
        n = 0
        for j in range(27):
            if phase[z + j // 9 - 1, y + (j // 3) % 3 - 1, x + j % 3 - 1] >= SOLID_MIN \
                    and grain[z + j // 9 - 1, y + (j // 3) % 3 - 1, x + j % 3 - 1] == gi:
                n += 1
        if n > best_n or (n == best_n and gi < best):
            best = gi
            best_n = n
    return best


@numba.njit(parallel=True, cache=True)
def densify_events_kernel(phase, grain, p, seed, mcs, oz, oy, ox, gny, gnx, counts, fill,
                          out_idx, out_key, out_grain, out_dir):
    """Grain-boundary pores annihilated in this MCS. With ``fill`` false, count them per plane
    into ``counts``; with ``fill`` true, write them at the plane offsets ``counts`` (global
    index, ordering key, grain id the pore takes, uniform that picks the vacancy's sink)."""
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    for z in numba.prange(1, nz + 1):
        pos = counts[z - 1] if fill else 0
        n = 0
        for y in range(1, ny + 1):
            rowg = ((oz + z - 1) * gny + (oy + y - 1)) * gnx + ox - 1
            cur = np.int64(-1)
            w0 = w1 = w2 = w3 = np.uint64(0)
            for x in range(1, nx + 1):
                if phase[z, y, x] != ph.PORE or grain[z, y, x] == 0:
                    continue
                gi = rowg + x
                grp = gi >> 2
                if grp != cur:
                    w0, w1, w2, w3 = rng.philox4x64(grp, mcs, SUB_EVENT, 0, seed, rng.STREAM_SINTER)
                    cur = grp
                j = gi & 3
                w = w0 if j == 0 else (w1 if j == 1 else (w2 if j == 2 else w3))
                if np.float64(w >> _SHIFT11) * _TWO_M53 >= p:
                    continue
                choice = _grain_boundary_choice(phase, grain, z, y, x)
                if choice == 0:
                    continue
                if fill:
                    k0, k1, _, _ = rng.philox4x64(gi, mcs, SUB_EVENT_KEY, 0, seed,
                                                  rng.STREAM_SINTER)
                    out_idx[pos + n] = gi
                    out_key[pos + n] = k0
                    out_grain[pos + n] = choice
                    out_dir[pos + n] = np.float64(k1 >> _SHIFT11) * _TWO_M53
                n += 1
        if not fill:
            counts[z - 1] = n


@numba.njit(parallel=True, cache=True)
def surface_kernel(phase, grain, seed, mcs, oz, oy, ox, gny, gnx, want_outer, want_inner, cz, cy,
                   cx, counts, fill, out_idx, out_key, out_kind):
    """Sink voxels of densification: solid voxels with a face-neighbour pore of grain id 0 (the
    outer surface, kind 0) and, leaving those out so the two kinds never overlap, solid voxels
    with a face-neighbour pore of grain id -1 (the surface of the voids inside the particle,
    kind 1); only the kinds asked for. Two passes as :func:`densify_events_kernel` (global
    index, ordering key, kind). The key is a Philox word (sub-counter SUB_SURFACE_KEY or
    SUB_INNER_KEY, one block per four indices); for the inner surface its top 24 bits are
    replaced by the distance, in whole voxels, from the particle centre (cz, cy, cx), so inner
    voxels order innermost first and randomly within a one-voxel shell."""
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    for z in numba.prange(1, nz + 1):
        pos = counts[z - 1] if fill else 0
        n = 0
        for y in range(1, ny + 1):
            rowg = ((oz + z - 1) * gny + (oy + y - 1)) * gnx + ox - 1
            cur_o = cur_i = np.int64(-1)
            o0 = o1 = o2 = o3 = np.uint64(0)
            i0 = i1 = i2 = i3 = np.uint64(0)
            for x in range(1, nx + 1):
                if phase[z, y, x] < SOLID_MIN:
                    continue
                outer = False
                inner = False
                for k in range(6):
                    zz = z + (k == 1) - (k == 0)
                    yy = y + (k == 3) - (k == 2)
                    xx = x + (k == 5) - (k == 4)
                    if phase[zz, yy, xx] == ph.PORE:
                        gn = grain[zz, yy, xx]
                        outer |= gn == 0
                        inner |= gn == -1
                kind = 0 if outer else (1 if inner else -1)
                if kind < 0 or (kind == 0 and not want_outer) or (kind == 1 and not want_inner):
                    continue
                if fill:
                    gi = rowg + x
                    grp = gi >> 2
                    j = gi & 3
                    if kind == 0:
                        if grp != cur_o:
                            o0, o1, o2, o3 = rng.philox4x64(grp, mcs, SUB_SURFACE_KEY, 0, seed,
                                                            rng.STREAM_SINTER)
                            cur_o = grp
                        w = o0 if j == 0 else (o1 if j == 1 else (o2 if j == 2 else o3))
                    else:
                        if grp != cur_i:
                            i0, i1, i2, i3 = rng.philox4x64(grp, mcs, SUB_INNER_KEY, 0, seed,
                                                            rng.STREAM_SINTER)
                            cur_i = grp
                        w = i0 if j == 0 else (i1 if j == 1 else (i2 if j == 2 else i3))
                        dz = oz + z - 1 - cz
                        dy = oy + y - 1 - cy
                        dx = ox + x - 1 - cx
                        shell = np.uint64(int(math.sqrt(dz * dz + dy * dy + dx * dx)))
                        w = (shell << np.uint64(40)) | (w >> np.uint64(24))
                    out_idx[pos + n] = gi
                    out_key[pos + n] = w
                    out_kind[pos + n] = kind
                n += 1
        if not fill:
            counts[z - 1] = n


def _two_pass(kernel, state, args, extra_out):
    """Run a counting kernel, then its filling pass; returns the output arrays."""
    nz = state.shape[0]
    counts = np.zeros(nz, dtype=np.int64)
    empty = [np.zeros(0, dtype=dt) for dt in extra_out]
    kernel(*args, counts, False, *empty)
    total = int(counts.sum())
    offsets = np.zeros(nz, dtype=np.int64)
    np.cumsum(counts[:-1], out=offsets[1:])
    outs = [np.zeros(total, dtype=dt) for dt in extra_out]
    if total:
        kernel(*args, offsets, True, *outs)
    return outs


def _local(state, idx):
    """Local (z, y, x) of global indices and the mask of those in this subdomain's interior."""
    gny, gnx = state.global_shape[1:]
    gz, rem = np.divmod(idx, gny * gnx)
    gy, gx = np.divmod(rem, gnx)
    loc = [g - o + 1 for g, o in zip((gz, gy, gx), state.offset)]
    mask = np.ones(idx.shape, dtype=bool)
    for c, n in zip(loc, state.shape):
        mask &= (c >= 1) & (c <= n)
    return loc, mask


def _key_order(key, idx):
    """Order by key, ties by global index (both unique-enough; the result is global)."""
    return np.lexsort((idx, key))


def _first_by_key(key, idx, n):
    """Positions of the ``n`` smallest (key, index) pairs, in that order: the same as
    ``_key_order(key, idx)[:n]``, with a linear-time partition before the sort."""
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    if n >= key.size:
        return _key_order(key, idx)
    kth = np.partition(key, n - 1)[n - 1]
    sel = np.flatnonzero(key <= kth)  # every one of the first n, and ties with the n-th
    return sel[_key_order(key[sel], idx[sel])[:n]]


# ---------------------------------------------------------------------------------------------
# MCS drivers (generators yielding exchange / allgather requests)


def _fields(state):
    return tuple(getattr(state, n) for n in _FIELD_NAMES)


def grain_growth_mcs(state, accept, seed, mcs):
    """One Potts MCS: the eight colours, as two plane-fused groups of four (one per z parity)
    or, on a lattice split in y or x, one by one, each followed by a grain halo exchange, on a
    grain field marked for the kernel. A generator; returns (flips, candidate attempts)."""
    whole_rows = tuple(state.shape[1:]) == tuple(state.global_shape[1:])
    groups = (_GROUPS_FUSED if whole_rows else _GROUPS_SINGLE)
    mark_nonsolid_kernel(state.phase, state.grain)
    flips = tried = 0
    for colours in groups:
        f, t = grain_growth_kernel(state.grain, state.dirty_flags(), accept, np.uint64(seed),
                                   np.uint64(mcs), colours, *state.offset,
                                   *state.global_shape[1:])
        flips += int(f)
        tried += int(t)
        yield ("exchange", (state.grain,))
    unmark_nonsolid_kernel(state.phase, state.grain)
    return flips, tried


def pore_migration_mcs(state, accept, seed, mcs, nano_mobility=1.0):
    """One pore-migration MCS: 3 axes x 12 sub-sweeps, each followed by halo exchanges of the
    fields and of s (recounted next to the halo first on a split lattice). Returns swaps."""
    s = contact_field(state)
    swaps = 0
    for axis in range(3):
        for sub in range(12):
            swaps += int(pore_migration_kernel(*_fields(state), s, state.dirty_flags(), accept,
                                               np.uint64(seed), np.uint64(mcs), axis, sub,
                                               *state.offset, *state.global_shape,
                                               nano_mobility))
            yield ("exchange", _fields(state))
            if not state.lone:
                contact_shell_kernel(state.phase, s)
            yield ("exchange", (s,))
    return swaps


def _open_nanopores(state, idx):
    """Nanopores (pore voxels tagged with a grain id) that share a face with the voxels of
    global index ``idx``, which just became pore, join that pore: tag -1. Interior voxels
    only; every rank does it for its own part of the global list."""
    if idx.size == 0:
        return
    gny, gnx = state.global_shape[1:]
    gz, rem = np.divmod(idx, gny * gnx)
    gy, gx = np.divmod(rem, gnx)
    for dz, dy, dx in ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)):
        loc = [g + d - o + 1 for g, d, o in zip((gz, gy, gx), (dz, dy, dx), state.offset)]
        mine = np.ones(idx.shape, dtype=bool)
        for c, n in zip(loc, state.shape):
            mine &= (c >= 1) & (c <= n)
        z, y, x = (c[mine] for c in loc)
        nano = (state.phase[z, y, x] == ph.PORE) & (state.grain[z, y, x] > 0)
        state.grain[z[nano], y[nano], x[nano]] = -1


def _sinks(state, wanted, seed, mcs, off):
    """The globally first ``wanted[k]`` sink voxels of kind k (0 outer surface, 1 inner voids;
    :func:`surface_kernel`) by key, with the contents they give up: one scan and one
    allgather for both kinds. A generator; returns one (index, phase, amount, li, disorder)
    list per kind."""
    c = state.center_vox
    sf_idx, sf_key, sf_kind = _two_pass(
        surface_kernel, state,
        (state.phase, state.grain, np.uint64(seed), np.uint64(mcs), *off, wanted[0] > 0,
         wanted[1] > 0, float(c[0]), float(c[1]), float(c[2])),
        (np.int64, np.uint64, np.int8))
    payload = []
    for kind, n in enumerate(wanted):  # the globally first n are among this rank's first n
        sel = np.flatnonzero(sf_kind == kind)
        idx, key = sf_idx[sel], sf_key[sel]
        order = _first_by_key(key, idx, n)
        idx, key = idx[order], key[order]
        (sz, sy, sx), _ = _local(state, idx)
        payload.append((idx, key, state.phase[sz, sy, sx], state.amount[sz, sy, sx],
                        state.li[sz, sy, sx], state.disorder[sz, sy, sx]))
    parts = yield ("allgather", tuple(payload))
    out = []
    for kind, n in enumerate(wanted):
        cols = [np.concatenate([a[kind][i] for a in parts]) for i in range(6)]
        order = _first_by_key(cols[1], cols[0], n)
        out.append([col[order] for i, col in enumerate(cols) if i != 1])
    return out


def densification_mcs(state, p, seed, mcs, contacts=True, inward=0.0):
    """One densification MCS (see the module docstring); returns the annihilated vacancies
    and how many of them went to the voids inside the particle. Each event's vacancy goes
    inside with probability ``inward`` (the template rigidity), else to the outer surface.
    With ``contacts``, s is recounted around every changed voxel."""
    off = (*state.offset, *state.global_shape[1:])
    ev_idx, ev_key, ev_grain, ev_dir = _two_pass(
        densify_events_kernel, state,
        (state.phase, state.grain, float(p), np.uint64(seed), np.uint64(mcs), *off),
        (np.int64, np.uint64, np.int32, np.float64))
    parts = yield ("allgather", (ev_idx, ev_key, ev_grain, ev_dir))
    ev_idx, ev_key, ev_grain, ev_dir = (np.concatenate([a[i] for a in parts]) for i in range(4))
    if ev_idx.size == 0:
        return 0, 0
    order = _key_order(ev_key, ev_idx)
    ev_idx, ev_grain, ev_dir = ev_idx[order], ev_grain[order], ev_dir[order]
    to_inside = ev_dir < inward
    n_in = int(np.count_nonzero(to_inside))
    sinks = yield from _sinks(state, (ev_idx.size - n_in, n_in), seed, mcs, off)
    pairs = []  # (events, their grain choices, sinks, the grain id a sink's pore takes)
    for sel, sink, label in ((~to_inside, sinks[0], 0), (to_inside, sinks[1], -1)):
        m = sink[0].size
        if m:
            pairs.append((ev_idx[sel][:m], ev_grain[sel][:m], sink, label))
    dirty = state.dirty_flags()
    n = n_inner = 0
    changed = []
    for e_idx, e_grain, (sf_idx, sf_phase, sf_amount, sf_li, sf_dis), label in pairs:
        n += sf_idx.size
        n_inner += sf_idx.size if label != 0 else 0
        changed += [e_idx, sf_idx]
        (ez, ey, ex), mine = _local(state, e_idx)
        ez, ey, ex = ez[mine], ey[mine], ex[mine]
        state.phase[ez, ey, ex] = sf_phase[mine]
        state.amount[ez, ey, ex] = sf_amount[mine]
        state.li[ez, ey, ex] += sf_li[mine]
        state.disorder[ez, ey, ex] = sf_dis[mine]
        state.grain[ez, ey, ex] = e_grain[mine]
        dirty[ez, ey, ex] = 1
        (qz, qy, qx), mine = _local(state, sf_idx)
        qz, qy, qx = qz[mine], qy[mine], qx[mine]
        for arr in (state.phase, state.amount, state.li, state.disorder):
            arr[qz, qy, qx] = 0
        state.grain[qz, qy, qx] = label
        dirty[qz, qy, qx] = 1
    for _, _, (sf_idx, *_), _ in pairs:
        _open_nanopores(state, sf_idx)
    yield ("exchange", _fields(state))
    if contacts and changed:
        s = contact_field(state)
        (az, ay, ax), _ = _local(state, np.concatenate(changed))
        contact_refresh_kernel(state.phase, s, az.astype(np.int64), ay.astype(np.int64),
                               ax.astype(np.int64))
        yield ("exchange", (s,))
    return n, n_inner


def drive(state, gen):
    """Run an MCS generator on one subdomain: halo exchanges through
    :meth:`~mcsim.state.State.exchange_field`, gathers through :func:`_allgather`."""
    reply = None
    while True:
        try:
            kind, payload = gen.send(reply)
        except StopIteration as stop:
            return stop.value
        if kind == "exchange":
            for arr in payload:
                state.exchange_field(arr)
            reply = None
        else:
            reply = _allgather(state, payload)


def recount_contacts(state):
    """Full recount of s (phases may have changed since the last sintering step); a generator."""
    s = contact_field(state)
    contact_count_kernel(state.phase, s)
    yield ("exchange", (s,))


# ---------------------------------------------------------------------------------------------
# the process


class PottsSintering(Process):
    """Potts grain growth, pore migration by surface diffusion and vacancy annihilation at grain
    boundaries above ``sinter_onset_c``, each with its own Arrhenius MCS rate."""

    name = "sintering"
    variant = "potts"

    def __init__(self, params: dict, numerics: dict, seed: int):
        super().__init__(params, numerics, seed)
        #: MCS accumulators tau_m (the integer part is the number of MCS done).
        self.tau = {m: 0.0 for m in MECHANISMS}
        #: The shell template (:meth:`probe_template`): the core-shell solid-fraction contrast
        #: at the first probe and the largest seen before sintering began (NaN: not probed
        #: yet), and the simulated time of the next probe.
        self.contrast0 = math.nan
        self.contrast_max = math.nan
        self.next_probe_s = 0.0
        self._gg_table = grain_growth_accept_table(params["grain_growth_j_over_kt"])
        self._pm_table = pore_migration_accept_table(params["pore_migration_j_over_kt"])

    def state_dict(self) -> dict:
        """The MCS accumulators and the template memory, as plain floats (for checkpoints)."""
        return {**{f"tau_{m}": float(self.tau[m]) for m in MECHANISMS},
                "contrast0": float(self.contrast0), "contrast_max": float(self.contrast_max),
                "next_probe_s": float(self.next_probe_s)}

    def load_state_dict(self, d: dict) -> None:
        """Restore what :meth:`state_dict` saved."""
        for m in MECHANISMS:
            self.tau[m] = float(d[f"tau_{m}"])
        self.contrast0 = float(d["contrast0"])
        self.contrast_max = float(d["contrast_max"])
        self.next_probe_s = float(d["next_probe_s"])

    # -- the lithiated shell as a template --------------------------------------------------
    def sintering_started(self) -> bool:
        """Whether any sintering MCS has been done (any accumulator past zero)."""
        return any(v > 0.0 for v in self.tau.values())

    def probe_template(self, state) -> None:
        """Record the core-shell solid-fraction contrast (shell r/R >= 0.7 minus core r/R < 0.5,
        as ``contrast_density`` of the time series) every :data:`TEMPLATE_PROBE_S` simulated
        seconds until sintering begins: the first value and the largest."""
        if self.sintering_started() or state.time_s < self.next_probe_s \
                or state.radius_vox <= 0.0:
            return
        shells, _ = radial_kernel(state.phase, state.amount, state.disorder, *state.offset,
                                  *state.center_vox, state.radius_vox, N_RADIAL_BINS, -1.0)
        shells = allreduce_int(getattr(state, "comm", None), shells)
        c = core_shell_contrast(shell_density(shells, full_amount_table()))
        if math.isnan(self.contrast0):
            self.contrast0 = self.contrast_max = c
        self.contrast_max = max(self.contrast_max, c)
        while self.next_probe_s <= state.time_s:
            self.next_probe_s += TEMPLATE_PROBE_S

    def template_rigidity(self) -> float:
        """Share of the annihilated vacancies that go to the voids inside the particle, 0..1:
        ``template_inward_per_contrast`` times the rise of the core-shell contrast over its
        first value (its largest before sintering), clipped; 0 if nothing was probed."""
        if math.isnan(self.contrast_max):
            return 0.0
        rise = self.contrast_max - self.contrast0
        return min(1.0, max(0.0, self.params["template_inward_per_contrast"] * rise))

    def rates_mcs_per_s(self, temperature_c: float) -> dict:
        """k_m(T) of every mechanism in MCS/s (0 at or below the onset)."""
        pr = self.params
        if temperature_c <= pr["sinter_onset_c"]:
            return {m: 0.0 for m in MECHANISMS}
        return {m: arrhenius(pr[f"{m}_a_per_s"], pr[f"{m}_ea_j_per_mol"], temperature_c)
                for m in MECHANISMS}

    def mcs_for(self, dt_s: float, temperature_c: float) -> dict:
        """Advance the accumulators by k_m dt; return (first MCS index, count) per mechanism."""
        out = {}
        for m, k in self.rates_mcs_per_s(temperature_c).items():
            old = self.tau[m]
            new = old + k * dt_s
            self.tau[m] = new
            out[m] = (math.floor(old), math.floor(new) - math.floor(old))
        return out

    def steps(self, state, todo: dict):
        """Generator of the MCS of one engine step, mechanisms interleaved round-robin.
        Returns the tallies."""
        pr = self.params
        tallies = {"grain_flips": 0, "pore_swaps": 0, "vacancies_annihilated": 0,
                   "vacancies_inward": 0, "grain_growth_mcs": 0, "pore_migration_mcs": 0,
                   "densification_mcs": 0}
        inward = self.template_rigidity()
        pm = todo["pore_migration"][1] > 0
        if pm:
            yield from recount_contacts(state)
        for i in range(max(n for _, n in todo.values())):
            first, n = todo["grain_growth"]
            if i < n:
                flips, _ = yield from grain_growth_mcs(state, self._gg_table, self.seed, first + i)
                tallies["grain_flips"] += flips
                tallies["grain_growth_mcs"] += 1
            first, n = todo["pore_migration"]
            if i < n:
                tallies["pore_swaps"] += yield from pore_migration_mcs(
                    state, self._pm_table, self.seed, first + i, pr["nanopore_mobility"])
                tallies["pore_migration_mcs"] += 1
            first, n = todo["densification"]
            if i < n:
                n_all, n_in = yield from densification_mcs(
                    state, pr["densification_probability"], self.seed, first + i, contacts=pm,
                    inward=inward)
                tallies["vacancies_annihilated"] += n_all
                tallies["vacancies_inward"] += n_in
                tallies["densification_mcs"] += 1
        return tallies

    def advance(self, state, dt_s, temperature_c):
        self.probe_template(state)
        if temperature_c <= self.params["sinter_onset_c"]:
            return {}
        todo = self.mcs_for(dt_s, temperature_c)
        out = drive(state, self.steps(state, todo))
        if getattr(state, "comm", None) is not None:  # flips and swaps are counted per rank
            both = allreduce_int(state.comm, np.array([out["grain_flips"], out["pore_swaps"]],
                                                      dtype=np.int64))
            out["grain_flips"], out["pore_swaps"] = int(both[0]), int(both[1])
        return out

    def describe(self):
        pr = self.params
        return (f"sintering: Potts above {pr['sinter_onset_c']:g} C; grain growth Ea "
                f"{pr['grain_growth_ea_j_per_mol'] / 1e3:.0f} kJ/mol, pore migration Ea "
                f"{pr['pore_migration_ea_j_per_mol'] / 1e3:.0f} kJ/mol, densification Ea "
                f"{pr['densification_ea_j_per_mol'] / 1e3:.0f} kJ/mol, p = "
                f"{pr['densification_probability']:g} per MCS")


# ---------------------------------------------------------------------------------------------
# test and bench microstructures


@numba.njit(parallel=True, cache=True)
def _voronoi_kernel(seeds, cells, cell_vox, out):
    nz, ny, nx = out.shape
    cz, cy, cx = cells
    for z in numba.prange(nz):
        iz = int(z / cell_vox)
        for y in range(ny):
            iy = int(y / cell_vox)
            for x in range(nx):
                ix = int(x / cell_vox)
                best = 1e30
                lab = 0
                for a in range(max(0, iz - 1), min(cz, iz + 2)):
                    for b in range(max(0, iy - 1), min(cy, iy + 2)):
                        for c in range(max(0, ix - 1), min(cx, ix + 2)):
                            i = (a * cy + b) * cx + c
                            d = ((seeds[i, 0] - z) ** 2 + (seeds[i, 1] - y) ** 2
                                 + (seeds[i, 2] - x) ** 2)
                            if d < best:
                                best = d
                                lab = i + 1
                out[z, y, x] = lab


def polycrystal(shape, grain_vox: float = 3.5, seed: int = 1) -> np.ndarray:
    """Grain ids (int32, from 1) of a Voronoi polycrystal with one seed per cube of edge
    ``grain_vox`` voxels (jittered by Philox numbers), for tests and benchmarks."""
    cells = tuple(int(math.ceil(n / grain_vox)) for n in shape)
    n = int(np.prod(cells))
    u = np.stack([rng.uniform_array(seed, rng.STREAM_SINTER, np.arange(n, dtype=np.int64), 1000 + k)
                  for k in range(3)], axis=1)
    idx = np.stack(np.unravel_index(np.arange(n), cells), axis=1)
    seeds = (idx + u) * grain_vox
    out = np.zeros(tuple(shape), dtype=np.int32)
    _voronoi_kernel(seeds, np.array(cells, dtype=np.int64), float(grain_vox), out)
    return out
