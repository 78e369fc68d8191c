"""Local thickness of the pore space, in our convention (ball diameter) and in PoreSpy's
(sphere radius).

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

Cost. The distance transforms (``scipy.ndimage.distance_transform_edt`` asked for the
feature transform only, squared distances formed in place in int32, never float64) run on
z-slabs (:data:`_SLAB` planes plus a halo: 8 planes for the pore distance map, widened where
a distance exceeds it; ``floor(D/2)`` planes for an opening), and for D > 1 only on the y-x
window around ``S_k``, so their scratch is bounded by one slab: about 25 B per slab voxel
(feature transform 12 B, scipy's int64 and int8 copies of the mask 9 B, squared distance
4 B). Time is dominated by the distance transforms: one for the pore distance map and one
per grid diameter below the largest inscribed ball.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from mcsim.errors import ConfigError

#: z-planes of a distance-transform slab.
_SLAB = 48


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


def _opening_levels(pore, d2, seed_min, cover_max, slab=_SLAB, planes=None):
    """Level of each pore voxel: the largest ``k`` such that the voxel lies within squared
    distance ``cover_max[k]`` of a voxel whose squared distance ``d2`` to the non-pore voxels
    is at least ``seed_min[k]`` (the opening of the pore space by the k-th ball). Level 0 is
    every pore voxel; non-pore voxels hold 0. ``seed_min`` and ``cover_max`` are increasing
    integers. A uint8 (uint16 beyond 255 levels) array of ``pore``'s shape.

    ``planes=(lo, hi)``: the levels of the z-planes ``lo:hi`` only (an array of that many
    planes), the other planes of ``d2`` serving as the context their balls may come from; the
    levels are exact where every ball centre within ``isqrt(cover_max)`` planes of them is in
    ``d2`` (:mod:`mcsim.pores.distributed` passes a block with halos that deep)."""
    n = len(seed_min)
    if n > 65535:
        raise ValueError("at most 65535 local-thickness levels")
    nz = pore.shape[0]
    lo, hi = (0, nz) if planes is None else (int(planes[0]), int(planes[1]))
    lt = np.zeros((hi - lo, *pore.shape[1:]), dtype=np.uint8 if n <= 256 else np.uint16)
    d2max = int(d2.max()) if d2.size else 0
    for k in range(1, n):
        smin, cmax = int(seed_min[k]), int(cover_max[k])
        if d2max < smin:  # no ball of level k fits anywhere
            break
        h = math.isqrt(cmax)  # the ball reaches this many planes beyond its centre
        for z0 in range(lo, hi, slab):
            z1 = min(z0 + slab, hi)
            a, b = max(0, z0 - h), min(nz, z1 + h)
            seeds = d2[a:b] >= smin  # centres of the balls that fit
            if not seeds.any():
                continue
            ys = np.flatnonzero(seeds.any(axis=(0, 2)))
            xs = np.flatnonzero(seeds.any(axis=(0, 1)))
            y0, y1 = max(0, ys[0] - h), min(pore.shape[1], ys[-1] + h + 1)
            x0, x1 = max(0, xs[0] - h), min(pore.shape[2], xs[-1] + h + 1)
            dist2 = _sq_edt(~seeds[:, y0:y1, x0:x1])[z0 - a:z1 - a]
            lt[z0 - lo:z1 - lo, y0:y1, x0:x1][dist2 <= cmax] = k
    return lt


class _LocalOps:
    """The three steps of local thickness on one whole array (the box of
    :func:`~mcsim.pores.pore_statistics`); :mod:`mcsim.pores.distributed` provides the same
    three on the z-slabs of a box split over MPI ranks, with the same results."""

    @staticmethod
    def sq_distance(pore):
        """Squared distance of each pore voxel to the nearest non-pore voxel
        (:func:`_pore_sq_distance`)."""
        return _pore_sq_distance(pore)

    @staticmethod
    def max(d2) -> int:
        """The largest squared distance (0 for an empty array)."""
        return int(d2.max()) if d2.size else 0

    @staticmethod
    def levels(pore, d2, seed_min, cover_max):
        """:func:`_opening_levels` of the whole array."""
        return _opening_levels(pore, d2, seed_min, cover_max)


#: The operations of local thickness on one whole array.
LOCAL_OPS = _LocalOps()


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
