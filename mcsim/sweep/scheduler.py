"""Running a sweep: which runs to do, spreading them over MPI ranks, one run with its
claim, log and error file, stops on a signal, and the summary at the end.

Scheduling. With N ranks, ``COMM_WORLD`` is split into N // ranks_per_run groups of
consecutive ranks (the leftover ranks idle, and the sweep says so). Rank 0 holds an int64
counter in an MPI-3 window (``MPI.Win.Allocate``); the leader of each group takes the next
run with ``Fetch_and_op(1, SUM)`` under a shared lock and broadcasts it in its group, so a
group that finishes early simply takes more runs. Passive-target operations on a window
progress only while the target rank is inside MPI, and rank 0 spends most of its time in
Numba kernels, so rank 0 keeps a daemon thread that calls ``Iprobe`` on a private
communicator every 20 ms (needs ``MPI_THREAD_MULTIPLE``, mpi4py's default; without it the
counter only advances when rank 0 is between runs). Runs are handed out largest estimated
cost first (schedule duration times voxels), which shortens the tail of the sweep. With one
rank the runs are done in run order. A run with ranks_per_run > 1 is given its group as
``Simulation(cfg, comm=group)``; that needs an engine that accepts ``comm`` (checked with
``inspect.signature`` before anything runs).

Outputs in OUTDIR, per run:

* ``run-NNNN.toml``: the run's resolved configuration (written before the sweep starts);
* ``run-NNNN.h5``: the result, written by the engine's atomic writer (``.partial`` until
  complete);
* ``run-NNNN.log``: the engine's log lines;
* ``run-NNNN.outcomes.json``: the run's index outcomes, computed right after it finished
  (valid while the result's size and mtime match the ones stored in it);
* ``run-NNNN.error.txt``: only for a run that raised: a header (``error:``, ``run:``,
  ``wall_time_s:``, ``host:``, ``rank:`` lines), a blank line, then the traceback. Removed
  when the run later succeeds.

Resuming. Rerunning the same sweep skips every run whose result is complete and whose stored
``/config`` equals the requested configuration (:data:`mcsim.sweep.index.NON_RESULT_KEYS`
excepted: threads, log and checkpoint settings do not change results) and runs the others:
failed, unfinished (only a ``.partial``), missing, or holding another configuration.
``output.checkpoint_path`` must stay empty in a sweep of several runs, so that each run
checkpoints beside its result.

Failures and signals. A run that raises is recorded (error file) and the sweep goes on; the
exit status is 1 when any run failed. SIGTERM (SLURM's ``--signal``) or Ctrl-C during a run
aborts that run cleanly (its ``.partial`` stays incomplete), no further runs start, the index
is written, and the exit status is 3 unless a run failed; rerun the sweep to resume.

Test hook: the environment variable ``MCSIM_SWEEP_FAIL_RUNS`` (comma-separated run ids) makes
those runs raise ``RuntimeError`` at their start; the tests use it to fail a run that a later
resume (without the variable) completes.
"""

from __future__ import annotations

import inspect
import os
import platform
import signal
import threading
import time
import traceback

import numpy as np

from mcsim import config as _config
from mcsim.errors import ConfigError
from mcsim.io.claim import OutputClaim, OutputError
from mcsim.sweep.index import _write_if_changed, index_rows, run_outcomes, run_state, write_index
from mcsim.sweep.plan import Run, SweepPlan

#: Exit status when a run failed / when a signal stopped the sweep with runs left to do.
EXIT_RUN_FAILED = 1
EXIT_INTERRUPTED = 3

#: Environment variable of the test hook (comma-separated run ids that raise at their start).
FAIL_HOOK_ENV = "MCSIM_SWEEP_FAIL_RUNS"


# -- groups of ranks and the order of runs -------------------------------------------------

def estimated_cost(cfg: dict) -> float:
    """A relative cost of a run for the scheduling order: schedule duration times voxels."""
    voxels = (2000.0 * cfg["particle"]["radius_um"] / cfg["particle"]["voxel_nm"]) ** 3
    return _config.build_schedule(cfg).duration_s * voxels


def group_layout(world_size: int, ranks_per_run: int) -> tuple[int, list]:
    """Groups of a split: (number of groups, the ranks left idle).

    Raises
    ------
    ConfigError
        If ``ranks_per_run`` exceeds ``world_size``.
    """
    if ranks_per_run > world_size:
        raise ConfigError("sweep.ranks_per_run", ranks_per_run,
                          f"must be at most the number of MPI ranks ({world_size})")
    n_groups = world_size // ranks_per_run
    return n_groups, list(range(n_groups * ranks_per_run, world_size))


def simulation_accepts_comm(simulation_cls) -> bool:
    """Whether ``simulation_cls(cfg, comm=...)`` is accepted (an explicit ``comm`` argument)."""
    try:
        return "comm" in inspect.signature(simulation_cls).parameters
    except (TypeError, ValueError):
        return False


def check_comm_support(ranks_per_run: int, simulation_cls) -> None:
    """Raise ConfigError when runs need several ranks but the engine cannot split a run."""
    if ranks_per_run > 1 and not simulation_accepts_comm(simulation_cls):
        raise ConfigError("sweep.ranks_per_run", ranks_per_run,
                          "must be 1: this mcsim's Simulation takes no comm= (no MPI domain "
                          "decomposition), so a run cannot be split over ranks")


# -- running -------------------------------------------------------------------------------

class SweepInterrupted(BaseException):
    """Raised inside a run when SIGTERM asks the sweep to stop."""


class _StopState:
    """Whether a stop was requested, and whether a run is under way (then it is interrupted)."""

    def __init__(self):
        self.requested = False
        self.in_run = False

    def handler(self, signum, _frame):
        self.requested = True
        if self.in_run:
            raise SweepInterrupted(f"signal {signum}")


def _injected_failures() -> set:
    text = os.environ.get(FAIL_HOOK_ENV, "")
    return {int(part) for part in text.replace(" ", "").split(",") if part}


def _simulation_class():
    # lazy: the engine (kernels, checkpointing, MPI-aware I/O) not for --help or --index-only
    from mcsim.engine import Simulation

    return Simulation


def execute_run(plan: SweepPlan, run: Run, stop: _StopState, group=None, rank: int = 0,
                say=print) -> dict:
    """Run one run (all ranks of ``group`` together when given); record a failure.

    Returns a record ``{"run_id", "status", "wall_time_s", "error"}`` with status "done",
    "failed" or "interrupted". Only the group's rank 0 writes the log and error files.
    """
    leader = group is None or group.Get_rank() == 0
    # the run's result is claimed as `mcsim run` claims its -o (mcsim.io.claim): a second
    # sweep over the same folder at the same time leaves it to the one that holds it
    claim, refused = None, ""
    if leader:
        try:
            claim = OutputClaim(plan.result_path(run), log=say).acquire()
        except OutputError as exc:
            refused = str(exc)
    if group is not None and group.Get_size() > 1:
        refused = group.bcast(refused, root=0)
    if refused:
        if leader:
            say(f"[sweep rank {rank}] run {run.run_id} not run: {refused}")
        return {"run_id": run.run_id, "status": "failed", "wall_time_s": 0.0,
                "error": f"OutputError: {refused}"}
    try:
        return _execute_claimed(plan, run, stop, group, rank, say, leader)
    finally:
        if claim is not None:
            claim.release()


def _execute_claimed(plan: SweepPlan, run: Run, stop: _StopState, group, rank: int, say,
                     leader: bool) -> dict:
    """:func:`execute_run` once the run's result is claimed."""
    log_file = open(plan.log_path(run), "w") if leader else None

    def log(*parts, **_kwargs):
        if log_file is not None:
            print(*parts, file=log_file, flush=True)

    if leader:
        say(f"[sweep rank {rank}] run {run.run_id} ({run.describe()}) started")
    t0 = time.perf_counter()
    status, error, tb = "done", "", ""
    try:
        stop.in_run = True
        if stop.requested:
            raise SweepInterrupted("stop requested")
        if run.run_id in _injected_failures():
            raise RuntimeError(f"failure injected by {FAIL_HOOK_ENV} (test hook)")
        kwargs = {"comm": group} if plan.ranks_per_run > 1 else {}
        _simulation_class()(run.cfg, log=log, **kwargs).run(plan.result_path(run),
                                                            progress=False)
    except (SweepInterrupted, KeyboardInterrupt):
        stop.in_run = False  # first: a second signal must not raise in here
        stop.requested = True
        status = "interrupted"
    except Exception as exc:  # a failing run is recorded, the sweep goes on
        stop.in_run = False
        status = "failed"
        error = f"{type(exc).__name__}: {exc}".replace("\n", " | ")
        tb = traceback.format_exc()
    finally:
        stop.in_run = False
        if log_file is not None:
            log_file.close()
    wall = time.perf_counter() - t0
    if group is not None and group.Get_size() > 1:  # any rank's failure fails the run
        reports = group.allgather((status, error, tb, rank))
        bad = [r for r in reports if r[0] == "failed"]
        if bad:
            status, error, tb, _ = bad[0]
        elif any(r[0] == "interrupted" for r in reports):
            status = "interrupted"
    if leader:
        err_path = plan.error_path(run)
        if status == "failed":
            err_path.write_text(f"error: {error}\nrun: {run.run_id}\nwall_time_s: {wall!r}\n"
                                f"host: {platform.node()}\nrank: {rank}\n\n{tb}")
        elif status == "done":
            if err_path.exists():
                err_path.unlink()
            try:  # outcomes now, in parallel with the other groups (cached for the index)
                run_outcomes(plan, run, log=say)
            except Exception as exc:
                say(f"note: run {run.run_id}: outcomes not computed ({type(exc).__name__}: "
                    f"{exc})")
        say(f"[sweep rank {rank}] run {run.run_id} {status} after {wall:.1f} s"
            + (f": {error}" if error else ""))
    return {"run_id": run.run_id, "status": status, "wall_time_s": wall, "error": error}


class RunCounter:
    """An int64 on rank 0 of ``comm`` that any rank increments atomically (MPI-3 RMA).

    Collective to create and to :meth:`free`. Rank 0 runs a thread that calls ``Iprobe``
    every ``poll_s`` seconds so that passive-target requests progress while rank 0 computes.
    """

    def __init__(self, comm, poll_s: float = 0.02):
        from mpi4py import MPI

        self._mpi = MPI
        self.comm = comm
        self.rank = comm.Get_rank()
        self.win = MPI.Win.Allocate(8 if self.rank == 0 else 0, 8, comm=comm)
        if self.rank == 0:
            self.win.Lock(0, MPI.LOCK_EXCLUSIVE)
            self.win.Put(np.zeros(1, dtype=np.int64), 0)
            self.win.Unlock(0)
        self._poll_comm = comm.Dup()
        self._stop = threading.Event()
        self._thread = None
        self.polling = self.rank == 0 and MPI.Query_thread() == MPI.THREAD_MULTIPLE
        if self.polling:
            self._thread = threading.Thread(target=self._poll, args=(poll_s,), daemon=True,
                                            name="mcsim-sweep-progress")
            self._thread.start()
        comm.Barrier()

    def _poll(self, poll_s: float) -> None:
        while not self._stop.wait(poll_s):
            self._poll_comm.Iprobe(self._mpi.ANY_SOURCE, self._mpi.ANY_TAG)

    def next(self) -> int:
        """The counter's value before this call's increment by one."""
        one = np.ones(1, dtype=np.int64)
        old = np.zeros(1, dtype=np.int64)
        self.win.Lock(0, self._mpi.LOCK_SHARED)
        self.win.Fetch_and_op(one, old, 0, 0, self._mpi.SUM)
        self.win.Unlock(0)
        return int(old[0])

    def free(self) -> None:
        """Stop the progress thread and free the window (collective)."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
        self.comm.Barrier()
        self.win.Free()
        self._poll_comm.Free()


def _mpi_world():
    try:
        from mpi4py import MPI
    except ImportError:
        return None
    return MPI.COMM_WORLD


def _install_stop_handler(stop: _StopState):
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, stop.handler)


def refuse_replacing(plan: SweepPlan, states: list, overwrite: bool) -> None:
    """Raise ConfigError, before anything is written, when running the sweep would replace
    a complete result that holds another configuration (a sweep rerun with other ``--set``
    values or another sweep file into the same folder) and ``overwrite`` is false."""
    if overwrite:
        return
    hit = [(run, st) for run, st in zip(plan.runs, states) if st.replaces]
    if not hit:
        return
    shown = "; ".join(f"run {run.run_id}: {st.error}" for run, st in hit[:3])
    more = f" and {len(hit) - 3} more" if len(hit) > 3 else ""
    raise ConfigError(
        "--overwrite", False,
        f"{plan.output_dir} holds {len(hit)} complete result(s) of other configurations that "
        f"this sweep would replace ({shown}{more}); pass --overwrite to replace them, or "
        "choose another output folder (-o DIR or sweep.output_dir)")


def _prepare(plan: SweepPlan, say, overwrite: bool = False) -> list:
    """Create OUTDIR, write every run's configuration, and return the runs to do. Refuses
    (ConfigError, nothing written) to replace results of other configurations unless
    ``overwrite`` (:func:`refuse_replacing`)."""
    states = [run_state(plan, run) for run in plan.runs]
    refuse_replacing(plan, states, overwrite)
    plan.output_dir.mkdir(parents=True, exist_ok=True)
    todo = []
    for run, state in zip(plan.runs, states):
        _write_if_changed(plan.config_path(run), _config.to_toml(run.cfg))
        if state.status != "done":
            if state.error and state.status == "pending":
                say(f"note: run {run.run_id}: {state.error}; it will be rerun"
                    + (" (--overwrite)" if state.replaces else ""))
            todo.append(run.run_id)
    return todo


def _summary(plan: SweepPlan, rows: list, n_todo: int, records: list, say) -> int:
    counts = {s: sum(r["state"].status == s for r in rows) for s in ("done", "failed", "pending")}
    ran = sum(rec["status"] in ("done", "failed") for rec in records)
    stopped = sum(rec["status"] == "interrupted" for rec in records)
    say(f"sweep {plan.path}: {len(rows)} runs: {counts['done']} done, {counts['failed']} "
        f"failed, {counts['pending']} pending ({ran} run now, {len(rows) - n_todo} skipped as "
        f"done" + (f", {stopped} interrupted" if stopped else "") + f") -> {plan.index_path}")
    for row in rows:
        if row["state"].status == "failed":
            run = row["run"]
            say(f"  FAILED run {run.run_id} ({run.describe()}): {row['state'].error} "
                f"(see {plan.error_path(run)})")
    if counts["failed"]:
        return EXIT_RUN_FAILED
    if counts["pending"]:
        say("  runs are left to do (the sweep was stopped): rerun the same command to resume")
        return EXIT_INTERRUPTED
    return 0


def run_sweep(plan: SweepPlan, comm=None, say=print, overwrite: bool = False) -> int:
    """Run every run of ``plan`` not yet done; write the index; return the exit status.

    Parameters
    ----------
    plan : SweepPlan
        A validated sweep (:func:`load_sweep`).
    comm : mpi4py communicator, optional
        ``COMM_WORLD`` of the sweep; None or one rank: the runs are done in order here.
    say : callable
        Receives the progress and summary lines.
    overwrite : bool
        Whether results of other configurations in the output folder may be replaced
        (``--overwrite``); without it the sweep refuses before any work.
    """
    size = comm.Get_size() if comm is not None else 1
    rank = comm.Get_rank() if comm is not None else 0
    stop = _StopState()
    previous = _install_stop_handler(stop)
    try:
        if size == 1:
            group_layout(1, plan.ranks_per_run)
            check_comm_support(plan.ranks_per_run, _simulation_class())
            todo = _prepare(plan, say, overwrite)
            say(f"sweep {plan.path}: {len(plan.runs)} runs, {len(todo)} to do, one rank")
            records = []
            for run_id in todo:
                if stop.requested:
                    break
                records.append(execute_run(plan, plan.runs[run_id], stop, say=say))
            rows = index_rows(plan, say)
            write_index(plan, rows, say)
            return _summary(plan, rows, len(todo), records, say)
        return _run_parallel(plan, comm, stop, say, overwrite)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run_parallel(plan: SweepPlan, world, stop: _StopState, say, overwrite: bool = False) -> int:
    from mpi4py import MPI

    size, rank = world.Get_size(), world.Get_rank()
    setup = None
    if rank == 0:
        try:
            n_groups, idle = group_layout(size, plan.ranks_per_run)
            check_comm_support(plan.ranks_per_run, _simulation_class())
            todo = _prepare(plan, say, overwrite)
            if n_groups > 1:  # largest first: the last runs to finish are the short ones
                todo.sort(key=lambda i: -estimated_cost(plan.runs[i].cfg))
            say(f"sweep {plan.path}: {len(plan.runs)} runs, {len(todo)} to do, {size} ranks "
                f"in {n_groups} group(s) of {plan.ranks_per_run}"
                + (f"; rank{'s' if len(idle) > 1 else ''} {', '.join(map(str, idle))} idle "
                   f"({size} is not a multiple of ranks_per_run)" if idle else ""))
            setup = ("ok", todo)
        except ConfigError as exc:
            setup = ("error", exc)
        except Exception as exc:  # e.g. OSError creating OUTDIR: the other ranks must not wait
            setup = ("crash", exc)
    # exceptions are not sent (ConfigError does not unpickle): rank 0 raises, the others exit
    message = (setup[0], setup[1] if setup[0] == "ok" else None) if rank == 0 else None
    message = world.bcast(message, root=0)
    if message[0] != "ok":
        if rank == 0:
            raise setup[1]
        return 2 if message[0] == "error" else EXIT_RUN_FAILED
    todo = message[1]
    n_groups, _idle = group_layout(size, plan.ranks_per_run)
    color = rank // plan.ranks_per_run if rank < n_groups * plan.ranks_per_run else MPI.UNDEFINED
    group = world.Split(color, rank)
    counter = RunCounter(world)
    if rank == 0 and not counter.polling:
        say("note: MPI has no THREAD_MULTIPLE: the run counter on rank 0 advances only "
            "between rank 0's runs")
    records = []
    if group != MPI.COMM_NULL:
        leader = group.Get_rank() == 0
        while True:
            k = None
            if leader:
                k = len(todo) if stop.requested else counter.next()
            k = group.bcast(k, root=0)
            if k >= len(todo):
                break
            record = execute_run(plan, plan.runs[todo[k]], stop,
                                 group if plan.ranks_per_run > 1 else None, rank, say)
            if leader:
                records.append(record)
    gathered = world.gather(records, root=0)
    counter.free()
    if group != MPI.COMM_NULL:
        group.Free()
    code = 0
    if rank == 0:
        try:
            rows = index_rows(plan, say)
            write_index(plan, rows, say)
            code = _summary(plan, rows, len(todo), [r for part in gathered for r in part], say)
        except Exception as exc:  # never leave the other ranks waiting
            say(f"mcsim sweep: error writing {plan.index_path}: {type(exc).__name__}: {exc}")
            code = EXIT_RUN_FAILED
    return world.bcast(code, root=0)


