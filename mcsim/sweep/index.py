"""What a sweep's output folder says: the state of each run on disk, the outcomes of a
finished run, and the index of all runs.

State of a run (:func:`run_state`): *done* when its result is complete and its stored
``/config`` equals the requested configuration (:data:`NON_RESULT_KEYS` excepted: threads,
log and checkpoint settings do not change results), else *failed* when it left an error file,
else *pending* (unfinished, missing, or holding another configuration).

Outcomes of a done run (:data:`OUTCOMES`, :func:`read_outcomes`) are cached beside its result
in ``run-NNNN.outcomes.json`` with the result's size and mtime (:func:`run_outcomes`).

Index file ``OUTDIR/index.h5``
------------------------------
Written by rank 0 at the end of every sweep (and by ``mcsim sweep SWEEP.toml --index-only``)
into ``index.h5.partial``, then renamed atomically. Built from the files in OUTDIR alone.

Root attributes: ``format`` = ``"mcsim-sweep-index"``, ``format_version`` = ``"1.1"``,
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
``/outcomes/mass_porosity``            float64   run: from the result's /pores group or
``/outcomes/nanopore_density_core_per_um3``      /timeseries (last value) when the engine wrote
``/outcomes/nanopore_density_shell_per_um3``     them, else ``pore_statistics`` on the final
``/outcomes/central_void_opened``      float64   snapshot, else NaN (central_void_opened also
``/outcomes/central_pore_fraction``    float64   NaN without the generated particle's reference)
``/outcomes/nanopore_count_core``      float64   the nanopores behind the core density, from the
                                                 same source (format 1.1; a density from n pores
                                                 is uncertain by about sqrt(n) / n)
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
import json
import math
import os
import tomllib
from pathlib import Path

import h5py
import numpy as np

import mcsim
from mcsim import config as _config
from mcsim.io.result import open_if_complete, open_result
from mcsim.sweep.plan import Run, SweepPlan

#: Version of the index layout documented above.
INDEX_FORMAT_VERSION = "1.1"  # 1.1: outcome nanopore_count_core

#: Configuration keys that do not change a run's result (ignored when matching a stored run).
NON_RESULT_KEYS = (("numerics", "threads"), ("output", "log_interval_s"),
                   ("output", "checkpoint_interval_wall_s"),
                   ("output", "checkpoint_interval_sim_min"), ("output", "checkpoint_path"))

#: Index outcome columns and their meaning.
OUTCOMES = {
    "final_hydroxide": "share of TM in hydroxide at the end (last tm_phase_fraction row)",
    "final_rocksalt": "share of TM in rock salt at the end",
    "final_layered": "share of TM in layered oxide at the end",
    "porosity": "porosity by pore voxels at the end (mcsim.pores)",
    "mass_porosity": "porosity by mass (1 - solid fraction from the voxel amounts) at the end",
    "nanopore_density_core_per_um3": "intragranular nanopores per um^3 in the core, at the end",
    "nanopore_density_shell_per_um3": "intragranular nanopores per um^3 in the shell, at the end",
    "nanopore_count_core": "the nanopores counted in the core at the end: the core density's "
                           "basis (its counting error is about the count's square root)",
    "central_void_opened": "void >= 30 nm wide within r < 0.3 R opened since generation, at "
                           "the end (mcsim.pores)",
    "central_pore_fraction": "share of r < 0.3 R in intergranular and open pores at the end",
    "contrast_layered_300c": "layered share shell minus core at the first time the furnace "
                             "reaches 300 C (NaN if never)",
}

#: The pore statistics among the outcomes (names of mcsim.pores.pore_statistics' dict).
PORE_OUTCOMES = ("porosity", "mass_porosity", "nanopore_density_core_per_um3",
                 "nanopore_density_shell_per_um3", "nanopore_count_core", "central_void_opened",
                 "central_pore_fraction")

#: Temperature of the core-shell contrast outcome, C.
CONTRAST_AT_C = 300.0


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
    #: A complete result file is there that running the run would replace (it holds another
    #: configuration, or its configuration cannot be read back).
    replaces: bool = False


def run_state(plan: SweepPlan, run: Run) -> RunState:
    """Classify a run from its files: done (complete result of this configuration), failed
    (error file) or pending."""
    result = plan.result_path(run)
    stale = ""
    f = open_if_complete(result)
    if f is not None:
        try:
            with f:
                stored = tomllib.loads(f["config"].asstr()[()])
                wall = float(f["provenance"].attrs.get("wall_time_s", math.nan))
            if _comparable(stored) == _comparable(run.cfg):
                return RunState("done", "", wall)
            stale = f"{result.name} holds a different configuration"
        except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
            stale = f"{result.name} cannot be read back ({exc})"
    error = plan.error_path(run)
    if error.is_file():
        head = _read_error_file(error)
        try:
            wall = float(head.get("wall_time_s", "nan"))
        except ValueError:
            wall = math.nan
        return RunState("failed", head.get("error", "failed (unreadable error file)"), wall,
                        replaces=bool(stale))
    return RunState("pending", stale, replaces=bool(stale))


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
    try:  # lazy and optional: only a result without a final pore_series row needs it
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
            float(f["geometry/radius_vox"][()]), float(f.attrs["voxel_nm"]), outline="tags",
            amount=final["amount"][()] if "amount" in final else None,
            central_void_reference=(float(f["geometry/central_void_reference"][()])
                                    if "central_void_reference" in f["geometry"] else None))
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
    """Write ``OUTDIR/index.h5`` (layout in the module docstring) atomically; return
    it."""
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


def _write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a ``.tmp`` file and a rename, unless it holds it
    already (run configurations and outcome caches)."""
    if path.is_file() and path.read_text() == text:
        return
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)

