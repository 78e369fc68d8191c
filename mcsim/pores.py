"""Pore and grain statistics of a voxel particle: porosity, pores by class, size distributions,
local thickness, nanopore densities and grain sizes.

Everything is computed from the ``phase`` and ``grain`` fields (interior arrays, no halo,
shape (nz, ny, nx)), the particle centre ``center_vox`` (z, y, x), its radius ``radius_vox``
and the voxel edge ``voxel_nm``; :func:`pore_statistics` returns one dict ready for
``ResultWriter.write_group``, and :data:`SCALARS` names the entries the engine appends to the
time series.

Definitions
-----------
* A voxel is *inside* the particle when its centre lies at ``r <= R`` from the particle
  centre (R: the particle's initial radius) and, with ``outline="tags"`` (what the engine
  uses), it is not a voxel of the outside world: a pore or lithium-source voxel with grain
  id 0, the engine's tag of everything outside the particle (pores inside carry -1 or a
  grain id, :mod:`mcsim.state`). A particle that densifies gives up outer-surface voxels to
  the outside, so porosity and densities then follow its current outline within R rather
  than the whole sphere. ``outline="sphere"`` (the default, for arrays without the engine's
  tags, such as a generated microstructure) takes every voxel with ``r <= R``. Inside voxels
  are binned into 10 equal shells of r/R (shell ``b`` holds ``b/10 <= r/R < (b+1)/10``,
  r = R in the outermost), as in :mod:`mcsim.diagnostics`. Core = r/R < 0.5, shell =
  r/R >= 0.7, centre = r/R < 0.3.
* A *pore* is a face-connected (6-connected) component of pore voxels (phase 0; with
  ``amount`` given, also used-up sources, see below) inside the particle. The other pore
  voxels are the outside world; the sphere must lie inside the array, and the array's faces
  count as outside.
* Class of a pore (uint8 code, names in :data:`PORE_CLASS_NAMES`): ``open`` (2) when a pore
  voxel of it shares a face with an outside pore voxel; otherwise ``intragranular`` (0) when
  every non-pore voxel sharing a face with it is a transition-metal voxel (hydroxide, rock
  salt, layered) of one and the same grain id > 0; ``intergranular`` (1) otherwise (two or
  more grains, or a lithium-source neighbour). *Nanopores* are the intragranular pores;
  *voids* the intergranular and open ones. The engine's own tag on pore voxels (``grain`` =
  -1 or the grain's id) is not used: the class follows from the geometry alone.
* Pore surface: faces between a pore voxel and a non-pore voxel (any solid, lithium sources
  included), times ``voxel_nm**2``. Faces between inside and outside pore voxels are not
  surface, so the particle's outer surface is never counted. The internal surface per unit
  solid volume divides the surface of all pores by the volume of the non-pore voxels inside
  the particle.
* Equivalent diameter of a pore or grain of volume V: ``(6 V / pi)**(1/3)``.

Local thickness
---------------
The local thickness of a pore voxel (Hildebrand & Ruegsegger 1997, J. Microsc. 185, 67;
Muench & Holzer 2008, J. Am. Ceram. Soc. 91, 4059) is the diameter of the largest ball that
lies in the pore space and contains the voxel. On the lattice a ball is the set of voxel
centres within ``rho`` of a voxel centre ``c``; it lies in the pore space exactly when
``dt(c) > rho``, ``dt`` being the Euclidean distance from ``c`` to the nearest non-pore voxel
centre, and it is given the diameter ``D = 2 rho`` (its voxel count is about pi D^3 / 6, a
slab of t voxels holds balls of diameter t, a digitised ball of odd diameter d is one ball of
diameter d). For each diameter ``D_k`` of a fixed grid (1, 2, ..., 16 voxels, then steps of
2^(1/8)) the opening of the pore space is ``O_k = {x : dist(x, S_k) <= D_k / 2}`` with
``S_k = {dt > D_k / 2}`` -- one distance transform per diameter, until ``S_k`` is empty -- and
a voxel's local thickness is the largest ``D_k`` whose opening holds it (so it is quantised
down to the grid; exact for slabs and odd-diameter balls and cylinders centred on a voxel,
one voxel short for even thicknesses, whose best ball would be centred between voxels).
Squared distances are compared as int32, exactly.

PoreSpy's convention (``porespy.filters.local_thickness`` with its default arguments,
``thickness_convention="porespy"`` / ``convention="porespy"`` here) labels a voxel with the
*radius* r, an integer, of the largest sphere holding it; a sphere of radius r centred on c
fits when ``dt(c) >= r`` and holds the voxels with ``|x - c| < r`` (strict), so it spans
2 r - 1 voxels. Same openings, other thresholds: ``dt^2 >= r^2`` and ``|x - c|^2 <= r^2 - 1``
for r = 1, 2, ... A digitised ball 5 voxels across (centres within 2.5 of its centre) is 5
here and r = 2 there (dt = sqrt(8) at its centre: the largest PoreSpy sphere in it is the
3 x 3 x 3-voxel one); a slab of t voxels is t (odd t) or t - 1 (even t) here and
ceil(t / 2) there.

Used-up lithium sources: with ``amount`` given, a source voxel (LiOH, Li2O, Li2CO3) whose
amount is 0 holds no solid and counts as a pore (:func:`mcsim.diagnostics.reported_phase`).

Cost and memory
---------------
Work is restricted to the particle's bounding box plus one voxel (the *box*). The distance
transforms (``scipy.ndimage.distance_transform_edt`` asked for the feature transform only,
squared distances formed in place in int32, never float64) run on z-slabs of the box (48
planes plus a halo: 8 planes for the pore distance map, widened where a distance exceeds it;
``floor(D/2)`` planes for an opening), and for D > 1 only on the y-x window around ``S_k``, so
their scratch is bounded by one slab, not the box. Held per box voxel: shell index (uint8),
inside-pore mask (bool), pore labels (int32), squared distance (int32), local-thickness bin
(uint8) -- 11 B; while pores are classified, up to 5 B of boolean masks instead of the last
two. Scratch of one distance transform: about 25 B per slab voxel (feature transform 12 B,
scipy's int64 and int8 copies of the mask 9 B, squared distance 4 B). Peak extra memory is
therefore about **11 B per box voxel + 25 B per slab voxel** (slab = 64 planes of the box),
plus O(pore voxels) index arrays in 2-Mvoxel chunks and 3 B per array voxel for the grain
census after the rest is freed; measured on a 256^3 particle (box 244^3, about 4 x 10^4
pores): 17 B per box voxel, 233 MiB. The inputs are not copied unless the box must be padded
at the array's faces. Time is dominated by the distance transforms: one for the pore
distance map and one per grid diameter below the largest inscribed ball.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from mcsim import phases as ph
from mcsim.diagnostics import CORE_MAX, N_RADIAL_BINS, SHELL_MIN, reported_phase
from mcsim.errors import ConfigError

__all__ = ["pore_statistics", "porosity_profile", "find_pores", "local_thickness",
           "thickness_grid_vox", "THICKNESS_CONVENTIONS", "grain_statistics", "SCALARS",
           "SCALAR_UNITS",
           "PORE_CLASS_NAMES", "INTRAGRANULAR", "INTERGRANULAR", "OPEN"]

#: Pore class codes of ``pores/pore_class``.
INTRAGRANULAR = 0
INTERGRANULAR = 1
OPEN = 2
#: Names of the pore class codes, in code order.
PORE_CLASS_NAMES = ("intragranular", "intergranular", "open")

#: The central sphere of the central void fraction, in r/R.
CENTRAL_MAX = 0.3
#: Log-spaced bins of the equivalent-diameter histograms (one voxel to the particle diameter).
N_SIZE_BINS = 24
#: Shell index of voxels outside the particle sphere.
_OUTSIDE = 255
#: z-planes of a distance-transform slab.
_SLAB = 48
#: Voxels per chunk of the per-pore centroid sums.
_CHUNK_VOXELS = 1 << 21

#: Scalar outcomes the engine appends to the time series (top-level keys of the result).
SCALARS = (
    "porosity", "nanopore_fraction", "void_fraction", "open_fraction",
    "nanopore_count", "void_count",
    "nanopore_density_core_per_um3", "nanopore_density_shell_per_um3",
    "central_void_fraction", "internal_surface_per_um",
    "nanopore_mean_diameter_nm", "void_mean_diameter_nm",
    "mean_grain_nm", "grain_count",
)

#: Units and one-line descriptions of :data:`SCALARS` (for ``ResultWriter.describe``).
SCALAR_UNITS = {
    "porosity": ("1", "pore voxels inside the particle (r <= R, not outside) / voxels inside"),
    "nanopore_fraction": ("1", "intragranular-pore voxels / voxels inside the particle"),
    "void_fraction": ("1", "intergranular + open pore voxels / voxels inside the particle"),
    "open_fraction": ("1", "open pore voxels (connected to the outside) / voxels inside"),
    "nanopore_count": ("1", "intragranular pores (nanopores)"),
    "void_count": ("1", "intergranular + open pores (voids)"),
    "nanopore_density_core_per_um3": ("1/um^3", "nanopores with centroid r/R < 0.5 per um^3 "
                                      "of particle volume there"),
    "nanopore_density_shell_per_um3": ("1/um^3", "nanopores with centroid r/R >= 0.7 per "
                                       "um^3 of particle volume there"),
    "central_void_fraction": ("1", "void (non-intragranular) pore volume within r < 0.3 R / "
                              "volume there"),
    "internal_surface_per_um": ("1/um", "pore-solid face area of all pores / solid volume "
                                "inside the particle"),
    "nanopore_mean_diameter_nm": ("nm", "mean equivalent diameter of nanopores (NaN if none)"),
    "void_mean_diameter_nm": ("nm", "mean equivalent diameter of voids (NaN if none)"),
    "mean_grain_nm": ("nm", "mean equivalent diameter of grains (NaN if none)"),
    "grain_count": ("1", "distinct grain ids > 0 on transition-metal voxels"),
}

_TM_LUT = np.zeros(256, dtype=bool)
_TM_LUT[list(ph.TM_PHASES)] = True


# ==========================================================================================
# input and geometry
# ==========================================================================================
def _check_inputs(phase, grain, center_vox, radius_vox, voxel_nm):
    phase = np.asarray(phase)
    grain = np.asarray(grain)
    if phase.ndim != 3 or phase.dtype.kind not in "ui":
        raise ConfigError("phase", f"{phase.dtype} array of shape {phase.shape}",
                          "must be a 3-D integer (uint8) array")
    if grain.shape != phase.shape or grain.dtype.kind not in "ui":
        raise ConfigError("grain", f"{grain.dtype} array of shape {grain.shape}",
                          f"must be an integer array of the phase field's shape {phase.shape}")
    if phase.size and (phase.min() < 0 or phase.max() >= ph.N_PHASES):
        raise ConfigError("phase", f"values {phase.min()}..{phase.max()}",
                          f"phase codes must be in [0, {ph.N_PHASES - 1}]")
    try:
        center = tuple(float(c) for c in center_vox)
    except (TypeError, ValueError):
        center = ()
    if len(center) != 3 or not all(math.isfinite(c) for c in center):
        raise ConfigError("center_vox", center_vox, "must be three finite numbers (z, y, x)")
    if not (isinstance(radius_vox, (int, float, np.integer, np.floating))
            and math.isfinite(radius_vox) and radius_vox > 0):
        raise ConfigError("radius_vox", radius_vox, "must be a finite number > 0")
    if not (isinstance(voxel_nm, (int, float, np.integer, np.floating))
            and math.isfinite(voxel_nm) and voxel_nm > 0):
        raise ConfigError("voxel_nm", voxel_nm, "must be a finite number > 0")
    for c, n in zip(center, phase.shape):
        if math.ceil(c - radius_vox) < 0 or math.floor(c + radius_vox) > n - 1:
            raise ConfigError("radius_vox", radius_vox,
                              f"the particle sphere (centre {center}) must lie inside the "
                              f"array of shape {phase.shape}")
    return phase, grain, center, float(radius_vox), float(voxel_nm)


def _box(phase, grain, center, radius):
    """The particle's bounding box plus one voxel: views (padded copies at array faces)."""
    lo = [math.floor(c - radius) - 1 for c in center]
    hi = [math.ceil(c + radius) + 2 for c in center]
    sl = tuple(slice(max(a, 0), min(b, n)) for a, b, n in zip(lo, hi, phase.shape))
    pad = [(max(0, -a), max(0, b - n)) for a, b, n in zip(lo, hi, phase.shape)]
    p, g = phase[sl], grain[sl]
    if any(a or b for a, b in pad):
        p = np.pad(p, pad)  # pore, grain 0: outside the sphere by construction
        g = np.pad(g, pad)
    return p, g, tuple(lo)


def _shell_index(shape, origin, center, radius, nbins=N_RADIAL_BINS):
    """uint8 shell of r/R per voxel of the box (0..nbins-1), :data:`_OUTSIDE` beyond r = R."""
    out = np.full(shape, _OUTSIDE, dtype=np.uint8)
    dy = np.arange(shape[1]) + origin[1] - center[1]
    dx = np.arange(shape[2]) + origin[2] - center[2]
    dyx2 = dy[:, None] ** 2 + dx[None, :] ** 2
    r2max = radius * radius
    inv_r = 1.0 / radius
    for k in range(shape[0]):
        dz = k + origin[0] - center[0]
        d2 = dyx2 + dz * dz
        inside = d2 <= r2max
        b = np.minimum((np.sqrt(d2) * inv_r * nbins).astype(np.int64), nbins - 1)
        out[k][inside] = b[inside]
    return out


def porosity_profile(pore, shell, nbins=N_RADIAL_BINS):
    """Overall porosity and porosity in shells of r/R.

    Parameters
    ----------
    pore : numpy.ndarray of bool
        Pore voxels.
    shell : numpy.ndarray of uint8
        Shell index per voxel (0..nbins-1 inside the particle, 255 outside).
    nbins : int
        Number of shells.

    Returns
    -------
    porosity : float
        Pore voxels inside / voxels inside.
    by_shell : numpy.ndarray of float64, (nbins,)
        The same per shell (0 for an empty shell).
    shell_voxels : numpy.ndarray of int64, (nbins,)
        Voxels per shell: ``sum(by_shell * shell_voxels) / sum(shell_voxels) == porosity``.
    """
    total = np.bincount(shell.ravel(), minlength=256)[:nbins]
    pores = np.bincount(shell[pore], minlength=256)[:nbins]
    by_shell = pores / np.maximum(total, 1)
    return float(pores.sum() / max(total.sum(), 1)), by_shell, total.astype(np.int64)


# ==========================================================================================
# pores
# ==========================================================================================
def _face_pairs(axis):
    """Index pairs (this side, neighbour side) of the faces normal to ``axis``, both ways."""
    a = [slice(None)] * 3
    b = [slice(None)] * 3
    a[axis] = slice(0, -1)
    b[axis] = slice(1, None)
    return ((tuple(a), tuple(b)), (tuple(b), tuple(a)))


def find_pores(phase, grain, shell, origin=(0, 0, 0)):
    """Label and classify the pores inside the particle.

    Parameters
    ----------
    phase, grain : numpy.ndarray
        Phase codes and grain ids of the box (see :func:`pore_statistics`).
    shell : numpy.ndarray of uint8
        Shell index (255 outside the particle); must contain a layer of outside voxels
        around the particle.
    origin : tuple of int
        Global voxel index of the box's first voxel (for the centroids).

    Returns
    -------
    labels : numpy.ndarray of int32
        Pore label per voxel (1..n inside pores, 0 elsewhere).
    table : dict
        Per-pore arrays (length n, pore ``i`` has label ``i + 1``): ``volume_voxels``
        (int64), ``surface_faces`` (int64, pore-solid faces), ``centroid_vox`` ((n, 3)
        float64, global z, y, x), ``pore_class`` (uint8 codes), ``grain_id`` (int64, the
        enclosing grain of an intragranular pore, else 0).
    """
    pore = phase == ph.PORE
    inside_pore = pore & (shell != _OUTSIDE)
    labels, n = ndimage.label(inside_pore)
    labels = labels.astype(np.int32, copy=False)
    del inside_pore
    outside_pore = pore & (shell == _OUTSIDE)
    del pore

    faces = np.zeros(n + 1, dtype=np.int64)
    kmin = np.full(n + 1, np.iinfo(np.int64).max, dtype=np.int64)
    kmax = np.full(n + 1, -1, dtype=np.int64)
    is_open = np.zeros(n + 1, dtype=bool)
    for axis in range(3):
        for this, other in _face_pairs(axis):
            lab = labels[this]
            has = lab > 0
            p_other = phase[other]
            m = has & (p_other != ph.PORE)
            lab_f = lab[m]
            faces += np.bincount(lab_f, minlength=n + 1)
            g = grain[other][m].astype(np.int64)
            # key of the neighbouring solid: its grain id for a TM voxel of a grain, else 0,
            # which no single-grain enclosure can have
            key = np.where(_TM_LUT[p_other[m]] & (g > 0), g, 0)
            np.minimum.at(kmin, lab_f, key)
            np.maximum.at(kmax, lab_f, key)
            del m, lab_f, g, key
            m = has & outside_pore[other]
            is_open[lab[m]] = True
            del m, has
    del outside_pore

    intra = (kmin == kmax) & (kmax > 0)
    cls = np.where(is_open, OPEN, np.where(intra, INTRAGRANULAR, INTERGRANULAR)).astype(np.uint8)
    volume, sums = _label_sums(labels, n)
    centroid = sums / np.maximum(volume, 1)[:, None] + np.asarray(origin, dtype=np.float64)
    table = {
        "volume_voxels": volume,
        "surface_faces": faces[1:],
        "centroid_vox": centroid,
        "pore_class": cls[1:],
        "grain_id": np.where(cls[1:] == INTRAGRANULAR, kmin[1:], 0),
    }
    return labels, table


def _label_sums(labels, n):
    """Voxel count and summed (z, y, x) box coordinates per label 1..n, in chunks of planes."""
    nz, ny, nx = labels.shape
    count = np.zeros(n + 1, dtype=np.int64)
    sums = np.zeros((n + 1, 3), dtype=np.float64)
    step = max(1, _CHUNK_VOXELS // max(ny * nx, 1))
    for z0 in range(0, nz, step):
        chunk = labels[z0:z0 + step]
        idx = np.flatnonzero(chunk)
        lab = chunk.ravel()[idx]
        count += np.bincount(lab, minlength=n + 1)
        for a, coord in enumerate(np.unravel_index(idx, chunk.shape)):
            w = coord.astype(np.float64) + (z0 if a == 0 else 0)
            sums[:, a] += np.bincount(lab, weights=w, minlength=n + 1)
    return count[1:], sums[1:]


# ==========================================================================================
# local thickness
# ==========================================================================================
def thickness_grid_vox(max_diameter_vox):
    """Diameters of the local-thickness grid, voxels: 1..16, then steps of 2^(1/8), rounded.

    The grid ends with the first diameter above ``max_diameter_vox``; bin ``k`` of a
    local-thickness histogram is ``[D_k, D_k+1)``.
    """
    d = list(range(1, 17))
    j = 1
    while d[-1] <= max_diameter_vox:
        nxt = int(round(16 * 2 ** (j / 8)))
        if nxt > d[-1]:
            d.append(nxt)
        j += 1
    return np.array(d, dtype=np.int64)


def _sq_edt(fg):
    """int32 squared Euclidean distance of each voxel to the nearest False voxel of ``fg``.

    Uses scipy's feature transform (int32) and forms the squared distance in place, so no
    float64 array is made. ``fg`` must hold at least one False voxel.
    """
    shape = fg.shape
    ft = np.empty((3,) + shape, dtype=np.int32)
    ndimage.distance_transform_edt(fg, return_distances=False, return_indices=True, indices=ft)
    d2 = np.zeros(shape, dtype=np.int32)
    for a in range(3):
        coord = np.arange(shape[a], dtype=np.int32).reshape([-1 if i == a else 1 for i in range(3)])
        f = ft[a]
        np.subtract(f, coord, out=f)
        np.multiply(f, f, out=f)
        d2 += f
    return d2


def _pore_sq_distance(pore, slab=_SLAB, halo=8):
    """Squared distance of pore voxels to the nearest non-pore voxel (0 on non-pore), in slabs.

    A slab is solved with ``halo`` planes either side; where a result exceeds the halo the
    slab is solved again with a halo as large as that result (a distance computed on a
    sub-range is never below the true one, and equals it whenever it is within the halo).
    """
    nz = pore.shape[0]
    if pore.all():
        raise ValueError("local thickness needs at least one non-pore voxel")
    d2 = np.empty(pore.shape, dtype=np.int32)
    for z0 in range(0, nz, slab):
        z1 = min(z0 + slab, nz)
        h = halo
        while True:
            a, b = max(0, z0 - h), min(nz, z1 + h)
            full = a == 0 and b == nz
            region = pore[a:b]
            if region.all():
                h *= 2
                continue
            d = _sq_edt(region)[z0 - a:z1 - a]
            worst = int(d.max())
            if full or worst <= h * h:
                d2[z0:z1] = d
                break
            h = math.isqrt(worst - 1) + 1
    return d2


def _opening_levels(pore, d2, seed_min, cover_max, slab=_SLAB):
    """Level of each pore voxel: the largest ``k`` such that the voxel lies within squared
    distance ``cover_max[k]`` of a voxel whose squared distance ``d2`` to the non-pore voxels
    is at least ``seed_min[k]`` (the opening of the pore space by the k-th ball). Level 0 is
    every pore voxel; non-pore voxels hold 0. ``seed_min`` and ``cover_max`` are increasing
    integers. A uint8 (uint16 beyond 255 levels) array of ``pore``'s shape."""
    n = len(seed_min)
    if n > 65535:
        raise ValueError("at most 65535 local-thickness levels")
    lt = np.zeros(pore.shape, dtype=np.uint8 if n <= 256 else np.uint16)
    nz = pore.shape[0]
    d2max = int(d2.max()) if d2.size else 0
    for k in range(1, n):
        smin, cmax = int(seed_min[k]), int(cover_max[k])
        if d2max < smin:  # no ball of level k fits anywhere
            break
        h = math.isqrt(cmax)  # the ball reaches this many planes beyond its centre
        for z0 in range(0, nz, slab):
            z1 = min(z0 + slab, nz)
            a, b = max(0, z0 - h), min(nz, z1 + h)
            seeds = d2[a:b] >= smin  # centres of the balls that fit
            if not seeds.any():
                continue
            ys = np.flatnonzero(seeds.any(axis=(0, 2)))
            xs = np.flatnonzero(seeds.any(axis=(0, 1)))
            y0, y1 = max(0, ys[0] - h), min(pore.shape[1], ys[-1] + h + 1)
            x0, x1 = max(0, xs[0] - h), min(pore.shape[2], xs[-1] + h + 1)
            dist2 = _sq_edt(~seeds[:, y0:y1, x0:x1])[z0 - a:z1 - a]
            lt[z0:z1, y0:y1, x0:x1][dist2 <= cmax] = k
    return lt


def _thickness_bins(pore, diam_vox, slab=_SLAB):
    """Local-thickness bin (uint8 index into ``diam_vox``) of each pore voxel, and the
    squared distance map. Non-pore voxels hold 0 (mask them with ``pore``).

    The mcsim convention: a ball of diameter D centred on voxel c is the voxel centres within
    D/2 of c; it fits when 4 dt(c)^2 > D^2 and holds the voxels with 4 |x - c|^2 <= D^2. In
    integers: ``d2 >= D^2 // 4 + 1`` and ``|x - c|^2 <= D^2 // 4``."""
    if len(diam_vox) > 255:
        raise ValueError("at most 255 local-thickness diameters")
    d2 = _pore_sq_distance(pore, slab)
    quarter = np.asarray(diam_vox, dtype=np.int64) ** 2 // 4
    return _opening_levels(pore, d2, quarter + 1, quarter, slab), d2


def _porespy_levels(pore, slab=_SLAB):
    """PoreSpy's convention (``porespy.filters.local_thickness``, default arguments): level
    ``r - 1`` for radius r = 1, 2, ...; a sphere of integer radius r centred on voxel c fits
    when dt(c) >= r and holds the voxels with |x - c| < r. In integers: ``d2 >= r^2`` and
    ``|x - c|^2 <= r^2 - 1``. Returns the levels and the squared distance map."""
    d2 = _pore_sq_distance(pore, slab)
    r_max = max(1, math.isqrt(int(d2.max()) if d2.size else 0))
    r = np.arange(1, r_max + 1, dtype=np.int64)
    return _opening_levels(pore, d2, r * r, r * r - 1, slab), d2


#: The local-thickness conventions of :func:`local_thickness` and :func:`pore_statistics`.
THICKNESS_CONVENTIONS = ("mcsim", "porespy")


def _check_convention(convention, key):
    if convention not in THICKNESS_CONVENTIONS:
        raise ConfigError(key, convention,
                          'must be "mcsim" (ball diameter, voxels) or "porespy" (PoreSpy\'s '
                          'sphere radius, voxels)')


def local_thickness(pore, diameters_vox=None, *, convention="mcsim"):
    """Local thickness of every pore voxel, voxels, in one of two conventions.

    ``convention="mcsim"`` (the default) gives the *diameter* of the largest lattice ball in
    the pore space that holds the voxel, quantised down to a diameter grid: a ball of
    diameter D is the voxel centres within D/2 of a voxel centre (see the module docstring),
    so a digitised ball of odd diameter d, a slab of odd thickness t and a cylinder of odd
    diameter d measure d, t and d. ``convention="porespy"`` gives, voxel for voxel, what
    ``porespy.filters.local_thickness(pore)`` gives with its default arguments: the *radius*
    r (an integer) of the largest sphere that holds the voxel, a sphere of radius r centred
    on voxel c fitting when the Euclidean distance from c to the nearest non-pore voxel is
    at least r and holding the voxels at a distance strictly below r. That sphere spans
    2 r - 1 voxels: a digitised ball 5 voxels across measures 5 in the mcsim convention and
    r = 2 in PoreSpy's (its largest sphere is 3 voxels across).

    Parameters
    ----------
    pore : numpy.ndarray of bool, 3-D
        The pore space. Distances are measured to the non-pore voxels of the array only
        (the array's faces are not walls: pad with False to close them); at least one
        voxel must be False.
    diameters_vox : array_like of int, optional
        ``"mcsim"`` only: increasing diameter grid starting at 1; default
        :func:`thickness_grid_vox` up to the largest possible diameter. PoreSpy's
        convention uses every integer radius from 1 to the largest that fits.
    convention : {"mcsim", "porespy"}
        Which measure to return (see above).

    Returns
    -------
    numpy.ndarray of float32
        Per pore voxel the mcsim diameter or the PoreSpy radius, voxels; 0 on non-pore
        voxels.

    Examples
    --------
    >>> slab = np.zeros((9, 4, 4), bool); slab[2:7] = True
    >>> float(local_thickness(slab)[2:7].min())
    5.0
    >>> float(local_thickness(slab, convention="porespy")[2:7].max())
    3.0
    """
    _check_convention(convention, "convention")
    pore = np.asarray(pore, dtype=bool)
    if pore.ndim != 3:
        raise ConfigError("pore", f"shape {pore.shape}", "must be a 3-D boolean array")
    if convention == "porespy":
        if diameters_vox is not None:
            raise ConfigError("diameters_vox", diameters_vox,
                              'must be None with convention="porespy" (every integer radius '
                              "is used)")
        lt, _ = _porespy_levels(pore)
        out = (lt.astype(np.float32) + 1.0)
        out[~pore] = 0
        return out
    if diameters_vox is None:
        diameters_vox = thickness_grid_vox(2 * math.sqrt(max(pore.shape) ** 2 * 3) + 2)
    diameters_vox = np.asarray(diameters_vox, dtype=np.int64)
    if (diameters_vox.ndim != 1 or diameters_vox.size < 1 or diameters_vox[0] != 1
            or np.any(np.diff(diameters_vox) <= 0)):
        raise ConfigError("diameters_vox", diameters_vox.tolist(),
                          "must be increasing integers starting at 1")
    lt, _ = _thickness_bins(pore, diameters_vox)
    out = diameters_vox[lt].astype(np.float32)
    out[~pore] = 0
    return out


# ==========================================================================================
# grains
# ==========================================================================================
def grain_statistics(phase, grain, voxel_nm, edges_nm):
    """Grain count, per-grain volume and equivalent diameter, mean size and histogram.

    Parameters
    ----------
    phase, grain : numpy.ndarray
        Phase codes and grain ids; grains are the distinct ids > 0 on transition-metal
        voxels (hydroxide, rock salt, layered).
    voxel_nm : float
        Voxel edge, nm.
    edges_nm : numpy.ndarray
        Histogram bin edges of the equivalent diameter, nm.

    Returns
    -------
    dict
        ``grain_count``, ``mean_grain_nm`` (mean equivalent diameter, NaN without grains),
        ``grains`` (``grain_id``, ``volume_voxels``, ``volume_nm3``,
        ``equivalent_diameter_nm``) and ``histogram`` (``edges_nm``, ``count``,
        ``volume_fraction``).
    """
    ids = grain[_TM_LUT[phase] & (grain > 0)]
    if ids.size and int(ids.max()) <= 4 * ids.size + 1024:
        counts = np.bincount(ids)
        gid = np.flatnonzero(counts)
        vol = counts[gid]
    else:
        gid, vol = np.unique(ids, return_counts=True)
    vol = vol.astype(np.int64)
    vol_nm3 = vol * voxel_nm ** 3
    diam = _equivalent_diameter(vol_nm3)
    count, vfrac = _histogram(diam, vol_nm3, edges_nm)
    return {
        "grain_count": int(gid.size),
        "mean_grain_nm": float(diam.mean()) if diam.size else math.nan,
        "grains": {"grain_id": gid.astype(np.int64), "volume_voxels": vol,
                   "volume_nm3": vol_nm3, "equivalent_diameter_nm": diam},
        "histogram": {"edges_nm": edges_nm, "count": count, "volume_fraction": vfrac},
    }


def _equivalent_diameter(volume_nm3):
    return np.cbrt(6.0 * np.asarray(volume_nm3, dtype=np.float64) / math.pi)


def _histogram(values, volumes, edges):
    """Number per bin and volume fraction per bin (values clipped into the edges' range)."""
    v = np.clip(values, edges[0], edges[-1])
    count = np.histogram(v, bins=edges)[0].astype(np.int64)
    vol = np.histogram(v, bins=edges, weights=volumes)[0]
    total = vol.sum()
    return count, (vol / total if total > 0 else np.zeros_like(vol))


# ==========================================================================================
# everything
# ==========================================================================================
def pore_statistics(phase, grain, center_vox, radius_vox, voxel_nm, *,
                    n_size_bins=N_SIZE_BINS, outline="sphere", amount=None,
                    thickness_convention="mcsim") -> dict:
    """Porosity, pores, size distributions, local thickness and grain statistics.

    Parameters
    ----------
    phase : numpy.ndarray of uint8, (nz, ny, nx)
        Phase codes (:mod:`mcsim.phases`), interior voxels (no halo).
    grain : numpy.ndarray of int32, (nz, ny, nx)
        Grain ids (solid: grain id > 0; see :mod:`mcsim.state`).
    center_vox : sequence of 3 float
        Particle centre (z, y, x), voxel indices of these arrays.
    radius_vox : float
        Particle radius R, voxels; the sphere must lie inside the arrays.
    voxel_nm : float
        Voxel edge, nm.
    n_size_bins : int
        Log-spaced bins of the equivalent-diameter histograms.
    outline : {"sphere", "tags"}
        What is inside the particle: every voxel with r <= R, or those of them that are not
        tagged as outside (pore or lithium source with grain id 0; see the module docstring).
    amount : numpy.ndarray, (nz, ny, nx), optional
        The ``amount`` field. When given, a lithium-source voxel whose amount is 0 (no solid
        left, :func:`mcsim.diagnostics.reported_phase`) is taken as a pore; without it every
        source voxel is solid, as stored.
    thickness_convention : {"mcsim", "porespy"}
        Convention of the local-thickness histograms (:func:`local_thickness`): ``"mcsim"``
        bins the ball diameter on :func:`thickness_grid_vox`; ``"porespy"`` bins PoreSpy's
        integer sphere radius r, reported as the diameter 2 r (``edges_nm`` = 2 r voxel_nm
        for r = 1, 2, ..., one bin per radius).

    Returns
    -------
    dict
        Top-level scalars named in :data:`SCALARS` (with ``pore_count``,
        ``intergranular_count``, ``open_count``, ``internal_surface_nm2``,
        ``solid_volume_nm3``, ``particle_voxels``), ``pore_class_names`` (list of str), and

        * ``porosity_shell`` (10,), ``shell_voxels`` (10,), ``shell_edges_r_over_r`` (11,);
        * ``pores``: per-pore table, equal-length arrays: ``volume_voxels``, ``volume_nm3``,
          ``equivalent_diameter_nm``, ``centroid_vox`` (n, 3; global z, y, x),
          ``centroid_r_over_r``, ``pore_class`` (uint8: 0 intragranular, 1 intergranular,
          2 open), ``grain_id`` (enclosing grain of a nanopore, else 0), ``surface_nm2``;
        * ``size_distribution``: ``edges_nm`` and, for ``nanopore`` and ``void``,
          ``*_count`` (number per bin) and ``*_volume_fraction`` (share of the class's
          volume per bin);
        * ``local_thickness``: ``edges_nm`` (grid diameters, nm; 2 r for PoreSpy's
          convention) and ``nanopore_voxels``,
          ``void_voxels``, ``nanopore_volume_fraction``, ``void_volume_fraction`` per bin;
        * ``grains``: per-grain table and ``histogram`` (see :func:`grain_statistics`).

    Raises
    ------
    ConfigError
        Arrays of the wrong rank, dtype or shape; bad centre, radius or voxel size; a
        sphere that does not fit in the arrays; an unknown local-thickness convention.
    """
    phase, grain, center, radius, voxel_nm = _check_inputs(phase, grain, center_vox,
                                                           radius_vox, voxel_nm)
    _check_convention(thickness_convention, "thickness_convention")
    if amount is not None:
        amount = np.asarray(amount)
        if amount.shape != phase.shape or amount.dtype.kind not in "ui":
            raise ConfigError("amount", f"{amount.dtype} array of shape {amount.shape}",
                              f"must be an integer array of the phase field's shape "
                              f"{phase.shape}")
    if not (isinstance(n_size_bins, (int, np.integer)) and 1 <= n_size_bins <= 1000):
        raise ConfigError("n_size_bins", n_size_bins, "must be an integer in [1, 1000]")
    if outline not in ("sphere", "tags"):
        raise ConfigError("outline", outline, 'must be "sphere" or "tags"')
    p, g, origin = _box(phase, grain, center, radius)
    if amount is not None:  # used-up sources are pores (the box of amount, padded like p)
        a, _, _ = _box(amount, grain, center, radius)
        p = reported_phase(p, a)
        del a
    shell = _shell_index(p.shape, origin, center, radius)
    if outline == "tags":
        shell[(g == 0) & ~_TM_LUT[p]] = _OUTSIDE  # the outside world inside the sphere
    pore = p == ph.PORE
    porosity, by_shell, shell_voxels = porosity_profile(pore, shell)
    del pore
    inside = shell_voxels.sum()
    vox_nm3 = voxel_nm ** 3

    labels, t = find_pores(p, g, shell, origin)
    cls = t["pore_class"]
    vol = t["volume_voxels"]
    vol_nm3 = vol * vox_nm3
    diam = _equivalent_diameter(vol_nm3)
    rc = np.linalg.norm(t["centroid_vox"] - np.asarray(center), axis=1) / radius
    nano = cls == INTRAGRANULAR
    void = ~nano
    surface_nm2 = t["surface_faces"] * voxel_nm ** 2
    pores = {
        "volume_voxels": vol, "volume_nm3": vol_nm3, "equivalent_diameter_nm": diam,
        "centroid_vox": t["centroid_vox"], "centroid_r_over_r": rc, "pore_class": cls,
        "grain_id": t["grain_id"], "surface_nm2": surface_nm2,
    }

    # size distributions by equivalent diameter
    edges_nm = np.geomspace(voxel_nm, 2.0 * radius * voxel_nm, n_size_bins + 1)
    n_count, n_vfrac = _histogram(diam[nano], vol_nm3[nano], edges_nm)
    v_count, v_vfrac = _histogram(diam[void], vol_nm3[void], edges_nm)
    sizes = {"edges_nm": edges_nm, "nanopore_count": n_count,
             "nanopore_volume_fraction": n_vfrac, "void_count": v_count,
             "void_volume_fraction": v_vfrac}

    # local thickness of the pore space inside the particle
    inside_pore = labels > 0
    if thickness_convention == "porespy":
        # radii 1 .. ceil(R) + 2 (edges): no sphere in the particle is larger
        grid = 2 * np.arange(1, math.ceil(radius) + 3, dtype=np.int64)
        lt, _ = _porespy_levels(inside_pore)
    else:
        grid = thickness_grid_vox(2.0 * radius + 2.0)
        lt, _ = _thickness_bins(inside_pore, grid)
    lt_vals = lt[inside_pore]
    is_void = np.concatenate(([False], void))[labels[inside_pore]]
    del lt, inside_pore
    nb = len(grid) - 1
    lt_counts = np.bincount(lt_vals.astype(np.int64) + nb * is_void,
                            minlength=2 * nb).reshape(2, nb)
    del lt_vals, is_void
    lt_frac = lt_counts / np.maximum(lt_counts.sum(axis=1, keepdims=True), 1)
    thickness = {"edges_nm": grid.astype(np.float64) * voxel_nm,
                 "nanopore_voxels": lt_counts[0], "void_voxels": lt_counts[1],
                 "nanopore_volume_fraction": lt_frac[0], "void_volume_fraction": lt_frac[1]}

    # densities, central voids, internal surface
    core_vox = shell_voxels[:int(round(CORE_MAX * N_RADIAL_BINS))].sum()
    shell_vox = shell_voxels[int(round(SHELL_MIN * N_RADIAL_BINS)):].sum()
    um3 = vox_nm3 * 1e-9
    dens_core = np.count_nonzero(nano & (rc < CORE_MAX)) / (core_vox * um3) if core_vox else 0.0
    dens_shell = (np.count_nonzero(nano & (rc >= SHELL_MIN)) / (shell_vox * um3)
                  if shell_vox else 0.0)
    n_central = int(round(CENTRAL_MAX * N_RADIAL_BINS))
    central = shell < n_central
    void_lut = np.concatenate(([False], void))
    central_void = int(np.count_nonzero(void_lut[labels[central]]))
    central_vox = int(shell_voxels[:n_central].sum())
    del central, labels
    n_pore_vox = int(vol.sum())
    solid_nm3 = float((inside - n_pore_vox) * vox_nm3)
    surface_total = float(surface_nm2.sum())

    gstats = grain_statistics(phase, grain, voxel_nm, edges_nm)
    out = {
        "porosity": porosity,
        "nanopore_fraction": float(vol[nano].sum() / inside) if inside else 0.0,
        "void_fraction": float(vol[void].sum() / inside) if inside else 0.0,
        "open_fraction": float(vol[cls == OPEN].sum() / inside) if inside else 0.0,
        "nanopore_count": int(nano.sum()),
        "void_count": int(void.sum()),
        "pore_count": int(cls.size),
        "intergranular_count": int(np.count_nonzero(cls == INTERGRANULAR)),
        "open_count": int(np.count_nonzero(cls == OPEN)),
        "nanopore_density_core_per_um3": float(dens_core),
        "nanopore_density_shell_per_um3": float(dens_shell),
        "central_void_fraction": central_void / central_vox if central_vox else 0.0,
        "internal_surface_nm2": surface_total,
        "solid_volume_nm3": float(solid_nm3),
        "internal_surface_per_um": surface_total / solid_nm3 * 1000.0 if solid_nm3 else 0.0,
        "nanopore_mean_diameter_nm": float(diam[nano].mean()) if nano.any() else math.nan,
        "void_mean_diameter_nm": float(diam[void].mean()) if void.any() else math.nan,
        "mean_grain_nm": gstats["mean_grain_nm"],
        "grain_count": gstats["grain_count"],
        "particle_voxels": int(inside),
        "pore_class_names": list(PORE_CLASS_NAMES),
        "porosity_shell": by_shell,
        "shell_voxels": shell_voxels,
        "shell_edges_r_over_r": np.linspace(0.0, 1.0, N_RADIAL_BINS + 1),
        "pores": pores,
        "size_distribution": sizes,
        "local_thickness": thickness,
        "grains": {**gstats["grains"], "histogram": gstats["histogram"]},
    }
    return out


# ==========================================================================================
# benchmark: python -m mcsim.pores [--size 256] [--nanopores 10000]
# ==========================================================================================
def synthetic_particle(size=64, nanopores=500, seed=5):
    """A generated particle (:func:`mcsim.generator.generate_agglomerate`, 10 nm voxels) on a
    ``size``^3 grid with ``nanopores`` small balls (radius 0.6-2.2 voxels) carved into grains.

    A ball removes only the voxels of the grain at its centre and they keep that grain's
    id, as ripening does; balls that reach an intergranular pore merge with it. Random
    numbers: Philox keyed (seed, 101). For benchmarks and tests.

    Returns
    -------
    Microstructure
    """
    from mcsim.generator import generate_agglomerate

    voxel_nm, margin_nm = 10.0, 80.0
    radius_um = (size * voxel_nm - 2 * margin_nm) / 2000.0
    micro = generate_agglomerate(radius_um=radius_um, voxel_nm=voxel_nm, margin_nm=margin_nm,
                                 li_to_tm=0.1, placement="shell", seed=seed)
    phase, grain = micro.phase, micro.grain
    rng = np.random.Generator(np.random.Philox(key=np.array([seed, 101], dtype=np.uint64)))
    cand = np.flatnonzero(_TM_LUT[phase] & (grain > 0))
    centres = np.unravel_index(rng.choice(cand, size=min(nanopores, cand.size), replace=False),
                               phase.shape)
    radii = rng.uniform(0.6, 2.2, size=centres[0].size)
    for cz, cy, cx, r in zip(*centres, radii):
        h = int(r)
        sl = tuple(slice(max(c - h, 0), c + h + 1) for c in (cz, cy, cx))
        zz, yy, xx = np.ogrid[sl]
        ball = (zz - cz) ** 2 + (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        g0 = grain[cz, cy, cx]
        cut = ball & (grain[sl] == g0) & _TM_LUT[phase[sl]]
        phase[sl][cut] = ph.PORE
    return micro


def _main(argv=None):
    import argparse
    import time
    import tracemalloc

    ap = argparse.ArgumentParser(prog="python -m mcsim.pores",
                                 description="time pore_statistics on a synthetic particle")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--nanopores", type=int, default=12000)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    m = synthetic_particle(args.size, args.nanopores, args.seed)
    t1 = time.perf_counter()
    c1 = time.process_time()
    s = pore_statistics(m.phase, m.grain, m.center_vox, m.radius_vox, m.voxel_nm)
    c2 = time.process_time()
    t2 = time.perf_counter()
    tracemalloc.start()  # a second, traced run for the peak of numpy/scipy allocations
    pore_statistics(m.phase, m.grain, m.center_vox, m.radius_vox, m.voxel_nm)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    box = np.prod([min(n, math.ceil(c + m.radius_vox) + 2)
                   - max(0, math.floor(c - m.radius_vox) - 1)
                   for c, n in zip(m.center_vox, m.phase.shape)])
    print(f"grid {m.phase.shape}, R = {m.radius_vox:.1f} vox; particle built in {t1 - t0:.1f} s")
    print(f"pore_statistics: {t2 - t1:.2f} s wall, {c2 - c1:.2f} s CPU; peak traced "
          f"allocations {peak / 2**20:.0f} MiB ({peak / box:.1f} B per box voxel, "
          f"{peak / m.phase.size:.1f} B per grid voxel)")
    for k in ("pore_count", *SCALARS):
        print(f"  {k:32s} {s[k]:.6g}")


if __name__ == "__main__":
    _main()
