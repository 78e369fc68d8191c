"""Inside and outside the particle: the input checks, the particle's box and the shells of r/R.

A voxel is *inside* the particle when its centre lies at ``r <= R`` from the particle centre
(R: the particle's initial radius) and, with ``outline="tags"`` (what the engine uses), it is
not a voxel of the outside world: a pore or lithium-source voxel with grain id 0, the engine's
tag of everything outside the particle (pores inside carry -1 or a grain id,
:mod:`mcsim.state`). A particle that densifies gives up outer-surface voxels to the outside,
so porosity and densities then follow its current outline within R rather than the whole
sphere. ``outline="sphere"`` (the default, for arrays without the engine's tags, such as a
generated microstructure) takes every voxel with ``r <= R``. Inside voxels are binned into 10
equal shells of r/R (shell ``b`` holds ``b/10 <= r/R < (b+1)/10``, r = R in the outermost), as
in :mod:`mcsim.diagnostics`. Core = r/R < 0.5, shell = r/R >= 0.7, centre = r/R < 0.3.

Work is restricted to the particle's bounding box plus one voxel (the *box*, :func:`_box`).
"""

from __future__ import annotations

import math

import numpy as np

from mcsim import phases as ph
from mcsim.diagnostics import N_RADIAL_BINS
from mcsim.errors import ConfigError

#: Shell index of voxels outside the particle sphere.
_OUTSIDE = 255

#: Transition-metal phases (hydroxide, rock salt, layered) by phase code.
_TM_LUT = np.zeros(256, dtype=bool)
_TM_LUT[list(ph.TM_PHASES)] = True


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
    center, radius, voxel_nm = _check_geometry(center_vox, radius_vox, voxel_nm, phase.shape)
    return phase, grain, center, radius, voxel_nm


def _check_geometry(center_vox, radius_vox, voxel_nm, shape):
    """The centre (tuple of float), radius and voxel edge, checked; the sphere must lie in an
    array of ``shape``."""
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
    for c, n in zip(center, shape):
        if math.ceil(c - radius_vox) < 0 or math.floor(c + radius_vox) > n - 1:
            raise ConfigError("radius_vox", radius_vox,
                              f"the particle sphere (centre {center}) must lie inside the "
                              f"array of shape {tuple(shape)}")
    return center, float(radius_vox), float(voxel_nm)


def _box_bounds(center, radius):
    """First voxel (global index, may be negative) and shape of the particle's box: its
    bounding box plus one voxel."""
    lo = [math.floor(c - radius) - 1 for c in center]
    hi = [math.ceil(c + radius) + 2 for c in center]
    return tuple(lo), tuple(b - a for a, b in zip(lo, hi))


def _box(phase, grain, center, radius):
    """The particle's bounding box plus one voxel: views (padded copies at array faces)."""
    lo, shape = _box_bounds(center, radius)
    hi = [a + n for a, n in zip(lo, shape)]
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
    return _profile_from_counts(*_shell_counts(pore, shell, nbins))


def _shell_counts(pore, shell, nbins=N_RADIAL_BINS):
    """int64 pore voxels and voxels per shell (counts that add up over any split)."""
    total = np.bincount(shell.ravel(), minlength=256)[:nbins].astype(np.int64)
    pores = np.bincount(shell[pore], minlength=256)[:nbins].astype(np.int64)
    return pores, total


def _profile_from_counts(pores, total):
    """:func:`porosity_profile` from the counts of :func:`_shell_counts`."""
    by_shell = pores / np.maximum(total, 1)
    return float(pores.sum() / max(total.sum(), 1)), by_shell, total.astype(np.int64)
