"""The class of each pore (intragranular, intergranular, open) and the central void.

Class of a pore (uint8 code, names in :data:`PORE_CLASS_NAMES`): ``open`` (2) when a pore
voxel of it shares a face with an outside pore voxel; otherwise ``intragranular`` (0) when
every non-pore voxel sharing a face with it is a transition-metal voxel (hydroxide, rock salt,
layered) of one and the same grain id > 0; ``intergranular`` (1) otherwise (two or more
grains, or a lithium-source neighbour). *Nanopores* are the intragranular pores; *voids* the
intergranular and open ones. The engine's own tag on pore voxels (``grain`` = -1 or the
grain's id) is not used: the class follows from the geometry alone.

The central void fraction is the volume of the voids within r/R < :data:`CENTRAL_MAX` over
the particle volume there.
"""

from __future__ import annotations

import numpy as np

from mcsim.diagnostics import N_RADIAL_BINS
from mcsim.pores.labelling import _label_sums, face_census, label_pores

#: Pore class codes of ``pores/pore_class``.
INTRAGRANULAR = 0
INTERGRANULAR = 1
OPEN = 2
#: Names of the pore class codes, in code order.
PORE_CLASS_NAMES = ("intragranular", "intergranular", "open")

#: The central sphere of the central void fraction, in r/R.
CENTRAL_MAX = 0.3


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


def central_void_fraction(shell, labels, void, shell_voxels):
    """Void voxels within r/R < :data:`CENTRAL_MAX` over the voxels inside the particle there
    (0 if none): ``void`` per pore (label ``i + 1``), ``shell_voxels`` per shell."""
    n_central = int(round(CENTRAL_MAX * N_RADIAL_BINS))
    central = shell < n_central
    void_lut = np.concatenate(([False], void))
    central_void = int(np.count_nonzero(void_lut[labels[central]]))
    central_vox = int(shell_voxels[:n_central].sum())
    del central
    return central_void / central_vox if central_vox else 0.0
