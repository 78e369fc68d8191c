"""The process interface: each physical process contributes its rule, its rates and its time-step limit."""

from __future__ import annotations

import abc
import math

R_GAS = 8.314462618  # J/(mol K)


def arrhenius(a_per_s: float, ea_j_per_mol: float, temperature_c: float) -> float:
    """Rate constant A exp(-Ea / R T) in 1/s at ``temperature_c``."""
    return a_per_s * math.exp(-ea_j_per_mol / (R_GAS * (temperature_c + 273.15)))


def event_probability(rate_per_s: float, dt_s: float) -> float:
    """Probability 1 - exp(-k dt) that a first-order event happens within ``dt_s``."""
    return -math.expm1(-rate_per_s * dt_s)


def event_dt_limit(rate_per_s: float, max_probability: float) -> float:
    """Largest step in which a voxel's event probability 1 - exp(-k dt) stays below the bound."""
    if rate_per_s <= 0.0:
        return math.inf
    return -math.log1p(-min(max_probability, 0.999999)) / rate_per_s


class Process(abc.ABC):
    """A physical process acting on the lattice state.

    Subclasses set ``name`` (the registry key) and ``variant`` (the law, picked by name in the
    configuration's ``[model.processes]`` table). A process either acts in the fused
    per-voxel reaction sweep (a local reaction: its module declares a
    :class:`~mcsim.processes.registry.LocalReaction`, and :meth:`coefficients` fills its slots
    of the step's coefficient vector), or runs a kernel of its own in :meth:`advance`
    (transport, restructuring, sintering), or both. :meth:`max_dt` states its time-step limit.
    """

    name = "process"
    variant = "base"
    #: Whether the stepper calls :meth:`advance` every step, after the fused sweep, in registry
    #: order: True for a class that defines ``advance`` (unless it sets this itself).
    own_kernel = False
    #: Full-lattice passes per unit of a tally that :meth:`advance` returns (tally name ->
    #: passes), for the throughput figures; override :meth:`lattice_passes` where that does
    #: not fit.
    passes_per_tally: dict = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "advance" in vars(cls) and "own_kernel" not in vars(cls):
            cls.own_kernel = True

    def __init__(self, params: dict, numerics: dict, seed: int):
        self.params = params
        self.numerics = numerics
        self.seed = int(seed)

    def max_dt(self, state, temperature_c: float) -> float:
        """Largest stable / accurate time step at ``temperature_c`` (inf when unconstrained)."""
        return math.inf

    def coefficients(self, coef, temperature_c: float, dt_s: float) -> None:
        """Fill this process's slots of the reaction sweep's coefficient vector (see
        :func:`mcsim.processes.registry.slot`)."""

    def advance(self, state, dt_s: float, temperature_c: float) -> dict:
        """Run this process's own kernel (if it has one); return event tallies."""
        return {}

    def lattice_passes(self, tallies: dict) -> int:
        """Full-lattice passes the :meth:`advance` that returned ``tallies`` made."""
        return sum(w * tallies.get(k, 0) for k, w in self.passes_per_tally.items())

    @abc.abstractmethod
    def describe(self) -> str:
        """One line saying what the process does with the current parameters."""


class Neglect(Process):
    """The do-nothing variant of any process (switch a process off with ``"none"``)."""

    variant = "none"

    def describe(self) -> str:
        return f"{self.name}: switched off"
