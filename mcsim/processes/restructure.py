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
rank the anchors are exactly today's, so results are unchanged. Pair rules:

ripening
    Two rock-salt voxels of the same grain, either below full: with probability
    1 - exp(-k_r dt), TM moves from the emptier to the fuller until one is full or the other
    empty. An emptied voxel becomes pore but keeps its grain id: an intragranular nanopore. The
    ~52 % of a grain's volume that dehydration frees (docs/model.md) so gathers into
    resolved pores inside the grain, whose outline does not change.
spill
    A layered voxel holding more TM than fits (rock salt that ripened, then lithiated: layered
    needs 1.86 x the volume of rock salt) pushes the excess into a pore neighbour (which becomes
    layered of the same grain) or into a partly filled layered neighbour of its grain.
infiltration
    Above the source's melting point, a LiOH voxel gives half its lithium to a pore neighbour
    inside the particle with probability 1 - exp(-k_i dt): the melt wets and fills the open
    pores and carries lithium towards the core.
"""

from __future__ import annotations

import numba
import numpy as np

from mcsim import phases as ph
from mcsim import rng
from mcsim.processes.base import Process, arrhenius, event_probability
from mcsim.parallel import allreduce_int
from mcsim.state import full_amount_table


@numba.njit(inline="always")
def _move(phase, grain, amount, li, disorder, dirty, sz, sy, sx, dz, dy, dx, u0, u1, p_rip,
          p_inf, full_rs, full_lay):
    """Pair rules with voxel s = (sz, sy, sx) as the candidate donor and d as the receiver.

    Returns 1 if a rock-salt voxel was emptied into a nanopore, 0 otherwise, -1 if the pair
    was not handled (so the caller may try the pair the other way round).
    """
    cs = phase[sz, sy, sx]
    cd = phase[dz, dy, dx]
    a_s = np.int64(amount[sz, sy, sx])
    if cs == ph.ROCKSALT and cd == ph.ROCKSALT:
        if grain[sz, sy, sx] != grain[dz, dy, dx] or u0 >= p_rip:
            return 0
        a_d = np.int64(amount[dz, dy, dx])
        # the emptier voxel gives; a tie is broken by the pair's second random number
        if a_s > a_d or (a_s == a_d and u1 < 0.5) or a_d >= full_rs:
            return -1
        t = min(a_s, full_rs - a_d)
        amount[dz, dy, dx] = a_d + t
        amount[sz, sy, sx] = a_s - t
        if a_s - t == 0:
            phase[sz, sy, sx] = ph.PORE  # grain id kept: an intragranular pore
            dirty[sz, sy, sx] = 1
            li[dz, dy, dx] += li[sz, sy, sx]
            li[sz, sy, sx] = 0.0
            return 1
        return 0
    if cs == ph.LAYERED and a_s > full_lay:
        if cd == ph.PORE:
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
def _candidate(ci, cj, ai, aj, p_inf, full_rs, full_lay):
    """Whether a pair can change at all (cheap test before any random number is drawn)."""
    if ci == ph.ROCKSALT and cj == ph.ROCKSALT:
        return ai < full_rs or aj < full_rs
    if (ci == ph.LAYERED and ai > full_lay) or (cj == ph.LAYERED and aj > full_lay):
        return True
    if p_inf > 0.0:
        return (ci == ph.LIOH and cj == ph.PORE) or (cj == ph.LIOH and ci == ph.PORE)
    return False


@numba.njit(parallel=True, cache=True)
def restructure_sweep_kernel(phase, grain, amount, li, disorder, p_rip, p_inf, full, seed, step,
                             oz, oy, ox, gny, gnx, axis, parity, a_lo, a_hi, dirty):
    """One conflict-free pair sweep along ``axis`` (0 z, 1 y, 2 x) pairing voxels of global
    coordinate parity ``parity`` with their upper neighbour. Returns the voxels emptied.

    ``a_lo`` and ``a_hi`` bound the local index (halo included: 0 is the lower halo layer) of
    the pair's lower voxel along ``axis``; the other two axes run over the interior. Only
    pairs whose anchor is in the interior (index >= 1) count towards the return value.
    Infiltration only fills pores inside the particle (grain id != 0, see
    :meth:`mcsim.state.State.from_microstructure`).
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
    emptied = np.zeros(nz + 2, dtype=np.int64)
    for z in numba.prange(z0, z1 + 1):
        gz = oz + z - 1
        if dz == 1 and gz % 2 != parity:
            continue
        for y in range(y0, y1 + 1):
            gy = oy + y - 1
            if dy == 1 and gy % 2 != parity:
                continue
            row = (gz * gny + gy) * gnx + ox - 1
            for x in range(x0, x1 + 1):
                if dx == 1 and (ox + x - 1) % 2 != parity:
                    continue
                ci = phase[z, y, x]
                cj = phase[z + dz, y + dy, x + dx]
                if not _candidate(ci, cj, amount[z, y, x], amount[z + dz, y + dy, x + dx],
                                  p_inf, full_rs, full_lay):
                    continue
                u0, u1, u2, u3 = rng.uniform_sub(seed, rng.STREAM_RESTRUCTURE, row + x, step, sub)
                r = _move(phase, grain, amount, li, disorder, dirty, z, y, x, z + dz, y + dy,
                          x + dx, u0, u1, p_rip, p_inf, full_rs, full_lay)
                if r < 0:
                    r = _move(phase, grain, amount, li, disorder, dirty, z + dz, y + dy, x + dx,
                              z, y, x, u0, u1, p_rip, p_inf, full_rs, full_lay)
                if r > 0 and z * dz + y * dy + x * dx >= 1:
                    emptied[z] += r
    return emptied.sum()


@numba.njit(parallel=True, cache=True)
def movable_overfull_kernel(phase, grain, amount, full_lay):
    """Overfull layered voxels of the interior that have a face neighbour to spill into (a
    pore, or layered oxide of the same grain below full): the only changes a sweep can make
    when no rock salt can ripen and no source is molten. A halo neighbour outside the global
    lattice counts as a pore, which errs on the side of sweeping."""
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
                                        and amount[zz, yy, xx] < full_lay):
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
                       oz, oy, ox, gny, gnx, dirty):
    """The six sweeps (axis z, y, x; parity 0, 1) on a lone domain, without halo refreshes
    in between. Returns voxels emptied. (The engine calls the sweeps one by one, see
    :meth:`PairRestructuring.advance`.)"""
    emptied = 0
    for axis in range(3):
        n = phase.shape[axis] - 2
        for parity in range(2):
            emptied += restructure_sweep_kernel(phase, grain, amount, li, disorder, p_rip, p_inf,
                                                full, seed, step, oz, oy, ox, gny, gnx, axis,
                                                parity, 1, n - 1, dirty)
    return emptied


class PairRestructuring(Process):
    """Ripening (k_r = A exp(-Ea/RT)), spill of overfull layered oxide, melt infiltration."""

    name = "restructure"
    variant = "pairs"

    def active(self, state, temperature_c):
        """Whether a sweep can change anything: rock salt that can ripen, molten source, or
        overfull layered oxide with a face neighbour it can spill into (overfull voxels
        walled in by full ones stay as they are, and the sweeps would only read them)."""
        c = state.census
        molten = temperature_c >= self.params["source_melt_c"] and c.get("lioh", 1) > 0
        if c.get("rocksalt_partial", 1) > 0 or molten:
            return True
        if c.get("layered_overfull", 1) == 0:
            return False
        movable = movable_overfull_kernel(state.phase, state.grain, state.amount,
                                          np.int64(_FULL[ph.LAYERED]))
        if state.comm is not None:
            movable = allreduce_int(state.comm, [movable])[0]
        return movable > 0

    def advance(self, state, dt_s, temperature_c):
        if not self.active(state, temperature_c):
            return {}
        p_rip = event_probability(arrhenius(self.params["ripening_a_per_s"],
                                            self.params["ripening_ea_j_per_mol"], temperature_c),
                                  dt_s)
        p_inf = 0.0
        if temperature_c >= self.params["source_melt_c"]:
            p_inf = event_probability(self.params["infiltration_rate_per_s"], dt_s)
        emptied = 0
        dirty = state.dirty_flags()
        for axis in range(3):
            a_lo, a_hi = anchor_range(state, axis)
            for parity in range(2):
                emptied += restructure_sweep_kernel(
                    state.phase, state.grain, state.amount, state.li, state.disorder, p_rip,
                    p_inf, _FULL, self.seed, state.step, *state.offset,
                    *state.global_shape[1:], axis, parity, a_lo, a_hi, dirty)
                state.exchange_halo()  # the next sweep's straddling pairs read the halo
        if state.comm is not None:
            emptied = allreduce_int(state.comm, [emptied])[0]
        return {"nanopore_voxels_opened": int(emptied)}

    def lattice_passes(self, tallies):
        # six half-sweeps (three axes, two parities) when it ran: three lattice passes
        return 3 * ("nanopore_voxels_opened" in tallies)

    def describe(self):
        return (f"restructure: ripening Ea {self.params['ripening_ea_j_per_mol'] / 1e3:.0f} kJ/mol, "
                f"infiltration {self.params['infiltration_rate_per_s']:g} 1/s above melting")


_FULL = full_amount_table()
