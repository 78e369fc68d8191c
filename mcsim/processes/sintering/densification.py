"""Densification: vacancy annihilation at grain boundaries, with local sinks.

Each MCS, a pore voxel inside the particle whose 26-neighbourhood holds solid voxels of at least
two grains is annihilated with probability p f: it is filled and the same volume is given up by
a sink voxel. The curvature factor f = (1 - w) + w clip((n - 9) / 17, 0, 1), with n the solid
voxels among its 26 neighbours and w = ``densification_curvature_weight``, is the Gibbs-Thomson
drive: the vacancy excess that sends a pore's vacancies into the grain boundary grows with the
curvature of the pore's surface. A pore voxel on a flat wall (n = 9) has none, a one-voxel gap
between two plates (n = 18) about half of an isolated vacancy's (n = 26); pores that have
grown wider than their neighbours stop shrinking (Kingery and Francois 1967), and the
densification rate follows the pore shapes that calcination left rather than a fixed share
of the boundary pores. Where the vacancy goes is decided from the local state
(:mod:`~mcsim.processes.sintering.vacancy_sinks`): it leaves at the nearest outer surface (the
particle shrinks) unless the material between the event and that surface is stiffer than the
material at the event, in which case it may stay inside and condense on the largest nearby
pore (constrained sintering: a void grows). Each event draws a second uniform that decides
this against the inward chance of its cell. The events, ordered by their Philox key, take the
sinks of their target cell in the order of the sinks' keys; an event whose cell has run out of
sinks is dropped (it may be drawn again in a later MCS). The pore takes phase, amount and
disorder of its sink, adds its lithium, and takes the most frequent grain id among its solid
neighbours (ties: the smallest id), decided before any voxel changes; the sink becomes outside
pore (grain 0) or intergranular pore (-1), and nanopores that it opens onto join that pore
(-1). A pore whose solid neighbours all belong to one grain is never annihilated here: an
intragranular nanopore has no grain boundary to send its vacancies to. The event list and the
per-cell counts are global (:func:`~mcsim.processes.sintering.common._allgather`), so the
outcome is the same for any number of threads or ranks.
"""

from __future__ import annotations

import numba
import numpy as np

from mcsim import phases as ph
from mcsim import rng
from mcsim.processes.sintering.common import (_SHIFT11, _TWO_M53, SOLID_MIN, SUB_EVENT,
                                              SUB_EVENT_KEY, SUB_INNER_KEY, SUB_SURFACE_KEY,
                                              _fields, contact_field, contact_refresh_kernel)
from mcsim.processes.sintering import vacancy_sinks as vs

#: Solid voxels among the 26 neighbours of a pore voxel that touches a flat solid wall (the
#: nine of the wall's layer): the curvature factor is 0 there and rises to 1 for an isolated
#: vacancy (26).
FLAT_SOLID = 9

# ---------------------------------------------------------------------------------------------
# events and sinks (kernels)


@numba.njit(inline="always")
def _grain_boundary_choice(phase, grain, z, y, x, ids, counts):
    """For a pore at (z, y, x): 0 if its solid 26-neighbours hold fewer than two grain ids,
    else the most frequent of those ids (ties: the smallest). ``ids`` and ``counts`` are
    scratch arrays of at least 26 entries: the distinct ids are tallied in one pass over the
    box (a handful at most), not by counting every id over the box again."""
    m = 0
    for dz in range(-1, 2):
        for dy in range(-1, 2):
            for dx in range(-1, 2):
                if phase[z + dz, y + dy, x + dx] >= SOLID_MIN:
                    gn = grain[z + dz, y + dy, x + dx]
                    k = 0
                    while k < m and ids[k] != gn:
                        k += 1
                    if k == m:
                        ids[m] = gn
                        counts[m] = 0
                        m += 1
                    counts[k] += 1
    if m < 2:
        return np.int32(0)
    best = ids[0]
    best_n = counts[0]
    for k in range(1, m):
        if counts[k] > best_n or (counts[k] == best_n and ids[k] < best):
            best = ids[k]
            best_n = counts[k]
    return np.int32(best)


@numba.njit(inline="always")
def curvature_factor(phase, z, y, x, weight):
    """(1 - w) + w * clip((n - FLAT_SOLID) / (26 - FLAT_SOLID), 0, 1) for a pore at (z, y, x)
    with n solid voxels among its 26 neighbours, w = ``weight`` (see :data:`FLAT_SOLID`)."""
    n = 0
    for dz in range(-1, 2):
        for dy in range(-1, 2):
            for dx in range(-1, 2):
                if phase[z + dz, y + dy, x + dx] >= SOLID_MIN:
                    n += 1
    f = (n - FLAT_SOLID) / (26.0 - FLAT_SOLID)
    f = min(1.0, max(0.0, f))
    return (1.0 - weight) + weight * f


@numba.njit(parallel=True, cache=True)
def densify_events_kernel(phase, grain, p, curv_w, seed, mcs, oz, oy, ox, gny, gnx, counts,
                          fill, out_idx, out_key, out_grain, out_dir):
    """Grain-boundary pores annihilated in this MCS. With ``fill`` false, count them per row
    into ``counts`` (row (z, y) at ``(z - 1) ny + y - 1``); with ``fill`` true, ``counts``
    holds the rows' offsets (one more entry, the total) and the events are written there
    (global index, ordering key, grain id the pore takes, uniform that picks the vacancy's
    sink); rows without an event are passed over (:func:`_two_pass`).
    A pore is annihilated when its uniform is below ``p`` times its curvature factor
    (:func:`curvature_factor`, weight ``curv_w``)."""
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    for z in numba.prange(1, nz + 1):
        ids = np.empty(27, dtype=grain.dtype)  # scratch of _grain_boundary_choice
        tally = np.empty(27, dtype=np.int64)
        for y in range(1, ny + 1):
            r = (z - 1) * ny + y - 1
            pos = counts[r] if fill else 0
            if fill and counts[r + 1] == pos:
                continue
            n = 0
            rowg = ((oz + z - 1) * gny + (oy + y - 1)) * gnx + ox - 1
            cur = np.int64(-1)
            w0 = w1 = w2 = w3 = np.uint64(0)
            for x in range(1, nx + 1):
                if phase[z, y, x] != ph.PORE or grain[z, y, x] == 0:
                    continue
                gi = rowg + x
                grp = gi >> 2
                if grp != cur:
                    w0, w1, w2, w3 = rng.philox4x64(grp, mcs, SUB_EVENT, 0, seed, rng.STREAM_SINTER)
                    cur = grp
                j = gi & 3
                w = rng.word4(w0, w1, w2, w3, j)
                u = np.float64(w >> _SHIFT11) * _TWO_M53
                if u >= p:
                    continue
                if curv_w > 0.0 and u >= p * curvature_factor(phase, z, y, x, curv_w):
                    continue
                choice = _grain_boundary_choice(phase, grain, z, y, x, ids, tally)
                if choice == 0:
                    continue
                if fill:
                    k0, k1, _, _ = rng.philox4x64(gi, mcs, SUB_EVENT_KEY, 0, seed,
                                                  rng.STREAM_SINTER)
                    out_idx[pos + n] = gi
                    out_key[pos + n] = k0
                    out_grain[pos + n] = choice
                    out_dir[pos + n] = np.float64(k1 >> _SHIFT11) * _TWO_M53
                n += 1
            if not fill:
                counts[r] = n


# ---------------------------------------------------------------------------------------------
# event and sink lists


def _two_pass(kernel, state, args, extra_out):
    """Run a counting kernel (one count per row), then its filling pass, which visits only
    the rows that hold an entry; returns the output arrays, in the order of the rows."""
    nz, ny = state.shape[:2]
    counts = np.zeros(nz * ny + 1, dtype=np.int64)
    empty = [np.zeros(0, dtype=dt) for dt in extra_out]
    kernel(*args, counts, False, *empty)
    offsets = np.zeros(nz * ny + 1, dtype=np.int64)
    np.cumsum(counts[:-1], out=offsets[1:])
    total = int(offsets[-1])
    outs = [np.zeros(total, dtype=dt) for dt in extra_out]
    if total:
        kernel(*args, offsets, True, *outs)
    return outs


def _local(state, idx):
    """Local (z, y, x) of global indices and the mask of those in this subdomain's interior."""
    gny, gnx = state.global_shape[1:]
    gz, rem = np.divmod(idx, gny * gnx)
    gy, gx = np.divmod(rem, gnx)
    loc = [g - o + 1 for g, o in zip((gz, gy, gx), state.offset)]
    mask = np.ones(idx.shape, dtype=bool)
    for c, n in zip(loc, state.shape):
        mask &= (c >= 1) & (c <= n)
    return loc, mask


def _key_order(key, idx):
    """Order by key, ties by global index (both unique-enough; the result is global)."""
    return np.lexsort((idx, key))


# ---------------------------------------------------------------------------------------------
# the MCS driver (a generator yielding exchange / allgather requests)


def _open_nanopores(state, idx):
    """Nanopores (pore voxels tagged with a grain id) that share a face with the voxels of
    global index ``idx``, which just became pore, join that pore: tag -1. Interior voxels
    only; every rank does it for its own part of the global list."""
    if idx.size == 0:
        return
    gny, gnx = state.global_shape[1:]
    dirty = state.dirty_flags()
    gz, rem = np.divmod(idx, gny * gnx)
    gy, gx = np.divmod(rem, gnx)
    for dz, dy, dx in ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)):
        loc = [g + d - o + 1 for g, d, o in zip((gz, gy, gx), (dz, dy, dx), state.offset)]
        mine = np.ones(idx.shape, dtype=bool)
        for c, n in zip(loc, state.shape):
            mine &= (c >= 1) & (c <= n)
        z, y, x = (c[mine] for c in loc)
        nano = (state.phase[z, y, x] == ph.PORE) & (state.grain[z, y, x] > 0)
        state.grain[z[nano], y[nano], x[nano]] = -1
        # flagged: the faces between the pore and the solids of its old grain change class
        dirty[z[nano], y[nano], x[nano]] = 1


def densification_mcs(state, p, seed, mcs, contacts=True, constraint_per_nm=0.0,
                      curvature_weight=0.0):
    """One densification MCS (see the module docstring); returns the annihilated vacancies
    and how many of them stayed inside the particle (went to an inner pore). Each event's
    vacancy stays inside with the chance :func:`~mcsim.processes.sintering.vacancy_sinks.
    inward_chance` of its cell's constraint, else it leaves at the nearest outer surface.
    With ``contacts``, s is recounted around every changed voxel."""
    off = (*state.offset, *state.global_shape[1:])
    ev_idx, ev_key, ev_grain, ev_dir = _two_pass(
        densify_events_kernel, state,
        (state.phase, state.grain, float(p), float(curvature_weight), np.uint64(seed),
         np.uint64(mcs), *off),
        (np.int64, np.uint64, np.int32, np.float64))
    parts = yield ("allgather", (ev_idx, ev_key, ev_grain, ev_dir))
    ev_idx, ev_key, ev_grain, ev_dir = (np.concatenate([a[i] for a in parts]) for i in range(4))
    if ev_idx.size == 0:
        return 0, 0
    order = _key_order(ev_key, ev_idx)
    ev_idx, ev_grain, ev_dir = ev_idx[order], ev_grain[order], ev_dir[order]

    # the coarse stiffness map and each event's sink cell
    edge = vs.cell_edge(state.voxel_nm)
    parts = yield ("allgather", (vs.local_cell_counts(state, edge),))
    smap = vs.SinkMap(sum(a[0] for a in parts), edge, state.voxel_nm)
    ncell = int(np.prod(smap.shape))
    ev_cell = smap.cell_of(ev_idx, state.global_shape)
    inward = ev_dir < vs.inward_chance(smap.constraint_nm(ev_cell), constraint_per_nm)
    inner_cell = smap.inward_target.ravel()[ev_cell]
    inward &= inner_cell >= 0  # no inner sink within reach: the vacancy leaves
    outer_cell = (smap.nearest_outer.ravel()[ev_cell] if smap.nearest_outer is not None
                  else np.full(ev_cell.shape, -1, dtype=np.int64))
    ev_group = np.where(inward, ncell + inner_cell, outer_cell)
    ev_group[(~inward) & (outer_cell < 0)] = -1
    want = np.bincount(ev_group[ev_group >= 0], minlength=2 * ncell).reshape(2, ncell)

    # the sinks of the wanted cells: this rank's first ones per cell, then the global first
    sk_idx, sk_key, sk_group = _two_pass(
        vs.cell_sink_kernel, state,
        (state.phase, state.grain, np.uint64(seed), np.uint64(mcs), np.uint64(SUB_SURFACE_KEY),
         np.uint64(SUB_INNER_KEY), *off, edge, smap.shape[1], smap.shape[2], want),
        (np.int64, np.uint64, np.int64))
    mine = vs.first_per_group(sk_group, sk_key, sk_idx, want.ravel())
    sk_idx, sk_key, sk_group = sk_idx[mine], sk_key[mine], sk_group[mine]
    (sz, sy, sx), _ = _local(state, sk_idx)
    parts = yield ("allgather", (sk_idx, sk_key, sk_group, state.phase[sz, sy, sx],
                                 state.amount[sz, sy, sx], state.li[sz, sy, sx],
                                 state.disorder[sz, sy, sx]))
    cols = [np.concatenate([a[i] for a in parts]) for i in range(7)]
    keep = vs.first_per_group(cols[2], cols[1], cols[0], want.ravel())
    sf_idx, _, sf_group, sf_phase, sf_amount, sf_li, sf_dis = (c[keep] for c in cols)
    pos = vs.assign(ev_group, sf_group)
    done = pos >= 0
    e_idx, e_grain, pos = ev_idx[done], ev_grain[done], pos[done]
    sf_idx, sf_phase, sf_amount, sf_li, sf_dis = (a[pos] for a in (sf_idx, sf_phase, sf_amount,
                                                                   sf_li, sf_dis))
    label = np.where(sf_group[pos] >= ncell, -1, 0).astype(state.grain.dtype)

    dirty = state.dirty_flags()
    (ez, ey, ex), mine = _local(state, e_idx)
    ez, ey, ex = ez[mine], ey[mine], ex[mine]
    state.phase[ez, ey, ex] = sf_phase[mine]
    state.amount[ez, ey, ex] = sf_amount[mine]
    state.li[ez, ey, ex] += sf_li[mine]
    state.disorder[ez, ey, ex] = sf_dis[mine]
    state.grain[ez, ey, ex] = e_grain[mine]
    dirty[ez, ey, ex] = 1
    (qz, qy, qx), mine = _local(state, sf_idx)
    qz, qy, qx = qz[mine], qy[mine], qx[mine]
    for arr in (state.phase, state.amount, state.li, state.disorder):
        arr[qz, qy, qx] = 0
    state.grain[qz, qy, qx] = label[mine]
    dirty[qz, qy, qx] = 1
    _open_nanopores(state, sf_idx)
    yield ("exchange", _fields(state))
    if contacts and e_idx.size:
        s = contact_field(state)
        (az, ay, ax), _ = _local(state, np.concatenate([e_idx, sf_idx]))
        contact_refresh_kernel(state.phase, s, az.astype(np.int64), ay.astype(np.int64),
                               ax.astype(np.int64))
        yield ("exchange", (s,))
    return int(e_idx.size), int(np.count_nonzero(label != 0))
