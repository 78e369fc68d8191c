"""Li/Ni site disorder of layered oxide: high when formed cold, annealing on heating.

Layered oxide formed at temperature T starts with disorder d0(T) = d_form (a calibrated
constant, ~ the maximum the paper refines near 300 C, Fig. 1b bottom), and every layered voxel
anneals as d(t + dt) = d(t) exp(-k_a dt), k_a = A exp(-Ea/RT), rounded with one random dither
per step shared by all voxels (unbiased over steps) to the
stored 0.1 % steps. Disorder rises while cold layered oxide forms and falls once annealing
outpaces formation, so the mean peaks near 300 C on a 5 C/min ramp.

The rule here is the layered voxel's rule in the fused sweep: it anneals, and it counts the
overfull layered voxels that :mod:`mcsim.processes.restructure` spills. The formation code is
this module's coefficient, written by the lithiation rules that make layered oxide.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from mcsim import phases as ph
from mcsim import rng
from mcsim.processes.base import Process, arrhenius
from mcsim.processes.reactions import _round_stochastic
from mcsim.processes.registry import Coefficient, LocalReaction, Rule, slot
from mcsim.rng_numpy import round_stochastic_numpy, uniform4_numpy


@numba.njit(inline="always")
def prepare(coef, ci, full, seed, step):
    """(fraction of disorder kept, the step's dither, quanta of a full layered voxel).
    Annealing rounds d * keep with one dither per step shared by all voxels (unbiased over
    steps, and no random-number block per layered voxel)."""
    return coef[ci[0]], rng.uniform(seed, rng.STREAM_DISORDER, 0, step), full[ph.LAYERED]


@numba.njit(inline="always")
def apply(k, ti, ki, phase, grain, amount, li, disorder, dirty, tal, cnt, z, y, x, c, g, lanes,
          seed, step):
    """A layered voxel: counted if overfull, its disorder code annealed."""
    keep, dither, full_lay = k
    if amount[z, y, x] > full_lay:
        cnt[z - 1, ki[0]] += 1
    d = disorder[z, y, x]
    if d > 0 and keep < 1.0:
        disorder[z, y, x] = np.uint8(_round_stochastic(d * keep, dither))
    return lanes


def reference(s):
    """:func:`apply` on the whole lattice with NumPy (:class:`mcsim.reference.Sweep`)."""
    lay = s.where((ph.LAYERED,))
    keep = float(s.coef("anneal"))
    anneal = lay & (s.d > 0) if keep < 1.0 else np.zeros_like(lay)
    dither = uniform4_numpy(s.seed, rng.STREAM_DISORDER, np.zeros(1, dtype=np.int64), s.step)[0][0]
    s.count("layered_overfull", np.count_nonzero(lay & (s.a > int(s.full[ph.LAYERED]))))
    if anneal.any():
        s.D[anneal] = round_stochastic_numpy(s.d * keep, dither)[anneal].astype(np.uint8)


REACTION = LocalReaction(
    coefficients=(
        Coefficient("disorder_new", doc="Li/Ni disorder code (0..255) of layered oxide formed "
                    "in the step"),
        Coefficient("anneal", neutral=1.0, doc="fraction of disorder kept over the step (1: no "
                    "annealing)"),
    ),
    rule=Rule((ph.LAYERED,), prepare, apply, reference, reads=("anneal",),
              counts=("layered_overfull",)),
)


class ArrheniusAnnealing(Process):
    """Formation disorder ``disorder_form`` and first-order annealing k_a = A exp(-Ea/RT)."""

    name = "disorder"
    variant = "annealing"

    def coefficients(self, coef, temperature_c, dt_s):
        coef[slot("disorder_new")] = min(255.0, self.params["disorder_form"] * 1000.0)
        k = arrhenius(self.params["disorder_anneal_a_per_s"],
                      self.params["disorder_anneal_ea_j_per_mol"], temperature_c)
        coef[slot("anneal")] = math.exp(-k * dt_s)

    def describe(self):
        return (f"disorder: forms at {100 * self.params['disorder_form']:.1f} %, anneals with Ea "
                f"{self.params['disorder_anneal_ea_j_per_mol'] / 1e3:.0f} kJ/mol")
