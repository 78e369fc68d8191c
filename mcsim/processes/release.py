"""Lithium release from the source particles (LiOH, its Li2O residue, or Li2CO3).

Rule (applied per source voxel in the fused reaction kernel; variant ``first-order`` lets
every source voxel release, variant ``contact`` only those touching the particle): a LiOH
voxel may first
decompose, 2 LiOH -> Li2O + H2O, with probability 1 - exp(-k_d dt), k_d = 1.8e8 exp(-123
kJ/mol / RT) (J. Nucl. Mater. 87, 1979). Then each source voxel hands a share 1 - exp(-k dt)
of its lithium quanta to its own mobile-lithium field (rounded stochastically, so quanta stay
integers and lithium is conserved exactly); transport carries it on through the contacts.
k = A exp(-Ea/RT), multiplied by ``melt_release_factor`` once the source has melted (LiOH
462 C, Li2CO3 723 C). Lithium leaving LiOH takes half a water molecule with it; lithium leaving
Li2CO3 half a CO2. A source voxel whose solid is used up and whose mobile lithium has left
becomes pore.

Here: the rule (:func:`apply`, one voxel; :func:`reference`, NumPy), the retirement of used-up
sources after the sweep (:func:`retire_kernel`), the declaration of the coefficients and of the
tallies with their water, CO2 and enthalpies (:data:`REACTION`), and the variants.
"""

from __future__ import annotations

import numba
import numpy as np

from mcsim import phases as ph
from mcsim.processes.base import Process, arrhenius, event_probability
from mcsim.processes.reactions import below, lane0, lane1, round_below
from mcsim.processes.registry import Coefficient, LocalReaction, Rule, Tally, slot

#: The phases the rule acts on.
PHASES = ph.SOURCE_PHASES
# positions in the rule's ``tallies`` and ``counts``
_RELEASED, _WATER, _CO2, _DECOMPOSED = 0, 1, 2, 3
_SOURCE, _LIOH, _SPENT = 0, 1, 2


@numba.njit(inline="always")
def _in_contact(phase, grain, z, y, x):
    """Whether a source voxel touches the particle: a TM-phase neighbour (solid contact) or a
    pore inside the particle (grain id != 0). Neither changes class during the sweep (TM
    phases stay TM phases, pores are not touched), so the test is free of races."""
    for k in range(6):
        dz = -1 if k == 0 else (1 if k == 1 else 0)
        dy = -1 if k == 2 else (1 if k == 3 else 0)
        dx = -1 if k == 4 else (1 if k == 5 else 0)
        c = phase[z + dz, y + dy, x + dx]
        if c == ph.HYDROXIDE or c == ph.ROCKSALT or c == ph.LAYERED:
            return True
        if c == ph.PORE and grain[z + dz, y + dy, x + dx] != 0:
            return True
    return False


@numba.njit(inline="always")
def prepare(coef, ci, full, seed, step):
    """(p_dec, p_lioh, p_li2o, p_co3, contact_only) from the coefficients ``ci``."""
    return coef[ci[3]], coef[ci[0]], coef[ci[1]], coef[ci[2]], coef[ci[4]] > 0.5


@numba.njit(inline="always")
def apply(k, ti, ki, phase, grain, amount, li, disorder, dirty, tal, cnt, z, y, x, c, g, lanes,
          seed, step):
    """A source voxel: LiOH may decompose (lane of block 0), then a share of its quanta is
    released, rounded stochastically (lane of block 1), each decision drawn only when it is
    not certain; the voxel is counted as a source, or as spent (retired after the sweep)."""
    p_dec, p_lioh, p_li2o, p_co3, contact_only = k
    zi = z - 1
    a = amount[z, y, x]
    if c == ph.LIOH and p_dec > 0.0:
        lanes, c0 = lane0(lanes, g, seed, step)
        decomposes = below(c0, p_dec, seed, g, step, 2)
    else:
        decomposes = False
    if decomposes:
        c = ph.LI2O
        phase[z, y, x] = c
        tal[zi, ti[_DECOMPOSED]] += a
        tal[zi, ti[_WATER]] += a
    if c == ph.LIOH:
        p = p_lioh
    elif c == ph.LI2O:
        p = p_li2o
    else:
        p = p_co3
    if a > 0 and p > 0.0 and (not contact_only or _in_contact(phase, grain, z, y, x)):
        x_rel = a * p
        if x_rel != int(x_rel):
            lanes, c1 = lane1(lanes, g, seed, step)
            n = min(round_below(lanes, x_rel, c1, seed, g, step, 3), a)
        else:
            n = min(int(x_rel), a)
        a -= n
        amount[z, y, x] = a
        li[z, y, x] += n
        if contact_only and grain[z, y, x] != -1:
            grain[z, y, x] = -1  # once used up, a pore on the path into the particle
            dirty[z, y, x] = 1
        tal[zi, ti[_RELEASED]] += n
        if c == ph.LIOH:
            tal[zi, ti[_WATER]] += n
        elif c == ph.LI2CO3:
            tal[zi, ti[_CO2]] += n
    if a == 0 and li[z, y, x] < 0.5:
        cnt[zi, ki[_SPENT]] += 1  # retired to pore after the sweep (retire_kernel)
    else:
        cnt[zi, ki[_SOURCE]] += 1
        if c == ph.LIOH:
            cnt[zi, ki[_LIOH]] += 1
    return lanes


def reference(s):
    """:func:`apply` on the whole lattice with NumPy (:class:`mcsim.reference.Sweep`)."""
    src = s.where(PHASES)
    p0, a, lv = s.p0, s.a, s.lv
    p_dec = float(s.coef("p_lioh_decomp"))
    p_lioh = float(s.coef("p_rel_lioh"))
    p_li2o = float(s.coef("p_rel_li2o"))
    p_co3 = float(s.coef("p_rel_co3"))
    c0 = s.lanes(src, 0)
    c1 = s.lanes(src, 1)  # sources: their group's second block
    dec = s.below(c0, p_dec, src & (p0 == ph.LIOH) & (p_dec > 0.0), 2)
    code = np.where(dec, np.uint8(ph.LI2O), p0)
    s.P[dec] = ph.LI2O
    decomposed = a[dec].sum()
    s.tally("lioh_decomposed", decomposed)
    s.tally("li_water", decomposed)
    is_lioh = code == ph.LIOH
    is_co3 = code == ph.LI2CO3
    p_rel = np.where(is_lioh, p_lioh, np.where(code == ph.LI2O, p_li2o, p_co3))
    # contact: a TM neighbour, or a pore inside the particle (grain != 0), as before the sweep
    pz, gz = s.phase, s.grain
    contact = np.zeros(s.P.shape, dtype=bool)
    for dz, dy, dx in ((-1, 0, 0), (1, 0, 0), (0, -1, 0), (0, 1, 0), (0, 0, -1), (0, 0, 1)):
        sl = (slice(1 + dz, pz.shape[0] - 1 + dz), slice(1 + dy, pz.shape[1] - 1 + dy),
              slice(1 + dx, pz.shape[2] - 1 + dx))
        nb = pz[sl]
        contact |= (nb == ph.HYDROXIDE) | (nb == ph.ROCKSALT) | (nb == ph.LAYERED)
        contact |= (nb == ph.PORE) & (gz[sl] != 0)
    contact_only = float(s.coef("contact_only")) > 0.5
    rel = src & (a > 0) & (p_rel > 0.0) & (contact | (not contact_only))
    x_rel = a * p_rel
    n_lo = np.floor(x_rel).astype(np.int64)
    n = np.minimum(n_lo + s.below(c1, x_rel - n_lo, src, 3), a)
    n = np.where(rel, n, 0)
    a_new = a - n
    li_new = np.where(rel, (lv + n).astype(np.float32), s.L)
    s.A[rel] = a_new[rel]
    s.L[rel] = li_new[rel]
    if contact_only:
        s.G[rel] = -1
    s.tally("li_released", n.sum())
    s.tally("li_water", n[is_lioh].sum())
    s.tally("li_co2", n[is_co3].sum())
    spent = src & (a_new == 0) & (li_new < 0.5)
    s.count("spent_source", np.count_nonzero(spent))
    src_left = src & ~spent
    s.count("source", np.count_nonzero(src_left))
    s.count("lioh", np.count_nonzero(src_left & is_lioh))


@numba.njit(parallel=True, cache=True)
def retire_kernel(phase, amount, li, dirty):
    """Turn used-up source voxels (no solid, no mobile lithium left) into pores; they keep
    their grain id (-1 for a contact voxel: a pore on the lithium's path into the particle)."""
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    for z in numba.prange(1, nz + 1):
        for y in range(1, ny + 1):
            for x in range(1, nx + 1):
                c = phase[z, y, x]
                if (c == ph.LIOH or c == ph.LI2O or c == ph.LI2CO3) and amount[z, y, x] == 0 \
                        and li[z, y, x] < 0.5:
                    phase[z, y, x] = ph.PORE
                    dirty[z, y, x] = 1


def retire_spent_sources(state, counts: dict) -> None:
    """After the sweep: the sources it counted as used up become pores."""
    if counts["spent_source"] > 0:
        retire_kernel(state.phase, state.amount, state.li, state.dirty_flags())


REACTION = LocalReaction(
    coefficients=(
        Coefficient("p_rel_lioh", doc="probability per quantum that solid/molten LiOH "
                    "releases Li in the step"),
        Coefficient("p_rel_li2o", doc="the same for Li2O left by LiOH decomposition"),
        Coefficient("p_rel_co3", doc="the same for Li2CO3"),
        Coefficient("p_lioh_decomp", doc="probability that a LiOH voxel turns to Li2O (+ H2O) "
                    "in the step"),
        Coefficient("contact_only", doc="1: only source voxels touching the particle release "
                    "(variant contact)"),
    ),
    tallies=(
        Tally("li_released", "Li moved from source solid to the mobile field"),
        # Every Li that leaves LiOH, by decomposition to Li2O or released directly, is counted
        # here once and carries the LiOH enthalpy once: both routes end in the same state
        # (mobile Li, 1/2 H2O given off), so by Hess's law they give the same heat. Release
        # from the Li2O left behind carries no enthalpy of its own.
        Tally("li_water", "Li that left LiOH (decomposition or direct release): 1/2 H2O each",
              gas={"H2O": 0.5}, enthalpy="lioh_decomp_dh_j_per_mol"),
        Tally("li_co2", "Li released from Li2CO3: 1/2 CO2 each", gas={"CO2": 0.5},
              enthalpy="carbonate_dh_j_per_mol"),
        # its water and its enthalpy are in li_water
        Tally("lioh_decomposed", "Li in LiOH voxels that turned to Li2O"),
    ),
    rule=Rule(PHASES, prepare, apply, reference,
              reads=("p_rel_lioh", "p_rel_li2o", "p_rel_co3", "p_lioh_decomp", "contact_only"),
              tallies=("li_released", "li_water", "li_co2", "lioh_decomposed"),
              counts=("source", "lioh", "spent_source")),
    after_sweep=retire_spent_sources,
)


class SourceRelease(Process):
    """First-order release from the source, LiOH decomposition, faster release from a melt."""

    name = "release"
    variant = "first-order"

    def rate(self, temperature_c: float, molten: bool) -> float:
        """Release rate constant (1/s) of the source solid, or of its melt."""
        k = arrhenius(self.params["release_a_per_s"], self.params["release_ea_j_per_mol"],
                      temperature_c)
        return k * self.params["melt_release_factor"] if molten else k

    def coefficients(self, coef, temperature_c, dt_s):
        molten = temperature_c >= self.params["source_melt_c"]
        p_source = event_probability(self.rate(temperature_c, molten), dt_s)
        coef[slot("p_rel_lioh")] = p_source
        coef[slot("p_rel_co3")] = p_source
        coef[slot("p_rel_li2o")] = event_probability(self.rate(temperature_c, False), dt_s)
        coef[slot("p_lioh_decomp")] = event_probability(
            arrhenius(self.params["lioh_decomp_a_per_s"], self.params["lioh_decomp_ea_j_per_mol"],
                      temperature_c), dt_s)

    def describe(self):
        return (f"release: {self.variant}, Ea {self.params['release_ea_j_per_mol'] / 1e3:.0f} kJ/mol, "
                f"x{self.params['melt_release_factor']:g} above {self.params['source_melt_c']:g} C")


class ContactRelease(SourceRelease):
    """As ``first-order``, but only source voxels touching the particle (a TM neighbour or a pore
    inside it) release; a used-up contact voxel becomes a pore on the path in, so the source
    is consumed from its contacts backwards (solid contact below the melting point)."""

    variant = "contact"

    def coefficients(self, coef, temperature_c, dt_s):
        super().coefficients(coef, temperature_c, dt_s)
        coef[slot("contact_only")] = 1.0
