"""What the three sintering mechanisms share: the solid test, the Philox sub-counters, the
contact-count field s, and the generator protocol that runs an MCS on one or many subdomains.

Decomposition. Kernels touch interior voxels (grain growth, densification) or pairs with
either end in the interior (pore migration; the anchor may lie in the lower halo layer), so two
subdomains update a straddling pair identically from the same halo data and the same random
number, keyed by the anchor's global index. Every sub-sweep ends with a halo exchange of what
it wrote (:meth:`mcsim.state.State.exchange_field`). The increments of s are exact for
interior voxels whose 26 neighbours are interior; on a split lattice the interior layer next to
the halo is recounted from the exchanged phases before s itself is exchanged. The kernels are
driven by generators that yield ``("exchange", arrays)`` and ``("allgather", arrays)``
requests (:func:`drive` answers them on one subdomain), so a test can run two halves of a
lattice in lock step.
"""

from __future__ import annotations

import numba
import numpy as np

from mcsim import phases as ph
from mcsim.state import FIELD_NAMES

#: Phase codes >= SOLID_MIN are transition-metal solids.
SOLID_MIN = ph.HYDROXIDE

# Sub-counters of the Philox counter (the third word): one per sub-sweep or purpose, so the
# mechanisms never share a block even when their MCS indices coincide.
SUB_GRAIN_GROWTH = 0      # + colour (0..7)
SUB_GG_REDRAW = 8         # grain growth: a voxel's own block when its lane is >= 65520
SUB_GG_FINE = 9           # grain growth: the fine part of a voxel's acceptance uniform
SUB_PORE_MIGRATION = 16   # + 12 * axis + sub-sweep (0..35)
SUB_EVENT = 64            # densification: the event uniform of a pore
SUB_EVENT_KEY = 65        # densification: the ordering key of an event
SUB_SURFACE_KEY = 66      # densification: the ordering key of a surface voxel
SUB_INNER_KEY = 67        # densification: the ordering key of an inner-void surface voxel

MECHANISMS = ("grain_growth", "pore_migration", "densification")

#: A 64-bit Philox word w gives the uniform (w >> 11) * 2^-53 in [0, 1).
_SHIFT11 = np.uint64(11)
_TWO_M53 = 1.0 / 9007199254740992.0

#: The voxel fields, in the order of :data:`mcsim.state.FIELDS`: the arguments of
#: :func:`~mcsim.processes.sintering.pore_migration.pore_migration_kernel` and what a move
#: writes. Each mechanism has a rule for each of them (what moves with a voxel's content, what
#: a pore keeps), so a new field must be given one here before it can be declared.
_FIELD_NAMES = FIELD_NAMES
if _FIELD_NAMES != ("phase", "grain", "amount", "li", "disorder"):
    raise TypeError("mcsim.state.FIELDS changed: the sintering kernels move exactly phase, "
                    "grain, amount, li and disorder; give a new field its rule there")


def _fields(state):
    return tuple(getattr(state, n) for n in _FIELD_NAMES)


@numba.njit(inline="always")
def _solid(c):
    return c >= SOLID_MIN


# ---------------------------------------------------------------------------------------------
# the generator protocol


def _allgather(state, arrays):
    """``arrays`` of every rank, in rank order: ``[arrays]`` on a lone process."""
    comm = getattr(state, "comm", None)
    if comm is None:
        return [arrays]
    return comm.allgather(arrays)


def drive(state, gen):
    """Run an MCS generator on one subdomain: halo exchanges through
    :meth:`~mcsim.state.State.exchange_field`, gathers through :func:`_allgather`."""
    reply = None
    while True:
        try:
            kind, payload = gen.send(reply)
        except StopIteration as stop:
            return stop.value
        if kind == "exchange":
            for arr in payload:
                state.exchange_field(arr)
            reply = None
        else:
            reply = _allgather(state, payload)


# ---------------------------------------------------------------------------------------------
# contact counts s


def contact_field(state) -> np.ndarray:
    """The uint8 contact-count field s (solid voxels among the 26 neighbours) of ``state``,
    shaped like the fields (with halo), allocated once and kept on the state."""
    s = getattr(state, "sinter_contacts", None)
    if s is None or s.shape != state.phase.shape:
        s = np.zeros(state.phase.shape, dtype=np.uint8)
        state.sinter_contacts = s
    return s


@numba.njit(parallel=True, cache=True)
def contact_count_kernel(phase, s):
    """s = number of solid voxels among the 26 neighbours, for every interior voxel (separable
    3 x 3 column sums, then a 3-wide window along x)."""
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    for z in numba.prange(1, nz + 1):
        col = np.empty(nx + 2, dtype=np.int64)
        for y in range(1, ny + 1):
            for x in range(nx + 2):
                c = 0
                for dz in range(-1, 2):
                    for dy in range(-1, 2):
                        c += phase[z + dz, y + dy, x] >= SOLID_MIN
                col[x] = c
            for x in range(1, nx + 1):
                s[z, y, x] = col[x - 1] + col[x] + col[x + 1] - (phase[z, y, x] >= SOLID_MIN)


@numba.njit(inline="always")
def _count_at(phase, z, y, x):
    c = 0
    for dz in range(-1, 2):
        for dy in range(-1, 2):
            for dx in range(-1, 2):
                c += phase[z + dz, y + dy, x + dx] >= SOLID_MIN
    return c - (phase[z, y, x] >= SOLID_MIN)


@numba.njit(cache=True)
def contact_refresh_kernel(phase, s, zs, ys, xs):
    """Recount s on the interior voxels of the 3 x 3 x 3 boxes around local (zs, ys, xs)."""
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    for i in range(zs.shape[0]):
        for z in range(max(1, zs[i] - 1), min(nz, zs[i] + 1) + 1):
            for y in range(max(1, ys[i] - 1), min(ny, ys[i] + 1) + 1):
                for x in range(max(1, xs[i] - 1), min(nx, xs[i] + 1) + 1):
                    s[z, y, x] = _count_at(phase, z, y, x)


@numba.njit(parallel=True, cache=True)
def contact_shell_kernel(phase, s):
    """Recount s on the interior layer next to the halo (all six faces), for split lattices."""
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    for z in numba.prange(1, nz + 1):
        for y in range(1, ny + 1):
            if z == 1 or z == nz or y == 1 or y == ny:
                for x in range(1, nx + 1):
                    s[z, y, x] = _count_at(phase, z, y, x)
            else:
                s[z, y, 1] = _count_at(phase, z, y, 1)
                s[z, y, nx] = _count_at(phase, z, y, nx)


def recount_contacts(state):
    """Full recount of s (phases may have changed since the last sintering step); a generator."""
    s = contact_field(state)
    contact_count_kernel(state.phase, s)
    yield ("exchange", (s,))
