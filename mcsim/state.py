"""The lattice state: voxel fields with a one-voxel halo, the subdomain they cover, and the clock.

The voxel fields are declared once, in :data:`FIELDS` (name, dtype, halo, whether a
checkpoint stores it, a snapshot writes it, a halo exchange refreshes it, and what it means);
every consumer (allocation, halo, checkpoints, snapshots, benchmarks, the memory estimate)
iterates over that declaration. Adding a field: one :class:`Field` entry and one attribute
of :class:`State` (checked at import). 12 bytes per voxel in all, plus 11 of scratch for the
transport kernel (two float32 buffers, uint16 face classes and uint8 change flags).

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


@dataclass(frozen=True)
class Field:
    """Declaration of one voxel field of :class:`State`.

    ``halo``: the array carries the one-voxel halo; ``checkpointed``: a checkpoint stores its
    interior (:mod:`mcsim.checkpoint`); ``written``: every snapshot of the result file holds
    it; ``exchanged``: :meth:`State.exchange_halo` refreshes it by default.
    """

    name: str
    dtype: type
    doc: str
    halo: bool = True
    checkpointed: bool = True
    written: bool = True
    exchanged: bool = True

    @property
    def itemsize(self) -> int:
        """Bytes per voxel."""
        return np.dtype(self.dtype).itemsize


#: The voxel fields, in the order kernels and files list them.
FIELDS = (
    Field("phase", np.uint8, "phase code (mcsim.phases)"),
    Field("grain", np.int32,
          "primary-grain id of solid voxels; for pores: -1 for an intergranular pore inside "
          "the particle, the grain's id for an intragranular pore (nanopore), 0 outside the "
          "particle; 0 for lithium-source voxels outside the particle"),
    Field("amount", np.uint16,
          "content of the voxel in quanta: for transition-metal phases the TM content, for "
          "lithium sources the Li content, QUANTA_PER_HYDROXIDE_VOXEL quanta being the TM of "
          "one voxel full of TM(OH)2; integers, so transition metal is conserved exactly (the "
          "solid volume fraction follows from the amount and the phase's molar volume)"),
    Field("li", np.float32,
          "mobile lithium, in the same quanta; negative in a layered voxel that formed with "
          "less lithium than it binds (a Li-deficient layered oxide that still draws lithium "
          "in)"),
    Field("disorder", np.uint8, "Li/Ni site disorder of layered voxels, 0..255 for 0..25.5 %"),
)
FIELD_NAMES = tuple(f.name for f in FIELDS)
#: Fields a checkpoint stores, a snapshot writes, a default halo exchange refreshes.
CHECKPOINTED = tuple(f.name for f in FIELDS if f.checkpointed)
WRITTEN = tuple(f.name for f in FIELDS if f.written)
EXCHANGED = tuple(f.name for f in FIELDS if f.exchanged and f.halo)
_HALO = {f.name: f.halo for f in FIELDS}

#: Bytes of the fields per voxel (12).
BYTES_PER_VOXEL = sum(f.itemsize for f in FIELDS)
#: Bytes of the transport kernel's scratch per voxel: two float32 buffers, uint16 face
#: classes, uint8 change flags.
SCRATCH_BYTES_PER_VOXEL = 4 + 4 + 2 + 1


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

    # the arrays of FIELDS, in its order
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
    scratch: list = field(default_factory=list, repr=False)
    codes: np.ndarray | None = field(default=None, repr=False)
    #: uint8 flags set by every kernel that changes a voxel's phase or grain; the transport
    #: step recomputes face classes only around flagged voxels, then clears them.
    dirty: np.ndarray | None = field(default=None, repr=False)
    codes_ready: bool = False
    #: int32 (nz + 2, ny + 2, 2): each row's first and last open voxel, written by the first
    #: transport stage of a step and read by its later stages (8 bytes per row, not per voxel).
    extents: np.ndarray | None = field(default=None, repr=False)
    #: True while the state is the whole lattice (no neighbours to exchange halos with).
    lone: bool = True
    #: The Cartesian communicator of a decomposed lattice (:mod:`mcsim.parallel`), else None;
    #: processes reduce global quantities over it.
    comm: object = field(default=None, repr=False)
    #: The :class:`mcsim.parallel.Decomposition` that exchanges halos, else None.
    decomposition: object = field(default=None, repr=False)
    #: Counts kept up to date by the kernels (e.g. hydroxide voxels left), used to switch off
    #: the time-step limits of processes that have nothing left to act on.
    census: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Interior shape of this subdomain."""
        return tuple(s - 2 for s in self.phase.shape)

    @property
    def n_voxels(self) -> int:
        """Interior voxels of this subdomain."""
        return int(np.prod(self.shape))

    @property
    def n_global_voxels(self) -> int:
        """Voxels of the whole lattice (every subdomain together)."""
        return int(np.prod(self.global_shape))

    def interior(self, name: str) -> np.ndarray:
        """A view of the interior (halo excluded) of field ``name``."""
        if not _HALO.get(name, True):
            return getattr(self, name)
        return getattr(self, name)[1:-1, 1:-1, 1:-1]

    def interior_fields(self, names=FIELD_NAMES) -> dict:
        """Interior views of the named fields (default: every field), by name."""
        return {name: self.interior(name) for name in names}

    @classmethod
    def empty(cls, shape, *, global_shape=None, offset=(0, 0, 0), voxel_nm: float = 10.0,
              center_vox=(0.0, 0.0, 0.0), radius_vox: float = 0.0, time_s: float = 0.0,
              step: int = 0) -> "State":
        """A state of interior ``shape`` whose fields (halo included) are all zero.

        ``global_shape`` defaults to ``shape`` (a lone domain). The caller fills the
        interiors (:meth:`interior`) and then the halo (:meth:`fill_halo`, or a decomposition
        exchanges it).
        """
        shape = tuple(int(n) for n in shape)
        padded = tuple(n + 2 for n in shape)
        arrays = {f.name: np.zeros(padded if f.halo else shape, dtype=f.dtype) for f in FIELDS}
        return cls(**arrays, global_shape=tuple(shape if global_shape is None else global_shape),
                   offset=tuple(offset), voxel_nm=float(voxel_nm), center_vox=tuple(center_vox),
                   radius_vox=float(radius_vox), time_s=time_s, step=step)

    @classmethod
    def from_microstructure(cls, micro, offset=(0, 0, 0), shape=None) -> "State":
        """Build the state of the subdomain ``offset`` + ``shape`` of a generated microstructure."""
        gshape = micro.phase.shape
        shape = tuple(gshape) if shape is None else tuple(shape)
        sl = tuple(slice(o, o + n) for o, n in zip(offset, shape))
        state = cls.empty(shape, global_shape=gshape, offset=offset, voxel_nm=micro.voxel_nm,
                          center_vox=micro.center_vox, radius_vox=micro.radius_vox)
        phase = micro.phase[sl]
        state.interior("phase")[...] = phase
        state.interior("grain")[...] = micro.grain[sl]
        state.interior("amount")[...] = full_amount_table()[phase]
        # Pores inside the particle get grain id -1: lithium moves along their surfaces and
        # molten source may fill them; pores outside (grain 0) are closed. Intragranular pores
        # that form later keep their grain's id.
        zz, yy, xx = np.meshgrid(*(np.arange(o, o + n) for o, n in zip(offset, shape)),
                                 indexing="ij", sparse=True)
        cz, cy, cx = micro.center_vox
        inside = (zz - cz) ** 2 + (yy - cy) ** 2 + (xx - cx) ** 2 <= (micro.radius_vox + 0.5) ** 2
        state.interior("grain")[(phase == ph.PORE) & inside] = -1
        state.fill_halo()
        return state

    @classmethod
    def from_arrays(cls, phase, grain=None, amount=None, li=None, *, voxel_nm: float = 10.0,
                    center_vox=None, radius_vox: float = 0.0) -> "State":
        """A lone-domain state from interior arrays (no halo), for tests and validation.

        ``amount`` defaults to the full amount of each voxel's phase, ``li`` to 0, ``grain`` to
        0; ``center_vox`` to the box centre.
        """
        phase = np.asarray(phase, dtype=np.uint8)
        shape = phase.shape
        if center_vox is None:
            center_vox = tuple((n - 1) / 2 for n in shape)
        state = cls.empty(shape, voxel_nm=voxel_nm, center_vox=center_vox,
                          radius_vox=radius_vox)
        state.interior("phase")[...] = phase
        if grain is not None:
            state.interior("grain")[...] = grain
        state.interior("amount")[...] = full_amount_table()[phase] if amount is None else amount
        if li is not None:
            state.interior("li")[...] = li
        state.fill_halo()
        return state

    def fill_halo(self) -> None:
        """Boundary condition of a lone domain: the halo is inert pore with no lithium."""
        for f in FIELDS:
            if f.halo:
                self._zero_halo(getattr(self, f.name))

    def exchange_halo(self, names=EXCHANGED) -> None:
        """Refresh the halo of the named fields after a kernel wrote them.

        On a lone domain this re-applies the inert boundary; a decomposed lattice replaces
        this method's behaviour by a halo exchange with the neighbouring subdomains.
        """
        if self.lone:
            return
        if self.decomposition is not None:  # one message per direction for all the fields
            self.decomposition.exchange(*(getattr(self, name) for name in names))
            return
        for name in names:
            self.exchange_field(getattr(self, name))

    def face_codes(self) -> np.ndarray:
        """A uint16 array shaped like the fields for the transport kernel's face classes."""
        if self.codes is None or self.codes.shape != self.phase.shape:
            self.codes = np.zeros(self.phase.shape, dtype=np.uint16)
        return self.codes

    def row_extents(self) -> np.ndarray:
        """The int32 array of each row's open extent (:attr:`extents`), allocated once; its
        contents are valid only within one transport step (see
        :func:`mcsim.processes.transport.rkl_stage_kernel`)."""
        shape = (self.phase.shape[0], self.phase.shape[1], 2)
        if self.extents is None or self.extents.shape != shape:
            self.extents = np.zeros(shape, dtype=np.int32)
        return self.extents

    def dirty_flags(self) -> np.ndarray:
        """The uint8 change flags (allocated once, zero on a fresh state)."""
        if self.dirty is None or self.dirty.shape != self.phase.shape:
            self.dirty = np.zeros(self.phase.shape, dtype=np.uint8)
            self.codes_ready = False
        return self.dirty

    def scratch_array(self, which: int = 0) -> np.ndarray:
        """Float32 buffer ``which`` (0 or 1) shaped like ``li``, allocated once, for kernels
        that double- or triple-buffer the lithium field."""
        while len(self.scratch) <= which:
            self.scratch.append(np.zeros_like(self.li))
        return self.scratch[which]

    def adopt_li(self, new: np.ndarray, spares) -> None:
        """Make ``new`` (one of the scratch buffers) the lithium field; the others are scratch."""
        if new is self.li:
            return
        self.scratch = [self.li if b is new else b for b in self.scratch]
        self.li = new

    def exchange_field(self, arr: np.ndarray) -> None:
        """Refresh the halo of one field-shaped array.

        On a lone domain the halo is the inert boundary written by :meth:`fill_halo`, and no
        kernel writes outside the interior, so there is nothing to refresh; a decomposed
        lattice exchanges the neighbours' edge voxels here (edges and corners included; the
        halo outside the global lattice stays zero), see :mod:`mcsim.parallel`.
        """
        if self.lone:
            return
        if self.decomposition is not None:
            self.decomposition.exchange(arr)
            return
        self._zero_halo(arr)

    @staticmethod
    def _zero_halo(arr: np.ndarray) -> None:
        arr[0] = 0
        arr[-1] = 0
        arr[:, 0] = 0
        arr[:, -1] = 0
        arr[:, :, 0] = 0
        arr[:, :, -1] = 0

    def memory_bytes(self) -> int:
        """Bytes held by the fields and scratch of this subdomain."""
        total = sum(getattr(self, n).nbytes for n in FIELD_NAMES)
        for extra in (*self.scratch, self.codes, self.dirty, self.extents):
            total += extra.nbytes if extra is not None else 0
        return total


# every declared field is an attribute of State, in the same order (the first dataclass
# fields), so that State(**arrays, ...) and the declaration cannot drift apart
if tuple(State.__dataclass_fields__)[:len(FIELDS)] != FIELD_NAMES:
    raise TypeError("mcsim.state.FIELDS and the first attributes of State differ")
