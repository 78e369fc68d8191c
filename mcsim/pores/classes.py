"""The class of each pore (intragranular, intergranular, open) and the central void.

Class of a pore (uint8 code, names in :data:`PORE_CLASS_NAMES`): ``open`` (2) when a pore
voxel of it shares a face with an outside pore voxel; otherwise ``intragranular`` (0) when
every non-pore voxel sharing a face with it is a transition-metal voxel (hydroxide, rock salt,
layered) of one and the same grain id > 0; ``intergranular`` (1) otherwise (two or more
grains, or a lithium-source neighbour). *Nanopores* are the intragranular pores; *voids* the
intergranular and open ones. The engine's own tag on pore voxels (``grain`` = -1 or the
grain's id) is not used: the class follows from the geometry alone.

The centre is the sphere r/R < :data:`CENTRAL_MAX`. Two measures of it:

* the *central pore fraction* (:func:`central_pore_fraction`): the voxels of void pores there
  over the particle's voxels there, whatever the width of the pore. The generated packing's
  gaps between grains already give 0.27-0.30 (default particle), so it is a porosity of the
  centre, not a void that opened;
* the *central wide-void fraction* (:func:`central_wide_void_fraction`): the voxels of void
  pores there whose local thickness is at least :func:`wide_void_diameter_vox` (30 nm, and
  at least 3 voxels), over the particle's voxels there. No gap of a generated packing is
  that wide on the default particle, so it measures voids that opened; the growth of this
  fraction since the generated particle is ``central_void_opened``
  (:mod:`mcsim.pores.summary`).

Why 30 nm: local thickness (ball diameter, :mod:`mcsim.pores.thickness`) of the void voxels
of generated particles at the default porosity 0.25: never above 2 voxels (20 nm) with 10 nm
voxels (default particle, seeds 1-3; the tests' tiny particle, seed 1) and at most 4 voxels
(20 nm) with 5 nm voxels; at porosity 0.4, 0.2 % of them reach 3 voxels (30 nm), which the
reference of ``central_void_opened`` takes away. Below 3 voxels every narrow gap between two
digitised plates would count, whatever the voxel size.
"""

from __future__ import annotations

import math

import numpy as np

from mcsim.diagnostics import N_RADIAL_BINS
from mcsim.pores.labelling import _label_sums, face_census, label_pores
from mcsim.pores.thickness import LOCAL_OPS, thickness_grid_vox

#: Pore class codes of ``pores/pore_class``.
INTRAGRANULAR = 0
INTERGRANULAR = 1
OPEN = 2
#: Names of the pore class codes, in code order.
PORE_CLASS_NAMES = ("intragranular", "intergranular", "open")

#: The central sphere of the central pore and wide-void fractions, in r/R.
CENTRAL_MAX = 0.3
#: Smallest local thickness of a wide void: nm, and voxels (the larger of the two applies).
WIDE_VOID_MIN_NM = 30.0
WIDE_VOID_MIN_VOX = 3


def pore_classes(kmin, kmax, is_open):
    """uint8 class code per label from :func:`~mcsim.pores.labelling.face_census`."""
    intra = (kmin == kmax) & (kmax > 0)
    return np.where(is_open, OPEN, np.where(intra, INTRAGRANULAR, INTERGRANULAR)).astype(np.uint8)


def find_pores(phase, grain, shell, origin=(0, 0, 0)):
    """Label and classify the pores inside the particle.

    Parameters
    ----------
    phase, grain : numpy.ndarray
        Phase codes and grain ids of the box (see :func:`~mcsim.pores.pore_statistics`).
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
    labels, n, outside_pore = label_pores(phase, shell)
    faces, kmin, kmax, is_open = face_census(labels, n, phase, grain, outside_pore)
    del outside_pore

    cls = pore_classes(kmin, kmax, is_open)
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


def _central(shell, shell_voxels):
    """The voxels of the central sphere and their number (shells below CENTRAL_MAX)."""
    n_central = int(round(CENTRAL_MAX * N_RADIAL_BINS))
    return shell < n_central, int(shell_voxels[:n_central].sum())


def central_counts(shell, labels, void, wide=None):
    """Voxels of void pores within r/R < :data:`CENTRAL_MAX` (``void`` per pore, label
    ``i + 1``), and of them those marked in ``wide`` (0 when ``wide`` is None): the
    numerators of :func:`central_pore_fraction` and :func:`central_wide_void_fraction`, as
    integers that add up over any split of the voxels."""
    central = shell < int(round(CENTRAL_MAX * N_RADIAL_BINS))
    void_lut = np.concatenate(([False], void))
    n_void = int(np.count_nonzero(void_lut[labels[central]]))
    n_wide = 0 if wide is None else int(np.count_nonzero(void_lut[labels[central & wide]]))
    return n_void, n_wide


def central_fraction(count, shell_voxels):
    """``count`` voxels over the particle's voxels within r/R < :data:`CENTRAL_MAX` (0 if
    none)."""
    central_vox = int(shell_voxels[:int(round(CENTRAL_MAX * N_RADIAL_BINS))].sum())
    return count / central_vox if central_vox else 0.0


def central_pore_fraction(shell, labels, void, shell_voxels):
    """Void voxels within r/R < :data:`CENTRAL_MAX` over the voxels inside the particle there
    (0 if none): ``void`` per pore (label ``i + 1``), ``shell_voxels`` per shell. Every void
    voxel counts, however narrow its pore (see the module docstring)."""
    return central_fraction(central_counts(shell, labels, void)[0], shell_voxels)


def wide_void_diameter_vox(voxel_nm) -> int:
    """Smallest local thickness (ball diameter, voxels) of a wide void: 30 nm
    (:data:`WIDE_VOID_MIN_NM`) rounded up to whole voxels, and at least
    :data:`WIDE_VOID_MIN_VOX`."""
    return max(WIDE_VOID_MIN_VOX, math.ceil(WIDE_VOID_MIN_NM / float(voxel_nm) - 1e-9))


def wide_void_grid(grid, voxel_nm):
    """Index into the local-thickness diameter ``grid`` of the first diameter >= the wide-void
    diameter (:func:`wide_void_diameter_vox`; the grid holds every diameter up to 16 voxels,
    so it is that diameter itself for voxels of 1.875 nm or more); ``len(grid)`` if none."""
    return int(np.searchsorted(np.asarray(grid), wide_void_diameter_vox(voxel_nm)))


def _wide_diameters(box_shape, voxel_nm):
    """The diameters whose openings make up the wide voids of a box of ``box_shape``: 1, then
    the grid from the wide-void diameter up (None when the grid has no such diameter)."""
    grid = thickness_grid_vox(2 * math.sqrt(3) * max(box_shape) + 2)
    first = wide_void_grid(grid, voxel_nm)
    if first >= len(grid):
        return None
    diam = np.concatenate(([1], grid[first:]))
    if len(diam) > 255:
        raise ValueError("at most 255 local-thickness diameters")
    return diam


def _wide_from_distance(ops, pore, d2, voxel_nm, box_shape):
    """:func:`wide_void_levels` from the squared distance map ``d2`` of ``pore``, by the
    operations ``ops`` (:data:`~mcsim.pores.thickness.LOCAL_OPS` on one array, or those of
    :mod:`mcsim.pores.distributed` on the slabs of a box of ``box_shape``)."""
    diam = _wide_diameters(box_shape, voxel_nm)
    if diam is None:
        return np.zeros(pore.shape, dtype=bool)
    quarter = np.asarray(diam, dtype=np.int64) ** 2 // 4
    return ops.levels(pore, d2, quarter + 1, quarter) > 0


def wide_void_levels(pore, voxel_nm):
    """Whether each voxel of ``pore`` has a local thickness (mcsim's convention, ball
    diameter, :mod:`mcsim.pores.thickness`) of at least the wide-void diameter, as a bool
    array: the union of the openings of the pore space by the balls of every grid diameter
    from it up (openings of a lattice are not nested, so one ball size is not enough)."""
    if _wide_diameters(pore.shape, voxel_nm) is None:
        return np.zeros(pore.shape, dtype=bool)
    return _wide_from_distance(LOCAL_OPS, pore, LOCAL_OPS.sq_distance(pore), voxel_nm,
                               pore.shape)


def central_wide_void_fraction(shell, labels, void, shell_voxels, wide):
    """Wide-void voxels within r/R < :data:`CENTRAL_MAX` over the voxels inside the particle
    there (0 if none).

    A wide-void voxel is a voxel of a void pore (``void`` per pore, label ``i + 1``) whose
    local thickness in the pore space inside the particle (``labels > 0``; mcsim's
    convention, :mod:`mcsim.pores.thickness`) is at least :func:`wide_void_diameter_vox`:
    ``wide`` marks those voxels (bool per voxel, from the local-thickness levels or
    :func:`wide_void_levels`).
    """
    return central_fraction(central_counts(shell, labels, void, wide)[1], shell_voxels)
