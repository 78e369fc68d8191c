"""The checkpoint format: names and layout, the errors, CRC-32 and fsync helpers, the
generic tree of plain data stored in ``meta.h5``, and the agreement of ranks on an error.

See the package docstring (:mod:`mcsim.checkpoint`) for what a checkpoint holds and how a
generation is made current atomically.
"""

from __future__ import annotations

import contextlib
import os
import re
import zlib
from pathlib import Path

import h5py
import numpy as np

from mcsim.state import CHECKPOINTED

#: Value of the ``format`` attribute of ``meta.h5`` and of every block file.
FORMAT = "mcsim-checkpoint"
#: Layout version; a checkpoint of another version is refused.
FORMAT_VERSION = 1
#: The voxel fields a checkpoint stores (interior only): those of :data:`mcsim.state.FIELDS`
#: declared ``checkpointed``.
FIELDS = CHECKPOINTED
#: Exit status of ``mcsim run`` that stopped early after writing a checkpoint (EX_TEMPFAIL of
#: sysexits.h: "try again later" - restart with ``mcsim run --restart CKPT``).
EXIT_CHECKPOINTED = 75
#: Environment variable giving the job's wall-time limit (as ``--walltime``).
WALLTIME_ENV = "MCSIM_WALLTIME"
#: Signals that make a run checkpoint at the next step boundary and exit (SLURM ``--signal``).
STOP_SIGNALS = ("SIGTERM", "SIGUSR1")

LATEST = "LATEST"
META = "meta.h5"
RESULT_COPY = "result.h5.partial"
GEN_RE = re.compile(r"^gen-(\d{6,})$")
#: The only names ``meta.h5`` may give the files of a generation (the part files a restart
#: puts back beside the result follow :data:`mcsim.io.hdf5.SOURCE_RE`).
BLOCK_RE = re.compile(r"block-\d{5,}\.h5")
PART_COPY_RE = re.compile(r"part-(carried-)?\d{5,}\.h5")
_COPY_BYTES = 1 << 24

RNG_NOTE = ("counter-based Philox4x64-10 keyed by (seed, stream); counter = (global voxel "
            "index, step, sub-counter): restoring engine/step restores every stream")


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete, corrupt or does not fit this run or this mcsim."""


def generation_name(number: int) -> str:
    """Directory name of generation ``number``."""
    return f"gen-{number:06d}"


def generations(directory: Path) -> list[int]:
    """Numbers of the generation directories in ``directory``, ascending."""
    if not directory.is_dir():
        return []
    return sorted(int(m.group(1)) for p in directory.iterdir() if (m := GEN_RE.match(p.name)))


def latest_name(directory: Path) -> str | None:
    """The generation ``LATEST`` names, or None."""
    try:
        return (directory / LATEST).read_text().strip() or None
    except OSError:
        return None


def rank_size(comm) -> tuple[int, int]:
    """(rank, size) of ``comm``; (0, 1) without one."""
    return (0, 1) if comm is None else (comm.Get_rank(), comm.Get_size())


def fsync_file(path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # platforms that cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def copy_with_crc(src, dst=None) -> tuple[int, int]:
    """Read ``src`` in large blocks and return (bytes, CRC-32); with ``dst``, also copy it
    there and fsync the copy."""
    crc = 0
    size = 0
    with open(src, "rb") as fin, (open(dst, "wb") if dst is not None
                                  else contextlib.nullcontext()) as fout:
        while buf := fin.read(_COPY_BYTES):
            crc = zlib.crc32(buf, crc)
            size += len(buf)
            if fout is not None:
                fout.write(buf)
        if fout is not None:
            fout.flush()
            os.fsync(fout.fileno())
    return size, crc


def agree(comm, error: BaseException | None) -> None:
    """Make every rank of ``comm`` raise the same :class:`CheckpointError` if any rank had
    ``error`` (collective; a no-op without ``comm`` and without an error anywhere).

    Called after each step of a restart that can fail on some ranks only (a damaged block
    read by one rank), before the next collective, so no rank waits for one that gave up.
    """
    if comm is None:
        if error is not None:
            raise error
        return
    text = None if error is None else (str(error) or type(error).__name__)
    texts = comm.allgather(text)
    first = next((t for t in texts if t is not None), None)
    if first is None:
        return
    if error is not None and str(error) == first:
        raise error
    raise CheckpointError(first)


# -- generic trees (process state, timings) --------------------------------------------------

def _escape(key) -> str:
    """An HDF5 link name for any dict key ('/' would make a path, e.g. the timer's "i/o")."""
    return str(key).replace("%", "%25").replace("/", "%2F")


def _unescape(name: str) -> str:
    return name.replace("%2F", "/").replace("%25", "%")


def put_tree(group: h5py.Group, tree: dict) -> None:
    """Store a dict of scalars, strings, arrays and nested dicts; read back by :func:`get_tree`."""
    for key, value in tree.items():
        key = _escape(key)
        if isinstance(value, dict):
            put_tree(group.create_group(key), value)
        elif value is None:
            group.attrs[f"none:{key}"] = True
        elif isinstance(value, str):
            group.create_dataset(key, data=value, dtype=h5py.string_dtype("utf-8"))
        elif isinstance(value, (bool, np.bool_)):
            group.create_dataset(key, data=np.bool_(value))
        elif isinstance(value, (int, np.integer)) and not isinstance(value, np.ndarray):
            group.create_dataset(key, data=np.int64(value))
            group[key].attrs["python_int"] = True
        elif isinstance(value, (float, np.floating)):
            group.create_dataset(key, data=np.float64(value))
            group[key].attrs["python_float"] = True
        else:
            arr = np.asarray(value)
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"cannot checkpoint {key!r} of type {type(value).__name__}")
            group.create_dataset(key, data=arr)


def get_tree(group: h5py.Group) -> dict:
    """The dict :func:`put_tree` stored in ``group``."""
    out: dict = {}
    for name in group.attrs:
        if name.startswith("none:"):
            out[_unescape(name[5:])] = None
    for name, item in group.items():
        key = _unescape(name)
        if isinstance(item, h5py.Group):
            out[key] = get_tree(item)
        elif item.dtype.kind == "O" or h5py.check_string_dtype(item.dtype):
            out[key] = item.asstr()[()]
        elif item.attrs.get("python_int", False):
            out[key] = int(item[()])
        elif item.attrs.get("python_float", False):
            out[key] = float(item[()])
        elif item.shape == () and item.dtype == np.bool_:
            out[key] = bool(item[()])
        else:
            out[key] = item[()]
    return out
