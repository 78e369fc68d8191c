"""The sintering process: three mechanisms, each with its own Arrhenius MCS rate.

Each mechanism m (:data:`~mcsim.processes.sintering.common.MECHANISMS`) has its own attempt
rate k_m(T) = A_m exp(-Ea_m / RT) in Monte Carlo steps (MCS) per second. Each keeps an
accumulator tau_m += k_m(T) dt over engine steps and performs one full MCS each time tau_m
passes an integer, so the number of MCS depends only on the schedule (a 12 h hold does twice
the MCS of a 6 h one). Below the onset ``sinter_onset_c`` nothing happens and nothing runs.
The integer part of tau_m is the MCS index that keys the random numbers of that MCS. Within an
engine step the MCS of the three mechanisms are interleaved round-robin.

The rates are calibrated at 10 nm voxels. A lattice MCS moves things by distances counted in
voxels, so the same physical change takes more MCS on a finer lattice: k_m is multiplied by
(10 nm / voxel_nm) ** e_m with e_m = ``<mechanism>_voxel_exponent`` (grain growth 2: curvature
flow, d^2 ~ t; pore migration 4: surface diffusion, Herring's t ~ L^4; densification 2: a pore's
line of contact with a boundary holds ~ r / dx voxels, each removing dx^3). At 10 nm the factor
is 1 exactly, so the default particle's results do not depend on it. Grain growth's lattice
temperature scales too: J/kT = ``grain_growth_j_over_kt`` (voxel_nm / 10 nm) **
``grain_growth_j_voxel_exponent``
(:func:`~mcsim.processes.sintering.grain_growth.lattice_j_over_kt`), the factor 1 at 10 nm,
and pore migration's likewise (``pore_migration_j_voxel_exponent``,
:func:`~mcsim.processes.sintering.pore_migration.lattice_surface_j_over_kt`).
"""

from __future__ import annotations

import math

import numpy as np

from mcsim.parallel import allreduce_int
from mcsim.processes.base import Process, arrhenius
from mcsim.processes.restructure import REFERENCE_VOXEL_NM, voxel_rate_factor
from mcsim.processes.sintering.common import MECHANISMS, drive, recount_contacts
from mcsim.processes.sintering.densification import densification_mcs
from mcsim.processes.sintering.grain_growth import (grain_growth_accept_table, grain_growth_mcs,
                                                    lattice_j_over_kt)
from mcsim.processes.sintering.pore_migration import (lattice_surface_j_over_kt,
                                                      nanopore_acceptance,
                                                      pore_migration_accept_table,
                                                      pore_migration_mcs)


class PottsSintering(Process):
    """Potts grain growth, pore migration by surface diffusion and vacancy annihilation at grain
    boundaries above ``sinter_onset_c``, each with its own Arrhenius MCS rate."""

    name = "sintering"
    variant = "potts"
    #: full-lattice passes per unit of each tally (throughput figures): a Potts MCS and a
    #: densification MCS visit every voxel once, a pore-migration MCS every face pair (3 axes)
    passes_per_tally = {"grain_growth_mcs": 1, "pore_migration_mcs": 3, "densification_mcs": 1}

    def __init__(self, params: dict, numerics: dict, seed: int):
        super().__init__(params, numerics, seed)
        #: MCS accumulators tau_m (the integer part is the number of MCS done).
        self.tau = {m: 0.0 for m in MECHANISMS}
        #: acceptance tables by (mechanism, voxel size): J/kT scales with the voxel
        self._tables = {}

    def state_dict(self) -> dict:
        """The MCS accumulators, as plain floats (for checkpoints): sintering keeps no other
        memory; where vacancies go is read from the lattice each MCS."""
        return {f"tau_{m}": float(self.tau[m]) for m in MECHANISMS}

    def load_state_dict(self, d: dict) -> None:
        """Restore what :meth:`state_dict` saved."""
        for m in MECHANISMS:
            self.tau[m] = float(d[f"tau_{m}"])

    def sintering_started(self) -> bool:
        """Whether any sintering MCS has been done (any accumulator past zero)."""
        return any(v > 0.0 for v in self.tau.values())

    def _table(self, mechanism: str, voxel_nm: float) -> np.ndarray:
        """The acceptance table of ``mechanism`` at its lattice J/kT for ``voxel_nm``, built
        once per voxel size."""
        key = (mechanism, voxel_nm)
        if key not in self._tables:
            if mechanism == "grain_growth":
                j = lattice_j_over_kt(self.params, voxel_nm)
                self._tables[key] = grain_growth_accept_table(j)
            else:
                j = lattice_surface_j_over_kt(self.params, voxel_nm)
                self._tables[key] = pore_migration_accept_table(j)
        return self._tables[key]

    def grain_growth_table(self, voxel_nm: float) -> np.ndarray:
        """The Potts acceptance table at the lattice's J/kT for ``voxel_nm``
        (:func:`~mcsim.processes.sintering.grain_growth.lattice_j_over_kt`)."""
        return self._table("grain_growth", voxel_nm)

    def pore_migration_table(self, voxel_nm: float) -> np.ndarray:
        """The pore-migration acceptance table at the lattice's J/kT for ``voxel_nm``
        (:func:`~mcsim.processes.sintering.pore_migration.lattice_surface_j_over_kt`)."""
        return self._table("pore_migration", voxel_nm)

    def rates_mcs_per_s(self, temperature_c: float,
                        voxel_nm: float = REFERENCE_VOXEL_NM) -> dict:
        """k_m(T) (10 nm / voxel_nm) ** e_m of every mechanism in MCS/s (0 at or below the
        onset; module docstring)."""
        pr = self.params
        if temperature_c <= pr["sinter_onset_c"]:
            return {m: 0.0 for m in MECHANISMS}
        return {m: arrhenius(pr[f"{m}_a_per_s"], pr[f"{m}_ea_j_per_mol"], temperature_c)
                * voxel_rate_factor(voxel_nm, pr[f"{m}_voxel_exponent"])
                for m in MECHANISMS}

    def mcs_for(self, dt_s: float, temperature_c: float,
                voxel_nm: float = REFERENCE_VOXEL_NM) -> dict:
        """Advance the accumulators by k_m dt; return (first MCS index, count) per mechanism."""
        out = {}
        for m, k in self.rates_mcs_per_s(temperature_c, voxel_nm).items():
            old = self.tau[m]
            new = old + k * dt_s
            self.tau[m] = new
            out[m] = (math.floor(old), math.floor(new) - math.floor(old))
        return out

    def steps(self, state, todo: dict):
        """Generator of the MCS of one engine step, mechanisms interleaved round-robin.
        Returns the tallies."""
        pr = self.params
        tallies = {"grain_flips": 0, "pore_swaps": 0, "vacancies_annihilated": 0,
                   "vacancies_inward": 0, "grain_growth_mcs": 0, "pore_migration_mcs": 0,
                   "densification_mcs": 0}
        pm = todo["pore_migration"][1] > 0
        if pm:
            yield from recount_contacts(state)
        for i in range(max(n for _, n in todo.values())):
            first, n = todo["grain_growth"]
            if i < n:
                table = self.grain_growth_table(state.voxel_nm)
                flips, _ = yield from grain_growth_mcs(state, table, self.seed, first + i)
                tallies["grain_flips"] += flips
                tallies["grain_growth_mcs"] += 1
            first, n = todo["pore_migration"]
            if i < n:
                tallies["pore_swaps"] += yield from pore_migration_mcs(
                    state, self.pore_migration_table(state.voxel_nm), self.seed, first + i,
                    nanopore_acceptance(pr, state.voxel_nm), float(pr["pore_migration_detach"]))
                tallies["pore_migration_mcs"] += 1
            first, n = todo["densification"]
            if i < n:
                n_all, n_in = yield from densification_mcs(
                    state, pr["densification_probability"], self.seed, first + i, contacts=pm,
                    constraint_per_nm=pr["vacancy_constraint_per_nm"],
                    curvature_weight=pr["densification_curvature_weight"])
                tallies["vacancies_annihilated"] += n_all
                tallies["vacancies_inward"] += n_in
                tallies["densification_mcs"] += 1
        return tallies

    def advance(self, state, dt_s, temperature_c):
        if temperature_c <= self.params["sinter_onset_c"]:
            return {}
        todo = self.mcs_for(dt_s, temperature_c, state.voxel_nm)
        out = drive(state, self.steps(state, todo))
        if getattr(state, "comm", None) is not None:  # flips and swaps are counted per rank
            both = allreduce_int(state.comm, np.array([out["grain_flips"], out["pore_swaps"]],
                                                      dtype=np.int64))
            out["grain_flips"], out["pore_swaps"] = int(both[0]), int(both[1])
        return out

    def describe(self):
        pr = self.params
        return (f"sintering: Potts above {pr['sinter_onset_c']:g} C; grain growth Ea "
                f"{pr['grain_growth_ea_j_per_mol'] / 1e3:.0f} kJ/mol, pore migration Ea "
                f"{pr['pore_migration_ea_j_per_mol'] / 1e3:.0f} kJ/mol, densification Ea "
                f"{pr['densification_ea_j_per_mol'] / 1e3:.0f} kJ/mol, p = "
                f"{pr['densification_probability']:g} per MCS, vacancy constraint "
                f"{pr['vacancy_constraint_per_nm']:g} per nm of stiffer material")
