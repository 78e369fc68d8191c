"""Crash-safe HDF5 result files: every name of the writer and of the reader, in one place.

The code lives in modules with one role each; this module re-exports their names so that
``from mcsim.io.hdf5 import ...`` keeps working:

* :mod:`mcsim.io.schema`: the layout's names and constants (``SCHEMA_VERSION``,
  ``partial_path``, ``SOURCE_RE``, dtypes and compression);
* :mod:`mcsim.io.result`: the one reader (``open_result``, ``is_complete``,
  ``result_status``, ``inspect_result``, ``IncompleteResultError``, part-file checks);
* :mod:`mcsim.io.writer`: ``ResultWriter``;
* :mod:`mcsim.io.failures`: failed writes and opens (``ResultIOError``, ``io_failure``,
  ``h5_failures``, ``h5_reason``);
* :mod:`mcsim.io.h5write`: values as attributes and datasets, fsync.
"""

from __future__ import annotations

from mcsim.io.failures import (  # noqa: F401
    _ERRNO_RE,
    _FILENAME_RE,
    ResultIOError,
    h5_failures,
    h5_reason,
    io_failure,
)
from mcsim.io.failures import guarded as _guarded  # noqa: F401
from mcsim.io.h5write import _attr_value, _fsync_path, _write_attrs, _write_tree  # noqa: F401
from mcsim.io.result import (  # noqa: F401
    IncompleteResultError,
    ResultFile,
    ResultNotFoundError,
    ResultStatus,
    UnsafeResultError,
    UnusableResultError,
    _complete_flag,
    inspect_result,
    is_complete,
    missing_sources,
    open_result,
    result_status,
    virtual_sources,
)
from mcsim.io.schema import (  # noqa: F401
    _ALLOWED_KINDS,
    _CORE_SERIES,
    _GZIP_LEVEL,
    _MAX_CHUNK_EDGE,
    _NAME_RE,
    _REQUIRED_FIELDS,
    _SNAPSHOT_DTYPES,
    PARTIAL_SUFFIX,
    SCHEMA_VERSION,
    SOURCE_RE,
    partial_path,
)
from mcsim.io.writer import ResultWriter, _default_provenance  # noqa: F401

__all__ = [
    "PARTIAL_SUFFIX",
    "SCHEMA_VERSION",
    "SOURCE_RE",
    "IncompleteResultError",
    "ResultFile",
    "ResultIOError",
    "ResultNotFoundError",
    "ResultStatus",
    "ResultWriter",
    "UnsafeResultError",
    "UnusableResultError",
    "h5_failures",
    "h5_reason",
    "inspect_result",
    "io_failure",
    "is_complete",
    "missing_sources",
    "open_result",
    "partial_path",
    "result_status",
    "virtual_sources",
]
