"""Lithium release from the source particles (LiOH or Li2CO3) into the mobile inventory."""

from __future__ import annotations

import math

import numba
import numpy as np

from mcsim import phases as ph
from mcsim import rng
from mcsim.processes.base import Process, arrhenius


@numba.njit(parallel=True, cache=True)
def release_kernel(phase, grain, amount, li, probability, seed, step, oz, oy, ox, gny, gnx):
    """Move lithium quanta from each source voxel's solid ``amount`` to its mobile ``li``.

    Each voxel releases a binomial-mean share ``amount * probability`` rounded stochastically
    (so quanta stay integers and lithium is conserved exactly). A source voxel whose solid is
    used up and whose mobile lithium has left becomes pore.
    Returns (Li quanta released, source voxels left).
    """
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    done = np.zeros(nz, dtype=np.int64)
    left = np.zeros(nz, dtype=np.int64)
    for z in numba.prange(1, nz + 1):
        for y in range(1, ny + 1):
            row = ((oz + z - 1) * gny + (oy + y - 1)) * gnx + ox - 1
            for x in range(1, nx + 1):
                c = phase[z, y, x]
                if c != ph.LIOH and c != ph.LI2O and c != ph.LI2CO3:
                    continue
                a = amount[z, y, x]
                if a > 0:
                    mean = a * probability
                    n = int(mean)
                    if rng.uniform(seed, rng.STREAM_SOURCE, row + x, step) < mean - n:
                        n += 1
                    n = min(n, a)
                    amount[z, y, x] = a - n
                    li[z, y, x] += n
                    done[z - 1] += n
                if amount[z, y, x] == 0 and li[z, y, x] < 0.5:
                    phase[z, y, x] = ph.PORE
                    grain[z, y, x] = 0
                else:
                    left[z - 1] += 1
    return done.sum(), left.sum()


class SourceRelease(Process):
    """First-order release k = A exp(-Ea/RT), multiplied above the source's melting point.

    The released share 1 - exp(-k dt) is exact for any step at constant temperature, so the
    process sets no time-step limit of its own.
    """

    name = "release"
    variant = "first-order"

    def _rate(self, temperature_c):
        k = arrhenius(self.params["release_a_per_s"], self.params["release_ea_j_per_mol"],
                      temperature_c)
        if temperature_c >= self.params["source_melt_c"]:
            k *= self.params["melt_release_factor"]
        return k

    def advance(self, state, dt_s, temperature_c):
        p = -math.expm1(-self._rate(temperature_c) * dt_s)
        done, left = release_kernel(state.phase, state.grain, state.amount, state.li, p, self.seed,
                                    state.step, *state.offset, *state.global_shape[1:])
        state.census["source"] = int(left)
        return {"li_released": int(done)}
