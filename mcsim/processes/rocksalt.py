"""Lithiation of rock salt TMO + Li -> layered LiTMO2 at higher temperature (>= 400 C).

Rule (fused reaction kernel): a rock-salt voxel holding mobile lithium becomes layered at
k min(1, li/amount) dt. Layered oxide needs 20.4/11.0 = 1.86 times the volume of rock salt,
so a rock-salt voxel that ripened to more TM than a layered voxel holds comes out overfull;
:mod:`mcsim.processes.restructure` spills the excess into neighbouring pore space (expansion
into pores), which leaves part of the intragranular nanopores unfilled.
"""

from __future__ import annotations

import numba
import numpy as np

from mcsim import phases as ph
from mcsim.processes.base import Process, arrhenius
from mcsim.processes.reactions import LANES, below, lane0, neg_expm1
from mcsim.processes.registry import Coefficient, LocalReaction, Rule, Tally, slot

# positions in the rule's ``counts``
_ROCKSALT, _ROCKSALT_PARTIAL, _LAYERED_OVERFULL = 0, 1, 2


@numba.njit(inline="always")
def prepare(coef, ci, full, seed, step):
    """(k dt, disorder code of new layered oxide, quanta of full rock-salt and layered voxels,
    the largest coarse lane that can still decide an event: the probability is at most k dt)."""
    krs = coef[ci[0]]
    c_max = np.int64(krs * LANES) if krs < 1.0 else np.int64(LANES)
    return krs, np.uint8(coef[ci[1]]), full[ph.ROCKSALT], full[ph.LAYERED], c_max


@numba.njit(inline="always")
def apply(k, ti, ki, phase, grain, amount, li, disorder, dirty, tal, cnt, z, y, x, c, g, lanes,
          seed, step):
    """A rock-salt voxel holding mobile lithium lithiates with probability
    1 - exp(-k dt min(1, li/amount)); rock salt left is counted (and whether it can ripen).
    A lane above ``c_max`` decides "no event" without the probability being computed."""
    krs, d_new, full_rs, full_lay, c_max = k
    zi = z - 1
    a = amount[z, y, x]
    lv = li[z, y, x]
    if lv > 0.0 and krs > 0.0:
        lanes, c0 = lane0(lanes, g, seed, step)
        if c0 <= c_max and below(c0, neg_expm1(krs * min(1.0, lv / a)), seed, g, step, 2):
            phase[z, y, x] = ph.LAYERED
            dirty[z, y, x] = 1
            li[z, y, x] = lv - a
            disorder[z, y, x] = d_new
            tal[zi, ti[0]] += a
            if a > full_lay:
                cnt[zi, ki[_LAYERED_OVERFULL]] += 1
            return lanes
    cnt[zi, ki[_ROCKSALT]] += 1
    if a < full_rs:
        cnt[zi, ki[_ROCKSALT_PARTIAL]] += 1
    return lanes


# The rule as it was on 2026-12-04 (the same decisions, computed for every voxel), for the
# kernel of that day (mcsim.processes.reactions.fused_kernel(legacy=True)).


@numba.njit(inline="always")
def prepare_2026_12_04(coef, ci, full, seed, step):
    """(k dt, disorder code of new layered oxide, quanta of full rock-salt and layered voxels)."""
    return coef[ci[0]], np.uint8(coef[ci[1]]), full[ph.ROCKSALT], full[ph.LAYERED]


@numba.njit(inline="always")
def apply_2026_12_04(k, ti, ki, phase, grain, amount, li, disorder, dirty, tal, cnt, z, y, x, c,
                     g, lanes, seed, step):
    """A rock-salt voxel holding mobile lithium lithiates with probability
    1 - exp(-k dt min(1, li/amount)); rock salt left is counted (and whether it can ripen)."""
    krs, d_new, full_rs, full_lay = k
    zi = z - 1
    a = amount[z, y, x]
    lv = li[z, y, x]
    if lv > 0.0 and krs > 0.0:
        lanes, c0 = lane0(lanes, g, seed, step)
        if below(c0, neg_expm1(krs * min(1.0, lv / a)), seed, g, step, 2):
            phase[z, y, x] = ph.LAYERED
            dirty[z, y, x] = 1
            li[z, y, x] = lv - a
            disorder[z, y, x] = d_new
            tal[zi, ti[0]] += a
            if a > full_lay:
                cnt[zi, ki[_LAYERED_OVERFULL]] += 1
            return lanes
    cnt[zi, ki[_ROCKSALT]] += 1
    if a < full_rs:
        cnt[zi, ki[_ROCKSALT_PARTIAL]] += 1
    return lanes


def reference(s):
    """:func:`apply` on the whole lattice with NumPy (:class:`mcsim.reference.Sweep`)."""
    rs = s.where((ph.ROCKSALT,))
    a, lv = s.a, s.lv
    krs = float(s.coef("kdt_rs"))
    d_new = np.uint8(s.coef("disorder_new"))
    full_rs = int(s.full[ph.ROCKSALT])
    full_lay = int(s.full[ph.LAYERED])
    rs_draw = rs & (lv > 0.0) if krs > 0.0 else np.zeros_like(rs)
    if krs > 0.0:
        c0 = s.lanes(rs_draw, 0)
        p_rs = s.neg_expm1(krs * s.li_per_tm, c0, rs_draw)
        rs_lith = s.below(c0, p_rs, rs_draw, 2)
    else:
        rs_lith = np.zeros_like(rs)
    s.P[rs_lith] = ph.LAYERED
    s.L[rs_lith] = (lv - a)[rs_lith].astype(np.float32)
    s.D[rs_lith] = d_new
    s.tally("tm_rs_lithiated", a[rs_lith].sum())
    s.count("layered_overfull", np.count_nonzero(rs_lith & (a > full_lay)))
    rs_left = rs & ~rs_lith
    s.count("rocksalt", np.count_nonzero(rs_left))
    s.count("rocksalt_partial", np.count_nonzero(rs_left & (a < full_rs)))


REACTION = LocalReaction(
    coefficients=(
        Coefficient("kdt_rs", doc="k dt of rock-salt lithiation (scaled by min(1, li/amount))"),
    ),
    tallies=(
        Tally("tm_rs_lithiated", "TM lithiated from rock salt: a quarter O2 taken up, no water "
              "left to lose", gas={"O2": -0.25}, enthalpy="rocksalt_lithiation_dh_j_per_mol"),
    ),
    rule=Rule((ph.ROCKSALT,), prepare, apply, reference, reads=("kdt_rs", "disorder_new"),
              tallies=("tm_rs_lithiated",),
              counts=("rocksalt", "rocksalt_partial", "layered_overfull")),
)


class RocksaltLithiation(Process):
    """Rock salt -> layered at k = A exp(-Ea/RT) scaled by the local lithium supply.

    Nothing competes for rock salt and 1 - exp(-k dt) is exact at constant temperature, so
    the process sets no time-step limit of its own.
    """

    name = "rocksalt_lithiation"
    variant = "first-order"

    def coefficients(self, coef, temperature_c, dt_s):
        coef[slot("kdt_rs")] = arrhenius(self.params["rocksalt_lithiation_a_per_s"],
                                         self.params["rocksalt_lithiation_ea_j_per_mol"],
                                         temperature_c) * dt_s

    def describe(self):
        return (f"rocksalt_lithiation: first order, Ea "
                f"{self.params['rocksalt_lithiation_ea_j_per_mol'] / 1e3:.0f} kJ/mol")
