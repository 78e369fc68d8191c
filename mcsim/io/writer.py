"""The crash-safe writer of one run's result file (serial runs, and rank 0 of parallel ones).

:class:`ResultWriter` writes into ``OUT.h5.partial`` and renames it onto ``OUT.h5`` only
once the run is finished (``complete = true``, fsynced), so a file at ``OUT.h5`` is always a
whole run. The layout is described in ``mcsim/io/SCHEMA.md``; its names and constants are in
:mod:`mcsim.io.schema`, the reader in :mod:`mcsim.io.result`.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import h5py
import numpy as np

from mcsim.io.failures import ResultIOError, guarded, io_failure
from mcsim.io.h5write import _attr_value, _fsync_path, _write_attrs, _write_tree
from mcsim.io.result import IncompleteResultError, _complete_flag
from mcsim.io.schema import (
    snapshot_dtype,
    _CORE_SERIES,
    _GZIP_LEVEL,
    _MAX_CHUNK_EDGE,
    _NAME_RE,
    _REQUIRED_FIELDS,
    SCHEMA_VERSION,
    partial_path,
)
from mcsim.io.xdmf import write_xdmf
from mcsim.phases import NAMES


def _default_provenance() -> dict:
    """Versions and host facts added to /provenance when the caller did not give them."""
    def version(dist):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    return {
        "start_time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": version("numba"),
        "h5py": h5py.__version__,
        "hdf5": h5py.version.hdf5_version,
    }


class ResultWriter:
    """Write one simulation run to an HDF5 result file, safely against crashes.

    Everything goes to ``path.partial``; :meth:`finish` marks the file complete, fsyncs it and
    renames it onto ``path`` atomically, so a file at ``path`` is always a finished run (and a
    previous result at ``path`` survives a crashed rerun). :meth:`abort`, or leaving the
    ``with`` block on an exception, closes the partial file with ``complete=False``.

    Parameters
    ----------
    path : str or os.PathLike
        Final result file, conventionally ``*.h5``.
    config_toml : str
        The resolved configuration, stored verbatim in ``/config``.
    seed : int
        Master random seed of the run.
    mcsim_version : str
        ``mcsim.__version__`` of the code that ran.
    provenance : dict
        Attributes of ``/provenance`` (str/int/float/bool values; nested dicts become
        subgroups). ``start_time``, ``host`` and the python/numpy/numba/h5py/hdf5 versions
        are filled in when missing.
    grid_shape : tuple of int
        Shape ``(n0, n1, n2)`` of the voxel grid; every snapshot field must have it.
    voxel_nm : float
        Voxel edge length, nm.
    phases : sequence of str, optional
        Phase names in code order (default :data:`mcsim.phases.NAMES`); sets the width of
        ``/timeseries/phase_fraction``.
    buffer_rows : int, optional
        Time-series rows kept in memory before they are written as one block.

    Examples
    --------
    >>> with ResultWriter("run.h5", config_toml=text, seed=1, mcsim_version="0.1.0",
    ...                   provenance={}, grid_shape=(32, 32, 32), voxel_nm=10.0) as w:
    ...     w.append_timeseries(0.0, 25.0, fractions)          # doctest: +SKIP
    ...     w.write_snapshot(0.0, 25.0, {"phase": phase, "grain": grain})
    ...     w.finish({"timing": {"kernels_s": 1.2, "io_s": 0.1}})
    """

    def __init__(self, path, *, config_toml: str, seed: int, mcsim_version: str,
                 provenance: dict, grid_shape, voxel_nm: float, phases=NAMES,
                 buffer_rows: int = 1024):
        self.path = Path(path)
        self.partial = partial_path(self.path)
        self.grid_shape = tuple(int(n) for n in grid_shape)
        if len(self.grid_shape) != 3 or min(self.grid_shape) < 1:
            raise ValueError(f"grid_shape must be three positive integers, got {grid_shape!r}")
        if not float(voxel_nm) > 0:
            raise ValueError(f"voxel_nm must be positive, got {voxel_nm!r}")
        if int(buffer_rows) < 1:
            raise ValueError(f"buffer_rows must be >= 1, got {buffer_rows!r}")
        self.phases = tuple(str(p) for p in phases)
        self.voxel_nm = float(voxel_nm)
        self._buffer_rows = int(buffer_rows)
        self._t0 = time.perf_counter()
        self._rows_written = 0
        self._n_buffered = 0
        self._buffer: dict[str, list] = {}
        self._row_shape: dict[str, tuple] = {}
        self._descriptions: dict[str, dict] = {}
        self._n_snapshots = 0
        self._state = "open"
        self._failure: BaseException | None = None  # the first failed write (ResultIOError)
        self._caught: list | None = None  # failures h5py reported while releasing objects
        self._file = None
        self._create(config_toml, seed, mcsim_version, provenance)

    @guarded
    def _create(self, config_toml, seed, mcsim_version, provenance) -> None:
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        self._file = h5py.File(self.partial, "w")
        f = self._file
        f.attrs["schema_version"] = SCHEMA_VERSION
        f.attrs["mcsim_version"] = str(mcsim_version)
        f.attrs["seed"] = _attr_value(int(seed))
        f.attrs["complete"] = np.bool_(False)
        f.attrs["voxel_nm"] = self.voxel_nm
        f.attrs["grid_shape"] = np.asarray(self.grid_shape, dtype=np.int64)
        f.create_dataset("config", data=str(config_toml), dtype=h5py.string_dtype("utf-8"))
        prov = _default_provenance()
        prov.update(provenance)
        _write_attrs(f.create_group("provenance"), prov)
        f.create_group("timeseries")
        for name in _CORE_SERIES:
            shape = (len(self.phases),) if name == "phase_fraction" else ()
            self._register_series(name, shape)
        self._flush_file()

    @classmethod
    def resume(cls, path, *, rows: int | None = None, snapshots: int | None = None,
               buffer_rows: int = 1024) -> "ResultWriter":
        """Reopen the unfinished ``path.partial`` of a run and go on appending to it.

        Used by a restart (:mod:`mcsim.checkpoint`): the checkpoint holds a copy of the
        partial file as it was when the checkpoint was written, which the restart puts back
        at ``path.partial`` before calling this. Rows and snapshots then continue where that
        copy ends, so the finished file equals the one an uninterrupted run writes.

        Parameters
        ----------
        path : str or os.PathLike
            Final result path; ``path.partial`` must exist and have ``complete = false``.
        rows, snapshots : int, optional
            Time-series rows and snapshots the file must hold (checked when given).
        buffer_rows : int, optional
            As for the constructor.

        Returns
        -------
        ResultWriter
            An open writer; ``describe`` the series again before appending rows.

        Raises
        ------
        IncompleteResultError
            If the partial file is unreadable, already complete, of another schema version,
            or does not hold ``rows`` rows and ``snapshots`` snapshots.
        """
        self = cls.__new__(cls)
        self.path = Path(path)
        self.partial = partial_path(self.path)
        try:
            f = h5py.File(self.partial, "r+")
        except OSError as err:
            raise IncompleteResultError(f"cannot reopen {self.partial}: {err}") from err
        try:
            if _complete_flag(f) or f.attrs.get("schema_version") != SCHEMA_VERSION:
                raise IncompleteResultError(
                    f"{self.partial} is complete or of another schema version; cannot resume")
            group = f["timeseries"]
            lengths = {name: group[name].shape[0] for name in group}
            n_rows = lengths.get("time_s", 0)
            if any(n != n_rows for n in lengths.values()) or (rows is not None and n_rows != rows):
                raise IncompleteResultError(
                    f"{self.partial}: time series hold {sorted(set(lengths.values()))} rows, "
                    f"expected {rows if rows is not None else n_rows}")
            n_snap = len(f["snapshots"]) if "snapshots" in f else 0
            if snapshots is not None and n_snap != snapshots:
                raise IncompleteResultError(
                    f"{self.partial}: holds {n_snap} snapshots, expected {snapshots}")
        except BaseException:
            f.close()
            raise
        self.grid_shape = tuple(int(n) for n in f.attrs["grid_shape"])
        self.voxel_nm = float(f.attrs["voxel_nm"])
        self.phases = tuple(str(p) for p in group["phase_fraction"].attrs["phases"])
        self._buffer_rows = int(buffer_rows)
        self._t0 = time.perf_counter()
        self._rows_written = n_rows
        self._n_buffered = 0
        self._row_shape = {name: tuple(group[name].shape[1:]) for name in group}
        self._buffer = {name: [] for name in self._row_shape}
        self._descriptions = {}
        self._n_snapshots = n_snap
        self._state = "open"
        self._failure = None
        self._caught = None
        self._file = f
        return self

    def _check_caught(self) -> None:
        """Raise the first write failure h5py reported while releasing an object."""
        if self._caught:
            first = self._caught[0]
            raise io_failure(first, self.partial) from first

    def _flush_file(self) -> None:
        """Flush the HDF5 file, unless a write has already failed (HDF5 may crash then)."""
        self._check_caught()
        self._file.flush()

    @property
    def failed(self) -> bool:
        """Whether a write failed (:class:`ResultIOError`); nothing more is written then."""
        return self._failure is not None

    @guarded
    def sync(self) -> dict:
        """Write buffered rows and flush the partial file, so that a copy of it taken now is
        a readable result file up to this instant.

        Returns
        -------
        dict
            ``path`` (the partial file), ``rows`` (time-series rows in it) and ``snapshots``
            (snapshots in it): what :meth:`resume` checks a copy against.
        """
        self._check_open()
        self._flush_timeseries()
        self._flush_file()
        return {"path": self.partial, "rows": self._rows_written, "snapshots": self._n_snapshots}

    # -- context manager -------------------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if self._state != "open":
            return False
        if exc_type is not None:
            self.abort()
        else:
            warnings.warn(f"ResultWriter for {self.path} left without finish(); kept as "
                          f"{self.partial.name} with complete=False", RuntimeWarning,
                          stacklevel=2)
            self.abort()
        return False

    # -- time series -----------------------------------------------------------------------
    def _check_open(self):
        if self._state != "open":
            raise RuntimeError(f"ResultWriter for {self.path} is already {self._state}")

    def _register_series(self, name: str, shape: tuple) -> None:
        self._row_shape[name] = shape
        # rows appended before this series existed are NaN
        self._buffer[name] = [np.full(shape, np.nan)] * self._n_buffered

    @guarded
    def append_timeseries(self, time_s: float, temperature_c: float, phase_fraction,
                          **extra) -> None:
        """Append one row to the ``/timeseries`` datasets.

        Parameters
        ----------
        time_s : float
            Simulated time, s.
        temperature_c : float
            Furnace temperature, degC.
        phase_fraction : array_like, shape (n_phases,)
            Share of the grid's voxels in each phase, in the order of ``phases``, with
            used-up lithium-source voxels (amount 0) counted as pore
            (:func:`mcsim.diagnostics.reported_phase`).
        **extra : float or array_like of shape (k,)
            Further series, stored as float64 ``/timeseries/<name>`` of shape (t,) or (t, k),
            created on first use. Rows before a series first appears, or rows that omit it,
            hold NaN.

        Raises
        ------
        ValueError
            If a value has the wrong shape, or an extra name is not an identifier.
        """
        self._check_open()
        row = {"time_s": time_s, "temperature_c": temperature_c,
               "phase_fraction": phase_fraction}
        row.update(extra)
        values = {}
        for name, value in row.items():
            arr = np.asarray(value, dtype=np.float64)
            if name not in self._row_shape:
                if not _NAME_RE.match(name):
                    raise ValueError(f"time-series name {name!r} is not an identifier")
                if arr.ndim > 1:
                    raise ValueError(f"time series {name!r} must be a scalar or 1-D vector per "
                                     f"row, got shape {arr.shape}")
            elif arr.shape != self._row_shape[name]:
                raise ValueError(f"time series {name!r} expects rows of shape "
                                 f"{self._row_shape[name]}, got {arr.shape}")
            values[name] = arr
        for name, arr in values.items():
            if name not in self._row_shape:
                self._register_series(name, arr.shape)
        for name, shape in self._row_shape.items():
            self._buffer[name].append(values.get(name, np.full(shape, np.nan)))
        self._n_buffered += 1
        if self._n_buffered >= self._buffer_rows:
            self._flush_timeseries()

    @guarded
    def describe(self, name: str, *, units: str | None = None,
                 description: str | None = None, **attrs) -> None:
        """Set attributes (``units``, ``description``, ...) of ``/timeseries/<name>``.

        May be called before the series first appears; the attributes are then written when
        the dataset is created.

        Parameters
        ----------
        name : str
            Series name, e.g. ``"li_inventory_mol"``.
        units : str, optional
            Units, e.g. ``"mol"``, ``"degC"``, ``"1"`` for dimensionless.
        description : str, optional
            What the series means.
        **attrs
            Further attributes.
        """
        self._check_open()
        new = dict(attrs)
        if units is not None:
            new["units"] = units
        if description is not None:
            new["description"] = description
        self._descriptions.setdefault(name, {}).update(new)
        dset = self._file["timeseries"].get(name)
        if dset is not None:
            _write_attrs(dset, new)

    def _create_series(self, name: str) -> h5py.Dataset:
        shape = self._row_shape[name]
        dset = self._file["timeseries"].create_dataset(
            name, shape=(self._rows_written,) + shape, maxshape=(None,) + shape,
            chunks=(max(1, min(self._buffer_rows, 4096)),) + shape, dtype=np.float64,
            fillvalue=np.nan)
        if name in _CORE_SERIES:
            units, text = _CORE_SERIES[name]
            dset.attrs["units"] = units
            dset.attrs["description"] = text
        if name == "phase_fraction":
            dset.attrs["phases"] = _attr_value(list(self.phases))
            # marks files whose rows count used-up sources as pore (older files: as the source)
            dset.attrs["spent_sources_counted_as"] = "pore"
        _write_attrs(dset, self._descriptions.get(name, {}))
        return dset

    def _flush_timeseries(self) -> None:
        group = self._file["timeseries"]
        n_new = self._n_buffered
        for name in self._row_shape:
            self._check_caught()  # stop at the first failed write
            dset = group[name] if name in group else self._create_series(name)
            if n_new == 0:
                continue
            dset.resize(self._rows_written + n_new, axis=0)
            dset[self._rows_written:] = np.stack(self._buffer[name])
            self._buffer[name] = []
        self._rows_written += n_new
        self._n_buffered = 0

    # -- snapshots and groups --------------------------------------------------------------
    def _snapshot_array(self, name: str, value) -> np.ndarray:
        arr = np.asarray(value)
        if arr.shape != self.grid_shape:
            raise ValueError(f"snapshot field {name!r} has shape {arr.shape}, expected grid "
                             f"shape {self.grid_shape}")
        if not _NAME_RE.match(name):
            raise ValueError(f"snapshot field name {name!r} is not an identifier")
        return snapshot_dtype(name, arr)

    @guarded
    def write_snapshot(self, time_s: float, temperature_c: float, fields: dict,
                       attrs: dict | None = None) -> int:
        """Write the voxel fields at one instant to ``/snapshots/NNNN``.

        Parameters
        ----------
        time_s : float
            Simulated time, s.
        temperature_c : float
            Furnace temperature, degC.
        fields : dict of str to ndarray
            At least ``phase`` (stored uint8) and ``grain`` (stored int32); further numeric
            fields (e.g. float32 lithium content) keep their dtype. Every field must have
            shape ``grid_shape``. Stored chunked and gzip-compressed (level 4, shuffle).
        attrs : dict, optional
            Extra group attributes (e.g. ``step``).

        Returns
        -------
        int
            The snapshot index ``NNNN``.

        Raises
        ------
        ValueError
            If a field has the wrong shape or dtype, or ``phase``/``grain`` is missing.
            Nothing is written in that case.
        """
        self._check_open()
        missing = [name for name in _REQUIRED_FIELDS if name not in fields]
        if missing:
            raise ValueError(f"snapshot lacks required field(s) {missing}")
        arrays = {name: self._snapshot_array(name, value) for name, value in fields.items()}
        self._flush_timeseries()
        index = self._n_snapshots
        group = self._file.require_group("snapshots").create_group(f"{index:04d}")
        group.attrs["time_s"] = float(time_s)
        group.attrs["temperature_c"] = float(temperature_c)
        _write_attrs(group, attrs or {})
        chunks = tuple(min(n, _MAX_CHUNK_EDGE) for n in self.grid_shape)
        for name, arr in arrays.items():
            self._check_caught()  # stop at the first failed write
            group.create_dataset(name, data=arr, chunks=chunks, compression="gzip",
                                 compression_opts=_GZIP_LEVEL, shuffle=True)
        self._n_snapshots += 1
        self._flush_file()  # a killed run leaves a readable .partial up to here
        return index

    @guarded
    def write_group(self, path: str, datasets: dict, attrs: dict | None = None) -> h5py.Group:
        """Write a report or diagnostics group, e.g. ``/microstructure``.

        Parameters
        ----------
        path : str
            Group path, absolute or relative to the root; created if missing.
        datasets : dict
            Arrays become datasets (gzip-compressed when large), scalars become 0-d datasets,
            strings become UTF-8 string datasets, nested dicts become subgroups. An existing
            dataset of the same name is replaced.
        attrs : dict, optional
            Attributes of the group (nested dicts become subgroups with attributes).

        Returns
        -------
        h5py.Group
            The group (valid until the writer is closed).
        """
        self._check_open()
        name = path.strip("/")
        if not name or name.split("/")[0] in ("config", "provenance", "timeseries",
                                              "snapshots"):
            raise ValueError(f"write_group cannot write to {path!r} (reserved by the schema)")
        group = self._file.require_group(name)
        _write_tree(group, datasets)
        _write_attrs(group, attrs or {})
        return group

    # -- ending a run ----------------------------------------------------------------------
    @guarded
    def finish(self, provenance_end: dict | None = None) -> Path:
        """Mark the run complete and move it atomically to ``path``; write the XDMF sidecar.

        Parameters
        ----------
        provenance_end : dict, optional
            End-of-run attributes for ``/provenance`` (timing breakdown, throughput, ...);
            nested dicts become subgroups. ``end_time`` (ISO 8601 UTC) and ``wall_time_s``
            (since the writer was created) are filled in when missing.

        Returns
        -------
        pathlib.Path
            ``path``, now holding the complete result.
        """
        self._check_open()
        end = {"end_time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "wall_time_s": time.perf_counter() - self._t0}
        end.update(provenance_end or {})
        self._flush_timeseries()
        _write_attrs(self._file["provenance"], end)
        self._file.attrs["complete"] = np.bool_(True)
        self._flush_file()
        self._file.close()
        self._check_caught()
        self._state = "finished"
        _fsync_path(self.partial)
        os.replace(self.partial, self.path)
        _fsync_path(self.path.parent, directory=True)
        xmf = self.path.with_suffix(".xmf")
        if self._n_snapshots:
            write_xdmf(self.path, xmf)
        elif xmf.exists():  # a sidecar left by an earlier run would describe other data
            xmf.unlink()
        return self.path

    def abort(self) -> None:
        """Close the partial file with ``complete=False``; it stays as ``path.partial``.

        Buffered time-series rows are written first when possible. Safe to call twice. After
        a failed write (:attr:`failed`) nothing is written and the HDF5 file is left open:
        HDF5 cannot close it reliably then, so the process should end soon.
        """
        if self._state != "open" or self._file is None:
            return
        self._state = "aborted"
        try:
            self._abort_flush()
        except ResultIOError:
            return  # the first failure is the caller's to report; leave the file alone
        self._file.close()

    @guarded
    def _abort_flush(self) -> None:
        try:
            self._flush_timeseries()
        except (ValueError, RuntimeError) as err:  # keep the caller's own exception
            warnings.warn(f"could not flush buffered rows of {self.partial}: {err}",
                          RuntimeWarning, stacklevel=3)
