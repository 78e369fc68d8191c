"""Thermal dehydration TM(OH)2 -> rock-salt TMO + H2O, first order, wherever lithium has not won."""

from __future__ import annotations

import math

import numba
import numpy as np

from mcsim import phases as ph
from mcsim import rng
from mcsim.processes.base import Process, arrhenius, event_dt_limit


@numba.njit(parallel=True, cache=True)
def dehydrate_kernel(phase, amount, probability, seed, step, oz, oy, ox, gny, gnx):
    """Turn each hydroxide voxel to rock salt with ``probability``; keeps its TM (amount).

    Returns (TM quanta dehydrated, hydroxide voxels left).
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
                if phase[z, y, x] == ph.HYDROXIDE:
                    if rng.uniform(seed, rng.STREAM_DEHYDRATION, row + x, step) < probability:
                        phase[z, y, x] = ph.ROCKSALT
                        done[z - 1] += amount[z, y, x]
                    else:
                        left[z - 1] += 1
    return done.sum(), left.sum()


class FirstOrderDehydration(Process):
    """F1 law: each hydroxide voxel dehydrates at k = A exp(-Ea/RT) (Carney et al. 2015)."""

    name = "dehydration"
    variant = "first-order"

    def _rate(self, temperature_c):
        return arrhenius(self.params["dehydration_a_per_s"], self.params["dehydration_ea_j_per_mol"],
                         temperature_c)

    def max_dt(self, state, temperature_c):
        if state.census.get("hydroxide", 1) == 0:
            return math.inf
        return event_dt_limit(self._rate(temperature_c), self.numerics["max_event_probability"])

    def advance(self, state, dt_s, temperature_c):
        p = -math.expm1(-self._rate(temperature_c) * dt_s)
        done, left = dehydrate_kernel(state.phase, state.amount, p, self.seed, state.step,
                                      *state.offset, *state.global_shape[1:])
        state.census["hydroxide"] = int(left)
        return {"water_dehydration": int(done)}
