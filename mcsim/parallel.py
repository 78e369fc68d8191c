"""MPI domain decomposition of one particle: blocks, halo exchange and deterministic reductions.

Decomposition
-------------
The global lattice ``(gz, gy, gx)`` is split over a Cartesian grid of ranks
``dims = MPI.Compute_dims(size, 3)`` (non-periodic, ``Create_cart`` without reordering, so a
rank's number is its rank in the communicator it was given). Along each axis the blocks
follow the ``np.array_split`` rule: an edge of ``n`` voxels over ``p`` ranks gives the first
``n % p`` ranks ``n // p + 1`` voxels and the rest ``n // p``. Every rank holds its block plus
a one-voxel halo (:class:`mcsim.state.State`). A block may not be empty: asking for more ranks
along an axis than it has voxels is an error.

Halo exchange
-------------
:meth:`Decomposition.exchange` refreshes the halo of one field-shaped array in three passes,
z, then y, then x. Each pass sends the interior's first and last plane normal to its axis to
the lower and upper neighbour and receives their planes into the halo; a plane spans the full
extent of the other two axes, halo included, so after the y pass the z-halo rows are complete
and after the x pass every edge and corner of the halo holds the right neighbour's voxel
(26-neighbour stencils see consistent data). The planes of several fields (all five state
fields after a kernel that changes them) are packed into one contiguous byte buffer and sent
as one message per direction and pass (buffer-based ``Sendrecv``, no pickling): a message
costs latency, so fewer, larger messages are cheaper; ``Sendrecv`` pairs the two directions
so no rank waits on another's order. A side with no neighbour (outside the global lattice)
keeps the inert boundary: that halo plane is set to zero. On one rank there are no
neighbours and :class:`~mcsim.state.State` skips the call altogether (``lone``).

Deterministic reductions
------------------------
Every diagnostic must come out bit-identical for any decomposition, so nothing is reduced as a
float sum whose rounding depends on how the lattice was cut:

* integer counts, amounts and tallies are summed as int64 with ``Allreduce`` (exact);
* float32 fields (mobile lithium) are summed in fixed point: each voxel's value is scaled by
  2^:data:`FIXED_POINT_BITS` (exact in float64) and truncated toward zero to an int64
  ``v``; the sum is kept as two int64 words, ``sum(v >> 32)`` and ``sum(v & (2^32 - 1))``,
  which makes the total an exact integer of about 96 bits whatever the summation order. The
  words are reduced over ranks as integers and the float is formed once, from the exact
  integer (correctly rounded). Values below 2^-32 quanta per voxel are truncated, identically
  for every split; |value| must stay below 2^31 quanta (a voxel holds at most 65535);
* projected images are summed in int64 on the global image grid (each rank fills its own
  rows and columns, the rest are zero) and reduced with ``Allreduce``.

The module imports mpi4py only when a communicator is used, so a lone run never needs MPI.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

from mcsim.state import State

#: Fraction bits of the fixed-point float sums (see the module docstring).
FIXED_POINT_BITS = 32
_LOW_MASK = (1 << 32) - 1

#: Environment variable that overrides the process grid, e.g. ``MCSIM_MPI_DIMS=1,1,3``
#: (tests and tuning; its product must equal the number of ranks).
DIMS_ENV = "MCSIM_MPI_DIMS"


def split_extent(n: int, parts: int, index: int) -> tuple[int, int]:
    """(start, length) of block ``index`` of an edge of ``n`` voxels cut into ``parts``.

    The ``np.array_split`` rule: the first ``n % parts`` blocks are one voxel longer.
    """
    base, extra = divmod(int(n), int(parts))
    start = index * base + min(index, extra)
    return start, base + (1 if index < extra else 0)


def dims_from_env(size: int):
    """The process grid named by :data:`DIMS_ENV`, or None when it is not set."""
    text = os.environ.get(DIMS_ENV, "").strip()
    if not text:
        return None
    try:
        dims = [int(t) for t in text.replace("x", ",").split(",")]
    except ValueError:
        raise ValueError(f"{DIMS_ENV}={text!r}: must be three integers, e.g. 2,1,1") from None
    if len(dims) != 3 or min(dims) < 1 or math.prod(dims) != size:
        raise ValueError(f"{DIMS_ENV}={text!r}: must be three positive integers whose product "
                         f"is the number of ranks ({size})")
    return dims


class Decomposition:
    """This rank's block of the global lattice on a Cartesian process grid, and its neighbours.

    Parameters
    ----------
    comm : mpi4py.MPI.Intracomm
        The ranks that share the lattice (usually ``MPI.COMM_WORLD``).
    global_shape : tuple of int
        ``(gz, gy, gx)`` of the whole lattice.
    dims : sequence of int, optional
        Process grid; default ``MPI.Compute_dims(size, 3)`` (or :data:`DIMS_ENV` when set).

    Attributes
    ----------
    cart : mpi4py.MPI.Cartcomm
        The Cartesian communicator (non-periodic); collectives use it.
    rank, size, dims, coords
        This rank, the number of ranks, the grid and this rank's place in it.
    offset, shape : tuple of int
        Global index of this block's first interior voxel, and the block's interior shape.
    neighbours : list of (int, int)
        (lower, upper) neighbour rank along z, y, x; ``MPI.PROC_NULL`` at the lattice's edge.
    lone : bool
        True on a single rank (no neighbours: :meth:`exchange` has nothing to do).
    seconds : float
        Wall time spent in :meth:`exchange` so far.
    """

    def __init__(self, comm, global_shape, dims=None):
        from mpi4py import MPI

        self._mpi = MPI
        self.global_shape = tuple(int(n) for n in global_shape)
        self.size = comm.Get_size()
        if dims is None:
            dims = dims_from_env(self.size)
        dims = list(dims) if dims is not None else MPI.Compute_dims(self.size, 3)
        for axis, (d, n) in enumerate(zip(dims, self.global_shape)):
            if d > n:
                raise ValueError(f"cannot split axis {axis} of the {self.global_shape} lattice "
                                 f"over {d} ranks (process grid {dims}): a block would be empty")
        self.dims = tuple(int(d) for d in dims)
        self.cart = comm.Create_cart(list(self.dims), periods=[False] * 3, reorder=False)
        self.rank = self.cart.Get_rank()
        self.coords = tuple(self.cart.Get_coords(self.rank))
        self.offset, self.shape = self.block(self.coords)
        self.neighbours = [self.cart.Shift(axis, 1) for axis in range(3)]
        self.lone = self.size == 1
        self.seconds = 0.0
        self._buf = None

    # -- geometry --------------------------------------------------------------------------
    def block(self, coords) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        """(offset, shape) of the block at grid coordinates ``coords``."""
        parts = [split_extent(n, d, c) for n, d, c in zip(self.global_shape, self.dims, coords)]
        return tuple(p[0] for p in parts), tuple(p[1] for p in parts)

    def blocks(self) -> list:
        """(offset, shape) of every rank's block, indexed by rank."""
        return [self.block(self.cart.Get_coords(r)) for r in range(self.size)]

    def local_state(self, micro):
        """This rank's :class:`mcsim.state.State` from a generated microstructure: cut from
        the whole particle, or made of this rank's block when the generator built only
        that (:attr:`mcsim.generator.Microstructure.offset`)."""
        if tuple(micro.phase.shape) != self.global_shape:
            if tuple(micro.offset) != self.offset or tuple(micro.phase.shape) != self.shape:
                raise ValueError(f"the generated block at {tuple(micro.offset)} of shape "
                                 f"{micro.phase.shape} is not this rank's block at "
                                 f"{self.offset} of shape {self.shape}")
            micro = _BlockView(micro, self.global_shape)
        state = State.from_microstructure(micro, offset=self.offset, shape=self.shape)
        self.attach(state)
        return state

    def attach(self, state) -> None:
        """Make ``state`` exchange its halo through this decomposition."""
        state.comm = self.cart
        state.decomposition = self
        state.lone = self.lone
        if not self.lone:
            state.exchange_halo()

    def free(self) -> None:
        """Release the Cartesian communicator."""
        if self.cart is not None:
            self.cart.Free()
            self.cart = None

    # -- halo exchange ---------------------------------------------------------------------
    def _buffers(self, nbytes: int):
        """Four byte buffers (send down, receive from above, send up, receive from below)."""
        if self._buf is None or self._buf.shape[1] < nbytes:
            self._buf = np.empty((4, nbytes), dtype=np.uint8)
        return self._buf[:, :nbytes]

    def exchange(self, *arrays: np.ndarray) -> None:
        """Fill the one-voxel halo of each of ``arrays`` (fields with halo, any dtypes, the
        same shape) from the neighbours' edge voxels.

        Three passes (z, y, x), each sending whole planes including the halo of the other two
        axes, so edges and corners are filled; halo planes outside the lattice are zeroed.
        The planes of all the arrays travel packed in one message per direction and pass.
        """
        t0 = time.perf_counter()
        null = self._mpi.PROC_NULL
        shape = arrays[0].shape
        for axis in range(3):
            lower, upper = self.neighbours[axis]
            n = shape[axis] - 2
            if lower != null or upper != null:
                plane_items = math.prod(shape) // shape[axis]
                sizes = [plane_items * a.itemsize for a in arrays]
                bufs = self._buffers(sum(sizes))
                send_dn, recv_up, send_up, recv_dn = bufs
                if lower != null:
                    self._pack(send_dn, arrays, sizes, axis, 1)
                if upper != null:
                    self._pack(send_up, arrays, sizes, axis, n)
                # own first planes down, upper halo from above; then own last planes up,
                # lower halo from below
                self.cart.Sendrecv(send_dn, lower, 17 + axis, recv_up, upper, 17 + axis)
                self.cart.Sendrecv(send_up, upper, 23 + axis, recv_dn, lower, 23 + axis)
                if upper != null:
                    self._unpack(recv_up, arrays, sizes, axis, n + 1)
                if lower != null:
                    self._unpack(recv_dn, arrays, sizes, axis, 0)
            for arr in arrays:
                if lower == null:
                    _plane(arr, axis, 0)[...] = 0
                if upper == null:
                    _plane(arr, axis, n + 1)[...] = 0
        self.seconds += time.perf_counter() - t0

    @staticmethod
    def _pack(buf, arrays, sizes, axis, index):
        pos = 0
        for arr, size in zip(arrays, sizes):
            plane = _plane(arr, axis, index)
            buf[pos:pos + size].view(arr.dtype).reshape(plane.shape)[...] = plane
            pos += size

    @staticmethod
    def _unpack(buf, arrays, sizes, axis, index):
        pos = 0
        for arr, size in zip(arrays, sizes):
            plane = _plane(arr, axis, index)
            plane[...] = buf[pos:pos + size].view(arr.dtype).reshape(plane.shape)
            pos += size

    # -- reductions ------------------------------------------------------------------------
    def allreduce_int(self, values: np.ndarray) -> np.ndarray:
        """Sum an int64 array over ranks (exact); a new array."""
        return allreduce_int(self.cart, values)


class _BlockArray:
    """A block's array seen as the global array it is part of: ``shape`` is the global
    shape and indexing with the block's own slices gives the block (nothing else)."""

    def __init__(self, array, offset, global_shape):
        self._array = array
        self._slices = tuple(slice(o, o + n) for o, n in zip(offset, array.shape))
        self.shape = tuple(global_shape)
        self.dtype = array.dtype

    def __getitem__(self, key):
        if tuple(key) != self._slices:
            raise IndexError(f"only the block {self._slices} of this array is held here")
        return self._array


class _BlockView:
    """A generated block (:class:`mcsim.generator.Microstructure` with ``offset``) in the
    form :meth:`mcsim.state.State.from_microstructure` takes for a whole particle."""

    def __init__(self, micro, global_shape):
        self.phase = _BlockArray(micro.phase, micro.offset, global_shape)
        self.grain = _BlockArray(micro.grain, micro.offset, global_shape)
        self.voxel_nm = micro.voxel_nm
        self.center_vox = micro.center_vox
        self.radius_vox = micro.radius_vox


def _plane(arr: np.ndarray, axis: int, index: int) -> np.ndarray:
    sl = [slice(None)] * 3
    sl[axis] = index
    return arr[tuple(sl)]


def allreduce_int(comm, values) -> np.ndarray:
    """Sum an integer array over the ranks of ``comm`` (exact int64); identity when ``comm`` is
    None or has one rank. Returns a new int64 array."""
    out = np.array(values, dtype=np.int64)
    if comm is None or comm.Get_size() == 1:
        return out
    from mpi4py import MPI

    comm.Allreduce(MPI.IN_PLACE, out, op=MPI.SUM)
    return out


def fixed_point_total(hi, lo, comm=None) -> float:
    """The float value of fixed-point partial sums ``hi`` and ``lo`` (int64 arrays whose
    elements are sums of ``v >> 32`` and ``v & (2^32 - 1)`` of the scaled values ``v``),
    summed over every element and every rank of ``comm`` exactly, rounded once.

    The result does not depend on how the values were split into elements or ranks.
    """
    h = int(np.sum(np.asarray(hi, dtype=np.int64), dtype=np.int64))
    lsum = int(np.sum(np.asarray(lo, dtype=np.int64), dtype=np.int64))
    h += lsum >> 32  # carry: the low word stays below 2^32 before the reduction
    words = allreduce_int(comm, [h, lsum & _LOW_MASK])
    total = (int(words[0]) << 32) + int(words[1])
    return float(total) / 2.0 ** FIXED_POINT_BITS  # int -> float is correctly rounded


def fixed_point_sum(values, comm=None) -> float:
    """Deterministic sum of a float array over ranks by the fixed-point rule (NumPy version,
    for small arrays and tests; the census kernel does the same per voxel)."""
    v = np.trunc(np.asarray(values, dtype=np.float64).ravel()
                 * 2.0 ** FIXED_POINT_BITS).astype(np.int64)
    return fixed_point_total(v >> 32, v & _LOW_MASK, comm)


def allreduce_image(comm, image: np.ndarray, offset_yx, global_yx) -> np.ndarray:
    """Place a rank's (ny, nx, k) int64 image block at ``offset_yx`` of a zero global image of
    ``global_yx`` and sum it over the ranks of ``comm`` (exact)."""
    if comm is None or comm.Get_size() == 1:
        if tuple(image.shape[:2]) == tuple(global_yx):
            return image
    out = np.zeros((*global_yx, *image.shape[2:]), dtype=np.int64)
    oy, ox = offset_yx
    out[oy:oy + image.shape[0], ox:ox + image.shape[1]] = image
    if comm is None or comm.Get_size() == 1:
        return out
    from mpi4py import MPI

    comm.Allreduce(MPI.IN_PLACE, out, op=MPI.SUM)
    return out


def gather_field(decomp: "Decomposition", local: np.ndarray, root: int = 0):
    """Assemble a field's interior blocks into the global array on ``root`` (None elsewhere).

    The stop-gap snapshot path until the parallel HDF5 writer is used: the root needs memory
    for one whole field at a time.
    """
    local = np.ascontiguousarray(local)
    cart = decomp.cart
    if decomp.size == 1:
        return local
    if decomp.rank != root:
        cart.Send(local, dest=root, tag=31)
        return None
    out = np.empty(decomp.global_shape, dtype=local.dtype)
    for r, (off, shape) in enumerate(decomp.blocks()):
        sl = tuple(slice(o, o + n) for o, n in zip(off, shape))
        if r == root:
            out[sl] = local
        else:
            buf = np.empty(shape, dtype=local.dtype)
            cart.Recv(buf, source=r, tag=31)
            out[sl] = buf
    return out
