"""Command line: ``mcsim run | config show|check|params|reference | info | plot | validate |
bench | sweep | compare``.

The top layer. Each command imports what it needs inside its ``_cmd_*`` function, the helpers
that function calls (``_load``, ``_run``, ``_claim_output``, ``_kept``) or, for ``validate``,
:func:`main`, on purpose: the engine, matplotlib and mpi4py are heavy, and ``mcsim --help``,
``mcsim config check`` or ``mcsim info`` should not pay for loading or starting them (mpi4py
initialises MPI when imported). :func:`build_parser` imports the modules whose options it adds
(plot, compare, sweep, which bring mcsim.config, h5py and Numba) only when it builds the
parser, so that ``mcsim validate``, which skips the parser, does not load them. No module below
imports this one, so these are not cycles.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from mcsim import __version__
from mcsim.errors import (
    EXIT_CHECKPOINTED,
    EXIT_CONFIG,
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    EXIT_IO,
    EXIT_OK,
    ConfigError,
)

#: When this process started, as the wall-time limit counts it (``--walltime``).
_T_START = time.monotonic()
#: After an I/O error on a rank other than 0, how long it leaves rank 0 to abort the job.
_ABORT_GRACE_S = 5.0


def _add_config_args(p: argparse.ArgumentParser, required: bool) -> None:
    if required:
        p.add_argument("config", metavar="CONFIG", help="run configuration (TOML)")
    else:
        p.add_argument("config", metavar="CONFIG", nargs="?", default=None,
                       help="run configuration (TOML); the built-in default when left out")
    p.add_argument("--set", dest="sets", metavar="SECTION.KEY=VALUE", action="append", default=[],
                   help="override one key (value read as TOML; repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcsim",
        description="Lattice Monte Carlo simulator of NCM622 cathode calcination.")
    parser.add_argument("--version", action="version", version=f"mcsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a simulation")
    _add_config_args(run, required=False)
    run.add_argument("-o", "--output", metavar="OUT.h5", default=None,
                     help="result file (default: CONFIG's name with .h5, or mcsim-default.h5)")
    run.add_argument("--threads", type=int, default=None,
                     help="Numba threads (overrides numerics.threads)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar or log lines")
    run.add_argument("--restart", metavar="CKPT", default=None,
                     help="continue the run whose checkpoint directory is CKPT (its stored "
                          "configuration; no CONFIG or --set); output: the original -o unless "
                          "given")
    run.add_argument("--walltime", metavar="HH:MM:SS|SECONDS", default=None,
                     help="the job's time limit (also $MCSIM_WALLTIME): write a checkpoint and "
                          f"exit with status {EXIT_CHECKPOINTED} before it runs out")
    run.add_argument("--overwrite", action="store_true",
                     help="replace a file already at the output path (refused without it)")

    cfg = sub.add_parser("config", help="show or check a configuration")
    cfg_sub = cfg.add_subparsers(dest="config_command", required=True)
    show = cfg_sub.add_parser("show", help="print the fully resolved configuration as TOML")
    _add_config_args(show, required=False)
    check = cfg_sub.add_parser("check", help="validate a configuration without running it, "
                                             "and estimate its memory and output size")
    _add_config_args(check, required=True)
    check.add_argument("--ranks", type=int, default=1, metavar="N",
                       help="MPI ranks the run will use (default 1)")
    check.add_argument("--ranks-per-node", type=int, default=None, metavar="M",
                       help="of those, the ranks on one node, whose memory is checked against "
                            "this machine's (default: all N)")
    check.add_argument("--time", action="store_true",
                       help="also estimate the wall time: runs the schedule on a 0.15 um pilot "
                            "particle (about 25 s) and times the step here (or reads --bench)")
    check.add_argument("--bench", metavar="FILE", default=None,
                       help="with --time: per-core rate from a 'mcsim bench --json' file")
    prm = cfg_sub.add_parser("params", help="list a model parameter set with units and sources")
    prm.add_argument("name", nargs="?", default=None)
    ref = cfg_sub.add_parser(
        "reference", help="print the configuration-key reference (or, with --params, the "
                          "parameter table) generated from the code")
    ref_mode = ref.add_mutually_exclusive_group()
    ref_mode.add_argument("--params", action="store_true",
                          help="print the table of every model parameter set instead")
    ref_mode.add_argument("--write", metavar="DIR", default=None,
                          help="write both references to DIR (configuration-keys.md, "
                               "parameters.md), replacing earlier generated files there; a "
                               "file of that name not generated by this command is refused")
    ref_mode.add_argument("--check", metavar="DIR", default=None,
                          help="exit 1, with one line per file, when the references in DIR "
                               "are missing or differ from what the code generates")

    info = sub.add_parser("info", help="summarise a result file (short; --all for everything)")
    info.add_argument("result", metavar="OUT.h5")
    info.add_argument("--all", action="store_true",
                      help="also every provenance field, time series, snapshot and group")

    from mcsim import plot as _plot

    _plot.add_arguments(sub.add_parser("plot", help="write the analysis figures of a result file"))
    val = sub.add_parser("validate", add_help=False,
                         help="analytic limits and the paper's targets (--quick, --only, --json)")
    val.add_argument("rest", nargs=argparse.REMAINDER)

    bench = sub.add_parser("bench", help="memory-bandwidth roof and kernel throughput")
    bench.add_argument("--size", type=int, default=256, help="lattice edge (default 256)")
    bench.add_argument("--threads", type=int, nargs="+", default=None,
                       help="thread counts to measure (default: 1 and all cores)")
    bench.add_argument("--repeat", type=int, default=5, help="timed repetitions per kernel")
    bench.add_argument("--json", metavar="FILE", default=None, help="also write the figures as JSON")
    bench.add_argument("--mpi", action="store_true",
                       help="instead: strong scaling of the reaction-diffusion step over MPI "
                            "ranks (1 thread per rank), with the halo-exchange share")
    bench.add_argument("--ranks", type=int, nargs="+", default=[1, 2],
                       help="rank counts for --mpi (default 1 2)")

    from mcsim import compare as _compare

    _compare.add_arguments(sub.add_parser(
        "compare", help="run R-NCM and TS-NCM on the same particle (or read finished results) and "
                        "compare phases, porosity, nanopores, voids and grains"))

    from mcsim import sweep as _sweep

    _sweep.add_arguments(sub.add_parser(
        "sweep", help="run a parameter sweep (in order, or over MPI ranks under mpirun)"))
    return parser


def _load(args):
    from mcsim import config

    sets = list(args.sets)
    if getattr(args, "threads", None) is not None:
        sets.append(f"numerics.threads={args.threads}")
    return config.load(args.config, sets)


def _mpi_world():
    """``MPI.COMM_WORLD`` (one rank when not started by mpiexec), or None without mpi4py."""
    try:
        from mpi4py import MPI
    except ImportError:
        return None
    return MPI.COMM_WORLD


def _cmd_run(args) -> int:
    # Under mpiexec every rank runs this; rank 0 alone prints, logs and writes the result.
    comm = _mpi_world()
    rank = comm.Get_rank() if comm is not None else 0
    try:
        return _run(args, comm, rank)
    except ConfigError as exc:  # the same input on every rank: each one stops, rank 0 says why
        if rank == 0:
            print(f"mcsim: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG


def _claim_output(args, cfg, out, rank):
    """Rank 0: check the output path and claim it (``mcsim.io.claim``).

    Returns ``(verdict, out, claim)``: ``verdict`` is None or ``(what, message)`` of the
    refusal; ``out`` the output path (for a restart without ``-o``, the one stored in the
    checkpoint); ``claim`` the held :class:`mcsim.io.claim.OutputClaim` or None.
    """
    from mcsim import checkpoint as ck
    from mcsim.io import claim as cl

    if rank != 0:
        return None, out, None
    try:
        if args.restart is not None:
            stored = ck.open_checkpoint(args.restart)
            out = out if out is not None else stored.default_output()
            ckpt_dir = stored.directory
        else:
            ckpt_dir = ck.checkpoint_dir(cfg, out)
        cl.preflight_output(out, config_path=args.config, checkpoint_dir=ckpt_dir,
                            overwrite=args.overwrite)
        if args.restart is None and not args.overwrite:
            _refuse_unfinished_checkpoint(ckpt_dir, out)
        return None, out, cl.OutputClaim(out).acquire()
    except ck.CheckpointError as exc:
        return ("checkpoint", str(exc)), out, None
    except cl.OutputError as exc:
        return ("output", str(exc)), out, None


def _every_rank_can_write(comm, args, cfg, out):
    """Collective: each rank checks that it can create its part file beside the result and its
    block in the checkpoint directory (:func:`mcsim.io.claim.check_writable`); returns None, or
    the verdict ``("output", message)`` naming the first rank that cannot, the same on every
    rank."""
    from mcsim import checkpoint as ck
    from mcsim.io import claim as cl

    problem = None
    try:
        ckpt = Path(args.restart) if args.restart is not None else ck.checkpoint_dir(cfg, out)
        cl.check_writable(out, ckpt)
    except (cl.OutputError, ck.CheckpointError, OSError) as exc:
        problem = str(exc)
    problems = comm.allgather(problem)
    for rank, text in enumerate(problems):
        if text is not None:
            return ("output", f"rank {rank} of {len(problems)}: {text} (every rank writes "
                              "files of its own beside the result and in the checkpoint "
                              "directory)")
    return None


def _refuse_unfinished_checkpoint(ckpt_dir, out) -> None:
    """A fresh run would replace, at its first checkpoint, the checkpoint that an earlier run
    to the same output left when it stopped early: refuse (OutputError) unless the user asks
    for that with ``--overwrite``, and say how to continue the earlier run instead."""
    from mcsim import checkpoint as ck
    from mcsim.io.claim import OutputError

    if not (Path(ckpt_dir) / ck.LATEST).is_file():
        return
    try:
        stored = ck.open_checkpoint(ckpt_dir)
        what = (f"the checkpoint of a run that did not finish (step {stored.step}, "
                f"t = {stored.time_s / 60:.1f} min)")
    except ck.CheckpointError as exc:
        what = f"a checkpoint that cannot be restored ({exc})"
    raise OutputError(f"{ckpt_dir} holds {what}; continue that run with: mcsim run --restart "
                      f"{ckpt_dir} -o {out}, or pass --overwrite to start afresh (its "
                      "checkpoint is then replaced), or choose another -o")


def _kept(out, ckpt_dir) -> str:
    """What a run that stopped early leaves behind, for its last line."""
    from mcsim import checkpoint as ck
    from mcsim.io.hdf5 import partial_path

    kept = []
    if out is not None and partial_path(out).exists():
        kept.append(f"{partial_path(out)} (incomplete)")
    if ckpt_dir is not None and (Path(ckpt_dir) / ck.LATEST).is_file():
        try:
            step = ck.open_checkpoint(ckpt_dir).step
            kept.append(f"checkpoint {ckpt_dir} (step {step}; continue with: mcsim run "
                        f"--restart {ckpt_dir} -o {out})")
        except ck.CheckpointError:
            pass
    return ", ".join(kept) if kept else "nothing"


def _end_after_io_error(line: str, comm, rank: int) -> None:
    """Print ``line`` (rank 0, or a rank that rank 0 did not stop) and end the process, or
    the whole MPI job, with :data:`EXIT_IO`; never returns.

    HDF5 cannot flush or close a file whose writes failed without risking a crash (at exit,
    too), so the process ends here, leaving the ``.partial`` with ``complete = false``.
    Under MPI the other ranks may be waiting in a collective that this one will not enter:
    rank 0 aborts the job at once; another rank gives rank 0 a few seconds to do so (when
    the failure reached every rank) before it reports and aborts the job itself.
    """
    if comm is not None and rank != 0:
        time.sleep(_ABORT_GRACE_S)
    print(line if rank == 0 else f"{line} (rank {rank})", file=sys.stderr, flush=True)
    sys.stdout.flush()
    if comm is not None:
        os.dup2(os.open(os.devnull, os.O_WRONLY), 2)  # our line says it: not the MPI library's
        comm.Abort(EXIT_IO)
    os._exit(EXIT_IO)


def _run(args, comm, rank) -> int:
    from mcsim import checkpoint as ck

    if args.restart is not None and (args.config is not None or args.sets):
        raise ConfigError("--restart", args.restart, "takes no CONFIG or --set: a restart "
                          "continues with the configuration stored in the checkpoint")
    if args.restart is not None and args.threads is not None:  # checked as numerics.threads
        from mcsim import config

        config.check_value("numerics.threads", args.threads, shown_as="--threads")
    cfg = None if args.restart is not None else _load(args)  # checked before any work
    walltime = args.walltime or os.environ.get(ck.WALLTIME_ENV) or None
    walltime_s = None if walltime is None else ck.parse_walltime(
        walltime, "--walltime" if args.walltime else ck.WALLTIME_ENV)
    out = args.output
    if out is None and cfg is not None:
        out = (Path(args.config).with_suffix(".h5").name if args.config
               else "mcsim-default.h5")
    if cfg is not None:  # a bad checkpoint_path is reported before the particle is made
        ck.Checkpointer.from_config(cfg, out)
    # the output: rank 0 checks and claims it, every rank learns the verdict before any work
    verdict, out, claim = _claim_output(args, cfg, out, rank)
    size = comm.Get_size() if comm is not None else 1
    if size > 1:
        verdict, out = comm.bcast((verdict, out), root=0)
        if verdict is None:  # each rank writes files of its own: every one must be able to
            verdict = _every_rank_can_write(comm, args, cfg, out)
            if verdict is not None and claim is not None:
                claim.release()
    if verdict is not None:
        if rank == 0:
            print(f"mcsim: {verdict[0]} error: {verdict[1]}", file=sys.stderr)
        return EXIT_CONFIG
    from mcsim.engine import Simulation

    # SIGTERM / SIGUSR1 / SIGHUP / SIGINT: checkpoint at the next step, then exit
    stop = ck.install_stop_signals()
    ckpt_dir = None
    try:
        if args.restart is not None:
            sim = Simulation.from_checkpoint(args.restart, comm=comm, threads=args.threads)
            out = out if out is not None else sim.resume.default_output()
        else:
            sim = Simulation(cfg, comm=comm)
        checkpointer = ck.Checkpointer.from_config(sim.cfg, out, resume=sim.resume,
                                                   walltime_s=walltime_s, t_start=_T_START,
                                                   stop=stop, log=sim.log)
        ckpt_dir = checkpointer.directory
        sim.run(out, progress=not args.no_progress, checkpointer=checkpointer)
    except ck.CheckpointError as exc:
        if rank == 0:
            print(f"mcsim: checkpoint error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except ck.CheckpointExit as exc:  # the checkpointer printed what happened and what was kept
        return EXIT_INTERRUPTED if "SIGINT" in (exc.reason, stop.reason) else EXIT_CHECKPOINTED
    except KeyboardInterrupt:  # a second Ctrl-C (or one before the handler was installed)
        if rank == 0:
            print(f"mcsim: interrupted (Ctrl-C); kept: {_kept(out, ckpt_dir)}",
                  file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except OSError as exc:  # disk full, file-system error: one line, then stop every rank
        what = f"writing {exc.filename}: {exc.strerror}" if exc.filename and exc.strerror \
            else str(exc)
        if claim is not None:
            claim.release()
        dropped = ""
        if rank == 0 and ckpt_dir is not None:  # a checkpoint write that failed part-way
            gone = ck.drop_unfinished(ckpt_dir)
            if gone:
                dropped = f"; removed the unfinished checkpoint {', '.join(gone)}"
        _end_after_io_error(f"mcsim: I/O error: {what}; kept: {_kept(out, ckpt_dir)}{dropped}",
                            comm if size > 1 else None, rank)
        return EXIT_IO  # (not reached: the process has ended)
    finally:
        if claim is not None:
            claim.release()
    return EXIT_OK


def _cmd_config(args) -> int:
    from mcsim import config, params

    if args.config_command == "reference":
        from mcsim import docgen

        return docgen.main(args)
    if args.config_command == "params":
        names = [args.name] if args.name else list(params.PARAMETER_SETS)
        for name in names:
            if name not in params.PARAMETER_SETS:
                raise ConfigError("model.parameter_set", name,
                                  f"must be one of {sorted(params.PARAMETER_SETS)}")
            print(params.describe(name))
        return 0
    cfg = _load(args)
    schedule = config.build_schedule(cfg)
    if args.config_command == "show":
        print("# resolved mcsim configuration; schedule:")
        for line in schedule.describe().splitlines():
            print(f"#   {line}")
        print(config.to_toml(cfg), end="")
    else:
        from mcsim import resources  # imports the numba-compiled generator

        if args.ranks < 1:
            raise ConfigError("--ranks", args.ranks, "must be an integer >= 1")
        per_node = args.ranks if args.ranks_per_node is None else args.ranks_per_node
        if not 1 <= per_node <= args.ranks:
            raise ConfigError("--ranks-per-node", per_node, f"an integer in [1, {args.ranks}]")
        estimate = resources.estimate(cfg, args.ranks, schedule=schedule)
        print(f"{args.config}: {cfg['schedule']['preset']} schedule, "
              f"{schedule.duration_s / 60:.0f} min, parameter set {cfg['model']['parameter_set']}")
        for line in estimate.lines():
            print(f"  {line}")
        note = config.voxel_note(cfg)
        if note is not None:
            print(f"  {note}")
        sys.stdout.flush()  # the estimate before a refusal on stderr
        if args.bench is not None and not args.time:
            raise ConfigError("--bench", args.bench, "only with --time")
        if args.time:
            from mcsim.walltime import estimate_wall_time

            threads = cfg["numerics"]["threads"] or 1
            wall = estimate_wall_time(cfg, estimate.block_voxels, args.ranks, args.bench,
                                      threads_per_rank=threads)
            print(f"  {wall.line()}")
            sys.stdout.flush()
        resources.check_memory(cfg, estimate, ranks_on_node=per_node)
        print(f"{args.config}: valid")
    return 0


def _running_holder(result) -> str | None:
    """Who holds the output lock of ``result``, if a live run does (:mod:`mcsim.io.claim`);
    else None."""
    from mcsim.io.claim import Holder, lock_path

    try:
        holder = Holder.read(lock_path(result))
    except OSError:
        return None
    if holder is None or holder.stale_reason() is not None:
        return None
    return holder.describe()


def _cmd_info(args) -> int:
    """Summary on stdout; exit 0 for a finished result, 1 for an unfinished one (a
    ``.partial``, ``complete`` not true, a missing part file), 2 for no or no readable file."""
    from mcsim.io.info import UnreadableResultError, summarize
    from mcsim.io.result import result_status

    if not Path(args.result).exists() and not Path(str(args.result) + ".partial").exists():
        print(f"mcsim: input error: {args.result}: no such file", file=sys.stderr)
        return EXIT_CONFIG
    try:
        text = summarize(args.result, full=args.all)
    except UnreadableResultError as exc:
        running = _running_holder(args.result)
        if running is not None:  # HDF5 locks a file while a run writes it: say who does
            print(f"mcsim result: {args.result}\nstatus: INCOMPLETE: the run is still writing "
                  f"it ({running}); ask again when it has finished")
            return EXIT_INCOMPLETE
        print(f"mcsim: input error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    print(text)
    finished = result_status(args.result).finished
    return 0 if finished else EXIT_INCOMPLETE


def _cmd_bench(args) -> int:
    if args.mpi:
        from mcsim.bench_mpi import run_bench_mpi

        run_bench_mpi(size=args.size, ranks=args.ranks, repeat=args.repeat,
                      json_path=args.json)
        return 0
    from mcsim.bench import run_bench

    run_bench(size=args.size, threads=args.threads, repeat=args.repeat, json_path=args.json)
    return 0


def _cmd_plot(args) -> int:
    from mcsim.plot import run

    return run(args)


def _cmd_sweep(args) -> int:
    from mcsim.sweep import main as sweep_main

    return sweep_main(args)


def _cmd_compare(args) -> int:
    from mcsim.compare import main as compare_main

    return compare_main(args)


def _cmd_validate(args) -> int:
    from mcsim.validate.harness import main as validate_main

    return validate_main(args.rest)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["validate"]:  # the validation harness parses its own options
        from mcsim.validate.harness import main as validate_main

        return validate_main(argv[1:])
    args = build_parser().parse_args(argv)
    handler = {"run": _cmd_run, "config": _cmd_config, "info": _cmd_info, "plot": _cmd_plot,
               "validate": _cmd_validate, "bench": _cmd_bench,
               "sweep": _cmd_sweep, "compare": _cmd_compare}[args.command]
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"mcsim: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except BrokenPipeError:  # output piped into head & co.: stop quietly
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:  # Ctrl-C outside a run's own handling (start-up, other commands)
        print("mcsim: interrupted (Ctrl-C)", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
