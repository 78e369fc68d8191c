"""The process interface: each physical process contributes a kernel and its stable time-step limit."""

from __future__ import annotations

import abc
import math

R_GAS = 8.314462618  # J/(mol K)


def arrhenius(a_per_s: float, ea_j_per_mol: float, temperature_c: float) -> float:
    """Rate constant A exp(-Ea / R T) in 1/s at ``temperature_c``."""
    return a_per_s * math.exp(-ea_j_per_mol / (R_GAS * (temperature_c + 273.15)))


def event_dt_limit(rate_per_s: float, max_probability: float) -> float:
    """Largest step in which a voxel's event probability 1 - exp(-k dt) stays below the bound."""
    if rate_per_s <= 0.0:
        return math.inf
    return -math.log1p(-min(max_probability, 0.999999)) / rate_per_s


class Process(abc.ABC):
    """A physical process acting on the lattice state.

    Subclasses set ``name`` (the registry key), ``variant`` (the law, picked by name in the
    configuration's ``[model.processes]`` table) and implement :meth:`max_dt` and
    :meth:`advance`. ``advance`` returns a dict of event tallies of the step (in quanta), which
    the engine sums into the run's bookkeeping.
    """

    name = "process"
    variant = "base"

    def __init__(self, params: dict, numerics: dict, seed: int):
        self.params = params
        self.numerics = numerics
        self.seed = int(seed)

    def max_dt(self, state, temperature_c: float) -> float:
        """Largest stable / accurate time step at ``temperature_c`` (inf when unconstrained)."""
        return math.inf

    @abc.abstractmethod
    def advance(self, state, dt_s: float, temperature_c: float) -> dict:
        """Advance ``state`` by ``dt_s`` at ``temperature_c``; return event tallies."""


class Neglect(Process):
    """The do-nothing variant of any process (switch a process off with ``"none"``)."""

    variant = "none"

    def advance(self, state, dt_s, temperature_c):
        return {}
