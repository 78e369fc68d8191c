"""Reading a checkpoint for a restart: :func:`open_checkpoint` finds and verifies the current
generation; :class:`Checkpoint` hands back the run as plain data (the configuration, each
rank's block as a :class:`~mcsim.state.State`, the rest as :meth:`Checkpoint.run_data`),
verifies the result copies and puts the result file back for appending.

Every name ``meta.h5`` gives is checked against the names this format writes before it is
used, and every block and copy against its CRC-32: a checkpoint never makes mcsim read or
write outside it, and a damaged one is refused before any work.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import h5py
import numpy as np

from mcsim import __version__
from mcsim import config as _config
from mcsim.checkpoint.blocks import overlap, read_region
from mcsim.checkpoint.format import (BLOCK_RE, FIELDS, FORMAT, FORMAT_VERSION, GEN_RE, LATEST,
                                     META, PART_COPY_RE, RESULT_COPY, CheckpointError, agree,
                                     copy_with_crc, fsync_file, get_tree, latest_name)
from mcsim.errors import ConfigError
from mcsim.io.hdf5 import SOURCE_RE, IncompleteResultError, ResultWriter, partial_path
from mcsim.io.safepath import UnsafePathError, inside
from mcsim.parallel import Decomposition
from mcsim.provenance import restart_provenance
from mcsim.state import State


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
            self.tallies = get_tree(f["tallies"])
            self.census = get_tree(f["census"])
            self.thermo_m0 = float(f["thermo"].attrs["m0"])
            last = f["thermo"].attrs.get("last")
            self.thermo_last = None if last is None else tuple(float(v) for v in last)
            self.processes = {name: (str(g.attrs["variant"]), get_tree(g))
                              for name, g in f["processes"].items()}
            t = f["timing"]
            self.timer_s = get_tree(t["timer"])
            self.stepper_s = get_tree(t["stepper"])
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
            #: ranks the restart reads the lattice on (set by :meth:`local_state`)
            self.restart_ranks = 1
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
                if overlap(a["offset"], a["shape"], b["offset"], b["shape"]) is not None:
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
                       pattern=BLOCK_RE)
            if self.result is not None:
                inside(self.generation_dir, str(self.result.get("file")), "meta.h5 result/file",
                       pattern=re.compile(re.escape(RESULT_COPY)))
            for part in self.result_parts:
                inside(self.generation_dir, part["file"], "meta.h5 result/parts_file",
                       pattern=PART_COPY_RE)
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
                got_bytes, got_crc = copy_with_crc(path)
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
        try:
            cfg = _config.from_dict(tomllib.loads(self.config_toml))
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
        offset = (0, 0, 0) if offset is None else tuple(int(o) for o in offset)
        shape = self.global_shape if shape is None else tuple(int(n) for n in shape)
        state = State.empty(shape, global_shape=self.global_shape, offset=offset,
                            voxel_nm=self.voxel_nm, center_vox=self.center_vox,
                            radius_vox=self.radius_vox, time_s=self.time_s, step=self.step)
        read_region(self.generation_dir, self.blocks, offset, shape, FIELDS,
                    out=state.interior_fields(FIELDS))
        state.census = dict(self.census)
        state.fill_halo()
        return state

    def run_data(self) -> dict:
        """What a restarted :class:`~mcsim.engine.Simulation` takes back besides its state
        (:meth:`~mcsim.engine.Simulation.restore_checkpoint_data`): the event tallies, the
        Thermo history (``thermo_m0``, ``thermo_last``), the state of each process (name ->
        (variant, dict)), the timings (``timer_s``, ``stepper_s``, ``passes``), and
        ``source``, the file they came from (for messages)."""
        return {"tallies": dict(self.tallies), "thermo_m0": self.thermo_m0,
                "thermo_last": self.thermo_last, "processes": dict(self.processes),
                "timer_s": dict(self.timer_s), "stepper_s": dict(self.stepper_s),
                "passes": self.passes, "source": str(self.generation_dir / META)}

    def _restore_copy(self, name: str, nbytes: int, crc32: int, target: Path) -> None:
        """Copy ``name`` of the generation to ``target`` (via a temporary name), CRC-checked."""
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".restoring")
        got_bytes, got_crc = copy_with_crc(self.generation_dir / name, tmp)
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
        if self.result is None:
            raise CheckpointError(f"{self.generation_dir}: holds no copy of the result file")
        targets = self.check_targets(out_path)  # every name checked before any write
        for part, target in zip(self.result_parts, targets):
            self._restore_copy(part["file"], part["bytes"], part["crc32"], target)
            with h5py.File(target, "r+") as f:
                f.attrs["complete"] = np.bool_(True)
            fsync_file(target)
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
        return restart_provenance(restarts=self.restarts + 1, from_step=self.step,
                                  ranks=self.restart_ranks)


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
    if (path / META).exists() or GEN_RE.match(path.name):
        return Checkpoint(path.parent, path)
    name = latest_name(path)
    if name is None:
        raise CheckpointError(f"{path} holds no complete checkpoint (no {LATEST} file): the "
                              "run was stopped before its first checkpoint was finished")
    if not GEN_RE.match(name) or not (path / name).is_dir():
        raise CheckpointError(f"{path / LATEST} names {name!r}, which is not a generation "
                              "directory of this checkpoint")
    return Checkpoint(path, path / name)
