"""Run configuration: TOML schema with defaults, validation before any work, and TOML output.

Validation also runs the checks of the lower layers a configuration feeds (the schedule, the
particle generator's arguments, the process choices, the limits on the output's size), so a
bad configuration is refused before any work starts; none of those modules imports this one.
"""

from __future__ import annotations

import copy
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from mcsim import params as _params
from mcsim.errors import ConfigError
from mcsim.generator.arguments import check_arguments as _check_generator_arguments
from mcsim.processes import check_process_choices
from mcsim.processes.restructure import REFERENCE_VOXEL_NM
from mcsim.schedule import Schedule


@dataclass(frozen=True)
class Key:
    """Schema entry of one scalar (or list) configuration key.

    ``kind`` is one of "int", "float", "str", "bool", "float_list"; ``lo``/``hi`` are inclusive
    bounds for numbers (and for every element of a list); ``choices`` limits strings.
    """

    kind: str
    default: object
    doc: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple | None = None

    def allowed(self) -> str:
        """A phrase saying what values are allowed."""
        if self.choices:
            return "must be one of " + ", ".join(repr(c) for c in self.choices)
        kind = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false",
                "float_list": "a list of numbers"}[self.kind]
        if self.lo is not None or self.hi is not None:
            lo = "-inf" if self.lo is None else _bound(self.lo, self.kind)
            hi = "inf" if self.hi is None else _bound(self.hi, self.kind)
            return f"must be {kind} in [{lo}, {hi}]"
        return f"must be {kind}"


def _bound(value, kind: str) -> str:
    """A range bound as a user reads it: integers whole (2**63 - 1, not 9.22337e+18)."""
    if kind == "int" and float(value).is_integer():
        v = int(value)
        return "2**63 - 1" if v == 2 ** 63 - 1 else str(v)
    return f"{value:g}"


SCHEDULE_PRESETS = ("R-NCM", "TS-NCM", "quasi-equilibrium", "interrupted", "ramp", "custom")

#: The schema. Sections are dicts of Key; "schedule", "model.overrides" and
#: "model.processes" have extra rules checked in :func:`validate`.
SCHEMA: dict = {
    "seed": Key("int", 1, "seed of every random stream of the run (counter-based, see mcsim.rng)",
                lo=0, hi=2**63 - 1),
    "particle": {
        # Default geometry: 10 nm voxels resolve a 40 nm thick primary grain by 4 voxels; a
        # 0.6 um radius (three grain lengths) keeps the default box near 154^3 (3.7e6 voxels,
        # about 70 MB) so the default run is short on a laptop. The cost of a run grows as
        # R^3 (voxels) times R^2 (transport sub-steps for the same r/R timing): clusters go to
        # 10^9 voxels (radius 5 um).
        "radius_um": Key("float", 0.6, "radius of the secondary particle", lo=0.05, hi=20.0),
        "voxel_nm": Key("float", 10.0, "edge of one cubic voxel", lo=0.5, hi=1000.0),
        "porosity": Key("float", 0.25, "intergranular porosity inside the particle", lo=0.0, hi=0.6),
        "grain_length_nm": Key("float", 200.0, "primary grain length (radial axis)", lo=1.0, hi=1e5),
        "grain_width_nm": Key("float", 100.0, "primary grain width (tangential)", lo=1.0, hi=1e5),
        "grain_thickness_nm": Key("float", 40.0, "primary grain thickness (plate normal)", lo=1.0, hi=1e5),
        "size_cv": Key("float", 0.2, "coefficient of variation of grain size (lognormal)", lo=0.0, hi=0.4),
    },
    "lithium": {
        "source": Key("str", "LiOH", "lithium source compound", choices=("LiOH", "Li2CO3")),
        "li_to_tm": Key("float", 1.05, "Li:TM molar ratio of the mixture", lo=0.01, hi=3.0),
        "placement": Key("str", "particles", "source particles around the particle, or a uniform shell",
                         choices=("particles", "shell")),
        "source_diameter_nm": Key("float", 150.0, "diameter of one source particle", lo=1.0, hi=1e5),
    },
    "schedule": {
        "preset": Key("str", "R-NCM", "heating schedule preset, or 'custom' with [[schedule.steps]]",
                      choices=SCHEDULE_PRESETS),
        "start_c": Key("float", 25.0, "furnace temperature at t = 0", lo=-273.15, hi=2000.0),
        # Preset options: only passed on when given (each preset states its own defaults).
        "ramp_c_per_min": Key("float", None, "heating rate of the preset", lo=1e-6, hi=1000.0),
        "cool_c_per_min": Key("float", None, "cooling rate at the end of R-NCM / TS-NCM",
                              lo=1e-6, hi=1000.0),
        "peak_c": Key("float", None, "R-NCM / TS-NCM: sintering temperature", lo=-273.15, hi=2000.0),
        "peak_hold_min": Key("float", None, "TS-NCM: duration of the sintering hold", lo=0.0, hi=1e6),
        "hold_c": Key("float", None, "TS-NCM: low-temperature hold", lo=-273.15, hi=2000.0),
        "hold_min": Key("float", None, "R-NCM: sintering hold; TS-NCM: low-temperature hold", lo=0.0, hi=1e6),
        "quench_at_c": Key("float", None, "interrupted: temperature of the quench", lo=-273.15, hi=2000.0),
        "to_c": Key("float", None, "ramp: final temperature", lo=-273.15, hi=2000.0),
        "relax_min": Key("float", None, "quasi-equilibrium: relaxation at each step", lo=0.0, hi=1e6),
        "step_temperatures_c": Key("float_list", None, "quasi-equilibrium: measuring temperatures",
                                   lo=-273.15, hi=2000.0),
    },
    "model": {
        "parameter_set": Key("str", "ncm622-lioh", "named model parameter set (mcsim.params)",
                             choices=tuple(_params.PARAMETER_SETS)),
    },
    "output": {
        "snapshot_temperatures_c": Key(
            "float_list", [100.0, 200.0, 250.0, 300.0, 500.0, 700.0, 850.0],
            "snapshot at the end of the first step that reaches each temperature (the paper's "
            "interrupted-ramp samples; within one step's temperature change, numerics."
            "max_temperature_step_c, above it on a ramp; no step is cut for output, so output "
            "never changes the run)", lo=-273.15, hi=2000.0),
        "snapshot_times_min": Key("float_list", [], "snapshots at the end of the first step that "
                                  "reaches each of these times", lo=0.0, hi=1e7),
        "final_snapshot": Key("bool", True, "write a snapshot at the end of the schedule"),
        "pore_statistics": Key("bool", True, "pore and grain statistics (/pores, /pore_series) "
                               "at every snapshot; on several MPI ranks each rank analyses a slab "
                               "of the particle and nothing is gathered"),
        "local_thickness": Key("str", "mcsim", "local-thickness convention of /pores: 'mcsim' (the "
                               "diameter of the largest ball that fits, in voxels) or 'porespy' "
                               "(PoreSpy's integer sphere radius r, binned as 2r)",
                               choices=("mcsim", "porespy")),
        "timeseries_interval_s": Key("float", 60.0, "simulated time between timeseries rows (each "
                                     "at the end of the first step that reaches its time, at "
                                     "most one per step; no step is cut for a row)",
                                     lo=1e-6, hi=1e7),
        "log_interval_s": Key("float", 30.0, "wall time between progress log lines in batch jobs",
                              lo=0.1, hi=1e5),
        # checkpoint/restart (mcsim.checkpoint); they change when checkpoints are written,
        # never the results
        "checkpoint_interval_wall_s": Key("float", 0.0, "wall time between checkpoints (0: off)",
                                          lo=0.0, hi=1e7),
        "checkpoint_interval_sim_min": Key("float", 0.0,
                                           "simulated time between checkpoints (0: off)",
                                           lo=0.0, hi=1e7),
        "checkpoint_path": Key("str", "", "checkpoint directory ('': the result path with the "
                               "suffix .ckpt)"),
    },
    "numerics": {
        "dt_max_s": Key("float", 60.0, "largest time step", lo=1e-9, hi=1e5),
        "max_temperature_step_c": Key("float", 1.0, "largest temperature change in one step",
                                      lo=1e-3, hi=100.0),
        "max_event_probability": Key("float", 0.1, "largest per-voxel event probability in one step; "
                                     "bounds the time-discretisation error of the stochastic kernels",
                                     lo=1e-4, hi=1.0),
        "threads": Key("int", 0, "Numba threads per rank (0: all cores of the machine)", lo=0, hi=4096),
    },
}

STEP_KEYS = ("ramp_c_per_min", "cool_c_per_min", "hold_min", "quench_to_c", "to_c")


def _type_ok(kind: str, value) -> bool:
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "float_list":
        return isinstance(value, list) and all(_type_ok("float", v) for v in value)
    raise AssertionError(kind)


def _check_key(dotted: str, spec: Key, value):
    if not _type_ok(spec.kind, value):
        raise ConfigError(dotted, value, spec.allowed())
    items = value if spec.kind == "float_list" else [value]
    for v in items:
        if spec.kind in ("int", "float", "float_list"):
            if isinstance(v, float) and not math.isfinite(v):
                raise ConfigError(dotted, value, spec.allowed())
            if (spec.lo is not None and v < spec.lo) or (spec.hi is not None and v > spec.hi):
                raise ConfigError(dotted, value, spec.allowed())
        if spec.choices and v not in spec.choices:
            raise ConfigError(dotted, value, spec.allowed())
    if spec.kind == "float":
        return float(value)
    if spec.kind == "float_list":
        return [float(v) for v in value]
    return value


def check_value(dotted: str, value, *, shown_as: str | None = None):
    """Check one value against the schema key ``dotted`` (e.g. ``"numerics.threads"``);
    return it normalised, or raise ConfigError naming ``shown_as`` (default: the key)."""
    section, _, key = dotted.partition(".")
    spec = SCHEMA[section][key] if key else SCHEMA[section]
    return _check_key(shown_as or dotted, spec, value)


def defaults() -> dict:
    """The built-in default configuration (preset options left out)."""
    out: dict = {}
    for name, spec in SCHEMA.items():
        if isinstance(spec, Key):
            out[name] = copy.deepcopy(spec.default)
        else:
            out[name] = {k: copy.deepcopy(s.default) for k, s in spec.items() if s.default is not None}
    out["model"]["overrides"] = {}
    out["model"]["processes"] = {}
    return out


def _merge(base: dict, user: dict, prefix: str = "") -> dict:
    """Merge ``user`` into ``base``; unknown keys raise ConfigError."""
    out = copy.deepcopy(base)
    for key, value in user.items():
        dotted = f"{prefix}{key}"
        if prefix == "" and key not in SCHEMA:
            raise ConfigError(dotted, value, f"unknown key; allowed top-level keys: {', '.join(SCHEMA)}")
        spec = SCHEMA.get(key) if prefix == "" else None
        if prefix == "" and isinstance(spec, dict):
            if not isinstance(value, dict):
                raise ConfigError(dotted, value, "must be a table")
            section = out.setdefault(key, {})
            for k, v in value.items():
                if key == "model" and k in ("overrides", "processes"):
                    if not isinstance(v, dict):
                        raise ConfigError(f"model.{k}", v, "must be a table")
                    section[k] = dict(v)
                elif key == "schedule" and k == "steps":
                    section[k] = copy.deepcopy(v)
                elif k not in spec:
                    extra = ["overrides", "processes"] if key == "model" else (
                        ["steps"] if key == "schedule" else [])
                    raise ConfigError(f"{key}.{k}", v,
                                      f"unknown key; allowed: {', '.join(list(spec) + extra)}")
                else:
                    section[k] = v
        else:
            out[key] = value
    if prefix == "" and "parameter_set" not in (user.get("model") or {}):
        # the parameter set follows the lithium source unless the user names one
        source = out.get("lithium", {}).get("source")
        out["model"]["parameter_set"] = _params.SOURCE_PARAMETER_SETS.get(
            source, out["model"]["parameter_set"])
    return out


def validate(cfg: dict) -> dict:
    """Check every key of a merged configuration; return it with types normalised.

    Also builds the schedule and the model parameters once, so that an inconsistent schedule
    or an unknown parameter override is reported here, before any work starts.
    """
    out: dict = {}
    for name, spec in SCHEMA.items():
        if isinstance(spec, Key):
            out[name] = _check_key(name, spec, cfg[name])
            continue
        section = cfg.get(name, {})
        out[name] = {}
        for k, v in section.items():
            if k in spec:
                out[name][k] = _check_key(f"{name}.{k}", spec[k], v)
            else:
                out[name][k] = v
    # schedule: steps only with 'custom', preset options checked by the schedule itself
    sched = out["schedule"]
    if sched["preset"] == "custom":
        if "steps" not in sched:
            raise ConfigError("schedule.steps", None, "required when schedule.preset = 'custom': "
                              "a list of [[schedule.steps]] tables")
    elif "steps" in sched:
        raise ConfigError("schedule.steps", sched["steps"],
                          "only allowed with schedule.preset = 'custom'")
    if "steps" in sched and not (isinstance(sched["steps"], list)
                                 and all(isinstance(s, dict) for s in sched["steps"])):
        raise ConfigError("schedule.steps", sched["steps"], "must be a list of tables")
    schedule = build_schedule(out)
    # output: bounded numbers of time-series rows and snapshots
    check_output_limits(out, schedule)
    # particle: the generator's own cross-checks (grain sizes against the voxel, ...) now,
    # before any work, rather than when the run starts
    _check_generator_arguments(**generator_kwargs(out))
    # model: the parameter set must be the one of the lithium source (its release kinetics
    # and enthalpies are those of that compound)
    source, pset = out["lithium"]["source"], out["model"]["parameter_set"]
    wanted = _params.SOURCE_PARAMETER_SETS.get(source)
    if wanted is not None and _params.PARAMETER_SET_SOURCES.get(pset) not in (None, source):
        raise ConfigError("model.parameter_set", pset,
                          f"is the parameter set of {_params.PARAMETER_SET_SOURCES[pset]}, but "
                          f"lithium.source = {source!r}: use {wanted!r}, or leave "
                          "model.parameter_set out to have it chosen from lithium.source")
    _params.resolve(out["model"]["parameter_set"], out["model"].get("overrides"))
    check_process_choices(out["model"].get("processes", {}))
    # output: snapshot temperatures must be reached by the schedule (else the user is told)
    return out


def build_schedule(cfg: dict) -> Schedule:
    """The :class:`mcsim.schedule.Schedule` of a validated configuration."""
    sched = cfg["schedule"]
    if sched["preset"] == "custom":
        return Schedule.from_steps(sched["start_c"], sched["steps"], key="schedule.steps")
    options = {k: v for k, v in sched.items() if k not in ("preset", "start_c", "steps")}
    return Schedule.preset(sched["preset"], start_c=sched["start_c"], **options)


def generator_kwargs(cfg: dict) -> dict:
    """Arguments of :func:`mcsim.generator.generate_agglomerate` from a configuration."""
    return dict(**cfg["particle"], li_source=cfg["lithium"]["source"],
                li_to_tm=cfg["lithium"]["li_to_tm"], placement=cfg["lithium"]["placement"],
                source_diameter_nm=cfg["lithium"]["source_diameter_nm"], seed=cfg["seed"])


# -- limits on the size of the output --------------------------------------------------------

#: Most time-series rows a run may ask for. Every row is a census and a radial profile of
#: the whole lattice (a full pass over it, on every rank) and about 1 kB in the file, so
#: 10^6 rows are already 10^6 extra lattice passes and a gigabyte of table: the R-NCM
#: schedule (about 18 h) at the default 60 s gives 1050 rows, at 1 s still 63 000.
MAX_TIMESERIES_ROWS = 10 ** 6
#: Most snapshots a run may ask for. A snapshot writes the whole lattice (12 B per voxel
#: before compression) and, by default, runs the pore statistics of the whole particle; the
#: paper's interrupted-ramp series has seven, and 1000 already make a default run's result
#: tens of gigabytes.
MAX_SNAPSHOTS = 1000


def snapshot_count(cfg: dict, schedule) -> int:
    """How many snapshots a run of ``cfg`` on ``schedule`` writes (the engine's rule: the
    temperatures the schedule reaches, the times within it and the end, one per instant)."""
    times = set()
    for temp_c in cfg["output"]["snapshot_temperatures_c"]:
        t_s = schedule.time_at_c(temp_c)
        if t_s is not None:
            times.add(float(t_s))
    for minutes in cfg["output"]["snapshot_times_min"]:
        if minutes * 60.0 <= schedule.duration_s:
            times.add(minutes * 60.0)
    if cfg["output"]["final_snapshot"]:
        times.add(schedule.duration_s)
    return len(times)


def voxel_note(cfg: dict) -> str | None:
    """A note for a run on another voxel than the calibration's 10 nm (None at 10 nm): the
    ripening and sintering rates (and the sintering's lattice temperatures) are scaled to the
    voxel, but the nanopores (single voxels) do not yet converge with the voxel
    (docs/validation.md, Voxel size)."""
    dx = float(cfg["particle"]["voxel_nm"])
    if dx == REFERENCE_VOXEL_NM:
        return None
    return (f"note: particle.voxel_nm = {dx:g} nm; the rates are calibrated at "
            f"{REFERENCE_VOXEL_NM:g} nm and scaled to the voxel, but the nanopores (one voxel "
            "each) are not yet independent of the voxel: halving it gave about ten times the "
            "nanopores of the particle, at half their diameter, while the central void and "
            "the porosity by mass agreed (see the docs' validation page, Voxel size)")


def check_output_limits(cfg: dict, schedule) -> None:
    """Raise :class:`ConfigError` when a run asks for more than :data:`MAX_TIMESERIES_ROWS`
    time-series rows or more than :data:`MAX_SNAPSHOTS` snapshots."""
    out = cfg["output"]
    interval_s = out["timeseries_interval_s"]
    rows = schedule.duration_s / interval_s
    if rows > MAX_TIMESERIES_ROWS:
        raise ConfigError("output.timeseries_interval_s", interval_s,
                          f"allowed: at least {schedule.duration_s / MAX_TIMESERIES_ROWS:.4g} s "
                          f"for this {schedule.duration_s / 60:.6g} min schedule (at most "
                          f"{MAX_TIMESERIES_ROWS:.0e} time-series rows; this gives {rows:.3g})")
    for key in ("snapshot_temperatures_c", "snapshot_times_min"):
        if len(out[key]) > MAX_SNAPSHOTS:
            raise ConfigError(f"output.{key}", f"a list of {len(out[key])} values",
                              f"allowed: at most {MAX_SNAPSHOTS} snapshots in all")
    count = snapshot_count(cfg, schedule)
    if count > MAX_SNAPSHOTS:
        raise ConfigError("output.snapshot_times_min",
                          f"a list of {len(out['snapshot_times_min'])} values",
                          f"allowed: at most {MAX_SNAPSHOTS} snapshots in all (with "
                          f"output.snapshot_temperatures_c and the final one: {count})")


#: How deep tables and arrays may nest in a configuration (the schema needs 3: a table of
#: schedule steps inside a list); deeper input is refused before it can exhaust the stack.
MAX_NESTING = 16


def _depth(value, level: int = 0) -> int:
    """How deeply dicts and lists nest in ``value`` (0 for a scalar), stopping past the
    limit."""
    if level > MAX_NESTING or not isinstance(value, (dict, list)):
        return level
    items = value.values() if isinstance(value, dict) else value
    return max((_depth(v, level + 1) for v in items), default=level + 1)


def read_toml_text(path, key: str = "CONFIG") -> tuple[str, dict]:
    """Read a TOML file (a configuration, a sweep file) as (text, document), or raise one
    ConfigError under ``key`` saying why it cannot be (not found, not UTF-8, not TOML,
    nested too deeply)."""
    p = Path(path)
    if p.is_dir():
        raise ConfigError(key, str(path), "is a directory, not a TOML file")
    if not p.exists():
        raise ConfigError(key, str(path), "file not found")
    if not p.is_file():
        raise ConfigError(key, str(path), "is not a regular file (a device or a pipe?)")
    try:
        text = p.read_text(encoding="utf-8")
        if text.startswith("\ufeff"):  # a byte-order mark some editors write: not TOML
            raise ConfigError(key, str(path), "starts with a UTF-8 byte-order mark, which TOML "
                                              "does not allow; save it as UTF-8 without BOM")
        doc = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise ConfigError(key, str(path), f"is not UTF-8 text ({exc.reason} at byte "
                                          f"{exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(key, str(path), f"is not valid TOML: {exc}") from None
    except RecursionError:
        doc = None
    except OSError as exc:
        raise ConfigError(key, str(path), f"cannot be read ({exc.strerror})") from None
    if doc is None or _depth(doc) > MAX_NESTING:
        raise ConfigError(key, str(path), f"nests tables or arrays more than {MAX_NESTING} "
                                          "deep")
    return text, doc


def read_toml(path) -> dict:
    """Read a configuration file (:func:`read_toml_text` under the key ``CONFIG``)."""
    return read_toml_text(path)[1]


def parse_set(assignment: str) -> tuple[list[str], object]:
    """Parse one ``--set section.key=value`` into (path, value); the value is read as TOML."""
    if "\n" in assignment or "\r" in assignment or "\x00" in assignment:
        raise ConfigError("--set", assignment, "must be one line (no newline, carriage return "
                                               "or NUL in the key or the value)")
    if "=" not in assignment:
        raise ConfigError("--set", assignment, "must look like section.key=value")
    key, text = assignment.split("=", 1)
    key = key.strip()
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()  # a bare word: take it as a string
    except RecursionError:
        value = None
    if value is None or _depth(value) > MAX_NESTING:
        raise ConfigError("--set", assignment, f"value nests arrays or tables more than "
                                               f"{MAX_NESTING} deep")
    path = key.split(".")
    if not all(path):
        raise ConfigError("--set", assignment, "key must be a dotted name such as particle.radius_um")
    return path, value


def load(path: str | Path | None = None, sets: list[str] | tuple = ()) -> dict:
    """Load, merge with defaults, apply ``--set`` overrides, and validate.

    Parameters
    ----------
    path
        A TOML file, or None for the built-in default.
    sets
        ``section.key=value`` strings applied after the file.
    """
    user: dict = {}
    if path is not None:
        user = read_toml(path)
    for assignment in sets:
        keys, value = parse_set(assignment)
        node = user
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ConfigError("--set", assignment, f"{k} is not a table")
        node[keys[-1]] = value
    return from_dict(user)


def from_dict(user: dict) -> dict:
    """A user's configuration document (as read from TOML) merged with the defaults and
    validated: what :func:`load` returns for a file holding ``user``."""
    return validate(_merge(defaults(), user))


def to_toml(cfg: dict) -> str:
    """The resolved configuration as TOML text (readable back by :func:`load`)."""
    return tomli_w.dumps(cfg)
