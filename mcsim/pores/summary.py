"""Everything at once: :func:`pore_statistics` (porosity, pores by class, size distributions,
local thickness, nanopore densities, grain sizes) and the scalars the engine appends to the
time series (:data:`SCALARS`, :data:`SCALAR_UNITS`).

* Pore surface (:mod:`mcsim.pores.labelling`) times ``voxel_nm**2``; the internal surface per
  unit solid volume divides the surface of all pores by the volume of the non-pore voxels
  inside the particle.
* Equivalent diameter of a pore or grain of volume V: ``(6 V / pi)**(1/3)``.
* Used-up lithium sources: with ``amount`` given, a source voxel (LiOH, Li2O, Li2CO3) whose
  amount is 0 holds no solid and counts as a pore (:func:`mcsim.diagnostics.reported_phase`).
* Porosity by mass (with ``amount`` given): over the same voxels as ``porosity`` (inside the
  particle), 1 - the summed solid volume fraction ``amount / full amount of the phase``
  (:func:`mcsim.state.full_amount`; lithium sources count by their fill too, a used-up one
  holds 0) over the voxel count, by :func:`mcsim.diagnostics.porosity_from_sums` -- the
  formula of the time series, so a snapshot's value equals the row's at the same time.
  Voxels with more than their phase's full amount (layered oxide lithiated from rock salt
  keeps the rock salt's transition metal, up to 1.85 full voxels) count with all of it.
* Centre (r/R < 0.3): the central pore fraction and the central wide-void fraction, and the
  growth of the latter since the generated particle (:mod:`mcsim.pores.classes`).

On a lattice split over MPI ranks, :mod:`mcsim.pores.distributed` computes the same dict,
bit for bit, from the ranks' blocks without gathering them: :func:`_assemble` turns the
integer tallies and per-pore records of either analysis into the result.

Cost and memory
---------------
Work is restricted to the particle's bounding box plus one voxel (the *box*). The distance
transforms (:mod:`mcsim.pores.thickness`) run on z-slabs of the box (48 planes plus a halo),
so their scratch is bounded by one slab, not the box. Held per box voxel: shell index (uint8),
inside-pore mask (bool), pore labels (int32), squared distance (int32), local-thickness bin
(uint8) -- 11 B; while pores are classified, up to 5 B of boolean masks instead of the last
two. Scratch of one distance transform: about 25 B per slab voxel. Peak extra memory is
therefore about **11 B per box voxel + 25 B per slab voxel** (slab = 64 planes of the box),
plus O(pore voxels) index arrays in 2-Mvoxel chunks and 3 B per array voxel for the grain
census after the rest is freed; measured on a 256^3 particle (box 244^3, about 4 x 10^4
pores): 17 B per box voxel, 233 MiB. The inputs are not copied unless the box must be padded
at the array's faces. Time is dominated by the distance transforms: one for the pore
distance map and one per grid diameter below the largest inscribed ball (with PoreSpy's
convention, the wide voids of the centre take those of mcsim's convention from 3 voxels up
as well). The wide-void mask adds 1 B per box voxel while the centre is measured; the sums
of the porosity by mass run on 16-plane slabs.
"""

from __future__ import annotations

import math

import numpy as np

from mcsim import phases as ph
from mcsim.diagnostics import (CORE_MAX, N_RADIAL_BINS, SHELL_MIN, porosity_from_sums,
                               reported_phase)
from mcsim.errors import ConfigError
from mcsim.pores.classes import (INTERGRANULAR, INTRAGRANULAR, OPEN, PORE_CLASS_NAMES,
                                 _wide_from_distance, central_counts, central_fraction,
                                 find_pores, wide_void_grid)
from mcsim.pores.geometry import (_OUTSIDE, _TM_LUT, _box, _check_inputs, _profile_from_counts,
                                  _shell_counts, _shell_index)
from mcsim.pores.thickness import LOCAL_OPS, _check_convention, thickness_grid_vox
from mcsim.state import full_amount_table

#: Log-spaced bins of the equivalent-diameter histograms (one voxel to the particle diameter).
N_SIZE_BINS = 24

#: Scalar outcomes the engine appends to the time series (top-level keys of the result).
SCALARS = (
    "porosity", "mass_porosity", "subvoxel_porosity",
    "nanopore_fraction", "void_fraction", "open_fraction",
    "nanopore_count", "void_count",
    "nanopore_density_core_per_um3", "nanopore_density_shell_per_um3",
    "nanopore_count_core", "nanopore_count_shell",
    "central_pore_fraction", "central_wide_void_fraction", "central_void_opened",
    "central_void_reference", "internal_surface_per_um",
    "nanopore_mean_diameter_nm", "void_mean_diameter_nm",
    "mean_grain_nm", "grain_count",
)

#: Units and one-line descriptions of :data:`SCALARS` (for ``ResultWriter.describe``).
SCALAR_UNITS = {
    "porosity": ("1", "pore voxels inside the particle (r <= R, not outside) / voxels inside"),
    "mass_porosity": ("1", "1 - solid volume inside the particle (sum of amount / full amount "
                      "of the voxel's phase) / voxels inside (NaN without the amount field)"),
    "subvoxel_porosity": ("1", "mass_porosity - porosity: the porosity held in part-filled "
                          "voxels (NaN without the amount field)"),
    "nanopore_fraction": ("1", "intragranular-pore voxels / voxels inside the particle"),
    "void_fraction": ("1", "intergranular + open pore voxels / voxels inside the particle"),
    "open_fraction": ("1", "open pore voxels (connected to the outside) / voxels inside"),
    "nanopore_count": ("1", "intragranular pores (nanopores)"),
    "void_count": ("1", "intergranular + open pores (voids)"),
    "nanopore_density_core_per_um3": ("1/um^3", "nanopores with centroid r/R < 0.5 per um^3 "
                                      "of particle volume there"),
    "nanopore_density_shell_per_um3": ("1/um^3", "nanopores with centroid r/R >= 0.7 per "
                                       "um^3 of particle volume there"),
    "nanopore_count_core": ("1", "nanopores with centroid r/R < 0.5: the count behind "
                            "nanopore_density_core_per_um3, whose counting (Poisson) error "
                            "is about its square root"),
    "nanopore_count_shell": ("1", "nanopores with centroid r/R >= 0.7: the count behind "
                             "nanopore_density_shell_per_um3"),
    "central_pore_fraction": ("1", "void-class (intergranular + open) pore voxels within "
                              "r < 0.3 R, of any width / particle voxels there"),
    "central_wide_void_fraction": ("1", "void-class pore voxels within r < 0.3 R whose local "
                                   "thickness is >= 30 nm (and >= 3 voxels) / particle "
                                   "voxels there"),
    "central_void_opened": ("1", "central_wide_void_fraction - central_void_reference: the "
                            "wide void opened at the centre since the particle was generated "
                            "(NaN when the reference is unknown)"),
    "central_void_reference": ("1", "central_wide_void_fraction of the generated particle "
                               "(NaN when unknown)"),
    "internal_surface_per_um": ("1/um", "pore-solid face area of all pores / solid volume "
                                "inside the particle"),
    "nanopore_mean_diameter_nm": ("nm", "mean equivalent diameter of nanopores (NaN if none)"),
    "void_mean_diameter_nm": ("nm", "mean equivalent diameter of voids (NaN if none)"),
    "mean_grain_nm": ("nm", "mean equivalent diameter of grains (NaN if none)"),
    "grain_count": ("1", "distinct grain ids > 0 on transition-metal voxels"),
}


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
    return _grain_table(*_grain_census(phase, grain), voxel_nm, edges_nm)


def _grain_census(phase, grain):
    """Grain ids (increasing) and their int64 voxel counts: the distinct ids > 0 on
    transition-metal voxels of ``phase`` and ``grain``."""
    ids = grain[_TM_LUT[phase] & (grain > 0)]
    if ids.size and int(ids.max()) <= 4 * ids.size + 1024:
        counts = np.bincount(ids)
        gid = np.flatnonzero(counts)
        vol = counts[gid]
    else:
        gid, vol = np.unique(ids, return_counts=True)
    return gid.astype(np.int64), vol.astype(np.int64)


def _grain_table(gid, vol, voxel_nm, edges_nm):
    """:func:`grain_statistics` from the census of :func:`_grain_census`."""
    vol_nm3 = vol * voxel_nm ** 3
    diam = _equivalent_diameter(vol_nm3)
    count, vfrac = _histogram(diam, vol_nm3, edges_nm)
    return {
        "grain_count": int(gid.size),
        "mean_grain_nm": float(diam.mean()) if diam.size else math.nan,
        "grains": {"grain_id": gid, "volume_voxels": vol,
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


#: z-planes per slab of the amount sums (bounds their scratch).
_SUM_PLANES = 16


def _porosity_sums(p, a, shell) -> np.ndarray:
    """int64 ``[inside voxels, pore voxels, amount of phase 0..6]`` over the voxels with a
    shell index (inside the particle), as :func:`mcsim.diagnostics.porosity_kernel` sums
    them; ``p`` holds the reported phases (a used-up source is a pore)."""
    out = np.zeros(2 + ph.N_PHASES, dtype=np.int64)
    for z0 in range(0, p.shape[0], _SUM_PLANES):
        inside = shell[z0:z0 + _SUM_PLANES] != _OUTSIDE
        codes = p[z0:z0 + _SUM_PLANES][inside]
        out[0] += codes.size
        out[1] += np.count_nonzero(codes == ph.PORE)
        # float64 sums of at most 16 planes of uint16 are exact integers
        out[2:] += np.rint(np.bincount(codes, weights=a[z0:z0 + _SUM_PLANES][inside],
                                       minlength=ph.N_PHASES)[:ph.N_PHASES]).astype(np.int64)
    return out


def _check_reference(value):
    if value is None:
        return math.nan
    if not (isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(value)
            and 0.0 <= value <= 1.0):
        raise ConfigError("central_void_reference", value,
                          "must be None or a number in [0, 1] (the generated particle's "
                          "central_wide_void_fraction)")
    return float(value)


def reference_central_void(phase, grain, center_vox, radius_vox, voxel_nm, *,
                           outline="sphere", amount=None) -> float:
    """The central wide-void fraction of a particle (:func:`pore_statistics`'s
    ``central_wide_void_fraction``, computed alone): of the generated particle, it is the
    ``central_void_reference`` that ``central_void_opened`` is measured from.

    Arguments as for :func:`pore_statistics`; pass the state a run starts from, with the same
    ``outline`` its snapshots use (the engine: its ``phase`` and ``grain`` fields at t = 0,
    ``outline="tags"``).
    """
    phase, grain, center, radius, voxel_nm = _check_inputs(phase, grain, center_vox,
                                                           radius_vox, voxel_nm)
    if outline not in ("sphere", "tags"):
        raise ConfigError("outline", outline, 'must be "sphere" or "tags"')
    p, g, origin = _box(phase, grain, center, radius)
    if amount is not None:
        a, _, _ = _box(_check_amount(amount, phase), grain, center, radius)
        p = reported_phase(p, a)
        del a
    shell = _shell_index(p.shape, origin, center, radius)
    if outline == "tags":
        shell[(g == 0) & ~_TM_LUT[p]] = _OUTSIDE
    shell_voxels = np.bincount(shell.ravel(), minlength=256)[:N_RADIAL_BINS]
    labels, t = find_pores(p, g, shell, origin)
    void = t["pore_class"] != INTRAGRANULAR
    wide = _wide_void(LOCAL_OPS, labels > 0, voxel_nm, p.shape)
    return central_fraction(central_counts(shell, labels, void, wide)[1], shell_voxels)


def _wide_void(ops, pore, voxel_nm, box_shape):
    """:func:`~mcsim.pores.classes.wide_void_levels` of ``pore`` (a box of ``box_shape``, or
    a slab of it with the operations of :mod:`mcsim.pores.distributed`)."""
    return _wide_from_distance(ops, pore, ops.sq_distance(pore), voxel_nm, box_shape)


def _thickness_levels(ops, pore, radius, voxel_nm, convention, box_shape):
    """Local thickness of the pore space inside the particle: the diameter grid of the
    histograms, the level (index into it) of each voxel of ``pore``, and the wide-void mask
    (:func:`~mcsim.pores.classes.wide_void_levels`, mcsim's convention whatever
    ``convention``). ``ops``: the operations on the box
    (:data:`~mcsim.pores.thickness.LOCAL_OPS`) or on its slabs (:mod:`mcsim.pores.distributed`);
    one squared distance map serves every opening."""
    d2 = ops.sq_distance(pore)
    if convention == "porespy":
        # radii 1 .. ceil(R) + 2 (edges): no sphere in the particle is larger
        grid = 2 * np.arange(1, math.ceil(radius) + 3, dtype=np.int64)
        r_max = max(1, math.isqrt(ops.max(d2)))
        r = np.arange(1, r_max + 1, dtype=np.int64)
        lt = ops.levels(pore, d2, r * r, r * r - 1)
        wide = _wide_from_distance(ops, pore, d2, voxel_nm, box_shape)  # mcsim's convention
    else:
        grid = thickness_grid_vox(2.0 * radius + 2.0)
        if len(grid) > 255:
            raise ValueError("at most 255 local-thickness diameters")
        quarter = np.asarray(grid, dtype=np.int64) ** 2 // 4
        lt = ops.levels(pore, d2, quarter + 1, quarter)
        del d2
        wide = lt >= wide_void_grid(grid, voxel_nm)
    return grid, lt, wide


def _voxel_counts(labels, void, lt, wide, shell, nb):
    """Per-voxel tallies that add up over any split of the voxels: local-thickness voxels
    per bin ((2, nb) int64: nanopores, voids) and the central void and wide-void voxels."""
    inside_pore = labels > 0
    lt_vals = lt[inside_pore]
    is_void = np.concatenate(([False], void))[labels[inside_pore]]
    del inside_pore
    lt_counts = np.bincount(lt_vals.astype(np.int64) + nb * is_void,
                            minlength=2 * nb).reshape(2, nb)
    del lt_vals, is_void
    n_void, n_wide = central_counts(shell, labels, void, wide)
    return lt_counts, n_void, n_wide


def _check_amount(amount, phase):
    amount = np.asarray(amount)
    if amount.shape != phase.shape or amount.dtype.kind not in "ui":
        raise ConfigError("amount", f"{amount.dtype} array of shape {amount.shape}",
                          f"must be an integer array of the phase field's shape "
                          f"{phase.shape}")
    return amount


def pore_statistics(phase, grain, center_vox, radius_vox, voxel_nm, *,
                    n_size_bins=N_SIZE_BINS, outline="sphere", amount=None,
                    thickness_convention="mcsim", central_void_reference=None) -> dict:
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
        tagged as outside (pore or lithium source with grain id 0; see
        :mod:`mcsim.pores.geometry`).
    amount : numpy.ndarray, (nz, ny, nx), optional
        The ``amount`` field. When given, a lithium-source voxel whose amount is 0 (no solid
        left, :func:`mcsim.diagnostics.reported_phase`) is taken as a pore, and the porosity
        by mass is computed; without it every source voxel is solid, as stored, and
        ``mass_porosity`` and ``subvoxel_porosity`` are NaN.
    thickness_convention : {"mcsim", "porespy"}
        Convention of the local-thickness histograms (:func:`local_thickness`): ``"mcsim"``
        bins the ball diameter on :func:`thickness_grid_vox`; ``"porespy"`` bins PoreSpy's
        integer sphere radius r, reported as the diameter 2 r (``edges_nm`` = 2 r voxel_nm
        for r = 1, 2, ..., one bin per radius).
    central_void_reference : float, optional
        The ``central_wide_void_fraction`` of the generated particle
        (:func:`reference_central_void`); ``central_void_opened`` is this snapshot's minus it.
        None: both are NaN.

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
        sphere that does not fit in the arrays; an unknown local-thickness convention; a
        reference outside [0, 1].
    """
    phase, grain, center, radius, voxel_nm = _check_inputs(phase, grain, center_vox,
                                                           radius_vox, voxel_nm)
    _check_convention(thickness_convention, "thickness_convention")
    reference = _check_reference(central_void_reference)
    if amount is not None:
        amount = _check_amount(amount, phase)
    if not (isinstance(n_size_bins, (int, np.integer)) and 1 <= n_size_bins <= 1000):
        raise ConfigError("n_size_bins", n_size_bins, "must be an integer in [1, 1000]")
    if outline not in ("sphere", "tags"):
        raise ConfigError("outline", outline, 'must be "sphere" or "tags"')
    p, g, origin = _box(phase, grain, center, radius)
    a = None
    if amount is not None:  # used-up sources are pores (the box of amount, padded like p)
        a, _, _ = _box(amount, grain, center, radius)
        p = reported_phase(p, a)
    shell = _shell_index(p.shape, origin, center, radius)
    if outline == "tags":
        shell[(g == 0) & ~_TM_LUT[p]] = _OUTSIDE  # the outside world inside the sphere
    sums = None
    if a is not None:
        sums = _porosity_sums(p, a, shell)
        del a
    shell_pores, shell_total = _shell_counts(p == ph.PORE, shell)
    labels, t = find_pores(p, g, shell, origin)
    void = t["pore_class"] != INTRAGRANULAR
    grid, lt, wide = _thickness_levels(LOCAL_OPS, labels > 0, radius, voxel_nm,
                                       thickness_convention, p.shape)
    lt_counts, n_void, n_wide = _voxel_counts(labels, void, lt, wide, shell, len(grid) - 1)
    del labels, lt, wide, shell
    gid, gvol = _grain_census(phase, grain)
    return _assemble(
        center=center, radius=radius, voxel_nm=voxel_nm, n_size_bins=n_size_bins,
        reference=reference, sums=sums, shell_pores=shell_pores, shell_total=shell_total,
        table=t, grid=grid, lt_counts=lt_counts, central_void=n_void, central_wide=n_wide,
        grain_ids=gid, grain_volumes=gvol)


def _assemble(*, center, radius, voxel_nm, n_size_bins, reference, sums, shell_pores,
              shell_total, table, grid, lt_counts, central_void, central_wide, grain_ids,
              grain_volumes) -> dict:
    """The dict of :func:`pore_statistics` from its ingredients, every one an integer tally
    or a per-pore or per-grain record in canonical order (pores by their first voxel in the
    box's raster order, grains by id), so that the floats come out the same, bit for bit,
    whether the ingredients were counted on one array or summed over the slabs of
    :mod:`mcsim.pores.distributed`: ``sums`` (:func:`_porosity_sums`, or None without
    ``amount``), ``shell_pores`` and ``shell_total`` (pore and all voxels per shell),
    ``table`` (:func:`~mcsim.pores.classes.find_pores`), ``grid`` and ``lt_counts`` (the
    local-thickness diameter grid and voxels per bin), the central void and wide-void voxel
    counts, and the grain census."""
    t = table
    by_mass = {"mass_porosity": math.nan, "subvoxel_porosity": math.nan}
    if sums is not None:
        by_mass_sums = porosity_from_sums(sums, full_amount_table())
        by_mass = {k: by_mass_sums[k] for k in by_mass}
    porosity, by_shell, shell_voxels = _profile_from_counts(shell_pores, shell_total)
    inside = shell_voxels.sum()
    vox_nm3 = voxel_nm ** 3

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
    lt_frac = lt_counts / np.maximum(lt_counts.sum(axis=1, keepdims=True), 1)
    thickness = {"edges_nm": grid.astype(np.float64) * voxel_nm,
                 "nanopore_voxels": lt_counts[0], "void_voxels": lt_counts[1],
                 "nanopore_volume_fraction": lt_frac[0], "void_volume_fraction": lt_frac[1]}

    # densities, central voids, internal surface
    core_vox = shell_voxels[:int(round(CORE_MAX * N_RADIAL_BINS))].sum()
    shell_vox = shell_voxels[int(round(SHELL_MIN * N_RADIAL_BINS)):].sum()
    um3 = vox_nm3 * 1e-9
    n_core = int(np.count_nonzero(nano & (rc < CORE_MAX)))
    n_shell = int(np.count_nonzero(nano & (rc >= SHELL_MIN)))
    dens_core = n_core / (core_vox * um3) if core_vox else 0.0
    dens_shell = n_shell / (shell_vox * um3) if shell_vox else 0.0
    central_pores = central_fraction(central_void, shell_voxels)
    central_wide = central_fraction(central_wide, shell_voxels)
    n_pore_vox = int(vol.sum())
    solid_nm3 = float((inside - n_pore_vox) * vox_nm3)
    surface_total = float(surface_nm2.sum())

    gstats = _grain_table(grain_ids, grain_volumes, voxel_nm, edges_nm)
    out = {
        "porosity": porosity,
        **by_mass,
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
        "nanopore_count_core": n_core,
        "nanopore_count_shell": n_shell,
        "central_pore_fraction": central_pores,
        "central_wide_void_fraction": central_wide,
        "central_void_opened": central_wide - reference,
        "central_void_reference": reference,
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
