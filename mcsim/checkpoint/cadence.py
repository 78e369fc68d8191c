"""The run loop's side of checkpointing: when to write one (periodic, in wall or simulated
time), when to stop (a wall-time limit, a signal from the batch system), and where.

:class:`Checkpointer` is asked at every step boundary (:meth:`Checkpointer.at_step_boundary`);
it writes through :func:`~mcsim.checkpoint.write_checkpoint` and raises
:class:`CheckpointExit` after the checkpoint when the run must stop.
"""

from __future__ import annotations

import math
import re
import signal
import sys
import time
from pathlib import Path

from mcsim.checkpoint.format import FIELDS, STOP_SIGNALS
from mcsim.checkpoint.writer import discard, write_checkpoint
from mcsim.errors import ConfigError
from mcsim.io.hdf5 import partial_path

#: Assumed write speed before the first checkpoint has been timed, bytes/s (conservative).
_ASSUMED_BYTES_PER_S = 100e6


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


class StopFlag:
    """Set by a signal handler; read by :class:`Checkpointer` at each step boundary."""

    def __init__(self):
        self.reason: str | None = None

    def set(self, reason: str) -> None:
        self.reason = reason

    def is_set(self) -> bool:
        return self.reason is not None


def _interactive() -> bool:
    """Whether standard error is a terminal: a person pressed Ctrl-C and waits for an answer
    (under ``mpiexec`` or in a batch job it is a pipe or a file, and every rank got the
    signal: no line from each)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


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
        if name == "SIGINT" and _interactive():  # a step (a snapshot) may take minutes
            print("mcsim: Ctrl-C: stopping after this step, with a checkpoint (Ctrl-C again "
                  "stops at once, without one)", file=sys.stderr, flush=True)

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
    def from_config(cls, cfg: dict, out_path, *, resume=None,
                    **kwargs) -> "Checkpointer":
        """The checkpointer a configuration asks for (``output.checkpoint_*``).

        A restarted run (``resume``, its :class:`~mcsim.checkpoint.Checkpoint`) goes on
        writing into the directory it restarted from.
        Further keyword arguments go to the constructor (``walltime_s``, ``stop``, ...).
        """
        out = cfg.get("output", {})
        kwargs.setdefault("interval_wall_s", out.get("checkpoint_interval_wall_s", 0.0))
        kwargs.setdefault("interval_sim_s", 60.0 * out.get("checkpoint_interval_sim_min", 0.0))
        if resume is not None:
            kwargs.update(resumed=True, restarts=resume.restarts + 1)
            return cls(resume.directory, **kwargs)
        directory = checkpoint_dir(cfg, out_path)
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
            from mpi4py import MPI  # optional: only on a decomposed lattice

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
