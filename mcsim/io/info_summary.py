"""The short summary of ``mcsim info OUT.h5``: one section per function, each appending
lines (``label: text``) to a list.

What was run (schedule, parameter set, lithium source, seed, particle and grid), the final
state (TM phase shares, lithium left in sources), pores, nanopores and voids at the last
snapshot, wall time and ranks, and where the figures are. :func:`mcsim.io.info.summarize`
puts the sections together; :mod:`mcsim.io.info_full` has the sections of ``--all``.
"""

from __future__ import annotations

import math
import shlex
import tomllib
from pathlib import Path

import h5py
import numpy as np

from mcsim import phases as ph
from mcsim.figures import FIGURES

#: Largest grid whose final snapshot the short summary reads to split the lithium left in
#: sources by compound (larger grids get the total from the time series only).
_MAX_SPLIT_VOXELS = 1 << 26
#: Voxels read at a time when it does.
_SLAB_VOXELS = 1 << 22
#: Width of a row's label.
_LABEL = 13


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return " x ".join(str(v) for v in value.tolist()) if value.ndim == 1 else str(value)
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return str(value)


def _row(label: str, text: str) -> str:
    return f"{label + ':':<{_LABEL}} {text}"


def _scalar(group, name):
    """The 0-d numeric dataset ``name`` of ``group`` as a float, else None."""
    if group is None:
        return None
    obj = group.get(name) if isinstance(group, h5py.Group) else None
    if isinstance(obj, h5py.Dataset) and obj.shape == () and obj.dtype.kind in "biuf":
        return float(obj[()])
    return None


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.3g} s"
    if seconds < 7200:
        return f"{seconds / 60:.3g} min"
    hours, minutes = divmod(int(round(seconds / 60)), 60)
    return f"{hours} h {minutes:02d} min"


def _config(f: h5py.File):
    """The run's configuration (``/config``) as a dict, or None when absent or not TOML."""
    obj = f.get("config")
    if not isinstance(obj, h5py.Dataset) or not h5py.check_string_dtype(obj.dtype):
        return None
    try:
        return tomllib.loads(obj.asstr()[()])
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, ValueError):
        return None


def _section(cfg, name) -> dict:
    value = cfg.get(name) if isinstance(cfg, dict) else None
    return value if isinstance(value, dict) else {}


def _rates(values) -> str:
    values = sorted(set(values))
    if len(values) > 3:
        return f"{values[0]:g}..{values[-1]:g}"
    return ", ".join(f"{v:g}" for v in values)


def _describe_schedule(schedule) -> str:
    """One line on a :class:`mcsim.schedule.Schedule`: start, heating rates, peak, holds,
    cooling and total time, e.g. ``from 25 C: heat 5 C/min, peak 850 C, hold 720 min at
    850 C, cool 5 C/min to 25 C; total 1050 min``."""
    segments = schedule.segments
    heat = [round(s.rate_c_per_s * 60.0, 6) for s in segments if s.kind == "ramp"]
    holds = [s for s in segments if s.kind == "hold"]
    cools = [s for s in segments if s.kind == "cool"]
    quenches = [s for s in segments if s.kind == "quench"]
    parts = []
    if heat:
        parts.append(f"heat {_rates(heat)} C/min")
    parts.append(f"peak {schedule.max_c:g} C")
    if not holds:
        parts.append("no hold")
    elif len(holds) <= 2:
        parts += [f"hold {s.duration_s / 60:g} min at {s.start_c:g} C" for s in holds]
    else:
        temps = [s.start_c for s in holds]
        parts.append(f"{len(holds)} holds of {_rates(s.duration_s / 60 for s in holds)} min "
                     f"at {min(temps):g}..{max(temps):g} C")
    if cools:
        parts.append(f"cool {_rates(-s.rate_c_per_s * 60.0 for s in cools)} C/min "
                     f"to {cools[-1].end_c:g} C")
    if len(quenches) <= 2:
        parts += [f"quench {s.start_c:g} -> {s.end_c:g} C" for s in quenches]
    else:
        parts.append(f"{len(quenches)} quenches")
    return (f"from {schedule.start_c:g} C: " + ", ".join(parts)
            + f"; total {schedule.duration_s / 60:g} min")


def _schedule(cfg):
    """The run's schedule rebuilt from its configuration, or None."""
    if not _section(cfg, "schedule"):
        return None
    # lazy: mcsim.config pulls the generator and every process (Numba kernels) into mcsim.io
    from mcsim.config import build_schedule

    try:
        return build_schedule(cfg)
    except (ValueError, KeyError, TypeError):  # ConfigError is a ValueError
        return None


def _what_was_run(f: h5py.File, cfg, schedule, lines: list) -> None:
    attrs = f.attrs
    seed = f"seed {_text(attrs.get('seed', '?'))}; mcsim {_text(attrs.get('mcsim_version', '?'))}"
    sched, lith = _section(cfg, "schedule"), _section(cfg, "lithium")
    if cfg is None:
        lines.append(_row("run", f"no readable configuration in /config; {seed}"))
    else:
        what = [f"{sched['preset']} schedule"] if "preset" in sched else []
        pset = _section(cfg, "model").get("parameter_set")
        if pset:
            what.append(f"parameter set {pset}")
        if "source" in lith:
            ratio = f" (Li/TM {lith['li_to_tm']:g})" if isinstance(
                lith.get("li_to_tm"), (int, float)) else ""
            what.append(f"{lith['source']}{ratio}")
        what = ", ".join(what) if what else "no schedule, model or lithium in /config"
        lines.append(_row("run", f"{what}; {seed}"))
    if schedule is not None:
        lines.append(_row("schedule", _describe_schedule(schedule)))
    else:
        lines.append(_row("schedule", "not recorded (no usable [schedule] in /config)"))
    particle = []
    radius = _section(cfg, "particle").get("radius_um")
    if isinstance(radius, (int, float)):
        particle.append(f"radius {radius:g} um")
    if "voxel_nm" in attrs:
        particle.append(f"voxel {float(attrs['voxel_nm']):g} nm")
    if "grid_shape" in attrs:
        shape = [int(n) for n in attrs["grid_shape"]]
        particle.append(f"grid {' x '.join(map(str, shape))}")
    grains = _scalar(f.get("microstructure"), "n_grains")
    if grains is not None:
        particle.append(f"{grains:g} grains")
    lines.append(_row("particle", ", ".join(particle) if particle else "not recorded"))


def _final_column(ts, name, names=None):
    """Last row of ``/timeseries/<name>`` (None when absent or empty), with its column names."""
    dset = ts.get(name) if ts is not None else None
    if not isinstance(dset, h5py.Dataset) or dset.ndim < 1 or dset.shape[0] == 0:
        return None, names
    stored = [_text(n) for n in dset.attrs.get("phases", [])]
    return np.asarray(dset[-1], dtype=float), stored or names


def _source_li(f: h5py.File, t_end: float):
    """Lithium (quanta) in each source compound in the last snapshot when it is the final
    state, summed over the voxels holding some (a spent source voxel, amount 0, holds
    none); None when there is no such snapshot or the grid is too large to read quickly."""
    snaps = f.get("snapshots")
    keys = sorted(k for k in snaps if k.isdigit()) if isinstance(snaps, h5py.Group) else []
    if not keys:
        return None
    group = snaps[keys[-1]]
    phase, amount = group.get("phase"), group.get("amount")
    if not isinstance(phase, h5py.Dataset) or not isinstance(amount, h5py.Dataset):
        return None
    t_snap = float(group.attrs.get("time_s", np.nan))
    if not abs(t_snap - t_end) <= 1e-9 * max(1.0, abs(t_end)) or phase.shape != amount.shape \
            or phase.ndim != 3 or phase.size > _MAX_SPLIT_VOXELS:
        return None
    step = max(1, _SLAB_VOXELS // max(1, phase.shape[1] * phase.shape[2]))
    totals = np.zeros(256)
    for i in range(0, phase.shape[0], step):
        p = np.asarray(phase[i:i + step]).astype(np.int64)
        a = np.asarray(amount[i:i + step]).astype(np.float64)
        keep = (a > 0) & (p >= 0) & (p < 256)
        totals += np.bincount(p[keep], weights=a[keep], minlength=256)[:256]
    return {ph.NAMES[c]: totals[c] for c in ph.SOURCE_PHASES}


_SOURCE_LABELS = {"lioh": "LiOH", "li2o": "Li2O", "li2co3": "Li2CO3"}


def _final_state(f: h5py.File, complete: bool, schedule, whole: bool, lines: list) -> None:
    ts = f.get("timeseries")
    t = ts.get("time_s") if isinstance(ts, h5py.Group) else None
    if not isinstance(t, h5py.Dataset) or t.ndim != 1 or t.shape[0] == 0:
        lines.append(_row("final state", "no time-series rows"))
        return
    t_end = float(t[-1])
    where = f"t = {t_end / 60:.4g} min"
    temp, _ = _final_column(ts, "temperature_c")
    if temp is not None:
        where += f", {float(temp):.4g} C"
    if complete:
        lines.append(_row("final state", f"{where} ({t.shape[0]} time-series rows)"))
    else:
        end = f" (the schedule runs {schedule.duration_s / 60:g} min)" \
            if schedule is not None else ""
        lines.append(_row("last row", f"{where}{end}: the last row written"))
    tm, names = _final_column(ts, "tm_phase_fraction", ["hydroxide", "rocksalt", "layered"])
    label = "share of TM"
    if tm is None:  # older or hand-written files: the TM phases' share of the TM voxels
        pf, pf_names = _final_column(ts, "phase_fraction", list(ph.NAMES))
        if pf is not None:
            picked = [(n, v) for n, v in zip(pf_names, pf) if n in ("hydroxide", "rocksalt",
                                                                      "layered")]
            total = sum(v for _, v in picked)
            if picked and total > 0:
                names, tm = [n for n, _ in picked], np.array([v for _, v in picked]) / total
                label = "share of the TM-phase voxels"
    if tm is not None:
        shares = ", ".join(f"{n} {v:.4f}" for n, v in zip(names, tm))
        lines.append(_row("  TM phases", f"{shares} ({label})"))
    else:
        lines.append(_row("  TM phases", "not recorded"))
    history = _history_text(ts)
    if history:
        lines.append(_row("  history", history))
    source, _ = _final_column(ts, "li_source")
    total, _ = _final_column(ts, "li_total")
    if source is None or total is None or not float(total) > 0:
        lines.append(_row("  Li sources", "not recorded"))
        return
    text = f"{100 * float(source) / float(total):.3g} % of the lithium still in sources"
    split = _source_li(f, t_end) if whole else None
    if split is not None:
        shown = [f"{_SOURCE_LABELS[n]} {100 * v / float(total):.3g} %" for n, v in split.items()
                 if v > 0]
        text += f" ({', '.join(shown)})" if shown else " (every source voxel spent)"
    lines.append(_row("  Li sources", text))


#: What a run did on its way, from the last row of its cumulative tallies: (key, column, column
#: it is divided by or None). The share of the TM that went through rock salt is the race
#: lithiation lost in calcination; the vacancies are what densification removed and how many
#: of them stayed inside the particle. ``mcsim info`` and ``mcsim compare`` print them.
HISTORY = (
    ("tm_dehydrated_share", "tm_dehydrated", "tm_quanta"),
    ("vacancies_annihilated", "vacancies_annihilated", None),
    ("vacancies_inward", "vacancies_inward", None),
)


def run_history(ts) -> dict:
    """The :data:`HISTORY` figures of a ``/timeseries`` group; NaN for a column the file
    lacks (a tally's column starts with its first event, so a run that never reached the
    sintering onset has no vacancy columns; results older than a column lack it too)."""
    out = {}
    for key, num, den in HISTORY:
        value, _ = _final_column(ts, num)
        if value is not None and den is not None:
            total, _ = _final_column(ts, den)
            value = value / total if total is not None and float(total) > 0 else None
        out[key] = math.nan if value is None else float(value)
    return out


def _history_text(ts) -> str:
    """The ``history`` line of the summary from :func:`run_history`; "" when the file records
    none of it."""
    h = run_history(ts)
    parts = []
    if not math.isnan(h["tm_dehydrated_share"]):
        parts.append(f"{h['tm_dehydrated_share']:.4f} of the TM went through rock salt")
    if not math.isnan(h["vacancies_annihilated"]):
        kept = "" if math.isnan(h["vacancies_inward"]) else \
            f", {h['vacancies_inward']:.0f} kept inside"
        parts.append(f"{h['vacancies_annihilated']:.0f} vacancies annihilated{kept}")
    return "; ".join(parts)


#: Porosity scalars of a /pores group printed by name on the porosity line (schema 3.0).
_BY_MASS = (("mass_porosity", "by mass"), ("subvoxel_porosity", "sub-voxel"))


def _porosity_extras(group) -> list:
    """The porosity by mass and the sub-voxel porosity of a /pores group, then any further
    porosity scalar it holds, as text."""
    extras = []
    for name, label in _BY_MASS:
        value = _scalar(group, name)
        if value is not None and not np.isnan(value):  # NaN: computed without amounts
            extras.append(f"{label} {value:.4f}")
    known = {"porosity", *(name for name, _ in _BY_MASS)}
    for name in sorted(group):
        if name not in known and "porosity" in name:
            value = _scalar(group, name)
            if value is not None:
                extras.append(f"{name} {value:.4f}")
    return extras


def _pore_summary(f: h5py.File, cfg, lines: list) -> None:
    pores = f.get("pores")
    keys = sorted(k for k in pores if k.isdigit()) if isinstance(pores, h5py.Group) else []
    if not keys:
        if _section(cfg, "output").get("pore_statistics") is False:
            why = "switched off (output.pore_statistics = false)"
        elif not isinstance(f.get("snapshots"), h5py.Group) or not len(f["snapshots"]):
            why = "no snapshot was written"
        else:
            why = "the file has no /pores group"
        lines.append(_row("pores", f"not computed -- {why}"))
        return
    group = pores[keys[-1]]
    lines.append(_row("pores", f"at the last snapshot [{_text(group.attrs.get('label', keys[-1]))}]"
                      f", t = {float(group.attrs.get('time_s', np.nan)) / 60:.4g} min"))
    value = _scalar(group, "porosity")
    porosity = "not computed" if value is None else \
        f"{value:.4f} (pore voxels / voxels inside the particle)"
    extras = _porosity_extras(group)
    lines.append(_row("  porosity", porosity + ("; " + ", ".join(extras) if extras else "")))
    count = _scalar(group, "nanopore_count")
    core = _scalar(group, "nanopore_density_core_per_um3")
    shell = _scalar(group, "nanopore_density_shell_per_um3")
    n_core = _scalar(group, "nanopore_count_core")  # schema >= 3.1
    n_shell = _scalar(group, "nanopore_count_shell")
    text = "not computed" if count is None else f"{count:g}"
    if core is not None:
        text += f"; core density {core:.4g} per um^3"
        if n_core is not None:
            text += f" from {n_core:g} pores"
        if shell is not None:
            text += f" (shell {shell:.4g}" + (f" from {n_shell:g})" if n_shell is not None
                                              else ")")
    lines.append(_row("  nanopores", text))
    count = _scalar(group, "void_count")
    text = "not computed" if count is None else f"{count:g}"
    kinds = [(n, _scalar(group, f"{n}_count")) for n in ("intergranular", "open")]
    if count is not None and all(v is not None for _, v in kinds):
        text += " (" + ", ".join(f"{n} {v:g}" for n, v in kinds) + ")"
    central = _scalar(group, "central_pore_fraction")
    if central is None:  # files of schema < 3.0: the same number under its old name
        central = _scalar(group, "central_void_fraction")
    if central is not None:
        text += f"; central pore fraction {central:.4f}"
    opened = _scalar(group, "central_void_opened")
    if opened is not None and not np.isnan(opened):
        text += f", central void opened {opened:.4f}"
    fraction = _scalar(group, "void_fraction")
    if fraction is not None:
        text += f", void fraction {fraction:.4f}"
    lines.append(_row("  voids", text))


def _wall_time(f: h5py.File, lines: list) -> None:
    prov = f.get("provenance")
    if not isinstance(prov, h5py.Group):
        lines.append(_row("wall time", "not recorded (no /provenance)"))
        return
    attrs = prov.attrs
    where = []
    if "mpi_ranks" in attrs:
        ranks = int(attrs["mpi_ranks"])
        where.append(f"{ranks} MPI rank{'s' if ranks != 1 else ''}")
    if "threads" in attrs:
        threads = int(attrs["threads"])
        where.append(f"{threads} thread{'s' if threads != 1 else ''}")
    if "host" in attrs:
        where = [" x ".join(where) + f" on {_text(attrs['host'])}" if where
                 else f"on {_text(attrs['host'])}"]
    on = " x ".join(where)
    if "wall_time_s" in attrs:
        text = _duration(float(attrs["wall_time_s"]))
        if on:
            text += f", {on}"
        if int(attrs.get("restarts", 0)) > 0:
            text += f", restarted {int(attrs['restarts'])} time(s)"
    else:
        text = "not recorded -- the run did not finish"
        if "start_time" in attrs:
            text += f"; started {_text(attrs['start_time'])}"
        if on:
            text += f" ({on})"
    lines.append(_row("wall time", text))


def _figures(path: Path, shown, whole: bool, lines: list) -> None:
    command = f"mcsim plot {shlex.quote(str(shown))}"
    if not whole:
        lines.append(_row("figures", f"none: {command} draws only a complete result"))
        return
    stem, folder = Path(shown).stem, path.parent
    found = [name for name in FIGURES
             if any((folder / f"{stem}_{name}.{fmt}").is_file() for fmt in ("png", "pdf"))]
    if found:
        lines.append(_row("figures", f"{len(found)} of {len(FIGURES)} beside the result "
                          f"({folder / (stem + '_*.png')}); redraw with: {command}"))
    else:
        lines.append(_row("figures", f"none beside the result yet; make them with: {command}"))
