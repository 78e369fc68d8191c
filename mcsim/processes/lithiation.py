"""Topotactic lithiation TM(OH)2 + Li -> layered LiTMO2 + H2O where mobile lithium has arrived.

Rule (fused reaction kernel): a hydroxide voxel with TM ``amount`` and mobile lithium ``li``
lithiates at rate k_l min(1, li/amount), k_l = A exp(-Ea/RT), while it dehydrates at k_d
(:mod:`mcsim.processes.dehydration`). Both are first order in the same voxel, so one draw
decides: an event happens with probability 1 - exp(-(k_l f + k_d) dt) and is a lithiation
with probability k_l f / (k_l f + k_d) — exact competing risks at constant rates, with no
splitting error between the two. The new layered voxel binds ``amount`` quanta of lithium
(``li`` may go negative: a Li-deficient layered oxide that keeps drawing lithium in). Its
solid shrinks by about 10 % (molar volumes 22.9 -> 20.4 cm3/mol) inside the same voxel.

This module owns the rule of the hydroxide voxel, both outcomes: the two events compete for
one voxel in one draw, so their rule cannot be split in two without a second random number
(and a splitting error). :mod:`mcsim.processes.dehydration` declares its rate's coefficient
and its tally with their heat and water; the rule here reads and writes them by name.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from mcsim import phases as ph
from mcsim.processes.base import Process, arrhenius, event_dt_limit
from mcsim.processes.reactions import LANES, below, lane0, neg_expm1
from mcsim.processes.registry import Coefficient, LocalReaction, Rule, Tally, slot

#: Fraction of the lattice's voxels below which supplied hydroxide no longer bounds the step.
STRAGGLERS = 1e-4

# positions in the rule's ``tallies`` and ``counts``
_LITHIATED, _DEHYDRATED = 0, 1
_HYDROXIDE, _SUPPLIED, _ROCKSALT, _ROCKSALT_PARTIAL = 0, 1, 2, 3


@numba.njit(inline="always")
def prepare(coef, ci, full, seed, step):
    """(k_l dt, k_d dt, p without lithium, p with at least as much lithium as TM, disorder
    code of new layered oxide, quanta of a full rock-salt voxel, the largest coarse lane that
    can still decide an event). The event probabilities of a dry hydroxide voxel and of a
    fully supplied one are the same for every such voxel: computed once (bit-identical to
    computing them per voxel). Every voxel's probability is at most k_l dt + k_d dt
    (1 - exp(-t) <= t), so a lane above floor((k_l dt + k_d dt) 2^16) decides "no event"
    whatever the voxel's lithium (see :func:`apply`)."""
    kl = coef[ci[0]]
    kd = coef[ci[1]]
    bound = kl + kd
    c_max = np.int64(bound * LANES) if bound < 1.0 else np.int64(LANES)
    return (kl, kd, neg_expm1(kd), neg_expm1(kl + kd), np.uint8(coef[ci[2]]), full[ph.ROCKSALT],
            c_max)


@numba.njit(inline="always")
def apply(k, ti, ki, phase, grain, amount, li, disorder, dirty, tal, cnt, z, y, x, c, g, lanes,
          seed, step):
    """A hydroxide voxel: one draw decides whether an event happens, and the same lane
    whether it is a lithiation (to layered) or a dehydration (to rock salt).

    The lane is drawn first: when it lies above ``c_max`` no probability of this step can be
    above it, so the voxel has no event and its rate (a division) and probability (an
    exponential) are not computed; the decisions are those of computing them."""
    kl, kd, p_dry, p_wet, d_new, full_rs, c_max = k
    zi = z - 1
    lv = li[z, y, x]
    if kl + kd > 0.0:
        lanes, c0 = lane0(lanes, g, seed, step)
        if c0 <= c_max:
            a = amount[z, y, x]
            rate_l = 0.0
            if lv > 0.0:
                rate_l = kl * min(1.0, lv / a)
            total = rate_l + kd
            if total > 0.0:
                if lv <= 0.0:
                    p = p_dry
                elif lv >= a:
                    p = p_wet
                else:
                    p = neg_expm1(total)
                if below(c0, p, seed, g, step, 2):
                    if below(c0, p * (rate_l / total), seed, g, step, 2):
                        phase[z, y, x] = ph.LAYERED
                        dirty[z, y, x] = 1
                        li[z, y, x] = lv - a
                        disorder[z, y, x] = d_new
                        tal[zi, ti[_LITHIATED]] += a
                    else:
                        phase[z, y, x] = ph.ROCKSALT
                        tal[zi, ti[_DEHYDRATED]] += a
                        cnt[zi, ki[_ROCKSALT]] += 1
                        if a < full_rs:
                            cnt[zi, ki[_ROCKSALT_PARTIAL]] += 1
                    return lanes
    cnt[zi, ki[_HYDROXIDE]] += 1
    if lv > 0.0:
        cnt[zi, ki[_SUPPLIED]] += 1
    return lanes


# The rule as it was on 2026-12-04 (the same decisions, computed for every voxel), for the
# kernel of that day (mcsim.processes.reactions.fused_kernel(legacy=True)).


@numba.njit(inline="always")
def prepare_2026_12_04(coef, ci, full, seed, step):
    """(k_l dt, k_d dt, p without lithium, p with at least as much lithium as TM, disorder
    code of new layered oxide, quanta of a full rock-salt voxel). The event probabilities of a
    dry hydroxide voxel and of a fully supplied one are the same for every such voxel:
    computed once (bit-identical to computing them per voxel)."""
    kl = coef[ci[0]]
    kd = coef[ci[1]]
    return kl, kd, neg_expm1(kd), neg_expm1(kl + kd), np.uint8(coef[ci[2]]), full[ph.ROCKSALT]


@numba.njit(inline="always")
def apply_2026_12_04(k, ti, ki, phase, grain, amount, li, disorder, dirty, tal, cnt, z, y, x, c,
                     g, lanes, seed, step):
    """A hydroxide voxel: one draw decides whether an event happens, and the same lane
    whether it is a lithiation (to layered) or a dehydration (to rock salt)."""
    kl, kd, p_dry, p_wet, d_new, full_rs = k
    zi = z - 1
    a = amount[z, y, x]
    lv = li[z, y, x]
    rate_l = 0.0
    if lv > 0.0:
        rate_l = kl * min(1.0, lv / a)
    total = rate_l + kd
    if total > 0.0:
        lanes, c0 = lane0(lanes, g, seed, step)
        if lv <= 0.0:
            p = p_dry
        elif lv >= a:
            p = p_wet
        else:
            p = neg_expm1(total)
        if below(c0, p, seed, g, step, 2):
            if below(c0, p * (rate_l / total), seed, g, step, 2):
                phase[z, y, x] = ph.LAYERED
                dirty[z, y, x] = 1
                li[z, y, x] = lv - a
                disorder[z, y, x] = d_new
                tal[zi, ti[_LITHIATED]] += a
            else:
                phase[z, y, x] = ph.ROCKSALT
                tal[zi, ti[_DEHYDRATED]] += a
                cnt[zi, ki[_ROCKSALT]] += 1
                if a < full_rs:
                    cnt[zi, ki[_ROCKSALT_PARTIAL]] += 1
            return lanes
    cnt[zi, ki[_HYDROXIDE]] += 1
    if lv > 0.0:
        cnt[zi, ki[_SUPPLIED]] += 1
    return lanes


def reference(s):
    """:func:`apply` on the whole lattice with NumPy (:class:`mcsim.reference.Sweep`)."""
    hyd = s.where((ph.HYDROXIDE,))
    a, lv = s.a, s.lv
    kl = float(s.coef("kdt_lith"))
    kd = float(s.coef("kdt_dehyd"))
    d_new = np.uint8(s.coef("disorder_new"))
    full_rs = int(s.full[ph.ROCKSALT])
    supplied = lv > 0.0
    rate_l = np.where(hyd & supplied, kl * s.li_per_tm, 0.0)
    total = rate_l + kd
    hyd_draw = hyd & (total > 0.0)
    c0 = s.lanes(hyd_draw, 0)
    p_hyd = s.neg_expm1(total, c0, hyd_draw)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_lith = p_hyd * (rate_l / total)
    near = hyd_draw & s.near(p_lith, c0)
    if near.any():  # the split threshold follows p: recompute it from the exact p
        p_ex = np.array([neg_expm1.py_func(v) for v in total[near].tolist()])
        p_hyd[near] = p_ex
        p_lith[near] = p_ex * (rate_l[near] / total[near])
    hit = s.below(c0, p_hyd, hyd_draw, 2)
    to_lay = s.below(c0, p_lith, hit, 2)
    to_rs = hit & ~to_lay
    hyd_left = hyd & ~hit
    s.P[to_lay] = ph.LAYERED
    s.L[to_lay] = (lv - a)[to_lay].astype(np.float32)
    s.D[to_lay] = d_new
    s.tally("tm_lithiated", a[to_lay].sum())
    s.P[to_rs] = ph.ROCKSALT
    s.tally("tm_dehydrated", a[to_rs].sum())
    s.count("rocksalt", np.count_nonzero(to_rs))
    s.count("rocksalt_partial", np.count_nonzero(to_rs & (a < full_rs)))
    s.count("hydroxide", np.count_nonzero(hyd_left))
    s.count("hydroxide_supplied", np.count_nonzero(hyd_left & supplied))


REACTION = LocalReaction(
    coefficients=(
        Coefficient("kdt_lith", doc="k dt of topotactic lithiation (scaled by min(1, li/amount) "
                    "per voxel)"),
    ),
    tallies=(
        Tally("tm_lithiated", "TM lithiated topotactically from hydroxide: one H2O given off, "
              "a quarter O2 taken up (TM2+ -> TM3+)", gas={"H2O": 1.0, "O2": -0.25},
              enthalpy="lithiation_dh_j_per_mol"),
    ),
    rule=Rule((ph.HYDROXIDE,), prepare, apply, reference,
              reads=("kdt_lith", "kdt_dehyd", "disorder_new"),
              tallies=("tm_lithiated", "tm_dehydrated"),
              counts=("hydroxide", "hydroxide_supplied", "rocksalt", "rocksalt_partial")),
)


class TopotacticLithiation(Process):
    """Hydroxide -> layered at k = A exp(-Ea/RT), scaled by the local lithium supply."""

    name = "lithiation"
    variant = "topotactic"

    def rate(self, temperature_c: float) -> float:
        return arrhenius(self.params["lithiation_a_per_s"], self.params["lithiation_ea_j_per_mol"],
                         temperature_c)

    def coefficients(self, coef, temperature_c, dt_s):
        coef[slot("kdt_lith")] = self.rate(temperature_c) * dt_s

    def max_dt(self, state, temperature_c):
        # The competing-risk draw is exact at constant rates; the bound keeps the error from
        # the lithium supply changing within a step (transport acts between draws) small. It
        # is lifted once fewer than STRAGGLERS of the lattice's voxels are supplied hydroxide:
        # the last few then convert with the probabilities of the lithium they hold, instead
        # of holding the whole lattice to sub-second steps.
        if state.census.get("hydroxide_supplied", 1) <= STRAGGLERS * state.n_global_voxels:
            return math.inf
        return event_dt_limit(self.rate(temperature_c), self.numerics["max_event_probability"])

    def describe(self):
        return (f"lithiation: topotactic, Ea {self.params['lithiation_ea_j_per_mol'] / 1e3:.0f} "
                f"kJ/mol")
