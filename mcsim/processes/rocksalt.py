"""Lithiation of rock salt TMO + Li -> layered LiTMO2 at higher temperature (>= 400 C).

Rule (fused reaction kernel): a rock-salt voxel holding mobile lithium becomes layered at
k min(1, li/amount) dt. Layered oxide needs 20.4/11.0 = 1.86 times the volume of rock salt,
so a rock-salt voxel that ripened to more TM than a layered voxel holds comes out overfull;
:mod:`mcsim.processes.restructure` spills the excess into neighbouring pore space (expansion
into pores), which leaves part of the intragranular nanopores unfilled.
"""

from __future__ import annotations

from mcsim.processes import slots as S
from mcsim.processes.base import Process, arrhenius


class RocksaltLithiation(Process):
    """Rock salt -> layered at k = A exp(-Ea/RT) scaled by the local lithium supply.

    Nothing competes for rock salt and 1 - exp(-k dt) is exact at constant temperature, so
    the process sets no time-step limit of its own.
    """

    name = "rocksalt_lithiation"
    variant = "first-order"

    def coefficients(self, coef, temperature_c, dt_s):
        coef[S.C_KDT_RS] = arrhenius(self.params["rocksalt_lithiation_a_per_s"],
                                     self.params["rocksalt_lithiation_ea_j_per_mol"],
                                     temperature_c) * dt_s

    def describe(self):
        return (f"rocksalt_lithiation: first order, Ea "
                f"{self.params['rocksalt_lithiation_ea_j_per_mol'] / 1e3:.0f} kJ/mol")
