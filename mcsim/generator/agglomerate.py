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

Modules of the package, one per role: :mod:`~mcsim.generator.arguments` (checking the
arguments), :mod:`~mcsim.generator.streams` (random streams), steps 1-2
:mod:`~mcsim.generator.tessellation`, step 3 :mod:`~mcsim.generator.pores`, step 4
:mod:`~mcsim.generator.sources`, the report :mod:`~mcsim.generator.statistics`; this one
holds the result container and runs the steps in order.  Every name this module held before
that split is still importable from it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from mcsim.generator.arguments import (  # noqa: F401 (also re-exported)
    MAX_GRID, _check_positive, _validate, check_arguments, validate_arguments)
from mcsim.generator.pores import _boundary_gap, number_grains, place_pores
from mcsim.generator.sources import (  # noqa: F401 (also re-exported)
    _paint_sphere, _place_particles, _place_shell, place_source)
from mcsim.generator.statistics import (  # noqa: F401 (also re-exported)
    _grain_moments, _grain_statistics, _radial_coordinate, porosity_profile, summary)
from mcsim.generator.streams import _STAGES, _rng  # noqa: F401 (re-exported)
from mcsim.generator.tessellation import (  # noqa: F401 (also re-exported)
    CAL_CV_GRID, CAL_CV_SCALE, CAL_DENSITY, CAL_METRIC, CAL_RADIAL_SPACING, D_CUT, MAX_SIZE_CV,
    _fibonacci_sphere, _fill_missing, _frames, _lognormal_factors, _seed_layout, _tessellate,
    calibrated_axes, seed_grains, tessellate)

__all__ = ["Microstructure", "generate_agglomerate", "bench_generator", "summary"]


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
    (R_um, vox, por, L, W, T, cv, q, dsrc, margin, seed, n) = validate_arguments(
        radius_um, voxel_nm, porosity, grain_length_nm, grain_width_nm,
        grain_thickness_nm, size_cv, li_source, li_to_tm, source_diameter_nm, placement,
        margin_nm, seed)
    timings = {}
    radius_v = R_um * 1000.0 / vox
    c = (n - 1) / 2.0
    center = np.array([c, c, c])
    # calibration of the measured mean axes for the size dispersion (see CAL_CV_SCALE)
    Lv, Wv, Tv = calibrated_axes(L, W, T, vox, cv)

    # --- 1. seeds (mcsim.generator.tessellation) -----------------------------------------
    t0 = time.perf_counter()
    pos, amat, half_ext, z_lo, z_hi = seed_grains(radius_v, Lv, Wv, Tv, por, cv, seed, center)
    nseed = pos.shape[0]
    timings["seeds_s"] = time.perf_counter() - t0

    # --- 2. tessellation (mcsim.generator.tessellation) ----------------------------------
    t0 = time.perf_counter()
    i1, i2, d1, d2, rr2, inside, n_fallback = tessellate(n, c, center, radius_v, pos, amat,
                                                         half_ext, z_lo, z_hi)
    timings["tessellation_s"] = time.perf_counter() - t0

    # --- 3. intergranular pores (mcsim.generator.pores) ----------------------------------
    # the large arrays are dropped here as soon as they are used up (peak memory)
    t0 = time.perf_counter()
    gap = _boundary_gap(center, radius_v, pos, amat, i1, i2, d1, d2)
    del d1, d2, i2
    phase, n_sphere = place_pores(gap, inside, por, n)
    del gap
    grain, ngrain, seed_points, n_hyd = number_grains(phase, i1, pos)
    del i1
    timings["pores_s"] = time.perf_counter() - t0

    # --- 4. lithium source (mcsim.generator.sources) -------------------------------------
    t0 = time.perf_counter()
    n_src, tm_mol, li_mol = place_source(phase, inside, rr2, center, radius_v, n, n_hyd, vox,
                                         li_source, q, placement, dsrc, seed)
    del rr2
    timings["source_s"] = time.perf_counter() - t0

    # --- 5. report (mcsim.generator.statistics) ------------------------------------------
    t0 = time.perf_counter()
    gstats, per_grain = _grain_statistics(grain, ngrain, center, radius_v, vox)
    porosity_overall, por_by_r, edges = porosity_profile(phase, inside, n, c, radius_v,
                                                         n_sphere)
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
        "porosity_overall": porosity_overall,
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
