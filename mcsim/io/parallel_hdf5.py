"""Scalable result files for MPI runs: one part file per rank, joined by HDF5 virtual datasets.

:class:`ParallelResultWriter` writes the same documented layout as
:class:`mcsim.io.writer.ResultWriter` (``/snapshots/NNNN/<field>`` of the global shape, see
``mcsim/io/SCHEMA.md``) without ever gathering the lattice on one rank:

* Each rank writes its own blocks of every snapshot field into its own part file, chunked
  (at most 64 per axis) and gzip-compressed (level 4, shuffle) as ResultWriter does.
* Rank 0 owns the main file: attributes, ``/config``, ``/provenance``, ``/timeseries``, the
  report groups and, per snapshot and field, an HDF5 *virtual dataset* (VDS) of the global
  shape whose mappings point at every rank's block in the part files. The block offsets are
  gathered once (``comm.allgather``) when the writer is created. HDF5 (>= 1.10) reads a VDS
  like an ordinary dataset, so h5py, ``mcsim info``, ``analysis/*.py`` and the XDMF sidecar
  work unchanged.

The file layout (``OUT.h5.parts/gen-G.rank-R.h5``), the generations of part files and what a
reader sees where a part is missing are described in :mod:`mcsim.io.parallel_layout`; the
names of this module that read results (:func:`part_files`, :func:`missing_parts`,
:func:`raise_open_file_limit`) live in :mod:`mcsim.io.result` and the layout helpers
(:func:`check_tiling`, :func:`parts_dir`, :func:`part_name`) in
:mod:`mcsim.io.parallel_layout` and :mod:`mcsim.io.schema`; all are importable from here.

While the run is going every file carries the ``.partial`` suffix and ``complete=False``.
:meth:`ParallelResultWriter.finish` is collective: every rank marks its part complete,
fsyncs it and renames it into place; the ranks then agree (an ``allgather`` of each rank's
outcome, which is also the barrier) and only then does rank 0 finish the main file
(``complete=True``, fsync, atomic rename, XDMF sidecar). So a finished main file never
points at an unfinished part. A rerun that crashes or is aborted leaves the previous result
readable, exactly as with ResultWriter.

Memory per rank: the block-sized fields it passes, plus at most one block-sized temporary
per field while it is written (a dtype conversion, or h5py's contiguous copy of an interior
view that excludes the halo; ResultWriter does the same for the whole grid) and HDF5's chunk
buffers. Rank 0 additionally holds the time-series buffer and, while creating a snapshot,
the VDS mapping list (``n`` mappings per field, a few hundred bytes each). No rank ever
allocates a global-shape array.

Calls other than :meth:`~ParallelResultWriter.write_snapshot` and
:meth:`~ParallelResultWriter.finish` concern the main file only: on ranks other than 0,
``append_timeseries``, ``describe`` and ``write_group`` check that the writer is open and do
nothing else. The caller passes global (already reduced) values; rank 0's are written.

With ``comm`` None or of size 1 the writer is a plain ResultWriter (same single file,
bit-identical content); the block must then be the whole grid.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import h5py
import numpy as np

from mcsim.io.failures import guarded as _guarded
from mcsim.io.failures import h5_failures, io_failure
from mcsim.io.h5write import _fsync_path, _write_attrs  # noqa: F401
from mcsim.io.parallel_layout import (  # noqa: F401 - re-exported
    _block,
    _grid,
    _local_array,
    _missing_fill,
    _referenced_parts,
    _write_virtual_snapshot,
    check_tiling,
)
from mcsim.io.result import (  # noqa: F401 - re-exported
    missing_parts,
    part_files,
    raise_open_file_limit,
    virtual_sources,
)
from mcsim.io.schema import (  # noqa: F401 - re-exported
    _ALLOWED_KINDS,
    _GZIP_LEVEL,
    _MAX_CHUNK_EDGE,
    _NAME_RE,
    _PART_RE,
    _REQUIRED_FIELDS,
    _SNAPSHOT_DTYPES,
    PARTIAL_SUFFIX,
    PARTS_SUFFIX,
    part_name,
    partial_path,
    parts_dir,
)
from mcsim.io.writer import ResultWriter


def _portable(exc: BaseException | None):
    """An exception as (class, message) that pickles across ranks; None stays None."""
    if exc is None:
        return None
    cls = next((c for c in (ValueError, TypeError, OSError) if isinstance(exc, c)),
               RuntimeError)
    return cls, f"{type(exc).__name__}: {exc}" if cls is RuntimeError else str(exc)


#: :func:`_write_virtual_snapshot` stopping at the first failed write (ResultWriter.failed).
_guarded_virtual_snapshot = _guarded(_write_virtual_snapshot)


class _MainWriter(ResultWriter):
    """ResultWriter of rank 0, which can also write a snapshot made of virtual datasets."""

    write_virtual_snapshot = _guarded_virtual_snapshot


class ParallelResultWriter:
    """Write one run from many MPI ranks: main file on rank 0, one part file per rank.

    Same public methods as :class:`mcsim.io.hdf5.ResultWriter`. The finish protocol and the
    memory per rank are described in the module docstring, the file layout in
    :mod:`mcsim.io.parallel_layout`. With ``comm``
    None or of size 1 every call goes to a ResultWriter at ``path``.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm or None
        Communicator of the ranks that share the grid. Only ``Get_rank``, ``Get_size``,
        ``allgather`` and ``bcast`` are used.
    path : str or os.PathLike
        Main result file, conventionally ``*.h5``; the same on every rank.
    local_offset : tuple of int
        ``(z, y, x)`` global index of this rank's first interior voxel.
    local_shape : tuple of int
        Shape of this rank's interior block. The blocks of all ranks must tile ``grid_shape``
        exactly (checked when the writer is created; empty blocks are allowed).
    **resultwriter_kwargs
        ``config_toml``, ``seed``, ``mcsim_version``, ``provenance``, ``grid_shape``,
        ``voxel_nm``, ``phases``, ``buffer_rows`` as for ResultWriter (used by rank 0; every
        rank needs ``grid_shape``).
    resume_main : mcsim.io.hdf5.ResultWriter, optional
        Rank 0 of a restarted run: the main file reopened by
        :meth:`mcsim.io.hdf5.ResultWriter.resume` (the other ranks pass None). Snapshots
        continue its numbering in a new generation of part files; the earlier segment's
        parts, which its snapshots read, are kept.

    Raises
    ------
    ValueError
        On every rank alike, if any rank's block is malformed or the blocks do not tile the
        grid (before any file is created), or if rank 0 rejects the ResultWriter arguments.

    Notes
    -----
    Creation, :meth:`write_snapshot` and :meth:`finish` are collective: every rank must call
    them in the same order. An error on any rank in these is raised on every rank (as the same
    exception class, prefixed with the failing rank), so the ranks never deadlock over it.
    :meth:`abort` is local and never communicates; a rank that aborts while others are in a
    collective call should end the job (``comm.Abort()``, or ``python -m mpi4py``).

    Examples
    --------
    >>> from mpi4py import MPI                                   # doctest: +SKIP
    >>> with ParallelResultWriter(MPI.COMM_WORLD, "run.h5", local_offset=off,
    ...                           local_shape=block.shape, grid_shape=global_shape,
    ...                           config_toml=text, seed=1, mcsim_version="0.1.0",
    ...                           provenance={"mpi_ranks": MPI.COMM_WORLD.size},
    ...                           voxel_nm=10.0) as w:
    ...     w.append_timeseries(0.0, 25.0, global_fractions)   # rank 0's row is kept
    ...     w.write_snapshot(0.0, 25.0, {"phase": phase_block, "grain": grain_block})
    ...     w.finish()
    """

    def __init__(self, comm, path, *, local_offset, local_shape, resume_main=None,
                 **resultwriter_kwargs):
        self.path = Path(path)
        self.partial = partial_path(self.path)
        self.comm = comm
        self.rank = 0 if comm is None else int(comm.Get_rank())
        self.n_ranks = 1 if comm is None else int(comm.Get_size())
        self.parts_dir = parts_dir(self.path)
        self.part_path: Path | None = None
        self.generation: int | None = None
        self._serial: ResultWriter | None = None
        self._main: _MainWriter | None = None
        self._part: h5py.File | None = None
        self._n_snapshots = 0
        self._state = "open"

        if self.n_ranks == 1:
            if resume_main is not None:
                raise ValueError("resume_main is for several ranks; one rank continues with the "
                                 "resumed ResultWriter itself")
            grid = _grid(resultwriter_kwargs.get("grid_shape"))
            offset, shape = _block(local_offset, local_shape, grid)
            if offset != (0, 0, 0) or shape != grid:
                raise ValueError(f"a single rank must hold the whole grid {grid}: got "
                                 f"local_offset {offset}, local_shape {shape}")
            self.grid_shape, self.local_offset, self.local_shape = grid, offset, shape
            self._serial = ResultWriter(path, **resultwriter_kwargs)
            return

        # 1. every rank checks its block; rank 0 picks the generation; nothing is created yet
        error = block = generation = None
        resumed = 0
        try:
            grid = _grid(resultwriter_kwargs.get("grid_shape"))
            block = _block(local_offset, local_shape, grid)
            if self.rank == 0:
                generation = self._next_generation()
                if resume_main is not None:
                    resumed = int(resume_main._n_snapshots)
        except (ValueError, OSError) as exc:
            error = exc
        gathered = comm.allgather((_portable(error), block, (generation, resumed)))
        self._raise_first([g[0] for g in gathered], error)
        self.grid_shape = grid
        self.local_offset, self.local_shape = block
        self.generation, self._n_snapshots = gathered[0][2]
        self._blocks = [g[1] for g in gathered]  # (offset, shape) of every rank
        check_tiling(grid, [b[0] for b in self._blocks], [b[1] for b in self._blocks])

        # 2. rank 0 opens the main file, every rank its part file; all succeed or all raise
        self.part_path = self.parts_dir / part_name(self.generation, self.rank)
        error = None
        try:
            if self.rank == 0:
                self._main = resume_main if resume_main is not None else \
                    _MainWriter(path, **resultwriter_kwargs)
            self.parts_dir.mkdir(parents=True, exist_ok=True)
            self._part = h5py.File(partial_path(self.part_path), "w")
            attrs = self._part.attrs
            attrs["complete"] = np.bool_(False)
            attrs["main_file"] = self.path.name
            attrs["generation"] = np.int64(self.generation)
            attrs["rank"] = np.int64(self.rank)
            attrs["n_ranks"] = np.int64(self.n_ranks)
            attrs["grid_shape"] = np.asarray(self.grid_shape, dtype=np.int64)
            attrs["local_offset"] = np.asarray(self.local_offset, dtype=np.int64)
            attrs["local_shape"] = np.asarray(self.local_shape, dtype=np.int64)
            self._part.create_group("snapshots")
            self._part.flush()
        except Exception as exc:  # noqa: BLE001 - reported to every rank below
            error = exc
        try:
            self._agree(error)
        except BaseException:
            self._close_local()
            raise
        # names relative to the main file's directory: HDF5 resolves a relative source name
        # against the directory of the file holding the VDS before trying the cwd
        self._sources = [(f"{self.parts_dir.name}/{part_name(self.generation, r)}", off, shp)
                         for r, (off, shp) in enumerate(self._blocks)]

    # -- collective helpers ----------------------------------------------------------------
    @property
    def main_file_writer(self):
        """The writer of the main result file on this rank (the serial writer on one rank,
        rank 0's main-file writer on several), or None on the other ranks."""
        return self._serial if self._serial is not None else self._main

    @property
    def has_part(self) -> bool:
        """Whether this rank writes a part file (several ranks)."""
        return self._part is not None

    def flush_part(self) -> None:
        """Flush this rank's part file to disk (before it is copied)."""
        self._part.flush()

    def _next_generation(self) -> int:
        """One more than the highest generation of part files already in ``parts_dir``."""
        highest = 0
        if self.parts_dir.is_dir():
            for entry in os.scandir(self.parts_dir):
                m = _PART_RE.match(entry.name)
                if m:
                    highest = max(highest, int(m.group(1)))
        return highest + 1

    def _raise_first(self, portable_errors: list, own: BaseException | None) -> None:
        """Raise, on every rank alike, the error of the lowest failing rank (if any)."""
        for r, item in enumerate(portable_errors):
            if item is not None:
                cls, message = item
                raise cls(f"rank {r} of {self.n_ranks}: {message}") from own
        return None

    def _agree(self, error: BaseException | None) -> None:
        """Collective: every rank learns whether any rank failed; the first error is raised."""
        self._raise_first(self.comm.allgather(_portable(error)), error)

    def _close_local(self) -> None:
        """Close this rank's files without marking anything complete (no communication)."""
        part, self._part = self._part, None
        try:
            if part is not None:
                part.close()
        finally:
            if self._main is not None:
                self._main.abort()

    def _check_open(self) -> None:
        if self._state != "open":
            raise RuntimeError(f"ParallelResultWriter for {self.path} is already {self._state}")

    # -- context manager -------------------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if self._serial is not None:
            return self._serial.__exit__(exc_type, exc, tb)
        if self._state != "open":
            return False
        if exc_type is None:
            warnings.warn(f"ParallelResultWriter for {self.path} left without finish(); rank "
                          f"{self.rank} keeps its files as .partial with complete=False",
                          RuntimeWarning, stacklevel=2)
        self.abort()
        return False

    # -- main-file calls (rank 0 writes, the others only check the state) ------------------
    def append_timeseries(self, time_s: float, temperature_c: float, phase_fraction,
                          **extra) -> None:
        """Append one row to ``/timeseries``; see :meth:`ResultWriter.append_timeseries`.

        Rank 0's values are written; on other ranks the call does nothing. Pass global
        (reduced) values.
        """
        if self._serial is not None:
            return self._serial.append_timeseries(time_s, temperature_c, phase_fraction,
                                                  **extra)
        self._check_open()
        if self._main is not None:
            self._main.append_timeseries(time_s, temperature_c, phase_fraction, **extra)
        return None

    def describe(self, name: str, *, units: str | None = None,
                 description: str | None = None, **attrs) -> None:
        """Set attributes of ``/timeseries/<name>`` (rank 0); see :meth:`ResultWriter.describe`."""
        if self._serial is not None:
            return self._serial.describe(name, units=units, description=description, **attrs)
        self._check_open()
        if self._main is not None:
            self._main.describe(name, units=units, description=description, **attrs)
        return None

    def write_group(self, path: str, datasets: dict, attrs: dict | None = None):
        """Write a report group to the main file (rank 0); see :meth:`ResultWriter.write_group`.

        Returns
        -------
        h5py.Group or None
            The group on rank 0 (or a serial writer), None on the other ranks.
        """
        if self._serial is not None:
            return self._serial.write_group(path, datasets, attrs)
        self._check_open()
        if self._main is not None:
            return self._main.write_group(path, datasets, attrs)
        return None

    # -- snapshots (collective) ------------------------------------------------------------
    def write_snapshot(self, time_s: float, temperature_c: float, fields: dict,
                       attrs: dict | None = None) -> int:
        """Write this rank's block of every field of snapshot ``NNNN``; collective.

        Parameters
        ----------
        time_s : float
            Simulated time, s (rank 0's value is stored).
        temperature_c : float
            Furnace temperature, degC (rank 0's value is stored).
        fields : dict of str to ndarray
            This rank's interior block of each field, of shape ``local_shape`` (no halo):
            at least ``phase`` (stored uint8) and ``grain`` (stored int32); further numeric
            fields keep their dtype. Every rank must pass the same names with the same
            dtypes.
        attrs : dict, optional
            Extra snapshot-group attributes (rank 0's are stored).

        Returns
        -------
        int
            The snapshot index ``NNNN``, the same on every rank.

        Raises
        ------
        ValueError
            On every rank, if any rank's fields are missing, misshapen or of a bad dtype, or
            the ranks disagree on names or dtypes. Nothing is written in that case.
        OSError
            On every rank, if writing failed on any rank; every rank has then aborted.
        """
        if self._serial is not None:
            return self._serial.write_snapshot(time_s, temperature_c, fields, attrs)
        self._check_open()
        error = signature = None
        try:
            missing = [name for name in _REQUIRED_FIELDS if name not in fields]
            if missing:
                raise ValueError(f"snapshot lacks required field(s) {missing}")
            arrays = {name: _local_array(name, value, self.local_shape)
                      for name, value in fields.items()}
            signature = {name: arr.dtype.str for name, arr in arrays.items()}
        except (ValueError, TypeError) as exc:
            error = exc
        gathered = self.comm.allgather((_portable(error), signature))
        self._raise_first([g[0] for g in gathered], error)
        for r, (_, other) in enumerate(gathered):
            if other != gathered[0][1]:
                raise ValueError(f"ranks disagree on the snapshot fields: rank 0 passes "
                                 f"{gathered[0][1]}, rank {r} passes {other}")

        index = self._n_snapshots
        key = f"{index:04d}"
        error = None
        try:
            with h5_failures() as caught:  # failed writes h5py only reports on releasing
                group = self._part["snapshots"].create_group(key)
                group.attrs["time_s"] = float(time_s)
                group.attrs["temperature_c"] = float(temperature_c)
                chunks = tuple(max(1, min(n, _MAX_CHUNK_EDGE)) for n in self.local_shape)
                for name, arr in arrays.items():
                    if arr.size:
                        group.create_dataset(name, data=arr, chunks=chunks, compression="gzip",
                                             compression_opts=_GZIP_LEVEL, shuffle=True)
                    else:
                        group.create_dataset(name, shape=arr.shape, dtype=arr.dtype)
                    if caught:
                        break
                del group
                if caught:  # stop before a flush, which HDF5 may not survive after this
                    raise io_failure(caught[0], partial_path(self.part_path))
            self._part.flush()
            if self._main is not None:
                dtypes = {name: np.dtype(code) for name, code in gathered[0][1].items()}
                # (the main writer of a restart is a plain, resumed ResultWriter)
                _guarded_virtual_snapshot(self._main, time_s, temperature_c, dtypes,
                                          self._sources, attrs)
        except Exception as exc:  # noqa: BLE001 - reported to every rank below
            error = exc
        try:
            self._agree(error)
        except OSError:  # a failed write: leave the files alone, HDF5 may not survive closing
            self._state = "failed"
            raise
        except BaseException:
            self.abort()  # a half-written snapshot: every rank closes its files incomplete
            raise
        self._n_snapshots += 1
        return index

    # -- ending a run ----------------------------------------------------------------------
    def finish(self, provenance_end: dict | None = None) -> Path:
        """Finish every part, then the main file; collective.

        Every rank sets ``complete=True`` in its part, fsyncs it and renames it from
        ``.partial`` into place; the ranks agree that all parts succeeded; rank 0 then
        finishes the main file as :meth:`ResultWriter.finish` does (``provenance_end`` is
        rank 0's) and deletes the part files of other generations. If any part fails, the
        main file stays ``.partial`` with ``complete=False``.

        Returns
        -------
        pathlib.Path
            ``path``, on every rank once the main file is in place.
        """
        if self._serial is not None:
            result = self._serial.finish(provenance_end)
            self._remove_parts(keep_generation=None)
            return result
        self._check_open()
        error = None
        try:
            self._part.attrs["complete"] = np.bool_(True)
            self._part.flush()
            self._part.close()
            self._part = None
            partial = partial_path(self.part_path)
            _fsync_path(partial)
            os.replace(partial, self.part_path)
            _fsync_path(self.parts_dir, directory=True)
        except Exception as exc:  # noqa: BLE001 - reported to every rank below
            error = exc
        try:
            self._agree(error)  # the barrier: every part is complete, durable and in place
        except BaseException:
            self._state = "aborted"
            self._close_local()
            raise
        error = None
        keep = set()
        if self._main is not None:
            try:
                keep = _referenced_parts(self._main)
                self._main.finish(provenance_end)
            except Exception as exc:  # noqa: BLE001 - reported to every rank below
                error = exc
                self._main.abort()
        self._state = "finished" if error is None else "aborted"
        outcome = self.comm.bcast(_portable(error), root=0)
        self._raise_first([outcome], error)
        if self.rank == 0:
            self._remove_parts(keep_generation=self.generation, keep_names=keep)
        return self.path

    def _remove_parts(self, keep_generation: int | None, keep_names=()) -> None:
        """Delete part files of other generations that no snapshot reads; warn on failure."""
        if not self.parts_dir.is_dir():
            return
        try:
            for entry in os.scandir(self.parts_dir):
                m = _PART_RE.match(entry.name)
                if m and int(m.group(1)) != keep_generation and entry.name not in keep_names:
                    os.unlink(entry.path)
            if keep_generation is None and not any(os.scandir(self.parts_dir)):
                self.parts_dir.rmdir()
        except OSError as err:
            warnings.warn(f"could not remove stale part files in {self.parts_dir}: {err}",
                          RuntimeWarning, stacklevel=3)

    def abort(self) -> None:
        """Close this rank's files with ``complete=False``; local, never communicates.

        The part file stays ``OUT.h5.parts/gen-G.rank-R.h5.partial``; on rank 0 the main file
        stays ``OUT.h5.partial``. An earlier finished ``OUT.h5`` and its parts are untouched.
        Safe to call twice.
        """
        if self._serial is not None:
            return self._serial.abort()
        if self._state != "open":
            return None
        self._state = "aborted"
        self._close_local()
        return None
