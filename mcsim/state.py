"""The lattice state: voxel fields with a one-voxel halo, the subdomain they cover, and the clock.

Fields (bytes per voxel in brackets, 12 in all, plus 4 of scratch for the transport kernel):

``phase`` [1]
    uint8 phase code (:mod:`mcsim.phases`).
``grain`` [4]
    int32 primary-grain id, 0 where the voxel belongs to no hydroxide-derived grain.
``amount`` [2]
    uint16 content of the voxel in quanta: for transition-metal phases the TM content, for
    lithium sources the Li content, with :data:`QUANTA_PER_HYDROXIDE_VOXEL` quanta being the
    TM of one voxel full of TM(OH)2. Integers, so transition metal is conserved exactly. The
    solid volume fraction of a voxel follows from its amount and its phase's molar volume.
``li`` [4]
    float32 mobile lithium, in the same quanta. Negative in a layered voxel that formed with
    less lithium than it binds (a Li-deficient layered oxide that still draws lithium in).
``disorder`` [1]
    uint8 Li/Ni site disorder of layered voxels, 0..255 for 0..25.5 %.

The arrays are ``(nz + 2, ny + 2, nx + 2)``: the outer layer is the halo, filled by a boundary
condition (:meth:`State.fill_halo`): on a lone domain it is inert pore; when the lattice is
split into subdomains it holds the neighbours' edge voxels. ``offset`` is the global index of
the first interior voxel, so kernels key their random numbers by global voxel index.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mcsim import phases as ph

QUANTA_PER_HYDROXIDE_VOXEL = 1000

BYTES_PER_VOXEL = 12
SCRATCH_BYTES_PER_VOXEL = 4

_FIELDS = (("phase", np.uint8), ("grain", np.int32), ("amount", np.uint16),
           ("li", np.float32), ("disorder", np.uint8))


def full_amount(phase_code: int) -> int:
    """Quanta held by one voxel completely filled with ``phase_code`` (0 for pore)."""
    vm_h = ph.MOLAR_VOLUME_CM3[ph.HYDROXIDE]
    if phase_code in ph.TM_PHASES:
        return int(round(QUANTA_PER_HYDROXIDE_VOXEL * vm_h / ph.MOLAR_VOLUME_CM3[phase_code]))
    if phase_code in ph.SOURCE_PHASES:
        return int(round(QUANTA_PER_HYDROXIDE_VOXEL * vm_h * ph.LI_PER_FORMULA[phase_code]
                         / ph.MOLAR_VOLUME_CM3[phase_code]))
    return 0


def full_amount_table() -> np.ndarray:
    """:func:`full_amount` for every phase code, as an int32 array for kernels."""
    return np.array([full_amount(c) for c in range(ph.N_PHASES)], dtype=np.int32)


@dataclass
class State:
    """Voxel fields of one subdomain (with halo) and the simulation clock."""

    phase: np.ndarray
    grain: np.ndarray
    amount: np.ndarray
    li: np.ndarray
    disorder: np.ndarray
    global_shape: tuple[int, int, int]
    offset: tuple[int, int, int] = (0, 0, 0)
    voxel_nm: float = 10.0
    center_vox: tuple[float, float, float] = (0.0, 0.0, 0.0)
    radius_vox: float = 0.0
    time_s: float = 0.0
    step: int = 0
    scratch: np.ndarray | None = field(default=None, repr=False)
    #: Counts kept up to date by the kernels (e.g. hydroxide voxels left), used to switch off
    #: the time-step limits of processes that have nothing left to act on.
    census: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Interior shape of this subdomain."""
        return tuple(s - 2 for s in self.phase.shape)

    @property
    def n_voxels(self) -> int:
        return int(np.prod(self.shape))

    def interior(self, name: str) -> np.ndarray:
        """A view of the interior (halo excluded) of field ``name``."""
        return getattr(self, name)[1:-1, 1:-1, 1:-1]

    @classmethod
    def from_microstructure(cls, micro, offset=(0, 0, 0), shape=None) -> "State":
        """Build the state of the subdomain ``offset`` + ``shape`` of a generated microstructure."""
        gshape = micro.phase.shape
        shape = tuple(gshape) if shape is None else tuple(shape)
        sl = tuple(slice(o, o + n) for o, n in zip(offset, shape))
        padded = tuple(n + 2 for n in shape)
        arrays = {name: np.zeros(padded, dtype=dt) for name, dt in _FIELDS}
        inner = (slice(1, -1),) * 3
        phase = micro.phase[sl]
        arrays["phase"][inner] = phase
        arrays["grain"][inner] = micro.grain[sl]
        arrays["amount"][inner] = full_amount_table()[phase]
        state = cls(**arrays, global_shape=tuple(gshape), offset=tuple(offset),
                    voxel_nm=float(micro.voxel_nm), center_vox=tuple(micro.center_vox),
                    radius_vox=float(micro.radius_vox))
        state.fill_halo()
        return state

    def fill_halo(self) -> None:
        """Boundary condition of a lone domain: the halo is inert pore with no lithium."""
        self.exchange_halo()

    def exchange_halo(self, names=("phase", "grain", "amount", "li", "disorder")) -> None:
        """Refresh the halo of the named fields after a kernel wrote them.

        On a lone domain this re-applies the inert boundary; a decomposed lattice replaces
        this method's behaviour by a halo exchange with the neighbouring subdomains.
        """
        for name in names:
            arr = getattr(self, name)
            arr[0] = 0
            arr[-1] = 0
            arr[:, 0] = 0
            arr[:, -1] = 0
            arr[:, :, 0] = 0
            arr[:, :, -1] = 0

    def scratch_array(self) -> np.ndarray:
        """A float32 array shaped like ``li`` for double-buffered kernels (allocated once)."""
        if self.scratch is None or self.scratch.shape != self.li.shape:
            self.scratch = np.zeros_like(self.li)
        return self.scratch

    def memory_bytes(self) -> int:
        """Bytes held by the fields and scratch of this subdomain."""
        total = sum(getattr(self, n).nbytes for n, _ in _FIELDS)
        return total + (self.scratch.nbytes if self.scratch is not None else 0)
