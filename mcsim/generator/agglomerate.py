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
   smallest gap become PORE (intergranular porosity, exact to one voxel; equal gaps in
   order of the voxels' flat index).
4. Lithium source voxels from the Li:TM molar balance, as spherical particles around the
   surface or as a uniform shell; what does not fit as particles becomes a uniform layer.

By blocks
---------
Steps 2-5 run on one block of the grid (``block=(offset, shape)``) with the global numbers
they need (sphere voxels, the pore quantile, voxels per seed, the source balls' gains, the
per-grain moments, the porosity counts) summed over all blocks by ``reduce``
(:mod:`~mcsim.generator.blocks`); the seeds (step 1) are computed by every block.  The
block's arrays are all its caller holds, about 13 B per voxel of the block at the peak
(nearest seed and gap, then phase and grain), and the arrays and the report are the same,
bit for bit, whatever the split; the whole grid with the identity as ``reduce`` is the
serial generator.

Modules of the package, one per role: :mod:`~mcsim.generator.arguments` (checking the
arguments), :mod:`~mcsim.generator.streams` (random streams), :mod:`~mcsim.generator.blocks`
(blocks, sums over them, distributed selection), steps 1-2
:mod:`~mcsim.generator.tessellation`, step 3 :mod:`~mcsim.generator.pores`, step 4
:mod:`~mcsim.generator.sources`, the report :mod:`~mcsim.generator.statistics`; this one
holds the result container and runs the steps in order.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from mcsim.generator.arguments import (  # noqa: F401 (also re-exported)
    MAX_GRID, _check_positive, _validate, check_arguments, source_margin_nm,
    validate_arguments)
from mcsim.generator.blocks import Block, serial_reduce
from mcsim.generator.pores import number_grains, place_pores
from mcsim.generator.sources import place_source  # noqa: F401 (also re-exported)
from mcsim.generator.statistics import (  # noqa: F401 (also re-exported)
    _grain_statistics, grain_moments, porosity_profile, summary)
from mcsim.generator.streams import _STAGES, _rng  # noqa: F401 (re-exported)
from mcsim.generator.tessellation import (  # noqa: F401 (also re-exported)
    CAL_CV_GRID, CAL_CV_SCALE, CAL_DENSITY, CAL_METRIC, CAL_RADIAL_SPACING, D_CUT, MAX_SIZE_CV,
    _fibonacci_sphere, _frames, _lognormal_factors, _seed_layout, calibrated_axes, seed_grains,
    tessellate_block)

__all__ = ["Microstructure", "generate_agglomerate", "bench_generator", "summary"]


# ==========================================================================================
# result container
# ==========================================================================================
@dataclass
class Microstructure:
    """Voxel microstructure of one secondary particle and its lithium source (the whole
    grid, or one block of it).

    Attributes
    ----------
    phase : numpy.ndarray of uint8
        Phase code per voxel (:mod:`mcsim.phases`), index order [z, y, x]: the whole grid
        ``(n, n, n)``, or the block ``offset`` + ``phase.shape`` of it.
    grain : numpy.ndarray of int32, same shape
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
        Measured statistics (plain python / numpy values), see :func:`generate_agglomerate`;
        of the whole particle, also on a block.
    offset : tuple of int
        Global index of ``phase[0, 0, 0]`` ((0, 0, 0) for the whole grid).
    global_shape : tuple of int, optional
        The whole grid, ``(n, n, n)``; None: ``phase.shape``.
    """

    phase: np.ndarray
    grain: np.ndarray
    voxel_nm: float
    radius_vox: float
    center_vox: tuple
    seed_points: np.ndarray
    report: dict = field(default_factory=dict)
    offset: tuple = (0, 0, 0)
    global_shape: tuple | None = None

    @property
    def shape(self):
        """Grid shape (n, n, n) of the whole particle."""
        return tuple(self.global_shape) if self.global_shape is not None else self.phase.shape

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
                         margin_nm=None, seed=1, block=None, reduce=None) -> Microstructure:
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
        Spherical source particles touching the surface, or one uniform shell.  Lithium
        that does not fit as particles is painted as a uniform layer (see
        :mod:`mcsim.generator.sources`; the report's ``source_note`` says so).
    margin_nm : float, optional
        Free space between the sphere and each box face, nm; default
        ``source_diameter_nm + 2 * voxel_nm``, or more where the whole source would not
        fit as a uniform shell (:func:`~mcsim.generator.arguments.source_margin_nm`).  The
        grid edge is ``n = ceil((2 R + 2 margin) / voxel_nm)``.
    seed : int
        Seed of all random streams (Philox, one key per stage); same seed, same arrays.
    block : (offset, shape), optional
        Generate only this block of the grid (global index of its first voxel and its
        extent, each (z, y, x)); default the whole grid.  Every block of a split must be
        generated at the same time with a ``reduce`` that sums over all of them.
    reduce : callable, optional
        ``reduce(int64 array) -> int64 array``: the sum over every block of the grid (the
        same on every block; collective, called in the same order by every block).
        Default: the identity (one block, the whole grid).  Under MPI:
        :func:`mcsim.generator.blocks.comm_reduce`.

    Returns
    -------
    Microstructure
        The arrays of the whole grid, or of ``block`` (then ``offset`` and
        ``global_shape`` say where), with ``report`` (of the whole particle) holding:

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
          ``n_source_particles`` (source particles placed), ``n_source_layer_voxels`` and
          ``source_layer_radius_vox`` (the uniform layer, if any), ``margin_nm`` (the box
          margin used) and ``source_note`` (one line when the source is not as requested
          or the box grew for it, else empty);
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
    blk = Block.whole(n) if block is None else Block.checked(n, *block)
    if reduce is None:
        if not blk.is_whole:
            raise ValueError("generate_agglomerate: a block of the grid needs the reduce "
                             "that sums over all blocks")
        reduce = serial_reduce
    timings = {}
    radius_v = R_um * 1000.0 / vox
    c = (n - 1) / 2.0
    center = np.array([c, c, c])
    # calibration of the measured mean axes for the size dispersion (see CAL_CV_SCALE)
    Lv, Wv, Tv = calibrated_axes(L, W, T, vox, cv)

    # --- 1. seeds (mcsim.generator.tessellation), the same on every block ---------------
    t0 = time.perf_counter()
    pos, amat, half_ext, z_lo, z_hi = seed_grains(radius_v, Lv, Wv, Tv, por, cv, seed, center)
    nseed = pos.shape[0]
    timings["seeds_s"] = time.perf_counter() - t0

    # --- 2. tessellation and boundary gap (mcsim.generator.tessellation) ----------------
    t0 = time.perf_counter()
    i1, gap, n_fallback = tessellate_block(blk, center, radius_v, pos, amat, half_ext, z_lo,
                                           z_hi)
    n_fallback = int(reduce([n_fallback])[0])
    timings["tessellation_s"] = time.perf_counter() - t0

    # --- 3. intergranular pores (mcsim.generator.pores) ----------------------------------
    # the large arrays are dropped as soon as they are used up (peak memory)
    t0 = time.perf_counter()
    phase, n_sphere = place_pores(gap, blk, por, reduce)
    del gap
    grain, ngrain, seed_points, n_hyd = number_grains(phase, i1, pos, reduce)
    del i1
    timings["pores_s"] = time.perf_counter() - t0

    # --- 4. lithium source (mcsim.generator.sources) -------------------------------------
    t0 = time.perf_counter()
    src = place_source(phase, blk, center, radius_v, n_hyd, vox, li_source, q, placement,
                       dsrc, seed, reduce)
    timings["source_s"] = time.perf_counter() - t0

    # --- 5. report (mcsim.generator.statistics) ------------------------------------------
    t0 = time.perf_counter()
    acc, touch = grain_moments(grain, blk, ngrain, center, radius_v, reduce)
    gstats, per_grain = _grain_statistics(acc, touch, ngrain, center, radius_v, vox)
    del acc, touch
    porosity_overall, por_by_r, edges = porosity_profile(phase, blk, radius_v, reduce)
    req_axes = np.array([L, W, T])
    got_axes = np.array([gstats["length_nm"]["mean"], gstats["width_nm"]["mean"],
                         gstats["thickness_nm"]["mean"]])
    mgs = float(got_axes.mean())
    mgs_req = float(req_axes.mean())
    timings["report_s"] = time.perf_counter() - t0
    tm_mol, li_mol = src["tm_mol"], src["li_mol"]
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
        "n_hydroxide_voxels": n_hyd, "n_source_voxels": src["n_source_voxels"],
        "n_source_particles": src["n_source_particles"],
        "n_source_layer_voxels": src["n_source_layer_voxels"],
        "source_layer_radius_vox": src["source_layer_radius_vox"],
        "margin_nm": margin,
        "source_note": source_note(src, placement, R_um, vox, dsrc, margin,
                                   None if margin_nm is not None else dsrc + 2.0 * vox),
        "li_source": li_source, "placement": placement,
        "tm_mol": tm_mol, "li_mol": li_mol,
        "li_to_tm_achieved": float(li_mol / tm_mol) if tm_mol > 0 else float("nan"),
        "n_fallback_voxels": n_fallback,
        "per_grain": per_grain,
        "timings_s": timings,
    }
    report["generation_time_s"] = time.perf_counter() - t_start
    return Microstructure(phase=phase, grain=grain, voxel_nm=vox, radius_vox=radius_v,
                          center_vox=(c, c, c), seed_points=seed_points, report=report,
                          offset=blk.offset, global_shape=(n, n, n))


def source_note(src, placement, radius_um, voxel_nm, dsrc, margin, default_margin) -> str:
    """One line on where the lithium source went when it is not plainly as requested
    (particles that did not all fit, a box margin grown for the source), else ''."""
    parts = []
    layer = src["n_source_layer_voxels"]
    if placement == "particles" and layer > 0:
        r_um = src["source_layer_radius_vox"] * voxel_nm / 1000.0
        parts.append(
            f"{src['n_source_voxels'] - layer} of {src['n_source_voxels']} source voxels as "
            f"{src['n_source_particles']} particles of {dsrc:g} nm, the other {layer} as a "
            f"uniform layer on the particle out to r = {r_um:.3g} um (the particles do not "
            f"all fit around a {radius_um:g} um particle)")
    if default_margin is not None and margin > default_margin + 1e-9:
        parts.append(f"box margin {margin:.4g} nm instead of {default_margin:g} nm so that "
                     f"the source fits")
    return ("lithium source: " + "; ".join(parts)) if parts else ""


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
