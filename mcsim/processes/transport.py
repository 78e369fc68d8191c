"""Lithium transport: explicit diffusion of mobile lithium with phase-dependent mobility."""

from __future__ import annotations

import math

import numba
import numpy as np

from mcsim import phases as ph
from mcsim.processes.base import Process, arrhenius

# Mobility class of each phase: 0 none (pore), 1 slow (hydroxide, rock salt), 2 fast
# (lithium sources, layered product).
_MOBILITY = np.array([0, 2, 2, 2, 1, 1, 2], dtype=np.uint8)


@numba.njit(parallel=True, cache=True)
def diffuse_kernel(phase, grain, li, out, w_fast, w_slow, mobility):
    """One explicit step of d(li)/dt = div(D grad li) on the 7-point stencil.

    ``w_fast`` and ``w_slow`` are D dt / h^2 for fast and slow faces. A face is fast when both
    voxels are fast phases or when it is a grain boundary (different grain ids, both solid);
    it is slow otherwise, and closed when either side is pore. Face weights are symmetric, so
    the lithium leaving one voxel arrives in the other: the update conserves lithium.
    """
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    for z in numba.prange(1, nz + 1):
        for y in range(1, ny + 1):
            for x in range(1, nx + 1):
                c = li[z, y, x]
                m = mobility[phase[z, y, x]]
                if m == 0:
                    out[z, y, x] = c
                    continue
                g = grain[z, y, x]
                acc = 0.0
                for k in range(6):
                    dz = -1 if k == 0 else (1 if k == 1 else 0)
                    dy = -1 if k == 2 else (1 if k == 3 else 0)
                    dx = -1 if k == 4 else (1 if k == 5 else 0)
                    mn = mobility[phase[z + dz, y + dy, x + dx]]
                    if mn == 0:
                        continue
                    if (m == 2 and mn == 2) or grain[z + dz, y + dy, x + dx] != g:
                        w = w_fast
                    else:
                        w = w_slow
                    acc += w * (li[z + dz, y + dy, x + dx] - c)
                out[z, y, x] = c + acc


class ExplicitDiffusion(Process):
    """Lithium diffusion, D = D0 exp(-Ea/RT) on fast paths and a fixed fraction of it on slow ones.

    The kernel is explicit, so it sub-cycles within the engine's step at dt <= h^2/(6 D) (the
    stability bound of the 7-point stencil, with a 0.9 safety factor). The fast-path
    diffusivity is capped at ``d_cap_m2_per_s``: above it lithium supply is faster than any
    reaction it feeds and sub-cycling would only cost time.
    """

    name = "transport"
    variant = "explicit"

    def diffusivities(self, temperature_c):
        """(fast, slow) diffusivities in m^2/s at ``temperature_c``."""
        d_fast = min(arrhenius(self.params["d_fast_d0_m2_per_s"], self.params["d_fast_ea_j_per_mol"],
                               temperature_c), self.params["d_cap_m2_per_s"])
        return d_fast, d_fast * self.params["d_slow_ratio"]

    def substep_s(self, state, temperature_c):
        """The stable sub-step of the explicit kernel."""
        h = state.voxel_nm * 1e-9
        d_fast, _ = self.diffusivities(temperature_c)
        return math.inf if d_fast <= 0 else 0.9 * h * h / (6.0 * d_fast)

    def active(self, state):
        """Transport matters while something can still take up lithium."""
        c = state.census
        return c.get("hydroxide", 1) + c.get("rocksalt", 1) + c.get("source", 1) > 0

    def advance(self, state, dt_s, temperature_c):
        if not self.active(state):
            return {"transport_substeps": 0}
        h2 = (state.voxel_nm * 1e-9) ** 2
        d_fast, d_slow = self.diffusivities(temperature_c)
        n_sub = max(1, math.ceil(dt_s / self.substep_s(state, temperature_c)))
        sub = dt_s / n_sub
        for _ in range(n_sub):
            out = state.scratch_array()
            diffuse_kernel(state.phase, state.grain, state.li, out, d_fast * sub / h2,
                           d_slow * sub / h2, _MOBILITY)
            state.li, state.scratch = out, state.li
            state.exchange_halo(("li",))
        return {"transport_substeps": n_sub}
