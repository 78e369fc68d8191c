"""Intergranular pores of the generated particle, and the grain ids of the solid left.

Step 3 of :func:`mcsim.generator.generate_agglomerate`: the boundary gap of a voxel is the
first-order real-space distance of its centre from the bisector surface ``d2^2 - d1^2 = 0``
of its two nearest seeds (voxels); the ``porosity`` quantile of the in-sphere voxels with
the smallest gap become PORE (intergranular porosity, exact to one voxel).  The remaining
hydroxide voxels take the id of their nearest seed, renumbered 1..N over the seeds that own
at least one of them.
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange

from mcsim import phases


@numba.njit(parallel=True, cache=True)
def _boundary_gap(center, radius, pos, amat, i1, i2, d1, d2):
    """First-order real-space distance (voxels) of each in-sphere voxel from the bisector
    surface f = d2^2 - d1^2 = 0 of its two nearest seeds: f / |grad f|.  Voxels outside the
    sphere get -1, voxels with a single seed in reach get +inf."""
    n = i1.shape[0]
    gap = np.full((n, n, n), -1.0, np.float32)
    r2 = radius * radius
    for z in prange(n):
        for y in range(n):
            for x in range(n):
                dzc = z - center[0]
                dyc = y - center[1]
                dxc = x - center[2]
                if dzc * dzc + dyc * dyc + dxc * dxc > r2:
                    continue
                s1 = i1[z, y, x]
                s2 = i2[z, y, x]
                if s2 < 0:
                    gap[z, y, x] = np.inf
                    continue
                g0 = 0.0
                g1 = 0.0
                g2 = 0.0
                p1 = (z - pos[s1, 0], y - pos[s1, 1], x - pos[s1, 2])
                p2 = (z - pos[s2, 0], y - pos[s2, 1], x - pos[s2, 2])
                a = amat[s1]
                b = amat[s2]
                g0 = (b[0, 0] * p2[0] + b[0, 1] * p2[1] + b[0, 2] * p2[2]) - (
                    a[0, 0] * p1[0] + a[0, 1] * p1[1] + a[0, 2] * p1[2])
                g1 = (b[1, 0] * p2[0] + b[1, 1] * p2[1] + b[1, 2] * p2[2]) - (
                    a[1, 0] * p1[0] + a[1, 1] * p1[1] + a[1, 2] * p1[2])
                g2 = (b[2, 0] * p2[0] + b[2, 1] * p2[1] + b[2, 2] * p2[2]) - (
                    a[2, 0] * p1[0] + a[2, 1] * p1[1] + a[2, 2] * p1[2])
                gn = 2.0 * math.sqrt(g0 * g0 + g1 * g1 + g2 * g2)
                f = float(d2[z, y, x]) - float(d1[z, y, x])
                gap[z, y, x] = f / gn if gn > 0.0 else np.inf
    return gap



def place_pores(gap, inside, porosity, n):
    """The phase array with the sphere hydroxide and its ``porosity`` share of smallest-gap
    voxels PORE (everything outside the sphere PORE too: code 0).

    Returns
    -------
    phase : uint8[n, n, n]
    n_sphere : int
        Voxels inside the sphere.
    """
    flat_in = np.flatnonzero(inside.ravel())
    n_sphere = flat_in.size
    k_pore = int(round(porosity * n_sphere))
    phase = np.zeros((n, n, n), np.uint8)
    phase[inside] = phases.HYDROXIDE
    if k_pore > 0:
        g_in = gap.ravel()[flat_in]
        sel = np.argpartition(g_in, k_pore - 1)[:k_pore] if k_pore < n_sphere \
            else np.arange(n_sphere)
        phase.ravel()[flat_in[sel]] = phases.PORE
        del g_in, sel
    return phase, n_sphere


def number_grains(phase, i1, pos):
    """Grain ids 1..N in seed order over the seeds owning >= 1 hydroxide voxel.

    Returns
    -------
    grain : int32[n, n, n]
        The id on hydroxide voxels, 0 elsewhere.
    ngrain : int
    seed_points : float64[ngrain, 3]
        The seed of grain ``i + 1`` in row ``i``.
    n_hyd : int
        Hydroxide voxels.
    """
    n = phase.shape[0]
    nseed = pos.shape[0]
    hyd = phase == phases.HYDROXIDE
    owned = np.bincount(i1[hyd], minlength=nseed)
    keep = owned > 0
    remap = np.zeros(nseed, np.int32)
    remap[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    grain = np.zeros((n, n, n), np.int32)
    grain[hyd] = remap[i1[hyd]]
    ngrain = int(keep.sum())
    seed_points = pos[keep].copy()
    return grain, ngrain, seed_points, int(hyd.sum())
