"""The layout of a result written over MPI ranks: part files, blocks and virtual datasets.

Under MPI domain decomposition every rank holds one block of the global voxel grid (interior
``local_offset`` ``(z, y, x)`` and ``local_shape``). The blocks must tile the grid exactly
(:func:`check_tiling`). Each rank writes its blocks of every snapshot field into its own part
file; the main file holds, per snapshot and field, an HDF5 virtual dataset (VDS) of the global
shape mapping every rank's block (:func:`_write_virtual_snapshot`). Source files are named by
paths relative to the main file's directory, so the result directory can be moved or copied
as a whole.

File layout of a run on ``n`` > 1 ranks writing ``OUT.h5`` (generation ``G``, see below)::

    OUT.h5                              main file (rank 0), snapshot fields are VDS
    OUT.xmf                             XDMF sidecar, refers to OUT.h5 as for a serial run
    OUT.h5.parts/gen-G.rank-0000.h5     rank 0's blocks: /snapshots/NNNN/<field>
    ...
    OUT.h5.parts/gen-G.rank-<n-1>.h5

Generations: ``G`` (four digits) is one more than the highest generation already present in
``OUT.h5.parts``. A rerun therefore never overwrites the parts an earlier finished ``OUT.h5``
refers to: a rerun that crashes or is aborted leaves the previous result readable, and a
rerun that finishes deletes the part files of every other generation after its main file has
replaced the old one.

Readers: HDF5 does not raise when a source file of a VDS cannot be opened (moved away, or
more parts than the process may hold open at once); it returns the dataset's fill value.
The fill values here are chosen to stand out (:func:`_missing_fill`): the largest value of an
unsigned field (255 for ``phase``, which is no phase code), the most negative of a signed one
(``grain``), NaN for floats. :func:`mcsim.io.result.missing_parts` lists absent parts and
:func:`mcsim.io.result.raise_open_file_limit` lifts the soft limit on open files (often
1024) before a whole field of a run on many ranks is read.
"""

from __future__ import annotations

import math
from pathlib import Path

import h5py
import numpy as np

from mcsim.io.h5write import _write_attrs
from mcsim.io.schema import _NAME_RE, snapshot_dtype


def _missing_fill(dtype) -> object:
    """A fill value that cannot be mistaken for data: what a VDS shows where a part is missing."""
    dtype = np.dtype(dtype)
    if dtype.kind == "u":
        return np.iinfo(dtype).max
    if dtype.kind == "i":
        return np.iinfo(dtype).min
    return np.nan


def _grid(grid_shape) -> tuple[int, int, int]:
    try:
        grid = tuple(int(n) for n in grid_shape)
    except TypeError:
        grid = ()
    if len(grid) != 3 or min(grid) < 1:
        raise ValueError(f"grid_shape must be three positive integers, got {grid_shape!r}")
    return grid


def _block(local_offset, local_shape, grid) -> tuple[tuple, tuple]:
    """Validate one rank's block against the grid; return (offset, shape) as int tuples."""
    try:
        offset = tuple(int(n) for n in local_offset)
        shape = tuple(int(n) for n in local_shape)
    except (TypeError, ValueError):
        offset = shape = ()
    if len(offset) != 3 or len(shape) != 3:
        raise ValueError(f"local_offset and local_shape must be three integers each, got "
                         f"{local_offset!r} and {local_shape!r}")
    if min(offset) < 0 or min(shape) < 0 or any(o + s > g for o, s, g in
                                                zip(offset, shape, grid)):
        raise ValueError(f"block at local_offset {offset} of local_shape {shape} does not lie "
                         f"inside the grid {grid}")
    return offset, shape


def check_tiling(grid_shape, offsets, shapes) -> None:
    """Check that blocks tile a grid exactly: inside it, disjoint, and covering every voxel.

    Parameters
    ----------
    grid_shape : tuple of int
        Global grid ``(n0, n1, n2)``.
    offsets, shapes : array_like of int, shape (n_ranks, 3)
        Each rank's block origin and extent; empty blocks (a zero extent) are allowed.

    Raises
    ------
    ValueError
        Naming the first rank whose block leaves the grid, the first overlapping pair, or the
        number of voxels covered when some are not. The check costs O(n_ranks**2 / 2) small
        vector operations: 0.2 s for 4096 ranks, 1.5 s for 10648 (measured on 2 cores).
    """
    grid = np.asarray(_grid(grid_shape), dtype=np.int64)

    def text(row):
        return str(tuple(int(n) for n in row))

    lo = np.asarray(offsets, dtype=np.int64).reshape(-1, 3)
    ext = np.asarray(shapes, dtype=np.int64).reshape(-1, 3)
    hi = lo + ext
    outside = np.flatnonzero(((lo < 0) | (ext < 0) | (hi > grid)).any(axis=1))
    if outside.size:
        r = int(outside[0])
        raise ValueError(f"rank {r}: block at {text(lo[r])} of shape {text(ext[r])} does not "
                         f"lie inside the grid {text(grid)}")
    nonempty = ext.prod(axis=1) > 0
    for r in np.flatnonzero(nonempty):
        others = slice(r + 1, None)
        overlap = (np.minimum(hi[r], hi[others]) > np.maximum(lo[r], lo[others])).all(axis=1)
        overlap &= nonempty[others]
        if overlap.any():
            s = r + 1 + int(np.flatnonzero(overlap)[0])
            raise ValueError(f"the blocks of ranks {r} (at {text(lo[r])}, shape "
                             f"{text(ext[r])}) and {s} (at {text(lo[s])}, shape "
                             f"{text(ext[s])}) overlap")
    covered = int(ext.prod(axis=1).sum())
    if covered != int(grid.prod()):
        raise ValueError(f"the ranks' blocks cover {covered} voxels, the grid {text(grid)} "
                         f"has {int(grid.prod())}: they must tile it exactly")


def _local_array(name: str, value, shape: tuple) -> np.ndarray:
    """One rank's block of a snapshot field, checked and converted as ResultWriter does."""
    if not _NAME_RE.match(name):
        raise ValueError(f"snapshot field name {name!r} is not an identifier")
    arr = np.asarray(value)
    if arr.shape != shape:
        raise ValueError(f"snapshot field {name!r} has shape {arr.shape}, expected this "
                         f"rank's local_shape {shape}")
    return snapshot_dtype(name, arr)


def _write_virtual_snapshot(self, time_s: float, temperature_c: float, dtypes: dict,
                            sources: list, attrs: dict | None = None) -> int:
    """Write ``/snapshots/NNNN`` of the ResultWriter ``self`` with one VDS per field mapping
    every rank's block.

    ``dtypes`` maps field name to dtype; ``sources`` lists ``(file, offset, shape)`` per
    rank, ``file`` relative to the main file's directory. Returns the index ``NNNN``.
    """
    self._check_open()
    self._flush_timeseries()
    index = self._n_snapshots
    key = f"{index:04d}"
    group = self._file.require_group("snapshots").create_group(key)
    group.attrs["time_s"] = float(time_s)
    group.attrs["temperature_c"] = float(temperature_c)
    _write_attrs(group, attrs or {})
    for name, dtype in dtypes.items():
        layout = h5py.VirtualLayout(shape=self.grid_shape, dtype=dtype)
        for file_name, offset, shape in sources:
            if math.prod(shape) == 0:
                continue
            target = tuple(slice(o, o + s) for o, s in zip(offset, shape))
            layout[target] = h5py.VirtualSource(file_name, f"/snapshots/{key}/{name}",
                                                shape=shape, dtype=dtype)
        group.create_virtual_dataset(name, layout, fillvalue=_missing_fill(dtype))
    self._n_snapshots += 1
    self._flush_file()  # refuses after a failed write (see ResultWriter.failed)
    return index


def _referenced_parts(main) -> set:
    """Names of the part files the snapshot virtual datasets of ``main`` (an open
    ResultWriter) read: after a restart these include an earlier segment's parts."""
    names = set()
    snaps = main._file.get("snapshots")
    if snaps is None:
        return names
    for group in snaps.values():
        for dset in group.values():
            if isinstance(dset, h5py.Dataset) and dset.is_virtual:
                names.update(Path(v.file_name).name for v in dset.virtual_sources())
    return names
