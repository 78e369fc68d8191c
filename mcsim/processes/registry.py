"""The process registry: every process by name and variant, in step order, and the declarations
of the local reactions, from which the slots of the fused reaction sweep are numbered.

A process is registered once, with :func:`register`, under its name, with its variants (the
first is the default; a ``"none"`` variant that switches it off is added). A step runs:

1. the *fused reaction sweep*: one pass over the lattice applying every local reaction's
   rule (:class:`Rule`) to the voxels of the phases it acts on, assembled from the registered
   rules by :func:`mcsim.processes.reactions.fused_kernel`;
2. then every process with a kernel of its own (``own_kernel``: a class that defines
   :meth:`~mcsim.processes.base.Process.advance`), in registry order.

A local reaction declares, in its module, a :class:`LocalReaction`: the coefficients it fills
each step (:class:`Coefficient`), the event tallies it reports with their heat and gas
(:class:`Tally`; :class:`mcsim.diagnostics.Thermo` sums over these declarations), its rule
and NumPy reference, and what must follow the sweep. The slots of the sweep's coefficient,
tally and count vectors are numbered here, in registration order (:class:`Layout`), so a
process registered later (a plugin, a test's toy process) only appends slots and the numbers
of the built-in ones, re-exported by :mod:`mcsim.processes.slots`, never change.

Nothing here imports a process module, so process modules can import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from mcsim.errors import ConfigError
from mcsim.processes.base import Neglect, Process

#: process name -> {variant name -> class}, in step order; the first variant is the default.
REGISTRY: dict[str, dict[str, type]] = {}
#: process name -> its local-reaction declaration, in registration order (slot numbering).
REACTIONS: dict[str, "LocalReaction"] = {}
_STATE = {"version": 0, "layout": None, "layout_version": -1}


@dataclass(frozen=True)
class Coefficient:
    """A slot of the step's coefficient vector (float64), filled by the process's
    ``coefficients`` every step; ``neutral`` is its value while the process is switched off."""

    name: str
    neutral: float = 0.0
    doc: str = ""


@dataclass(frozen=True)
class Tally:
    """An event tally (int64 quanta summed over the lattice) and its thermal bookkeeping.

    ``gas`` maps a gas (``"H2O"``, ``"CO2"``, ``"O2"``; see
    :data:`mcsim.diagnostics.Thermo.GASES`) to the moles given off per quantum (negative:
    taken up); ``enthalpy`` names the parameter holding the reaction enthalpy per quantum
    (J/mol, positive: endothermic), None for an event without heat of its own.
    """

    name: str
    doc: str = ""
    gas: dict = field(default_factory=dict)
    enthalpy: str | None = None


@dataclass(frozen=True)
class Rule:
    """What a local reaction does to one voxel in the fused sweep, and its NumPy reference.

    ``phases``: the phase codes (before the sweep) of the voxels it acts on; voxels of a phase
    no rule claims are skipped, and several rules on one phase run in registry order. ``reads``,
    ``tallies`` and ``counts`` name the coefficients it reads and the tallies and voxel counts
    it adds to; the sweep passes their slot numbers, in the order named, as tuples.

    ``prepare(coef, ci, full, seed, step) -> k`` (``numba.njit(inline="always")``) runs once
    per sweep: it turns the coefficients (``coef[ci[i]]``) into the constants ``k`` (a tuple).

    ``apply(k, ti, ki, phase, grain, amount, li, disorder, dirty, tal, cnt, z, y, x, c, g,
    lanes, seed, step) -> lanes`` (``numba.njit(inline="always")``) acts on voxel (z, y, x) of
    phase ``c`` and global index ``g``; it changes that voxel's fields only (reading its
    neighbours' phase and grain is allowed where those cannot change in the sweep), sets
    ``dirty`` where a voxel's transport class or grain changes, adds to ``tal[z - 1, ti[i]]``
    and ``cnt[z - 1, ki[i]]``, draws its random numbers through
    :func:`mcsim.processes.reactions.lane0` / ``lane1`` and ``below`` (``lanes`` caches the
    row's Philox blocks; pass it on and return it), and never depends on the order voxels are
    visited in.

    ``reference(sweep)`` does the same to the whole lattice with NumPy
    (:class:`mcsim.reference.Sweep`), bit for bit.
    """

    phases: tuple
    prepare: Callable
    apply: Callable
    reference: Callable
    reads: tuple = ()
    tallies: tuple = ()
    counts: tuple = ()


@dataclass(frozen=True)
class LocalReaction:
    """A process's part in the fused reaction sweep: the coefficients it fills, the tallies it
    declares (with their heat and gas), its rule (None when another process's rule carries
    its outcome, as lithiation's carries dehydration's) and ``after_sweep(state, counts)``,
    run on each subdomain after the sweep with its own (not yet reduced) counts by name."""

    coefficients: tuple = ()
    tallies: tuple = ()
    rule: Rule | None = None
    after_sweep: Callable | None = None


@dataclass(frozen=True)
class Layout:
    """Slot numbers of the fused sweep's vectors: coefficients in, tallies and counts out."""

    coefficients: tuple
    tallies: tuple
    counts: tuple

    def __post_init__(self):
        object.__setattr__(self, "_coef", {c.name: i for i, c in enumerate(self.coefficients)})
        object.__setattr__(self, "_tally", {n: i for i, n in enumerate(self.tallies)})
        object.__setattr__(self, "_count", {n: i for i, n in enumerate(self.counts)})

    def coef(self, name: str) -> int:
        return self._coef[name]

    def tally(self, name: str) -> int:
        return self._tally[name]

    def count(self, name: str) -> int:
        return self._count[name]

    def neutral_coefficients(self) -> np.ndarray:
        """The coefficient vector with every process switched off."""
        return np.array([c.neutral for c in self.coefficients], dtype=np.float64)


def _build_layout(reactions: dict, complete: bool = True) -> Layout:
    """Number the declared slots in registration order; with ``complete``, also require that
    every slot a rule uses is declared (a rule may use another process's slots, which may be
    registered after it)."""
    coefs, tallies, counts = [], [], []
    for name, r in reactions.items():
        for c in r.coefficients:
            if any(c.name == d.name for d in coefs):
                raise ValueError(f"process {name!r}: coefficient {c.name!r} declared twice")
            coefs.append(c)
        for t in r.tallies:
            if t.name in tallies:
                raise ValueError(f"process {name!r}: tally {t.name!r} declared twice")
            tallies.append(t.name)
    for r in reactions.values():
        for k in (r.rule.counts if r.rule else ()):
            if k not in counts:
                counts.append(k)
    names = {c.name for c in coefs}
    for name, r in reactions.items() if complete else ():
        if r.rule is None:
            continue
        missing = ([c for c in r.rule.reads if c not in names]
                   + [t for t in r.rule.tallies if t not in tallies])
        if missing:
            raise ValueError(f"process {name!r}: its rule uses undeclared slots {missing}")
    return Layout(tuple(coefs), tuple(tallies), tuple(counts))


def version() -> int:
    """A number that changes whenever a process is registered or removed."""
    return _STATE["version"]


def layout() -> Layout:
    """The slot layout of the registered local reactions."""
    if _STATE["layout_version"] != _STATE["version"]:
        _STATE["layout"] = _build_layout(REACTIONS)
        _STATE["layout_version"] = _STATE["version"]
    return _STATE["layout"]


def slot(name: str) -> int:
    """The coefficient slot of ``name`` (for a process's ``coefficients``)."""
    return layout().coef(name)


def local_rules() -> list:
    """(process name, rule) of every registered local reaction with a rule, in step order."""
    return [(n, REACTIONS[n].rule) for n in REGISTRY
            if n in REACTIONS and REACTIONS[n].rule is not None]


def after_sweep_hooks() -> list:
    """The ``after_sweep`` functions of the registered local reactions, in step order."""
    return [REACTIONS[n].after_sweep for n in REGISTRY
            if n in REACTIONS and REACTIONS[n].after_sweep is not None]


def tally_declarations() -> list:
    """Every declared :class:`Tally` of the registered local reactions."""
    return [t for r in REACTIONS.values() for t in r.tallies]


def register(name: str, variants: dict, *, reaction: LocalReaction | None = None,
             before: str | None = None) -> dict:
    """Register process ``name`` with its ``variants`` (variant name -> :class:`Process`
    subclass, the default first) and, for a local reaction, its declaration.

    A ``"none"`` variant is added. The process runs after those registered before it, or just
    before process ``before``. Returns the registry entry (variant -> class).
    """
    if name in REGISTRY:
        raise ValueError(f"process {name!r} is already registered")
    if not variants or "none" in variants:
        raise ValueError(f"process {name!r}: give one or more variants besides 'none'")
    for variant, cls in variants.items():
        if not (isinstance(cls, type) and issubclass(cls, Process)):
            raise TypeError(f"process {name!r}, variant {variant!r}: not a Process subclass")
        if cls.name != name or cls.variant != variant:
            raise ValueError(f"{cls.__name__} says it is {cls.name!r}/{cls.variant!r}, "
                             f"registered as {name!r}/{variant!r}")
    if before is not None and before not in REGISTRY:
        raise ValueError(f"process {name!r}: no process {before!r} to run before")
    own = any(cls.own_kernel for cls in variants.values())
    neglect = type(f"Neglect_{name}", (Neglect,), {"name": name, "own_kernel": own})
    entry = {**variants, "none": neglect}
    trial = dict(REACTIONS)
    if reaction is not None:
        trial[name] = reaction
        _build_layout(trial, complete=False)  # refuse conflicts before changing anything
    items = list(REGISTRY.items())
    at = len(items) if before is None else list(REGISTRY).index(before)
    items.insert(at, (name, entry))
    REGISTRY.clear()
    REGISTRY.update(items)
    REACTIONS.clear()
    REACTIONS.update(trial)
    _STATE["version"] += 1
    return entry


def unregister(name: str) -> None:
    """Remove process ``name`` (a test's toy process, when the test is done)."""
    REGISTRY.pop(name)
    REACTIONS.pop(name, None)
    _STATE["version"] += 1


def check_process_choices(choices: dict) -> None:
    """Raise ConfigError for an unknown process or variant in ``[model.processes]``."""
    for name, variant in choices.items():
        key = f"model.processes.{name}"
        if name not in REGISTRY:
            raise ConfigError(key, variant, f"unknown process; allowed: {', '.join(REGISTRY)}")
        if variant not in REGISTRY[name]:
            raise ConfigError(key, variant, f"must be one of {', '.join(map(repr, REGISTRY[name]))}")


def build_processes(choices: dict, params: dict, numerics: dict, seed: int) -> list[Process]:
    """Instantiate every process in registry order with the chosen (or default) variant."""
    check_process_choices(choices)
    out = []
    for name, variants in REGISTRY.items():
        cls = variants[choices.get(name, next(iter(variants)))]
        out.append(cls(params, numerics, seed))
    return out
