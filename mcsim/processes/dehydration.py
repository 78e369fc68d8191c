"""Thermal dehydration TM(OH)2 -> rock-salt TMO + H2O, first order, wherever lithium has not won.

Rule (fused reaction kernel, competing with lithiation for the same voxel, see
:mod:`mcsim.processes.lithiation`): k_d = A exp(-Ea/RT) with the F1 law of Carney et al.
(2015). The voxel keeps its TM; rock salt fills only 11.0/22.9 = 48 % of it, so dehydration
frees about half of the grain's volume, uniformly inside it, at first as partly filled rock-salt
voxels. :mod:`mcsim.processes.restructure` then ripens them and decides where the free volume
goes: part of it reaches the grain's surface, which retreats (the grain shrinks and
intergranular gaps open: the paper's loose, coarse core), the rest stays inside as
intragranular nanopores. The split follows from where TM goes in ripening, to the better
coordinated voxel: the surface voxels empty first and give their TM inwards, while voxels
deeper than the distance TM moves before the local ripening is over empty in place (see
:mod:`mcsim.processes.restructure` for the argument and the measured share).

The rule itself is the hydroxide voxel's rule in :mod:`mcsim.processes.lithiation` (one draw
decides between the two events); this module declares the rate's coefficient and the tally
with its heat and water.

Variant ``per-grain`` (:class:`GrainDehydration`): the same F1 law read as Carney et al. read
it, random nucleation: a crystallite decomposes once a nucleus forms in it, and the product
grows through it fast against the time to the next nucleus, so each crystallite converts
whole, at a first-order rate. mcsim's crystallites are its primary grains. Each step, every
grain that still holds hydroxide nucleates with probability 1 - exp(-k_d dt) (one uniform
per grain and step, keyed by the grain id), and then all of its hydroxide becomes rock salt
at once. The voxels that lithium has reached and lithiated stay layered; the rest of the
grain decomposes as one. Without lithium this is the F1 law of the TGA, exactly in
expectation, with no rate of its own. The per-voxel rule (the default) decomposes each
voxel on its own. Where dehydration meets hydroxide or lithiation, the rock salt is then a
salt-and-pepper of single voxels among hydroxide or layered ones, of the voxel's size. Under
this variant the rock-salt domains are whole grains, or the part of a grain that lithium had
not reached when it nucleated.
The rate is per grain, whatever its size. Carney et al.'s powder fits one k to
crystallites of many sizes, and a rate per volume would stretch the TGA's tail with the
small grains cut by the particle's surface.

It runs after the reaction sweep (operator splitting: a voxel lithiated in the sweep is no
longer hydroxide), on every voxel of the rank's array, halo included. The decision reads
only the grain id and the step, so every rank converts its halo copies as their owner does,
and no exchange is needed. The split error is of order k_l k_d dt^2 per step, within the
step bound of both rates.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from mcsim import phases as ph
from mcsim import rng
from mcsim.parallel import allreduce_int
from mcsim.processes.base import Process, arrhenius, event_dt_limit, event_probability
from mcsim.processes.registry import Coefficient, LocalReaction, Tally, slot
from mcsim.state import full_amount_table

REACTION = LocalReaction(
    coefficients=(Coefficient("kdt_dehyd", doc="k dt of dehydration"),),
    tallies=(Tally("tm_dehydrated", "TM dehydrated to rock salt: one H2O given off each",
                   gas={"H2O": 1.0}, enthalpy="dehydration_dh_j_per_mol"),),
)


class FirstOrderDehydration(Process):
    """F1 law: each hydroxide voxel dehydrates at k = A exp(-Ea/RT) (Carney et al. 2015)."""

    name = "dehydration"
    variant = "first-order"

    def rate(self, temperature_c: float) -> float:
        return arrhenius(self.params["dehydration_a_per_s"], self.params["dehydration_ea_j_per_mol"],
                         temperature_c)

    def coefficients(self, coef, temperature_c, dt_s):
        coef[slot("kdt_dehyd")] = self.rate(temperature_c) * dt_s

    def max_dt(self, state, temperature_c):
        # 1 - exp(-k dt) is exact at constant temperature; the bound limits the error of the
        # mid-point temperature on a ramp and of lithium arriving within the step.
        if state.census.get("hydroxide", 1) == 0:
            return math.inf
        return event_dt_limit(self.rate(temperature_c), self.numerics["max_event_probability"])

    def describe(self):
        return (f"dehydration: first order, A {self.params['dehydration_a_per_s']:.3g} 1/s, "
                f"Ea {self.params['dehydration_ea_j_per_mol'] / 1e3:.0f} kJ/mol")


@numba.njit(parallel=True, cache=True)
def grain_dehydration_kernel(phase, grain, amount, li, nucleated, full_rs):
    """Every hydroxide voxel (halo included) whose grain is marked in ``nucleated`` becomes
    rock salt. Returns, over the interior only: TM quanta converted, voxels converted, of
    those the ones below a full rock-salt voxel, and the ones holding mobile lithium."""
    nz, ny, nx = phase.shape
    out = np.zeros((nz, 4), dtype=np.int64)
    for z in numba.prange(nz):
        for y in range(ny):
            for x in range(nx):
                if phase[z, y, x] != ph.HYDROXIDE:
                    continue
                g = grain[z, y, x]
                if g <= 0 or g >= nucleated.shape[0] or nucleated[g] == 0:
                    continue
                phase[z, y, x] = ph.ROCKSALT
                if 0 < z < nz - 1 and 0 < y < ny - 1 and 0 < x < nx - 1:
                    a = np.int64(amount[z, y, x])
                    out[z, 0] += a
                    out[z, 1] += 1
                    if a < full_rs:
                        out[z, 2] += 1
                    if li[z, y, x] > 0.0:
                        out[z, 3] += 1
    return out.sum(axis=0)


class GrainDehydration(FirstOrderDehydration):
    """F1 law per grain: a grain nucleates at k = A exp(-Ea/RT) and its hydroxide converts at
    once (random nucleation, Carney et al. 2015; see the module docstring)."""

    variant = "per-grain"

    def __init__(self, params: dict, numerics: dict, seed: int):
        super().__init__(params, numerics, seed)
        self._grain_ids = None  # 0 .. the largest grain id, global; found on the first step

    def coefficients(self, coef, temperature_c, dt_s):
        coef[slot("kdt_dehyd")] = 0.0  # no per-voxel dehydration in the sweep

    def _ids(self, state) -> np.ndarray:
        if self._grain_ids is None:
            top = int(state.grain.max())  # once per run (and per restart)
            if state.comm is not None:
                from mpi4py import MPI
                top = int(state.comm.allreduce(top, op=MPI.MAX))
            self._grain_ids = np.arange(max(top, 0) + 1, dtype=np.int64)
        return self._grain_ids

    def advance(self, state, dt_s, temperature_c):
        if state.census.get("hydroxide", 1) == 0:
            return {}
        p = event_probability(self.rate(temperature_c), dt_s)
        if p <= 0.0:
            return {}
        ids = self._ids(state)
        u = rng.uniform_array(self.seed, rng.STREAM_DEHYDRATION, ids, state.step)
        nucleated = (u < p).astype(np.uint8)
        nucleated[0] = 0
        if not nucleated.any():  # every rank draws the same: none converts anything
            return {}
        got = grain_dehydration_kernel(state.phase, state.grain, state.amount, state.li,
                                       nucleated, np.int64(_FULL_RS))
        if state.comm is not None:
            got = np.asarray(allreduce_int(state.comm, [int(v) for v in got]), dtype=np.int64)
        quanta, voxels, partial, supplied = (int(v) for v in got)
        c = state.census
        for key, change in (("hydroxide", -voxels), ("hydroxide_supplied", -supplied),
                            ("rocksalt", voxels), ("rocksalt_partial", partial)):
            if key in c:
                c[key] = int(c[key]) + change
        return {"tm_dehydrated": quanta}

    def lattice_passes(self, tallies):
        return 1 if tallies else 0

    def describe(self):
        return (f"dehydration: first order per grain (random nucleation, the grain converts "
                f"whole), A {self.params['dehydration_a_per_s']:.3g} 1/s, "
                f"Ea {self.params['dehydration_ea_j_per_mol'] / 1e3:.0f} kJ/mol")


_FULL_RS = int(full_amount_table()[ph.ROCKSALT])
