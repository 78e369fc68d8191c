"""Solid restructuring inside grains: rock-salt ripening into nanopores, overflow of expanding
layered oxide into pores, and infiltration of open pores by molten LiOH.

All three move material between two neighbouring voxels, so they are done as pair updates that
never conflict: a sweep takes one axis and one parity, pairing each voxel whose global
coordinate along that axis has that parity with its upper neighbour; the pairs of a sweep are
disjoint, so they can be updated in parallel, and six sweeps (3 axes x 2 parities) visit
every neighbour pair once per step. Parities are of global coordinates and random numbers are
keyed by the lower voxel's global index, step and sweep, so the result does not depend on
threads.

Each sweep is one kernel call followed by a halo refresh. On a decomposed lattice
(:mod:`mcsim.parallel`) a pair that straddles two subdomains is updated by both: a rank
processes every pair of the sweep with EITHER end in its interior (the lower end, the anchor,
may be in the lower halo layer, the upper end in the upper halo layer), as long as both ends
are inside the global lattice. The pair rules read and write only the pair's two voxels, and
the halo holds the neighbour's current values, so both ranks compute the same update from the
same data and the same random number (keyed by the anchor's global index); the halo exchange
after the sweep then overwrites each rank's halo copy with the owner's identical values. A
voxel emptied into a nanopore is counted by the rank that owns the pair's anchor only. On one
rank the anchors are exactly today's, so results are unchanged.

Only some voxels can be in a pair that changes (*active*: rock salt below full, overfull
layered oxide, part-filled layered oxide when consolidation is on, LiOH above the melting
point), and every such pair holds one. A pass at the start of the step marks the active voxels,
halo included, and the rows (z, y) holding one (:func:`active_rows_kernel`); a sweep reads the
marks eight voxels at a time (one 64-bit word), skips the anchors of a word when none of their
pairs holds a marked voxel, and marks both voxels of every pair it tries (they may have become
active). A skipped pair would have changed nothing, and random numbers are keyed by each
pair's own anchor, so the result is bit-identical to sweeping everything. Activity travels one
voxel per sweep, two along z and two along y in a step, so the coordination snapshot is taken
only on rows within :data:`ROW_REACH` of a marked row (the rest of the snapshot is never
read). On a decomposed lattice a rank does not see activity beyond its halo: there the
snapshot is taken whole, and after each halo exchange the active voxels of the halo are marked
(:func:`halo_rows_kernel`), as the neighbour's pairs may have activated them. Pair rules:

ripening
    Two rock-salt voxels of the same grain, either below full: with probability
    1 - exp(-k_r dt), TM moves from one to the other until the receiver is full or the donor
    empty. The donor is the voxel with fewer solid (TM) voxels among its 26 neighbours
    (surface energy: an atom at a low-coordinated site, a grain or pore surface, has the
    higher chemical potential, Gibbs-Thomson); between equally coordinated voxels the emptier
    gives (the rule before issue 12, which ``ripening_coordination`` = 0 restores). The
    coordination numbers, and whether a voxel lies on its grain's surface, are read from a
    snapshot taken once per restructure step (:func:`coordination_kernel`), so a neighbour
    emptied by another pair of the same sweep never changes a pair's outcome. An emptied donor
    on its grain's surface (a face neighbour that is not its grain: an intergranular or outer
    pore, another grain, a lithium source) opens an intergranular gap (label -1: the grain
    shrank, with probability ``ripening_surface_gaps``); an emptied donor inside the grain
    becomes an intragranular nanopore (pore keeping its grain id). A nanopore that comes to
    share a face with an intergranular pore (or touches another grain) joins it
    (:func:`join_kernel`, run after the sweeps to its closure: a nanopore voxel joined makes
    its nanopore neighbours join too).
    The rate is calibrated at 10 nm voxels and scales as (10 nm / voxel_nm) ** p with
    p = ``ripening_voxel_exponent`` = 2: a move carries TM over one voxel, a diffusion hop
    over dx takes ~ dx^2 / D, so on a finer lattice the same physical ripening takes more,
    faster moves.

    *The split.* Dehydration frees ~52 % of a grain's volume uniformly inside it (the voxel
    keeps its TM, rock salt fills 48 % of it). The free volume either reaches the grain's
    surface (the grain shrinks, opening intergranular gaps: the paper's loose, coarse core)
    or gathers inside into nanopores. Which is decided where the TM goes: a surface voxel,
    the least coordinated, gives its TM inwards and empties first (the surface retreats); a
    voxel inside a 40 nm plate is never more than ~20 nm from the surface, but TM moves one
    neighbour distance per move, so inside voxels that pair among themselves before the
    retreating surface reaches them empty in place and nucleate nanopores, and a nanopore's
    wall, being less coordinated, then feeds the neighbouring bulk (the nanopore grows rather
    than a new one forming). So the surface takes the free volume of a skin about as deep as
    TM travels in ripening and the inside keeps the rest. A 40 nm plate has no point more than
    20 nm from its surface, so most of its free volume leaves it: on the default particle
    (R-NCM ramp quenched at 600 C, seed 1) 87 % of the emptied voxels open gaps (43 268) and
    13 % stay nanopores (6 724). That share is set by the voxel, not by a physical length: at
    10 nm a plate is four voxels thick and every voxel is on or next to its surface.
    Nanopores stay single voxels at 10 and at 5 nm (docs/model.md), so their size is still
    the voxel's.

    *What the crystallography allows.* The dehydration is topotactic (the oxide's (111)
    planes keep the hydroxide's layers) and hydroxide platelets keep their shape as oxide.
    Along the layers the TM-TM distance falls from 3.13 to 2.95 A (NiO), 0.893 of the area;
    across them the layer spacing falls from 4.61 to 2.41 A, 0.52 of it. If the outline
    followed the in-plane contraction only, it would take 0.107 of the grain's volume, 0.20
    of the 0.53 freed; the collapse of the stacking stays inside as slit pores, which ripen
    into nanopores. ``ripening_surface_gaps`` between 0 and 1 sets that split: only that
    share of the outline's sites may retreat (drawn once per voxel, :func:`_retreats`, so that
    repeated attempts cannot wear the kept sites away); a kept site that would empty takes
    from an inner partner instead, and two kept sites leave their pair alone. About 0.17
    gives 0.2 of the freed volume as gaps at 10 nm; the default 1 gives 0.8-0.9. (Until
    2026-12-06 a value between 0 and 1 labelled some emptied surface voxels as nanopores,
    which the join rule then made gaps at once: it acted as 1.)

    *Sink mode* (a variant: ``nanopore_site_spacing_nm`` > 0; 0, the default, is the rule
    above). The rule above opens a pore wherever two rock-salt voxels pair, so the pores are
    one voxel across and their number grows as the voxel shrinks. In sink mode the free
    volume of the rock salt goes only to sinks: a retreating site of the grain's outline (as
    above), the wall of a nanopore of the grain (:data:`WALL_BIT`), or a nucleation site, one
    per spacing^3 of volume whatever the voxel (a voxel is a site with the chance
    (voxel_nm / spacing)^3, drawn once per voxel, :func:`_is_site`). Two rock-salt voxels of
    the grain that are not sinks swap their fills: the free volume hops at the ripening rate,
    whose (10 nm / voxel_nm)^2 scaling makes it a diffusion with the same diffusivity on
    every lattice. A sink paired with a non-sink fills its partner from its own TM and so
    takes in the partner's free volume; a sink that empties becomes a gap (outline) or a
    nanopore (inside), and the nanopore's walls are sinks from the next step on, so a nanopore
    grows from its site. Two sinks follow the rule above. Only rock salt: the consolidation
    of layered oxide is unchanged.
consolidation
    Above the sintering onset, two layered voxels of the same grain, neither over full and
    either below it, follow the ripening rule (the less coordinated gives, the emptied voxel
    opens a gap on the grain's surface or a nanopore inside), with the chance
    1 - exp(-k_c dt), k_c the densification event rate (:meth:`PairRestructuring.
    consolidation_rate`). A layered voxel made from hydroxide is only 89 % full: the 11 % is
    porosity finer than the voxel, which sinters like any other pore; consolidation gathers it
    into voxels that densification can then remove (on a grain boundary) or that stay
    nanopores (inside a grain). ``ripening_surface_gaps`` acts on it as a switch only: above 0
    every emptied surface voxel opens a gap (a grain made from hydroxide contracts as a
    coherent crystal, so its lost volume belongs at its surface; kept outline sites are a rule
    of rock salt's dehydration only), at 0 it stays a nanopore (the rule before issue 12).
    Two inner voxels that pair still empty one of them into a nanopore, though: TM moves one
    neighbour per move, so a grain's inner voxels consolidate among themselves before the
    outline reaches them, and a finer lattice makes more, smaller such pores.
    *Sink mode* (a variant: ``consolidation_sinks`` = 1; 0, the default, is the rule above):
    consolidation follows the sink rule of ripening, with no nucleation sites. Inner voxels
    swap their fills, so the free volume hops at the consolidation rate until a sink takes it
    in: any site of the grain's outline (when ``ripening_surface_gaps`` > 0) or the wall of a
    nanopore of the grain. Consolidation then opens no new nanopore inside a grain.
spill
    A layered voxel holding more TM than fits (rock salt that ripened, then lithiated: layered
    needs 1.86 x the volume of rock salt) pushes the excess into a pore neighbour (which becomes
    layered of the same grain) or into a partly filled layered neighbour of its grain. A
    nanopore of its own grain is filled only with the chance ``expansion_fills_nanopores``
    (1 by default, the rule before 2026-12-06). At 0 the expansion keeps the nanopores, as the
    paper reads its Fig. 3f (their walls stay Li-deficient rock salt: lithium reaches a grain
    from its surface, and the grain grows outwards), and an excess walled in by full voxels of
    its grain passes whole to one of them, chance 1/2 per pair and sweep, until it reaches a
    pore it may fill: no voxel is left overfull.

    *Pits first* (a variant: ``expansion_fills_pits_first`` > 0; 0, the default, is the rule
    above). Solid added to a pore lowers the solid-pore contact by more the more solid the
    pore has around it, so a grain that grows into the space around it fills the bottom of a
    pit before its mouth. Without this order the spill fills any pore beside it, and a pit of
    the grain's outline (a pocket of the gap touched by that grain only) is often sealed at
    its mouth first: the pocket is then a nanopore of the grain, one or two voxels across,
    and on a finer lattice the outline has more, smaller pits (on the 0.3 um particle quenched
    at 500 C, 95-115 such pockets appear per 25 C between 400 and 475 C at 5 nm against 9-12
    at 10 nm, every one of them sealed by spill of the grain around it). With the chance
    ``expansion_fills_pits_first`` a spill into a pore needs the pore's :data:`PIT_BIT`: no
    face neighbour of it is a pore with more solid voxels among its 26 neighbours (read from
    the step's snapshot, like the coordination of ripening). Where the pore beside it is not
    the most enclosed, the excess waits, or passes whole to a full layered voxel of its grain
    (chance 1/2 per pair and sweep, as above), towards a pore it may fill.
infiltration
    Above the source's melting point, a LiOH voxel gives half its lithium to a pore neighbour
    inside the particle with probability 1 - exp(-k_i dt): the melt wets and fills the open
    pores and carries lithium towards the core.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from mcsim import phases as ph
from mcsim import rng
from mcsim.processes.base import Process, arrhenius, event_probability
from mcsim.parallel import allreduce_int
from mcsim.state import full_amount_table


#: Voxel size (nm) at which the ripening and nanopore-migration rates were calibrated.
REFERENCE_VOXEL_NM = 10.0

#: Bit of the coordination snapshot marking a voxel on its grain's surface; the bits below it
#: hold the number of solid (TM) voxels among the 26 neighbours (0..26).
SURFACE_BIT = 32
_COUNT_MASK = 31
#: Bit of the coordination snapshot marking a voxel with a face neighbour that is a pore
#: labelled with the voxel's own grain (the wall of a nanopore): a sink of free volume in the
#: sink mode of ripening (``nanopore_site_spacing_nm`` > 0).
WALL_BIT = 64
#: Bit of the snapshot of a pore voxel (below it, the solid voxels among its 26 neighbours)
#: marking a pore that no pore face neighbour exceeds in solid neighbours: the only pores an
#: expanding grain may fill when ``expansion_fills_pits_first`` applies (a pit fills from its
#: bottom, :func:`pit_counts_kernel`, :func:`pit_bits_kernel`).
PIT_BIT = 128

#: How far (rows along z and along y) the six sweeps of one step can carry activity from the
#: rows that held an active voxel at the step's start: each sweep moves it one voxel along its
#: axis, two sweeps per axis. The coordination snapshot is needed only that far.
ROW_REACH = 2


def voxel_rate_factor(voxel_nm: float, exponent: float) -> float:
    """(REFERENCE_VOXEL_NM / voxel_nm) ** exponent: the factor on a rate calibrated at 10 nm
    voxels for a process whose time per voxel-sized step scales as voxel_nm ** exponent."""
    if not voxel_nm > 0.0:
        raise ValueError(f"voxel_nm must be > 0, got {voxel_nm!r}")
    return (REFERENCE_VOXEL_NM / float(voxel_nm)) ** float(exponent)


def nucleation_site_share(spacing_nm: float, voxel_nm: float) -> float:
    """q = (voxel_nm / spacing_nm)^3, capped at 1: the chance that a voxel is a nanopore
    nucleation site, so that sites number one per spacing^3 of volume on any lattice. 0 when
    ``spacing_nm`` is 0 (the sink mode of ripening off)."""
    if not spacing_nm > 0.0:
        return 0.0
    return min(1.0, (float(voxel_nm) / float(spacing_nm)) ** 3)


@numba.njit
def _lifetime_draws(seed, index):
    """The four uniforms of the voxel of global ``index`` that are drawn once per voxel (step
    0, sub-counter 7, which the pair sweeps, keyed by step and sub-counters 1-6, never use), so
    they are fixed for the voxel's lifetime: the first decides whether it may retreat from its
    grain's outline (:func:`_site_draw`), the second whether it is a nanopore nucleation site
    (:func:`_is_site`)."""
    return rng.uniform_sub(seed, rng.STREAM_RESTRUCTURE, index, 0, 7)


@numba.njit
def _site_draw(seed, index):
    """The uniform that decides whether the voxel of global ``index`` may retreat from its
    grain's outline, fixed for its lifetime (:func:`_lifetime_draws`), so repeated attempts
    cannot wear the kept sites away."""
    u, _, _, _ = _lifetime_draws(seed, index)
    return u


@numba.njit
def _retreats(seed, index, p_gap):
    """Whether the voxel of global ``index`` is a retreating site: its draw below ``p_gap``."""
    return _site_draw(seed, index) < p_gap


@numba.njit
def _is_site(seed, index, q_site):
    """Whether the voxel of global ``index`` is a nanopore nucleation site: the second of its
    lifetime draws (:func:`_lifetime_draws`) below ``q_site``, independent of the outline
    draw."""
    _, u, _, _ = _lifetime_draws(seed, index)
    return u < q_site


@numba.njit
def _sink(k, seed, index, p_gap, q_site):
    """Sink mode: whether a rock-salt voxel with snapshot ``k`` takes in free volume (and may
    empty). On its grain's outline: a retreating site (with ``p_gap`` > 0; a kept site never
    is one). Inside: the wall of a nanopore of its grain, or a nucleation site."""
    if (k & SURFACE_BIT) != 0:
        return p_gap > 0.0 and (p_gap >= 1.0 or _retreats(seed, index, p_gap))
    return (k & WALL_BIT) != 0 or _is_site(seed, index, q_site)


@numba.njit
def _give(phase, grain, amount, li, disorder, dirty, ctc, ez, ey, ex, rz, ry, rx, a_e, a_r, t,
          p_gap):
    """Voxel e (amount ``a_e``) gives ``t`` TM quanta to voxel r (``a_r``). An emptied e
    becomes pore and its mobile lithium goes to r: an intergranular gap (label -1: the grain
    shrank) when it lay on its grain's surface and ``p_gap`` > 0 (below 1, of rock salt only
    a retreating site of the outline empties there), otherwise a nanopore keeping its grain
    id. Returns 2 for a gap, 1 for a nanopore, 0 when e did not empty."""
    amount[rz, ry, rx] = a_r + t
    amount[ez, ey, ex] = a_e - t
    if a_e - t != 0:
        return 0
    phase[ez, ey, ex] = ph.PORE
    dirty[ez, ey, ex] = 1
    li[rz, ry, rx] += li[ez, ey, ex]
    li[ez, ey, ex] = 0.0
    disorder[ez, ey, ex] = 0
    if (np.int64(ctc[ez, ey, ex]) & SURFACE_BIT) != 0 and p_gap > 0.0:
        grain[ez, ey, ex] = -1
        return 2
    return 1


@numba.njit(inline="always")
def _move(phase, grain, amount, li, disorder, dirty, ctc, sz, sy, sx, dz, dy, dx, u0, u1, u2,
          u3, p_rip, p_inf, p_coord, p_gap, full_rs, full_lay, p_con, seed, i_s, i_d, variants):
    """Pair rules with voxel s = (sz, sy, sx) as the candidate donor and d as the receiver.

    Returns 1 if a rock-salt voxel was emptied into a nanopore, 2 if into an intergranular
    gap, 0 otherwise, -1 if the pair was not handled (so the caller may try the pair the other
    way round). ``ctc`` is the coordination snapshot (:func:`coordination_kernel`); u2 < p_coord
    lets the coordination choose the donor. With p_gap > 0 an emptied surface donor opens a
    gap; below 1 only a share p_gap of the outline's sites may retreat (:func:`_retreats`,
    drawn once per voxel), and a kept rock-salt site that would empty takes from its partner
    instead (nothing moves when the partner is a kept site too). ``i_s`` and ``i_d`` are the
    two voxels' global indices. ``variants`` is (p_fill, q_site, p_pit, c_sink), the
    knobs of the variants below (one tuple: an inlined function takes at most 30 arguments).
    u3 < p_fill lets an overfull layered voxel spill into a
    nanopore of its grain (with p_fill below 1, u1 < 1/2 passes an excess to a full layered
    neighbour of its grain). With ``q_site`` > 0 (sink mode) a rock-salt pair follows
    :func:`_sink`: two non-sinks swap their fills, a lone sink takes in its partner's free
    volume, two sinks follow the rule above. u2 < p_pit makes a spill into a pore wait for
    the pore's :data:`PIT_BIT` (pits first); with p_pit > 0 an excess beside a full layered
    voxel of its grain may pass to it as with p_fill below 1. With ``c_sink`` a consolidation
    pair (part-filled layered oxide) follows the sink rule too, with no nucleation sites: its
    sinks are the grain's outline (any site, when p_gap > 0) and the walls of its nanopores.
    """
    p_fill, q_site, p_pit, c_sink = variants
    cs = phase[sz, sy, sx]
    cd = phase[dz, dy, dx]
    a_s = np.int64(amount[sz, sy, sx])
    if cs == cd and (cs == ph.ROCKSALT or (cs == ph.LAYERED and p_con > 0.0 and a_s <= full_lay
                                          and np.int64(amount[dz, dy, dx]) <= full_lay)):
        # ripening of rock salt; consolidation of part-filled layered oxide (same rule)
        full_rs = full_rs if cs == ph.ROCKSALT else full_lay
        if grain[sz, sy, sx] != grain[dz, dy, dx] or u0 >= (p_rip if cs == ph.ROCKSALT
                                                            else p_con):
            return 0
        a_d = np.int64(amount[dz, dy, dx])
        if (q_site > 0.0 and cs == ph.ROCKSALT) or (c_sink and cs == ph.LAYERED):
            # sink mode: the free volume hops among inner voxels until a sink takes it in
            # (layered oxide: no nucleation sites, and every outline site retreats)
            pg = p_gap if cs == ph.ROCKSALT else (1.0 if p_gap > 0.0 else 0.0)
            qs = q_site if cs == ph.ROCKSALT else 0.0
            sink_s = _sink(np.int64(ctc[sz, sy, sx]), seed, i_s, pg, qs)
            sink_d = _sink(np.int64(ctc[dz, dy, dx]), seed, i_d, pg, qs)
            if not sink_s and not sink_d:
                if a_s != a_d:  # the pair swaps its fills: one hop of the free volume
                    amount[sz, sy, sx] = a_d
                    amount[dz, dy, dx] = a_s
                return 0
            if sink_d and not sink_s:
                return -1  # the sink gives: the caller tries the pair the other way round
            if not sink_d:  # s, the only sink, fills its partner and holds the free volume
                t = min(a_s, full_rs - a_d)
                if t <= 0:
                    return 0
                return _give(phase, grain, amount, li, disorder, dirty, ctc, sz, sy, sx, dz,
                             dy, dx, a_s, a_d, t, p_gap)
            # two sinks: the rule below
        ks = np.int64(ctc[sz, sy, sx]) & _COUNT_MASK
        kd = np.int64(ctc[dz, dy, dx]) & _COUNT_MASK
        if u2 < p_coord and ks != kd:
            # the less coordinated voxel gives (surface energy)
            if ks > kd:
                return -1
            if a_d >= full_rs:
                return 0
        # the emptier voxel gives; a tie is broken by the pair's second random number
        elif a_s > a_d or (a_s == a_d and u1 < 0.5) or a_d >= full_rs:
            return -1
        t = min(a_s, full_rs - a_d)
        if (a_s - t == 0 and cs == ph.ROCKSALT and p_gap > 0.0 and p_gap < 1.0
                and (np.int64(ctc[sz, sy, sx]) & SURFACE_BIT) != 0
                and not _retreats(seed, i_s, p_gap)):
            # s is a kept site of the grain's outline: it does not empty. An inner partner,
            # or a retreating surface site, gives instead; two kept sites leave the pair alone
            if (np.int64(ctc[dz, dy, dx]) & SURFACE_BIT) != 0 and not _retreats(seed, i_d,
                                                                                 p_gap):
                return 0
            return _give(phase, grain, amount, li, disorder, dirty, ctc, dz, dy, dx, sz, sy,
                         sx, a_d, a_s, min(a_d, full_rs - a_s), p_gap)
        return _give(phase, grain, amount, li, disorder, dirty, ctc, sz, sy, sx, dz, dy, dx,
                     a_s, a_d, t, p_gap)
    if cs == ph.LAYERED and a_s > full_lay:
        if cd == ph.PORE and (grain[dz, dy, dx] <= 0 or u3 < p_fill):
            if u2 < p_pit and (np.int64(ctc[dz, dy, dx]) & PIT_BIT) == 0:
                return 0  # a more enclosed pore beside this one fills first
            t = min(a_s - full_lay, full_lay)
            phase[dz, dy, dx] = ph.LAYERED
            grain[dz, dy, dx] = grain[sz, sy, sx]
            dirty[dz, dy, dx] = 1
            disorder[dz, dy, dx] = disorder[sz, sy, sx]
            amount[dz, dy, dx] = t
            amount[sz, sy, sx] = a_s - t
            return 0
        if cd == ph.LAYERED and grain[dz, dy, dx] == grain[sz, sy, sx]:
            a_d = np.int64(amount[dz, dy, dx])
            if a_d < full_lay:
                t = min(a_s - full_lay, full_lay - a_d)
                amount[dz, dy, dx] = a_d + t
                amount[sz, sy, sx] = a_s - t
            elif (p_fill < 1.0 or p_pit > 0.0) and a_d == full_lay and u1 < 0.5:
                # walled in: the whole excess moves on towards the grain's surface
                amount[dz, dy, dx] = a_s
                amount[sz, sy, sx] = full_lay
            return 0
        return -1
    if (cs == ph.LIOH and cd == ph.PORE and grain[dz, dy, dx] != 0 and p_inf > 0.0
            and u0 < p_inf and a_s >= 2):
        t = a_s // 2  # the pore keeps its grain id (-1 or its grain): it is inside the particle
        phase[dz, dy, dx] = ph.LIOH
        dirty[dz, dy, dx] = 1
        amount[dz, dy, dx] = t
        amount[sz, sy, sx] = a_s - t
        return 0
    return -1


@numba.njit(inline="always")
def _candidate(ci, cj, ai, aj, p_inf, full_rs, full_lay, p_con):
    """Whether a pair can change at all (cheap test before any random number is drawn)."""
    if ci == ph.ROCKSALT and cj == ph.ROCKSALT:
        return ai < full_rs or aj < full_rs
    if p_con > 0.0 and ci == ph.LAYERED and cj == ph.LAYERED and ai <= full_lay \
            and aj <= full_lay:
        return ai < full_lay or aj < full_lay
    if (ci == ph.LAYERED and ai > full_lay) or (cj == ph.LAYERED and aj > full_lay):
        return True
    if p_inf > 0.0:
        return (ci == ph.LIOH and cj == ph.PORE) or (cj == ph.LIOH and ci == ph.PORE)
    return False


@numba.njit(inline="always")
def _active(c, a, full_rs, full_lay, con, inf):
    """Whether a voxel of phase ``c`` holding ``a`` can be in a pair that changes: rock salt
    below full, overfull layered oxide, part-filled layered oxide when consolidation is on
    (``con``), LiOH when the source is molten (``inf``). Every candidate pair
    (:func:`_candidate`) holds at least one such voxel."""
    if c == ph.ROCKSALT:
        return a < full_rs
    if c == ph.LAYERED:
        return a > full_lay or (con and a < full_lay)
    return inf and c == ph.LIOH


@numba.njit(parallel=True, cache=True)
def active_rows_kernel(phase, amount, full, p_con, p_inf, rows, act):
    """Mark the active voxels (:func:`_active`), halo included, in ``act`` (uint8, shaped like
    the fields with x padded, see :func:`activity_buffers`;
    padding 0) and in ``rows`` (uint8, (z, y), halo included) every row holding one. Returns
    the rows marked."""
    full_rs = np.int64(full[ph.ROCKSALT])
    full_lay = np.int64(full[ph.LAYERED])
    con = p_con > 0.0
    inf = p_inf > 0.0
    n0, n1, n2 = phase.shape
    count = np.zeros(n0, dtype=np.int64)
    for z in numba.prange(n0):
        for y in range(n1):
            m = 0
            for x in range(n2):
                c = phase[z, y, x]
                v = 0
                if c >= ph.ROCKSALT or c == ph.LIOH:
                    if _active(c, np.int64(amount[z, y, x]), full_rs, full_lay, con, inf):
                        v = 1
                act[z, y, x] = v
                m |= v
            for x in range(n2, act.shape[2]):
                act[z, y, x] = 0
            rows[z, y] = m
            count[z] += m
    return count.sum()


@numba.njit(cache=True)
def halo_rows_kernel(phase, amount, full, p_con, p_inf, act):
    """Mark the active voxels (:func:`_active`) of the halo shell in ``act`` (what a halo
    exchange may have changed); marks are only added. O(surface)."""
    full_rs = np.int64(full[ph.ROCKSALT])
    full_lay = np.int64(full[ph.LAYERED])
    con = p_con > 0.0
    inf = p_inf > 0.0
    n0, n1, n2 = phase.shape
    for z in range(n0):
        zh = z == 0 or z == n0 - 1
        for y in range(n1):
            if zh or y == 0 or y == n1 - 1:
                for x in range(n2):
                    if _active(phase[z, y, x], np.int64(amount[z, y, x]), full_rs, full_lay,
                               con, inf):
                        act[z, y, x] = 1
            else:
                for x in (0, n2 - 1):
                    if _active(phase[z, y, x], np.int64(amount[z, y, x]), full_rs, full_lay,
                               con, inf):
                        act[z, y, x] = 1


def activity_buffers(shape):
    """The (z, y) row mask, the voxel activity mask (x padded to a multiple of 8, at least
    one byte past the halo) and its uint64 view (8 voxels per word) for ``shape``."""
    n0, n1, n2 = shape
    pad = (n2 // 8 + 2) * 8  # a sweep reads the byte after the last word it visits
    act = np.zeros((n0, n1, pad), dtype=np.uint8)
    return np.zeros((n0, n1), dtype=np.uint8), act, act.view(np.uint64)


@numba.njit(parallel=True, cache=True)
def dilate_rows_kernel(rows, r, out):
    """``out`` = the rows within ``r`` of a marked row along z and along y (a box)."""
    n0, n1 = rows.shape
    for z in numba.prange(n0):
        for y in range(n1):
            m = 0
            for zz in range(max(z - r, 0), min(z + r + 1, n0)):
                for yy in range(max(y - r, 0), min(y + r + 1, n1)):
                    if rows[zz, yy] != 0:
                        m = 1
                        break
                if m:
                    break
            out[z, y] = m


@numba.njit(parallel=True, cache=True)
def restructure_sweep_kernel(phase, grain, amount, li, disorder, p_rip, p_inf, full, seed, step,
                             oz, oy, ox, gny, gnx, axis, parity, a_lo, a_hi, dirty, ctc, p_coord,
                             p_gap, p_con, act, act64, p_fill=1.0, q_site=0.0, p_pit=0.0,
                             c_sink=False):
    """One conflict-free pair sweep along ``axis`` (0 z, 1 y, 2 x) pairing voxels of global
    coordinate parity ``parity`` with their upper neighbour. Returns the voxels emptied into
    nanopores and into intergranular gaps.

    ``a_lo`` and ``a_hi`` bound the local index (halo included: 0 is the lower halo layer) of
    the pair's lower voxel along ``axis``; the other two axes run over the interior. Only
    pairs whose anchor is in the interior (index >= 1) count towards the return value.
    Infiltration only fills pores inside the particle (grain id != 0, see
    :meth:`mcsim.state.State.from_microstructure`). ``ctc`` is the coordination snapshot of
    the step (halo included), read only. ``p_con`` is the chance per pair of a consolidation
    move between part-filled layered voxels of one grain (0 below the sintering onset);
    ``p_fill`` is ``expansion_fills_nanopores`` (the spill rule, :func:`_move`); ``q_site``
    > 0 turns on the sink mode of ripening (:func:`_move`, :func:`nucleation_site_share`);
    ``p_pit`` is ``expansion_fills_pits_first`` (the pore's :data:`PIT_BIT` in ``ctc``);
    ``c_sink`` (``consolidation_sinks``) puts consolidation in sink mode (:func:`_move`).

    ``act`` marks the voxels that may be active (:func:`_active`, :func:`active_rows_kernel`)
    and ``act64`` is its view as words of 8 voxels: a pair with neither voxel marked cannot
    change and is skipped (its random number is keyed by its own anchor, so no other pair's
    outcome moves), eight at a time where a word is empty. Both voxels of every candidate
    pair are marked here, as they may have become active for the next sweep.
    """
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    full_rs = np.int64(full[ph.ROCKSALT])
    full_lay = np.int64(full[ph.LAYERED])
    dz = 1 if axis == 0 else 0
    dy = 1 if axis == 1 else 0
    dx = 1 if axis == 2 else 0
    z0, z1 = (a_lo, a_hi) if dz == 1 else (1, nz)
    y0, y1 = (a_lo, a_hi) if dy == 1 else (1, ny)
    x0, x1 = (a_lo, a_hi) if dx == 1 else (1, nx)
    sub = 1 + 2 * axis + parity
    off = (dz * gny + dy) * gnx + dx  # global index of the upper voxel less the anchor's
    nano = np.zeros(nz + 2, dtype=np.int64)
    gaps = np.zeros(nz + 2, dtype=np.int64)
    w0 = x0 // 8
    w1 = x1 // 8
    variants = (np.float64(p_fill), np.float64(q_site), np.float64(p_pit), bool(c_sink))
    for z in numba.prange(z0, z1 + 1):
        gz = oz + z - 1
        if dz == 1 and gz % 2 != parity:
            continue
        for y in range(y0, y1 + 1):
            gy = oy + y - 1
            if dy == 1 and gy % 2 != parity:
                continue
            row = (gz * gny + gy) * gnx + ox - 1
            for w in range(w0, w1 + 1):
                # the anchors 8w..8w+7: skipped when none of their pairs holds a marked voxel
                if act64[z, y, w] == 0 and act64[z + dz, y + dy, w] == 0 and (
                        dx == 0 or act[z, y, 8 * w + 8] == 0):
                    continue
                for x in range(max(8 * w, x0), min(8 * w + 8, x1 + 1)):
                    if dx == 1 and (ox + x - 1) % 2 != parity:
                        continue
                    if act[z, y, x] == 0 and act[z + dz, y + dy, x + dx] == 0:
                        continue
                    ci = phase[z, y, x]
                    cj = phase[z + dz, y + dy, x + dx]
                    if not _candidate(ci, cj, amount[z, y, x], amount[z + dz, y + dy, x + dx],
                                      p_inf, full_rs, full_lay, p_con):
                        continue
                    act[z, y, x] = 1
                    act[z + dz, y + dy, x + dx] = 1
                    u0, u1, u2, u3 = rng.uniform_sub(seed, rng.STREAM_RESTRUCTURE, row + x, step,
                                                     sub)
                    r = _move(phase, grain, amount, li, disorder, dirty, ctc, z, y, x, z + dz,
                              y + dy, x + dx, u0, u1, u2, u3, p_rip, p_inf, p_coord, p_gap,
                              full_rs, full_lay, p_con, seed, row + x, row + x + off, variants)
                    if r < 0:
                        r = _move(phase, grain, amount, li, disorder, dirty, ctc, z + dz, y + dy,
                                  x + dx, z, y, x, u0, u1, u2, u3, p_rip, p_inf, p_coord, p_gap,
                                  full_rs, full_lay, p_con, seed, row + x + off, row + x,
                                  variants)
                    if r > 0 and z * dz + y * dy + x * dx >= 1:
                        if r == 1:
                            nano[z] += 1
                        else:
                            gaps[z] += 1
    return nano.sum(), gaps.sum()


@numba.njit(inline="always")
def _solid_in_box(phase, z, y, x):
    """The solid (TM) voxels in the 3 x 3 x 3 box around (z, y, x), the voxel included."""
    k = 0
    for zz in range(z - 1, z + 2):
        for yy in range(y - 1, y + 2):
            for xx in range(x - 1, x + 2):
                k += phase[zz, yy, xx] >= ph.HYDROXIDE
    return k


@numba.njit(inline="always")
def _row_box_counts(phase, z, y, col, box):
    """``box[x]`` = the solid (TM) voxels in the 3 x 3 x 3 box around (z, y, x), for x = 1 ..
    nx, as :func:`_solid_in_box` counts them: the nine rows around (z, y) summed column by
    column (``col``, for x = 0 .. nx + 1), then three columns. Every voxel of the row is
    counted, whatever its phase, by loops without branches, which are vectorised."""
    n = phase.shape[2]
    r0 = phase[z - 1, y - 1]
    r1 = phase[z - 1, y]
    r2 = phase[z - 1, y + 1]
    r3 = phase[z, y - 1]
    r4 = phase[z, y]
    r5 = phase[z, y + 1]
    r6 = phase[z + 1, y - 1]
    r7 = phase[z + 1, y]
    r8 = phase[z + 1, y + 1]
    s = ph.HYDROXIDE
    for x in range(n):
        col[x] = (np.int32(r0[x] >= s) + np.int32(r1[x] >= s) + np.int32(r2[x] >= s)
                  + np.int32(r3[x] >= s) + np.int32(r4[x] >= s) + np.int32(r5[x] >= s)
                  + np.int32(r6[x] >= s) + np.int32(r7[x] >= s) + np.int32(r8[x] >= s))
    for x in range(1, n - 1):
        box[x] = col[x - 1] + col[x] + col[x + 1]


@numba.njit(inline="always")
def _face_bits(c, g, cn, gn):
    """(:data:`SURFACE_BIT` or 0, :data:`WALL_BIT` or 0) of the face toward a neighbour of
    phase ``cn`` and grain ``gn``, for a voxel of grain ``g``: the surface bit when the
    neighbour is not of the voxel's grain (another grain id, a pore labelled -1 or 0 among
    them, or a lithium source), the wall bit when it is a pore of the voxel's grain (a
    nanopore)."""
    surf = (gn != g) | ((cn != ph.PORE) & (cn < ph.HYDROXIDE))
    wall = (not surf) & (cn == ph.PORE)
    return np.int32(surf) * SURFACE_BIT, np.int32(wall) * WALL_BIT


@numba.njit(inline="always")
def _coordination_row(phase, grain, ctc, layered, z, y, col, box):
    """The coordination snapshot of row (z, y) (:func:`coordination_kernel`) for each rock-salt
    voxel (and layered one with ``layered``), 0 elsewhere: the box counts of the whole row
    taken at once (:func:`_row_box_counts`), the bits of :func:`_face_bits` computed for every
    voxel of the row by a loop without branches (vectorised). Returns the voxels with a bit
    set (surface or wall), as the voxel-by-voxel kernel before 2026-12-08 counted them."""
    nx = phase.shape[2] - 2
    _row_box_counts(phase, z, y, col, box)
    pc = phase[z, y]
    gc = grain[z, y]
    pzm, pzp, pym, pyp = phase[z - 1, y], phase[z + 1, y], phase[z, y - 1], phase[z, y + 1]
    gzm, gzp, gym, gyp = grain[z - 1, y], grain[z + 1, y], grain[z, y - 1], grain[z, y + 1]
    cr = ctc[z, y]
    lay = ph.LAYERED if layered else ph.ROCKSALT
    surface = 0
    for x in range(1, nx + 1):
        c = pc[x]
        g = gc[x]
        s0, w0 = _face_bits(c, g, pzm[x], gzm[x])
        s1, w1 = _face_bits(c, g, pzp[x], gzp[x])
        s2, w2 = _face_bits(c, g, pym[x], gym[x])
        s3, w3 = _face_bits(c, g, pyp[x], gyp[x])
        s4, w4 = _face_bits(c, g, pc[x - 1], gc[x - 1])
        s5, w5 = _face_bits(c, g, pc[x + 1], gc[x + 1])
        k = (box[x] - 1) | (s0 | s1 | s2 | s3 | s4 | s5) | (w0 | w1 | w2 | w3 | w4 | w5)
        keep = (c == ph.ROCKSALT) | (c == lay)
        k = k if keep else 0
        surface += np.int64(k >= SURFACE_BIT)
        cr[x] = k
    return surface


@numba.njit(parallel=True, cache=True)
def coordination_kernel(phase, grain, ctc, layered=False):
    """The coordination snapshot of the interior rock-salt voxels, and with ``layered`` of the
    layered ones too (0 elsewhere): the number of solid (TM) voxels among the 26 neighbours,
    plus :data:`SURFACE_BIT` when a face neighbour is not of the voxel's grain (a pore
    labelled -1 or 0, another grain, a lithium source: anything but a solid or nanopore of the
    same grain), plus :data:`WALL_BIT` when a face neighbour is a nanopore of its grain.
    Returns the voxels with either bit set."""
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    count = np.zeros(nz + 2, dtype=np.int64)
    for z in numba.prange(1, nz + 1):
        col = np.empty(phase.shape[2], dtype=np.int32)
        box = np.empty(phase.shape[2], dtype=np.int32)
        for y in range(1, ny + 1):
            count[z] += _coordination_row(phase, grain, ctc, layered, z, y, col, box)
    return count.sum()


@numba.njit(parallel=True, cache=True)
def coordination_rows_kernel(phase, grain, ctc, layered, rows):
    """:func:`coordination_kernel` on the interior voxels of the rows marked in ``rows`` only
    (the other rows of ``ctc`` keep what they held: the caller never reads them)."""
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    for z in numba.prange(1, nz + 1):
        col = np.empty(phase.shape[2], dtype=np.int32)
        box = np.empty(phase.shape[2], dtype=np.int32)
        for y in range(1, ny + 1):
            if rows[z, y] != 0:
                _coordination_row(phase, grain, ctc, layered, z, y, col, box)


@numba.njit(parallel=True, cache=True)
def pit_counts_kernel(phase, ctc, rows):
    """First pass of the pore snapshot (pits first): every interior pore voxel of the rows
    marked in ``rows`` gets the number of solid (TM) voxels among its 26 neighbours."""
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    for z in numba.prange(1, nz + 1):
        for y in range(1, ny + 1):
            if rows[z, y] == 0:
                continue
            for x in range(1, nx + 1):
                if phase[z, y, x] == ph.PORE:  # the voxel itself is no solid
                    ctc[z, y, x] = _solid_in_box(phase, z, y, x)


@numba.njit(parallel=True, cache=True)
def pit_bits_kernel(phase, ctc, rows):
    """Second pass (after :func:`pit_counts_kernel` on these rows and the rows next to them,
    halo refreshed): an interior pore voxel of the marked rows gets :data:`PIT_BIT` when no
    face neighbour is a pore with more solid neighbours. Only the bit is added, so the counts
    the neighbouring voxels read stay what they were."""
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    for z in numba.prange(1, nz + 1):
        for y in range(1, ny + 1):
            if rows[z, y] == 0:
                continue
            for x in range(1, nx + 1):
                if phase[z, y, x] != ph.PORE:
                    continue
                k = np.int64(ctc[z, y, x]) & _COUNT_MASK
                top = True
                for f in range(6):
                    zz = z + (f == 1) - (f == 0)
                    yy = y + (f == 3) - (f == 2)
                    xx = x + (f == 5) - (f == 4)
                    if phase[zz, yy, xx] == ph.PORE and \
                            (np.int64(ctc[zz, yy, xx]) & _COUNT_MASK) > k:
                        top = False
                        break
                if top:
                    ctc[z, y, x] = k | PIT_BIT


def pore_snapshot(phase, ctc, rows_counts, rows_bits, exchange=None):
    """The pore part of the snapshot for pits first: counts on ``rows_counts``, the halo
    refreshed with ``exchange`` (a callable taking the field, or None on a lone domain), then
    the bits on ``rows_bits``, refreshed again (straddling pairs read the owner's bit)."""
    pit_counts_kernel(phase, ctc, rows_counts)
    if exchange is not None:
        exchange(ctc)
    pit_bits_kernel(phase, ctc, rows_bits)
    if exchange is not None:
        exchange(ctc)


@numba.njit(parallel=True, cache=True)
def join_kernel(phase, grain, mark, dirty):
    """The join rule, to its closure within the block: every interior nanopore voxel (pore with
    a grain id > 0) with a face neighbour that is a pore labelled -1 or 0 or a solid of another
    grain is relabelled -1 (it joined an intergranular pore), and so, in turn, is every interior
    nanopore voxel that a relabelled voxel touches. Returns the voxels relabelled.

    A parallel pass marks the voxels the rule takes as the block stands (``mark`` is scratch:
    only its nanopore voxels are written), a second pass over the planes holding a mark lists
    them, and :func:`_join_closure` relabels them and what they reach. The rule only ever adds
    -1 labels, so its fixpoint is the same whatever the order: the result is that of repeating
    the mark-then-relabel pass until it relabels nothing (the kernel of 2026-12-04, which took
    one layer of a nanopore per call and a whole-lattice pass for each). On a lone domain one
    call therefore leaves nothing to join; on a decomposed lattice a neighbour's relabelled halo
    voxels may start a new closure after the halo exchange, so the caller repeats until no rank
    joins anything."""
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    marked = np.zeros(nz + 2, dtype=np.int64)
    for z in numba.prange(1, nz + 1):
        n = 0
        for y in range(1, ny + 1):
            for x in range(1, nx + 1):
                if phase[z, y, x] != ph.PORE:
                    continue
                g = grain[z, y, x]
                if g <= 0:
                    continue
                m = 0
                for f in range(6):
                    zz = z + (f == 1) - (f == 0)
                    yy = y + (f == 3) - (f == 2)
                    xx = x + (f == 5) - (f == 4)
                    c = phase[zz, yy, xx]
                    h = grain[zz, yy, xx]
                    if (c == ph.PORE and h <= 0) or (c >= ph.HYDROXIDE and h != g):
                        m = 1
                mark[z, y, x] = m
                n += m
        marked[z] = n
    start = np.zeros(nz + 2, dtype=np.int64)
    for z in range(1, nz + 1):
        start[z + 1] = start[z] + marked[z]
    total = start[nz + 1]
    if total == 0:
        return 0
    seeds = np.empty((total, 3), dtype=np.int64)
    for z in numba.prange(1, nz + 1):
        if marked[z] == 0:
            continue
        i = start[z]
        for y in range(1, ny + 1):
            for x in range(1, nx + 1):
                if mark[z, y, x] != 0 and phase[z, y, x] == ph.PORE and grain[z, y, x] > 0:
                    seeds[i, 0] = z
                    seeds[i, 1] = y
                    seeds[i, 2] = x
                    i += 1
    return _join_closure(phase, grain, dirty, seeds)


@numba.njit(cache=True)
def _join_closure(phase, grain, dirty, seeds):
    """Relabel the ``seeds`` (interior nanopore voxels, as (z, y, x) rows) -1 and flag them,
    then every interior nanopore voxel reached from them through face neighbours that are
    nanopore voxels (depth first, one thread: the voxels relabelled are few). Returns how many
    were relabelled."""
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    stack = np.empty((max(2 * seeds.shape[0], 64), 3), dtype=np.int64)
    top = 0
    count = 0
    for i in range(seeds.shape[0]):
        z, y, x = seeds[i, 0], seeds[i, 1], seeds[i, 2]
        grain[z, y, x] = -1
        dirty[z, y, x] = 1
        count += 1
        stack[top, 0] = z
        stack[top, 1] = y
        stack[top, 2] = x
        top += 1
    while top > 0:
        top -= 1
        z, y, x = stack[top, 0], stack[top, 1], stack[top, 2]
        for f in range(6):
            zz = z + (f == 1) - (f == 0)
            yy = y + (f == 3) - (f == 2)
            xx = x + (f == 5) - (f == 4)
            if not (1 <= zz <= nz and 1 <= yy <= ny and 1 <= xx <= nx):
                continue
            if phase[zz, yy, xx] != ph.PORE or grain[zz, yy, xx] <= 0:
                continue
            grain[zz, yy, xx] = -1
            dirty[zz, yy, xx] = 1
            count += 1
            if top == stack.shape[0]:
                grown = np.empty((2 * top, 3), dtype=np.int64)
                grown[:top] = stack
                stack = grown
            stack[top, 0] = zz
            stack[top, 1] = yy
            stack[top, 2] = xx
            top += 1
    return count


@numba.njit(parallel=True, cache=True)
def movable_overfull_kernel(phase, grain, amount, full_lay, p_fill=1.0, p_pit=0.0):
    """Overfull layered voxels of the interior that have a face neighbour to spill into (a
    pore, or layered oxide of the same grain below full; with ``p_fill`` below 1 also a full
    one, which the excess passes through; likewise with ``p_pit`` > 0): the only changes a
    sweep can make
    when no rock salt can ripen and no source is molten. A halo neighbour outside the global
    lattice counts as a pore, which errs on the side of sweeping."""
    top = full_lay + 1 if (p_fill < 1.0 or p_pit > 0.0) else full_lay
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    count = np.zeros(nz, dtype=np.int64)
    for z in numba.prange(1, nz + 1):
        n = 0
        for y in range(1, ny + 1):
            for x in range(1, nx + 1):
                if phase[z, y, x] != ph.LAYERED or amount[z, y, x] <= full_lay:
                    continue
                for k in range(6):
                    zz = z + (k == 1) - (k == 0)
                    yy = y + (k == 3) - (k == 2)
                    xx = x + (k == 5) - (k == 4)
                    c = phase[zz, yy, xx]
                    if c == ph.PORE or (c == ph.LAYERED and grain[zz, yy, xx] == grain[z, y, x]
                                        and amount[zz, yy, xx] < top):
                        n += 1
                        break
        count[z - 1] = n
    return count.sum()


def anchor_range(state, axis: int) -> tuple[int, int]:
    """Local anchor indices (halo included) of the pairs along ``axis`` this subdomain updates:
    every pair with either end in the interior and both ends inside the global lattice."""
    n = state.shape[axis]
    o = state.offset[axis]
    lo = 0 if o > 0 else 1
    hi = n if o + n < state.global_shape[axis] else n - 1
    return lo, hi


def restructure_kernel(phase, grain, amount, li, disorder, p_rip, p_inf, full, seed, step,
                       oz, oy, ox, gny, gnx, dirty, p_coord=0.0, p_gap=0.0, p_con=0.0,
                       p_fill=1.0, q_site=0.0, p_pit=0.0, c_sink=False):
    """The six sweeps (axis z, y, x; parity 0, 1) on a lone domain, without halo refreshes
    in between, after one coordination snapshot, then the join rule when ``p_gap`` > 0.
    Returns voxels emptied (nanopores + gaps). With ``p_coord`` = ``p_gap`` = 0 (the
    defaults) this is the rule before issue 12; the variant knobs (``p_fill``, ``q_site``,
    ``p_pit``, ``c_sink``) are those of :func:`restructure_sweep_kernel`. (The engine calls
    the sweeps one by one, see :meth:`PairRestructuring.advance`.)"""
    ctc = np.zeros(phase.shape, dtype=np.uint8)
    rows, act, act64 = activity_buffers(phase.shape)
    active_rows_kernel(phase, amount, full, p_con, p_inf, rows, act)
    near = np.zeros_like(rows)
    dilate_rows_kernel(rows, ROW_REACH, near)
    coordination_rows_kernel(phase, grain, ctc, p_con > 0.0, near)
    if p_pit > 0.0:
        far = np.zeros_like(rows)
        dilate_rows_kernel(rows, ROW_REACH + 1, far)
        pore_snapshot(phase, ctc, far, near)
    emptied = 0
    for axis in range(3):
        n = phase.shape[axis] - 2
        for parity in range(2):
            nano, gaps = restructure_sweep_kernel(phase, grain, amount, li, disorder, p_rip,
                                                  p_inf, full, seed, step, oz, oy, ox, gny, gnx,
                                                  axis, parity, 1, n - 1, dirty, ctc, p_coord,
                                                  p_gap, p_con, act, act64, p_fill, q_site,
                                                  p_pit, c_sink)
            emptied += nano + gaps
    if p_gap > 0.0:
        join_kernel(phase, grain, ctc, dirty)  # to its closure (a lone domain)
    return emptied


def coordination_snapshot(state) -> np.ndarray:
    """The uint8 coordination snapshot of ``state`` (shaped like the fields, halo included),
    allocated once and kept on the state; refilled by :meth:`PairRestructuring.advance`."""
    c = getattr(state, "ripening_contacts", None)
    if c is None or c.shape != state.phase.shape:
        c = np.zeros(state.phase.shape, dtype=np.uint8)
        state.ripening_contacts = c
    return c


def _activity(state):
    """The row masks and activity masks (:func:`activity_buffers`, plus two more row masks),
    allocated once and kept on the state."""
    r = getattr(state, "restructure_activity", None)
    if r is None or r[0].shape != state.phase.shape[:2]:
        rows, act, act64 = activity_buffers(state.phase.shape)
        r = (rows, np.zeros_like(rows), act, act64, np.zeros_like(rows))
        state.restructure_activity = r
    return r


class PairRestructuring(Process):
    """Ripening (k_r = A exp(-Ea/RT), scaled with the voxel size), spill of overfull layered
    oxide, melt infiltration."""

    name = "restructure"
    variant = "pairs"

    #: Voxels emptied into intergranular gaps by this process object so far (a diagnostic of
    #: the split; not a time series and not checkpointed).
    gap_voxels_opened = 0

    #: Consolidation runs in batches: its chance per pair and step is tiny (~1e-3 at 850 C), so
    #: k_c dt is accumulated and the sweeps run once the sum reaches this, with the chance
    #: 1 - exp(-sum) per pair. The sum is checkpointed (:meth:`state_dict`).
    CONSOLIDATION_BATCH = 0.02

    def __init__(self, params: dict, numerics: dict, seed: int):
        super().__init__(params, numerics, seed)
        #: k_c dt accumulated since the last consolidation sweep.
        self.consolidation_tau = 0.0

    def state_dict(self) -> dict:
        """The consolidation accumulator, for checkpoints."""
        return {"consolidation_tau": float(self.consolidation_tau)}

    def load_state_dict(self, d: dict) -> None:
        """Restore what :meth:`state_dict` saved."""
        self.consolidation_tau = float(d["consolidation_tau"])

    def _other_work(self, state, temperature_c) -> bool:
        """Whether ripening, spill or infiltration can change anything: rock salt that can
        ripen, molten source, or overfull layered oxide with a face neighbour it can spill into
        (overfull voxels walled in by full ones stay as they are, and the sweeps would only read
        them)."""
        c = state.census
        molten = temperature_c >= self.params["source_melt_c"] and c.get("lioh", 1) > 0
        if c.get("rocksalt_partial", 1) > 0 or molten:
            return True
        if c.get("layered_overfull", 1) == 0:
            return False
        movable = movable_overfull_kernel(state.phase, state.grain, state.amount,
                                          np.int64(_FULL[ph.LAYERED]),
                                          float(self.params["expansion_fills_nanopores"]),
                                          float(self.params["expansion_fills_pits_first"]))
        if state.comm is not None:
            movable = allreduce_int(state.comm, [movable])[0]
        return movable > 0

    def active(self, state, temperature_c):
        """Whether :meth:`advance` must be called: other work (:meth:`_other_work`), or
        consolidation accumulating above the sintering onset."""
        return self.consolidation_rate(temperature_c) > 0.0 or \
            self._other_work(state, temperature_c)

    def consolidation_rate(self, temperature_c: float,
                           voxel_nm: float = REFERENCE_VOXEL_NM) -> float:
        """Rate (1/s) of consolidation moves per pair of part-filled layered voxels of one
        grain: above ``sinter_onset_c``, the densification MCS rate (with its voxel factor
        (10 nm / voxel_nm) ** ``densification_voxel_exponent``) times its per-MCS probability
        times ``consolidation_rate_factor`` (sub-voxel pores sinter as grain-boundary pores
        do); 0 at or below the onset."""
        pr = self.params
        if temperature_c <= pr["sinter_onset_c"] or pr["consolidation_rate_factor"] <= 0.0:
            return 0.0
        return (arrhenius(pr["densification_a_per_s"], pr["densification_ea_j_per_mol"],
                          temperature_c) * pr["densification_probability"]
                * pr["consolidation_rate_factor"]
                * voxel_rate_factor(voxel_nm, pr["densification_voxel_exponent"]))

    def ripening_rate(self, temperature_c: float, voxel_nm: float) -> float:
        """k_r = A exp(-Ea/RT) (10 nm / voxel_nm) ** ``ripening_voxel_exponent``, 1/s."""
        pr = self.params
        return (arrhenius(pr["ripening_a_per_s"], pr["ripening_ea_j_per_mol"], temperature_c)
                * voxel_rate_factor(voxel_nm, pr["ripening_voxel_exponent"]))

    def advance(self, state, dt_s, temperature_c):
        p_con = 0.0
        k_con = self.consolidation_rate(temperature_c, state.voxel_nm)
        if k_con > 0.0:
            self.consolidation_tau += k_con * dt_s
            if self.consolidation_tau >= self.CONSOLIDATION_BATCH:
                p_con = -math.expm1(-self.consolidation_tau)
                self.consolidation_tau = 0.0
        if p_con == 0.0 and not self._other_work(state, temperature_c):
            return {}
        pr = self.params
        p_rip = event_probability(self.ripening_rate(temperature_c, state.voxel_nm), dt_s)
        p_inf = 0.0
        if temperature_c >= pr["source_melt_c"]:
            p_inf = event_probability(pr["infiltration_rate_per_s"], dt_s)
        p_coord = float(pr["ripening_coordination"])
        p_gap = float(pr["ripening_surface_gaps"])
        p_fill = float(pr["expansion_fills_nanopores"])
        q_site = nucleation_site_share(pr["nanopore_site_spacing_nm"], state.voxel_nm)
        p_pit = float(pr["expansion_fills_pits_first"])
        c_sink = float(pr["consolidation_sinks"]) > 0.0
        ctc = coordination_snapshot(state)
        rows, near, act, act64, far = _activity(state)
        # the voxels that can be in a changing pair, and their rows (halo included)
        active_rows_kernel(state.phase, state.amount, _FULL, p_con, p_inf, rows, act)
        if p_coord > 0.0 or p_gap > 0.0 or q_site > 0.0 or p_pit > 0.0 or c_sink:
            if state.lone:  # the snapshot is read only near active rows (ROW_REACH)
                dilate_rows_kernel(rows, ROW_REACH, near)
                coordination_rows_kernel(state.phase, state.grain, ctc, p_con > 0.0, near)
            else:  # activity beyond the halo is not seen here: the whole snapshot
                coordination_kernel(state.phase, state.grain, ctc, p_con > 0.0)
            state.exchange_field(ctc)  # straddling pairs read the owner's snapshot
            if p_pit > 0.0:  # the pores' counts one row further out, then their bits
                if state.lone:
                    dilate_rows_kernel(rows, ROW_REACH + 1, far)
                    pore_snapshot(state.phase, ctc, far, near)
                else:
                    far.fill(1)
                    pore_snapshot(state.phase, ctc, far, far, state.exchange_field)
        nano = gaps = 0
        dirty = state.dirty_flags()
        for axis in range(3):
            a_lo, a_hi = anchor_range(state, axis)
            for parity in range(2):
                n, g = restructure_sweep_kernel(
                    state.phase, state.grain, state.amount, state.li, state.disorder, p_rip,
                    p_inf, _FULL, self.seed, state.step, *state.offset,
                    *state.global_shape[1:], axis, parity, a_lo, a_hi, dirty, ctc, p_coord,
                    p_gap, p_con, act, act64, p_fill, q_site, p_pit, c_sink)
                nano += n
                gaps += g
                state.exchange_halo()  # the next sweep's straddling pairs read the halo
                if not state.lone:  # the neighbours' pairs may have activated halo voxels
                    halo_rows_kernel(state.phase, state.amount, _FULL, p_con, p_inf, act)
        if state.comm is not None:
            nano, gaps = allreduce_int(state.comm, [nano, gaps])
        if gaps > 0:  # nanopores that now touch a gap join it
            while True:  # to the closure: one call on a lone domain (join_kernel)
                joined = join_kernel(state.phase, state.grain, ctc, dirty)
                state.exchange_field(state.grain)
                if state.comm is not None:
                    joined = allreduce_int(state.comm, [joined])[0]
                if joined == 0 or state.lone:
                    break
        self.gap_voxels_opened += int(gaps)
        return {"nanopore_voxels_opened": int(nano)}

    def lattice_passes(self, tallies):
        # six half-sweeps (three axes, two parities) when it ran: three lattice passes
        return 3 * ("nanopore_voxels_opened" in tallies)

    def describe(self):
        return (f"restructure: ripening Ea {self.params['ripening_ea_j_per_mol'] / 1e3:.0f} kJ/mol "
                f"(x (10 nm/dx)^{self.params['ripening_voxel_exponent']:g}), coordination "
                f"{self.params['ripening_coordination']:g}, surface gaps "
                f"{self.params['ripening_surface_gaps']:g}, expansion fills nanopores "
                f"{self.params['expansion_fills_nanopores']:g}, pits first "
                f"{self.params['expansion_fills_pits_first']:g}, nanopore sites every "
                f"{self.params['nanopore_site_spacing_nm']:g} nm, infiltration {self.params['infiltration_rate_per_s']:g} 1/s above melting")


_FULL = full_amount_table()
