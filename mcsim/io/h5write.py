"""Low-level writing of result files: Python values as HDF5 attributes and datasets, and
fsync of a written file or directory (shared by the serial and the parallel writer)."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from mcsim.io.schema import _GZIP_LEVEL


def _attr_value(value):
    """Convert a Python/numpy value to something h5py stores as an attribute."""
    if value is None:
        return ""
    if isinstance(value, (str, bytes)):
        return value
    if isinstance(value, (bool, np.bool_)):
        return np.bool_(value)
    if isinstance(value, (int, np.integer)):
        value = int(value)
        return np.uint64(value) if value >= 2**63 else np.int64(value)
    if isinstance(value, (float, np.floating)):
        return np.float64(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        arr = np.asarray(value)
        if arr.dtype.kind in "US" or (arr.dtype.kind == "O" and all(isinstance(v, str)
                                                                    for v in arr.flat)):
            return np.array([str(v) for v in arr.flat], dtype=h5py.string_dtype()).reshape(
                arr.shape)
        if arr.dtype.kind in "biuf":
            return arr
    raise TypeError(f"cannot store {value!r} of type {type(value).__name__} as an HDF5 "
                    "attribute (use str, int, float, bool or a numeric/str sequence)")


def _write_attrs(obj, attrs: dict) -> None:
    """Write ``attrs`` on ``obj``; nested dicts become subgroups holding attributes."""
    for key, value in attrs.items():
        if isinstance(value, dict):
            _write_attrs(obj.require_group(key), value)
        else:
            obj.attrs[key] = _attr_value(value)


def _write_tree(group: h5py.Group, datasets: dict) -> None:
    """Write a nested dict as datasets (arrays, 0-d scalars, strings) and subgroups."""
    for key, value in datasets.items():
        if isinstance(value, dict):
            _write_tree(group.require_group(key), value)
            continue
        if key in group:
            del group[key]
        if isinstance(value, str):
            group.create_dataset(key, data=value, dtype=h5py.string_dtype("utf-8"))
            continue
        arr = np.asarray(value)
        if arr.dtype.kind in "US" or arr.dtype.kind == "O":
            group.create_dataset(key, data=_attr_value(value))
        elif arr.dtype.kind in "biuf":
            kwargs = {}
            if arr.ndim > 0 and arr.size >= 4096:
                kwargs = dict(compression="gzip", compression_opts=_GZIP_LEVEL, shuffle=True)
            group.create_dataset(key, data=arr, **kwargs)
        else:
            raise TypeError(f"cannot store {key!r} = {value!r} as an HDF5 dataset")


def _fsync_path(path: Path, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        if directory:  # some platforms cannot open directories; the rename still happened
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not directory:
            raise
    finally:
        os.close(fd)
