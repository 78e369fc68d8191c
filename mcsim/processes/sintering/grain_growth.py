"""Grain growth: the Q-state Potts model on the solid voxels (26 neighbours).

A solid voxel picks one of its 26 neighbours; if that is solid with another grain id g', the
voxel takes g' with probability min(1, exp(-dE / kT)), dE = J_gb (n_g - n_g'), n_h the number
of solid neighbours with id h (the change of the count of unlike solid neighbours). Pores
never give their label to a solid. Eight colour sub-sweeps by the parities of the global
coordinates (gz % 2, gy % 2, gx % 2): two voxels of one colour differ by 2 along some axis,
so they are never 26-neighbours, and a voxel's update reads only voxels of other colours. The
four colours of one z parity are done plane by plane (each plane reads only its neighbour
planes, of the other parity, which do not change meanwhile), so a plane and its neighbours
are loaded into cache once for four sub-sweeps; a lattice split in y or x runs the colours
one at a time with halo exchanges between them, with the same result.

For the sweep, the grain ids of non-solid voxels that carry a positive id (nanopores) get
their sign bit set, so that grain > 0 means "solid of that grain" and the kernel reads no
phase; n_g - n_g' is then summed over the 3 x 3 x 3 box as nine 3-lane vector rows
(:func:`_box_diff`).

Random numbers: every solid site of a colour draws a 16-bit lane v of a Philox block shared
by the 16 sites of that colour in a 32-voxel stretch of a row (counter: the stretch's first
global index, the MCS, the colour). For v < 65520 = 26 x 2520 the neighbour is v // 2520 and
the acceptance lane c = v % 2520, independent and exactly uniform; the move is accepted when
c < floor(2520 a), or, on the tie c == floor(2520 a), when the fine part of the voxel's own
block is below the fraction (exact acceptance a, as in :mod:`mcsim.processes.reactions`). The
16 lanes v >= 65520 draw both from the voxel's own block.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from mcsim import rng
from mcsim.processes.sintering.common import (_SHIFT11, _TWO_M53, SUB_GG_FINE, SUB_GG_REDRAW,
                                              SUB_GRAIN_GROWTH, SOLID_MIN)

#: The grain-growth colours by call: two plane-fused groups, or one colour at a time.
_GROUPS_FUSED = (np.arange(4, dtype=np.int64), np.arange(4, 8, dtype=np.int64))
_GROUPS_SINGLE = tuple(np.array([c], dtype=np.int64) for c in range(8))

#: A grain-growth lane v < 65520 = 26 * 2520 gives the neighbour v // 2520 and the acceptance
#: lane v % 2520, independent and uniform (the rest is a voxel's own block).
_ACCEPT_LEVELS = 2520
_LANE_SPLIT = 26 * _ACCEPT_LEVELS


def lattice_j_over_kt(params: dict, voxel_nm: float, mechanism: str = "grain_growth") -> float:
    """The Potts J/kT of ``mechanism`` ("grain_growth" or "pore_migration") on a lattice of
    ``voxel_nm``: ``<mechanism>_j_over_kt`` (given at 10 nm voxels) x (voxel_nm / 10 nm) **
    ``<mechanism>_j_voxel_exponent``. The lattice temperature is a numerical device that keeps
    boundaries (and pore surfaces) from pinning on the lattice; with the exponent 1,
    (J/kT) / voxel_nm is the same at every voxel size, so a boundary has the same thermal steps
    per nm (a step one voxel high costs about J per boundary site, J / voxel_nm per unit
    length). At 10 nm the factor is 1 exactly."""
    if not voxel_nm > 0.0:
        raise ValueError(f"voxel_nm must be > 0, got {voxel_nm!r}")
    factor = (float(voxel_nm) / 10.0) ** float(params[f"{mechanism}_j_voxel_exponent"])
    return float(params[f"{mechanism}_j_over_kt"]) * factor


def grain_growth_accept_table(j_over_kt: float) -> np.ndarray:
    """min(1, exp(-J/kT d)) for d = n_g - n_g' in -26..26 (index d + 26)."""
    d = np.arange(-26, 27, dtype=np.float64)
    return np.minimum(1.0, np.exp(-j_over_kt * d))


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
