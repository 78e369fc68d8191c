"""The lithium source around the generated particle.

Step 4 of :func:`mcsim.generator.generate_agglomerate`: the number of source voxels follows
from the Li:TM molar balance against the hydroxide voxels; they are painted on free voxels
outside the particle sphere, either as spherical source particles touching the surface at
random directions or as one uniform shell.

Source particles are placed one after another: a ball of diameter ``source_diameter_nm``
centred at R + 0.4 d in a random direction (stream ``source``) takes the free voxels it
covers, the last one only the voxels nearest its centre that complete the count (ties in
order of the global flat index).  Every ball but the last is taken whole, so a block knows
its share of ball ``j`` from the balls before it alone: each block paints a batch of balls
provisionally, the number of new voxels of each ball is summed over the blocks, and the
sequence is replayed on those sums to find the last ball (and its trim) exactly as one
process would.  When the balls stop gaining voxels (300 draws in a row that add nothing, or
50 times the expected number of draws) the particles do not fit around the particle; the
lithium left over is then painted as a uniform layer: the free voxels nearest the
particle's centre, filling the gaps between the particles and growing outwards (the same
rule as ``placement = "shell"``, which puts all of the source there).  The box margin that
:func:`mcsim.generator.arguments.validate_arguments` gives by default leaves room for the
whole source as such a layer.
"""
from __future__ import annotations

import math

import numba
import numpy as np

from mcsim import phases
from mcsim.errors import ConfigError
from mcsim.generator.blocks import float_keys, radix_select, select_smallest, tie_cut
from mcsim.generator.streams import _rng

#: Provisional mark of a source voxel painted in a batch whose fate is not decided yet.
_MARK = 255
#: Consecutive draws without a new voxel after which the particles count as not fitting.
MAX_FAILS = 300


@numba.njit(cache=True)
def _paint_ball(phase, off, center, radius, sphere_c, sphere_r, mark, rec, start):
    """Mark the free (PORE) voxels of the block outside the particle sphere (centre
    ``sphere_c``, radius ``sphere_r``) and inside the ball (centre ``center``, radius
    ``radius``, voxels) with ``mark`` and write their local flat indices to ``rec`` from
    ``start``.  Returns how many; ``-k`` (nothing painted) when ``rec`` may need ``k``
    more entries than it has."""
    nz, ny, nx = phase.shape
    r = radius
    lo = np.empty(3, np.int64)
    hi = np.empty(3, np.int64)
    for k in range(3):
        lo[k] = max(int(math.ceil(center[k] - r)), off[k])
        hi[k] = min(int(math.floor(center[k] + r)), off[k] + phase.shape[k] - 1)
    nmax = (hi[0] - lo[0] + 1) * (hi[1] - lo[1] + 1) * (hi[2] - lo[2] + 1)
    if hi[0] < lo[0] or hi[1] < lo[1] or hi[2] < lo[2]:
        return 0
    if start + nmax > rec.size:
        return -nmax
    m = 0
    rp2 = sphere_r * sphere_r
    for z in range(lo[0], hi[0] + 1):
        for y in range(lo[1], hi[1] + 1):
            for x in range(lo[2], hi[2] + 1):
                dd = (z - center[0]) ** 2 + (y - center[1]) ** 2 + (x - center[2]) ** 2
                lz = z - off[0]
                ly = y - off[1]
                lx = x - off[2]
                if dd > r * r or phase[lz, ly, lx] != 0:
                    continue
                dp = ((z - sphere_c[0]) ** 2 + (y - sphere_c[1]) ** 2
                      + (x - sphere_c[2]) ** 2)
                if dp <= rp2:
                    continue
                phase[lz, ly, lx] = mark
                rec[start + m] = (lz * ny + ly) * nx + lx
                m += 1
    return m


@numba.njit(cache=True)
def _paint_balls(phase, off, centres, j0, radius, sphere_c, sphere_r, mark, rec, ends):
    """:func:`_paint_ball` for balls ``j0, j0 + 1, ...`` of ``centres`` in order, writing
    the end of each ball's records to ``ends``; stops early when ``rec`` may be too short.
    Returns the first ball not painted."""
    filled = ends[j0 - 1] if j0 > 0 else 0
    for j in range(j0, centres.shape[0]):
        got = _paint_ball(phase, off, centres[j], radius, sphere_c, sphere_r, mark, rec,
                          filled)
        if got < 0:
            return j
        filled += got
        ends[j] = filled
    return centres.shape[0]


@numba.njit(cache=True)
def _ball_dist(rec, shape, off, center):
    """Squared distance of each recorded voxel (local flat index) from ``center``."""
    ny, nx = shape[1], shape[2]
    out = np.empty(rec.size, np.float64)
    for i in range(rec.size):
        lz = rec[i] // (ny * nx)
        ly = (rec[i] // nx) % ny
        lx = rec[i] % nx
        z = off[0] + lz
        y = off[1] + ly
        x = off[2] + lx
        out[i] = (z - center[0]) ** 2 + (y - center[1]) ** 2 + (x - center[2]) ** 2
    return out


def _global_flat(local, block):
    """Global flat indices of local flat indices of ``block``."""
    nz, ny, nx = block.shape
    lz, rest = np.divmod(np.asarray(local, np.int64), ny * nx)
    ly, lx = np.divmod(rest, nx)
    n = block.n
    return ((block.offset[0] + lz) * n + block.offset[1] + ly) * n + block.offset[2] + lx


def _place_particles(phase, block, center, radius_v, dv, target, code, seed, reduce):
    """Spherical source particles of diameter ``dv`` voxels, centres at random directions at
    distance R + 0.4 dv; only free voxels outside the particle sphere are painted.  The
    last particle is trimmed (voxels nearest its centre kept) so the count is exact.
    Collective over the blocks.

    Returns
    -------
    count : int
        Source voxels painted (all blocks): ``target`` unless the particles stopped
        fitting first.
    balls : int
        Particles placed.
    """
    rng = _rng(seed, "source")
    rc = radius_v + 0.4 * dv
    count = fails = attempts = balls = 0
    est = target / max(1.0, math.pi / 6.0 * dv ** 3 * 0.5)
    max_attempts = int(50 * est) + 2000
    off = np.asarray(block.offset, np.int64)
    flat = phase.reshape(-1)
    rec = np.empty(4096, np.int64)
    per_ball = max(1.0, math.pi / 6.0 * dv ** 3 * 0.5)
    while count < target:
        # the next centres of the stream (drawn in order, one per attempt), painted
        # provisionally on this block
        size = int(min(max_attempts + 1 - attempts, 16 + 1.2 * (target - count) / per_ball))
        size = max(1, size)
        centres = rng.standard_normal((size, 3))  # the same numbers as row by row
        for u in centres:
            u /= math.sqrt(u.dot(u))  # = numpy.linalg.norm(u)
        centres = center + centres * rc
        ends = np.zeros(size, np.int64)
        j = 0
        while j < size:
            j = _paint_balls(phase, off, centres, j, 0.5 * dv, center, radius_v, _MARK, rec,
                             ends)
            if j < size:
                rec = np.resize(rec, 2 * rec.size + phase.size // 64 + 4096)
        filled = int(ends[-1])
        gains = reduce(np.diff(ends, prepend=0))
        # replay the sequence on the gains summed over the blocks
        stop, last = size, None
        for j in range(size):
            attempts += 1
            if fails > MAX_FAILS or attempts > max_attempts:
                stop = j  # the particles do not fit: ball j and later are not placed
                break
            got = min(int(gains[j]), target - count)
            fails = fails + 1 if got == 0 else 0
            count += got
            balls += got > 0
            if count >= target:
                stop, last = j + 1, (j, got)
                break
        kept = int(ends[stop - 1]) if stop > 0 else 0
        flat[rec[:kept]] = code
        flat[rec[kept:filled]] = 0
        if last is not None:
            j, got = last
            if got < int(gains[j]):  # the last ball: only the voxels nearest its centre
                mine = rec[(int(ends[j - 1]) if j > 0 else 0):int(ends[j])]
                dist = _ball_dist(mine, np.asarray(block.shape, np.int64), off, centres[j])
                chosen = select_smallest(float_keys(dist), _global_flat(mine, block), got,
                                         block.n, reduce)
                flat[mine[~chosen]] = 0
        if stop < size:
            break
        per_ball = max(1.0, count / max(1, balls))
    return count, int(balls)


@numba.njit(cache=True)
def _free_key(phase, lz, ly, lx, z, y, x, c, r2):
    """Radius key of a free voxel outside the particle sphere: ``int(rr2)`` with
    ``rr2 = (z-c)^2 + (y-c)^2 + (x-c)^2`` (its fractional part is the same for every voxel
    of the grid, so the key orders the voxels by rr2); -1 for any other voxel."""
    if phase[lz, ly, lx] != 0:
        return -1
    rr2 = (z - c) ** 2 + (y - c) ** 2 + (x - c) ** 2
    if rr2 <= r2:
        return -1
    return np.int64(rr2)


@numba.njit(cache=True)
def _free_hist(phase, off, c, r2, shift, prefix):
    """Digit counts of the radius keys of the block's free outside voxels
    (``hist`` of :func:`mcsim.generator.blocks.radix_select`; ``prefix < 0``: all)."""
    h = np.zeros(65536, np.int64)
    nz, ny, nx = phase.shape
    for lz in range(nz):
        for ly in range(ny):
            for lx in range(nx):
                k = _free_key(phase, lz, ly, lx, off[0] + lz, off[1] + ly, off[2] + lx, c, r2)
                if k < 0 or (prefix >= 0 and (k >> (shift + 16)) != prefix):
                    continue
                h[(k >> shift) & 0xFFFF] += 1
    return h


@numba.njit(cache=True)
def _layer_ties(phase, off, n, c, r2, t):
    """Global flat indices of the block's free outside voxels whose radius key is ``t``."""
    nz, ny, nx = phase.shape
    out = np.empty(0, np.int64)
    for stage in range(2):
        m = 0
        for lz in range(nz):
            for ly in range(ny):
                for lx in range(nx):
                    z = off[0] + lz
                    y = off[1] + ly
                    x = off[2] + lx
                    if _free_key(phase, lz, ly, lx, z, y, x, c, r2) == t:
                        if stage == 1:
                            out[m] = (z * n + y) * n + x
                        m += 1
        if stage == 0:
            out = np.empty(m, np.int64)
    return out


@numba.njit(cache=True)
def _paint_layer(phase, off, n, c, r2, t, cut, code):
    """Set the block's free outside voxels whose radius key is below ``t``, or equal to
    it at a global flat index <= ``cut``, to ``code``; returns how many."""
    nz, ny, nx = phase.shape
    m = 0
    for lz in range(nz):
        for ly in range(ny):
            for lx in range(nx):
                z = off[0] + lz
                y = off[1] + ly
                x = off[2] + lx
                k = _free_key(phase, lz, ly, lx, z, y, x, c, r2)
                if k < 0:
                    continue
                if k < t or (k == t and (z * n + y) * n + x <= cut):
                    phase[lz, ly, lx] = code
                    m += 1
    return m


def _place_layer(phase, block, radius_v, count, code, reduce):
    """Paint ``count`` voxels (all blocks) as a uniform layer: the free voxels outside the
    particle sphere nearest the grid's centre, ties in order of the global flat index.
    Collective over the blocks.

    Returns
    -------
    r_layer : float or None
        The layer's outer radius, voxels; None when it does not fit into the box (more
        voxels than are free, or a radius beyond the box's half-width): then nothing is
        painted.
    """
    n = block.n
    c = (n - 1) / 2.0
    r2 = radius_v * radius_v
    off = np.asarray(block.offset, np.int64)
    free = int(reduce(_free_hist(phase, off, c, r2, 16, -1)).sum())
    if count > free:
        return None
    nbits = int(3 * n * n).bit_length()
    t, less = radix_select(lambda shift, prefix: _free_hist(
        phase, off, c, r2, shift, -1 if prefix is None else prefix), nbits, count, reduce)
    # rr2 = key + the fractional part every voxel shares (0.75 on an even grid, else 0)
    r_layer = math.sqrt(t + (0.75 if n % 2 == 0 else 0.0))
    if r_layer > (n - 1) / 2.0:
        return None
    cut = tie_cut(_layer_ties(phase, off, n, c, r2, t), count - less, n, reduce)
    _paint_layer(phase, off, n, c, r2, t, cut, code)
    return r_layer


def source_target(n_hyd, vox, li_source, q):
    """The source voxels that balance ``n_hyd`` hydroxide voxels at Li:TM ``q``, with the
    TM and the Li per voxel (mol): ``(target, tm_mol, li_per_vox, code)``."""
    code = phases.LIOH if li_source == "LiOH" else phases.LI2CO3
    v_cm3 = (vox * 1e-7) ** 3
    tm_mol = n_hyd * v_cm3 / phases.MOLAR_VOLUME_CM3[phases.HYDROXIDE]
    li_per_vox = v_cm3 / phases.MOLAR_VOLUME_CM3[code] * phases.LI_PER_FORMULA[code]
    return int(round(q * tm_mol / li_per_vox)), tm_mol, li_per_vox, code


def place_source(phase, block, center, radius_v, n_hyd, vox, li_source, q, placement, dsrc,
                 seed, reduce):
    """Paint the lithium source into this block's ``phase`` (in place).  Collective over
    the blocks.

    Parameters
    ----------
    phase : uint8[block.shape]
        The particle, source-free; outside the sphere all PORE.
    block : mcsim.generator.blocks.Block
    center : float64[3]
        Sphere centre, voxels.
    radius_v : float
        Sphere radius, voxels.
    n_hyd : int
        Hydroxide voxels of all blocks (the TM the source is balanced against).
    vox : float
        Voxel edge, nm.
    li_source, q, placement, dsrc, seed
        Validated ``li_source``, ``li_to_tm``, ``placement``, ``source_diameter_nm`` and
        ``seed`` of :func:`mcsim.generator.generate_agglomerate`.
    reduce : callable
        Sum of an int64 array over all blocks.

    Returns
    -------
    dict
        ``n_source_voxels`` (all blocks), ``n_source_particles`` (particles placed),
        ``n_source_layer_voxels`` (voxels in the uniform layer), ``source_layer_radius_vox``
        (its outer radius; NaN without a layer), ``tm_mol`` and ``li_mol``.

    Raises
    ------
    mcsim.errors.ConfigError
        Naming ``lithium.li_to_tm`` when the source does not fit into the box.
    """
    target, tm_mol, li_per_vox, code = source_target(n_hyd, vox, li_source, q)
    n_part = balls = 0
    if placement == "particles":
        n_part, balls = _place_particles(phase, block, center, radius_v, dsrc / vox, target,
                                          code, seed, reduce)
    rest = target - n_part
    r_layer = math.nan
    if rest > 0:
        r_layer = _place_layer(phase, block, radius_v, rest, code, reduce)
        if r_layer is None:
            placed = (f"placed {n_part} of {target} source voxels as particles, the other "
                      f"{rest} would not fit as a layer either; "
                      if placement == "particles" else "")
            raise ConfigError("lithium.li_to_tm", q,
                              f"a source amount that fits in the box ({placed}lower "
                              f"li_to_tm, use smaller source particles, or raise "
                              f"particle.margin_nm)")
    return {"n_source_voxels": int(target), "n_source_particles": int(balls),
            "n_source_layer_voxels": int(rest), "source_layer_radius_vox": float(r_layer),
            "tm_mol": tm_mol, "li_mol": target * li_per_vox}
