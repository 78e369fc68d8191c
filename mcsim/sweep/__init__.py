"""Parameter sweeps: many runs from one sweep file, spread dynamically over MPI ranks.

``mcsim sweep SWEEP.toml`` expands a sweep file into runs, validates every one of them before
any work starts, runs them (in order on one rank; under ``mpirun -n N`` on N // ranks_per_run
groups of ranks, each run taken by the next free group), writes one HDF5 result per run and
finally an index of all runs with their parameters and scalar outcomes.

The modules, one role each (their docstrings document the formats):

* :mod:`mcsim.sweep.plan`: the sweep file (tables, keys, points, seeds, validation) and the
  list of runs with the paths of their outputs (:func:`load_sweep`, :class:`SweepPlan`);
* :mod:`mcsim.sweep.index`: the state of a run on disk, the outcomes of a finished run and
  ``OUTDIR/index.h5`` (:func:`run_state`, :func:`read_outcomes`, :func:`write_index`);
* :mod:`mcsim.sweep.scheduler`: running the runs (claims, MPI groups and the shared run
  counter, stop on SIGTERM, error files, exit statuses, the summary) (:func:`run_sweep`);
* :mod:`mcsim.sweep.command`: the ``mcsim sweep`` command (:func:`add_arguments`,
  :func:`main`).

Every name is importable from ``mcsim.sweep`` as it was before the package was split. A test
that replaces a name here (``monkeypatch.setattr(mcsim.sweep, ...)``) changes only this
module's binding: replace it in the module that uses it (e.g. ``mcsim.sweep.scheduler``).
"""

from __future__ import annotations

from mcsim.sweep.command import _print_runs, add_arguments, main
from mcsim.sweep.index import (CONTRAST_AT_C, INDEX_FORMAT_VERSION, NON_RESULT_KEYS, OUTCOMES,
                               PORE_OUTCOMES, RunState, _column, _comparable, _last_finite,
                               _pore_outcomes, _read_error_file, _write_if_changed,
                               index_rows, read_outcomes, run_outcomes, run_state,
                               write_index)
from mcsim.sweep.plan import (SWEEP_KEYS, SWEEP_TABLES, Run, SweepPlan, _check_config_key,
                              _check_sweep_value, _flatten, _format_value, _set_dotted,
                              derive_seed, load_sweep)
from mcsim.sweep.scheduler import (EXIT_INTERRUPTED, EXIT_RUN_FAILED, FAIL_HOOK_ENV,
                                   RunCounter, SweepInterrupted, _execute_claimed,
                                   _injected_failures, _install_stop_handler, _mpi_world,
                                   _prepare, _run_parallel, _simulation_class, _StopState,
                                   _summary, check_comm_support, estimated_cost,
                                   execute_run, group_layout, run_sweep,
                                   simulation_accepts_comm)

__all__ = [
    "CONTRAST_AT_C", "EXIT_INTERRUPTED", "EXIT_RUN_FAILED", "FAIL_HOOK_ENV",
    "INDEX_FORMAT_VERSION", "NON_RESULT_KEYS", "OUTCOMES", "PORE_OUTCOMES", "SWEEP_KEYS",
    "SWEEP_TABLES", "Run", "RunCounter", "RunState", "SweepInterrupted", "SweepPlan",
    "add_arguments", "check_comm_support", "derive_seed", "estimated_cost", "execute_run",
    "group_layout", "index_rows", "load_sweep", "main", "read_outcomes", "run_outcomes",
    "run_state", "run_sweep", "simulation_accepts_comm", "write_index",
]
