"""Lithium transport: explicit diffusion of mobile lithium with phase-dependent mobility."""

from __future__ import annotations

import math

import numba
import numpy as np

from mcsim import phases as ph
from mcsim.processes.base import Process, arrhenius

# Mobility class of each phase: 0 none (pore outside the particle), 1 slow (hydroxide, rock
# salt), 2 fast (lithium sources, layered product; pores inside the particle, see _class).
# The entry after the phases (index WALL) is the class of a pore wall of a slow solid: the face
# between a pore inside the particle and a hydroxide or rock-salt voxel of another grain id.
MOBILITY = np.array([0, 2, 2, 2, 1, 1, 2, 2], dtype=np.uint8)
#: Index of the pore-wall entry in a mobility table.
WALL = 7
#: The table of the ``rkl1-slow-walls`` transport: pore walls of hydroxide and rock salt slow.
SLOW_WALL_MOBILITY = np.array([0, 2, 2, 2, 1, 1, 2, 1], dtype=np.uint8)


@numba.njit(inline="always")
def _class(mobility, phase_code, grain_id):
    """Mobility class of a voxel: pores inside the particle (grain id != 0) carry lithium along
    their surfaces, so they are fast; pores outside the particle are closed."""
    if phase_code == 0:
        return 2 if grain_id != 0 else 0
    return mobility[phase_code]


@numba.njit(inline="always")
def _face(m, g, p, pn, gn, mobility):
    """Class of the face between a voxel (class m, phase p, grain g) and a neighbour (phase pn,
    grain gn); a pore wall of a slow solid takes the table's entry ``WALL``."""
    mn = _class(mobility, pn, gn)
    if mn == 0:
        return 0
    if (m == 2 and mn == 2) or gn != g:
        if (m == 1 and pn == ph.PORE) or (mn == 1 and p == ph.PORE):
            return mobility[WALL]
        return 2
    return 1


@numba.njit(inline="always")
def _code_at(phase, grain, mobility, z, y, x):
    """The six face classes of voxel (z, y, x), two bits each (-z, +z, -y, +y, -x, +x)."""
    g = grain[z, y, x]
    p = phase[z, y, x]
    m = _class(mobility, p, g)
    if m == 0:
        return 0
    return (_face(m, g, p, phase[z - 1, y, x], grain[z - 1, y, x], mobility)
            | _face(m, g, p, phase[z + 1, y, x], grain[z + 1, y, x], mobility) << 2
            | _face(m, g, p, phase[z, y - 1, x], grain[z, y - 1, x], mobility) << 4
            | _face(m, g, p, phase[z, y + 1, x], grain[z, y + 1, x], mobility) << 6
            | _face(m, g, p, phase[z, y, x - 1], grain[z, y, x - 1], mobility) << 8
            | _face(m, g, p, phase[z, y, x + 1], grain[z, y, x + 1], mobility) << 10)


@numba.njit
def _code_at_called(phase, grain, mobility, z, y, x):
    """:func:`_code_at` as a function the sparse refresh calls rather than inlines: the
    refresh visits few voxels, and inlining the six face classes there took about a third of
    the compile time of :func:`refresh_stage_kernel`."""
    return _code_at(phase, grain, mobility, z, y, x)


@numba.njit(parallel=True, cache=True)
def face_codes_kernel(phase, grain, mobility, codes):
    """Classify the six faces of every voxel (phases do not change while the transport kernel
    sub-cycles): two bits per face (-z, +z, -y, +y, -x, +x), 0 closed, 1 slow, 2 fast.

    A face is fast when both voxels are fast (lithium sources, layered oxide, pores inside the
    particle, whose surfaces carry lithium) or when it joins two different grains or a grain
    and a pore (grain boundaries and pore walls); slow inside a hydroxide or rock-salt grain;
    closed when either side is a pore outside the particle. Returns the number of open voxels.
    """
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    n_open = np.zeros(nz, dtype=np.int64)
    for z in numba.prange(1, nz + 1):
        for y in range(1, ny + 1):
            for x in range(1, nx + 1):
                code = _code_at(phase, grain, mobility, z, y, x)
                if code != 0:
                    n_open[z - 1] += 1
                codes[z, y, x] = code
    return n_open.sum()


@numba.njit(parallel=True, cache=True)
def refresh_face_codes_kernel(phase, grain, mobility, codes, dirty):
    """Recompute the face classes of the voxels that changed (``dirty``) and of their six
    neighbours only; no other voxel's classes can have changed. A first pass marks the rows
    (z, y) holding a flag, so rows with no flagged voxel in them or in the four rows around
    them are skipped whole. Returns how many voxels, halo included, were flagged (the caller
    clears the flags when there were any)."""
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    rows = np.zeros((nz + 2, ny + 2), dtype=np.uint8)
    flagged = np.zeros(nz + 2, dtype=np.int64)
    for z in numba.prange(nz + 2):
        for y in range(ny + 2):
            n = 0
            for x in range(nx + 2):
                n += dirty[z, y, x]
            if n > 0:
                rows[z, y] = 1
                flagged[z] += n
    for z in numba.prange(1, nz + 1):
        for y in range(1, ny + 1):
            if not (rows[z, y] | rows[z - 1, y] | rows[z + 1, y] | rows[z, y - 1]
                    | rows[z, y + 1]):
                continue
            for x in range(1, nx + 1):
                if (dirty[z, y, x] | dirty[z - 1, y, x] | dirty[z + 1, y, x] | dirty[z, y - 1, x]
                        | dirty[z, y + 1, x] | dirty[z, y, x - 1] | dirty[z, y, x + 1]):
                    codes[z, y, x] = _code_at(phase, grain, mobility, z, y, x)
    return flagged.sum()


@numba.njit(inline="always")
def _refresh_face(phase, grain, mobility, codes, z, y, x, dz, dy, dx, shift, ny, nx):
    """Bring the one face of voxel (z, y, x) toward its neighbour (z + dz, y + dy, x + dx)
    (bits ``shift``, ``shift + 1`` of its classes) up to date, if the voxel is in the block."""
    if 1 <= y <= ny and 1 <= x <= nx:
        g = grain[z, y, x]
        p = phase[z, y, x]
        m = _class(mobility, p, g)
        f = 0
        if m != 0:
            f = _face(m, g, p, phase[z + dz, y + dy, x + dx], grain[z + dz, y + dy, x + dx],
                      mobility)
        codes[z, y, x] = (codes[z, y, x] & ~(3 << shift)) | (f << shift)


@numba.njit(inline="always")
def _flag_list(dirty):
    """The flagged voxels of ``dirty`` (halo included) as (y, x) pairs grouped by plane: the
    pairs of plane z are ``yx[start[z]:start[z + 1]]``. Rows without a flag are passed over
    by one vectorised test."""
    nz = dirty.shape[0] - 2
    ny = dirty.shape[1] - 2
    nx = dirty.shape[2] - 2
    count = np.zeros(nz + 3, dtype=np.int64)
    for z in numba.prange(nz + 2):
        for y in range(ny + 2):
            d = dirty[z, y]
            m = d[0]
            for x in range(1, nx + 2):
                m |= d[x]
            if m != 0:
                for x in range(nx + 2):
                    count[z + 1] += d[x] != 0
    start = np.cumsum(count)
    yx = np.empty((start[-1], 2), dtype=np.int64)
    for z in numba.prange(nz + 2):
        i = start[z]
        if start[z + 1] == i:
            continue
        for y in range(ny + 2):
            d = dirty[z, y]
            m = d[0]
            for x in range(1, nx + 2):
                m |= d[x]
            if m != 0:
                for x in range(nx + 2):
                    if d[x] != 0:
                        yx[i, 0] = y
                        yx[i, 1] = x
                        i += 1
    return start, yx


@numba.njit(inline="always")
def _refresh_plane(phase, grain, mobility, codes, start, yx, z):
    """Bring the face classes of plane z up to date around the flagged voxels of planes
    z - 1, z and z + 1, as :func:`refresh_face_codes_kernel` does: a flagged voxel's six
    faces are recomputed, and of a neighbour of a flagged voxel only the face between the
    two (its other faces join voxels that did not change, or that are flagged and recompute
    the face themselves), so the result is the full recount's. Only plane z is written, and
    the order of the updates does not matter."""
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    for k in range(3):
        zf = z - 1 + k
        for i in range(start[zf], start[zf + 1]):
            y = yx[i, 0]
            x = yx[i, 1]
            if k == 1:  # flagged in this plane: all its faces; its y and x neighbours' face
                if 1 <= y <= ny and 1 <= x <= nx:
                    codes[z, y, x] = _code_at_called(phase, grain, mobility, z, y, x)
                if 1 <= x <= nx:
                    _refresh_face(phase, grain, mobility, codes, z, y - 1, x, 0, 1, 0, 6, ny,
                                  nx)
                    _refresh_face(phase, grain, mobility, codes, z, y + 1, x, 0, -1, 0, 4, ny,
                                  nx)
                if 1 <= y <= ny:
                    _refresh_face(phase, grain, mobility, codes, z, y, x - 1, 0, 0, 1, 10, ny,
                                  nx)
                    _refresh_face(phase, grain, mobility, codes, z, y, x + 1, 0, 0, -1, 8, ny,
                                  nx)
            else:  # flagged below (k = 0) or above (k = 2): the face toward it
                _refresh_face(phase, grain, mobility, codes, z, y, x, k - 1, 0, 0, k, ny, nx)


def prepare_face_codes(state, mobility=MOBILITY) -> np.ndarray:
    """The state's face classes, brought up to date: computed in full the first time, then
    refreshed around the voxels that the kernels flagged as changed since the last call.
    ``mobility``: the transport's table (:data:`MOBILITY`, or :data:`SLOW_WALL_MOBILITY`); a
    state's classes must always be made with the same one.

    On a decomposed lattice the flags are halo-exchanged first: a voxel the neighbouring rank
    changed at the edge of its block changes the classes of this block's voxels next to it.
    The classes of the two sides of a face between blocks are computed by each rank from the
    same (halo-exchanged) phases and grains, so they agree and transport stays conservative.
    """
    codes = state.face_codes()
    dirty = state.dirty_flags()
    if not state.lone:
        state.exchange_field(dirty)
    if not state.codes_ready:
        face_codes_kernel(state.phase, state.grain, mobility, codes)
        state.codes_ready = True
        dirty[...] = 0
    elif refresh_face_codes_kernel(state.phase, state.grain, mobility, codes, dirty) > 0:
        dirty[...] = 0
    return codes


def stage_with_fresh_codes(state, a, b, out, mu, nu, w_fast, w_slow,
                           mobility=MOBILITY) -> np.ndarray:
    """:func:`prepare_face_codes` then :func:`rkl_stage_kernel`, fused into one pass over the
    lattice when the classes only need refreshing (:func:`refresh_stage_kernel`): the same
    classes, flags and ``out``, bit for bit. Returns the face classes; each row's open run is
    left in :meth:`mcsim.state.State.row_extents` for the step's later stages."""
    ext = state.row_extents()
    if not state.codes_ready:
        codes = prepare_face_codes(state, mobility)
        rkl_stage_kernel(codes, a, b, out, mu, nu, w_fast, w_slow, ext)
        return codes
    codes = state.face_codes()
    dirty = state.dirty_flags()
    if not state.lone:
        state.exchange_field(dirty)
    refresh_stage_kernel(state.phase, state.grain, mobility, codes, dirty, a, b, out, mu, nu,
                         w_fast, w_slow, ext)
    return codes


@numba.njit(parallel=True, cache=True)
def rkl_stage_kernel_reference(codes, a, b, out, mu, nu, w_fast, w_slow):
    """One stage of the RKL1 super-time-stepping scheme: out = mu a + nu b + L(a) (the kernel
    of 2026-12-04, kept as the reference of :func:`rkl_stage_kernel`, which gives the same
    bits).

    ``L`` is the 7-point operator of :func:`diffuse_kernel` with face weights ``w_fast`` and
    ``w_slow`` (already multiplied by the stage's share of the step). Closed voxels keep
    their value. Since mu + nu = 1 and L conserves, every stage conserves lithium.
    """
    nz = a.shape[0] - 2
    ny = a.shape[1] - 2
    nx = a.shape[2] - 2
    for z in numba.prange(1, nz + 1):
        for y in range(1, ny + 1):
            for x in range(1, nx + 1):
                code = codes[z, y, x]
                c = a[z, y, x]
                if code == 0:
                    out[z, y, x] = c
                    continue
                acc = 0.0
                for k in range(6):
                    f = (code >> (2 * k)) & 3
                    if f == 0:
                        continue
                    dz = -1 if k == 0 else (1 if k == 1 else 0)
                    dy = -1 if k == 2 else (1 if k == 3 else 0)
                    dx = -1 if k == 4 else (1 if k == 5 else 0)
                    w = w_fast if f == 2 else w_slow
                    acc += w * (a[z + dz, y + dy, x + dx] - c)
                out[z, y, x] = mu * c + nu * b[z, y, x] + acc


@numba.njit(inline="always")
def _weight(code, shift, w_fast, w_slow):
    """Weight of the face whose class is ``(code >> shift) & 3``: ``w_fast`` for class 2,
    ``w_slow`` for class 1, 0 when closed (tested bit by bit; classes are 0, 1 or 2)."""
    return w_fast if code & (2 << shift) else (w_slow if code & (1 << shift) else 0.0)


@numba.njit(inline="always")
def _closed8(cd, x):
    """Whether the eight face codes cd[x:x + 8] are all closed."""
    return (cd[x] | cd[x + 1] | cd[x + 2] | cd[x + 3] | cd[x + 4] | cd[x + 5] | cd[x + 6]
            | cd[x + 7]) == 0


@numba.njit(inline="always")
def _open_extent(cd, nx):
    """First and last x (1..nx) of the row's face codes ``cd`` that are not closed; (1, 0)
    when the whole row is closed (found by one vectorised pass over the row; the ends are
    then scanned eight codes at a time)."""
    any_open = 0
    for x in range(1, nx + 1):
        any_open |= cd[x]
    if any_open == 0:
        return 1, 0
    lo = 1
    while lo + 7 <= nx and _closed8(cd, lo):
        lo += 8
    while cd[lo] == 0:
        lo += 1
    hi = nx
    while hi - 7 >= lo and _closed8(cd, hi - 7):
        hi -= 8
    while cd[hi] == 0:
        hi -= 1
    return lo, hi


@numba.njit(inline="always")
def _copy(dst, src):
    for i in range(dst.shape[0]):
        dst[i] = src[i]


@numba.njit(inline="always")
def _stage_segment(cd, zm, zp, ym, yp, xm, xc, xp, bc, o, mu, nu, w_fast, w_slow):
    """The stage on a run of voxels, given as views that start at its first voxel (so every
    index is non-negative and the compiler emits no wrap-around test): the neighbours below
    and above in z and y, left and right in x, the voxel itself (``xc``) and ``b``. Every
    face is added, with the weight of its class (0 for a closed face: its product then adds
    +0.0, which leaves the sum's bits as they are, since the sum starts at +0.0 and can
    never become -0.0), in the reference kernel's order (-z, +z, -y, +y, -x, +x; float32
    difference, float64 product and sum); a closed voxel keeps its value. Without a branch
    the loop is vectorised."""
    for i in range(o.shape[0]):
        code = np.int64(cd[i])
        c = xc[i]
        acc = 0.0
        acc += _weight(code, 0, w_fast, w_slow) * (zm[i] - c)
        acc += _weight(code, 2, w_fast, w_slow) * (zp[i] - c)
        acc += _weight(code, 4, w_fast, w_slow) * (ym[i] - c)
        acc += _weight(code, 6, w_fast, w_slow) * (yp[i] - c)
        acc += _weight(code, 8, w_fast, w_slow) * (xm[i] - c)
        acc += _weight(code, 10, w_fast, w_slow) * (xp[i] - c)
        v = np.float32(mu * c + nu * bc[i] + acc)
        o[i] = c if code == 0 else v


#: What a stage does with a row's open extent and the closed voxels at the row's ends
#: (:func:`rkl_stage_kernel`): find the extent (and record it) and copy the ends; take the
#: recorded extent and copy the ends; take the recorded extent and leave the ends alone.
FIND, KEPT_COPY, KEPT = 0, 1, 2


@numba.njit(inline="always")
def _stage_row(codes, a, b, out, mu, nu, w_fast, w_slow, z, y, ext, mode):
    """One RKL1 stage on row (z, y): the closed voxels before the first and after the last
    open one are copied (unless ``mode`` is :data:`KEPT`), the run between them is computed
    by :func:`_stage_segment`. The run is found in the row's classes (``mode`` :data:`FIND`,
    which records it in ``ext``) or read from ``ext``."""
    nx = a.shape[2] - 2
    ac = a[z, y]
    o = out[z, y]
    if mode == FIND:
        lo, hi = _open_extent(codes[z, y], nx)
        ext[z, y, 0] = lo
        ext[z, y, 1] = hi
    else:
        lo = np.int64(ext[z, y, 0])
        hi = np.int64(ext[z, y, 1])
    if mode != KEPT:
        _copy(o[1:lo], ac[1:lo])
        _copy(o[hi + 1:nx + 1], ac[hi + 1:nx + 1])
    if hi < lo:
        return
    e = hi + 1
    _stage_segment(codes[z, y, lo:e], a[z - 1, y, lo:e], a[z + 1, y, lo:e], a[z, y - 1, lo:e],
                   a[z, y + 1, lo:e], ac[lo - 1:hi], ac[lo:e], ac[lo + 1:e + 1], b[z, y, lo:e],
                   o[lo:e], mu, nu, w_fast, w_slow)


def _extents_for(a, ext):
    """``ext`` or, when None, a new array for the row extents of a lattice shaped like ``a``."""
    if ext is None:
        return np.empty((a.shape[0], a.shape[1], 2), dtype=np.int32)
    return ext


@numba.njit(parallel=True, cache=True)
def _rkl_stage(codes, ext, a, b, out, mu, nu, w_fast, w_slow, mode):
    nz = a.shape[0] - 2
    ny = a.shape[1] - 2
    for z in numba.prange(1, nz + 1):
        for y in range(1, ny + 1):
            _stage_row(codes, a, b, out, mu, nu, w_fast, w_slow, z, y, ext, mode)


def rkl_stage_kernel(codes, a, b, out, mu, nu, w_fast, w_slow, ext=None, mode=FIND):
    """One stage of the RKL1 super-time-stepping scheme: out = mu a + nu b + L(a).

    ``L`` is the 7-point operator of :func:`diffuse_kernel` with face weights ``w_fast`` and
    ``w_slow`` (already multiplied by the stage's share of the step). Closed voxels keep
    their value. Since mu + nu = 1 and L conserves, every stage conserves lithium.

    Bit for bit the result of :func:`rkl_stage_kernel_reference`; each row is computed by
    :func:`_stage_row`: the closed ends of the row (pore outside the particle) are copied and
    the run between them computed by a loop without branches, which is vectorised.

    The later stages of one transport step skip work the first has done (``mode``): the face
    classes do not change within a step, so the first stage records each row's open run in
    ``ext`` (int32, ``(nz + 2, ny + 2, 2)``; :data:`FIND`, the default) and the others read it
    (:data:`KEPT_COPY`); and nothing but the stages writes the lithium buffers within a step,
    so once a buffer has received the closed ends from a stage they stay equal to every other
    buffer's, and a stage into it may leave them (:data:`KEPT`). On the default particle (61 %
    of whose voxels are closed) a stage takes 2.05 ms to find and copy, 1.75 ms to copy and
    1.34 ms with neither (one thread). The caller says which applies: :class:`StageEnds`
    tracks it through a step of :class:`ExplicitDiffusion` and :class:`SuperTimeStepping`.
    """
    _rkl_stage(codes, _extents_for(a, ext), a, b, out, mu, nu, w_fast, w_slow, mode)


@numba.njit(parallel=True, cache=True)
def _refresh_stage(phase, grain, mobility, codes, dirty, ext, a, b, out, mu, nu, w_fast,
                   w_slow):
    nz = a.shape[0] - 2
    ny = a.shape[1] - 2
    start, yx = _flag_list(dirty)
    flagged = start[-1]
    if flagged > 0:
        for z in numba.prange(1, nz + 1):
            _refresh_plane(phase, grain, mobility, codes, start, yx, z)
    for z in numba.prange(1, nz + 1):
        for y in range(1, ny + 1):
            _stage_row(codes, a, b, out, mu, nu, w_fast, w_slow, z, y, ext, FIND)
    if flagged > 0:
        for z in numba.prange(nz + 2):
            for i in range(start[z], start[z + 1]):
                dirty[z, yx[i, 0], yx[i, 1]] = 0
    return flagged


def refresh_stage_kernel(phase, grain, mobility, codes, dirty, a, b, out, mu, nu, w_fast,
                         w_slow, ext=None):
    """:func:`refresh_face_codes_kernel`, :func:`rkl_stage_kernel` and the clearing of the
    change flags in one kernel: the flagged voxels are listed (:func:`_flag_list`), the face
    classes around them brought up to date plane by plane (:func:`_refresh_plane`: the
    work follows the flags, not the lattice), the stage run (recording the rows' open runs in
    ``ext`` when given), and the flags zeroed. Returns how many flags there were, halo
    included."""
    return _refresh_stage(phase, grain, mobility, codes, dirty, _extents_for(a, ext), a, b, out,
                          mu, nu, w_fast, w_slow)


def diffuse_kernel(codes, li, out, w_fast, w_slow):
    """One explicit (forward Euler) step of d(li)/dt = div(D grad li) on the 7-point stencil.

    ``codes`` are the face classes of :func:`face_codes_kernel`; ``w_fast`` and ``w_slow`` are
    D dt / h^2 for fast and slow faces (stable for 6 w <= 1). It is the RKL stage with
    mu = 1, nu = 0. Face classes are symmetric, so the lithium leaving one voxel arrives in
    the other: the update conserves lithium.
    """
    rkl_stage_kernel(codes, li, li, out, 1.0, 0.0, w_fast, w_slow)


def diffuse_kernel_reference(codes, li, out, w_fast, w_slow):
    """:func:`diffuse_kernel` with the kernel of 2026-12-04 (:func:`rkl_stage_kernel_reference`)."""
    rkl_stage_kernel_reference(codes, li, li, out, 1.0, 0.0, w_fast, w_slow)


def rkl1_stages(tau_s: float, dt_explicit_s: float, max_stages: int = 64) -> tuple[int, int]:
    """(super-steps, stages per super-step) so that RKL1 covers ``tau_s`` stably.

    An s-stage RKL1 step is stable up to dt_explicit (s^2 + s) / 2 (Meyer, Balsara & Aslam,
    J. Comput. Phys. 257, 2014, doi:10.1016/j.jcp.2013.08.021).
    """
    ratio = tau_s / dt_explicit_s
    n_super = max(1, math.ceil(ratio / ((max_stages ** 2 + max_stages) / 2)))
    per = ratio / n_super
    s = max(1, math.ceil((-1 + math.sqrt(1 + 8 * per)) / 2))
    return n_super, s


class StageEnds:
    """What the stages of one transport step may skip (:func:`rkl_stage_kernel`).

    Within a step the face classes are fixed once the first stage has refreshed them (it
    records every row's open run in :meth:`mcsim.state.State.row_extents`), and nothing but
    the stages writes the lithium buffers (halo exchanges write only the halo). A stage copies
    the closed voxels at the ends of the rows from its input to its output, so the closed ends
    of every buffer a stage has written in this step are those of the lithium field the step
    started from, and a later stage into such a buffer may leave them. A buffer not yet
    written in this step (a scratch buffer, stale since the last step, during which the
    reactions may have changed a closed voxel's lithium) gets them copied. Buffers are told
    apart by identity; the legacy kernels ignore all this."""

    def __init__(self, state):
        self.extents = state.row_extents()
        self._synced = {id(state.li)}

    def mode(self, out) -> int:
        """The stage mode for a stage into ``out`` after the first (:data:`KEPT_COPY` or
        :data:`KEPT`)."""
        return KEPT if id(out) in self._synced else KEPT_COPY

    def written(self, out) -> None:
        """A stage of this step has written ``out`` (its closed ends included)."""
        self._synced.add(id(out))


class ExplicitDiffusion(Process):
    """Lithium diffusion, D = D0 exp(-Ea/RT) on fast paths and a fixed fraction of it on slow ones.

    The kernel is explicit, so it sub-cycles within the engine's step at dt <= h^2/(6 D) (the
    stability bound of the 7-point stencil, with a 0.9 safety factor). The fast-path
    diffusivity is capped at ``d_cap_m2_per_s``, a calibrated ceiling (fitted to the layered
    share at 300 C, paper Fig. 2j) that the Arrhenius law reaches near 264 C: it slows the
    lithium supply above that temperature (measured in docs/validation.md) and also bounds the
    sub-steps.
    """

    name = "transport"
    variant = "explicit"
    #: The face-class table (:data:`MOBILITY`: pore walls fast, the calibrated rule).
    mobility = MOBILITY
    passes_per_tally = {"transport_substeps": 1}  # each sub-step (or RKL1 stage) one sweep
    #: True: run the kernels of 2026-12-04 (face classes refreshed in a pass of their own,
    #: :func:`rkl_stage_kernel_reference`); the same results, for comparisons.
    legacy = False

    def first_stage(self, state, a, b, out, mu, nu, w_fast, w_slow):
        """The step's first stage, with the face classes brought up to date first (in the
        same pass: :func:`stage_with_fresh_codes`); returns the classes."""
        if self.legacy:
            codes = prepare_face_codes(state, self.mobility)
            rkl_stage_kernel_reference(codes, a, b, out, mu, nu, w_fast, w_slow)
            return codes
        return stage_with_fresh_codes(state, a, b, out, mu, nu, w_fast, w_slow, self.mobility)

    def stage(self, codes, a, b, out, mu, nu, w_fast, w_slow, ends=None):
        """A further stage with the step's face classes. ``ends``: the step's
        :class:`StageEnds`, which knows the rows' open runs from the first stage and whether
        ``out`` already holds the closed ends (None: find and copy everything)."""
        if self.legacy:
            rkl_stage_kernel_reference(codes, a, b, out, mu, nu, w_fast, w_slow)
        elif ends is None:
            rkl_stage_kernel(codes, a, b, out, mu, nu, w_fast, w_slow)
        else:
            rkl_stage_kernel(codes, a, b, out, mu, nu, w_fast, w_slow, ends.extents,
                             ends.mode(out))

    def diffusivities(self, temperature_c):
        """(fast, slow) diffusivities in m^2/s at ``temperature_c``."""
        d_fast = min(arrhenius(self.params["d_fast_d0_m2_per_s"], self.params["d_fast_ea_j_per_mol"],
                               temperature_c), self.params["d_cap_m2_per_s"])
        return d_fast, d_fast * self.params["d_slow_ratio"]

    def substep_s(self, state, temperature_c):
        """The stable sub-step of the explicit kernel."""
        h = state.voxel_nm * 1e-9
        d_fast, _ = self.diffusivities(temperature_c)
        return math.inf if d_fast <= 0 else 0.9 * h * h / (6.0 * d_fast)

    def active(self, state):
        """Transport matters while some transition metal can still take lithium up; once all
        of it is layered, moving the excess lithium about changes no phase."""
        c = state.census
        return c.get("hydroxide", 1) + c.get("rocksalt", 1) > 0

    def advance(self, state, dt_s, temperature_c):
        if not self.active(state):
            return {"transport_substeps": 0}
        h2 = (state.voxel_nm * 1e-9) ** 2
        d_fast, d_slow = self.diffusivities(temperature_c)
        n_sub = max(1, math.ceil(dt_s / self.substep_s(state, temperature_c)))
        sub = dt_s / n_sub
        codes = None
        ends = StageEnds(state)
        for _ in range(n_sub):
            out = state.scratch_array()
            w_fast, w_slow = d_fast * sub / h2, d_slow * sub / h2
            if codes is None:
                codes = self.first_stage(state, state.li, state.li, out, 1.0, 0.0, w_fast, w_slow)
            else:
                self.stage(codes, state.li, state.li, out, 1.0, 0.0, w_fast, w_slow, ends)
            ends.written(out)
            state.exchange_field(out)
            state.adopt_li(out, ())
        return {"transport_substeps": n_sub}

    def describe(self):
        return (f"transport: explicit diffusion, D0 {self.params['d_fast_d0_m2_per_s']:.3g} m2/s, "
                f"Ea {self.params['d_fast_ea_j_per_mol'] / 1e3:.0f} kJ/mol, cap "
                f"{self.params['d_cap_m2_per_s']:.3g} m2/s, slow/fast {self.params['d_slow_ratio']:g}")


class SuperTimeStepping(ExplicitDiffusion):
    """The same diffusion operator advanced by first-order Runge-Kutta-Legendre super-steps.

    An s-stage RKL1 step costs s sweeps and is stable for steps up to (s^2 + s)/2 explicit
    limits, so covering an engine step that needs N explicit sub-steps takes about sqrt(2N)
    sweeps instead of N. First order in time like forward Euler; it conserves lithium.
    """

    variant = "rkl1"

    def advance(self, state, dt_s, temperature_c):
        if not self.active(state):
            return {"transport_substeps": 0}
        h2 = (state.voxel_nm * 1e-9) ** 2
        d_fast, d_slow = self.diffusivities(temperature_c)
        n_super, n_stage = rkl1_stages(dt_s, self.substep_s(state, temperature_c))
        tau = dt_s / n_super
        codes = None
        ends = StageEnds(state)
        norm = 2.0 / (n_stage * n_stage + n_stage)
        for _ in range(n_super):
            y0 = state.li
            y1 = state.scratch_array()
            y2 = state.scratch_array(1)
            w = norm * tau / h2
            if codes is None:  # the face classes brought up to date in the first stage
                codes = self.first_stage(state, y0, y0, y1, 1.0, 0.0, w * d_fast, w * d_slow)
            else:
                self.stage(codes, y0, y0, y1, 1.0, 0.0, w * d_fast, w * d_slow, ends)
            ends.written(y1)
            state.exchange_field(y1)
            prev2, prev1 = y0, y1
            spare = y2
            for j in range(2, n_stage + 1):
                mu = (2 * j - 1) / j
                nu = (1 - j) / j
                w = mu * norm * tau / h2
                self.stage(codes, prev1, prev2, spare, mu, nu, w * d_fast, w * d_slow, ends)
                ends.written(spare)
                state.exchange_field(spare)
                prev2, prev1, spare = prev1, spare, prev2
            state.adopt_li(prev1, (prev2, spare))
        return {"transport_substeps": n_super * n_stage}

    def describe(self):
        return "transport: RKL1 super-time-stepping of " + super().describe().split(": ", 1)[1]


class SlowWallDiffusion(SuperTimeStepping):
    """:class:`SuperTimeStepping` with the pore walls of hydroxide and rock salt slow: the face
    between a pore inside the particle and a hydroxide or rock-salt voxel of another grain id is
    a slow face instead of a fast one (:data:`SLOW_WALL_MOBILITY`).

    Why: lithium moves fast along pore walls and grain boundaries, but from a pore into the
    grain behind its wall it crosses that grain's own half cell, and in a finite-volume scheme
    the slower half cell limits the flux across a face between two media. With the wall fast,
    the whole wall voxel takes the pore's lithium at the fast rate, a skin one voxel deep whose
    share of a grain is the voxel's, so the layered share at 300 C falls at every halving of
    the voxel (0.835, 0.824, 0.811 at 20, 10, 5 nm on a 0.3 um particle); with it slow the 10
    and 5 nm lattices agree to 0.001 (docs/validation.md, *Particle size at fixed
    parameters*). Not the default: the diffusivities were calibrated with fast walls, and the
    variant moves every result (on the default particle, 300 C shares 0.125 / 0.196 / 0.679
    against 0.099 / 0.172 / 0.729). Layered oxide, lithium sources and grain boundaries keep
    their classes.
    """

    variant = "rkl1-slow-walls"
    mobility = SLOW_WALL_MOBILITY

    def describe(self):
        return super().describe() + ", pore walls of hydroxide and rock salt slow"
