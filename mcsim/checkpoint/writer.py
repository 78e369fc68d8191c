"""Writing a checkpoint generation (collective) and removing a finished run's checkpoint.

The run hands over its state as plain data (:meth:`mcsim.engine.Simulation.checkpoint_data`);
every rank writes its block, rank 0 copies the result file and writes ``meta.h5``, marks it
complete, and only then moves ``LATEST`` (see the package docstring for the order).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import h5py
import numpy as np

from mcsim import __version__
from mcsim.checkpoint.blocks import write_block
from mcsim.checkpoint.format import (FIELDS, FORMAT, FORMAT_VERSION, LATEST, META, RESULT_COPY,
                                     RNG_NOTE, copy_with_crc, fsync_dir, fsync_file,
                                     generation_name, generations, latest_name, put_tree,
                                     rank_size)
from mcsim.io.hdf5 import ResultWriter, partial_path
from mcsim.io.parallel_hdf5 import ParallelResultWriter
from mcsim.provenance import git_commit, utc_now


def _writer_files(writer):
    """(main writer or None, parallel writer with a part file on this rank or None).

    The serial :class:`~mcsim.io.hdf5.ResultWriter` has one file (rank 0). The parallel
    writer (:mod:`mcsim.io.parallel_hdf5`) on several ranks has a main file on rank 0 whose
    snapshot fields are virtual datasets over one part file per rank.
    """
    if isinstance(writer, ParallelResultWriter):
        return writer.main_file_writer, (writer if writer.has_part else None)
    if isinstance(writer, ResultWriter):
        return writer, None
    return None, None


def _copy_parts(gen_dir: Path, rank: int, parallel, carried) -> list[dict]:
    """Copy the part files the result file's virtual datasets read into the generation:
    this rank's part of a running parallel writer, and (rank 0) the parts a restarted run
    carries from its checkpoint. Returns their descriptors."""
    out = []
    if parallel is not None:
        parallel.flush_part()
        name = f"part-{rank:05d}.h5"
        nbytes, crc = copy_with_crc(partial_path(parallel.part_path), gen_dir / name)
        out.append({"file": name, "final": f"{parallel.parts_dir.name}/{parallel.part_path.name}",
                    "bytes": nbytes, "crc32": crc})
    for k, part in enumerate(carried):
        name = f"part-carried-{k:05d}.h5"
        nbytes, crc = copy_with_crc(part["path"], gen_dir / name)
        out.append({"file": name, "final": part["final"], "bytes": nbytes, "crc32": crc})
    return out


def write_checkpoint(directory, sim, writer, position: dict, *, comm=None,
                     wall_time_s: float = 0.0, restarts: int = 0) -> Path:
    """Write one checkpoint generation of a running simulation and make it the current one.

    Called at a step boundary by :class:`~mcsim.checkpoint.Checkpointer`. Collective when
    ``comm`` is given: every rank writes its block; rank 0 writes the rest.

    Parameters
    ----------
    directory : str or os.PathLike
        The checkpoint directory (created when missing).
    sim : mcsim.engine.Simulation
        The simulation; its :meth:`~mcsim.engine.Simulation.checkpoint_data` is stored.
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
    directory = Path(directory)
    rank, size = rank_size(comm)
    data = sim.checkpoint_data()
    gen = None
    if rank == 0:
        directory.mkdir(parents=True, exist_ok=True)
        gen = max(generations(directory), default=0) + 1
        drop_unfinished(directory)  # leftovers of interrupted writes
        (directory / generation_name(gen)).mkdir()
    if comm is not None:
        gen = comm.bcast(gen, root=0)
    gen_dir = directory / generation_name(gen)
    block = write_block(gen_dir, rank, data["offset"], data["shape"], data["global_shape"],
                        {name: data["fields"][name] for name in FIELDS})
    main, parallel = _writer_files(writer)
    carried = data["carried_parts"] if rank == 0 else []
    mine = (block, _copy_parts(gen_dir, rank, parallel, carried))
    gathered = [mine] if comm is None else comm.gather(mine, root=0)
    if rank == 0:
        blocks = [g[0] for g in gathered]
        parts = [p for g in gathered for p in g[1]]
        result = None
        if main is not None:
            synced = main.sync()
            nbytes, crc = copy_with_crc(synced["path"], gen_dir / RESULT_COPY)
            result = {"file": RESULT_COPY, "bytes": nbytes, "crc32": crc,
                      "rows": synced["rows"], "snapshots": synced["snapshots"]}
        meta_path = gen_dir / META
        with h5py.File(meta_path, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["complete"] = np.bool_(False)
            f.flush()
            _write_meta(f, data, gen, blocks, position, restarts, wall_time_s)
            if result is not None:
                _write_result(f, result, parts)
            f.flush()
            f.attrs["complete"] = np.bool_(True)  # the marker: written last
        fsync_file(meta_path)
        fsync_dir(gen_dir)
        previous = latest_name(directory)
        tmp = directory / (LATEST + ".tmp")
        with open(tmp, "w") as fh:
            fh.write(gen_dir.name + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, directory / LATEST)
        fsync_dir(directory)
        if previous and previous != gen_dir.name:
            shutil.rmtree(directory / previous, ignore_errors=True)
    if comm is not None:
        comm.Barrier()
    return gen_dir


def _write_meta(f: h5py.File, data: dict, gen: int, blocks: list, position: dict,
                restarts: int, wall_time_s: float) -> None:
    """Everything of ``meta.h5`` but the result copy: provenance, configuration, lattice,
    block descriptors, clock and schedule position, counter position, tallies, census,
    diagnostics history, process state and timings."""
    f.attrs["mcsim_version"] = __version__
    f.attrs["git_commit"] = git_commit()
    f.attrs["created"] = utc_now()
    f.attrs["generation"] = gen
    f.create_dataset("config", data=data["config_toml"], dtype=h5py.string_dtype("utf-8"))
    g = f.create_group("lattice")
    g.attrs["global_shape"] = np.asarray(data["global_shape"], dtype=np.int64)
    g.attrs["voxel_nm"] = float(data["voxel_nm"])
    g.attrs["center_vox"] = np.asarray(data["center_vox"], dtype=np.float64)
    g.attrs["radius_vox"] = float(data["radius_vox"])
    b = f.create_group("blocks")
    b.create_dataset("rank", data=np.array([x["rank"] for x in blocks], dtype=np.int64))
    b.create_dataset("offset", data=np.array([x["offset"] for x in blocks], dtype=np.int64))
    b.create_dataset("shape", data=np.array([x["shape"] for x in blocks], dtype=np.int64))
    b.create_dataset("file", data=[x["file"] for x in blocks], dtype=h5py.string_dtype("utf-8"))
    for name in FIELDS:
        b.create_dataset(f"crc32_{name}", data=np.array(
            [x["crc32"][name] for x in blocks], dtype=np.uint32))
    e = f.create_group("engine")
    e.attrs["time_s"] = np.float64(data["time_s"])
    e.attrs["step"] = np.int64(data["step"])
    e.attrs["next_row_s"] = np.float64(position["next_row_s"])
    e.attrs["snapshot_index"] = np.int64(position["snapshot_index"])
    e.attrs["breakpoint_index"] = np.int64(position["breakpoint_index"])
    e.attrs["out_path"] = str(Path(position["out_path"]).resolve())
    e.attrs["restarts"] = np.int64(restarts)
    e.attrs["wall_time_s"] = float(wall_time_s)
    r = f.create_group("rng")
    r.attrs["seed"] = np.uint64(int(data["seed"]))
    r.attrs["counter_step"] = np.int64(data["step"])
    r.attrs["note"] = RNG_NOTE
    put_tree(f.create_group("tallies"), {k: int(v) for k, v in data["tallies"].items()})
    put_tree(f.create_group("census"), {k: int(v) for k, v in data["census"].items()})
    th = f.create_group("thermo")
    th.attrs["m0"] = np.float64(data["thermo_m0"])
    if data["thermo_last"] is not None:
        th.attrs["last"] = np.asarray(data["thermo_last"], dtype=np.float64)
    p = f.create_group("processes")
    for name, (variant, state) in data["processes"].items():
        sub = p.create_group(name)
        sub.attrs["variant"] = variant
        put_tree(sub, state)
    t = f.create_group("timing")
    put_tree(t.create_group("timer"), {k: float(v) for k, v in data["timer_s"].items()})
    put_tree(t.create_group("stepper"), {k: float(v) for k, v in data["stepper_s"].items()})
    t.attrs["passes"] = np.int64(data["passes"])


def _write_result(f: h5py.File, result: dict, parts: list) -> None:
    """The descriptor of the result copy and of the part files restored beside it."""
    res = f.create_group("result")
    for key, value in result.items():
        res.attrs[key] = value
    if parts:  # part files of the parallel writer, restored beside the result
        for key in ("file", "final"):
            res.create_dataset(f"parts_{key}", data=[x[key] for x in parts],
                               dtype=h5py.string_dtype("utf-8"))
        res.create_dataset("parts_bytes", data=np.array([x["bytes"] for x in parts],
                                                        dtype=np.int64))
        res.create_dataset("parts_crc32", data=np.array([x["crc32"] for x in parts],
                                                        dtype=np.uint32))


def drop_unfinished(directory) -> list[str]:
    """Remove the generation directories of ``directory`` that ``LATEST`` does not name: what
    a checkpoint write that failed part-way (a full disk) left behind. They can never be
    loaded (``LATEST`` moves only once a generation is complete), and on a full disk they
    keep the space that the next attempt needs. Returns the names removed (rank 0 only)."""
    directory = Path(directory)
    current = latest_name(directory)
    removed = []
    for number in generations(directory):
        name = generation_name(number)
        if name != current:
            shutil.rmtree(directory / name, ignore_errors=True)
            removed.append(name)
    return removed


def discard(directory, comm=None) -> None:
    """Remove a run's checkpoint once its result file is complete (rank 0; collective).

    Deletes the generation directories and ``LATEST``; the directory itself only if it is
    then empty (nothing else of the user's is touched).
    """
    directory = Path(directory)
    rank, _ = rank_size(comm)
    if rank == 0 and directory.is_dir():
        for number in generations(directory):
            shutil.rmtree(directory / generation_name(number), ignore_errors=True)
        for name in (LATEST, LATEST + ".tmp"):
            (directory / name).unlink(missing_ok=True)
        try:
            directory.rmdir()
        except OSError:
            pass
    if comm is not None:
        comm.Barrier()
