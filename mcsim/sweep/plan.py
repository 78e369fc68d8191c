"""The sweep file: reading and validating it, the list of runs, their seeds.

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
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import math
from pathlib import Path

import numpy as np

from mcsim import config as _config
from mcsim import resources as _resources
from mcsim.errors import ConfigError
from mcsim.io.safepath import UnsafePathError, inside

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


def load_sweep(path, output_dir=None, sets=()) -> SweepPlan:
    """Read and validate a sweep file; every run's configuration is validated.

    Parameters
    ----------
    path : str or os.PathLike
        The sweep file (TOML).
    output_dir : str or os.PathLike, optional
        Overrides ``sweep.output_dir``.
    sets : sequence of str, optional
        ``section.key=value`` assignments (``mcsim sweep --set``) applied to every run after
        the file's ``[set]`` table, e.g. a smaller particle for a trial of the same sweep. A
        key that the file sweeps in ``[grid]`` or ``[zip]`` is refused.

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
    for assignment in sets:
        dotted, value = _config.parse_set(assignment)
        key = ".".join(dotted)
        _check_config_key("--set", key, value)
        if key in grid or key in zipped:
            raise ConfigError("--set", assignment, f"{key} is swept by the file's "
                                                   f"[{'grid' if key in grid else 'zip'}]; "
                                                   "--set may only fix keys the sweep does not vary")
        fixed[key] = value
        seen[key] = "--set"
    for where, table in (("set", fixed), ("grid", grid), ("zip", zipped)):
        for key, value in table.items():
            if seen.get(key) == "--set":
                continue  # checked above; it replaces the file's [set] value
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
            cfg = _config.from_dict(point_user)
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

