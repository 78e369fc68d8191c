"""Result-file I/O: crash-safe HDF5 writer, XDMF sidecar and ``mcsim info`` summary."""

from mcsim.io.hdf5 import (
    SCHEMA_VERSION,
    IncompleteResultError,
    ResultWriter,
    is_complete,
    open_result,
    partial_path,
)
from mcsim.io.info import summarize
from mcsim.io.xdmf import read_xdmf_references, write_xdmf

__all__ = [
    "SCHEMA_VERSION",
    "IncompleteResultError",
    "ResultWriter",
    "is_complete",
    "open_result",
    "partial_path",
    "read_xdmf_references",
    "summarize",
    "write_xdmf",
]
