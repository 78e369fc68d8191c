"""One time step of every registered process: the fused reaction sweep of the local reactions,
then each process with a kernel of its own, in registry order (operator splitting)."""

from __future__ import annotations

import math
import time
from collections import defaultdict

import numpy as np

from mcsim import params as _params
from mcsim.parallel import allreduce_int
from mcsim.processes import build_processes, registry
from mcsim.processes.reactions import fused_kernel
from mcsim.state import full_amount_table


def neutral_coefficients() -> np.ndarray:
    """The coefficient vector with every process switched off."""
    return registry.layout().neutral_coefficients()


class Stepper:
    """Advances a :class:`mcsim.state.State` by one step of all processes (operator splitting).

    The processes are those registered when the Stepper is made (:mod:`mcsim.processes`), with
    the variants chosen; none is named here.

    Parameters
    ----------
    choices
        ``[model.processes]``: process name -> variant (defaults for the rest).
    params
        Resolved model parameters (:func:`mcsim.params.resolve`).
    numerics
        The ``[numerics]`` table of a configuration.
    seed
        Key of every random stream.
    legacy
        Run the kernels of 2026-12-04 (the reaction sweep calling Philox, the face classes
        refreshed in a pass of their own, the transport stage with a branch per face); the
        results are the same bit for bit. For comparisons (tests, ``mcsim bench``).
    """

    def __init__(self, choices: dict, params: dict, numerics: dict, seed: int,
                 legacy: bool = False):
        self.processes = build_processes(choices, params, numerics, seed)
        self.by_name = {p.name: p for p in self.processes}
        self.own_kernels = [p for p in self.processes if p.own_kernel]
        self.layout = registry.layout()
        self.legacy = bool(legacy)
        self.kernel = fused_kernel(self.legacy)
        for p in self.processes:
            if hasattr(type(p), "legacy"):
                p.legacy = self.legacy
        self.after_sweep = registry.after_sweep_hooks()
        self.seed = int(seed)
        self.full = full_amount_table()
        self.seconds = defaultdict(float)  # wall time by part of the step
        self.passes = 0  # full-lattice sweeps, for throughput figures

    @classmethod
    def from_config(cls, cfg: dict, legacy: bool = False) -> "Stepper":
        return cls(cfg["model"].get("processes", {}),
                   _params.resolve(cfg["model"]["parameter_set"], cfg["model"].get("overrides")),
                   cfg["numerics"], cfg["seed"], legacy=legacy)

    def max_dt(self, state, temperature_c: float) -> float:
        """The smallest time-step limit of any process at ``temperature_c``."""
        return min((p.max_dt(state, temperature_c) for p in self.processes), default=math.inf)

    def coefficients(self, temperature_c: float, dt_s: float) -> np.ndarray:
        coef = self.layout.neutral_coefficients()
        for p in self.processes:
            p.coefficients(coef, temperature_c, dt_s)
        return coef

    def advance(self, state, dt_s: float, temperature_c: float) -> dict:
        """Advance ``state`` by ``dt_s`` at ``temperature_c``; return the step's event tallies."""
        coef = self.coefficients(temperature_c, dt_s)
        t0 = time.perf_counter()
        tallies, counts = self.kernel(state.phase, state.grain, state.amount, state.li,
                                      state.disorder, coef, self.full, self.seed, state.step,
                                      *state.offset, *state.global_shape[1:], state.dirty_flags())
        if self.after_sweep:
            local = dict(zip(self.layout.counts, counts))
            for hook in self.after_sweep:
                hook(state, local)
        state.exchange_halo()
        if state.comm is not None:  # global tallies and counts: every rank takes the same steps
            both = allreduce_int(state.comm, np.concatenate([tallies, counts]))
            tallies, counts = both[:len(tallies)], both[len(tallies):]
        self.seconds["reactions"] += time.perf_counter() - t0
        self.passes += 1
        state.census.update(zip(self.layout.counts, (int(c) for c in counts)))
        out = dict(zip(self.layout.tallies, (int(t) for t in tallies)))
        for p in self.own_kernels:
            t0 = time.perf_counter()
            extra = p.advance(state, dt_s, temperature_c)
            self.seconds[p.name] += time.perf_counter() - t0
            self.passes += p.lattice_passes(extra)
            for key, value in extra.items():  # a tally the sweep also reports adds up
                out[key] = out.get(key, 0) + value
        state.time_s += dt_s
        state.step += 1
        return out

    def describe(self) -> str:
        return "\n".join(p.describe() for p in self.processes)
