"""A Voronoi polycrystal of grain ids, for the tests, benchmarks and the quick validation of
grain growth."""

from __future__ import annotations

import math

import numba
import numpy as np

from mcsim import rng


@numba.njit(parallel=True, cache=True)
def _voronoi_kernel(seeds, cells, cell_vox, out):
    nz, ny, nx = out.shape
    cz, cy, cx = cells
    for z in numba.prange(nz):
        iz = int(z / cell_vox)
        for y in range(ny):
            iy = int(y / cell_vox)
            for x in range(nx):
                ix = int(x / cell_vox)
                best = 1e30
                lab = 0
                for a in range(max(0, iz - 1), min(cz, iz + 2)):
                    for b in range(max(0, iy - 1), min(cy, iy + 2)):
                        for c in range(max(0, ix - 1), min(cx, ix + 2)):
                            i = (a * cy + b) * cx + c
                            d = ((seeds[i, 0] - z) ** 2 + (seeds[i, 1] - y) ** 2
                                 + (seeds[i, 2] - x) ** 2)
                            if d < best:
                                best = d
                                lab = i + 1
                out[z, y, x] = lab


def polycrystal(shape, grain_vox: float = 3.5, seed: int = 1) -> np.ndarray:
    """Grain ids (int32, from 1) of a Voronoi polycrystal with one seed per cube of edge
    ``grain_vox`` voxels (jittered by Philox numbers), for tests and benchmarks."""
    cells = tuple(int(math.ceil(n / grain_vox)) for n in shape)
    n = int(np.prod(cells))
    u = np.stack([rng.uniform_array(seed, rng.STREAM_SINTER, np.arange(n, dtype=np.int64), 1000 + k)
                  for k in range(3)], axis=1)
    idx = np.stack(np.unravel_index(np.arange(n), cells), axis=1)
    seeds = (idx + u) * grain_vox
    out = np.zeros(tuple(shape), dtype=np.int32)
    _voronoi_kernel(seeds, np.array(cells, dtype=np.int64), float(grain_vox), out)
    return out
