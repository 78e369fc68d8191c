"""Topotactic lithiation TM(OH)2 + Li -> layered LiTMO2 + H2O where mobile lithium has arrived."""

from __future__ import annotations

import math

import numba
import numpy as np

from mcsim import phases as ph
from mcsim import rng
from mcsim.processes.base import Process, arrhenius, event_dt_limit


@numba.njit(parallel=True, cache=True)
def lithiate_kernel(phase, amount, li, disorder, reactant, stream, rate_dt, new_disorder,
                    seed, step, oz, oy, ox, gny, gnx):
    """Convert ``reactant`` voxels holding mobile lithium to layered.

    A voxel with mobile lithium ``li`` and TM ``amount`` converts with probability
    1 - exp(-k dt min(1, li/amount)); it then binds ``amount`` quanta of lithium (its ``li``
    may go negative: a Li-deficient layered voxel that keeps drawing lithium in).
    Returns (TM quanta lithiated, reactant voxels left, of which holding mobile lithium).
    """
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    done = np.zeros(nz, dtype=np.int64)
    left = np.zeros(nz, dtype=np.int64)
    supplied = np.zeros(nz, dtype=np.int64)
    for z in numba.prange(1, nz + 1):
        for y in range(1, ny + 1):
            row = ((oz + z - 1) * gny + (oy + y - 1)) * gnx + ox - 1
            for x in range(1, nx + 1):
                if phase[z, y, x] != reactant:
                    continue
                a = amount[z, y, x]
                c = li[z, y, x]
                if c > 0.0:
                    f = min(1.0, c / a)
                    p = -math.expm1(-rate_dt * f)
                    if rng.uniform(seed, stream, row + x, step) < p:
                        phase[z, y, x] = ph.LAYERED
                        li[z, y, x] = c - a
                        disorder[z, y, x] = new_disorder
                        done[z - 1] += a
                        continue
                    supplied[z - 1] += 1
                left[z - 1] += 1
    return done.sum(), left.sum(), supplied.sum()


class TopotacticLithiation(Process):
    """Hydroxide -> layered at k = A exp(-Ea/RT), scaled by the local lithium supply."""

    name = "lithiation"
    variant = "topotactic"
    reactant = ph.HYDROXIDE
    census_key = "hydroxide"
    stream = rng.STREAM_LITHIATION
    tally_key = "water_lithiation"
    prefix = "lithiation"

    def _rate(self, temperature_c):
        return arrhenius(self.params[f"{self.prefix}_a_per_s"],
                         self.params[f"{self.prefix}_ea_j_per_mol"], temperature_c)

    def max_dt(self, state, temperature_c):
        # Bound the event probability (and so the splitting error against dehydration, which
        # competes for the same voxels) only where a reactant voxel holds lithium.
        if state.census.get(self.census_key + "_supplied", 1) == 0:
            return math.inf
        return event_dt_limit(self._rate(temperature_c), self.numerics["max_event_probability"])

    def _disorder(self, temperature_c):
        # Li/Ni disorder of freshly formed layered oxide: larger when formed cold (paper
        # Fig. 1b); 0..255 codes 0..25.5 %. Annealing belongs to the kinetics issue.
        return int(max(0.0, min(255.0, 150.0 - 0.2 * temperature_c)))

    def advance(self, state, dt_s, temperature_c):
        done, left, supplied = lithiate_kernel(state.phase, state.amount, state.li, state.disorder,
                                     self.reactant, self.stream, self._rate(temperature_c) * dt_s,
                                     self._disorder(temperature_c), self.seed, state.step,
                                     *state.offset, *state.global_shape[1:])
        state.census[self.census_key] = int(left)
        state.census[self.census_key + "_supplied"] = int(supplied)
        return {self.tally_key: int(done)}
