"""Registry of physical processes: each is picked by name and variant in ``[model.processes]``."""

from __future__ import annotations

from mcsim.errors import ConfigError
from mcsim.processes.base import Neglect, Process
from mcsim.processes.dehydration import FirstOrderDehydration
from mcsim.processes.disorder import ArrheniusAnnealing
from mcsim.processes.lithiation import TopotacticLithiation
from mcsim.processes.release import ContactRelease, SourceRelease
from mcsim.processes.restructure import PairRestructuring
from mcsim.processes.rocksalt import RocksaltLithiation
from mcsim.processes.sintering import PottsSintering
from mcsim.processes.transport import ExplicitDiffusion, SuperTimeStepping


def _neglect(name: str) -> type:
    return type(f"Neglect_{name}", (Neglect,), {"name": name})


#: process name -> {variant name -> class}; the first variant is the default. Within one step
#: the local reactions (release, lithiation, dehydration, rocksalt_lithiation, disorder) act
#: together in the fused kernel, then transport sub-cycles, then restructuring, then sintering.
REGISTRY: dict[str, dict[str, type]] = {
    "release": {"first-order": SourceRelease, "contact": ContactRelease,
                "none": _neglect("release")},
    "lithiation": {"topotactic": TopotacticLithiation, "none": _neglect("lithiation")},
    "dehydration": {"first-order": FirstOrderDehydration, "none": _neglect("dehydration")},
    "rocksalt_lithiation": {"first-order": RocksaltLithiation,
                            "none": _neglect("rocksalt_lithiation")},
    "disorder": {"annealing": ArrheniusAnnealing, "none": _neglect("disorder")},
    "transport": {"rkl1": SuperTimeStepping, "explicit": ExplicitDiffusion,
                  "none": _neglect("transport")},
    "restructure": {"pairs": PairRestructuring, "none": _neglect("restructure")},
    "sintering": {"potts": PottsSintering, "none": _neglect("sintering")},
}


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


__all__ = ["REGISTRY", "Process", "build_processes", "check_process_choices"]
