"""Where an annihilated vacancy goes: constrained densification from the local state.

A vacancy annihilated at a grain boundary moves the two grains' centres together. In a free
body the material between the boundary and the particle's outer surface follows, so the
vacancy leaves at the outer surface and the particle shrinks (densification). It can only
follow if it is free to move: a soft, loosely bonded region that densifies inside a stiffer,
better bonded one cannot drag the stiff region along. The vacancy then stays inside the
particle and condenses on the largest nearby pore (the pore with the smallest curvature, which
grows at the expense of the small ones), and a void opens where densification was frustrated.
This is constrained (differential) sintering: a region that densifies faster than its
surroundings, or a region surrounded by a stiffer one, opens voids rather than shrinking.

The model reads stiffness from the lattice as it is, coarse-grained on cells of
:data:`CELL_NM` (the thickness of a primary grain) aligned with the global grid:

bond fraction b
    solid-solid face contacts per solid voxel over 3, summed over the 3 x 3 x 3 cells around
    the cell (1 for a solid block, lower where nanopores, gaps between shrunken grains or a
    loose packing cut the contacts). A
    shell that lithiated topotactically keeps its grains' shape and contacts; a core that
    dehydrated shrank and holds nanopores, so its b is low. History enters only through the
    microstructure it left; no diagnostic is remembered.
constraint C of an event at cell c
    along the straight line from c to the nearest cell holding outer-surface sinks (solid voxels
    with a face on the outside pore), the length over which the material is stiffer than at c,
    weighted by how much: C = sum over the line of max(0, b(x) - b(c)) dl, in nm.
inward chance
    1 - exp(-k C), k = ``vacancy_constraint_per_nm``: 1 / k is the length of fully stiffer
    material a densifying region can still pull along, of the order of a grain thickness
    (estimated, not fitted). k = 0 switches the constraint off and sends every vacancy to the
    outer surface.

Sinks are local too. An outward vacancy takes a sink voxel in the nearest cell that holds outer
sinks (the surface recedes next to where densification happened); an inward one takes a sink
voxel (a solid voxel with a face on an intergranular pore) in the cell with the largest pore
fraction within :data:`INWARD_REACH_CELLS` cells (Chebyshev) of the event's cell, ties to the
smallest cell index. Within a cell, sinks are taken in the order of their Philox keys.

Everything here is computed from integer per-cell counts summed over ranks and from the global
list of events, so every rank takes the same decisions: the result does not depend on the
number of ranks or threads.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from scipy import ndimage  # the Euclidean distance transform with nearest-feature indices

from mcsim import phases as ph
from mcsim import rng
from mcsim.processes.sintering.common import SOLID_MIN

#: Edge of a coarse cell in nm: about one primary grain's thickness (40 nm by default), so a
#: cell's bond fraction measures the packing of a few grains, not of one voxel.
CELL_NM = 40.0

#: How far (in cells, Chebyshev) an inward vacancy may go to condense on a pore.
INWARD_REACH_CELLS = 2

#: Per-cell counts (rows of the array :func:`cell_counts_kernel` fills).
N_SOLID, N_BOND, N_INNER_PORE, N_VOXELS, N_OUTER_SINK, N_INNER_SINK = range(6)
N_COUNTS = 6


def cell_edge(voxel_nm: float) -> int:
    """Edge of a coarse cell in voxels: CELL_NM / voxel_nm rounded, at least 1."""
    return max(1, int(round(CELL_NM / voxel_nm)))


def cell_grid(global_shape, edge: int) -> tuple[int, int, int]:
    """Number of cells along each axis of the global grid."""
    return tuple(-(-n // edge) for n in global_shape)


@numba.njit(inline="always")
def _sink_kind(phase, grain, z, y, x):
    """0 for an outer sink (a solid with a face on the outside: a pore or a lithium-source voxel
    of grain 0), 1 for an inner sink (a face on a pore of grain -1, none on the outside), -1
    otherwise; the caller checks that (z, y, x) is solid. Source voxels count as outside
    because used-up ones keep their phase (at amount 0): a particle under a closed layer of
    spent source still has its outer surface."""
    outer = False
    inner = False
    for k in range(6):
        zz = z + (k == 1) - (k == 0)
        yy = y + (k == 3) - (k == 2)
        xx = x + (k == 5) - (k == 4)
        c = phase[zz, yy, xx]
        if c < SOLID_MIN:
            gn = grain[zz, yy, xx]
            outer |= gn == 0
            inner |= gn == -1 and c == ph.PORE
    return 0 if outer else (1 if inner else -1)


@numba.njit(parallel=True, cache=True)
def cell_counts_kernel(phase, grain, oz, oy, ox, edge, ncy, ncx, c_lo, c_hi, out):
    """Add this subdomain's counts to ``out[k, cz - c_lo, cy, cx]`` for the cells it touches
    (global cell z index c_lo..c_hi). Counted per interior voxel: solid; solid-solid face
    contacts towards +z, +y, +x (the upper neighbour may be in the halo: a contact is counted
    by the owner of its lower voxel); pore inside the particle (grain != 0); every voxel; outer
    sink (solid with a face on the outside, :func:`_sink_kind`); inner sink (solid with a face
    on a pore of grain -1, and not an outer sink). One thread per cell slab: no two threads
    write one cell."""
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    for czr in numba.prange(c_hi - c_lo + 1):
        cz = c_lo + czr
        z0 = max(1, cz * edge - oz + 1)
        z1 = min(nz, (cz + 1) * edge - oz)
        for z in range(z0, z1 + 1):
            for y in range(1, ny + 1):
                cy = (oy + y - 1) // edge
                for x in range(1, nx + 1):
                    cx = (ox + x - 1) // edge
                    out[N_VOXELS, czr, cy, cx] += 1
                    c = phase[z, y, x]
                    if c < SOLID_MIN:
                        if c == ph.PORE and grain[z, y, x] != 0:
                            out[N_INNER_PORE, czr, cy, cx] += 1
                        continue
                    out[N_SOLID, czr, cy, cx] += 1
                    out[N_BOND, czr, cy, cx] += ((phase[z + 1, y, x] >= SOLID_MIN)
                                                 + (phase[z, y + 1, x] >= SOLID_MIN)
                                                 + (phase[z, y, x + 1] >= SOLID_MIN))
                    kind = _sink_kind(phase, grain, z, y, x)
                    if kind == 0:
                        out[N_OUTER_SINK, czr, cy, cx] += 1
                    elif kind == 1:
                        out[N_INNER_SINK, czr, cy, cx] += 1


def local_cell_counts(state, edge: int):
    """This subdomain's per-cell counts over the global cell grid (int64, shape (6, *cells));
    the sum over ranks is the global count."""
    ncz, ncy, ncx = cell_grid(state.global_shape, edge)
    oz, oy, ox = state.offset
    nz = state.shape[0]
    c_lo, c_hi = oz // edge, (oz + nz - 1) // edge
    part = np.zeros((N_COUNTS, c_hi - c_lo + 1, ncy, ncx), dtype=np.int64)
    cell_counts_kernel(state.phase, state.grain, oz, oy, ox, edge, ncy, ncx, c_lo, c_hi, part)
    out = np.zeros((N_COUNTS, ncz, ncy, ncx), dtype=np.int64)
    out[:, c_lo:c_hi + 1] = part
    return out


class SinkMap:
    """The coarse fields of one densification MCS, built from the global per-cell counts:
    bond fraction, pore fraction, nearest outer-sink cell, inward target cell."""

    def __init__(self, counts: np.ndarray, edge: int, voxel_nm: float):
        self.edge = edge
        self.cell_nm = edge * voxel_nm
        self.shape = counts.shape[1:]
        # stiffness is a property of a volume of several grains: bond and solid counts are
        # summed over the 3 x 3 x 3 cells around each cell before their ratio is taken (an
        # event sits in a pore, so its own cell is always among the loosest: without this
        # the noise of the packing alone would read as a constraint)
        solid = ndimage.uniform_filter(counts[N_SOLID].astype(np.float64), 3, mode="constant")
        bond = ndimage.uniform_filter(counts[N_BOND].astype(np.float64), 3, mode="constant")
        with np.errstate(invalid="ignore", divide="ignore"):
            self.bond = np.where(solid > 0, bond / (3.0 * np.maximum(solid, 1e-300)), 0.0)
            self.pore = np.where(counts[N_VOXELS] > 0,
                                 counts[N_INNER_PORE] / np.maximum(counts[N_VOXELS], 1), 0.0)
        self.has_outer = counts[N_OUTER_SINK] > 0
        self.has_inner = counts[N_INNER_SINK] > 0
        if self.has_outer.any():
            _, idx = ndimage.distance_transform_edt(~self.has_outer, return_indices=True)
            self.nearest_outer = np.ravel_multi_index(tuple(idx), self.shape)
        else:
            self.nearest_outer = None
        self.inward_target = _inward_targets(self.pore, self.has_inner, INWARD_REACH_CELLS)

    def cell_of(self, gidx: np.ndarray, global_shape) -> np.ndarray:
        """Flat cell index of global voxel indices."""
        gny, gnx = global_shape[1:]
        gz, rem = np.divmod(gidx, gny * gnx)
        gy, gx = np.divmod(rem, gnx)
        e = self.edge
        return np.ravel_multi_index((gz // e, gy // e, gx // e), self.shape)

    def constraint_nm(self, cells: np.ndarray) -> np.ndarray:
        """C of events in the flat ``cells`` (0 where no outer sink exists)."""
        if self.nearest_outer is None:
            return np.zeros(cells.shape)
        return _constraint_kernel(self.bond, cells.astype(np.int64),
                                  self.nearest_outer.ravel()[cells].astype(np.int64),
                                  float(self.cell_nm))


@numba.njit(cache=True)
def _constraint_kernel(bond, cells, targets, cell_nm):
    """Sum of max(0, b(x) - b(start)) dl along the straight line between the centres of each
    start cell and its target, sampled every quarter cell (nm)."""
    ncz, ncy, ncx = bond.shape
    out = np.zeros(cells.shape[0])
    for i in range(cells.shape[0]):
        c = cells[i]
        t = targets[i]
        z0, y0, x0 = c // (ncy * ncx), (c // ncx) % ncy, c % ncx
        z1, y1, x1 = t // (ncy * ncx), (t // ncx) % ncy, t % ncx
        b0 = bond[z0, y0, x0]
        d = math.sqrt((z1 - z0) ** 2 + (y1 - y0) ** 2 + (x1 - x0) ** 2)
        n = int(math.ceil(4.0 * d))
        if n == 0:
            continue
        acc = 0.0
        for k in range(1, n + 1):
            f = k / n
            zz = int(math.floor(z0 + f * (z1 - z0) + 0.5))
            yy = int(math.floor(y0 + f * (y1 - y0) + 0.5))
            xx = int(math.floor(x0 + f * (x1 - x0) + 0.5))
            db = bond[zz, yy, xx] - b0
            if db > 0.0:
                acc += db
        out[i] = acc * (d / n) * cell_nm
    return out


@numba.njit(inline="always")
def _window_best(val, idx, lo, hi):
    """(value, index) of the largest ``val[k]`` for k in [lo, hi], ties to the first: the
    candidates are taken in order and replace the best only when strictly larger."""
    best_v = -1.0
    best_i = np.int64(-1)
    for k in range(lo, hi + 1):
        if val[k] > best_v:
            best_v = val[k]
            best_i = idx[k]
    return best_v, best_i


@numba.njit(cache=True)
def _inward_targets_kernel(pore, has_inner, reach, out):
    """The largest pore fraction among the cells with inner sinks in the (2 reach + 1)^3 box
    around every cell, ties to the smallest flat index, as three one-dimensional passes (x,
    then y, then z): the order "larger value, then smaller index" is total and the flat index
    orders (z, y, x) lexicographically, so the best of the box is the best of the best of its
    rows, which are the best of their runs along x (the same cell as a scan of the box)."""
    ncz, ncy, ncx = pore.shape
    n_max = max(ncz, ncy, ncx)
    val = np.empty(n_max)
    idx = np.empty(n_max, dtype=np.int64)
    bv = np.empty(pore.shape)  # the best (value, index) so far of every cell's box
    bi = np.empty(pore.shape, dtype=np.int64)
    for z in range(ncz):  # along x: cells without inner sinks never win (value -1)
        for y in range(ncy):
            for x in range(ncx):
                val[x] = pore[z, y, x] if has_inner[z, y, x] else -1.0
                idx[x] = (z * ncy + y) * ncx + x
            for x in range(ncx):
                bv[z, y, x], bi[z, y, x] = _window_best(val, idx, max(0, x - reach),
                                                         min(ncx - 1, x + reach))
    _best_along_middle_axis(bv, bi, reach, val, idx)  # along y
    _best_along_middle_axis(bv.transpose(1, 0, 2), bi.transpose(1, 0, 2), reach, val, idx)
    out[...] = bi  # along z, done


@numba.njit(inline="always")
def _best_along_middle_axis(bv, bi, reach, val, idx):
    """Replace every entry's (value, index) by the best within ``reach`` along axis 1."""
    n0, n1, n2 = bv.shape
    for a in range(n0):
        for c in range(n2):
            for k in range(n1):
                val[k] = bv[a, k, c]
                idx[k] = bi[a, k, c]
            for k in range(n1):
                bv[a, k, c], bi[a, k, c] = _window_best(val, idx, max(0, k - reach),
                                                         min(n1 - 1, k + reach))


@numba.njit(cache=True)
def _inward_targets_scan(pore, has_inner, reach, out):
    """:func:`_inward_targets_kernel` as a scan of every cell's box (the reference)."""
    ncz, ncy, ncx = pore.shape
    for z in range(ncz):
        for y in range(ncy):
            for x in range(ncx):
                best = -1
                best_f = -1.0
                for zz in range(max(0, z - reach), min(ncz, z + reach + 1)):
                    for yy in range(max(0, y - reach), min(ncy, y + reach + 1)):
                        for xx in range(max(0, x - reach), min(ncx, x + reach + 1)):
                            if not has_inner[zz, yy, xx]:
                                continue
                            f = pore[zz, yy, xx]
                            if f > best_f:  # scanned in index order: ties keep the smallest
                                best_f = f
                                best = (zz * ncy + yy) * ncx + xx
                out[z, y, x] = best


def _inward_targets(pore, has_inner, reach):
    """Per cell: the flat index of the cell with the largest pore fraction among those within
    ``reach`` (Chebyshev) that hold inner sinks; -1 if none."""
    out = np.full(pore.shape, -1, dtype=np.int64)
    _inward_targets_kernel(pore, has_inner, reach, out)
    return out


def inward_chance(constraint_nm: np.ndarray, per_nm: float) -> np.ndarray:
    """1 - exp(-k C); 0 everywhere when k = 0 (the constraint switched off)."""
    return -np.expm1(-float(per_nm) * constraint_nm)


@numba.njit(parallel=True, cache=True)
def cell_sink_kernel(phase, grain, seed, mcs, sub_outer, sub_inner, oz, oy, ox, gny, gnx, edge,
                     ncy, ncx, want, counts, fill, out_idx, out_key, out_cell):
    """Sink voxels in the cells that events target: an outer sink (kind 0) in a cell with
    ``want[0, cell]`` > 0, an inner sink (kind 1, not an outer one) in a cell with
    ``want[1, cell]`` > 0. Two passes as the event kernel (count per row, then fill at the
    rows' offsets, passing over rows without a sink): global index, Philox ordering key
    (sub-counter ``sub_outer`` or ``sub_inner``, one block per four indices), and
    kind * n_cells + cell."""
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    ncell = want.shape[1]
    for z in numba.prange(1, nz + 1):
        cz = (oz + z - 1) // edge
        for y in range(1, ny + 1):
            r = (z - 1) * ny + y - 1
            pos = counts[r] if fill else 0
            if fill and counts[r + 1] == pos:
                continue
            n = 0
            rowg = ((oz + z - 1) * gny + (oy + y - 1)) * gnx + ox - 1
            cy = (oy + y - 1) // edge
            for x in range(1, nx + 1):
                if phase[z, y, x] < SOLID_MIN:
                    continue
                cell = (cz * ncy + cy) * ncx + (ox + x - 1) // edge
                if want[0, cell] == 0 and want[1, cell] == 0:
                    continue
                kind = _sink_kind(phase, grain, z, y, x)
                if kind < 0 or want[kind, cell] == 0:
                    continue
                if fill:
                    gi = rowg + x
                    w0, w1, w2, w3 = rng.philox4x64(gi >> 2, mcs, sub_outer if kind == 0
                                                    else sub_inner, 0, seed, rng.STREAM_SINTER)
                    j = gi & 3
                    out_idx[pos + n] = gi
                    out_key[pos + n] = rng.word4(w0, w1, w2, w3, j)
                    out_cell[pos + n] = kind * ncell + cell
                n += 1
            if not fill:
                counts[r] = n


def first_per_group(group: np.ndarray, key: np.ndarray, idx: np.ndarray,
                    want: np.ndarray) -> np.ndarray:
    """Positions of the first ``want[g]`` entries of every group g by (key, index), ordered by
    group, then key, then index."""
    if group.size == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((idx, key, group))
    g = group[order]
    start = np.searchsorted(g, g, side="left")
    rank = np.arange(g.size) - start
    return order[rank < want[g]]


def assign(ev_group: np.ndarray, sink_group: np.ndarray) -> np.ndarray:
    """For events (in their processing order) wanting a sink of group ``ev_group`` and sinks
    ordered by group then key (:func:`first_per_group`), the position of each event's sink in
    the sink list, or -1 where its group ran out (the i-th event of a group takes the group's
    i-th sink)."""
    out = np.full(ev_group.size, -1, dtype=np.int64)
    if ev_group.size == 0 or sink_group.size == 0:
        return out
    order = np.argsort(ev_group, kind="stable")
    g = ev_group[order]
    nth = np.arange(g.size) - np.searchsorted(g, g, side="left")
    first = np.searchsorted(sink_group, g, side="left")
    last = np.searchsorted(sink_group, g, side="right")
    ok = (g >= 0) & (first + nth < last)
    out[order[ok]] = (first + nth)[ok]
    return out
