"""Topotactic lithiation TM(OH)2 + Li -> layered LiTMO2 + H2O where mobile lithium has arrived.

Rule (fused reaction kernel): a hydroxide voxel with TM ``amount`` and mobile lithium ``li``
lithiates at rate k_l min(1, li/amount), k_l = A exp(-Ea/RT), while it dehydrates at k_d
(:mod:`mcsim.processes.dehydration`). Both are first order in the same voxel, so one draw
decides: an event happens with probability 1 - exp(-(k_l f + k_d) dt) and is a lithiation
with probability k_l f / (k_l f + k_d) — exact competing risks at constant rates, with no
splitting error between the two. The new layered voxel binds ``amount`` quanta of lithium
(``li`` may go negative: a Li-deficient layered oxide that keeps drawing lithium in). Its
solid shrinks by about 10 % (molar volumes 22.9 -> 20.4 cm3/mol) inside the same voxel.
"""

from __future__ import annotations

import math

from mcsim.processes import slots as S
from mcsim.processes.base import Process, arrhenius, event_dt_limit


#: Fraction of the lattice's voxels below which supplied hydroxide no longer bounds the step.
STRAGGLERS = 1e-4


class TopotacticLithiation(Process):
    """Hydroxide -> layered at k = A exp(-Ea/RT), scaled by the local lithium supply."""

    name = "lithiation"
    variant = "topotactic"

    def rate(self, temperature_c: float) -> float:
        return arrhenius(self.params["lithiation_a_per_s"], self.params["lithiation_ea_j_per_mol"],
                         temperature_c)

    def coefficients(self, coef, temperature_c, dt_s):
        coef[S.C_KDT_LITH] = self.rate(temperature_c) * dt_s

    def max_dt(self, state, temperature_c):
        # The competing-risk draw is exact at constant rates; the bound keeps the error from
        # the lithium supply changing within a step (transport acts between draws) small. It
        # is lifted once fewer than STRAGGLERS of the lattice's voxels are supplied hydroxide:
        # the last few then convert with the probabilities of the lithium they hold, instead
        # of holding the whole lattice to sub-second steps.
        if state.census.get("hydroxide_supplied", 1) <= STRAGGLERS * state.n_global_voxels:
            return math.inf
        return event_dt_limit(self.rate(temperature_c), self.numerics["max_event_probability"])

    def describe(self):
        return (f"lithiation: topotactic, Ea {self.params['lithiation_ea_j_per_mol'] / 1e3:.0f} "
                f"kJ/mol")
