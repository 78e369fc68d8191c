"""The simulation loop: adaptive time stepping on the heating schedule, observers, output, timing."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import sys
import time
from collections import defaultdict

import numba
import numpy as np
from tqdm import tqdm

import mcsim
from mcsim import config as _config
from mcsim import diagnostics as dg
from mcsim import params as _params
from mcsim import phases as ph
from mcsim import pores
from mcsim import resources as _resources
from mcsim.checkpoint import Checkpointer, CheckpointError, agree, open_checkpoint
from mcsim.config import generator_kwargs
from mcsim.diagnostics import Census, Profiles, Thermo
from mcsim.generator import generate_agglomerate
from mcsim.generator.blocks import comm_reduce
from mcsim.io.hdf5 import ResultIOError, ResultWriter, h5_failures, io_failure
from mcsim.io.parallel_hdf5 import ParallelResultWriter
from mcsim.parallel import Decomposition
from mcsim.provenance import git_commit, run_provenance, utc_now  # noqa: F401  (git_commit)
from mcsim.state import CHECKPOINTED, WRITTEN, State, full_amount_table
from mcsim.stepper import Stepper


def set_threads(requested: int) -> int:
    """Set the Numba thread count (0: every core Numba sees) and return it."""
    n = requested or numba.config.NUMBA_NUM_THREADS
    n = min(n, numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(n)
    return n


class Timer:
    """Accumulates wall time per category (kernels by process, diagnostics, I/O, setup)."""

    def __init__(self):
        self.seconds = defaultdict(float)

    def add(self, key: str, seconds: float) -> None:
        self.seconds[key] += seconds

    def report(self) -> str:
        total = sum(self.seconds.values()) or 1.0
        lines = ["where the time went:"]
        for key, s in sorted(self.seconds.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {key:28s} {s:10.2f} s  {100 * s / total:5.1f} %")
        return "\n".join(lines)


class Progress:
    """A progress bar on a terminal, periodic log lines with an ETA in batch jobs."""

    def __init__(self, total_s: float, log_interval_s: float, enabled: bool = True, stream=None):
        self.total_s = max(total_s, 1e-12)
        self.log_interval_s = log_interval_s
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.bar = None
        self.start = time.perf_counter()
        self.last_log = self.start
        if enabled and self.stream.isatty():
            self.bar = tqdm(total=round(self.total_s / 60.0, 1), unit="min", file=self.stream,
                            desc="simulated", dynamic_ncols=True)

    def update(self, t_s: float, temperature_c: float, step: int) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.n = round(t_s / 60.0, 1)
            self.bar.set_postfix_str(f"T={temperature_c:.0f} C step={step}", refresh=False)
            self.bar.refresh()
            return
        now = time.perf_counter()
        if now - self.last_log < self.log_interval_s:
            return
        self.last_log = now
        frac = t_s / self.total_s
        elapsed = now - self.start
        eta = elapsed * (1 - frac) / frac if frac > 0 else float("nan")
        print(f"[mcsim] t={t_s / 60:9.1f} min  T={temperature_c:6.1f} C  step={step:7d}  "
              f"{100 * frac:5.1f} %  elapsed {elapsed:7.0f} s  ETA {eta:7.0f} s",
              file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Simulation:
    """One run: a generated particle advanced through its heating schedule.

    Parameters
    ----------
    cfg
        A validated configuration (:func:`mcsim.config.load`).
    log
        Called with each log line (rank 0 only on a decomposed lattice).
    comm
        An mpi4py communicator to split the lattice over (:mod:`mcsim.parallel`): every rank
        generates only its block of the particle (:mod:`mcsim.generator.blocks`; the same
        particle for any number of ranks); diagnostics are reduced globally and only rank 0
        logs and writes the result file. None: one process, no MPI.
    restart
        A :class:`mcsim.checkpoint.Checkpoint` to continue from instead of generating the
        particle; use :meth:`from_checkpoint`.
    """

    def __init__(self, cfg: dict, *, log=print, comm=None, restart=None):
        self.cfg = cfg
        self.log = log
        self.decomposition = None
        self.resume = None  # the Checkpoint a restarted run continues from (mcsim.checkpoint)
        if comm is not None and comm.Get_rank() != 0:
            self.log = log = _silent
        # before anything big is allocated: refuse a run that cannot fit into memory (the
        # same ConfigError on every rank; mcsim.resources)
        self.estimate = _resources.check_memory_collective(cfg, comm,
                                                           generate=restart is None)
        self.timer = Timer()
        self.threads = set_threads(cfg["numerics"]["threads"])
        if comm is not None and cfg["numerics"]["threads"] == 0 and comm.Get_size() > 1:
            # "all cores" under MPI: the cores of a node shared among its ranks, so ranks
            # do not oversubscribe them (results do not depend on the thread count)
            from mpi4py import MPI  # optional: only under MPI

            node = comm.Split_type(MPI.COMM_TYPE_SHARED)
            self.threads = set_threads(max(1, numba.config.NUMBA_NUM_THREADS // node.Get_size()))
            node.Free()
        self.schedule = _config.build_schedule(cfg)
        self.params = _params.resolve(cfg["model"]["parameter_set"], cfg["model"].get("overrides"))
        t0 = time.perf_counter()
        if restart is None:
            if comm is None:
                self.micro = generate_agglomerate(**generator_kwargs(cfg))
            else:  # every rank generates its own block (mcsim.generator.blocks)
                n = self.estimate.grid_n
                self.decomposition = Decomposition(comm, (n, n, n))
                dec = self.decomposition
                self.micro = generate_agglomerate(**generator_kwargs(cfg),
                                                  block=(dec.offset, dec.shape),
                                                  reduce=comm_reduce(dec.cart))
            self.timer.add("setup: generator", time.perf_counter() - t0)
            if self.micro.report.get("source_note"):
                log(self.micro.report["source_note"])
        if restart is not None:  # checkpoint/restart: each rank reads its block, no generator
            self.micro = None
            self.state, self.decomposition = restart.local_state(comm)
            self.timer.add("setup: restart", time.perf_counter() - t0)
        elif comm is None:
            self.state = State.from_microstructure(self.micro)
        else:
            self.state = self.decomposition.local_state(self.micro)
            if self.decomposition.size > 1:  # keep the report, drop the block's arrays
                self.micro = dataclasses.replace(self.micro, phase=None, grain=None)
        self.stepper = Stepper(cfg["model"].get("processes", {}), self.params, cfg["numerics"],
                               cfg["seed"])
        self.census = Census(comm=self.state.comm)
        self.profiles = Profiles(full_amount_table(), comm=self.state.comm)
        first = self.census(self.state)
        source = ph.LIOH if cfg["lithium"]["source"] == "LiOH" else ph.LI2CO3
        self.thermo = Thermo(self.params, first["tm_quanta"], first["li_source"], source)
        self.tallies = defaultdict(int)
        self.void_reference = None  # set when the run starts (or restarts)
        if restart is not None:  # tallies, Thermo history, process state, timings
            self.restore_checkpoint_data(restart.run_data())
            self.resume = restart

    @classmethod
    def from_checkpoint(cls, path, *, log=print, comm=None, threads: int | None = None):
        """Continue a run from its checkpoint (:mod:`mcsim.checkpoint`).

        Parameters
        ----------
        path
            The checkpoint directory (or one generation directory in it).
        log, comm
            As for the constructor; any number of ranks may read a checkpoint.
        threads
            Numba threads (overrides the stored ``numerics.threads``; results do not depend
            on it).

        Raises
        ------
        mcsim.checkpoint.CheckpointError
            If the checkpoint is missing, incomplete or corrupt (before any work).
        """
        # every rank opens and checks the checkpoint (rank 0 also the result copies), and all
        # agree on any error before the first collective: one message, no rank left waiting
        error = ckpt = cfg = None
        try:
            ckpt = open_checkpoint(path)
            cfg = ckpt.config(threads)
            if comm is None or comm.Get_rank() == 0:
                ckpt.verify_copies()
        except CheckpointError as err:
            error = err
        agree(comm, error)
        return cls(cfg, log=log, comm=comm, restart=ckpt)

    # -- time stepping -------------------------------------------------------------------
    def snapshot_times(self) -> list[tuple[float, str]]:
        """(time, label) of every requested snapshot the schedule reaches, sorted."""
        out = []
        for temp in self.cfg["output"]["snapshot_temperatures_c"]:
            t = self.schedule.time_at_c(temp)
            if t is None:
                self.log(f"note: the schedule never reaches {temp} C; no snapshot there")
            else:
                out.append((float(t), f"T={temp:g}C"))
        for minutes in self.cfg["output"]["snapshot_times_min"]:
            if minutes * 60.0 <= self.schedule.duration_s:
                out.append((minutes * 60.0, f"t={minutes:g}min"))
            else:
                self.log(f"note: the schedule ends at {self.schedule.duration_s / 60:g} min, "
                         f"before {minutes:g} min; no snapshot there")
        if self.cfg["output"]["final_snapshot"]:
            out.append((self.schedule.duration_s, "final"))
        labels: dict[float, list[str]] = {}
        for t, label in out:  # one snapshot per instant, carrying every label asked for it
            labels.setdefault(t, []).append(label)
        return [(t, ",".join(labels[t])) for t in sorted(labels)]

    def choose_dt(self, t: float, t_next: float) -> float:
        """The step from ``t``: bounded by the next event, dt_max, the temperature change and
        every process's own limit."""
        num = self.cfg["numerics"]
        dt = min(num["dt_max_s"], t_next - t)
        rate = abs(self.schedule.rate_c_per_s(t))
        if rate > 0:
            dt = min(dt, num["max_temperature_step_c"] / rate)
        t_hi = max(self.schedule.temperature_c(t), self.schedule.temperature_c(t + dt))
        dt = min(dt, self.stepper.max_dt(self.state, t_hi))
        return max(dt, 1e-12)

    def advance(self, dt: float) -> None:
        """One operator-split step of every process at the step's mid-point temperature."""
        st = self.state
        temp = float(self.schedule.temperature_c(st.time_s + 0.5 * dt))
        for key, value in self.stepper.advance(st, dt, temp).items():
            self.tallies[key] += value

    # -- output --------------------------------------------------------------------------
    def observe(self, writer) -> dict:
        t0 = time.perf_counter()
        st = self.state
        c = self.census(st)
        prof = self.profiles(st)
        self.last_image = prof.pop("_image")
        row = dict(
            tm_phase_fraction=c["tm_phase_fraction"], li_source=c["li_source"],
            li_mobile=c["li_mobile"], li_bound=c["li_bound"], li_total=c["li_total"],
            tm_quanta=c["tm_quanta"], step=st.step, **prof,
            **self.thermo(st.time_s, self.tallies),
            **{k: float(self.tallies[k]) for k in sorted(self.tallies)})
        self.timer.add("diagnostics", time.perf_counter() - t0)
        t0 = time.perf_counter()
        writer.append_timeseries(st.time_s, float(self.schedule.temperature_c(st.time_s)),
                                 c["phase_fraction"], **row)
        self.timer.add("i/o", time.perf_counter() - t0)
        return c

    def snapshot(self, writer, label: str) -> None:
        t0 = time.perf_counter()
        st = self.state
        # each rank passes its own block (the parallel writer on a split lattice)
        fields = st.interior_fields(WRITTEN)
        index = writer.write_snapshot(st.time_s, float(self.schedule.temperature_c(st.time_s)),
                                      fields, attrs={"label": label, "step": st.step})
        image = self.profiles(st)["_image"]
        writer.write_group(f"images/{index:04d}", {"mass_thickness": image},
                           attrs={"time_s": st.time_s, "label": label,
                                  "temperature_c": float(self.schedule.temperature_c(st.time_s))})
        self.timer.add("i/o", time.perf_counter() - t0)
        if self.cfg["output"]["pore_statistics"]:
            self.pore_snapshot(writer, index, label, fields)

    def pore_snapshot(self, writer, index: int, label: str, fields: dict) -> dict | None:
        """Pore statistics of snapshot ``index``: ``/pores/NNNN`` and the ``/pore_series`` table.

        :func:`mcsim.pores.pore_statistics` of the whole particle goes to ``/pores/NNNN``
        (attributes ``time_s``, ``temperature_c``, ``label``); ``/pore_series`` is then
        rewritten from the scalars of every ``/pores/NNNN`` in the file, one row per snapshot,
        so a run continued from a checkpoint (whose copy of the result holds the earlier
        groups) writes the same table as an uninterrupted one. On a decomposed lattice every
        rank analyses a z-slab of the particle's box and rank 0 assembles the result
        (:func:`mcsim.pores.distributed_pore_statistics`: no whole field is gathered, and the
        numbers are those of the single-rank analysis, bit for bit). Returns the statistics
        on rank 0, None elsewhere.
        """
        t0 = time.perf_counter()
        st = self.state
        # a used-up source voxel (amount 0) is a pore, and the amounts give the porosity by
        # mass: phase, grain and amount go in
        args = (st.center_vox, st.radius_vox, st.voxel_nm)
        kwargs = dict(outline="tags", amount=fields["amount"],
                      thickness_convention=self.cfg["output"]["local_thickness"],
                      central_void_reference=self.void_reference)
        if self._split():
            stats = pores.distributed_pore_statistics(self.decomposition, fields["phase"],
                                                      fields["grain"], *args, **kwargs)
        else:
            stats = pores.pore_statistics(fields["phase"], fields["grain"], *args, **kwargs)
        self.timer.add("diagnostics: pores", time.perf_counter() - t0)
        if stats is None:  # ranks other than 0
            return None
        t0 = time.perf_counter()
        temp = float(self.schedule.temperature_c(st.time_s))
        group = writer.write_group(f"pores/{index:04d}", stats,
                                   attrs={"time_s": st.time_s, "temperature_c": temp,
                                          "label": label, "step": st.step})
        if group is not None:
            _write_pore_series(writer, group.parent)
        self.timer.add("i/o", time.perf_counter() - t0)
        return stats

    def _split(self) -> bool:
        """Whether the lattice is decomposed over more than one rank."""
        return self.decomposition is not None and self.decomposition.size > 1

    def generated_central_void(self) -> float:
        """The central wide-void fraction of the particle as generated (the state at t = 0),
        the reference of ``central_void_opened`` (:func:`mcsim.pores.reference_central_void`,
        on a decomposed lattice :func:`mcsim.pores.distributed_reference_central_void`,
        collective); NaN on ranks other than 0 and when pore statistics are off."""
        if not self.cfg["output"]["pore_statistics"]:
            return math.nan
        t0 = time.perf_counter()
        st = self.state
        fields = st.interior_fields(WRITTEN)
        args = (fields["phase"], fields["grain"], st.center_vox, st.radius_vox, st.voxel_nm)
        if self._split():
            value = pores.distributed_reference_central_void(
                self.decomposition, *args, outline="tags", amount=fields["amount"])
        else:
            value = pores.reference_central_void(*args, outline="tags",
                                                 amount=fields["amount"])
        self.timer.add("diagnostics: pores", time.perf_counter() - t0)
        return value

    def provenance(self) -> dict:
        """The attributes of ``/provenance`` written when the run starts."""
        dec = self.decomposition
        return run_provenance(threads=self.threads, ranks=dec.size if dec else 1,
                              dims=dec.dims if dec else (1, 1, 1))

    # -- checkpoint/restart: the run as plain data ----------------------------------------
    def checkpoint_data(self) -> dict:
        """What a checkpoint stores of this run (:func:`mcsim.checkpoint.write_checkpoint`),
        as plain data: this rank's block (``offset``, ``shape``, ``fields``: interior views
        of the fields declared ``checkpointed``), the lattice (``global_shape``,
        ``voxel_nm``, ``center_vox``, ``radius_vox``), the clock (``time_s``, ``step``), the
        configuration (``config_toml``, ``seed``), the event ``tallies``, the kernels'
        ``census``, the Thermo history (``thermo_m0``, ``thermo_last``), the state of every
        process that keeps one (name -> (variant, dict)), the timings (``timer_s``,
        ``stepper_s``, ``passes``) and the part files a restarted run carries
        (``carried_parts``)."""
        st = self.state
        return {
            "offset": st.offset, "shape": st.shape, "fields": st.interior_fields(CHECKPOINTED),
            "global_shape": st.global_shape, "voxel_nm": st.voxel_nm,
            "center_vox": st.center_vox, "radius_vox": st.radius_vox,
            "time_s": st.time_s, "step": st.step,
            "config_toml": _config.to_toml(self.cfg), "seed": self.cfg["seed"],
            "tallies": {k: int(v) for k, v in self.tallies.items()},
            "census": {k: int(v) for k, v in st.census.items()},
            "thermo_m0": self.thermo.m0, "thermo_last": self.thermo.last,
            "processes": {proc.name: (proc.variant, proc.state_dict())
                          for proc in self.stepper.processes if hasattr(proc, "state_dict")},
            "timer_s": {k: float(v) for k, v in self.timer.seconds.items()},
            "stepper_s": {k: float(v) for k, v in self.stepper.seconds.items()},
            "passes": self.stepper.passes,
            "carried_parts": list(self.resume.restored_parts) if self.resume is not None else [],
        }

    def restore_checkpoint_data(self, data: dict) -> None:
        """Take back what :meth:`mcsim.checkpoint.Checkpoint.run_data` read: the tallies, the
        Thermo history, every process's state and the timings (the state itself comes from
        :meth:`mcsim.checkpoint.Checkpoint.local_state`)."""
        self.tallies = defaultdict(int, data["tallies"])
        self.thermo.m0 = data["thermo_m0"]
        self.thermo.last = data["thermo_last"]
        for proc in self.stepper.processes:
            stored = data["processes"].get(proc.name)
            if hasattr(proc, "load_state_dict"):
                if stored is None or stored[0] != proc.variant:
                    raise CheckpointError(f"{data['source']} holds no state of process "
                                          f"{proc.name} ({proc.variant})")
                proc.load_state_dict(stored[1])
        self.timer.seconds.update(data["timer_s"])
        self.stepper.seconds.update(data["stepper_s"])
        self.stepper.passes = data["passes"]

    # -- the run -------------------------------------------------------------------------
    def run(self, out_path: str | os.PathLike, progress: bool = True, *,
            checkpointer=None) -> dict:
        """Run the whole schedule (or its rest, after :meth:`from_checkpoint`), writing
        ``out_path``; return a summary dict.

        ``checkpointer`` (:class:`mcsim.checkpoint.Checkpointer`) decides at every step
        boundary whether to write a checkpoint or to stop (raising
        :class:`mcsim.checkpoint.CheckpointExit`); by default the ``output.checkpoint_*``
        keys decide.

        A failed write (disk full, file-system error), of the result or of a checkpoint,
        ends the run at once with :class:`mcsim.io.hdf5.ResultIOError`: nothing more is
        written, and the HDF5 files are left as they are (``.partial``, ``complete =
        false``) since HDF5 cannot close them reliably after such a failure.
        """
        st = self.state
        cfg = self.cfg
        wall0 = time.perf_counter() - (self.resume.wall_time_s if self.resume else 0.0)
        if checkpointer is None:
            checkpointer = Checkpointer.from_config(cfg, out_path, resume=self.resume,
                                                    log=self.log)
        checkpointer.run_start = wall0
        n = st.n_global_voxels
        dec = self.decomposition
        ranks = (f", {dec.size} MPI ranks on a {'x'.join(map(str, dec.dims))} grid, block "
                 f"{st.shape}" if dec is not None and dec.size > 1 else "")
        self.log(f"mcsim {mcsim.__version__}: grid {st.global_shape} "
                 f"({self.estimate.short()}{ranks}), "
                 f"{self.threads} threads, "
                 f"schedule {cfg['schedule']['preset']} ({self.schedule.duration_s / 60:.0f} min)")
        note = _config.voxel_note(cfg)
        if note is not None:
            self.log(note)
        snaps = self.snapshot_times()
        if self.decomposition is not None and self.decomposition.size > 1 \
                and cfg["output"]["pore_statistics"]:
            self.log("note: pore statistics at each snapshot: every rank analyses a z-slab of "
                     "the particle's box (its 7 B/voxel plus halos), nothing is gathered; "
                     "output.pore_statistics = false switches them off")
        interval = cfg["output"]["timeseries_interval_s"]
        t_end = self.schedule.duration_s
        breakpoints = sorted({float(b) for b in self.schedule.breakpoints_s if 0 < b < t_end})
        root = self.decomposition is None or self.decomposition.rank == 0
        bar = Progress(t_end, cfg["output"]["log_interval_s"], enabled=progress and root)
        split = self.decomposition is not None and self.decomposition.size > 1
        if self.resume is not None:  # restart: the result so far, from the checkpoint
            main = problem = None
            if root:  # names checked before anything is written; every rank learns the verdict
                try:
                    main = self.resume.open_writer(out_path)
                except CheckpointError as err:
                    problem = err
            agree(getattr(st, "comm", None), problem)
            if split:  # later snapshots: every rank its own block, in new part files
                writer = ParallelResultWriter(self.decomposition.cart, out_path,
                                              local_offset=st.offset, local_shape=st.shape,
                                              grid_shape=st.global_shape, resume_main=main)
            else:
                writer = main if root else _NullWriter()
        else:
            kwargs = dict(config_toml=_config.to_toml(cfg), seed=cfg["seed"],
                          mcsim_version=mcsim.__version__,
                          provenance=self.provenance() if root else {},
                          grid_shape=st.global_shape, voxel_nm=st.voxel_nm)
            if split:  # every rank writes its own block
                writer = ParallelResultWriter(self.decomposition.cart, out_path,
                                              local_offset=st.offset, local_shape=st.shape,
                                              **kwargs)
            else:
                writer = ResultWriter(out_path, **kwargs) if root else _NullWriter()
        guard = contextlib.ExitStack()  # failures h5py only reports while releasing objects
        caught = guard.enter_context(h5_failures())
        try:
            if self.resume is not None:
                _describe_series(writer)
                next_row, si, bi = self.resume.position()
                if root:  # the generated particle's value, recorded when the run started
                    geometry = main._file["geometry"]
                    ref = float(geometry["central_void_reference"][()]) \
                        if "central_void_reference" in geometry else math.nan
                    self.void_reference = None if math.isnan(ref) else ref
            else:
                ref = self.generated_central_void()
                self.void_reference = None if math.isnan(ref) else ref
                writer.write_group("microstructure", _report_datasets(self.micro.report))
                writer.write_group("geometry", {
                    "center_vox": np.array(st.center_vox), "radius_vox": st.radius_vox,
                    "radial_bin_edges": self.profiles.edges, "core_max_r": dg.CORE_MAX,
                    "shell_min_r": dg.SHELL_MIN, "slab_half_width_r": dg.SLAB_HALF_WIDTH,
                    "projection_axis": 0, "central_void_reference": ref})
                _describe_series(writer)
                self.observe(writer)
                next_row = interval
                si = 0
                while si < len(snaps) and snaps[si][0] <= 0.0:
                    self.snapshot(writer, snaps[si][1])
                    si += 1
                bi = 0
            while st.time_s < t_end * (1 - 1e-12):
                while bi < len(breakpoints) and breakpoints[bi] <= st.time_s * (1 + 1e-12):
                    bi += 1
                # Steps end where the schedule has a corner, never where output is due: the
                # rows and snapshots are taken at the first step end at or after their time,
                # so what is written never changes what is simulated.
                t_next = min(t_end, breakpoints[bi] if bi < len(breakpoints) else math.inf)
                dt = self.choose_dt(st.time_s, t_next)
                if t_next - (st.time_s + dt) < 1e-9 * max(1.0, t_next):
                    dt = t_next - st.time_s  # land exactly on the event
                self.advance(dt)
                if st.time_s >= next_row * (1 - 1e-12) or st.time_s >= t_end * (1 - 1e-12):
                    self.observe(writer)
                    while next_row <= st.time_s * (1 + 1e-12):
                        next_row += interval
                while si < len(snaps) and snaps[si][0] <= st.time_s * (1 + 1e-12):
                    self.snapshot(writer, snaps[si][1])
                    si += 1
                bar.update(st.time_s, float(self.schedule.temperature_c(st.time_s)), st.step)
                # checkpoint/restart (mcsim.checkpoint): write one when due; stop when asked
                try:
                    checkpointer.at_step_boundary(self, writer, next_row_s=next_row,
                                                  snapshot_index=si, breakpoint_index=bi,
                                                  out_path=out_path)
                except (OSError, RuntimeError) as exc:
                    failure = _write_failure(exc, caught, io_failure)
                    if failure is exc:
                        raise
                    raise failure from exc
                if caught:  # a write failed where nothing raised: stop before the next one
                    raise io_failure(caught[0]) from caught[0]
            bar.close()
            wall = time.perf_counter() - wall0
            for part, seconds in self.stepper.seconds.items():
                self.timer.add(f"kernel: {part}", seconds)
            kernel_s = sum(self.stepper.seconds.values())
            self.passes = self.stepper.passes
            summary = {
                "wall_time_s": wall, "steps": st.step, "voxels": n,
                "kernel_time_s": kernel_s, "lattice_passes": self.passes,
                "voxel_updates_per_s": n * self.passes / kernel_s if kernel_s > 0 else 0.0,
                "timing": dict(self.timer.seconds),
            }
            end = {"end_time": utc_now(), "wall_time_s": wall, "steps": st.step,
                   "voxel_updates_per_s": summary["voxel_updates_per_s"],
                   **{f"time_{k.replace(': ', '_').replace('/', '')}_s": v
                      for k, v in self.timer.seconds.items()},
                   **(self.resume.provenance() if self.resume is not None else {})}
            t0 = time.perf_counter()
            writer.finish(end)
            self.timer.add("i/o", time.perf_counter() - t0)
            checkpointer.finished(getattr(st, "comm", None))  # the result supersedes it
        except BaseException as exc:
            if not isinstance(exc, OSError):  # after a failed write: touch nothing
                writer.abort()
            raise
        finally:
            guard.close()
        self.log(self.timer.report())
        cores = self.threads * (dec.size if dec is not None else 1)
        if dec is not None and dec.size > 1:
            self.log(f"halo exchange (inside the kernels' times, rank 0): {dec.seconds:.2f} s")
        self.log(f"{st.step} steps, {self.passes} lattice passes, "
                 f"{summary['voxel_updates_per_s']:.3g} voxel-updates/s "
                 f"({summary['voxel_updates_per_s'] / cores:.3g} per thread), "
                 f"wall {wall:.1f} s -> {out_path}")
        return summary


def _silent(*_args, **_kwargs):
    return None


def _write_failure(exc: BaseException, caught: list, io_failure) -> BaseException:
    """The I/O failure behind ``exc`` (raised while writing a checkpoint) as a
    ResultIOError, or ``exc`` itself when it is not one.

    h5py turns a failed write into an OSError, but closing the file afterwards can raise a
    RuntimeError in its place (or only report the failure while releasing an object,
    collected in ``caught``).
    """
    if isinstance(exc, ResultIOError):
        return exc
    seen = exc
    while seen is not None:
        if isinstance(seen, OSError):
            return io_failure(seen)
        seen = seen.__cause__ or seen.__context__
    if caught:
        return io_failure(caught[0])
    return exc


class _NullWriter:
    """What ranks other than 0 write through: nothing (rank 0 owns the result file)."""

    def __init__(self):
        self._n_snapshots = 0

    def write_snapshot(self, *_args, **_kwargs) -> int:
        self._n_snapshots += 1
        return self._n_snapshots - 1

    def __getattr__(self, name):
        return _silent


def _write_pore_series(writer, pores_group) -> None:
    """Rewrite ``/pore_series`` from the scalars of every ``/pores/NNNN`` group (one row per
    snapshot, in index order), each dataset with ``units`` and ``description`` attributes."""
    keys = sorted(k for k in pores_group if k.isdigit())
    table = {"snapshot_index": np.array([int(k) for k in keys], dtype=np.int64),
             "time_s": np.array([pores_group[k].attrs["time_s"] for k in keys], dtype=np.float64),
             "temperature_c": np.array([pores_group[k].attrs["temperature_c"] for k in keys],
                                       dtype=np.float64)}
    for name in pores.SCALARS:
        table[name] = np.array([pores_group[k][name][()] for k in keys], dtype=np.float64)
    group = writer.write_group("pore_series", table)
    units = {"snapshot_index": ("1", "index NNNN of the snapshot (and of /pores/NNNN)"),
             "time_s": ("s", "simulated time of the snapshot"),
             "temperature_c": ("degC", "furnace temperature at the snapshot"),
             **pores.SCALAR_UNITS}
    for name, (unit, text) in units.items():
        group[name].attrs["units"] = unit
        group[name].attrs["description"] = text


def _report_datasets(report: dict) -> dict:
    """The generator's report in a form write_group accepts (numbers and arrays)."""
    out = {}
    for key, value in report.items():
        if isinstance(value, dict):
            out[key] = _report_datasets(value)
        elif isinstance(value, (int, float, np.integer, np.floating, np.ndarray, list, tuple, str)):
            out[key] = value
    return out


_SERIES = {
    "tm_phase_fraction": ("1", "share of transition metal in hydroxide, rocksalt, layered"),
    "tm_quanta": ("quanta", "total transition metal (1000 = one TM(OH)2 voxel)"),
    "li_source": ("quanta", "lithium in source voxels"),
    "li_mobile": ("quanta", "mobile lithium"),
    "li_bound": ("quanta", "lithium bound in layered oxide"),
    "li_total": ("quanta", "source + mobile + bound lithium (conserved)"),
    "li_released": ("quanta", "cumulative lithium released by the source"),
    "transport_substeps": ("1", "cumulative transport sub-steps"),
    "li_water": ("quanta", "cumulative Li that left LiOH (half an H2O each)"),
    "li_co2": ("quanta", "cumulative Li released from Li2CO3 (half a CO2 each)"),
    "tm_lithiated": ("quanta", "cumulative TM lithiated from hydroxide"),
    "tm_dehydrated": ("quanta", "cumulative TM dehydrated to rock salt"),
    "tm_rs_lithiated": ("quanta", "cumulative TM lithiated from rock salt"),
    "lioh_decomposed": ("quanta", "cumulative Li in LiOH turned to Li2O"),
    "nanopore_voxels_opened": ("1", "cumulative voxels emptied by rock-salt ripening (nanopores opened)"),
    "grain_flips": ("1", "cumulative Potts grain-id flips (sintering grain growth)"),
    "pore_swaps": ("1", "cumulative pore/solid swaps (sintering pore migration)"),
    "vacancies_annihilated": ("1", "cumulative grain-boundary pore voxels filled, each matched by "
                              "a surface voxel removed (sintering densification)"),
    "vacancies_inward": ("1", "cumulative annihilated vacancies that stayed inside the particle "
                         "(held by stiffer surroundings: constrained sintering) rather than "
                         "leaving at the outer surface"),
    "grain_growth_mcs": ("MCS", "cumulative Monte Carlo steps of sintering grain growth"),
    "pore_migration_mcs": ("MCS", "cumulative Monte Carlo steps of sintering pore migration"),
    "densification_mcs": ("MCS", "cumulative Monte Carlo steps of sintering densification"),
    "weight_pct": ("%", "simulated thermogravimetry: sample mass / initial mass"),
    "dtg_pct_per_min": ("%/min", "derivative of weight_pct over the last row interval"),
    "dta_w_per_g": ("W/g", "simulated DTA: reaction heat rate per gram of initial sample, exo > 0"),
    "radial_hydroxide": ("1", "TM share in hydroxide per shell of r/R (10 equal shells)"),
    "radial_rocksalt": ("1", "TM share in rock salt per shell of r/R"),
    "radial_layered": ("1", "TM share in layered oxide per shell of r/R"),
    "radial_density": ("1", "solid volume fraction per shell of r/R"),
    "core_shell_r50": ("1", "r/R where the layered share first reaches 50 % going outwards"),
    "contrast_layered": ("1", "layered share, shell (r/R >= 0.7) minus core (r/R < 0.5)"),
    "contrast_density": ("1", "solid fraction, shell minus core"),
    "tem_core": ("g/mol/1000", "mean projected mass-thickness, core pixels (rho/R < 0.5)"),
    "tem_shell": ("g/mol/1000", "mean projected mass-thickness, shell pixels (0.7 <= rho/R < 1)"),
    "disorder_mean": ("1", "mean Li/Ni disorder of layered oxide"),
    "step": ("1", "engine step number"),
}


def _describe_series(writer) -> None:
    """Units and descriptions of the engine's time series (documented in io/SCHEMA.md)."""
    for name, (units, text) in {**_SERIES, **dg.POROSITY_SERIES}.items():
        writer.describe(name, units=units, description=text)
    writer.describe("tm_phase_fraction", phases=["hydroxide", "rocksalt", "layered"])
