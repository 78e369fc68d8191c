"""Intergranular pores of the generated particle, and the grain ids of the solid left.

Step 3 of :func:`mcsim.generator.generate_agglomerate`: the boundary gap of a voxel is the
first-order real-space distance of its centre from the bisector surface ``d2^2 - d1^2 = 0``
of its two nearest seeds (voxels; computed with the tessellation,
:func:`mcsim.generator.tessellation.tessellate_block`); the ``porosity`` quantile of the
in-sphere voxels with the smallest gap become PORE (intergranular porosity, exact to one
voxel).  The quantile is found without sorting the voxels: 16-bit digits of the gaps' bit
patterns are counted on each block and summed over the blocks
(:func:`mcsim.generator.blocks.radix_select`); voxels whose gap equals the threshold are
taken in order of their global flat index.  The remaining hydroxide voxels take the id of
their nearest seed, renumbered 1..N over the seeds that own at least one of them (a count
per seed, summed over the blocks).
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange

from mcsim import phases
from mcsim.generator.blocks import radix_select, tie_cut

#: Bit pattern of the float32 -0.0 read as an int32.
_NEG_ZERO = -2147483648


@numba.njit(cache=True)
def _gap_at(z, y, x, s1, s2, d1, d2, pos, amat):
    """First-order real-space distance (voxels) of voxel (z, y, x) from the bisector
    surface f = d2^2 - d1^2 = 0 of its two nearest seeds ``s1``, ``s2`` (squared
    anisotropic distances ``d1``, ``d2``, float32): f / |grad f|; +inf when there is no
    second seed (``s2 < 0``) or the gradient vanishes."""
    if s2 < 0:
        return np.inf
    p1 = (z - pos[s1, 0], y - pos[s1, 1], x - pos[s1, 2])
    p2 = (z - pos[s2, 0], y - pos[s2, 1], x - pos[s2, 2])
    a = amat[s1]
    b = amat[s2]
    g0 = (b[0, 0] * p2[0] + b[0, 1] * p2[1] + b[0, 2] * p2[2]) - (
        a[0, 0] * p1[0] + a[0, 1] * p1[1] + a[0, 2] * p1[2])
    g1 = (b[1, 0] * p2[0] + b[1, 1] * p2[1] + b[1, 2] * p2[2]) - (
        a[1, 0] * p1[0] + a[1, 1] * p1[1] + a[1, 2] * p1[2])
    g2 = (b[2, 0] * p2[0] + b[2, 1] * p2[1] + b[2, 2] * p2[2]) - (
        a[2, 0] * p1[0] + a[2, 1] * p1[1] + a[2, 2] * p1[2])
    gn = 2.0 * math.sqrt(g0 * g0 + g1 * g1 + g2 * g2)
    f = float(d2) - float(d1)
    return f / gn if gn > 0.0 else np.inf


@numba.njit(cache=True)
def _gap_key(b):
    """Order-preserving key of a gap from its float32 bit pattern read as int32 ``b``:
    the pattern itself for gaps >= 0 (-0.0 as 0), -1 for negative gaps (outside)."""
    if b < 0:
        return 0 if b == _NEG_ZERO else -1
    return b


@numba.njit(cache=True)
def _gap_hist(bits, shift, prefix):
    """Counts of the digit ``(key >> shift) & 0xFFFF`` of the in-sphere gap keys with
    ``key >> (shift + 16) == prefix`` (all of them when ``prefix < 0``)."""
    h = np.zeros(65536, np.int64)
    flat = bits.ravel()
    for i in range(flat.size):
        k = _gap_key(flat[i])
        if k < 0:
            continue
        if prefix >= 0 and (k >> (shift + 16)) != prefix:
            continue
        h[(k >> shift) & 0xFFFF] += 1
    return h


@numba.njit(cache=True)
def _gap_ties(bits, t, off, n):
    """Global flat indices of the voxels whose gap key equals ``t``."""
    nz, ny, nx = bits.shape
    m = 0
    for z in range(nz):
        for y in range(ny):
            for x in range(nx):
                if _gap_key(bits[z, y, x]) == t:
                    m += 1
    out = np.empty(m, np.int64)
    m = 0
    for z in range(nz):
        for y in range(ny):
            for x in range(nx):
                if _gap_key(bits[z, y, x]) == t:
                    out[m] = ((off[0] + z) * n + off[1] + y) * n + off[2] + x
                    m += 1
    return out


@numba.njit(parallel=True, cache=True)
def _carve(bits, t, cut, off, n):
    """The phase of a block: HYDROXIDE in the sphere (gap >= 0), PORE outside it and where
    the gap key is below ``t``, or equals ``t`` at a global flat index <= ``cut``."""
    nz, ny, nx = bits.shape
    phase = np.zeros((nz, ny, nx), np.uint8)
    for z in prange(nz):
        for y in range(ny):
            base = ((off[0] + z) * n + off[1] + y) * n + off[2]
            for x in range(nx):
                k = _gap_key(bits[z, y, x])
                if k < 0:
                    continue
                if k < t or (k == t and base + x <= cut):
                    continue
                phase[z, y, x] = phases.HYDROXIDE
    return phase


def place_pores(gap, block, porosity, reduce):
    """The phase of ``block``: the sphere hydroxide, with the ``porosity`` share of the
    sphere's voxels (all blocks together) of smallest gap PORE (everything outside the
    sphere PORE too: code 0).  Collective over the blocks.

    Parameters
    ----------
    gap : float32[block.shape]
        Boundary gaps (:func:`mcsim.generator.tessellation.tessellate_block`).
    block : mcsim.generator.blocks.Block
    porosity : float
    reduce : callable
        Sum of an int64 array over all blocks.

    Returns
    -------
    phase : uint8[block.shape]
    n_sphere : int
        Voxels inside the sphere, all blocks.
    """
    bits = gap.view(np.int32)
    off = np.asarray(block.offset, np.int64)
    n_sphere = int(reduce(_gap_hist(bits, 16, -1)).sum())
    k_pore = int(round(porosity * n_sphere))
    t, cut = -1, -1
    if k_pore > 0:
        t, less = radix_select(lambda shift, prefix: _gap_hist(
            bits, shift, -1 if prefix is None else prefix), 31, k_pore, reduce)
        cut = tie_cut(_gap_ties(bits, t, off, block.n), k_pore - less, block.n, reduce)
    return _carve(bits, t, cut, off, block.n), n_sphere


@numba.njit(cache=True)
def _owned(phase, i1, nseed):
    """Hydroxide voxels of the block nearest to each seed."""
    owned = np.zeros(nseed, np.int64)
    p = phase.ravel()
    s = i1.ravel()
    for i in range(p.size):
        if p[i] == phases.HYDROXIDE:
            owned[s[i]] += 1
    return owned


@numba.njit(parallel=True, cache=True)
def _grain_ids(phase, i1, remap):
    """``remap[i1]`` on hydroxide voxels, 0 elsewhere."""
    nz, ny, nx = phase.shape
    grain = np.zeros((nz, ny, nx), np.int32)
    for z in prange(nz):
        for y in range(ny):
            for x in range(nx):
                if phase[z, y, x] == phases.HYDROXIDE:
                    grain[z, y, x] = remap[i1[z, y, x]]
    return grain


def number_grains(phase, i1, pos, reduce):
    """Grain ids 1..N in seed order over the seeds owning >= 1 hydroxide voxel of any
    block.  Collective over the blocks.

    Returns
    -------
    grain : int32[block shape]
        The id on hydroxide voxels, 0 elsewhere.
    ngrain : int
    seed_points : float64[ngrain, 3]
        The seed of grain ``i + 1`` in row ``i``.
    n_hyd : int
        Hydroxide voxels, all blocks.
    """
    nseed = pos.shape[0]
    owned = reduce(_owned(phase, i1, nseed))
    keep = owned > 0
    remap = np.zeros(nseed, np.int32)
    ngrain = int(keep.sum())
    remap[keep] = np.arange(1, ngrain + 1, dtype=np.int32)
    grain = _grain_ids(phase, i1, remap)
    return grain, ngrain, pos[keep].copy(), int(owned.sum())
