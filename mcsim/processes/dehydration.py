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
"""

from __future__ import annotations

import math

from mcsim.processes.base import Process, arrhenius, event_dt_limit
from mcsim.processes.registry import Coefficient, LocalReaction, Tally, slot

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
