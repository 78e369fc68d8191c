"""Pores as connected components, and what each one touches.

A *pore* is a face-connected (6-connected) component of pore voxels (phase 0; with ``amount``
given to :func:`~mcsim.pores.summary.pore_statistics`, also used-up sources) inside the
particle. The other pore voxels are the outside world; the sphere must lie inside the array,
and the array's faces count as outside.

Each pore is then described by the voxels across its faces (:func:`face_census`): how many
faces it shares with non-pore voxels (its *surface*: faces between a pore voxel and a non-pore
voxel, any solid, lithium sources included; faces between inside and outside pore voxels are
not surface, so the particle's outer surface is never counted), the smallest and largest grain
id of the transition-metal voxels across those faces (0 for any other solid, which no
single-grain enclosure can have), and whether it touches an outside pore voxel. These decide
its class (:mod:`mcsim.pores.classes`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from mcsim import phases as ph
from mcsim.pores.geometry import _OUTSIDE, _TM_LUT

#: Voxels per chunk of the per-pore centroid sums.
_CHUNK_VOXELS = 1 << 21


def _face_pairs(axis):
    """Index pairs (this side, neighbour side) of the faces normal to ``axis``, both ways."""
    a = [slice(None)] * 3
    b = [slice(None)] * 3
    a[axis] = slice(0, -1)
    b[axis] = slice(1, None)
    return ((tuple(a), tuple(b)), (tuple(b), tuple(a)))


def label_pores(phase, shell):
    """The pores inside the particle as face-connected components.

    Returns
    -------
    labels : numpy.ndarray of int32
        Pore label per voxel (1..n inside pores, 0 elsewhere).
    n : int
        Number of pores.
    outside_pore : numpy.ndarray of bool
        Pore voxels outside the particle (shell index 255).
    """
    pore = phase == ph.PORE
    inside_pore = pore & (shell != _OUTSIDE)
    labels, n = ndimage.label(inside_pore)
    labels = labels.astype(np.int32, copy=False)
    del inside_pore
    outside_pore = pore & (shell == _OUTSIDE)
    del pore
    return labels, n, outside_pore


def face_census(labels, n, phase, grain, outside_pore):
    """What the faces of each pore touch, per label 0..n (entry 0 unused).

    Returns
    -------
    faces : numpy.ndarray of int64
        Pore-solid faces.
    kmin, kmax : numpy.ndarray of int64
        Smallest and largest key of the non-pore face neighbours: the grain id of a
        transition-metal voxel of a grain, else 0 (int64 max and -1 for a pore without
        non-pore neighbours).
    is_open : numpy.ndarray of bool
        The pore shares a face with an outside pore voxel.
    """
    faces = np.zeros(n + 1, dtype=np.int64)
    kmin = np.full(n + 1, np.iinfo(np.int64).max, dtype=np.int64)
    kmax = np.full(n + 1, -1, dtype=np.int64)
    is_open = np.zeros(n + 1, dtype=bool)
    for axis in range(3):
        for this, other in _face_pairs(axis):
            _census_pairs(labels[this], phase[other], grain[other], outside_pore[other],
                          faces, kmin, kmax, is_open)
    return faces, kmin, kmax, is_open


def _census_pairs(lab, p_other, g_other, outside_other, faces, kmin, kmax, is_open):
    """Add the faces between the voxels of labels ``lab`` and their neighbours across one
    face (``p_other``, ``g_other``, ``outside_other``, arrays of ``lab``'s shape) to the
    census arrays of :func:`face_census`, in place."""
    n1 = faces.size
    has = lab > 0
    m = has & (p_other != ph.PORE)
    lab_f = lab[m]
    faces += np.bincount(lab_f, minlength=n1)
    g = g_other[m].astype(np.int64)
    # key of the neighbouring solid: its grain id for a TM voxel of a grain, else 0, which no
    # single-grain enclosure can have
    key = np.where(_TM_LUT[p_other[m]] & (g > 0), g, 0)
    np.minimum.at(kmin, lab_f, key)
    np.maximum.at(kmax, lab_f, key)
    del m, lab_f, g, key
    m = has & outside_other
    is_open[lab[m]] = True


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
