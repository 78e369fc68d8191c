"""Grains of the generated particle: seed points in radial layers with their frames and
sizes, and the multiplicatively weighted anisotropic Voronoi tessellation of the sphere.

Steps 1 and 2 of :func:`mcsim.generator.generate_agglomerate`:

1. Seed points in radial layers (spacing ~ grain length) with a Fibonacci pattern of
   randomly rotated, jittered points on each layer; each seed gets a frame
   (radial e_r, random tangential e_w, e_t = e_r x e_w) and a lognormal size factor.
2. Voxel -> seed minimising d^2 = sum_k (Delta . e_k / (s l_k))^2.  Implemented as a
   *scatter*: each seed visits the voxels of its ellipsoid d <= D_CUT, plane by plane, in a
   ``prange`` over z-planes (each plane owned by one thread, seeds visited in a fixed order:
   bit-identical results for any thread count).  The nearest and second-nearest seeds are
   kept per voxel of the plane; voxels the scatter leaves without a second seed are resolved
   by a brute-force gather over all seeds, and the plane's boundary gap (step 3,
   :mod:`~mcsim.generator.pores`) is computed at once, so only the nearest seed and the gap
   are stored.  A voxel's result depends on its global index alone, so any block of the
   grid (:mod:`~mcsim.generator.blocks`) is tessellated on its own, without a halo.
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange

from mcsim.generator.pores import _gap_at
from mcsim.generator.streams import _rng

#: Anisotropic-distance cut-off of the scatter pass.  Voxels reached by no seed within it
#: (rare) are resolved by a brute-force gather over all seeds.
D_CUT = 2.6

# --- calibration of the tessellation (see _seed_layout) ---------------------------------
#: Radial layer spacing / requested grain length.
CAL_RADIAL_SPACING = 0.9
#: Seed number density multiplier (>1: more, smaller grains).
CAL_DENSITY = 1.0
#: Metric axis lengths / requested (length, width, thickness).
CAL_METRIC = (1.0, 1.17, 1.0)
#: Size dispersion shrinks the number-mean measured axes of a multiplicatively weighted
#: tessellation (seeds with small factors get small cells, large ones are cut by their
#: neighbours).  Measured (mean axis / requested) without correction, for size_cv in
#: CAL_CV_GRID (radius 1 um, 10 nm voxels, 300/150/50 nm grains, 2 seeds each, two fixed-point
#: iterations); all
#: internal lengths are divided by the interpolated value.
CAL_CV_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
CAL_CV_SCALE = (1.089, 1.075, 1.015, 0.876, 0.733, 0.595)
#: Largest calibrated size_cv.
MAX_SIZE_CV = 0.4


# ==========================================================================================
# seeds
# ==========================================================================================
def calibrated_axes(L, W, T, vox, cv):
    """The grain axes (L, W, T in nm) in voxels, divided by the size-dispersion calibration
    (see CAL_CV_SCALE)."""
    kcv = float(np.interp(cv, CAL_CV_GRID, CAL_CV_SCALE))
    return L / vox / kcv, W / vox / kcv, T / vox / kcv


def _fibonacci_sphere(m, rng):
    """``m`` nearly uniform unit vectors (Fibonacci spiral, random rotation)."""
    k = np.arange(m) + 0.5
    cz = 1.0 - 2.0 * k / m
    phi = math.pi * (3.0 - math.sqrt(5.0)) * k + rng.uniform(0, 2 * math.pi)
    sz = np.sqrt(np.maximum(0.0, 1.0 - cz * cz))
    v = np.stack([cz, sz * np.sin(phi), sz * np.cos(phi)], axis=1)
    # random rotation (QR of a Gaussian matrix, sign fixed)
    q, rr = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(rr))
    return v @ q.T


def _seed_layout(radius_v, L, W, T, porosity, seed):
    """Seed points in radial layers.

    The layer spacing is CAL_RADIAL_SPACING * L (the radial extent of a grain is set by the
    layer spacing, not by the metric: the Voronoi cells of a lattice are the same for any
    common metric).  The number density is chosen so that after (1 - porosity) of the
    sphere's volume remains solid each grain has the volume pi/6 * L W T of an ellipsoid
    with full axes L, W, T, times 1 / CAL_DENSITY.  The number of points on a layer is
    (layer volume) * density, laid as a jittered Fibonacci pattern on the layer sphere.
    """
    rng_l = _rng(seed, "layers")
    rng_p = _rng(seed, "seed_points")
    vgrain = math.pi / 6.0 * L * W * T
    rho = CAL_DENSITY * (1.0 - porosity) / vgrain if porosity < 1 else 0.0
    rho = max(rho, 1.0 / (4.0 / 3.0 * math.pi * radius_v ** 3))
    dr_target = CAL_RADIAL_SPACING * L
    nlay = max(1, int(round(radius_v / dr_target)))
    dr = radius_v / nlay
    pts = []
    for k in range(nlay):
        r_in = radius_v - (k + 1) * dr
        r_out = radius_v - k * dr
        vol = 4.0 / 3.0 * math.pi * (r_out ** 3 - r_in ** 3)
        m = int(round(vol * rho))
        if m <= 0:
            continue
        rk = 0.5 * (r_in + r_out) if r_in > 0 else 0.5 * r_out
        if m == 1 and r_in <= 0:
            pts.append(rng_p.normal(0.0, 0.1 * dr, size=(1, 3)))
            continue
        u = _fibonacci_sphere(m, rng_l)
        spacing = math.sqrt(4.0 * math.pi * rk * rk / m)
        # tangential jitter (fraction of the in-layer spacing) and radial jitter
        t = rng_p.normal(0.0, 0.15 * spacing, size=(m, 3))
        t -= np.sum(t * u, axis=1)[:, None] * u
        rad = rk + rng_p.uniform(-0.15 * dr, 0.15 * dr, size=m)
        p = u * rad[:, None] + t
        pts.append(p)
    pts = np.concatenate(pts, axis=0)
    # keep inside the sphere
    rn = np.linalg.norm(pts, axis=1)
    over = rn > radius_v * 0.999
    pts[over] *= (radius_v * 0.999 / rn[over])[:, None]
    return pts


def _frames(rel, seed):
    """Radial / random tangential / normal unit vectors for seed offsets ``rel``."""
    rng = _rng(seed, "frames")
    m = rel.shape[0]
    rn = np.linalg.norm(rel, axis=1)
    er = np.empty_like(rel)
    ok = rn > 1e-9
    er[ok] = rel[ok] / rn[ok, None]
    g = rng.standard_normal((m, 3))
    bad = ~ok
    if bad.any():
        er[bad] = g[bad] / np.linalg.norm(g[bad], axis=1)[:, None]
    h = rng.standard_normal((m, 3))
    ew = h - np.sum(h * er, axis=1)[:, None] * er
    nw = np.linalg.norm(ew, axis=1)
    small = nw < 1e-8
    while small.any():  # practically never
        h2 = rng.standard_normal((int(small.sum()), 3))
        e = er[small]
        ew[small] = h2 - np.sum(h2 * e, axis=1)[:, None] * e
        nw = np.linalg.norm(ew, axis=1)
        small = nw < 1e-8
    ew /= nw[:, None]
    et = np.cross(er, ew)
    return er, ew, et


def _lognormal_factors(m, cv, seed):
    """Mean-one lognormal size factors with coefficient of variation ``cv``."""
    rng = _rng(seed, "sizes")
    if cv <= 0:
        return np.ones(m)
    s2 = math.log1p(cv * cv)
    return rng.lognormal(-0.5 * s2, math.sqrt(s2), size=m)


def seed_grains(radius_v, Lv, Wv, Tv, porosity, cv, seed, center):
    """Step 1: the seeds and the metric of each one's cell.

    Parameters
    ----------
    radius_v : float
        Sphere radius, voxels.
    Lv, Wv, Tv : float
        Calibrated grain axes, voxels (:func:`calibrated_axes`).
    porosity, cv : float
        Requested porosity and size dispersion.
    seed : int
        Generator seed.
    center : float64[3]
        Sphere centre (z, y, x), voxels.

    Returns
    -------
    pos : float64[N, 3]
        Seed positions, voxels.
    amat : float64[N, 3, 3]
        Metric tensors, d^2 = Delta^T A Delta (voxel^-2).
    half_ext : float64[N, 3]
        Half extents (z, y, x) of each seed's ellipsoid d <= D_CUT, voxels.
    z_lo, z_hi : int64[N]
        Plane range of each ellipsoid.
    """
    rel = _seed_layout(radius_v, Lv, Wv, Tv, porosity, seed)
    pos = rel + center[None]
    nseed = pos.shape[0]
    er, ew, et = _frames(rel, seed)
    fac = _lognormal_factors(nseed, cv, seed)
    lens = np.stack([Lv * CAL_METRIC[0] * fac, Wv * CAL_METRIC[1] * fac,
                     Tv * CAL_METRIC[2] * fac], axis=1) / 2.0  # semi-axes, voxels
    E = np.stack([er, ew, et], axis=1)  # (N, 3 axes, 3 comps)
    amat = np.einsum("nki,nk,nkj->nij", E, 1.0 / lens ** 2, E)
    half_ext = D_CUT * np.sqrt(np.einsum("nk,nki->ni", lens ** 2, E ** 2))
    z_lo = np.ceil(pos[:, 0] - half_ext[:, 0]).astype(np.int64)
    z_hi = np.floor(pos[:, 0] + half_ext[:, 0]).astype(np.int64)
    return pos, amat, half_ext, z_lo, z_hi


# ==========================================================================================
# tessellation
# ==========================================================================================
@numba.njit(parallel=True, cache=True)
def _tessellate_block(off, shp, center, radius, pos, amat, half_ext, z_lo, z_hi, dcut):
    """Nearest seed and boundary gap of every voxel of one block, plane by plane.

    For each z-plane of the block (a ``prange``: each plane owned by one thread, seeds
    visited in index order, so the result does not depend on the thread count) the nearest
    and second-nearest seeds of the plane's in-sphere voxels are found by a *scatter* over
    the seed ellipsoids d <= ``dcut`` that cross the plane, the voxels it leaves without a
    second seed by a brute-force gather over all seeds, and the plane's boundary gap
    (:func:`mcsim.generator.pores._gap_at`) is computed from them; only the nearest seed and
    the gap are kept, so the block needs 8 B per voxel.  Every number depends on the
    voxel's global index alone: a block gets what the whole grid gets at its voxels.

    Parameters
    ----------
    off, shp : int64[3]
        Global index of the block's first voxel, and its extent (z, y, x).
    center : float64[3]
        Sphere centre (z, y, x), voxels.
    radius : float
        Sphere radius, voxels.
    pos : float64[N, 3]
        Seed positions, voxels.
    amat : float64[N, 3, 3]
        Metric tensors, d^2 = Delta^T A Delta (voxel^-2).
    half_ext : float64[N, 3]
        Half extents (z, y, x) of the ellipsoid d <= dcut, voxels.
    z_lo, z_hi : int64[N]
        Plane range of each ellipsoid.
    dcut : float
        Anisotropic-distance cut-off.

    Returns
    -------
    i1 : int32[shp]
        Nearest seed (-1 on planes that miss the sphere; unused outside it).
    gap : float32[shp]
        Boundary gap, voxels: -1 outside the sphere, +inf where only one seed exists.
    fallback : int64[shp[0]]
        Voxels of each plane resolved by the brute-force gather.
    """
    nz, ny, nx = shp[0], shp[1], shp[2]
    oz, oy, ox = off[0], off[1], off[2]
    i1 = np.full((nz, ny, nx), -1, np.int32)
    gap = np.full((nz, ny, nx), -1.0, np.float32)
    fallback = np.zeros(nz, np.int64)
    nseed = pos.shape[0]
    c2 = dcut * dcut
    r2 = radius * radius
    for lz in prange(nz):
        z = oz + lz
        dzc = z - center[0]
        rem = r2 - dzc * dzc
        if rem < 0.0:
            continue
        p1 = np.full((ny, nx), -1, np.int32)
        p2 = np.full((ny, nx), -1, np.int32)
        q1 = np.full((ny, nx), np.inf, np.float32)
        q2 = np.full((ny, nx), np.inf, np.float32)
        # scatter: each seed ellipsoid that crosses the plane
        for s in range(nseed):
            if z < z_lo[s] or z > z_hi[s]:
                continue
            dz = z - pos[s, 0]
            a = amat[s]
            axx = a[2, 2]
            ylo = max(int(math.ceil(pos[s, 1] - half_ext[s, 1])), oy)
            yhi = min(int(math.floor(pos[s, 1] + half_ext[s, 1])), oy + ny - 1)
            for y in range(ylo, yhi + 1):
                dyc = y - center[1]
                remy = rem - dyc * dyc
                if remy < 0.0:
                    continue
                sx = math.sqrt(remy)
                dy = y - pos[s, 1]
                b = a[2, 0] * dz + a[2, 1] * dy
                c0 = a[0, 0] * dz * dz + 2.0 * a[0, 1] * dz * dy + a[1, 1] * dy * dy
                disc = b * b - axx * (c0 - c2)
                if disc < 0.0:
                    continue
                sq = math.sqrt(disc)
                xa = pos[s, 2] + (-b - sq) / axx
                xb = pos[s, 2] + (-b + sq) / axx
                xlo = max(int(math.ceil(max(xa, center[2] - sx))), ox)
                xhi = min(int(math.floor(min(xb, center[2] + sx))), ox + nx - 1)
                ly = y - oy
                for x in range(xlo, xhi + 1):
                    dx = x - pos[s, 2]
                    dd = c0 + dx * (2.0 * b + axx * dx)
                    lx = x - ox
                    if dd < q1[ly, lx]:
                        q2[ly, lx] = q1[ly, lx]
                        p2[ly, lx] = p1[ly, lx]
                        q1[ly, lx] = dd
                        p1[ly, lx] = s
                    elif dd < q2[ly, lx]:
                        q2[ly, lx] = dd
                        p2[ly, lx] = s
        # gather for the in-sphere voxels left without a second seed, then the gap
        for ly in range(ny):
            y = oy + ly
            dyc = y - center[1]
            for lx in range(nx):
                x = ox + lx
                dxc = x - center[2]
                if dzc * dzc + dyc * dyc + dxc * dxc > r2:
                    i1[lz, ly, lx] = p1[ly, lx]
                    continue
                if p2[ly, lx] < 0:
                    fallback[lz] += 1
                    b1 = np.inf
                    b2 = np.inf
                    j1 = -1
                    j2 = -1
                    for s in range(nseed):
                        dz = z - pos[s, 0]
                        dy = y - pos[s, 1]
                        dx = x - pos[s, 2]
                        a = amat[s]
                        dd = (a[0, 0] * dz * dz + a[1, 1] * dy * dy + a[2, 2] * dx * dx
                              + 2.0 * (a[0, 1] * dz * dy + a[0, 2] * dz * dx
                                       + a[1, 2] * dy * dx))
                        if dd < b1:
                            b2 = b1
                            j2 = j1
                            b1 = dd
                            j1 = s
                        elif dd < b2:
                            b2 = dd
                            j2 = s
                    p1[ly, lx] = j1
                    p2[ly, lx] = j2
                    q1[ly, lx] = b1
                    q2[ly, lx] = b2
                i1[lz, ly, lx] = p1[ly, lx]
                gap[lz, ly, lx] = _gap_at(z, y, x, p1[ly, lx], p2[ly, lx], q1[ly, lx],
                                          q2[ly, lx], pos, amat)
    return i1, gap, fallback


def tessellate_block(block, center, radius_v, pos, amat, half_ext, z_lo, z_hi):
    """Step 2 on one :class:`~mcsim.generator.blocks.Block`: the nearest seed and the
    boundary gap of each of its voxels (:func:`_tessellate_block`).

    Returns
    -------
    i1 : int32[block.shape]
    gap : float32[block.shape]
    n_fallback : int
        This block's voxels resolved by the brute-force gather.
    """
    i1, gap, fallback = _tessellate_block(
        np.asarray(block.offset, np.int64), np.asarray(block.shape, np.int64),
        np.asarray(center, np.float64), float(radius_v), pos, amat, half_ext, z_lo, z_hi,
        D_CUT)
    return i1, gap, int(fallback.sum())
