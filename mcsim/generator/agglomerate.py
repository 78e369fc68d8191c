"""Synthetic secondary particle: radially oriented plate-like TM(OH)2 grains, intergranular
pores and a surrounding lithium source, on a cubic voxel grid.

Geometry conventions
--------------------
* Arrays have shape ``(n, n, n)`` indexed ``[z, y, x]``; voxel ``(k, j, i)`` has its centre
  at coordinates ``(k, j, i)`` in voxel units.
* The particle sphere is centred at ``center_vox = ((n-1)/2,)*3`` with radius
  ``radius_vox = radius_um * 1000 / voxel_nm``; a voxel is *inside* when the distance of its
  centre from the centre is ``<= radius_vox``.

Algorithm (see :func:`generate_agglomerate`)
---------------------------------------------
1. Seed points in radial layers (spacing ~ grain length) with a Fibonacci pattern of
   randomly rotated, jittered points on each layer; each seed gets a frame
   (radial e_r, random tangential e_w, e_t = e_r x e_w) and a lognormal size factor.
2. Multiplicatively weighted anisotropic Voronoi tessellation: voxel -> seed minimising
   d^2 = sum_k (Delta . e_k / (s l_k))^2.  Implemented as a *scatter*: each seed visits
   the voxels of its ellipsoid d <= D_CUT, plane by plane, in a ``prange`` over z-planes
   (each plane owned by one thread, seeds visited in a fixed order: bit-identical results
   for any thread count).  The nearest and second-nearest seeds are kept per voxel.
3. Boundary gap = first-order real-space distance of the voxel from the bisector surface
   ``d2^2 - d1^2 = 0`` (voxels); the ``porosity`` quantile of the in-sphere voxels with the
   smallest gap become PORE (intergranular porosity, exact to one voxel).
4. Lithium source voxels from the Li:TM molar balance, as spherical particles around the
   surface or as a uniform shell.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numba
import numpy as np
from numba import prange

from mcsim import phases
from mcsim.errors import ConfigError

__all__ = ["Microstructure", "generate_agglomerate", "bench_generator", "summary"]

#: Largest allowed edge of the cubic grid (voxels).
MAX_GRID = 2048
#: Anisotropic-distance cut-off of the scatter pass.  Voxels reached by no seed within it
#: (rare) are resolved by a brute-force gather over all seeds.
D_CUT = 2.6
#: Named random sub-streams (Philox key = (seed, stage)).
_STAGES = {"layers": 1, "seed_points": 2, "frames": 3, "sizes": 4, "source": 5}

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


def _rng(seed: int, stage: str) -> np.random.Generator:
    """Independent Philox stream for one stochastic stage of the generator."""
    key = np.array([seed, _STAGES[stage]], dtype=np.uint64)
    return np.random.Generator(np.random.Philox(key=key))


# ==========================================================================================
# result container
# ==========================================================================================
@dataclass
class Microstructure:
    """Voxel microstructure of one secondary particle and its lithium source.

    Attributes
    ----------
    phase : numpy.ndarray of uint8, shape (n, n, n)
        Phase code per voxel (:mod:`mcsim.phases`), index order [z, y, x].
    grain : numpy.ndarray of int32, shape (n, n, n)
        Primary-grain id, 1..N on hydroxide voxels, 0 elsewhere.
    voxel_nm : float
        Voxel edge length, nm.
    radius_vox : float
        Particle radius, voxels.
    center_vox : tuple of float
        Particle centre (z, y, x), voxels.
    seed_points : numpy.ndarray of float64, shape (N, 3)
        Generating point (z, y, x; voxels) of grain ``i + 1`` in row ``i``.
    report : dict
        Measured statistics (plain python / numpy values), see :func:`generate_agglomerate`.
    """

    phase: np.ndarray
    grain: np.ndarray
    voxel_nm: float
    radius_vox: float
    center_vox: tuple
    seed_points: np.ndarray
    report: dict = field(default_factory=dict)

    @property
    def shape(self):
        """Grid shape (n, n, n)."""
        return self.phase.shape

    def summary(self) -> str:
        """Short human-readable text of :attr:`report`."""
        return summary(self.report)


def summary(report: dict) -> str:
    """Format a generator report as a few lines of text.

    Parameters
    ----------
    report : dict
        ``Microstructure.report``.

    Returns
    -------
    str
    """
    r = report
    req = r["requested"]
    g = r["grain_size"]
    lines = [
        f"grid {r['grid_n']}^3 at {r['voxel_nm']:g} nm, particle radius "
        f"{r['radius_um']:g} um ({r['radius_vox']:.1f} vox), generated in "
        f"{r['generation_time_s']:.2f} s",
        f"grains: {r['n_grains']} ({g['n_measured']} interior grains measured; grains "
        f"touching the surface excluded)",
        f"{'quantity':<22}{'requested':>12}{'achieved':>12}",
        f"{'porosity':<22}{req['porosity']:>12.3f}{r['porosity_overall']:>12.3f}",
        f"{'length / nm':<22}{req['grain_length_nm']:>12.1f}{g['length_nm']['mean']:>12.1f}",
        f"{'width / nm':<22}{req['grain_width_nm']:>12.1f}{g['width_nm']['mean']:>12.1f}",
        f"{'thickness / nm':<22}{req['grain_thickness_nm']:>12.1f}"
        f"{g['thickness_nm']['mean']:>12.1f}",
        f"{'mean grain size / nm':<22}{r['mean_grain_size_requested_nm']:>12.1f}"
        f"{r['mean_grain_size_nm']:>12.1f}",
        f"{'aspect L/T':<22}{req['grain_length_nm'] / req['grain_thickness_nm']:>12.2f}"
        f"{g['aspect']['mean']:>12.2f}",
        f"{'Li:TM':<22}{req['li_to_tm']:>12.3f}{r['li_to_tm_achieved']:>12.3f}",
        f"equivalent-sphere diameter {g['esd_nm_mean']:.1f} nm; radial alignment "
        f"<|cos|> = {g['radial_alignment_mean_abs_cos']:.3f}",
        f"source {r['li_source']} ({r['placement']}): {r['n_source_voxels']} voxels, "
        f"Li {r['li_mol']:.3e} mol, TM {r['tm_mol']:.3e} mol",
        "porosity by r/R: " + " ".join(f"{p:.2f}" for p in r["porosity_by_radius"]),
    ]
    return "\n".join(lines)


# ==========================================================================================
# numba kernels
# ==========================================================================================
@numba.njit(parallel=True, cache=True)
def _tessellate(n, center, radius, pos, amat, half_ext, z_lo, z_hi, dcut):
    """Nearest and second-nearest seed per in-sphere voxel (scatter over seed ellipsoids).

    Parameters
    ----------
    n : int
        Grid edge, voxels.
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
    i1, i2 : int32[n, n, n]
        Nearest / second-nearest seed index (-1: none found, or outside the sphere).
    d1, d2 : float32[n, n, n]
        Corresponding squared anisotropic distances.
    """
    i1 = np.full((n, n, n), -1, np.int32)
    i2 = np.full((n, n, n), -1, np.int32)
    d1 = np.full((n, n, n), np.inf, np.float32)
    d2 = np.full((n, n, n), np.inf, np.float32)
    nseed = pos.shape[0]
    c2 = dcut * dcut
    r2 = radius * radius
    for z in prange(n):
        dzc = z - center[0]
        rem = r2 - dzc * dzc
        if rem < 0.0:
            continue
        for s in range(nseed):
            if z < z_lo[s] or z > z_hi[s]:
                continue
            dz = z - pos[s, 0]
            a = amat[s]
            axx = a[2, 2]
            ylo = max(int(math.ceil(pos[s, 1] - half_ext[s, 1])), 0)
            yhi = min(int(math.floor(pos[s, 1] + half_ext[s, 1])), n - 1)
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
                xlo = max(int(math.ceil(max(xa, center[2] - sx))), 0)
                xhi = min(int(math.floor(min(xb, center[2] + sx))), n - 1)
                for x in range(xlo, xhi + 1):
                    dx = x - pos[s, 2]
                    dd = c0 + dx * (2.0 * b + axx * dx)
                    if dd < d1[z, y, x]:
                        d2[z, y, x] = d1[z, y, x]
                        i2[z, y, x] = i1[z, y, x]
                        d1[z, y, x] = dd
                        i1[z, y, x] = s
                    elif dd < d2[z, y, x]:
                        d2[z, y, x] = dd
                        i2[z, y, x] = s
    return i1, i2, d1, d2


@numba.njit(parallel=True, cache=True)
def _fill_missing(idx, pos, amat, i1, i2, d1, d2):
    """Brute-force nearest/second-nearest search for voxels ``idx`` (flat indices, rows of
    (z, y, x)) that the scatter pass left without a second-nearest seed."""
    nseed = pos.shape[0]
    for m in prange(idx.shape[0]):
        z = idx[m, 0]
        y = idx[m, 1]
        x = idx[m, 2]
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
                  + 2.0 * (a[0, 1] * dz * dy + a[0, 2] * dz * dx + a[1, 2] * dy * dx))
            if dd < b1:
                b2 = b1
                j2 = j1
                b1 = dd
                j1 = s
            elif dd < b2:
                b2 = dd
                j2 = s
        i1[z, y, x] = j1
        i2[z, y, x] = j2
        d1[z, y, x] = b1
        d2[z, y, x] = b2


@numba.njit(parallel=True, cache=True)
def _boundary_gap(center, radius, pos, amat, i1, i2, d1, d2):
    """First-order real-space distance (voxels) of each in-sphere voxel from the bisector
    surface f = d2^2 - d1^2 = 0 of its two nearest seeds: f / |grad f|.  Voxels outside the
    sphere get -1, voxels with a single seed in reach get +inf."""
    n = i1.shape[0]
    gap = np.full((n, n, n), -1.0, np.float32)
    r2 = radius * radius
    for z in prange(n):
        for y in range(n):
            for x in range(n):
                dzc = z - center[0]
                dyc = y - center[1]
                dxc = x - center[2]
                if dzc * dzc + dyc * dyc + dxc * dxc > r2:
                    continue
                s1 = i1[z, y, x]
                s2 = i2[z, y, x]
                if s2 < 0:
                    gap[z, y, x] = np.inf
                    continue
                g0 = 0.0
                g1 = 0.0
                g2 = 0.0
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
                f = float(d2[z, y, x]) - float(d1[z, y, x])
                gap[z, y, x] = f / gn if gn > 0.0 else np.inf
    return gap


@numba.njit(parallel=True, cache=True)
def _grain_moments(grain, ngrain, center, radius, nchunk):
    """Per-grain voxel count, first and second moments of (z, y, x) and a surface-contact
    flag (any voxel with r > radius - 1.5).  Accumulated in ``nchunk`` fixed z-slabs and
    summed in order, so the result does not depend on the thread count.

    Returns
    -------
    acc : float64[ngrain + 1, 10]
        count, Sz, Sy, Sx, Szz, Szy, Szx, Syy, Syx, Sxx.
    touch : bool[ngrain + 1]
    """
    n = grain.shape[0]
    part = np.zeros((nchunk, ngrain + 1, 10))
    tpart = np.zeros((nchunk, ngrain + 1), np.bool_)
    rs = (radius - 1.5) ** 2
    for c in prange(nchunk):
        z0 = c * n // nchunk
        z1 = (c + 1) * n // nchunk
        for z in range(z0, z1):
            for y in range(n):
                for x in range(n):
                    g = grain[z, y, x]
                    if g == 0:
                        continue
                    fz = float(z)
                    fy = float(y)
                    fx = float(x)
                    p = part[c, g]
                    p[0] += 1.0
                    p[1] += fz
                    p[2] += fy
                    p[3] += fx
                    p[4] += fz * fz
                    p[5] += fz * fy
                    p[6] += fz * fx
                    p[7] += fy * fy
                    p[8] += fy * fx
                    p[9] += fx * fx
                    dzc = fz - center[0]
                    dyc = fy - center[1]
                    dxc = fx - center[2]
                    if dzc * dzc + dyc * dyc + dxc * dxc > rs:
                        tpart[c, g] = True
    acc = np.zeros((ngrain + 1, 10))
    touch = np.zeros(ngrain + 1, np.bool_)
    for c in range(nchunk):
        acc += part[c]
        touch |= tpart[c]
    return acc, touch


@numba.njit(cache=True)
def _paint_sphere(phase, center, radius, sphere_c, sphere_r, code, budget):
    """Set free (PORE) voxels outside the particle sphere and inside the source sphere
    (centre ``center``, radius ``radius``, voxels) to ``code``, closest to the source centre
    first, at most ``budget`` voxels.  Returns the number painted."""
    n = phase.shape[0]
    r = radius
    lo = np.empty(3, np.int64)
    hi = np.empty(3, np.int64)
    for k in range(3):
        lo[k] = max(int(math.ceil(center[k] - r)), 0)
        hi[k] = min(int(math.floor(center[k] + r)), n - 1)
    nmax = (hi[0] - lo[0] + 1) * (hi[1] - lo[1] + 1) * (hi[2] - lo[2] + 1)
    if nmax <= 0:
        return 0
    cand = np.empty((nmax, 3), np.int64)
    dist = np.empty(nmax)
    m = 0
    rp2 = sphere_r * sphere_r
    for z in range(lo[0], hi[0] + 1):
        for y in range(lo[1], hi[1] + 1):
            for x in range(lo[2], hi[2] + 1):
                dd = (z - center[0]) ** 2 + (y - center[1]) ** 2 + (x - center[2]) ** 2
                if dd > r * r or phase[z, y, x] != 0:
                    continue
                dp = ((z - sphere_c[0]) ** 2 + (y - sphere_c[1]) ** 2
                      + (x - sphere_c[2]) ** 2)
                if dp <= rp2:
                    continue
                cand[m, 0] = z
                cand[m, 1] = y
                cand[m, 2] = x
                dist[m] = dd
                m += 1
    if m <= budget:
        take = m
        order = np.arange(m)
    else:
        take = budget
        order = np.argsort(dist[:m], kind="mergesort")
    for q in range(take):
        j = order[q]
        phase[cand[j, 0], cand[j, 1], cand[j, 2]] = code
    return take


# ==========================================================================================
# input checking
# ==========================================================================================
def _check_positive(key, value, allowed="a finite number > 0"):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(key, value, allowed) from None
    if not math.isfinite(v) or v <= 0:
        raise ConfigError(key, value, allowed)
    return v


def _validate(radius_um, voxel_nm, porosity, grain_length_nm, grain_width_nm,
              grain_thickness_nm, size_cv, li_source, li_to_tm, source_diameter_nm,
              placement, margin_nm, seed):
    r = _check_positive("particle.radius_um", radius_um)
    v = _check_positive("particle.voxel_nm", voxel_nm)
    try:
        p = float(porosity)
    except (TypeError, ValueError):
        raise ConfigError("particle.porosity", porosity, "a number in [0, 0.6]") from None
    if not (0.0 <= p <= 0.6):
        raise ConfigError("particle.porosity", porosity, "a number in [0, 0.6]")
    L = _check_positive("particle.grain_length_nm", grain_length_nm)
    W = _check_positive("particle.grain_width_nm", grain_width_nm)
    T = _check_positive("particle.grain_thickness_nm", grain_thickness_nm)
    if T < 2.0 * v:
        raise ConfigError("particle.grain_thickness_nm", grain_thickness_nm,
                          f">= 2 voxels ({2 * v:g} nm at voxel_nm={v:g})")
    if W < T:
        raise ConfigError("particle.grain_width_nm", grain_width_nm,
                          f">= grain_thickness_nm ({T:g} nm)")
    if L < W:
        raise ConfigError("particle.grain_length_nm", grain_length_nm,
                          f">= grain_width_nm ({W:g} nm)")
    if L > 2000.0 * r:
        raise ConfigError("particle.grain_length_nm", grain_length_nm,
                          f"<= the particle diameter ({2000 * r:g} nm)")
    try:
        cv = float(size_cv)
    except (TypeError, ValueError):
        raise ConfigError("particle.size_cv", size_cv,
                          f"a number in [0, {MAX_SIZE_CV}]") from None
    if not (0.0 <= cv <= MAX_SIZE_CV):
        raise ConfigError("particle.size_cv", size_cv,
                          f"a number in [0, {MAX_SIZE_CV}] (calibrated range)")
    if li_source not in ("LiOH", "Li2CO3"):
        raise ConfigError("lithium.source", li_source, "one of 'LiOH', 'Li2CO3'")
    try:
        q = float(li_to_tm)
    except (TypeError, ValueError):
        raise ConfigError("lithium.li_to_tm", li_to_tm, "a number in (0, 3]") from None
    if not (0.0 < q <= 3.0):
        raise ConfigError("lithium.li_to_tm", li_to_tm, "a number in (0, 3]")
    if placement not in ("particles", "shell"):
        raise ConfigError("lithium.placement", placement, "one of 'particles', 'shell'")
    d = _check_positive("lithium.source_diameter_nm", source_diameter_nm)
    if d < 2.0 * v:
        raise ConfigError("lithium.source_diameter_nm", source_diameter_nm,
                          f">= 2 voxels ({2 * v:g} nm)")
    if margin_nm is None:
        m = d + 2.0 * v
    else:
        try:
            m = float(margin_nm)
        except (TypeError, ValueError):
            raise ConfigError("particle.margin_nm", margin_nm, "a number >= 0") from None
        if not (math.isfinite(m) and m >= 0.0):
            raise ConfigError("particle.margin_nm", margin_nm, "a number >= 0")
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) \
            or not (0 <= int(seed) < 2 ** 64):
        raise ConfigError("seed", seed, "an integer in [0, 2**64)")
    n = int(math.ceil((2000.0 * r + 2.0 * m) / v - 1e-9))
    if n > MAX_GRID:
        raise ConfigError("particle.radius_um", radius_um,
                          f"a grid of at most {MAX_GRID}^3 voxels (this gives {n}^3 at "
                          f"voxel_nm={v:g}, margin {m:g} nm)")
    if r * 1000.0 / v < 2.0:
        raise ConfigError("particle.radius_um", radius_um, ">= 2 voxels")
    return r, v, p, L, W, T, cv, q, d, m, int(seed), n


# ==========================================================================================
# stages
# ==========================================================================================
def check_arguments(*, radius_um=1.0, voxel_nm=10.0, porosity=0.25, grain_length_nm=300.0,
                    grain_width_nm=150.0, grain_thickness_nm=50.0, size_cv=0.2, li_source="LiOH",
                    li_to_tm=1.05, source_diameter_nm=300.0, placement="particles",
                    margin_nm=None, seed=1) -> None:
    """Raise ConfigError for arguments :func:`generate_agglomerate` would refuse (same keys)."""
    _validate(radius_um, voxel_nm, porosity, grain_length_nm, grain_width_nm,
              grain_thickness_nm, size_cv, li_source, li_to_tm, source_diameter_nm, placement,
              margin_nm, seed)


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


def _grain_statistics(grain, ngrain, center, radius_v, voxel_nm):
    """Second-moment size statistics per grain (see generate_agglomerate)."""
    acc, touch = _grain_moments(grain, ngrain, np.asarray(center, np.float64),
                                float(radius_v), 16)
    acc = acc[1:]
    touch = touch[1:]
    cnt = acc[:, 0]
    mean = acc[:, 1:4] / cnt[:, None]
    cov = np.empty((ngrain, 3, 3))
    idx = [(0, 0, 4), (0, 1, 5), (0, 2, 6), (1, 1, 7), (1, 2, 8), (2, 2, 9)]
    for i, j, k in idx:
        c = acc[:, k] / cnt - mean[:, i] * mean[:, j]
        cov[:, i, j] = c
        cov[:, j, i] = c
    # a single voxel is a cube of side 1: add its own variance 1/12 per axis
    cov += np.eye(3)[None] / 12.0
    lam, vec = np.linalg.eigh(cov)  # ascending
    lam = np.maximum(lam, 0.0)
    axes = 2.0 * np.sqrt(5.0 * lam) * voxel_nm  # full axes, nm (thickness, width, length)
    length = axes[:, 2]
    width = axes[:, 1]
    thick = axes[:, 0]
    radial = mean - np.asarray(center)[None]
    rn = np.linalg.norm(radial, axis=1)
    cosr = np.abs(np.sum(vec[:, :, 2] * radial, axis=1)) / np.maximum(rn, 1e-12)
    vol_nm3 = cnt * voxel_nm ** 3
    esd = (6.0 * vol_nm3 / math.pi) ** (1.0 / 3.0)
    # interior grains: not touching the surface, >= 8 voxels, centroid beyond 0.3 R
    # (the radial direction is ill-defined very near the centre)
    interior = (~touch) & (cnt >= 8)
    inner_dir = interior & (rn > 0.3 * radius_v)

    def stats(a):
        a = np.asarray(a, float)
        if a.size == 0:
            return {"mean": float("nan"), "std": float("nan"), "p10": float("nan"),
                    "p50": float("nan"), "p90": float("nan")}
        p10, p50, p90 = np.percentile(a, [10, 50, 90])
        return {"mean": float(a.mean()), "std": float(a.std()), "p10": float(p10),
                "p50": float(p50), "p90": float(p90)}

    out = {
        "n_measured": int(interior.sum()),
        "n_touching_surface": int(touch.sum()),
        "excluded": "grains touching the particle surface (r > R - 1.5 voxels) and grains "
                    "below 8 voxels",
        "length_nm": stats(length[interior]),
        "width_nm": stats(width[interior]),
        "thickness_nm": stats(thick[interior]),
        "aspect": stats(length[interior] / np.maximum(thick[interior], 1e-12)),
        "esd_nm_mean": float(esd[interior].mean()) if interior.any() else float("nan"),
        "esd_nm_mean_all": float(esd.mean()) if ngrain else float("nan"),
        "radial_alignment_mean_abs_cos": float(cosr[inner_dir].mean())
        if inner_dir.any() else float("nan"),
        "volume_nm3": stats(vol_nm3),
    }
    per_grain = {"voxels": cnt.astype(np.int64), "length_nm": length, "width_nm": width,
                 "thickness_nm": thick, "centroid_vox": mean, "long_axis": vec[:, :, 2],
                 "touches_surface": touch, "radial_abs_cos": cosr}
    return out, per_grain


def _radial_coordinate(n, c, radius_v):
    """r / R of every voxel centre, float32 (n, n, n)."""
    zz, yy, xx = np.ogrid[:n, :n, :n]
    d = np.float32(1.0 / radius_v)
    z = ((zz - c) * d).astype(np.float32)
    y = ((yy - c) * d).astype(np.float32)
    x = ((xx - c) * d).astype(np.float32)
    return np.sqrt(z * z + y * y + x * x)


def _place_shell(phase, inside, rr2, target, code, n, radius_v, q):
    """Uniform shell: the ``target`` outside-particle voxels closest to the centre."""
    if target <= 0:
        return 0
    out_idx = np.flatnonzero(~inside.ravel())
    r_out = rr2.ravel()[out_idx]
    if target > out_idx.size:
        raise ConfigError("lithium.li_to_tm", q, "a source amount that fits in the box")
    sel = np.argpartition(r_out, target - 1)[:target]
    r_shell = math.sqrt(float(r_out[sel].max()))
    if r_shell > (n - 1) / 2.0:
        raise ConfigError("lithium.li_to_tm", q,
                          f"a source amount that fits in the box (the shell would reach "
                          f"r = {r_shell:.1f} voxels, the box half-width is {n / 2:.1f}; "
                          f"lower li_to_tm or raise particle.margin_nm)")
    phase.ravel()[out_idx[sel]] = code
    return int(target)


def _place_particles(phase, center, radius_v, dv, target, code, seed, q):
    """Spherical source particles of diameter ``dv`` voxels, centres at random directions
    at distance R + 0.4 dv; only free voxels outside the particle sphere are painted.  The
    last particle is trimmed (voxels nearest its centre kept) so the count is exact."""
    rng = _rng(seed, "source")
    rc = radius_v + 0.4 * dv
    count = 0
    fails = 0
    attempts = 0
    est = target / max(1.0, math.pi / 6.0 * dv ** 3 * 0.5)
    max_attempts = int(50 * est) + 2000
    while count < target:
        attempts += 1
        if fails > 300 or attempts > max_attempts:
            raise ConfigError("lithium.li_to_tm", q,
                              f"a source amount that fits around the particle (placed "
                              f"{count} of {target} source voxels; lower li_to_tm, use "
                              f"smaller source particles or placement='shell')")
        u = rng.standard_normal(3)
        u /= np.linalg.norm(u)
        cen = center + u * rc
        got = _paint_sphere(phase, cen, 0.5 * dv, center, radius_v, code, target - count)
        if got == 0:
            fails += 1
        else:
            fails = 0
        count += got
    return count


# ==========================================================================================
# public API
# ==========================================================================================
def generate_agglomerate(*, radius_um=1.0, voxel_nm=10.0, porosity=0.25,
                         grain_length_nm=300.0, grain_width_nm=150.0,
                         grain_thickness_nm=50.0, size_cv=0.2, li_source="LiOH",
                         li_to_tm=1.05, source_diameter_nm=300.0, placement="particles",
                         margin_nm=None, seed=1) -> Microstructure:
    """Generate a secondary particle of radially oriented TM(OH)2 plates with its Li source.

    Parameters
    ----------
    radius_um : float
        Secondary-particle radius R, µm.
    voxel_nm : float
        Voxel edge, nm.
    porosity : float
        Intergranular pore fraction of the particle sphere's volume, in [0, 0.6].
    grain_length_nm, grain_width_nm, grain_thickness_nm : float
        Requested mean full axes L >= W >= T of a primary grain, nm (L radial).  T must be
        at least 2 voxels.
    size_cv : float
        Coefficient of variation of the per-grain lognormal size factor, in [0, 0.4] (calibrated range).
    li_source : {"LiOH", "Li2CO3"}
        Lithium source phase.
    li_to_tm : float
        Molar Li:TM ratio of source to hydroxide, in (0, 3].
    source_diameter_nm : float
        Diameter of one source particle ("particles"), nm.
    placement : {"particles", "shell"}
        Spherical source particles touching the surface, or one uniform shell.
    margin_nm : float, optional
        Free space between the sphere and each box face, nm; default
        ``source_diameter_nm + 2 * voxel_nm``.  The grid edge is
        ``n = ceil((2 R + 2 margin) / voxel_nm)``.
    seed : int
        Seed of all random streams (Philox, one key per stage); same seed, same arrays.

    Returns
    -------
    Microstructure
        With ``report`` holding:

        * ``n_grains`` — grains with at least one voxel; ``grain_volume_nm3`` stats;
        * ``grain_size`` — per-grain full axes from second moments, 2 a_i with
          a_i = sqrt(5 λ_i) (λ_i eigenvalues of the covariance of the grain's voxel
          coordinates, exact for a solid ellipsoid): ``length_nm``, ``width_nm``,
          ``thickness_nm`` (largest, middle, smallest), ``aspect`` (= length/thickness),
          each with mean, std, p10, p50, p90, over *interior* grains (grains touching the
          sphere surface or below 8 voxels are excluded); ``esd_nm_mean`` (equivalent-
          sphere diameter); ``radial_alignment_mean_abs_cos`` (mean |cos| of the long axis
          with the radial direction, interior grains with centroid beyond 0.3 R; isotropic
          = 0.5);
        * ``mean_grain_size_nm`` — **the mean grain size**, defined as the mean of the
          three measured mean axes (length + width + thickness)/3, compared with
          ``mean_grain_size_requested_nm`` = (L + W + T)/3; ``grain_size_rel_error``
          gives the relative error of each axis and of the mean;
        * ``porosity_overall`` (pore voxels in the sphere / sphere voxels),
          ``porosity_by_radius`` and ``porosity_radius_edges`` (10 equal shells of r/R);
        * ``n_source_voxels``, ``tm_mol``, ``li_mol``, ``li_to_tm_achieved``;
        * ``generation_time_s`` (wall clock, s) and per-stage timings.

    Raises
    ------
    mcsim.errors.ConfigError
        For impossible inputs; the error names the config key (``particle.*``,
        ``lithium.*``, ``seed``).
    """
    t_start = time.perf_counter()
    (R_um, vox, por, L, W, T, cv, q, dsrc, margin, seed, n) = _validate(
        radius_um, voxel_nm, porosity, grain_length_nm, grain_width_nm,
        grain_thickness_nm, size_cv, li_source, li_to_tm, source_diameter_nm, placement,
        margin_nm, seed)
    timings = {}
    radius_v = R_um * 1000.0 / vox
    c = (n - 1) / 2.0
    center = np.array([c, c, c])
    # calibration of the measured mean axes for the size dispersion (see CAL_CV_SCALE)
    kcv = float(np.interp(cv, CAL_CV_GRID, CAL_CV_SCALE))
    Lv, Wv, Tv = L / vox / kcv, W / vox / kcv, T / vox / kcv

    # --- 1. seeds ------------------------------------------------------------------------
    t0 = time.perf_counter()
    rel = _seed_layout(radius_v, Lv, Wv, Tv, por, seed)
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
    timings["seeds_s"] = time.perf_counter() - t0

    # --- 2. tessellation -----------------------------------------------------------------
    t0 = time.perf_counter()
    i1, i2, d1, d2 = _tessellate(n, center, radius_v, pos, amat, half_ext, z_lo, z_hi,
                                 D_CUT)
    zz, yy, xx = np.ogrid[:n, :n, :n]
    rr2 = (zz - c) ** 2 + (yy - c) ** 2 + (xx - c) ** 2
    inside = rr2 <= radius_v * radius_v
    del zz, yy, xx
    miss = np.argwhere(inside & (i2 < 0))
    n_fallback = int(miss.shape[0])
    if n_fallback:
        _fill_missing(miss.astype(np.int64), pos, amat, i1, i2, d1, d2)
    timings["tessellation_s"] = time.perf_counter() - t0

    # --- 3. intergranular pores ----------------------------------------------------------
    t0 = time.perf_counter()
    gap = _boundary_gap(center, radius_v, pos, amat, i1, i2, d1, d2)
    del d1, d2, i2
    flat_in = np.flatnonzero(inside.ravel())
    n_sphere = flat_in.size
    k_pore = int(round(por * n_sphere))
    phase = np.zeros((n, n, n), np.uint8)
    phase[inside] = phases.HYDROXIDE
    if k_pore > 0:
        g_in = gap.ravel()[flat_in]
        sel = np.argpartition(g_in, k_pore - 1)[:k_pore] if k_pore < n_sphere \
            else np.arange(n_sphere)
        phase.ravel()[flat_in[sel]] = phases.PORE
        del g_in, sel
    del gap
    hyd = phase == phases.HYDROXIDE
    # compact grain ids 1..N in seed order, over seeds owning >= 1 hydroxide voxel
    owned = np.bincount(i1[hyd], minlength=nseed)
    keep = owned > 0
    remap = np.zeros(nseed, np.int32)
    remap[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    grain = np.zeros((n, n, n), np.int32)
    grain[hyd] = remap[i1[hyd]]
    del i1
    ngrain = int(keep.sum())
    seed_points = pos[keep].copy()
    timings["pores_s"] = time.perf_counter() - t0

    # --- 4. lithium source ---------------------------------------------------------------
    t0 = time.perf_counter()
    code = phases.LIOH if li_source == "LiOH" else phases.LI2CO3
    v_cm3 = (vox * 1e-7) ** 3
    n_hyd = int(hyd.sum())
    tm_mol = n_hyd * v_cm3 / phases.MOLAR_VOLUME_CM3[phases.HYDROXIDE]
    li_per_vox = v_cm3 / phases.MOLAR_VOLUME_CM3[code] * phases.LI_PER_FORMULA[code]
    target = int(round(q * tm_mol / li_per_vox))
    if placement == "shell":
        n_src = _place_shell(phase, inside, rr2, target, code, n, radius_v, q)
    else:
        n_src = _place_particles(phase, center, radius_v, dsrc / vox, target, code, seed, q)
    del rr2
    li_mol = n_src * li_per_vox
    timings["source_s"] = time.perf_counter() - t0

    # --- 5. report -----------------------------------------------------------------------
    t0 = time.perf_counter()
    gstats, per_grain = _grain_statistics(grain, ngrain, center, radius_v, vox)
    pore_in = (phase == phases.PORE) & inside
    edges = np.linspace(0.0, 1.0, 11)
    rnorm = _radial_coordinate(n, c, radius_v)
    shell = np.minimum((rnorm[inside] * 10).astype(np.int64), 9)
    tot = np.bincount(shell, minlength=10)
    por_r = np.bincount(shell, weights=pore_in[inside].astype(np.float64), minlength=10)
    por_by_r = np.where(tot > 0, por_r / np.maximum(tot, 1), np.nan)
    req_axes = np.array([L, W, T])
    got_axes = np.array([gstats["length_nm"]["mean"], gstats["width_nm"]["mean"],
                         gstats["thickness_nm"]["mean"]])
    mgs = float(got_axes.mean())
    mgs_req = float(req_axes.mean())
    timings["report_s"] = time.perf_counter() - t0
    report = {
        "grid_n": n, "voxel_nm": vox, "radius_um": R_um, "radius_vox": radius_v,
        "n_voxels": n ** 3, "n_sphere_voxels": int(n_sphere),
        "requested": {"porosity": por, "grain_length_nm": L, "grain_width_nm": W,
                      "grain_thickness_nm": T, "size_cv": cv, "li_to_tm": q,
                      "li_source": li_source, "placement": placement,
                      "source_diameter_nm": dsrc, "margin_nm": margin, "seed": seed},
        "n_seeds": int(nseed), "n_grains": ngrain,
        "grain_volume_nm3": gstats["volume_nm3"], "grain_size": gstats,
        "mean_grain_size_nm": mgs, "mean_grain_size_requested_nm": mgs_req,
        "grain_size_rel_error": {
            "length": float(got_axes[0] / L - 1), "width": float(got_axes[1] / W - 1),
            "thickness": float(got_axes[2] / T - 1), "mean": float(mgs / mgs_req - 1)},
        "porosity_overall": float(pore_in.sum() / n_sphere),
        "porosity_by_radius": por_by_r, "porosity_radius_edges": edges,
        "n_hydroxide_voxels": n_hyd, "n_source_voxels": int(n_src),
        "li_source": li_source, "placement": placement,
        "tm_mol": tm_mol, "li_mol": li_mol,
        "li_to_tm_achieved": float(li_mol / tm_mol) if tm_mol > 0 else float("nan"),
        "n_fallback_voxels": n_fallback,
        "per_grain": per_grain,
        "timings_s": timings,
    }
    report["generation_time_s"] = time.perf_counter() - t_start
    return Microstructure(phase=phase, grain=grain, voxel_nm=vox, radius_vox=radius_v,
                          center_vox=(c, c, c), seed_points=seed_points, report=report)


def bench_generator(n=256, seed=1) -> dict:
    """Time :func:`generate_agglomerate` on an ``n``^3 box at 10 nm voxels.

    The radius is chosen so that the default margin gives exactly ``n`` voxels per edge.
    The first call includes numba compilation (or cache loading).

    Parameters
    ----------
    n : int
        Grid edge, voxels.
    seed : int
        Generator seed.

    Returns
    -------
    dict
        ``n``, ``radius_um``, ``seconds`` (wall clock, s), ``voxels_per_s``, ``n_grains``,
        ``porosity``, ``li_to_tm``.
    """
    vox = 10.0
    margin = 300.0 + 2 * vox
    radius_um = ((n - 0.5) * vox - 2 * margin) / 2000.0
    t0 = time.perf_counter()
    m = generate_agglomerate(radius_um=radius_um, voxel_nm=vox, seed=seed)
    dt = time.perf_counter() - t0
    assert m.phase.shape == (n, n, n)
    return {"n": n, "radius_um": radius_um, "seconds": dt, "voxels_per_s": n ** 3 / dt,
            "n_grains": m.report["n_grains"], "porosity": m.report["porosity_overall"],
            "li_to_tm": m.report["li_to_tm_achieved"]}
