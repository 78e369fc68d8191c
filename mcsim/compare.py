"""``mcsim compare``: the conventional (R-NCM) and the two-step (TS-NCM) calcination of one
particle, side by side.

The paper's central comparison (Fig. 3 and Fig. 4b-e of Park et al., Nat. Chem. 2022): the
same secondary particle, same seed, calcined on the conventional schedule (5 C/min to 850 C,
12 h) and on the two-step one (hold 6 h at 250 C first, so that lithiation wins over
dehydration everywhere). R-NCM should end with intragranular nanopores concentrated in the
core and intergranular voids near the centre, TS-NCM denser with few nanopores. This module
runs (or reads) the two results and tabulates, with the difference (B - A) and ratio (B / A),
the final transition-metal phase shares, the porosity by pore voxels, by mass (from the
voxels' amounts) and their difference (the sub-voxel porosity), nanopore density in the core
and shell, the central pore fraction (void-class pore voxels within r < 0.3 R, however
narrow) and the central void opened since the particle was generated (the growth of the
voids at least 30 nm wide there), internal pore surface, mean grain size, the nanopore and
void counts, and the history behind them (the share of the TM that ever went through rock
salt, the vacancies annihilated in densification and how many of them stayed inside) -- all
read back from the result files (the final ``/pores/NNNN`` group and
``/timeseries``, see ``mcsim/io/SCHEMA.md``) -- and draws :mod:`mcsim.figures.compare_runs`.
A result written before schema 3.0 holds ``central_void_fraction``: it is read as the
central pore fraction, and the porosity by mass and the central void opened are NaN unless
computed from the last snapshot (then without the reference: the opened void stays NaN).

Configurations
--------------
``mcsim compare [--config BASE.toml] [--set KEY=VALUE ...] [--seed N]`` builds two
configurations from one base (the built-in default when no file is given): everything but the
schedule is shared, ``schedule.preset`` is ``R-NCM`` for run A and ``TS-NCM`` for run B.

* Schedule options of the base file (``hold_min``, ``peak_c``, ...) apply only to the run
  whose preset the file names (a base written for R-NCM leaves TS-NCM on its own preset
  defaults; a base for another preset leaves both on their defaults); ``schedule.start_c``
  applies to both; ``schedule.steps`` to neither.
* A schedule option given with ``--set`` applies to every one of the two presets that has
  it (``--set schedule.peak_c=800`` changes both, ``--set schedule.hold_c=200`` only
  TS-NCM); one that neither preset has is a configuration error, and so is
  ``--set schedule.preset``.
* ``--seed N`` sets ``seed`` (the particle and every random stream) of both runs.

Runs and reuse
--------------
The runs execute one after the other in this process (each :class:`mcsim.engine.Simulation`
uses the configured ``numerics.threads``) and write ``DIR/r-ncm.h5`` and ``DIR/ts-ncm.h5``.
With ``--reuse`` a complete result already at that path is read instead of rerun when its
stored ``/config`` equals the requested one (apart from the keys that never change results,
:data:`mcsim.sweep.NON_RESULT_KEYS`: threads, log and checkpoint settings) and it holds pore
statistics. ``--results A.h5 B.h5`` compares two finished results instead (any two runs);
an unfinished or unreadable file is refused before anything is written.

Outputs: the table on standard output, ``--json FILE`` (the same numbers, machine-readable)
and the figure ``DIR/compare.png`` + ``.pdf`` (``--no-figure`` to skip it).

Several pairs
-------------
``--seeds 1,2,3`` runs one pair per seed, each in ``DIR/seed-N`` (every configuration and
every output path is checked before the first run), and ``--results A1 B1 A2 B2 ...`` reads
several finished pairs (figures ``DIR/compare-K.png``). The table then has one line per pair
with B / A of the four quantities the paper's R-NCM/TS-NCM findings are about
(:data:`FINDINGS`: porosity by pore voxels and by mass, core nanopore density, central void
opened), their mean and the findings themselves, and the core nanopore densities pooled over
the pairs with the interval their counts allow (:func:`pooled_core_nanopores`): a core holds a
few dozen nanopores, so one seed's ratio is mostly counting noise. ``mcsim validate`` is what
judges the findings; ``mcsim compare`` shows the numbers.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import tomllib
from pathlib import Path

import numpy as np

from mcsim import config, schedule
from mcsim.errors import ConfigError
from mcsim.io.info_summary import run_history
from mcsim.io.result import UnusableResultError, open_if_complete, open_result
from mcsim.plot import PlotError, load_script
from mcsim.pores import SCALARS, pore_statistics
from mcsim.sweep import NON_RESULT_KEYS

__all__ = ["RUNS", "ROWS", "preset_configs", "read_summary", "compare_summaries",
           "format_table", "to_json", "run_pair", "add_arguments", "main", "CompareError"]

#: (file stem, schedule preset) of run A and run B.
RUNS = (("r-ncm", "R-NCM"), ("ts-ncm", "TS-NCM"))

#: Table rows: (key in the summary, label, units).
ROWS = (
    ("final_hydroxide", "TM share in TM(OH)2 (final)", "1"),
    ("final_rocksalt", "TM share in rock salt (final)", "1"),
    ("final_layered", "TM share in layered (final)", "1"),
    ("porosity", "porosity by pore voxels (outline, r <= R)", "1"),
    ("mass_porosity", "porosity by mass (1 - solid from amounts)", "1"),
    ("subvoxel_porosity", "sub-voxel porosity (by mass - by voxels)", "1"),
    ("nanopore_fraction", "nanopore volume fraction", "1"),
    ("void_fraction", "void volume fraction", "1"),
    ("nanopore_density_core_per_um3", "nanopore density, core r/R < 0.5", "1/um^3"),
    ("nanopore_density_shell_per_um3", "nanopore density, shell r/R >= 0.7", "1/um^3"),
    ("nanopore_count_core", "nanopores counted in the core (density's basis)", "1"),
    ("nanopore_count_shell", "nanopores counted in the shell", "1"),
    ("central_pore_fraction", "central pore fraction r/R < 0.3, any width", "1"),
    ("central_void_opened", "central void opened r/R < 0.3, >= 30 nm", "1"),
    ("internal_surface_per_um", "internal surface / solid volume", "1/um"),
    ("mean_grain_nm", "mean grain size (equiv. diameter)", "nm"),
    ("nanopore_count", "nanopores (intragranular)", "1"),
    ("void_count", "voids (intergranular + open)", "1"),
    ("tm_dehydrated_share", "TM share ever dehydrated to rock salt", "1"),
    ("vacancies_annihilated", "vacancies annihilated (densification)", "1"),
    ("vacancies_inward", "of them kept inside the particle", "1"),
)

#: Rows of the two products at equal time in their peak hold (the shorter hold, read from the
#: time series), which tell a difference of path from one of hold length: (key, label with
#: the hours, column of the peak series).
EQUAL_TIME_ROWS = (
    ("porosity_equal_peak_time", "porosity by pore voxels, {h:.3g} h at the peak", 1),
    ("mass_porosity_equal_peak_time", "porosity by mass, {h:.3g} h at the peak", 2),
)

#: Name of the figure files in the output folder (``.png`` and ``.pdf``).
FIGURE_STEM = "compare"

_SCHEDULE_SHARED = ("start_c",)


class CompareError(Exception):
    """A result cannot be compared: missing, unfinished, unreadable or without the data."""


# ==========================================================================================
# configurations
# ==========================================================================================
def _preset_options(preset: str) -> tuple:
    """The options a schedule preset accepts (from :mod:`mcsim.schedule`)."""
    return tuple(schedule.PRESET_BUILDERS[preset][1])  # read-only use of the preset table


def _read_base(config_path) -> dict:
    if config_path is None:
        return {}
    p = Path(config_path)
    if not p.is_file():
        raise ConfigError("--config", str(config_path), "file not found")
    try:
        return tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("--config", str(config_path), f"is not valid TOML: {exc}") from None


def _assign(user: dict, keys: list, value, assignment: str) -> None:
    node = user
    for k in keys[:-1]:
        node = node.setdefault(k, {})
        if not isinstance(node, dict):
            raise ConfigError("--set", assignment, f"{k} is not a table")
    node[keys[-1]] = value


def preset_configs(config_path=None, sets=(), seed: int | None = None,
                   threads: int | None = None) -> dict:
    """The validated configurations of the two runs, keyed by file stem (``r-ncm``, ``ts-ncm``).

    Parameters
    ----------
    config_path : str or os.PathLike, optional
        Base configuration (TOML); the built-in default when None.
    sets : sequence of str
        ``section.key=value`` overrides (values read as TOML), applied to both runs; schedule
        options only to the presets that have them (see the module docstring).
    seed : int, optional
        Seed of both runs (overrides the base and ``--set seed``).
    threads : int, optional
        ``numerics.threads`` of both runs.

    Returns
    -------
    dict
        ``{"r-ncm": cfg_a, "ts-ncm": cfg_b}``, each validated by :func:`mcsim.config.validate`.

    Raises
    ------
    ConfigError
        A bad base file or override (named by its key), ``--set schedule.preset``, or a
        schedule option neither preset accepts.
    """
    user = _read_base(config_path)
    base_sched = user.pop("schedule", {})
    if not isinstance(base_sched, dict):
        raise ConfigError("schedule", base_sched, "must be a table")
    base_preset = base_sched.get("preset", config.SCHEMA["schedule"]["preset"].default)
    set_sched: dict = {}
    for assignment in sets:
        keys, value = config.parse_set(assignment)
        if keys[0] == "schedule":
            if len(keys) != 2:
                raise ConfigError("--set", assignment, "schedule options are plain keys, "
                                  "e.g. schedule.hold_c=200")
            if keys[1] == "preset":
                raise ConfigError("schedule.preset", value, "is chosen by mcsim compare "
                                  "(R-NCM and TS-NCM); leave it out")
            if keys[1] == "steps":
                raise ConfigError("schedule.steps", value, "not allowed: mcsim compare runs "
                                  "the R-NCM and TS-NCM presets")
            set_sched[keys[1]] = value
        else:
            _assign(user, keys, value, assignment)
    if seed is not None:
        if not (isinstance(seed, int) and seed >= 0):
            raise ConfigError("--seed", seed, "must be an integer >= 0")
        user["seed"] = seed
    if threads is not None:
        user.setdefault("numerics", {})["threads"] = threads
    options = {preset: _preset_options(preset) for _, preset in RUNS}
    for key, value in set_sched.items():
        if key not in _SCHEDULE_SHARED and not any(key in opts for opts in options.values()):
            allowed = sorted({*_SCHEDULE_SHARED, *(o for opts in options.values() for o in opts)})
            raise ConfigError(f"schedule.{key}", value,
                              f"is an option of neither R-NCM nor TS-NCM; allowed: "
                              f"{', '.join(allowed)}")
    out = {}
    for stem, preset in RUNS:
        sched = {"preset": preset}
        for key, value in base_sched.items():
            if key in _SCHEDULE_SHARED or (base_preset == preset and key in options[preset]):
                sched[key] = value
        for key, value in set_sched.items():
            if key in _SCHEDULE_SHARED or key in options[preset]:
                sched[key] = value
        run_user = copy.deepcopy(user)
        run_user["schedule"] = sched
        out[stem] = config.from_dict(run_user)
    return out


# ==========================================================================================
# reading results
# ==========================================================================================
def _final_pores(f) -> tuple[dict, str]:
    """Scalars of the final pore statistics and where they came from."""
    names = (*SCALARS, "pore_count", "intergranular_count", "open_count")
    pores = f.get("pores")
    keys = sorted(k for k in pores if k.isdigit()) if pores is not None else []
    if keys:
        g = pores[keys[-1]]
        out = {n: float(g[n][()]) for n in names if n in g}
        if "central_pore_fraction" not in g and "central_void_fraction" in g:
            out["central_pore_fraction"] = float(g["central_void_fraction"][()])  # schema < 3
        return (out | {"pores_time_s": float(g.attrs.get("time_s", math.nan)),
                       "pores_label": str(g.attrs.get("label", keys[-1]))},
                f"/pores/{keys[-1]}")
    # results written before the pore statistics existed: compute them from the last snapshot
    snaps = f.get("snapshots")
    if snaps is None or not len(snaps) or "geometry" not in f:
        raise CompareError(f"{f.filename}: no /pores group and no snapshot to compute pore "
                           "statistics from")
    key = sorted(snaps)[-1]
    s = snaps[key]
    amount = s["amount"][()] if "amount" in s else None  # used-up sources count as pores
    stats = pore_statistics(s["phase"][()], s["grain"][()],
                            np.asarray(f["geometry/center_vox"][()], dtype=np.float64),
                            float(f["geometry/radius_vox"][()]), float(f.attrs["voxel_nm"]),
                            outline="tags", amount=amount)
    return ({n: float(stats[n]) for n in names}
            | {"pores_time_s": float(s.attrs.get("time_s", math.nan)),
               "pores_label": str(s.attrs.get("label", key))},
            f"computed from /snapshots/{key}")


def _core_volume(f, pores: dict) -> float:
    """The particle volume (um^3) the core nanopore density was counted over: count / density
    when both are positive, else the sphere r < R / 2 of the particle's radius (``/geometry``),
    NaN when neither is known."""
    n = pores.get("nanopore_count_core", math.nan)
    d = pores.get("nanopore_density_core_per_um3", math.nan)
    if n > 0 and d > 0 and math.isfinite(n) and math.isfinite(d):
        return float(n / d)
    try:
        r_um = float(f["geometry/radius_vox"][()]) * float(f.attrs["voxel_nm"]) * 1e-3
    except (KeyError, TypeError, ValueError):
        return math.nan
    return 4.0 / 3.0 * math.pi * (0.5 * r_um) ** 3


def read_summary(path) -> dict:
    """The final-state figures of one finished result file.

    Parameters
    ----------
    path : str or os.PathLike
        A complete result file.

    Returns
    -------
    dict
        ``path``, ``preset`` (``schedule.preset`` of its ``/config``), ``seed``,
        ``grid_shape``, ``end_time_s``, ``final_hydroxide`` / ``final_rocksalt`` /
        ``final_layered`` (last ``tm_phase_fraction`` row), every scalar of
        :data:`mcsim.pores.SCALARS` (plus ``pore_count``, ``intergranular_count``,
        ``open_count``) from the last ``/pores/NNNN`` group, ``pores_time_s``,
        ``pores_label``, ``pores_source`` (where the pore figures came from),
        ``core_volume_um3`` (the volume the core nanopore density was counted over) and the
        run's history (:func:`mcsim.io.info_summary.run_history`).

    Raises
    ------
    CompareError
        A missing, unfinished (``complete`` not true, or only a ``.partial``), unreadable
        file, or one without the time series.
    """
    try:
        f = open_result(path)
    except (UnusableResultError, FileNotFoundError) as exc:
        raise CompareError(str(exc)) from None
    with f:
        try:
            cfg = tomllib.loads(f["config"].asstr()[()])
            ts = f["timeseries"]
            tmf = np.asarray(ts["tm_phase_fraction"][-1], dtype=np.float64)
            end = float(ts["time_s"][-1])
        except (KeyError, IndexError, ValueError, tomllib.TOMLDecodeError) as exc:
            raise CompareError(f"{path}: cannot read /config or /timeseries ({exc})") from None
        pores, source = _final_pores(f)
        pores["core_volume_um3"] = _core_volume(f, pores)
        peak = _peak_series(ts)
        history = run_history(ts)
        out = {"path": str(path), "preset": str(cfg.get("schedule", {}).get("preset", "?")),
               "seed": int(f.attrs.get("seed", -1)),
               "grid_shape": [int(n) for n in f.attrs.get("grid_shape", [])],
               "end_time_s": end, "final_hydroxide": float(tmf[0]),
               "final_rocksalt": float(tmf[1]), "final_layered": float(tmf[2]),
               **pores, "pores_source": source, **peak, **history}
    return out


#: Temperatures within this of the schedule's highest (C) count as the peak hold.
PEAK_TOLERANCE_C = 0.5


def _peak_series(ts) -> dict:
    """``peak_c`` (the highest temperature of the time series), ``peak_hold_s`` (time from
    its first to its last row within :data:`PEAK_TOLERANCE_C` of it) and, under the private
    key ``_peak``, the rows of that stretch as (time since its start, porosity by pore voxels,
    porosity by mass) for the equal-time rows of :func:`compare_summaries`; NaN and no series
    when the time series lacks a column (results older than the porosity series)."""
    try:
        t = np.asarray(ts["time_s"][()], dtype=np.float64)
        temp = np.asarray(ts["temperature_c"][()], dtype=np.float64)
        por = np.asarray(ts["porosity"][()], dtype=np.float64)
        mass = np.asarray(ts["mass_porosity"][()], dtype=np.float64)
    except KeyError:
        return {"peak_c": math.nan, "peak_hold_s": math.nan}
    if t.size == 0:
        return {"peak_c": math.nan, "peak_hold_s": math.nan}
    top = float(temp.max())
    at = np.flatnonzero(temp >= top - PEAK_TOLERANCE_C)
    i, j = int(at[0]), int(at[-1]) + 1
    return {"peak_c": top, "peak_hold_s": float(t[j - 1] - t[i]),
            "_peak": (t[i:j] - t[i], por[i:j], mass[i:j])}


def equal_peak_time(a: dict, b: dict) -> float:
    """The time at the peak both runs spent (the shorter of their holds, s), or NaN when
    they peak at different temperatures or a result has no porosity series."""
    if "_peak" not in a or "_peak" not in b or abs(a["peak_c"] - b["peak_c"]) > PEAK_TOLERANCE_C:
        return math.nan
    return min(a["peak_hold_s"], b["peak_hold_s"])


def _at_peak_time(summary: dict, t_s: float, column: int) -> float:
    """The time series' value ``column`` (1: porosity, 2: by mass) at the last row no later
    than ``t_s`` into the peak hold."""
    series = summary["_peak"]
    k = int(np.searchsorted(series[0], t_s, side="right")) - 1
    return float(series[column][max(k, 0)])


def _ratio(va: float, vb: float) -> float:
    """vb / va, NaN when va is 0 or either is NaN or infinite."""
    return vb / va if va != 0 and math.isfinite(va) and math.isfinite(vb) else math.nan


def compare_summaries(a: dict, b: dict) -> list:
    """One dict per row of :data:`ROWS`: ``key``, ``label``, ``units``, ``a``, ``b``,
    ``difference`` (b - a) and ``ratio`` (b / a; NaN when a is 0 or either is NaN)."""
    rows = []
    for key, label, units in ROWS:
        va, vb = float(a.get(key, math.nan)), float(b.get(key, math.nan))
        rows.append({"key": key, "label": label, "units": units, "a": va, "b": vb,
                     "difference": vb - va, "ratio": _ratio(va, vb)})
    t_eq = equal_peak_time(a, b)
    if math.isfinite(t_eq):
        for key, label, column in EQUAL_TIME_ROWS:
            va, vb = _at_peak_time(a, t_eq, column), _at_peak_time(b, t_eq, column)
            rows.append({"key": key, "label": label.format(h=t_eq / 3600.0), "units": "1",
                         "a": va, "b": vb, "difference": vb - va, "ratio": _ratio(va, vb),
                         "time_at_peak_s": t_eq})
    return rows


def _num(v: float) -> str:
    if not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if v == int(v) and abs(v) < 1e9:
        return f"{int(v)}"
    if v == 0 or 1e-3 <= abs(v) < 1e5:
        return f"{v:.4f}" if abs(v) < 10 else f"{v:.1f}"
    return f"{v:.3e}"


def _aligned(head: tuple, body: list) -> list:
    """The lines of a plain-text table: ``head``, a rule, then ``body`` (tuples of strings),
    the first two columns left-aligned and the others right-aligned."""
    widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(head)]

    def line(cells):
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(head), line(["-" * w for w in widths]), *(line(row) for row in body)]


def _same_particle(a: dict, b: dict) -> bool:
    """Whether two summaries come from the same generated particle (seed and grid)."""
    return a["seed"] == b["seed"] and a["grid_shape"] == b["grid_shape"]


def format_table(a: dict, b: dict, rows: list | None = None) -> str:
    """The side-by-side table (plain text) of two summaries."""
    rows = rows if rows is not None else compare_summaries(a, b)
    name_a = f"A: {a['preset']}"
    name_b = f"B: {b['preset']}"
    head = ("quantity", "units", name_a, name_b, "B - A", "B / A")
    body = [(r["label"], r["units"], _num(r["a"]), _num(r["b"]), _num(r["difference"]),
             f"{r['ratio']:.3f}" if math.isfinite(r["ratio"]) else "-") for r in rows]
    out = [f"A = {a['path']} ({a['preset']}, seed {a['seed']}, final pores: {a['pores_source']})",
           f"B = {b['path']} ({b['preset']}, seed {b['seed']}, final pores: {b['pores_source']})",
           *_aligned(head, body)]
    notes = []
    t_eq = next((r["time_at_peak_s"] for r in rows if "time_at_peak_s" in r), None)
    if t_eq is not None:
        notes.append(f"at the peak ({a['peak_c']:.0f} C): A held {a['peak_hold_s'] / 3600:.3g} "
                     f"h, B {b['peak_hold_s'] / 3600:.3g} h; the rows \"{t_eq / 3600:.3g} h at "
                     f"the peak\" read both time series at the shorter hold")
    if not _same_particle(a, b):
        notes.append(f"note: the runs differ in seed ({a['seed']} vs {b['seed']}) or grid "
                     f"({a['grid_shape']} vs {b['grid_shape']}): not the same particle")
    return "\n".join(out + notes)


def _json_num(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def _clean(d: dict) -> dict:
    """A summary or row for JSON: NaN as null, private keys (``_peak``) left out."""
    return {k: _json_num(v) for k, v in d.items() if not k.startswith("_")}


def to_json(a: dict, b: dict, rows: list | None = None, figure=()) -> str:
    """The comparison as JSON: ``{"a": summary, "b": summary, "rows": [...], "figure": [...]}``
    (NaN written as null)."""
    rows = rows if rows is not None else compare_summaries(a, b)
    return json.dumps({"a": _clean(a), "b": _clean(b), "rows": [_clean(r) for r in rows],
                       "figure": [str(p) for p in figure]}, indent=2)


# ==========================================================================================
# several pairs (seeds)
# ==========================================================================================
#: The columns of the table over several pairs: (summary key, heading, the paper's finding as
#: B / A for R-NCM against TS-NCM: None for "below 1", else the name of the limit in
#: :mod:`mcsim.validate.microstructure`, which judges the findings; this table only shows
#: them next to the figures).
FINDINGS = (
    ("porosity", "porosity", None),
    ("mass_porosity", "by mass", None),
    ("nanopore_density_core_per_um3", "core nanopores", "MAX_NANOPORE_RATIO"),
    ("central_void_opened", "central void opened", "MAX_VOID_RATIO"),
)


def _finding_text(limit: str | None) -> str:
    """The paper's finding of a :data:`FINDINGS` column, read from the validation's limits."""
    if limit is None:
        return "below 1"
    from mcsim.validate import microstructure  # lazy: imports the checks

    return f"at most {getattr(microstructure, limit):g}"

#: Confidence level of the interval of the pooled core nanopore density ratio.
POOLED_LEVEL = 0.95


def pooled_core_nanopores(pairs: list, level: float = POOLED_LEVEL) -> dict | None:
    """The core nanopore densities of the runs A and B pooled over ``pairs`` (a list of
    ``(summary_a, summary_b)``): the counts and the volumes they were counted over summed, the
    ratio B / A of the pooled densities and its interval at ``level`` from the counting error
    (:func:`mcsim.validate.counting.rate_ratio_interval`, exact for two Poisson counts). A few
    dozen nanopores per core make one pair's ratio mostly counting noise; the pooled counts
    say how far the ratio is known. None when a summary lacks the count or the volume (a
    result before schema 3.1).

    Returns
    -------
    dict or None
        ``count_a``, ``count_b``, ``volume_a_um3``, ``volume_b_um3``, ``ratio``, ``lower``,
        ``upper``, ``level``.
    """
    from mcsim.validate.counting import rate_ratio_interval  # lazy: imports the checks

    n = [[0, 0], [0.0, 0.0]]
    for pair in pairs:
        for i, summary in enumerate(pair):
            c = float(summary.get("nanopore_count_core", math.nan))
            v = float(summary.get("core_volume_um3", math.nan))
            if not (math.isfinite(c) and c >= 0 and math.isfinite(v) and v > 0):
                return None
            n[0][i] += int(c)
            n[1][i] += v
    (n_a, n_b), (v_a, v_b) = n
    lower, upper = rate_ratio_interval(n_b, n_a, volume_ratio=v_b / v_a, level=level)
    ratio = (n_b / v_b) / (n_a / v_a) if n_a > 0 else (math.nan if n_b == 0 else math.inf)
    return {"count_a": n_a, "count_b": n_b, "volume_a_um3": v_a, "volume_b_um3": v_b,
            "ratio": ratio, "lower": lower, "upper": upper, "level": level}


def findings_rows(pairs: list) -> list:
    """One dict per pair of ``pairs`` (``(summary_a, summary_b)``): ``seed_a``, ``seed_b``,
    ``path_a``, ``path_b`` and, for each key of :data:`FINDINGS`, ``a``, ``b`` and ``ratio``
    (B / A, NaN when A is 0 or either is NaN) under that key."""
    rows = []
    for a, b in pairs:
        row = {"seed_a": a["seed"], "seed_b": b["seed"], "path_a": a["path"], "path_b": b["path"]}
        for key, _label, _finding in FINDINGS:
            va, vb = float(a.get(key, math.nan)), float(b.get(key, math.nan))
            row[key] = {"a": va, "b": vb, "ratio": _ratio(va, vb)}
        rows.append(row)
    return rows


def _cell(entry: dict, digits: int) -> str:
    r = entry["ratio"]
    ratio = f"{r:.{digits}f}" if math.isfinite(r) else "-"
    return f"{ratio} ({_num(entry['a'])} / {_num(entry['b'])})"


def format_pairs(pairs: list, rows: list | None = None, pooled: dict | None = None) -> str:
    """The table over several pairs (plain text): one line per pair with B / A and (A / B) of
    each quantity of :data:`FINDINGS`, the mean of the ratios, the paper's finding, and the
    pooled core nanopore density ratio with its counting interval."""
    rows = rows if rows is not None else findings_rows(pairs)
    pooled = pooled if pooled is not None else pooled_core_nanopores(pairs)
    a0, b0 = pairs[0]
    head = ("pair", "seed", *(label for _k, label, _f in FINDINGS))
    body = []
    for i, row in enumerate(rows, 1):
        seed = (str(row["seed_a"]) if row["seed_a"] == row["seed_b"]
                else f"{row['seed_a']} / {row['seed_b']}")
        body.append((str(i), seed, *(_cell(row[k], 4 if "porosity" in k else 3)
                                     for k, _l, _f in FINDINGS)))
    means = []
    for key, _label, _finding in FINDINGS:
        finite = [r[key]["ratio"] for r in rows if math.isfinite(r[key]["ratio"])]
        means.append(f"{np.mean(finite):.4f}" if len(finite) == len(rows) else "-")
    body.append(("mean", "", *means))
    body.append(("paper", "", *(_finding_text(limit) for _k, _l, limit in FINDINGS)))
    out = [f"{len(pairs)} pairs, A = {a0['preset']}, B = {b0['preset']}: each cell is B / A, "
           "then the two values (A / B)", *_aligned(head, body)]
    if pooled is None:
        out.append("pooled core nanopores: not available (a result before schema 3.1 lacks "
                   "the core counts)")
    else:
        r = pooled["ratio"]
        out.append(f"pooled core nanopores: {pooled['count_a']} / {pooled['count_b']} (A / B) "
                   f"over {pooled['volume_a_um3']:.3g} / {pooled['volume_b_um3']:.3g} um^3, "
                   f"B / A = {r:.3f}, {pooled['level']:.0%} interval from the counts "
                   f"[{pooled['lower']:.3f}, {pooled['upper']:.3f}]")
    out.append("paper: the findings of Park et al. (2022) as B / A; `mcsim validate` judges "
               "them (every seed, and the pooled counts for the nanopores)")
    mixed = [i for i, (a, b) in enumerate(pairs, 1) if not _same_particle(a, b)]
    if mixed:
        out.append(f"note: pair(s) {', '.join(map(str, mixed))} differ in seed or grid: not "
                   "the same particle")
    return "\n".join(out)


def pairs_to_json(pairs: list, figures=(), rows: list | None = None,
                  pooled: dict | None = None) -> str:
    """The comparison of several pairs as JSON: ``{"pairs": [{"a", "b", "rows"}, ...],
    "findings": [...], "pooled_core_nanopores": {...} or null, "figure": [...]}`` (NaN written
    as null; ``rows`` and ``pooled``: :func:`findings_rows` and :func:`pooled_core_nanopores`
    of ``pairs`` if already computed)."""
    findings = []
    for row in (rows if rows is not None else findings_rows(pairs)):
        findings.append({k: (_clean(v) if isinstance(v, dict) else _json_num(v))
                         for k, v in row.items()})
    pooled = pooled if pooled is not None else pooled_core_nanopores(pairs)
    return json.dumps({"pairs": [{"a": _clean(a), "b": _clean(b),
                                  "rows": [_clean(r) for r in compare_summaries(a, b)]}
                                 for a, b in pairs],
                       "findings": findings,
                       "pooled_core_nanopores": _clean(pooled) if pooled else None,
                       "figure": [str(p) for p in figures]}, indent=2)


# ==========================================================================================
# running
# ==========================================================================================
def _reusable(path: Path, cfg: dict) -> tuple[bool, str]:
    """Whether ``path`` is a complete result of ``cfg`` holding pore statistics."""
    f = open_if_complete(path)
    if f is None:
        return False, "no complete result there"

    def comparable(c):
        c = copy.deepcopy(c)
        for section, key in NON_RESULT_KEYS:
            c.get(section, {}).pop(key, None)
        return c

    try:
        with f:
            stored = tomllib.loads(f["config"].asstr()[()])
            has_pores = "pore_series" in f
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        return False, f"cannot be read back ({exc})"
    if comparable(stored) != comparable(cfg):
        return False, "holds another configuration"
    if not has_pores:
        return False, "holds no pore statistics (written before schema 1.2)"
    return True, "same configuration"


def refuse_replacing(cfgs: dict, out_dir, *, reuse: bool = False,
                     overwrite: bool = False) -> None:
    """Raise :class:`ConfigError` when running ``cfgs`` into ``out_dir`` would replace a file
    (one that is not a reusable result of the same configuration, with ``reuse``) without
    ``overwrite``: called for every pair before any run starts."""
    out_dir = Path(out_dir)
    for stem, _preset in RUNS:
        path = out_dir / f"{stem}.h5"
        if path.exists() and not overwrite and not (reuse and _reusable(path, cfgs[stem])[0]):
            raise ConfigError("--output-dir", str(out_dir),
                              f"{path} exists and would be replaced; pass --overwrite to "
                              "replace it (or --reuse to read a result of the same "
                              "configuration)")


def run_pair(cfgs: dict, out_dir, *, reuse: bool = False, progress: bool = False,
             log=print, overwrite: bool = False) -> dict:
    """Run (or reuse) the two configurations, one after the other; return their result paths.

    Parameters
    ----------
    cfgs : dict
        ``{"r-ncm": cfg, "ts-ncm": cfg}`` from :func:`preset_configs`.
    out_dir : str or os.PathLike
        Folder of ``r-ncm.h5`` and ``ts-ncm.h5`` (created).
    reuse : bool
        Read a complete result of the same configuration instead of rerunning it.
    overwrite : bool
        Replace a file already at a path that is run (refused, before any run, without it).
    progress : bool
        Progress bar or log lines of each run.
    log : callable
        Receives the runs' log lines, prefixed by the run's name.

    Returns
    -------
    dict
        ``{"r-ncm": Path, "ts-ncm": Path}``.
    """
    # lazy: the engine (kernels, checkpointing, MPI-aware I/O) only to run, not for --help
    from mcsim.engine import Simulation

    out_dir = Path(out_dir)
    refuse_replacing(cfgs, out_dir, reuse=reuse, overwrite=overwrite)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for stem, _preset in RUNS:
        path = out_dir / f"{stem}.h5"
        cfg = cfgs[stem]
        if reuse:
            ok, why = _reusable(path, cfg)
            if ok:
                log(f"[{stem}] reusing {path} ({why})")
                paths[stem] = path
                continue
            if path.exists() or Path(str(path) + ".partial").exists():
                log(f"[{stem}] not reusing {path}: {why}; running it")
        sim = Simulation(cfg, log=lambda *a, _s=stem: log(f"[{_s}] " + " ".join(map(str, a))))
        sim.run(path, progress=progress)
        paths[stem] = path
    return paths


def make_figure(path_a, path_b, out_dir, formats=("png", "pdf"), stem=FIGURE_STEM) -> list:
    """Draw :mod:`mcsim.figures.compare_runs` into ``out_dir/<stem>.<format>`` (``stem``:
    ``compare``); return the paths."""
    module = load_script("compare_runs")
    first = Path(out_dir) / f"{stem}.{formats[0]}"
    module.plot(path_a, path_b, first, formats=list(formats[1:]))
    return [first.with_suffix("." + fmt) for fmt in formats]


# ==========================================================================================
# command line
# ==========================================================================================
def _seed_list(text: str) -> list:
    """``--seeds``: comma-separated distinct integers >= 0."""
    try:
        seeds = [int(t) for t in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: must be integers >= 0 separated by commas, "
                                         "e.g. 1,2,3") from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"{text!r}: must be distinct integers >= 0 separated "
                                         "by commas, e.g. 1,2,3")
    return seeds


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``mcsim compare`` arguments to ``parser``."""
    parser.add_argument("--config", metavar="BASE.toml", default=None,
                        help="base configuration (default: the built-in default)")
    parser.add_argument("--set", dest="sets", metavar="SECTION.KEY=VALUE", action="append",
                        default=[], help="override one key of both runs (value read as TOML; "
                        "schedule options go to the presets that have them; repeatable)")
    parser.add_argument("--seed", type=int, default=None, help="seed of both runs")
    parser.add_argument("--seeds", type=_seed_list, default=None, metavar="LIST",
                        help="several seeds, e.g. 1,2,3: one pair per seed in DIR/seed-N, "
                             "then a table of the TS-NCM / R-NCM ratios per seed and the core "
                             "nanopores pooled over the seeds")
    parser.add_argument("--threads", type=int, default=None,
                        help="Numba threads (overrides numerics.threads)")
    parser.add_argument("-o", "--output-dir", metavar="DIR", default=None,
                        help="folder of r-ncm.h5, ts-ncm.h5 and the figure (default: "
                             "mcsim-compare; with --results: the first result's folder)")
    parser.add_argument("--reuse", action="store_true",
                        help="read complete results of the same configuration in DIR instead "
                             "of rerunning them")
    parser.add_argument("--overwrite", action="store_true",
                        help="rerun and replace results already in DIR (refused without it)")
    parser.add_argument("--results", nargs="+", metavar="A.h5 B.h5", default=None,
                        help="compare two finished results instead of running; several pairs "
                             "(A1 B1 A2 B2 ...) give the table over pairs")
    parser.add_argument("--json", metavar="FILE", default=None,
                        help="also write the comparison as JSON")
    parser.add_argument("--no-figure", action="store_true", help="do not draw the figure")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar or log lines while running")
    return parser


def main(args: argparse.Namespace) -> int:
    """Carry out parsed ``mcsim compare`` arguments; return the exit status.

    0 on success; 1 when a result cannot be compared (missing, unfinished, unreadable): the
    message goes to stderr and nothing is written. Configuration errors raise
    :class:`ConfigError` (exit 2 in :mod:`mcsim.cli`), before any run starts.
    """
    def log(line):
        print(line, file=sys.stderr, flush=True)

    seeds = getattr(args, "seeds", None)
    if seeds is not None and args.seed is not None:
        raise ConfigError("--seeds", ",".join(map(str, seeds)), "takes the place of --seed; "
                          "give one of them")
    several = False
    if args.results is not None:
        given = [name for name, v in (("--config", args.config), ("--set", args.sets),
                                      ("--seed", args.seed), ("--seeds", seeds),
                                      ("--reuse", args.reuse), ("--overwrite", args.overwrite))
                 if v not in (None, [], False)]
        if given:
            raise ConfigError("--results", " ".join(args.results),
                              f"compares finished results; it takes no {', '.join(given)}")
        if len(args.results) % 2:
            raise ConfigError("--results", " ".join(args.results),
                              f"takes pairs of results (A.h5 B.h5, or A1 B1 A2 B2 ...), got "
                              f"{len(args.results)} file(s)")
        pairs = [(Path(a), Path(b)) for a, b in zip(args.results[::2], args.results[1::2])]
        out_dir = Path(args.output_dir) if args.output_dir else pairs[0][0].resolve().parent
        several = len(pairs) > 1
        fig_dirs = [(out_dir, FIGURE_STEM if not several else f"{FIGURE_STEM}-{i}")
                    for i in range(1, len(pairs) + 1)]
    else:
        out_dir = Path(args.output_dir or "mcsim-compare")
        if seeds is None:
            jobs = [(preset_configs(args.config, args.sets, args.seed, args.threads), out_dir)]
        else:  # every configuration and every output checked before the first run
            several = True
            jobs = [(preset_configs(args.config, args.sets, seed, args.threads),
                     out_dir / f"seed-{seed}") for seed in seeds]
        for cfgs, folder in jobs:
            refuse_replacing(cfgs, folder, reuse=args.reuse, overwrite=args.overwrite)
        pairs, fig_dirs = [], []
        for cfgs, folder in jobs:
            paths = run_pair(cfgs, folder, reuse=args.reuse, overwrite=args.overwrite,
                             progress=not args.no_progress,
                             log=log if not args.no_progress else (lambda *_: None))
            pairs.append((paths["r-ncm"], paths["ts-ncm"]))
            fig_dirs.append((folder, FIGURE_STEM))
    try:
        summaries = [(read_summary(a), read_summary(b)) for a, b in pairs]
    except CompareError as exc:
        print(f"mcsim compare: error: {exc}", file=sys.stderr)
        return 1
    figure = []
    if not args.no_figure:
        for (path_a, path_b), (folder, stem) in zip(pairs, fig_dirs):
            try:
                figure += make_figure(path_a, path_b, folder, stem=stem)
            except PlotError as exc:
                log(f"mcsim compare: no figure: {exc}")
    if several:
        found, pooled = findings_rows(summaries), pooled_core_nanopores(summaries)
        text = format_pairs(summaries, found, pooled)
        doc = pairs_to_json(summaries, figure, found, pooled)
    else:
        a, b = summaries[0]
        rows = compare_summaries(a, b)
        text, doc = format_table(a, b, rows), to_json(a, b, rows, figure)
    print(text)
    for p in figure:
        print(f"figure: {p}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(doc, encoding="utf-8")
    return 0
