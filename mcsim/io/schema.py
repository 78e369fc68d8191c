"""The result-file layout as names and constants (``mcsim/io/SCHEMA.md`` describes it).

What the writers (:mod:`mcsim.io.writer`, :mod:`mcsim.io.parallel_hdf5`) write and what the
reader (:mod:`mcsim.io.result`) checks: the schema version, the names of the unfinished file
and of the per-rank part files, and the dtypes, chunking and compression of the datasets.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

#: Version of the on-disk layout described in ``mcsim/io/SCHEMA.md`` ("major.minor").
SCHEMA_VERSION = "3.1"

#: Suffix of the file a run writes into until :meth:`ResultWriter.finish` renames it.
PARTIAL_SUFFIX = ".partial"

#: Suffix of the directory, next to the main file, that holds the per-rank part files.
PARTS_SUFFIX = ".parts"

#: The only source names a result's snapshot virtual datasets may read (the per-rank part
#: files of :mod:`mcsim.io.parallel_hdf5`, ``OUT.parts/gen-NNNN.rank-NNNN.h5`` beside it).
SOURCE_RE = re.compile(r"[^/]+\.parts/gen-\d{4,}\.rank-\d{4,}\.h5")

#: A part file's name inside ``OUT.parts``, finished or not: generation, rank, ``.partial``.
_PART_RE = re.compile(r"^gen-(\d{4,})\.rank-(\d{4,})\.h5(" + re.escape(PARTIAL_SUFFIX) + r")?$")

#: Names of time series and snapshot fields: identifiers.
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Snapshot fields stored with a fixed dtype (every other field keeps its own).
_SNAPSHOT_DTYPES = {"phase": np.uint8, "grain": np.int32}
#: Fields every snapshot holds.
_REQUIRED_FIELDS = ("phase", "grain")
#: dtype kinds a snapshot field may have (at most 8 bytes per value).
_ALLOWED_KINDS = "uif"
#: The series every result has: units and description.
_CORE_SERIES = {
    "time_s": ("s", "simulated time since the start of the schedule"),
    "temperature_c": ("degC", "furnace temperature"),
    "phase_fraction": ("1", "share of the grid's voxels in each phase (pores included); a "
                       "lithium-source voxel with amount 0 is empty and counted as pore"),
}
#: gzip level of every compressed dataset (with the shuffle filter).
_GZIP_LEVEL = 4
#: Largest chunk edge of a snapshot field.
_MAX_CHUNK_EDGE = 64


def partial_path(path) -> Path:
    """Return the path a run writes into before it is finished.

    Parameters
    ----------
    path : str or os.PathLike
        Final result path, e.g. ``out/run.h5``.

    Returns
    -------
    pathlib.Path
        ``path`` with ``.partial`` appended, e.g. ``out/run.h5.partial``.
    """
    return Path(os.fspath(path) + PARTIAL_SUFFIX)


def parts_dir(path) -> Path:
    """Return the directory holding the part files of the result file ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        Main result file, e.g. ``out/run.h5``.

    Returns
    -------
    pathlib.Path
        ``path`` with ``.parts`` appended, e.g. ``out/run.h5.parts``.
    """
    return Path(os.fspath(path) + PARTS_SUFFIX)


def part_name(generation: int, rank: int) -> str:
    """File name of one rank's finished part file, e.g. ``gen-0001.rank-0003.h5``."""
    return f"gen-{int(generation):04d}.rank-{int(rank):04d}.h5"


def snapshot_dtype(name: str, arr: np.ndarray) -> np.ndarray:
    """A snapshot field's array in the dtype it is stored with: bool as uint8, only integer or
    float kinds of at most 8 bytes, and the fixed dtype of ``phase`` and ``grain`` when every
    value fits (ValueError naming the field otherwise). Shared by the serial and MPI writers."""
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    if arr.dtype.kind not in _ALLOWED_KINDS or arr.dtype.itemsize > 8:
        raise ValueError(f"snapshot field {name!r} has unsupported dtype {arr.dtype}")
    want = _SNAPSHOT_DTYPES.get(name)
    if want is not None and arr.dtype != want:
        cast = arr.astype(want)
        if not np.array_equal(cast, arr):
            raise ValueError(f"snapshot field {name!r} does not fit {np.dtype(want)}")
        arr = cast
    return arr
