"""The ``mcsim sweep`` command: its options and what it does with them."""

from __future__ import annotations

from mcsim.errors import ConfigError
from mcsim.sweep.index import index_rows, run_state, write_index
from mcsim.sweep.plan import SweepPlan, _format_value, load_sweep
from mcsim.sweep.scheduler import _mpi_world, run_sweep


def add_arguments(parser) -> None:
    """Options of ``mcsim sweep``."""
    parser.add_argument("sweep", metavar="SWEEP.toml", help="sweep file")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate and list the runs (with their state on disk); run nothing")
    parser.add_argument("--index-only", action="store_true",
                        help="only (re)write OUTDIR/index.h5 from the files there")
    parser.add_argument("-o", "--output-dir", metavar="DIR", default=None,
                        help="output folder (overrides sweep.output_dir)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace results in the output folder that hold another "
                             "configuration (without it the sweep refuses before any work)")
    parser.add_argument("--set", dest="sets", action="append", default=[],
                        metavar="section.key=value",
                        help="fix a configuration key for every run, after the file's [set] "
                             "(e.g. a smaller particle to try the sweep); not a swept key")


def _print_runs(plan: SweepPlan, say) -> None:
    say(f"sweep {plan.path}: {plan.n_points} point(s) x {plan.replicas} replica(s) = "
        f"{len(plan.runs)} runs -> {plan.output_dir}/ (base "
        f"{plan.base or 'built-in default'}, seed {plan.seed}, ranks_per_run "
        f"{plan.ranks_per_run})")
    keys = plan.swept_keys
    widths = [max(len(k), *(len(_format_value(r.values[k])) for r in plan.runs)) for k in keys]
    head = f"{'run':>{plan.width}}  {'point':>5}  {'rep':>3}  {'seed':>19}  "
    say(head + "  ".join(f"{k:>{w}}" for k, w in zip(keys, widths)) + "  status")
    counts = {"done": 0, "failed": 0, "pending": 0}
    for run in plan.runs:
        state = run_state(plan, run)
        counts[state.status] += 1
        values = "  ".join(f"{_format_value(run.values[k]):>{w}}" for k, w in zip(keys, widths))
        note = f" ({state.error}; replaced only with --overwrite)" if state.replaces else (
            f" ({state.error})" if state.error else "")
        say(f"{run.run_id:>{plan.width}d}  {run.point:>5d}  {run.replica:>3d}  {run.seed:>19d}  "
            f"{values}  {state.status}{note}")
    say(f"{counts['done']} done, {counts['failed']} failed, {counts['pending']} pending: "
        f"a sweep would run {counts['failed'] + counts['pending']}")


def main(args, say=None) -> int:
    """``mcsim sweep``: returns the exit status; ConfigError propagates (exit 2) on rank 0."""
    say = say or (lambda line: print(line, flush=True))
    comm = _mpi_world()
    rank = comm.Get_rank() if comm is not None else 0
    try:
        plan = load_sweep(args.sweep, args.output_dir, getattr(args, "sets", ()))
    except ConfigError:
        if rank != 0:
            return 2
        raise
    if getattr(args, "sets", None) and rank == 0:
        say("--set for every run: " + ", ".join(args.sets))
    if args.dry_run or args.index_only:
        if rank != 0:
            return 0
        if args.dry_run:
            _print_runs(plan, say)
            return 0
        rows = index_rows(plan, say)
        path = write_index(plan, rows, say)
        counts = {s: sum(r["state"].status == s for r in rows)
                  for s in ("done", "failed", "pending")}
        say(f"{path}: {len(rows)} runs: {counts['done']} done, {counts['failed']} failed, "
            f"{counts['pending']} pending")
        return 0
    return run_sweep(plan, comm, say, overwrite=getattr(args, "overwrite", False))

