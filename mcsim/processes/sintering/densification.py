"""Densification: vacancy annihilation at grain boundaries, and the lithiated shell as a
template that decides where the vacancies go.

Each MCS, a pore voxel inside the particle whose 26-neighbourhood holds solid voxels of at least
two grains is annihilated with probability p: it is filled and the same volume leaves at a
sink. Each event draws a second uniform: below the template rigidity (below) its vacancy goes
to the voids inside the particle, else to the outer surface. Sinks are solid voxels with a
face-neighbour pore of grain 0 (outer surface) or, if not that, of grain -1 (inner voids);
outer sinks are ordered by a Philox key, inner ones innermost first (their key's top bits are
the distance from the centre in whole voxels), and the events of each kind, ordered by their
own key, are paired i-th with i-th; unpaired events are dropped. The pore takes phase, amount
and disorder of its partner, adds its lithium, and takes the most frequent grain id among its
solid neighbours (ties: the smallest id), decided before any voxel changes; the partner
becomes outside pore (grain 0) or intergranular pore (-1), and nanopores that it opens onto
join that pore (-1). A pore whose solid neighbours all belong to one grain is never
annihilated: intragranular nanopores survive. The lists are global
(:func:`~mcsim.processes.sintering.common._allgather`; each rank sends its own first n of each
kind), so the pairing is the same for any number of threads or ranks.

The lithiated shell as a template. In the paper's reading (Park et al. 2022, Fig. 3a-c and
5), lithiation templates the outer perimeter as a rigid, dense shell while the dehydrating
core shrinks; in sintering the shell keeps the outline and the core grains are drawn outwards,
leaving voids near the centre. The process probes the core-shell solid-fraction contrast C
(:func:`core_shell_solid_contrast`) every :data:`TEMPLATE_PROBE_S` of simulated time until
sintering starts, keeps its first value C0 and its largest Cmax, and sends the share
min(1, ``template_inward_per_contrast`` (Cmax - C0)) of the vacancies inwards
(:func:`template_rigidity`; 0 when the parameter is 0). A particle whose shell and core
lithiate together keeps its contrast and shrinks as a whole.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from mcsim import phases as ph
from mcsim import rng
from mcsim.diagnostics import N_RADIAL_BINS, core_shell_contrast, radial_kernel, shell_density
from mcsim.parallel import allreduce_int
from mcsim.processes.sintering.common import (_SHIFT11, _TWO_M53, SOLID_MIN, SUB_EVENT,
                                              SUB_EVENT_KEY, SUB_INNER_KEY, SUB_SURFACE_KEY,
                                              _fields, contact_field, contact_refresh_kernel)
from mcsim.state import full_amount_table

#: Simulated seconds between two probes of the core-shell solid-fraction contrast while the
#: lithiated shell forms (:meth:`~mcsim.processes.sintering.process.PottsSintering.probe_template`).
TEMPLATE_PROBE_S = 60.0


# ---------------------------------------------------------------------------------------------
# events and sinks (kernels)


@numba.njit(inline="always")
def _grain_boundary_choice(phase, grain, z, y, x):
    """For a pore at (z, y, x): 0 if its solid 26-neighbours hold fewer than two grain ids,
    else the most frequent of those ids (ties: the smallest)."""
    first = np.int32(0)
    two = False
    for dz in range(-1, 2):
        for dy in range(-1, 2):
            for dx in range(-1, 2):
                if phase[z + dz, y + dy, x + dx] >= SOLID_MIN:
                    gn = grain[z + dz, y + dy, x + dx]
                    if first == 0:
                        first = gn
                    elif gn != first:
                        two = True
    if not two:
        return np.int32(0)
    best = np.int32(0)
    best_n = 0
    for i in range(27):
        ph_i = phase[z + i // 9 - 1, y + (i // 3) % 3 - 1, x + i % 3 - 1]
        if ph_i < SOLID_MIN:
            continue
        gi = grain[z + i // 9 - 1, y + (i // 3) % 3 - 1, x + i % 3 - 1]
        n = 0
        for j in range(27):
            if phase[z + j // 9 - 1, y + (j // 3) % 3 - 1, x + j % 3 - 1] >= SOLID_MIN \
                    and grain[z + j // 9 - 1, y + (j // 3) % 3 - 1, x + j % 3 - 1] == gi:
                n += 1
        if n > best_n or (n == best_n and gi < best):
            best = gi
            best_n = n
    return best


@numba.njit(parallel=True, cache=True)
def densify_events_kernel(phase, grain, p, seed, mcs, oz, oy, ox, gny, gnx, counts, fill,
                          out_idx, out_key, out_grain, out_dir):
    """Grain-boundary pores annihilated in this MCS. With ``fill`` false, count them per plane
    into ``counts``; with ``fill`` true, write them at the plane offsets ``counts`` (global
    index, ordering key, grain id the pore takes, uniform that picks the vacancy's sink)."""
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    for z in numba.prange(1, nz + 1):
        pos = counts[z - 1] if fill else 0
        n = 0
        for y in range(1, ny + 1):
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
                w = w0 if j == 0 else (w1 if j == 1 else (w2 if j == 2 else w3))
                if np.float64(w >> _SHIFT11) * _TWO_M53 >= p:
                    continue
                choice = _grain_boundary_choice(phase, grain, z, y, x)
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
            counts[z - 1] = n


@numba.njit(parallel=True, cache=True)
def surface_kernel(phase, grain, seed, mcs, oz, oy, ox, gny, gnx, want_outer, want_inner, cz, cy,
                   cx, counts, fill, out_idx, out_key, out_kind):
    """Sink voxels of densification: solid voxels with a face-neighbour pore of grain id 0 (the
    outer surface, kind 0) and, leaving those out so the two kinds never overlap, solid voxels
    with a face-neighbour pore of grain id -1 (the surface of the voids inside the particle,
    kind 1); only the kinds asked for. Two passes as :func:`densify_events_kernel` (global
    index, ordering key, kind). The key is a Philox word (sub-counter SUB_SURFACE_KEY or
    SUB_INNER_KEY, one block per four indices); for the inner surface its top 24 bits are
    replaced by the distance, in whole voxels, from the particle centre (cz, cy, cx), so inner
    voxels order innermost first and randomly within a one-voxel shell."""
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    for z in numba.prange(1, nz + 1):
        pos = counts[z - 1] if fill else 0
        n = 0
        for y in range(1, ny + 1):
            rowg = ((oz + z - 1) * gny + (oy + y - 1)) * gnx + ox - 1
            cur_o = cur_i = np.int64(-1)
            o0 = o1 = o2 = o3 = np.uint64(0)
            i0 = i1 = i2 = i3 = np.uint64(0)
            for x in range(1, nx + 1):
                if phase[z, y, x] < SOLID_MIN:
                    continue
                outer = False
                inner = False
                for k in range(6):
                    zz = z + (k == 1) - (k == 0)
                    yy = y + (k == 3) - (k == 2)
                    xx = x + (k == 5) - (k == 4)
                    if phase[zz, yy, xx] == ph.PORE:
                        gn = grain[zz, yy, xx]
                        outer |= gn == 0
                        inner |= gn == -1
                kind = 0 if outer else (1 if inner else -1)
                if kind < 0 or (kind == 0 and not want_outer) or (kind == 1 and not want_inner):
                    continue
                if fill:
                    gi = rowg + x
                    grp = gi >> 2
                    j = gi & 3
                    if kind == 0:
                        if grp != cur_o:
                            o0, o1, o2, o3 = rng.philox4x64(grp, mcs, SUB_SURFACE_KEY, 0, seed,
                                                            rng.STREAM_SINTER)
                            cur_o = grp
                        w = o0 if j == 0 else (o1 if j == 1 else (o2 if j == 2 else o3))
                    else:
                        if grp != cur_i:
                            i0, i1, i2, i3 = rng.philox4x64(grp, mcs, SUB_INNER_KEY, 0, seed,
                                                            rng.STREAM_SINTER)
                            cur_i = grp
                        w = i0 if j == 0 else (i1 if j == 1 else (i2 if j == 2 else i3))
                        dz = oz + z - 1 - cz
                        dy = oy + y - 1 - cy
                        dx = ox + x - 1 - cx
                        shell = np.uint64(int(math.sqrt(dz * dz + dy * dy + dx * dx)))
                        w = (shell << np.uint64(40)) | (w >> np.uint64(24))
                    out_idx[pos + n] = gi
                    out_key[pos + n] = w
                    out_kind[pos + n] = kind
                n += 1
        if not fill:
            counts[z - 1] = n


# ---------------------------------------------------------------------------------------------
# event and sink lists


def _two_pass(kernel, state, args, extra_out):
    """Run a counting kernel, then its filling pass; returns the output arrays."""
    nz = state.shape[0]
    counts = np.zeros(nz, dtype=np.int64)
    empty = [np.zeros(0, dtype=dt) for dt in extra_out]
    kernel(*args, counts, False, *empty)
    total = int(counts.sum())
    offsets = np.zeros(nz, dtype=np.int64)
    np.cumsum(counts[:-1], out=offsets[1:])
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


def _first_by_key(key, idx, n):
    """Positions of the ``n`` smallest (key, index) pairs, in that order: the same as
    ``_key_order(key, idx)[:n]``, with a linear-time partition before the sort."""
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    if n >= key.size:
        return _key_order(key, idx)
    kth = np.partition(key, n - 1)[n - 1]
    sel = np.flatnonzero(key <= kth)  # every one of the first n, and ties with the n-th
    return sel[_key_order(key[sel], idx[sel])[:n]]


# ---------------------------------------------------------------------------------------------
# the MCS driver (a generator yielding exchange / allgather requests)


def _open_nanopores(state, idx):
    """Nanopores (pore voxels tagged with a grain id) that share a face with the voxels of
    global index ``idx``, which just became pore, join that pore: tag -1. Interior voxels
    only; every rank does it for its own part of the global list."""
    if idx.size == 0:
        return
    gny, gnx = state.global_shape[1:]
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


def _sinks(state, wanted, seed, mcs, off):
    """The globally first ``wanted[k]`` sink voxels of kind k (0 outer surface, 1 inner voids;
    :func:`surface_kernel`) by key, with the contents they give up: one scan and one
    allgather for both kinds. A generator; returns one (index, phase, amount, li, disorder)
    list per kind."""
    c = state.center_vox
    sf_idx, sf_key, sf_kind = _two_pass(
        surface_kernel, state,
        (state.phase, state.grain, np.uint64(seed), np.uint64(mcs), *off, wanted[0] > 0,
         wanted[1] > 0, float(c[0]), float(c[1]), float(c[2])),
        (np.int64, np.uint64, np.int8))
    payload = []
    for kind, n in enumerate(wanted):  # the globally first n are among this rank's first n
        sel = np.flatnonzero(sf_kind == kind)
        idx, key = sf_idx[sel], sf_key[sel]
        order = _first_by_key(key, idx, n)
        idx, key = idx[order], key[order]
        (sz, sy, sx), _ = _local(state, idx)
        payload.append((idx, key, state.phase[sz, sy, sx], state.amount[sz, sy, sx],
                        state.li[sz, sy, sx], state.disorder[sz, sy, sx]))
    parts = yield ("allgather", tuple(payload))
    out = []
    for kind, n in enumerate(wanted):
        cols = [np.concatenate([a[kind][i] for a in parts]) for i in range(6)]
        order = _first_by_key(cols[1], cols[0], n)
        out.append([col[order] for i, col in enumerate(cols) if i != 1])
    return out


def densification_mcs(state, p, seed, mcs, contacts=True, inward=0.0):
    """One densification MCS (see the module docstring); returns the annihilated vacancies
    and how many of them went to the voids inside the particle. Each event's vacancy goes
    inside with probability ``inward`` (the template rigidity), else to the outer surface.
    With ``contacts``, s is recounted around every changed voxel."""
    off = (*state.offset, *state.global_shape[1:])
    ev_idx, ev_key, ev_grain, ev_dir = _two_pass(
        densify_events_kernel, state,
        (state.phase, state.grain, float(p), np.uint64(seed), np.uint64(mcs), *off),
        (np.int64, np.uint64, np.int32, np.float64))
    parts = yield ("allgather", (ev_idx, ev_key, ev_grain, ev_dir))
    ev_idx, ev_key, ev_grain, ev_dir = (np.concatenate([a[i] for a in parts]) for i in range(4))
    if ev_idx.size == 0:
        return 0, 0
    order = _key_order(ev_key, ev_idx)
    ev_idx, ev_grain, ev_dir = ev_idx[order], ev_grain[order], ev_dir[order]
    to_inside = ev_dir < inward
    n_in = int(np.count_nonzero(to_inside))
    sinks = yield from _sinks(state, (ev_idx.size - n_in, n_in), seed, mcs, off)
    pairs = []  # (events, their grain choices, sinks, the grain id a sink's pore takes)
    for sel, sink, label in ((~to_inside, sinks[0], 0), (to_inside, sinks[1], -1)):
        m = sink[0].size
        if m:
            pairs.append((ev_idx[sel][:m], ev_grain[sel][:m], sink, label))
    dirty = state.dirty_flags()
    n = n_inner = 0
    changed = []
    for e_idx, e_grain, (sf_idx, sf_phase, sf_amount, sf_li, sf_dis), label in pairs:
        n += sf_idx.size
        n_inner += sf_idx.size if label != 0 else 0
        changed += [e_idx, sf_idx]
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
        state.grain[qz, qy, qx] = label
        dirty[qz, qy, qx] = 1
    for _, _, (sf_idx, *_), _ in pairs:
        _open_nanopores(state, sf_idx)
    yield ("exchange", _fields(state))
    if contacts and changed:
        s = contact_field(state)
        (az, ay, ax), _ = _local(state, np.concatenate(changed))
        contact_refresh_kernel(state.phase, s, az.astype(np.int64), ay.astype(np.int64),
                               ax.astype(np.int64))
        yield ("exchange", (s,))
    return n, n_inner


# ---------------------------------------------------------------------------------------------
# the template


def core_shell_solid_contrast(state) -> float:
    """The core-shell solid-fraction contrast of the particle: shell r/R >= 0.7 minus core
    r/R < 0.5, as ``contrast_density`` of the time series (a collective call on a split
    lattice)."""
    shells, _ = radial_kernel(state.phase, state.amount, state.disorder, *state.offset,
                              *state.center_vox, state.radius_vox, N_RADIAL_BINS, -1.0)
    shells = allreduce_int(getattr(state, "comm", None), shells)
    return core_shell_contrast(shell_density(shells, full_amount_table()))


def template_rigidity(contrast0: float, contrast_max: float,
                      inward_per_contrast: float) -> float:
    """Share of the annihilated vacancies that go to the voids inside the particle, 0..1:
    ``inward_per_contrast`` times the rise of the contrast from ``contrast0`` to
    ``contrast_max``, clipped; 0 if nothing was probed (``contrast_max`` NaN)."""
    if math.isnan(contrast_max):
        return 0.0
    rise = contrast_max - contrast0
    return min(1.0, max(0.0, inward_per_contrast * rise))
