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
from mcsim.pores.thickness import _thickness_bins, thickness_grid_vox

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


def central_pore_fraction(shell, labels, void, shell_voxels):
    """Void voxels within r/R < :data:`CENTRAL_MAX` over the voxels inside the particle there
    (0 if none): ``void`` per pore (label ``i + 1``), ``shell_voxels`` per shell. Every void
    voxel counts, however narrow its pore (see the module docstring)."""
    central, central_vox = _central(shell, shell_voxels)
    void_lut = np.concatenate(([False], void))
    central_void = int(np.count_nonzero(void_lut[labels[central]]))
    return central_void / central_vox if central_vox else 0.0


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


def wide_void_levels(pore, voxel_nm):
    """Whether each voxel of ``pore`` has a local thickness (mcsim's convention, ball
    diameter, :mod:`mcsim.pores.thickness`) of at least the wide-void diameter, as a bool
    array: the union of the openings of the pore space by the balls of every grid diameter
    from it up (openings of a lattice are not nested, so one ball size is not enough)."""
    grid = thickness_grid_vox(2 * math.sqrt(3) * max(pore.shape) + 2)
    first = wide_void_grid(grid, voxel_nm)
    if first >= len(grid):
        return np.zeros(pore.shape, dtype=bool)
    levels, _ = _thickness_bins(pore, np.concatenate(([1], grid[first:])))
    return levels > 0


def central_wide_void_fraction(shell, labels, void, shell_voxels, wide):
    """Wide-void voxels within r/R < :data:`CENTRAL_MAX` over the voxels inside the particle
    there (0 if none).

    A wide-void voxel is a voxel of a void pore (``void`` per pore, label ``i + 1``) whose
    local thickness in the pore space inside the particle (``labels > 0``; mcsim's
    convention, :mod:`mcsim.pores.thickness`) is at least :func:`wide_void_diameter_vox`:
    ``wide`` marks those voxels (bool per voxel, from the local-thickness levels or
    :func:`wide_void_levels`).
    """
    central, central_vox = _central(shell, shell_voxels)
    if not central_vox:
        return 0.0
    void_lut = np.concatenate(([False], void))
    n_wide = int(np.count_nonzero(void_lut[labels[central & wide]]))
    return n_wide / central_vox
