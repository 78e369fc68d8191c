"""Li/Ni site disorder of layered oxide: high when formed cold, annealing on heating.

Layered oxide formed at temperature T starts with disorder d0(T) = d_form (a calibrated
constant, ~ the maximum the paper refines near 300 C, Fig. 1b bottom), and every layered voxel
anneals as d(t + dt) = d(t) exp(-k_a dt), k_a = A exp(-Ea/RT), rounded with one random dither
per step shared by all voxels (unbiased over steps) to the
stored 0.1 % steps. Disorder rises while cold layered oxide forms and falls once annealing
outpaces formation, so the mean peaks near 300 C on a 5 C/min ramp.
"""

from __future__ import annotations

import math

from mcsim.processes import slots as S
from mcsim.processes.base import Process, arrhenius


class ArrheniusAnnealing(Process):
    """Formation disorder ``disorder_form`` and first-order annealing k_a = A exp(-Ea/RT)."""

    name = "disorder"
    variant = "annealing"

    def coefficients(self, coef, temperature_c, dt_s):
        coef[S.C_DISORDER_NEW] = min(255.0, self.params["disorder_form"] * 1000.0)
        k = arrhenius(self.params["disorder_anneal_a_per_s"],
                      self.params["disorder_anneal_ea_j_per_mol"], temperature_c)
        coef[S.C_ANNEAL] = math.exp(-k * dt_s)

    def describe(self):
        return (f"disorder: forms at {100 * self.params['disorder_form']:.1f} %, anneals with Ea "
                f"{self.params['disorder_anneal_ea_j_per_mol'] / 1e3:.0f} kJ/mol")
