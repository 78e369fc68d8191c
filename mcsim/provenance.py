"""Provenance of a run: which mcsim, which source tree, which machine and process, when.

Part of the run layer: the engine writes it into ``/provenance`` of the result file and the
checkpoint writer into ``meta.h5``; both import it from here.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np

import mcsim


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def git_commit() -> str:
    """The git commit of the mcsim source tree when it is a checkout, else 'unknown'."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(mcsim.__file__).parent,
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def run_provenance(*, threads: int, ranks: int = 1, dims=(1, 1, 1)) -> dict:
    """The attributes of ``/provenance`` written when a run starts: versions, source tree,
    host, threads, MPI ranks and grid, start time, command line and process id."""
    return {
        "mcsim_version": mcsim.__version__, "git_commit": git_commit(),
        "host": platform.node(), "threads": threads,
        "mpi_ranks": ranks, "mpi_dims": list(dims),
        "python": platform.python_version(), "numpy": np.__version__,
        "numba": numba.__version__, "start_time": utc_now(),
        "command": " ".join(sys.argv), "pid": os.getpid(),
    }


def restart_provenance(*, restarts: int, from_step: int, ranks: int) -> dict:
    """Attributes added to ``/provenance`` at the end of a run continued from a checkpoint
    (``restarts``: how many restarts in all, this one included)."""
    return {"restarts": restarts, "last_restart_pid": os.getpid(),
            "last_restart_command": " ".join(sys.argv),
            "last_restart_from_step": from_step,
            "last_restart_mpi_ranks": ranks}
