"""Registry of physical processes: each is picked by name and variant in ``[model.processes]``.

The table below registers the built-in processes in step order (:mod:`mcsim.processes.registry`
says what a step does with them): the local reactions (release, lithiation, dehydration,
rocksalt_lithiation, disorder) act together in the fused reaction sweep, then transport
sub-cycles, then restructuring, then sintering. A process defined elsewhere (a plugin, a test's
toy process) joins with :func:`register` and leaves with :func:`unregister`.
"""

from __future__ import annotations

from mcsim.processes import dehydration, disorder, lithiation, release, rocksalt
from mcsim.processes.base import Process
from mcsim.processes.dehydration import FirstOrderDehydration, GrainDehydration
from mcsim.processes.disorder import ArrheniusAnnealing
from mcsim.processes.lithiation import TopotacticLithiation
from mcsim.processes.registry import (REGISTRY, Coefficient, LocalReaction, Rule, Tally,
                                      build_processes, check_process_choices, layout,
                                      register, unregister)
from mcsim.processes.release import ContactRelease, SourceRelease
from mcsim.processes.restructure import PairRestructuring
from mcsim.processes.rocksalt import RocksaltLithiation
from mcsim.processes.sintering import PottsSintering
from mcsim.processes.transport import ExplicitDiffusion, SlowWallDiffusion, SuperTimeStepping

for _name, _variants, _reaction in (
        ("release", {"first-order": SourceRelease, "contact": ContactRelease}, release.REACTION),
        ("lithiation", {"topotactic": TopotacticLithiation}, lithiation.REACTION),
        ("dehydration", {"first-order": FirstOrderDehydration, "per-grain": GrainDehydration},
         dehydration.REACTION),
        ("rocksalt_lithiation", {"first-order": RocksaltLithiation}, rocksalt.REACTION),
        ("disorder", {"annealing": ArrheniusAnnealing}, disorder.REACTION),
        ("transport", {"rkl1": SuperTimeStepping, "explicit": ExplicitDiffusion,
                       "rkl1-slow-walls": SlowWallDiffusion}, None),
        ("restructure", {"pairs": PairRestructuring}, None),
        ("sintering", {"potts": PottsSintering}, None)):
    register(_name, _variants, reaction=_reaction)
del _name, _variants, _reaction

__all__ = ["REGISTRY", "Coefficient", "LocalReaction", "Process", "Rule", "Tally",
           "build_processes", "check_process_choices", "layout", "register", "unregister"]
