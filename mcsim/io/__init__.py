"""Result-file I/O: crash-safe HDF5 writer, the one reader, XDMF sidecar, ``mcsim info``."""

from mcsim.io.hdf5 import (
    SCHEMA_VERSION,
    IncompleteResultError,
    ResultStatus,
    ResultWriter,
    UnusableResultError,
    inspect_result,
    is_complete,
    open_result,
    partial_path,
    result_status,
)
from mcsim.io.info import summarize
from mcsim.io.xdmf import read_xdmf_references, write_xdmf

__all__ = [
    "SCHEMA_VERSION",
    "IncompleteResultError",
    "ResultStatus",
    "ResultWriter",
    "UnusableResultError",
    "inspect_result",
    "is_complete",
    "open_result",
    "partial_path",
    "read_xdmf_references",
    "result_status",
    "summarize",
    "write_xdmf",
]
