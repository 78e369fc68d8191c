"""Checkpoint and restart: the run state on disk, written atomically, read on any number of ranks.

What a checkpoint holds
-----------------------
Everything the run loop of :class:`mcsim.engine.Simulation` carries from one step to the
next, so that a restarted run takes exactly the steps an uninterrupted one takes and writes a
bit-identical result file:

* the five voxel fields (``phase``, ``grain``, ``amount``, ``li``, ``disorder``), interior
  only, one block per rank with its global ``offset`` and ``shape``;
* the clock (``time_s`` as the exact float64 the loop accumulated, ``step``) and the schedule
  position: the time of the next time-series row, the index of the next snapshot and of the
  next schedule breakpoint;
* the cumulative event tallies, the kernels' census (``state.census``: the counts that switch
  time-step limits off, e.g. hydroxide voxels still supplied with lithium; global, since the
  decomposed stepper reduces it over ranks), the :class:`~mcsim.diagnostics.Thermo` history
  (initial mass ``m0`` and the last row's time, weight and heat, from which the next DTG/DTA
  row is differenced), and the ``state_dict()`` of every process that has one;
* the random-number position. The generator is counter-based (:mod:`mcsim.rng`, Philox4x64-10
  keyed by ``(seed, stream)``, counter = (global voxel index, step, sub-counter)): it has no
  state besides ``seed`` and ``step``, so restoring ``step`` restores every stream;
* a copy of the result file written so far (``OUT.h5.partial``, flushed), see below;
* the configuration (TOML), the accumulated timings and wall time, and the restart count.

The face classes of the transport kernel (``state.codes``) and the change flags
(``state.dirty``) are derived data: a pure function of ``phase`` and ``grain``, recomputed in
full after a restart (``codes_ready = False``). The incremental refresh the uninterrupted run
uses gives the same classes (tested end to end: the restarted output is bit-identical).

Layout and atomicity
--------------------
A checkpoint is a directory (default ``OUT`` with suffix ``.ckpt``)::

    run.ckpt/LATEST                    one line: the name of the current generation
    run.ckpt/gen-000007/block-00000.h5 one file per rank: its interior block, offset, shape
    run.ckpt/gen-000007/result.h5.partial  copy of the result file written so far (rank 0)
    run.ckpt/gen-000007/meta.h5        everything else (rank 0), written last

Each checkpoint is a new generation directory. Every rank writes and fsyncs its block; rank 0
copies the result file, then writes ``meta.h5`` with the attribute ``complete = false``,
fills it, sets ``complete = true``, closes and fsyncs it and the directory, and only then
replaces ``LATEST`` (write ``LATEST.tmp``, fsync, ``os.replace``, fsync the directory) and
deletes the older generation. Until ``LATEST`` moves, the previous generation is the valid
checkpoint; a generation whose ``meta.h5`` is missing, unreadable or not ``complete`` is
never loaded, and every block and the result copy carry a CRC-32 that is checked on reading.

Why copy the result file: HDF5 without SWMR is not crash-consistent, so a run killed while
appending rows or writing a snapshot can leave ``OUT.h5.partial`` unreadable. The copy taken
right after a flush is readable by construction, and a restart never depends on a file
outside the checkpoint. It costs the result file's size per checkpoint (snapshots are
gzip-compressed; the copy is one sequential pass, CRC computed on the fly).

Decomposition
-------------
:func:`write_block` and :func:`read_region` take an explicit ``(offset, shape)``: a rank
writes its own block, and on restart every rank reads only the parts of the stored blocks
that overlap its new subdomain (any number of ranks, any split: no rank ever holds the
whole lattice). A lone run (``comm`` None) is the one-block case of the same code.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import math
import os
import re
import shutil
import signal
import time
import zlib
from pathlib import Path

import h5py
import numpy as np

from mcsim.errors import ConfigError
from mcsim.io.hdf5 import SOURCE_RE
from mcsim.io.safepath import UnsafePathError, inside

#: Value of the ``format`` attribute of ``meta.h5`` and of every block file.
FORMAT = "mcsim-checkpoint"
#: Layout version; a checkpoint of another version is refused.
FORMAT_VERSION = 1
#: The voxel fields a checkpoint stores (interior only).
FIELDS = ("phase", "grain", "amount", "li", "disorder")
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
_GEN_RE = re.compile(r"^gen-(\d{6,})$")
#: The only names ``meta.h5`` may give the files of a generation (the part files a restart
#: puts back beside the result follow :data:`mcsim.io.hdf5.SOURCE_RE`).
_BLOCK_RE = re.compile(r"block-\d{5,}\.h5")
_PART_COPY_RE = re.compile(r"part-(carried-)?\d{5,}\.h5")
_SLAB_BYTES = 1 << 24  # write and checksum blocks in slabs of about 16 MiB
_COPY_BYTES = 1 << 24
#: Assumed write speed before the first checkpoint has been timed, bytes/s (conservative).
_ASSUMED_BYTES_PER_S = 100e6

RNG_NOTE = ("counter-based Philox4x64-10 keyed by (seed, stream); counter = (global voxel "
            "index, step, sub-counter): restoring engine/step restores every stream")


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete, corrupt or does not fit this run or this mcsim."""


class CheckpointExit(Exception):
    """Raised by the run loop after it wrote a checkpoint because it was asked to stop
    (wall-time limit or a signal); ``mcsim run`` turns it into :data:`EXIT_CHECKPOINTED`.

    Attributes
    ----------
    path : pathlib.Path
        The checkpoint directory to restart from.
    reason : str
        Why the run stopped (e.g. ``"SIGUSR1"``, ``"wall-time limit"``).
    time_s : float
        Simulated time of the checkpoint, s.
    step : int
        Engine step of the checkpoint.
    """

    def __init__(self, path, reason: str, time_s: float, step: int):
        self.path = Path(path)
        self.reason = reason
        self.time_s = float(time_s)
        self.step = int(step)
        super().__init__(f"stopped on {reason} at t = {time_s / 60:.2f} min (step {step}); "
                         f"checkpoint {path}")


# -- small helpers ---------------------------------------------------------------------------

def _rank_size(comm) -> tuple[int, int]:
    return (0, 1) if comm is None else (comm.Get_rank(), comm.Get_size())


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _fsync_file(path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path) -> None:
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


def _copy_with_crc(src, dst=None) -> tuple[int, int]:
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


def _slabs(shape, itemsize: int):
    """(z0, z1) ranges of about :data:`_SLAB_BYTES` each covering ``shape[0]``."""
    plane = max(1, int(np.prod(shape[1:])) * itemsize)
    step = max(1, _SLAB_BYTES // plane)
    for z0 in range(0, shape[0], step):
        yield z0, min(shape[0], z0 + step)


def parse_walltime(text, key: str = "--walltime") -> float:
    """Seconds in a wall-time limit written ``SECONDS``, ``MM:SS``, ``HH:MM:SS`` or
    ``D-HH:MM:SS`` (the forms SLURM's ``squeue -o %L`` prints).

    Parameters
    ----------
    text : str
        The limit, e.g. ``"3600"``, ``"01:00:00"``, ``"1-12:00:00"`` (SLURM's ``--time``).
    key : str
        Name reported in the error (``--walltime`` or :data:`WALLTIME_ENV`).

    Returns
    -------
    float
        The limit in seconds (> 0).

    Raises
    ------
    mcsim.errors.ConfigError
        If ``text`` is not in one of the forms above or is not positive.
    """
    allowed = ("must be SECONDS (> 0), MM:SS or [D-]HH:MM:SS, e.g. 3600, 45:00, 01:00:00 or "
               "1-12:00:00")
    s = str(text).strip()
    m = re.fullmatch(r"(?:(\d+)-)?(?:(\d+):([0-5]?\d)|(\d+)):([0-5]?\d(?:\.\d*)?)", s)
    try:
        if m:
            days, hours, minutes, minutes_only, seconds = m.groups()
            if minutes_only is not None:  # MM:SS
                hours, minutes = 0, minutes_only
            value = ((int(days or 0) * 24 + int(hours)) * 60 + int(minutes)) * 60 \
                + float(seconds)
        else:
            value = float(s)
    except ValueError:
        raise ConfigError(key, text, allowed) from None
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(key, text, allowed)
    return value


def checkpoint_dir(cfg: dict, out_path) -> Path:
    """The checkpoint directory of a run: ``output.checkpoint_path``, or ``out_path`` with the
    suffix ``.ckpt`` when that key is empty."""
    given = cfg.get("output", {}).get("checkpoint_path", "")
    if given:
        return Path(given)
    if Path(out_path).name in ("", ".", ".."):
        raise ConfigError("-o", str(out_path), "names a directory; give a file name such as "
                          f"{Path(out_path) / 'result.h5'}")
    return Path(out_path).with_suffix(".ckpt")


# -- generic trees (process state, timings) --------------------------------------------------

def _escape(key) -> str:
    """An HDF5 link name for any dict key ('/' would make a path, e.g. the timer's "i/o")."""
    return str(key).replace("%", "%25").replace("/", "%2F")


def _unescape(name: str) -> str:
    return name.replace("%2F", "/").replace("%25", "%")


def _put_tree(group: h5py.Group, tree: dict) -> None:
    """Store a dict of scalars, strings, arrays and nested dicts; read back by :func:`_get_tree`."""
    for key, value in tree.items():
        key = _escape(key)
        if isinstance(value, dict):
            _put_tree(group.create_group(key), value)
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


def _get_tree(group: h5py.Group) -> dict:
    out: dict = {}
    for name in group.attrs:
        if name.startswith("none:"):
            out[_unescape(name[5:])] = None
    for name, item in group.items():
        key = _unescape(name)
        if isinstance(item, h5py.Group):
            out[key] = _get_tree(item)
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


# -- the block API (one rank's interior block) -----------------------------------------------

def block_name(rank: int) -> str:
    """File name of rank ``rank``'s block inside a generation directory."""
    return f"block-{rank:05d}.h5"


def write_block(directory, rank: int, offset, shape, global_shape, fields: dict) -> dict:
    """Write one rank's interior block of the voxel fields and fsync it.

    Parameters
    ----------
    directory : str or os.PathLike
        The generation directory (must exist).
    rank : int
        Rank that owns the block (names the file, :func:`block_name`).
    offset, shape : tuple of int
        Global index of the block's first voxel and the block's shape (``state.offset``,
        ``state.shape``).
    global_shape : tuple of int
        Shape of the whole lattice.
    fields : dict of str to ndarray
        Arrays of shape ``shape`` (interior views such as ``state.interior(name)`` are fine),
        usually every name of :data:`FIELDS`.

    Returns
    -------
    dict
        The block's descriptor for ``meta.h5``: ``rank``, ``file``, ``offset``, ``shape`` and
        ``crc32`` (field name -> CRC-32 of its C-order bytes).
    """
    offset = tuple(int(o) for o in offset)
    shape = tuple(int(n) for n in shape)
    global_shape = tuple(int(n) for n in global_shape)
    if len(shape) != 3 or min(shape) < 1 or any(
            o < 0 or o + n > g for o, n, g in zip(offset, shape, global_shape)):
        raise ValueError(f"block offset {offset} + shape {shape} is not inside {global_shape}")
    path = Path(directory) / block_name(rank)
    crcs = {}
    with h5py.File(path, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["rank"] = int(rank)
        f.attrs["offset"] = np.asarray(offset, dtype=np.int64)
        f.attrs["shape"] = np.asarray(shape, dtype=np.int64)
        f.attrs["global_shape"] = np.asarray(global_shape, dtype=np.int64)
        for name, arr in fields.items():
            if tuple(arr.shape) != shape:
                raise ValueError(f"field {name!r} has shape {arr.shape}, block shape {shape}")
            dset = f.create_dataset(name, shape=shape, dtype=arr.dtype)
            crc = 0
            for z0, z1 in _slabs(shape, arr.dtype.itemsize):
                chunk = np.ascontiguousarray(arr[z0:z1])
                dset[z0:z1] = chunk
                crc = zlib.crc32(chunk, crc)
            dset.attrs["crc32"] = np.uint32(crc)
            crcs[name] = int(crc)
    _fsync_file(path)
    return {"rank": int(rank), "file": path.name, "offset": offset, "shape": shape,
            "crc32": crcs}


def _overlap(offset_a, shape_a, offset_b, shape_b):
    """(lo, hi) global bounds of the intersection of two boxes, or None if empty."""
    lo = tuple(max(a, b) for a, b in zip(offset_a, offset_b))
    hi = tuple(min(a + n, b + m) for a, n, b, m in zip(offset_a, shape_a, offset_b, shape_b))
    return None if any(h <= l for l, h in zip(lo, hi)) else (lo, hi)


def read_region(directory, blocks, offset, shape, names=FIELDS, out: dict | None = None) -> dict:
    """Assemble the box ``offset`` + ``shape`` of the global lattice from stored blocks.

    Only the blocks that overlap the box are opened, so a rank of a restart on any number of
    ranks reads just the blocks around its new subdomain. Every block opened is read whole,
    slab by slab, and checked against its CRC-32 before any of its data is used: a damaged
    block is refused on every rank that touches it, whatever part of it that rank needs.

    Parameters
    ----------
    directory : str or os.PathLike
        The generation directory holding the block files.
    blocks : list of dict
        Descriptors as returned by :func:`write_block` (:attr:`Checkpoint.blocks`).
    offset, shape : tuple of int
        The box to read, in global voxel indices.
    names : sequence of str
        Fields to read.
    out : dict of str to ndarray, optional
        Arrays of shape ``shape`` to fill in place (e.g. interior views of a new state);
        allocated when not given.

    Returns
    -------
    dict of str to ndarray
        One array per name, of shape ``shape``.

    Raises
    ------
    CheckpointError
        If a block file is missing, unreadable, does not match its descriptor, fails its
        checksum, or the blocks do not cover the box.
    """
    directory = Path(directory)
    offset = tuple(int(o) for o in offset)
    shape = tuple(int(n) for n in shape)
    out = {} if out is None else out
    covered = 0
    for blk in blocks:
        hit = _overlap(offset, shape, blk["offset"], blk["shape"])
        if hit is None:
            continue
        lo, hi = hit
        covered += int(np.prod([h - l for l, h in zip(lo, hi)]))
        try:
            path = inside(directory, blk["file"], "meta.h5 blocks/file", pattern=_BLOCK_RE)
        except UnsafePathError as err:
            raise CheckpointError(str(err)) from err
        try:
            with h5py.File(path, "r") as f:
                if (f.attrs.get("format") != FORMAT
                        or tuple(f.attrs["offset"]) != tuple(blk["offset"])
                        or tuple(f.attrs["shape"]) != tuple(blk["shape"])):
                    raise CheckpointError(f"{path}: block does not match the checkpoint's "
                                          "metadata (mixed generations?)")
                for name in names:
                    dset = f[name]
                    if tuple(dset.shape) != tuple(blk["shape"]):
                        raise CheckpointError(f"{path}: field {name!r} has shape {dset.shape}, "
                                              f"the block {tuple(blk['shape'])}")
                    if name not in out:
                        out[name] = np.empty(shape, dtype=dset.dtype)
                    elif out[name].dtype != dset.dtype:
                        raise CheckpointError(f"{path}: field {name!r} is {dset.dtype}, "
                                              f"expected {out[name].dtype}")
                    _read_checked(dset, blk, name, lo, hi, offset, out[name], path)
        except (OSError, KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"{path}: cannot read the block ({err}); the checkpoint is "
                                  "incomplete or corrupt") from err
    if covered != int(np.prod(shape)):
        raise CheckpointError(f"{directory}: the stored blocks cover {covered} of the "
                              f"{int(np.prod(shape))} voxels of box {offset} + {shape}")
    return out


def _read_checked(dset, blk: dict, name: str, lo, hi, offset, target: np.ndarray,
                  path: Path) -> None:
    """Read field ``name`` of one block whole, slab by slab, copying the part inside the box
    ``lo``..``hi`` to ``target`` (whose first voxel is ``offset``), and check the whole
    block's CRC-32 against the one recorded in ``meta.h5``. On a mismatch ``target`` holds
    data that must not be used: the error is raised, and the restart is abandoned."""
    boff = tuple(blk["offset"])
    src = tuple(slice(l - o, h - o) for l, h, o in zip(lo, hi, boff))
    dst = tuple(slice(l - o, h - o) for l, h, o in zip(lo, hi, offset))
    crc = 0
    for z0, z1 in _slabs(dset.shape, dset.dtype.itemsize):
        chunk = dset[z0:z1]
        crc = zlib.crc32(chunk, crc)
        a, b = max(z0, src[0].start), min(z1, src[0].stop)
        if a < b:  # the slab's z range that lies in the box
            d0 = dst[0].start + a - src[0].start
            target[(slice(d0, d0 + b - a),) + dst[1:]] = chunk[a - z0:b - z0, src[1], src[2]]
    want = blk["crc32"].get(name)
    if want is None or crc != int(want):
        raise CheckpointError(f"{path}: field {name!r} fails its CRC-32 check (the file is "
                              "corrupt)")


# -- writing a checkpoint --------------------------------------------------------------------

def _generations(directory: Path) -> list[int]:
    if not directory.is_dir():
        return []
    return sorted(int(m.group(1)) for p in directory.iterdir() if (m := _GEN_RE.match(p.name)))


def _latest_name(directory: Path) -> str | None:
    try:
        return (directory / LATEST).read_text().strip() or None
    except OSError:
        return None


def _writer_files(writer):
    """(main writer or None, parallel writer with a part file on this rank or None).

    The serial :class:`~mcsim.io.hdf5.ResultWriter` has one file (rank 0). The parallel
    writer (:mod:`mcsim.io.parallel_hdf5`) on several ranks has a main file on rank 0 whose
    snapshot fields are virtual datasets over one part file per rank.
    """
    from mcsim.io.hdf5 import ResultWriter

    try:
        from mcsim.io.parallel_hdf5 import ParallelResultWriter
    except ImportError:  # pragma: no cover - the module is part of mcsim
        ParallelResultWriter = ()
    if isinstance(writer, ParallelResultWriter):
        main = writer._serial if writer._serial is not None else writer._main
        return main, (writer if writer._part is not None else None)
    if isinstance(writer, ResultWriter):
        return writer, None
    return None, None


def _copy_parts(gen_dir: Path, rank: int, parallel, carried) -> list[dict]:
    """Copy the part files the result file's virtual datasets read into the generation:
    this rank's part of a running parallel writer, and (rank 0) the parts a restarted run
    carries from its checkpoint. Returns their descriptors."""
    from mcsim.io.hdf5 import partial_path

    out = []
    if parallel is not None:
        parallel._part.flush()
        name = f"part-{rank:05d}.h5"
        nbytes, crc = _copy_with_crc(partial_path(parallel.part_path), gen_dir / name)
        out.append({"file": name, "final": f"{parallel.parts_dir.name}/{parallel.part_path.name}",
                    "bytes": nbytes, "crc32": crc})
    for k, part in enumerate(carried):
        name = f"part-carried-{k:05d}.h5"
        nbytes, crc = _copy_with_crc(part["path"], gen_dir / name)
        out.append({"file": name, "final": part["final"], "bytes": nbytes, "crc32": crc})
    return out


def write_checkpoint(directory, sim, writer, position: dict, *, comm=None,
                     wall_time_s: float = 0.0, restarts: int = 0) -> Path:
    """Write one checkpoint generation of a running simulation and make it the current one.

    Called at a step boundary by :class:`Checkpointer`. Collective when ``comm`` is given:
    every rank writes its block; rank 0 writes the rest.

    Parameters
    ----------
    directory : str or os.PathLike
        The checkpoint directory (created when missing).
    sim : mcsim.engine.Simulation
        The simulation (state, tallies, thermo, stepper, timer, cfg).
    writer : mcsim.io.hdf5.ResultWriter or None
        The open result writer (rank 0); flushed and copied into the checkpoint.
    position : dict
        ``next_row_s``, ``snapshot_index``, ``breakpoint_index`` and ``out_path`` of the run loop.
    comm : mpi4py communicator, optional
        The ranks sharing the lattice; None for a lone run.
    wall_time_s : float
        Wall time the run has used so far, over all its segments.
    restarts : int
        How many times the run has been restarted so far.

    Returns
    -------
    pathlib.Path
        The new generation directory.
    """
    from mcsim import __version__
    from mcsim import config as _config
    from mcsim.engine import git_commit

    directory = Path(directory)
    rank, size = _rank_size(comm)
    st = sim.state
    gen = None
    if rank == 0:
        directory.mkdir(parents=True, exist_ok=True)
        gen = max(_generations(directory), default=0) + 1
        current = _latest_name(directory)
        for number in _generations(directory):  # leftovers of interrupted writes
            name = f"gen-{number:06d}"
            if name != current:
                shutil.rmtree(directory / name, ignore_errors=True)
        (directory / f"gen-{gen:06d}").mkdir()
    if comm is not None:
        gen = comm.bcast(gen, root=0)
    gen_dir = directory / f"gen-{gen:06d}"
    block = write_block(gen_dir, rank, st.offset, st.shape, st.global_shape,
                        {name: st.interior(name) for name in FIELDS})
    main, parallel = _writer_files(writer)
    resume = getattr(sim, "resume", None)
    carried = getattr(resume, "restored_parts", []) if rank == 0 else []
    mine = (block, _copy_parts(gen_dir, rank, parallel, carried))
    gathered = [mine] if comm is None else comm.gather(mine, root=0)
    if rank == 0:
        blocks = [g[0] for g in gathered]
        parts = [p for g in gathered for p in g[1]]
        result = None
        if main is not None:
            synced = main.sync()
            nbytes, crc = _copy_with_crc(synced["path"], gen_dir / RESULT_COPY)
            result = {"file": RESULT_COPY, "bytes": nbytes, "crc32": crc,
                      "rows": synced["rows"], "snapshots": synced["snapshots"]}
        meta_path = gen_dir / META
        with h5py.File(meta_path, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["complete"] = np.bool_(False)
            f.flush()
            f.attrs["mcsim_version"] = __version__
            f.attrs["git_commit"] = git_commit()
            f.attrs["created"] = _utc_now()
            f.attrs["generation"] = gen
            f.create_dataset("config", data=_config.to_toml(sim.cfg),
                             dtype=h5py.string_dtype("utf-8"))
            g = f.create_group("lattice")
            g.attrs["global_shape"] = np.asarray(st.global_shape, dtype=np.int64)
            g.attrs["voxel_nm"] = float(st.voxel_nm)
            g.attrs["center_vox"] = np.asarray(st.center_vox, dtype=np.float64)
            g.attrs["radius_vox"] = float(st.radius_vox)
            b = f.create_group("blocks")
            b.create_dataset("rank", data=np.array([x["rank"] for x in blocks], dtype=np.int64))
            b.create_dataset("offset", data=np.array([x["offset"] for x in blocks], dtype=np.int64))
            b.create_dataset("shape", data=np.array([x["shape"] for x in blocks], dtype=np.int64))
            b.create_dataset("file", data=[x["file"] for x in blocks],
                             dtype=h5py.string_dtype("utf-8"))
            for name in FIELDS:
                b.create_dataset(f"crc32_{name}", data=np.array(
                    [x["crc32"][name] for x in blocks], dtype=np.uint32))
            e = f.create_group("engine")
            e.attrs["time_s"] = np.float64(st.time_s)
            e.attrs["step"] = np.int64(st.step)
            e.attrs["next_row_s"] = np.float64(position["next_row_s"])
            e.attrs["snapshot_index"] = np.int64(position["snapshot_index"])
            e.attrs["breakpoint_index"] = np.int64(position["breakpoint_index"])
            e.attrs["out_path"] = str(Path(position["out_path"]).resolve())
            e.attrs["restarts"] = np.int64(restarts)
            e.attrs["wall_time_s"] = float(wall_time_s)
            r = f.create_group("rng")
            r.attrs["seed"] = np.uint64(int(sim.cfg["seed"]))
            r.attrs["counter_step"] = np.int64(st.step)
            r.attrs["note"] = RNG_NOTE
            _put_tree(f.create_group("tallies"), {k: int(v) for k, v in sim.tallies.items()})
            _put_tree(f.create_group("census"), {k: int(v) for k, v in st.census.items()})
            th = f.create_group("thermo")
            th.attrs["m0"] = np.float64(sim.thermo.m0)
            if sim.thermo.last is not None:
                th.attrs["last"] = np.asarray(sim.thermo.last, dtype=np.float64)
            p = f.create_group("processes")
            for proc in sim.stepper.processes:
                if hasattr(proc, "state_dict"):
                    sub = p.create_group(proc.name)
                    sub.attrs["variant"] = proc.variant
                    _put_tree(sub, proc.state_dict())
            t = f.create_group("timing")
            _put_tree(t.create_group("timer"), {k: float(v) for k, v in sim.timer.seconds.items()})
            _put_tree(t.create_group("stepper"),
                      {k: float(v) for k, v in sim.stepper.seconds.items()})
            t.attrs["passes"] = np.int64(sim.stepper.passes)
            if result is not None:
                res = f.create_group("result")
                for key, value in result.items():
                    res.attrs[key] = value
                if parts:  # part files of the parallel writer, restored beside the result
                    for key in ("file", "final"):
                        res.create_dataset(f"parts_{key}", data=[x[key] for x in parts],
                                           dtype=h5py.string_dtype("utf-8"))
                    res.create_dataset("parts_bytes", data=np.array(
                        [x["bytes"] for x in parts], dtype=np.int64))
                    res.create_dataset("parts_crc32", data=np.array(
                        [x["crc32"] for x in parts], dtype=np.uint32))
            f.flush()
            f.attrs["complete"] = np.bool_(True)  # the marker: written last
        _fsync_file(meta_path)
        _fsync_dir(gen_dir)
        previous = _latest_name(directory)
        tmp = directory / (LATEST + ".tmp")
        with open(tmp, "w") as fh:
            fh.write(gen_dir.name + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, directory / LATEST)
        _fsync_dir(directory)
        if previous and previous != gen_dir.name:
            shutil.rmtree(directory / previous, ignore_errors=True)
    if comm is not None:
        comm.Barrier()
    return gen_dir


def discard(directory, comm=None) -> None:
    """Remove a run's checkpoint once its result file is complete (rank 0; collective).

    Deletes the generation directories and ``LATEST``; the directory itself only if it is
    then empty (nothing else of the user's is touched).
    """
    directory = Path(directory)
    rank, _ = _rank_size(comm)
    if rank == 0 and directory.is_dir():
        for number in _generations(directory):
            shutil.rmtree(directory / f"gen-{number:06d}", ignore_errors=True)
        for name in (LATEST, LATEST + ".tmp"):
            (directory / name).unlink(missing_ok=True)
        try:
            directory.rmdir()
        except OSError:
            pass
    if comm is not None:
        comm.Barrier()


# -- reading a checkpoint --------------------------------------------------------------------

class Checkpoint:
    """A verified, complete checkpoint generation, opened for a restart.

    Open one with :func:`open_checkpoint`. Reading the metadata is cheap; the voxel fields
    are read by :meth:`load_state` (only the caller's subdomain).

    Attributes
    ----------
    directory : pathlib.Path
        The checkpoint directory (where the restarted run writes its next checkpoints).
    generation_dir : pathlib.Path
        The generation read.
    blocks : list of dict
        Block descriptors (``rank``, ``file``, ``offset``, ``shape``, ``crc32``).
    global_shape : tuple of int
    time_s : float
    step : int
    """

    def __init__(self, directory: Path, generation_dir: Path):
        self.directory = directory
        self.generation_dir = generation_dir
        meta = generation_dir / META
        if not meta.is_file():
            raise CheckpointError(f"{generation_dir} has no {META}: the checkpoint was never "
                                  "completed (its run was killed while writing it)")
        try:
            f = h5py.File(meta, "r")
        except OSError as err:
            raise CheckpointError(f"{meta} cannot be read ({err}): the checkpoint is "
                                  "incomplete or corrupt") from err
        with f:
            self._read_meta(f, meta)
        self._check_names()
        self._check_files()

    def _read_meta(self, f: h5py.File, meta: Path) -> None:
        from mcsim import __version__

        if f.attrs.get("format") != FORMAT:
            raise CheckpointError(f"{meta} is not an mcsim checkpoint")
        if int(f.attrs.get("format_version", -1)) != FORMAT_VERSION:
            raise CheckpointError(f"{meta} has checkpoint format version "
                                  f"{f.attrs.get('format_version')}, this mcsim reads "
                                  f"{FORMAT_VERSION}")
        complete = f.attrs.get("complete", False)
        if not (isinstance(complete, (bool, np.bool_)) and bool(complete)):
            raise CheckpointError(f"{meta} is INCOMPLETE (complete is not true): its run was "
                                  "killed while writing it")
        if f.attrs["mcsim_version"] != __version__:
            raise CheckpointError(f"{meta} was written by mcsim {f.attrs['mcsim_version']}, "
                                  f"this is mcsim {__version__}: a restart would not "
                                  "reproduce the run")
        try:
            self.mcsim_version = str(f.attrs["mcsim_version"])
            self.git_commit = str(f.attrs["git_commit"])
            self.config_toml = f["config"].asstr()[()]
            lat = f["lattice"].attrs
            self.global_shape = tuple(int(n) for n in lat["global_shape"])
            self.voxel_nm = float(lat["voxel_nm"])
            self.center_vox = tuple(float(c) for c in lat["center_vox"])
            self.radius_vox = float(lat["radius_vox"])
            b = f["blocks"]
            files = b["file"].asstr()[()]
            self.blocks = [
                {"rank": int(b["rank"][i]), "file": str(files[i]),
                 "offset": tuple(int(o) for o in b["offset"][i]),
                 "shape": tuple(int(n) for n in b["shape"][i]),
                 "crc32": {name: int(b[f"crc32_{name}"][i]) for name in FIELDS}}
                for i in range(len(files))]
            e = f["engine"].attrs
            self.time_s = float(e["time_s"])
            self.step = int(e["step"])
            self.next_row_s = float(e["next_row_s"])
            self.snapshot_index = int(e["snapshot_index"])
            self.breakpoint_index = int(e["breakpoint_index"])
            self.out_path = str(e["out_path"])
            self.restarts = int(e["restarts"])
            self.wall_time_s = float(e["wall_time_s"])
            self.tallies = _get_tree(f["tallies"])
            self.census = _get_tree(f["census"])
            self.thermo_m0 = float(f["thermo"].attrs["m0"])
            last = f["thermo"].attrs.get("last")
            self.thermo_last = None if last is None else tuple(float(v) for v in last)
            self.processes = {name: (str(g.attrs["variant"]), _get_tree(g))
                              for name, g in f["processes"].items()}
            t = f["timing"]
            self.timer_s = _get_tree(t["timer"])
            self.stepper_s = _get_tree(t["stepper"])
            self.passes = int(t.attrs["passes"])
            self.result = dict(f["result"].attrs) if "result" in f else None
            self.result_parts = []
            if self.result is not None and "parts_file" in f["result"]:
                r = f["result"]
                self.result_parts = [
                    {"file": str(a), "final": str(b), "bytes": int(c), "crc32": int(d)}
                    for a, b, c, d in zip(r["parts_file"].asstr()[()],
                                          r["parts_final"].asstr()[()],
                                          r["parts_bytes"][()], r["parts_crc32"][()])]
            #: part files put back beside the result by :meth:`open_writer` (carried on into
            #: the next checkpoint, since the result's virtual datasets read them)
            self.restored_parts: list[dict] = []
        except (KeyError, OSError, ValueError) as err:
            raise CheckpointError(f"{meta} lacks or cannot read {err}: the checkpoint is "
                                  "corrupt") from err
        self._check_tiling()

    def _check_tiling(self) -> None:
        """The blocks must lie inside the lattice, not overlap, and fill it."""
        total = 0
        for i, a in enumerate(self.blocks):
            if min(a["shape"]) < 1 or any(o < 0 or o + n > g for o, n, g in
                                          zip(a["offset"], a["shape"], self.global_shape)):
                raise CheckpointError(f"{self.generation_dir}: block {a['file']} lies outside "
                                      f"the {self.global_shape} lattice")
            total += int(np.prod(a["shape"]))
            for b in self.blocks[i + 1:]:
                if _overlap(a["offset"], a["shape"], b["offset"], b["shape"]) is not None:
                    raise CheckpointError(f"{self.generation_dir}: blocks {a['file']} and "
                                          f"{b['file']} overlap")
        if total != int(np.prod(self.global_shape)):
            raise CheckpointError(f"{self.generation_dir}: the blocks hold {total} voxels, the "
                                  f"lattice {int(np.prod(self.global_shape))}")

    def _check_names(self) -> None:
        """Every file name ``meta.h5`` gives must be one this format writes, inside the
        generation (and a part file's place beside the result a plain relative name): a
        checkpoint never makes mcsim read or write anywhere else."""
        try:
            inside(self.directory, self.generation_dir.name, "checkpoint generation")
            for blk in self.blocks:
                inside(self.generation_dir, blk["file"], "meta.h5 blocks/file",
                       pattern=_BLOCK_RE)
            if self.result is not None:
                inside(self.generation_dir, str(self.result.get("file")), "meta.h5 result/file",
                       pattern=re.compile(re.escape(RESULT_COPY)))
            for part in self.result_parts:
                inside(self.generation_dir, part["file"], "meta.h5 result/parts_file",
                       pattern=_PART_COPY_RE)
                inside(self.generation_dir, part["final"], "meta.h5 result/parts_final",
                       max_parts=2, pattern=SOURCE_RE)
        except UnsafePathError as err:
            raise CheckpointError(f"{self.generation_dir / META}: {err}") from err

    def default_output(self) -> Path:
        """Where a restart without ``-o`` writes its result: the run's own output, read from
        ``meta.h5`` and accepted only when it lies in the checkpoint's folder (as
        ``OUT.ckpt`` beside ``OUT.h5`` does), so a checkpoint never sends output elsewhere."""
        stored = Path(self.out_path)
        folder = self.directory.resolve().parent
        if stored.parent != folder:
            raise CheckpointError(f"{self.generation_dir / META}: the run's output {stored} is "
                                  f"not in the checkpoint's folder {folder} (moved, or a "
                                  "checkpoint_path elsewhere): give the output with -o OUT.h5")
        try:
            return inside(folder, stored.name, "meta.h5 engine/out_path")
        except UnsafePathError as err:
            raise CheckpointError(f"{self.generation_dir / META}: {err}") from err

    def verify_copies(self) -> None:
        """Check the CRC-32 of the result copy and of every part copy without writing
        anything (rank 0 of a restart calls it before any rank writes)."""
        if self.result is None:
            return
        wanted = [(str(self.result["file"]), self.result["bytes"], self.result["crc32"])]
        wanted += [(p["file"], p["bytes"], p["crc32"]) for p in self.result_parts]
        for name, nbytes, crc32 in wanted:
            path = self.generation_dir / name
            try:
                got_bytes, got_crc = _copy_with_crc(path)
            except OSError:
                got_bytes, got_crc = -1, 0
            if got_bytes != int(nbytes) or got_crc != int(crc32):
                raise CheckpointError(f"{path} fails its CRC-32 check (the file is corrupt)")

    def check_targets(self, out_path) -> list[Path]:
        """Where :meth:`open_writer` would put the part files back for the result
        ``out_path``: each must stay inside the result's folder (checked before anything is
        written)."""
        folder = Path(out_path).parent
        try:
            return [inside(folder, part["final"], "meta.h5 result/parts_final", max_parts=2,
                           pattern=SOURCE_RE) for part in self.result_parts]
        except UnsafePathError as err:
            raise CheckpointError(f"{self.generation_dir / META}: {err}") from err

    def _check_files(self) -> None:
        for blk in self.blocks:
            if not (self.generation_dir / blk["file"]).is_file():
                raise CheckpointError(f"{self.generation_dir / blk['file']} is missing: the "
                                      "checkpoint is incomplete")
        if self.result is not None:
            wanted = [(self.result["file"], self.result["bytes"])]
            wanted += [(p["file"], p["bytes"]) for p in self.result_parts]
            for name, nbytes in wanted:
                path = self.generation_dir / str(name)
                if not path.is_file() or path.stat().st_size != int(nbytes):
                    raise CheckpointError(f"{path} is missing or truncated: the checkpoint is "
                                          "incomplete or corrupt")

    # -- what a restart needs ------------------------------------------------------------
    def config(self, threads: int | None = None) -> dict:
        """The run's validated configuration (``threads`` overrides ``numerics.threads``;
        the thread count does not change results)."""
        import tomllib

        from mcsim import config as _config

        try:
            cfg = _config.validate(_config._merge(_config.defaults(),
                                                  tomllib.loads(self.config_toml)))
        except (tomllib.TOMLDecodeError, ConfigError) as err:
            raise CheckpointError(f"{self.generation_dir / META}: its configuration is not "
                                  f"valid for this mcsim ({err})") from err
        if _config.to_toml(cfg) != self.config_toml:
            raise CheckpointError(f"{self.generation_dir / META}: its configuration does not "
                                  "read back identically in this mcsim")
        if threads is not None:
            cfg["numerics"]["threads"] = int(threads)
        return cfg

    def local_state(self, comm=None):
        """(state, decomposition) of this rank: with ``comm`` the lattice is split over its
        ranks (:class:`mcsim.parallel.Decomposition`, any number of ranks, not necessarily
        the number that wrote the checkpoint) and each reads only its block; without, the
        whole lattice and None."""
        self.restart_ranks = 1 if comm is None else comm.Get_size()
        if comm is None:
            return self.load_state(), None
        from mcsim.parallel import Decomposition

        decomposition = Decomposition(comm, self.global_shape)
        error = state = None
        try:
            state = self.load_state(decomposition.offset, decomposition.shape)
        except CheckpointError as err:
            error = err
        agree(comm, error)  # a damaged block on one rank stops every rank, before the halo
        decomposition.attach(state)
        return state, decomposition

    def load_state(self, offset=None, shape=None):
        """The :class:`mcsim.state.State` of subdomain ``offset`` + ``shape`` (default: the
        whole lattice), read from the overlapping blocks, halo filled as a lone domain.

        A decomposed restart passes its new block and then attaches the state to its
        decomposition (``Decomposition.attach``), which exchanges the halo.
        """
        from mcsim.state import _FIELDS, State

        offset = (0, 0, 0) if offset is None else tuple(int(o) for o in offset)
        shape = self.global_shape if shape is None else tuple(int(n) for n in shape)
        padded = tuple(n + 2 for n in shape)
        arrays = {name: np.zeros(padded, dtype=dt) for name, dt in _FIELDS}
        inner = (slice(1, -1),) * 3
        read_region(self.generation_dir, self.blocks, offset, shape, FIELDS,
                    out={name: arrays[name][inner] for name in FIELDS})
        state = State(**arrays, global_shape=self.global_shape, offset=offset,
                      voxel_nm=self.voxel_nm, center_vox=self.center_vox,
                      radius_vox=self.radius_vox, time_s=self.time_s, step=self.step)
        state.census = dict(self.census)
        state.fill_halo()
        return state

    def restore(self, sim) -> None:
        """Put the checkpoint's tallies, diagnostics history, process state and timings into
        a Simulation built on :meth:`load_state`'s state; set ``sim.resume``."""
        from collections import defaultdict

        sim.tallies = defaultdict(int, self.tallies)
        sim.thermo.m0 = self.thermo_m0
        sim.thermo.last = self.thermo_last
        for proc in sim.stepper.processes:
            stored = self.processes.get(proc.name)
            if hasattr(proc, "load_state_dict"):
                if stored is None or stored[0] != proc.variant:
                    raise CheckpointError(f"{self.generation_dir / META} holds no state of "
                                          f"process {proc.name} ({proc.variant})")
                proc.load_state_dict(stored[1])
        sim.timer.seconds.update(self.timer_s)
        sim.stepper.seconds.update(self.stepper_s)
        sim.stepper.passes = self.passes
        sim.resume = self

    def _restore_copy(self, name: str, nbytes: int, crc32: int, target: Path) -> None:
        """Copy ``name`` of the generation to ``target`` (via a temporary name), CRC-checked."""
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".restoring")
        got_bytes, got_crc = _copy_with_crc(self.generation_dir / name, tmp)
        if got_bytes != int(nbytes) or got_crc != int(crc32):
            tmp.unlink(missing_ok=True)
            raise CheckpointError(f"{self.generation_dir / name} fails its CRC-32 check (the "
                                  "file is corrupt)")
        os.replace(tmp, target)

    def open_writer(self, out_path):
        """Put the checkpoint's copy of the result file at ``out_path.partial`` (CRC checked
        while copying) and reopen it for appending (rank 0).

        A result written by the parallel writer also needs the part files its snapshot
        virtual datasets read: they are put back where those datasets look for them (beside
        the result, as the original run named them) and marked complete, since the restarted
        run writes later snapshots into the main file itself.
        """
        from mcsim.io.hdf5 import IncompleteResultError, ResultWriter, partial_path

        if self.result is None:
            raise CheckpointError(f"{self.generation_dir}: holds no copy of the result file")
        targets = self.check_targets(out_path)  # every name checked before any write
        for part, target in zip(self.result_parts, targets):
            self._restore_copy(part["file"], part["bytes"], part["crc32"], target)
            with h5py.File(target, "r+") as f:
                f.attrs["complete"] = np.bool_(True)
            _fsync_file(target)
            partial_path(target).unlink(missing_ok=True)  # the killed run's unfinished part
            self.restored_parts.append({"final": part["final"], "path": target.resolve()})
        self._restore_copy(str(self.result["file"]), self.result["bytes"],
                           self.result["crc32"], partial_path(out_path))
        try:
            return ResultWriter.resume(out_path, rows=int(self.result["rows"]),
                                       snapshots=int(self.result["snapshots"]))
        except IncompleteResultError as err:
            raise CheckpointError(str(err)) from err

    def position(self) -> tuple[float, int, int]:
        """(time of the next row, index of the next snapshot, index of the next breakpoint)."""
        return self.next_row_s, self.snapshot_index, self.breakpoint_index

    def provenance(self) -> dict:
        """Attributes added to ``/provenance`` at the end of a restarted run."""
        import sys

        return {"restarts": self.restarts + 1, "last_restart_pid": os.getpid(),
                "last_restart_command": " ".join(sys.argv),
                "last_restart_from_step": self.step,
                "last_restart_mpi_ranks": getattr(self, "restart_ranks", 1)}


def open_checkpoint(path) -> Checkpoint:
    """Open and verify the current generation of a checkpoint directory.

    Parameters
    ----------
    path : str or os.PathLike
        A checkpoint directory (its ``LATEST`` names the generation), or one generation
        directory itself.

    Returns
    -------
    Checkpoint

    Raises
    ------
    CheckpointError
        If there is no checkpoint at ``path``, or it is incomplete, corrupt or was written by
        another mcsim version.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    if not path.is_dir():
        raise CheckpointError(f"{path} is not a checkpoint directory")
    if (path / META).exists() or _GEN_RE.match(path.name):
        return Checkpoint(path.parent, path)
    name = _latest_name(path)
    if name is None:
        raise CheckpointError(f"{path} holds no complete checkpoint (no {LATEST} file): the "
                              "run was stopped before its first checkpoint was finished")
    if not _GEN_RE.match(name) or not (path / name).is_dir():
        raise CheckpointError(f"{path / LATEST} names {name!r}, which is not a generation "
                              "directory of this checkpoint")
    return Checkpoint(path, path / name)


# -- the run loop's side: when to write, when to stop ----------------------------------------

class StopFlag:
    """Set by a signal handler; read by :class:`Checkpointer` at each step boundary."""

    def __init__(self):
        self.reason: str | None = None

    def set(self, reason: str) -> None:
        self.reason = reason

    def is_set(self) -> bool:
        return self.reason is not None


def install_stop_signals(flag: StopFlag | None = None) -> StopFlag:
    """Make SIGTERM, SIGUSR1, SIGHUP and SIGINT (where the platform has them) set ``flag``
    instead of killing the process, so the run checkpoints at the next step boundary and
    exits (``mcsim run``: status 75, or 130 after Ctrl-C).

    SLURM sends SIGTERM at the time limit (then SIGKILL after ``KillWait``, 30 s by
    default) and, with ``#SBATCH --signal=B:USR1@300``, SIGUSR1 300 s before it. SIGHUP (a
    closed terminal or ssh session) is treated as SIGTERM; installing our handler also keeps
    the MPI library's own SIGHUP handler from taking it. A second Ctrl-C raises
    KeyboardInterrupt at once (no checkpoint).
    """
    flag = flag or StopFlag()

    def handler(signum, _frame):
        name = signal.Signals(signum).name
        if name == "SIGINT" and flag.reason == "SIGINT":
            raise KeyboardInterrupt  # the second Ctrl-C: stop now
        flag.set(name)

    for name in (*STOP_SIGNALS, "SIGHUP", "SIGINT"):
        sig = getattr(signal, name, None)
        if sig is not None:
            signal.signal(sig, handler)
    return flag


class Checkpointer:
    """Decides at every step boundary whether to write a checkpoint, and whether to stop.

    Parameters
    ----------
    directory : str or os.PathLike
        Checkpoint directory.
    interval_wall_s : float
        Wall time between periodic checkpoints (0: off).
    interval_sim_s : float
        Simulated time between periodic checkpoints (0: off); written at the first step
        boundary at or after each multiple (the time step is not changed).
    walltime_s : float, optional
        The job's wall-time limit, counted from ``t_start``: the run checkpoints and stops
        once the time left is less than the reserve (:meth:`reserve_s`).
    t_start : float, optional
        ``time.monotonic()`` at the start of the process (default: now).
    stop : StopFlag, optional
        Set by a signal: checkpoint at the next step boundary and stop.
    restarts : int
        Restarts so far (stored in the checkpoint).
    resumed : bool
        The run was restarted from ``directory`` (so it owns that checkpoint even when it
        writes no new one, and removes it once the result is complete).
    log : callable
        Where progress lines go.
    """

    def __init__(self, directory, *, interval_wall_s: float = 0.0, interval_sim_s: float = 0.0,
                 walltime_s: float | None = None, t_start: float | None = None,
                 stop: StopFlag | None = None, restarts: int = 0, resumed: bool = False,
                 log=print):
        self.directory = Path(directory)
        self.interval_wall_s = float(interval_wall_s)
        self.interval_sim_s = float(interval_sim_s)
        self.walltime_s = walltime_s
        self.t_start = time.monotonic() if t_start is None else t_start
        self.stop = stop
        self.restarts = int(restarts)
        #: ``time.perf_counter()`` at which the run started, earlier segments of a restarted run
        #: included (set by the engine): the checkpoint stores the wall time used so far.
        self.run_start = time.perf_counter()
        self.resumed = bool(resumed)
        self.log = log
        self.active = bool(self.interval_wall_s > 0 or self.interval_sim_s > 0
                           or walltime_s or stop is not None)
        self.written = 0  # checkpoints written by this process
        self.last_seconds: float | None = None  # wall time of the last write
        self._mark: float | None = None
        self._max_step_s = 0.0
        self._last_write = time.monotonic()
        self._next_sim_s: float | None = None

    @classmethod
    def from_config(cls, cfg: dict, out_path, *, resume: "Checkpoint | None" = None,
                    **kwargs) -> "Checkpointer":
        """The checkpointer a configuration asks for (``output.checkpoint_*``).

        A restarted run (``resume``) goes on writing into the directory it restarted from.
        Further keyword arguments go to the constructor (``walltime_s``, ``stop``, ...).
        """
        out = cfg.get("output", {})
        kwargs.setdefault("interval_wall_s", out.get("checkpoint_interval_wall_s", 0.0))
        kwargs.setdefault("interval_sim_s", 60.0 * out.get("checkpoint_interval_sim_min", 0.0))
        if resume is not None:
            kwargs.update(resumed=True, restarts=resume.restarts + 1)
            return cls(resume.directory, **kwargs)
        directory = checkpoint_dir(cfg, out_path)
        from mcsim.io.hdf5 import partial_path

        taken = {Path(out_path).resolve(), partial_path(out_path).resolve(),
                 Path(out_path).with_suffix(".xmf").resolve()}
        if directory.resolve() in taken:
            raise ConfigError("output.checkpoint_path", str(directory),
                              "must differ from the result file, its .partial and its .xmf")
        return cls(directory, **kwargs)

    def reserve_s(self, sim) -> float:
        """Wall time kept in hand before the limit: two of the longest step so far, plus two
        checkpoint writes (the last one timed, or the state and result bytes at 100 MB/s),
        plus min(30 s, 5 % of the limit)."""
        write_s = self.last_seconds
        if write_s is None:
            nbytes = sum(sim.state.interior(n).nbytes for n in FIELDS)
            write_s = nbytes / _ASSUMED_BYTES_PER_S
        return 2.0 * self._max_step_s + 2.0 * write_s + min(30.0, 0.05 * (self.walltime_s or 0))

    def _reason(self, sim, now: float) -> tuple[str | None, bool]:
        """(why to write now or None, whether to stop after writing)."""
        if self.stop is not None and self.stop.is_set():
            return self.stop.reason, True
        if self.walltime_s and self.walltime_s - (now - self.t_start) < self.reserve_s(sim):
            return "wall-time limit", True
        if self.interval_wall_s > 0 and now - self._last_write >= self.interval_wall_s:
            return "interval", False
        if self.interval_sim_s > 0 and sim.state.time_s >= self._next_sim_s * (1 - 1e-12):
            return "interval", False
        return None, False

    def at_step_boundary(self, sim, writer, *, next_row_s: float, snapshot_index: int,
                         breakpoint_index: int, out_path) -> None:
        """Called by the run loop after every step; writes a checkpoint when one is due and
        raises :class:`CheckpointExit` after it when the run must stop."""
        if not self.active or sim.state.time_s >= sim.schedule.duration_s * (1 - 1e-12):
            return  # (after the last step the run finishes: nothing left to checkpoint)
        now = time.monotonic()
        if self._mark is not None:
            self._max_step_s = max(self._max_step_s, now - self._mark)
        self._mark = now
        if self._next_sim_s is None and self.interval_sim_s > 0:
            self._next_sim_s = (math.floor(sim.state.time_s / self.interval_sim_s + 1e-9) + 1) \
                * self.interval_sim_s
        reason, stop = self._reason(sim, now)
        comm = getattr(sim.state, "comm", None)
        if comm is not None:  # every rank must agree (signals and clocks differ per rank)
            from mpi4py import MPI

            code = comm.allreduce(2 if stop else (1 if reason else 0), op=MPI.MAX)
            stop, reason = code == 2, (reason or ("another rank" if code else None))
        if reason is None:
            return
        t0 = time.perf_counter()
        path = write_checkpoint(
            self.directory, sim, writer,
            {"next_row_s": next_row_s, "snapshot_index": snapshot_index,
             "breakpoint_index": breakpoint_index, "out_path": out_path},
            comm=comm, restarts=self.restarts, wall_time_s=time.perf_counter() - self.run_start)
        self.last_seconds = time.perf_counter() - t0
        sim.timer.add("i/o: checkpoint", self.last_seconds)
        self.written += 1
        self._last_write = time.monotonic()
        self._mark = self._last_write  # the write is not part of the next step
        if self.interval_sim_s > 0:
            while self._next_sim_s <= sim.state.time_s * (1 + 1e-12):
                self._next_sim_s += self.interval_sim_s
        if stop:
            self.log(f"mcsim: stopped on {reason} at t = {sim.state.time_s / 60:.2f} min, step "
                     f"{sim.state.step}; checkpoint written to {self.directory} "
                     f"({path.name}, {self.last_seconds:.2f} s). Continue with: "
                     f"mcsim run --restart {self.directory} -o {out_path}")
            raise CheckpointExit(self.directory, reason, sim.state.time_s, sim.state.step)
        self.log(f"checkpoint {path.name} written to {self.directory} at t = "
                 f"{sim.state.time_s / 60:.2f} min, step {sim.state.step} "
                 f"({self.last_seconds:.2f} s)")

    def finished(self, comm=None) -> None:
        """The result file is complete: the checkpoint this run wrote or restarted from is no
        longer needed and is removed (:func:`discard`)."""
        if self.active or self.resumed:
            discard(self.directory, comm)
