"""Parameter sweeps: many runs from one sweep file, spread dynamically over MPI ranks.

``mcsim sweep SWEEP.toml`` expands a sweep file into runs, validates every one of them before
any work starts, runs them (in order on one rank; under ``mpirun -n N`` on N // ranks_per_run
groups of ranks, each run taken by the next free group), writes one HDF5 result per run and
finally an index of all runs with their parameters and scalar outcomes.

Sweep file
----------
::

    [sweep]
    base = "ts-ncm.toml"       # run configuration to start from, relative to this file
                               # (left out: the built-in default configuration)
    output_dir = "sweep-hold"  # relative to the working directory (default: the file's stem)
    seed = 2024                # master seed; every run's seed is derived from it
    replicas = 2               # runs per parameter point, each with its own seed
    ranks_per_run = 1          # MPI ranks sharing one run (lattice domain decomposition)
    common_seeds = false       # true: replica r has the same seed (particle) at every point

    [set]                      # fixed overrides of the base, dotted configuration keys
    "numerics.threads" = 1

    [grid]                     # Cartesian product of these lists
    "schedule.hold_c" = [150, 200, 250, 300]
    "schedule.hold_min" = [0, 120, 240, 360]

    [zip]                      # lists varied together (equal lengths): one more product axis
    "lithium.li_to_tm" = [1.0, 1.05]
    "lithium.source_diameter_nm" = [150, 200]

Keys may be quoted dotted names or TOML tables (``[grid.schedule]`` with ``hold_c = [...]``);
a key may appear in only one of [set], [grid] and [zip]. ``seed`` cannot be set or varied: it
comes from ``sweep.seed``.

Points and runs. The points are the product of the [grid] axes in file order (the last one
varying fastest) with the [zip] lists as one further, fastest axis; no [grid] and no [zip]
give a single point. Run ``run_id = point * replicas + replica`` writes
``OUTDIR/run-NNNN.h5`` (four digits, more when needed).

Seeds. Run (point p, replica r) takes the first 64-bit word of
``numpy.random.SeedSequence(sweep.seed, spawn_key=(p, r))`` shifted right by one bit (a run
seed is below 2**63); that is the child ``SeedSequence(seed).spawn(..)[p].spawn(..)[r]``,
so seeds are reproducible, independent of how many points or replicas there are, and never
taken from a clock. With ``common_seeds = true`` the key is ``(r,)``: every point of replica
r uses the same particle (common random numbers, for differences between points).

Validation. The sweep tables and keys are checked first, then every point's configuration is
built (base, then [set], then the point's values) and validated by :mod:`mcsim.config`;
errors are :class:`~mcsim.errors.ConfigError` naming the key (prefixed by the table it came
from, e.g. ``grid.schedule.hold_c``) and what is allowed, and no run starts (exit 2).

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
``/config`` equals the requested configuration (:data:`NON_RESULT_KEYS` excepted: threads,
log and checkpoint settings do not change results) and runs the others: failed, unfinished
(only a ``.partial``), missing, or holding another configuration. ``output.checkpoint_path``
must stay empty in a sweep of several runs, so that each run checkpoints beside its result.

Failures and signals. A run that raises is recorded (error file) and the sweep goes on; the
exit status is 1 when any run failed. SIGTERM (SLURM's ``--signal``) or Ctrl-C during a run
aborts that run cleanly (its ``.partial`` stays incomplete), no further runs start, the index
is written, and the exit status is 3 unless a run failed; rerun the sweep to resume.

Test hook: the environment variable ``MCSIM_SWEEP_FAIL_RUNS`` (comma-separated run ids) makes
those runs raise ``RuntimeError`` at their start; the tests use it to fail a run that a later
resume (without the variable) completes.

Index file ``OUTDIR/index.h5``
------------------------------
Written by rank 0 at the end of every sweep (and by ``mcsim sweep SWEEP.toml --index-only``)
into ``index.h5.partial``, then renamed atomically. Built from the files in OUTDIR alone.

Root attributes: ``format`` = ``"mcsim-sweep-index"``, ``format_version`` = ``"1.0"``,
``mcsim_version``, ``sweep_file`` (path as given), ``output_dir``, ``base_config`` (path or
``"built-in default"``), ``sweep_seed``, ``replicas``, ``ranks_per_run``, ``common_seeds``,
``n_runs``, ``n_done``, ``n_failed``, ``n_pending``, ``swept_keys`` (str array, column
order), ``outcomes`` (str array).

Datasets (every one of length ``n_runs``, row i = run i):

=====================================  ========  ==================================================
``/sweep_toml``                        str       the sweep file's text (scalar dataset)
``/runs/run_id``                       int64     run number
``/runs/point``                        int64     parameter point
``/runs/replica``                      int64     replica at that point
``/runs/seed``                         int64     the run's seed
``/runs/status``                       str       ``done``, ``failed`` or ``pending``
``/runs/error``                        str       error line of a failed run (else empty; for a
                                                 pending run with a stale result, why)
``/runs/wall_time_s``                  float64   wall time of the run (done: engine's own;
                                                 failed: until it raised; else NaN)
``/runs/result``                       str       result file name, e.g. ``run-0007.h5``
``/params/<dotted key>``               varies    one column per swept key: float64 for numbers
                                                 (int64 if all integers), bool, or str (strings;
                                                 lists and tables as JSON)
``/outcomes/final_hydroxide``          float64   last row of /timeseries/tm_phase_fraction
``/outcomes/final_rocksalt``           float64   (the three columns), share of TM
``/outcomes/final_layered``            float64
``/outcomes/porosity``                 float64   pore statistics (mcsim.pores) at the end of the
``/outcomes/nanopore_density_core_per_um3``      run: from the result's /pores group or
``/outcomes/nanopore_density_shell_per_um3``     /timeseries (last value) when the engine wrote
``/outcomes/central_void_fraction``    float64   them, else ``pore_statistics`` on the final
                                                 snapshot, else NaN
``/outcomes/contrast_layered_300c``    float64   /timeseries/contrast_layered interpolated
                                                 (linearly in time) at the first time the
                                                 furnace reaches 300 C; NaN if it never does
=====================================  ========  ==================================================

Every outcome column is NaN for runs that are not done. Each ``/outcomes`` and ``/params``
dataset carries a ``description`` attribute.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import itertools
import json
import math
import os
import platform
import signal
import sys
import threading
import time
import tomllib
import traceback
from pathlib import Path

import numpy as np

from mcsim import config as _config
from mcsim import resources as _resources
from mcsim.errors import ConfigError
from mcsim.io.claim import OutputClaim, OutputError
from mcsim.io.safepath import UnsafePathError, inside

#: Version of the index layout documented above.
INDEX_FORMAT_VERSION = "1.0"

#: Exit status when a run failed / when a signal stopped the sweep with runs left to do.
EXIT_RUN_FAILED = 1
EXIT_INTERRUPTED = 3

#: Environment variable of the test hook (comma-separated run ids that raise at their start).
FAIL_HOOK_ENV = "MCSIM_SWEEP_FAIL_RUNS"

#: The keys of the [sweep] table: (kind, default, lo, hi, meaning).
SWEEP_KEYS = {
    "base": ("str", None, None, None, "run configuration to start from (path relative to the "
                                      "sweep file, inside its folder; left out: the built-in "
                                      "default)"),
    "output_dir": ("str", None, None, None, "output folder, relative to the working directory "
                                            "and inside it (default: the sweep file's stem; "
                                            "elsewhere: mcsim sweep -o DIR)"),
    "seed": ("int", 1, 0, 2**63 - 1, "master seed of the sweep"),
    "replicas": ("int", 1, 1, 100000, "runs per parameter point"),
    "ranks_per_run": ("int", 1, 1, 1000000, "MPI ranks that share one run"),
    "common_seeds": ("bool", False, None, None, "replica r has the same seed at every point"),
}

#: The tables a sweep file may hold.
SWEEP_TABLES = ("sweep", "set", "grid", "zip")

#: Configuration keys that do not change a run's result (ignored when matching a stored run).
NON_RESULT_KEYS = (("numerics", "threads"), ("output", "log_interval_s"),
                   ("output", "checkpoint_interval_wall_s"),
                   ("output", "checkpoint_interval_sim_min"), ("output", "checkpoint_path"))

#: Index outcome columns and their meaning.
OUTCOMES = {
    "final_hydroxide": "share of TM in hydroxide at the end (last tm_phase_fraction row)",
    "final_rocksalt": "share of TM in rock salt at the end",
    "final_layered": "share of TM in layered oxide at the end",
    "porosity": "porosity at the end (mcsim.pores)",
    "nanopore_density_core_per_um3": "intragranular nanopores per um^3 in the core, at the end",
    "nanopore_density_shell_per_um3": "intragranular nanopores per um^3 in the shell, at the end",
    "central_void_fraction": "central void fraction at the end (mcsim.pores)",
    "contrast_layered_300c": "layered share shell minus core at the first time the furnace "
                             "reaches 300 C (NaN if never)",
}

#: The pore statistics among the outcomes (names of mcsim.pores.pore_statistics' dict).
PORE_OUTCOMES = ("porosity", "nanopore_density_core_per_um3", "nanopore_density_shell_per_um3",
                 "central_void_fraction")

#: Temperature of the core-shell contrast outcome, C.
CONTRAST_AT_C = 300.0


# -- the plan ------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Run:
    """One run of a sweep.

    Attributes
    ----------
    run_id, point, replica : int
        Run number, parameter point and replica (``run_id = point * replicas + replica``).
    seed : int
        The run's seed (see the module docstring).
    values : dict
        Swept key -> value at this point, in column order.
    cfg : dict
        The validated, resolved run configuration.
    """

    run_id: int
    point: int
    replica: int
    seed: int
    values: dict
    cfg: dict

    def describe(self) -> str:
        """``key=value, ..., replica r`` for log lines."""
        parts = [f"{k}={_format_value(v)}" for k, v in self.values.items()]
        return ", ".join(parts + [f"replica {self.replica}"])


@dataclasses.dataclass
class SweepPlan:
    """A validated sweep: its settings and every run, with the paths of its outputs."""

    path: Path
    text: str
    base: Path | None
    output_dir: Path
    seed: int
    replicas: int
    ranks_per_run: int
    common_seeds: bool
    fixed: dict
    grid: dict
    zipped: dict
    runs: list
    n_points: int

    @property
    def swept_keys(self) -> list:
        """The varied keys in column order: [grid] in file order, then [zip]."""
        return list(self.grid) + list(self.zipped)

    @property
    def width(self) -> int:
        return max(4, len(str(max(len(self.runs) - 1, 0))))

    def stem(self, run: Run) -> str:
        return f"run-{run.run_id:0{self.width}d}"

    def result_path(self, run: Run) -> Path:
        return self.output_dir / f"{self.stem(run)}.h5"

    def config_path(self, run: Run) -> Path:
        return self.output_dir / f"{self.stem(run)}.toml"

    def log_path(self, run: Run) -> Path:
        return self.output_dir / f"{self.stem(run)}.log"

    def error_path(self, run: Run) -> Path:
        return self.output_dir / f"{self.stem(run)}.error.txt"

    def outcomes_path(self, run: Run) -> Path:
        return self.output_dir / f"{self.stem(run)}.outcomes.json"

    @property
    def index_path(self) -> Path:
        return self.output_dir / "index.h5"


def derive_seed(sweep_seed: int, point: int, replica: int, common: bool = False) -> int:
    """The seed of run (point, replica) of a sweep with master seed ``sweep_seed``.

    Parameters
    ----------
    sweep_seed : int
        ``sweep.seed`` (>= 0).
    point, replica : int
        Parameter point and replica index.
    common : bool
        ``sweep.common_seeds``: the seed then depends on the replica only.

    Returns
    -------
    int
        A seed in [0, 2**63): the first 64-bit word of
        ``SeedSequence(sweep_seed, spawn_key=key)``, shifted right by one bit, with
        ``key = (replica,)`` if ``common`` else ``(point, replica)``.
    """
    key = (int(replica),) if common else (int(point), int(replica))
    word = np.random.SeedSequence(int(sweep_seed), spawn_key=key).generate_state(1, np.uint64)[0]
    return int(word) >> 1


def _format_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (int, str)):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def _flatten(table: dict, prefix: str = "") -> dict:
    """``{"a": {"b": 1}, "c.d": 2}`` -> ``{"a.b": 1, "c.d": 2}`` (leaves are non-tables)."""
    out = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def _check_config_key(where: str, dotted: str, value) -> None:
    """Raise ConfigError unless ``dotted`` names a configuration key a sweep may set."""
    parts = dotted.split(".")
    label = f"{where}.{dotted}"
    if not all(parts):
        raise ConfigError(label, value, "must be a dotted configuration key such as "
                                        "particle.radius_um")
    if parts == ["seed"]:
        raise ConfigError(label, value, "run seeds are derived from sweep.seed (and "
                                        "sweep.replicas); set those instead")
    schema = _config.SCHEMA
    sections = [name for name, spec in schema.items() if isinstance(spec, dict)]
    if parts[0] not in sections:
        raise ConfigError(label, value, "unknown configuration key; allowed sections: "
                                        + ", ".join(sections))
    section = parts[0]
    if len(parts) == 1:
        raise ConfigError(label, value, f"name a key inside [{section}], e.g. "
                                        f"{section}.{next(iter(schema[section]))}")
    allowed = list(schema[section])
    if section == "model":
        allowed += ["overrides", "processes"]
        if parts[1] in ("overrides", "processes"):
            if len(parts) != 3:
                raise ConfigError(label, value, f"must be model.{parts[1]}.<name>")
            return
    if section == "schedule":
        allowed.append("steps")
    if len(parts) != 2 or parts[1] not in allowed:
        raise ConfigError(label, value, f"unknown configuration key; allowed in [{section}]: "
                                        + ", ".join(allowed))


def _check_sweep_value(key: str, value):
    kind, _default, lo, hi, _doc = SWEEP_KEYS[key]
    dotted = f"sweep.{key}"
    if kind == "str":
        if not isinstance(value, str) or not value:
            raise ConfigError(dotted, value, "must be a non-empty string")
    elif kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(dotted, value, "must be true or false")
    else:
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            raise ConfigError(dotted, value, f"must be an integer in [{lo}, {hi}]")
    return value


def _set_dotted(node: dict, dotted: str, value) -> None:
    keys = dotted.split(".")
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(dotted, value, f"{key} is not a table in the base configuration")
        node = child
    node[keys[-1]] = copy.deepcopy(value)


def load_sweep(path, output_dir=None) -> SweepPlan:
    """Read and validate a sweep file; every run's configuration is validated.

    Parameters
    ----------
    path : str or os.PathLike
        The sweep file (TOML).
    output_dir : str or os.PathLike, optional
        Overrides ``sweep.output_dir``.

    Returns
    -------
    SweepPlan

    Raises
    ------
    ConfigError
        For any problem, naming the key (``sweep.replicas``, ``grid.schedule.hold_c``,
        ``zip``, ...) and what is allowed. Nothing is written.
    """
    path = Path(path)
    text, doc = _config.read_toml_text(path, "SWEEP")
    for key, value in doc.items():
        if key not in SWEEP_TABLES:
            raise ConfigError(key, value, "unknown key of a sweep file; allowed tables: "
                                          + ", ".join(f"[{t}]" for t in SWEEP_TABLES))
        if not isinstance(value, dict):
            raise ConfigError(key, value, "must be a table")
    settings = {k: spec[1] for k, spec in SWEEP_KEYS.items()}
    for key, value in doc.get("sweep", {}).items():
        if key not in SWEEP_KEYS:
            raise ConfigError(f"sweep.{key}", value, "unknown key; allowed: "
                                                     + ", ".join(SWEEP_KEYS))
        settings[key] = _check_sweep_value(key, value)

    base = None
    user: dict = {}
    if settings["base"] is not None:
        try:  # a name read from the sweep file stays in the sweep file's folder
            base = inside(path.parent, settings["base"], "sweep.base", max_parts=64).resolve()
        except UnsafePathError as exc:
            raise ConfigError("sweep.base", settings["base"],
                              f"must be a path inside the sweep file's folder ({exc})") from None
        if not base.is_file():
            raise ConfigError("sweep.base", settings["base"],
                              f"file not found (looked for {base}; relative to the sweep file)")
        try:
            user = _config.read_toml(base)
        except ConfigError as exc:
            raise ConfigError("sweep.base", settings["base"], exc.allowed) from None
        if "seed" in user:  # the run seeds come from the sweep
            del user["seed"]

    fixed = _flatten(doc.get("set", {}))
    grid = _flatten(doc.get("grid", {}))
    zipped = _flatten(doc.get("zip", {}))
    seen: dict[str, str] = {}
    for where, table in (("set", fixed), ("grid", grid), ("zip", zipped)):
        for key, value in table.items():
            _check_config_key(where, key, value)
            if key in seen:
                raise ConfigError(f"{where}.{key}", value,
                                  f"already given in [{seen[key]}]; a key may appear in only "
                                  "one of [set], [grid] and [zip]")
            seen[key] = where
            if where != "set" and (not isinstance(value, list) or not value):
                raise ConfigError(f"{where}.{key}", value,
                                  "must be a non-empty list of values to sweep over")
    lengths = {key: len(values) for key, values in zipped.items()}
    if len(set(lengths.values())) > 1:
        raise ConfigError("zip", lengths, "every list in [zip] must have the same length")

    # -- points: product of the grid axes, then the zip axis (fastest) --------------------
    # counted before they are expanded: a sweep of more than MAX_SWEEP_RUNS runs is refused
    n_points = math.prod(len(values) for values in grid.values()) * (
        next(iter(lengths.values())) if zipped else 1)
    _resources.check_sweep_size(n_points, settings["replicas"])
    axes = [[{key: v} for v in values] for key, values in grid.items()]
    if zipped:
        n_zip = next(iter(lengths.values()))
        axes.append([{key: values[i] for key, values in zipped.items()} for i in range(n_zip)])
    points = [dict(item for part in combo for item in part.items())
              for combo in itertools.product(*axes)]

    for key, value in fixed.items():
        _set_dotted(user, key, value)
    runs = []
    replicas = settings["replicas"]
    for p, values in enumerate(points):
        point_user = copy.deepcopy(user)
        for key, value in values.items():
            _set_dotted(point_user, key, value)
        try:
            cfg = _config.validate(_config._merge(_config.defaults(), point_user))
        except ConfigError as exc:
            origin = seen.get(exc.key)
            key = f"{origin}.{exc.key}" if origin else exc.key
            where = ", ".join(f"{k}={_format_value(v)}" for k, v in values.items())
            raise ConfigError(key, exc.value, f"{exc.allowed} (point {p}"
                                              + (f": {where})" if where else ")")) from None
        for r in range(replicas):
            seed = derive_seed(settings["seed"], p, r, settings["common_seeds"])
            run_cfg = copy.deepcopy(cfg)
            run_cfg["seed"] = seed
            runs.append(Run(run_id=p * replicas + r, point=p, replica=r, seed=seed,
                            values=dict(values), cfg=run_cfg))
    if len(runs) > 1 and runs[0].cfg["output"].get("checkpoint_path"):
        key = "output.checkpoint_path"
        raise ConfigError(f"{seen.get(key, 'base')}.{key}",
                          runs[0].cfg["output"]["checkpoint_path"],
                          "must be '' in a sweep of more than one run (each run checkpoints "
                          "next to its result, as run-NNNN.ckpt)")
    if output_dir is None and settings["output_dir"]:
        try:  # written to: inside the working directory unless -o says otherwise
            inside(Path.cwd(), settings["output_dir"], "sweep.output_dir", max_parts=64)
        except UnsafePathError as exc:
            raise ConfigError("sweep.output_dir", settings["output_dir"],
                              "must be a relative path inside the working directory (give "
                              f"another place with mcsim sweep -o DIR) ({exc})") from None
    out = Path(output_dir if output_dir is not None else (settings["output_dir"] or path.stem))
    return SweepPlan(path=path, text=text, base=base, output_dir=out, seed=settings["seed"],
                     replicas=replicas, ranks_per_run=settings["ranks_per_run"],
                     common_seeds=settings["common_seeds"], fixed=fixed, grid=grid,
                     zipped=zipped, runs=runs, n_points=len(points))


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


# -- state of a run on disk ----------------------------------------------------------------

def _comparable(cfg: dict) -> dict:
    out = copy.deepcopy(cfg)
    for section, key in NON_RESULT_KEYS:
        out.get(section, {}).pop(key, None)
    return out


def _read_error_file(path: Path) -> dict:
    header = {}
    try:
        text = path.read_text()
    except OSError:
        return header
    for line in text.split("\n\n", 1)[0].splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            header[key.strip()] = value.strip()
    return header


@dataclasses.dataclass
class RunState:
    """What the files in the output folder say about one run."""

    status: str  # "done", "failed" or "pending"
    error: str = ""
    wall_time_s: float = math.nan


def run_state(plan: SweepPlan, run: Run) -> RunState:
    """Classify a run from its files: done (complete result of this configuration), failed
    (error file) or pending."""
    import h5py

    from mcsim.io.hdf5 import is_complete

    result = plan.result_path(run)
    stale = ""
    if is_complete(result):
        try:
            with h5py.File(result, "r") as f:
                stored = tomllib.loads(f["config"].asstr()[()])
                wall = float(f["provenance"].attrs.get("wall_time_s", math.nan))
            if _comparable(stored) == _comparable(run.cfg):
                return RunState("done", "", wall)
            stale = f"{result.name} holds a different configuration; it will be rerun"
        except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
            stale = f"{result.name} cannot be read back ({exc}); it will be rerun"
    error = plan.error_path(run)
    if error.is_file():
        head = _read_error_file(error)
        try:
            wall = float(head.get("wall_time_s", "nan"))
        except ValueError:
            wall = math.nan
        return RunState("failed", head.get("error", "failed (unreadable error file)"), wall)
    return RunState("pending", stale)


# -- outcomes of a finished run ------------------------------------------------------------

def _last_finite(values) -> float:
    arr = np.asarray(values, dtype=np.float64).ravel()
    arr = arr[np.isfinite(arr)]
    return float(arr[-1]) if arr.size else math.nan


def _pore_outcomes(f, log) -> dict:
    out = {}
    pores = f.get("pore_series")  # one row per snapshot (schema 1.2): the last is the end
    ts = f["timeseries"]
    for name in PORE_OUTCOMES:
        if pores is not None and name in pores and len(pores[name]) and math.isclose(
                float(pores["time_s"][-1]), float(ts["time_s"][-1]), rel_tol=1e-9, abs_tol=1e-6):
            out[name] = _last_finite(pores[name][()])
        elif name in ts:
            out[name] = _last_finite(ts[name][()])
    missing = [n for n in PORE_OUTCOMES if n not in out]
    if not missing:
        return out
    try:
        pores_mod = importlib.import_module("mcsim.pores")
    except ImportError:
        return {**{n: math.nan for n in missing}, **out}
    snaps = f.get("snapshots")
    final = None
    if snaps is not None and len(snaps) and "geometry" in f:
        key = sorted(snaps)[-1]
        t_end = float(ts["time_s"][-1])
        if math.isclose(float(snaps[key].attrs["time_s"]), t_end, rel_tol=1e-9, abs_tol=1e-6):
            final = snaps[key]
    if final is None:
        log(f"note: {f.filename}: no final snapshot; pore statistics set to NaN")
        return {**{n: math.nan for n in missing}, **out}
    try:
        stats = pores_mod.pore_statistics(
            final["phase"][()], final["grain"][()],
            np.asarray(f["geometry/center_vox"][()], dtype=np.float64),
            float(f["geometry/radius_vox"][()]), float(f.attrs["voxel_nm"]), outline="tags")
    except Exception as exc:  # an outcome must not stop the index
        log(f"note: {f.filename}: pore_statistics failed ({type(exc).__name__}: {exc})")
        stats = {}
    for name in missing:
        out[name] = float(stats.get(name, math.nan))
    return out


def read_outcomes(result_path, cfg: dict, log=print) -> dict:
    """The scalar outcomes (:data:`OUTCOMES`) of one finished run.

    Parameters
    ----------
    result_path : str or os.PathLike
        A complete result file.
    cfg : dict
        The run's configuration (its schedule gives the time the furnace reaches 300 C).
    log : callable
        Receives notes on outcomes that could not be computed.
    """
    from mcsim.io.hdf5 import open_result

    out = {name: math.nan for name in OUTCOMES}
    with open_result(result_path) as f:
        ts = f["timeseries"]
        if "tm_phase_fraction" in ts and ts["tm_phase_fraction"].shape[0]:
            last = np.asarray(ts["tm_phase_fraction"][-1], dtype=np.float64)
            out["final_hydroxide"], out["final_rocksalt"], out["final_layered"] = (
                float(v) for v in last[:3])
        out.update(_pore_outcomes(f, log))
        t_hit = _config.build_schedule(cfg).time_at_c(CONTRAST_AT_C)
        if t_hit is not None and "contrast_layered" in ts:
            time_s = np.asarray(ts["time_s"][()], dtype=np.float64)
            contrast = np.asarray(ts["contrast_layered"][()], dtype=np.float64)
            ok = np.isfinite(time_s) & np.isfinite(contrast)
            time_s, contrast = time_s[ok], contrast[ok]
            if time_s.size and time_s[0] <= t_hit <= time_s[-1]:
                out["contrast_layered_300c"] = float(np.interp(t_hit, time_s, contrast))
    return out


# -- the index -----------------------------------------------------------------------------

def _column(values: list):
    """(array, description of the type) for one swept-parameter column."""
    import h5py

    if all(isinstance(v, bool) for v in values):
        return np.array(values, dtype=bool)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return np.array(values, dtype=np.int64)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return np.array(values, dtype=np.float64)
    text = [v if isinstance(v, str) else json.dumps(v) for v in values]
    return np.array(text, dtype=h5py.string_dtype())


def run_outcomes(plan: SweepPlan, run: Run, log=print) -> dict:
    """The outcomes of a finished run, through the cache ``run-NNNN.outcomes.json``.

    The cache holds the result file's size and mtime (ns); it is used only while they match,
    else the outcomes are computed again (:func:`read_outcomes`) and the cache rewritten. The
    group leader fills it right after a run, so the pore statistics of a large sweep are
    computed in parallel rather than by rank 0 at the end.
    """
    result, cache = plan.result_path(run), plan.outcomes_path(run)
    stat = result.stat()
    stamp = {"result_size": stat.st_size, "result_mtime_ns": stat.st_mtime_ns}
    try:
        cached = json.loads(cache.read_text())
        if {k: cached.get(k) for k in stamp} == stamp and set(cached["outcomes"]) == set(OUTCOMES):
            return {k: float(v) for k, v in cached["outcomes"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    outcomes = read_outcomes(result, run.cfg, log)
    try:
        _write_if_changed(cache, json.dumps({**stamp, "outcomes": outcomes}, indent=1))
    except OSError as exc:
        log(f"note: cannot write {cache} ({exc})")
    return outcomes


def index_rows(plan: SweepPlan, log=print) -> list:
    """One dict per run: its state on disk and, when done, its outcomes."""
    rows = []
    for run in plan.runs:
        state = run_state(plan, run)
        outcomes = {name: math.nan for name in OUTCOMES}
        if state.status == "done":
            try:
                outcomes = run_outcomes(plan, run, log)
            except Exception as exc:  # an unreadable result stays in the index, marked
                log(f"note: {plan.result_path(run)}: outcomes unreadable ({exc})")
        rows.append({"run": run, "state": state, "outcomes": outcomes})
    return rows


def write_index(plan: SweepPlan, rows: list | None = None, log=print) -> Path:
    """Write ``OUTDIR/index.h5`` (layout in the module docstring) atomically; return it."""
    import h5py

    import mcsim

    rows = index_rows(plan, log) if rows is None else rows
    path = plan.index_path
    tmp = Path(str(path) + ".partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    counts = {s: sum(r["state"].status == s for r in rows) for s in ("done", "failed", "pending")}
    strings = h5py.string_dtype()
    with h5py.File(tmp, "w") as f:
        attrs = {
            "format": "mcsim-sweep-index", "format_version": INDEX_FORMAT_VERSION,
            "mcsim_version": mcsim.__version__, "sweep_file": str(plan.path),
            "output_dir": str(plan.output_dir),
            "base_config": str(plan.base) if plan.base else "built-in default",
            "sweep_seed": np.int64(plan.seed), "replicas": np.int64(plan.replicas),
            "ranks_per_run": np.int64(plan.ranks_per_run),
            "common_seeds": np.bool_(plan.common_seeds), "n_runs": np.int64(len(rows)),
            **{f"n_{s}": np.int64(n) for s, n in counts.items()},
        }
        for key, value in attrs.items():
            f.attrs[key] = value
        f.attrs["swept_keys"] = np.array(plan.swept_keys, dtype=strings)
        f.attrs["outcomes"] = np.array(list(OUTCOMES), dtype=strings)
        f.create_dataset("sweep_toml", data=plan.text, dtype=h5py.string_dtype("utf-8"))
        g = f.create_group("runs")
        runs = [r["run"] for r in rows]
        states = [r["state"] for r in rows]
        g["run_id"] = np.array([r.run_id for r in runs], dtype=np.int64)
        g["point"] = np.array([r.point for r in runs], dtype=np.int64)
        g["replica"] = np.array([r.replica for r in runs], dtype=np.int64)
        g["seed"] = np.array([r.seed for r in runs], dtype=np.int64)
        g.create_dataset("status", data=[s.status for s in states], dtype=strings)
        g.create_dataset("error", data=[s.error for s in states], dtype=strings)
        g["wall_time_s"] = np.array([s.wall_time_s for s in states], dtype=np.float64)
        g.create_dataset("result", data=[plan.result_path(r).name for r in runs], dtype=strings)
        p = f.create_group("params")
        where = {**{k: "grid" for k in plan.grid}, **{k: "zip" for k in plan.zipped}}
        for key in plan.swept_keys:
            dset = p.create_dataset(key, data=_column([r.values[key] for r in runs]))
            dset.attrs["description"] = f"swept key {key} (from [{where[key]}])"
        o = f.create_group("outcomes")
        for name, text in OUTCOMES.items():
            dset = o.create_dataset(name, data=np.array([r["outcomes"][name] for r in rows],
                                                        dtype=np.float64))
            dset.attrs["description"] = text
    os.replace(tmp, path)
    return path


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
    from mcsim.engine import Simulation

    return Simulation


def _write_if_changed(path: Path, text: str) -> None:
    if path.is_file() and path.read_text() == text:
        return
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


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


def _prepare(plan: SweepPlan, say) -> list:
    """Create OUTDIR, write every run's configuration, and return the runs to do."""
    plan.output_dir.mkdir(parents=True, exist_ok=True)
    todo = []
    for run in plan.runs:
        _write_if_changed(plan.config_path(run), _config.to_toml(run.cfg))
        state = run_state(plan, run)
        if state.status != "done":
            if state.error and state.status == "pending":
                say(f"note: run {run.run_id}: {state.error}")
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


def run_sweep(plan: SweepPlan, comm=None, say=print) -> int:
    """Run every run of ``plan`` not yet done; write the index; return the exit status.

    Parameters
    ----------
    plan : SweepPlan
        A validated sweep (:func:`load_sweep`).
    comm : mpi4py communicator, optional
        ``COMM_WORLD`` of the sweep; None or one rank: the runs are done in order here.
    say : callable
        Receives the progress and summary lines.
    """
    size = comm.Get_size() if comm is not None else 1
    rank = comm.Get_rank() if comm is not None else 0
    stop = _StopState()
    previous = _install_stop_handler(stop)
    try:
        if size == 1:
            group_layout(1, plan.ranks_per_run)
            check_comm_support(plan.ranks_per_run, _simulation_class())
            todo = _prepare(plan, say)
            say(f"sweep {plan.path}: {len(plan.runs)} runs, {len(todo)} to do, one rank")
            records = []
            for run_id in todo:
                if stop.requested:
                    break
                records.append(execute_run(plan, plan.runs[run_id], stop, say=say))
            rows = index_rows(plan, say)
            write_index(plan, rows, say)
            return _summary(plan, rows, len(todo), records, say)
        return _run_parallel(plan, comm, stop, say)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run_parallel(plan: SweepPlan, world, stop: _StopState, say) -> int:
    from mpi4py import MPI

    size, rank = world.Get_size(), world.Get_rank()
    setup = None
    if rank == 0:
        try:
            n_groups, idle = group_layout(size, plan.ranks_per_run)
            check_comm_support(plan.ranks_per_run, _simulation_class())
            todo = _prepare(plan, say)
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


# -- command line --------------------------------------------------------------------------

def add_arguments(parser) -> None:
    """Options of ``mcsim sweep``."""
    parser.add_argument("sweep", metavar="SWEEP.toml", help="sweep file")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate and list the runs (with their state on disk); run nothing")
    parser.add_argument("--index-only", action="store_true",
                        help="only (re)write OUTDIR/index.h5 from the files there")
    parser.add_argument("-o", "--output-dir", metavar="DIR", default=None,
                        help="output folder (overrides sweep.output_dir)")


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
        note = f" ({state.error})" if state.error else ""
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
        plan = load_sweep(args.sweep, args.output_dir)
    except ConfigError:
        if rank != 0:
            return 2
        raise
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
    return run_sweep(plan, comm, say)


if __name__ == "__main__":  # pragma: no cover - use ``mcsim sweep``
    sys.exit("use: mcsim sweep SWEEP.toml")
