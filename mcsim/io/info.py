"""Summary of a result file, printed by ``mcsim info OUT.h5``.

By default a short answer to "did it work and what came out": status, what was run (schedule,
particle, seed, ranks), the final phases, porosity, nanopores and voids, wall time and where
the figures are. ``mcsim info --all`` adds everything else the file holds: every provenance
attribute, every time series, the snapshot list, the final pore scalars and further groups.
"""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path

import h5py
import numpy as np

from mcsim import phases as ph
from mcsim.io.hdf5 import PARTIAL_SUFFIX, h5_reason, missing_sources, partial_path
from mcsim.io.safepath import UnsafePathError

_INCOMPLETE = "*** INCOMPLETE ***"
_SNAPSHOTS_SHOWN = 20
_KNOWN_GROUPS = ("config", "provenance", "timeseries", "snapshots", "pores", "pore_series")
#: Largest grid whose final snapshot the short summary reads to split the lithium left in
#: sources by compound (larger grids get the total from the time series only).
_MAX_SPLIT_VOXELS = 1 << 26
#: Voxels read at a time when it does.
_SLAB_VOXELS = 1 << 22
#: Errors a damaged or unexpected file raises while a section is read: the section says it
#: is unreadable and the summary goes on.
_SECTION_ERRORS = (OSError, KeyError, ValueError, TypeError, IndexError, AttributeError,
                   RuntimeError, tomllib.TOMLDecodeError)
_LABEL = 13


class UnreadableResultError(OSError):
    """The file given to ``mcsim info`` is not a readable HDF5 file (``mcsim info`` exits 2)."""


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return " x ".join(str(v) for v in value.tolist()) if value.ndim == 1 else str(value)
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return str(value)


def _status(f: h5py.File, path: Path, lines: list) -> bool:
    """Append the status line; return whether the file is a finished, whole result."""
    complete = f.attrs.get("complete", False)
    try:
        missing = missing_sources(f, path.parent)
    except UnsafePathError as err:
        raise UnreadableResultError(f"{path}: refused: {err}") from None
    if missing:
        lines.append(f"status: {_INCOMPLETE} part files of its snapshots are missing: "
                     f"{', '.join(missing)} -- those snapshots cannot be read (move or copy "
                     f"the result together with {path.name}.parts)")
        return False
    if isinstance(complete, (bool, np.bool_)) and bool(complete) and \
            not path.name.endswith(PARTIAL_SUFFIX):
        lines.append("status: complete")
        return True
    lines.append(f"status: {_INCOMPLETE} complete={_text(complete)} -- the run crashed, "
                 "was aborted or is still running; data may be truncated")
    return False


def _versions(f: h5py.File, lines: list) -> None:
    attrs = f.attrs
    lines.append(f"schema {_text(attrs.get('schema_version', '?'))}, "
                 f"mcsim {_text(attrs.get('mcsim_version', '?'))}, "
                 f"seed {_text(attrs.get('seed', '?'))}")
    if "grid_shape" in attrs and "voxel_nm" in attrs:
        shape = [int(n) for n in attrs["grid_shape"]]
        voxel = float(attrs["voxel_nm"])
        box = " x ".join(f"{n * voxel:g}" for n in shape)
        lines.append(f"grid {' x '.join(map(str, shape))} voxels, voxel {voxel:g} nm "
                     f"(box {box} nm)")


def _provenance(f: h5py.File, lines: list) -> None:
    prov = f.get("provenance")
    if prov is None:
        lines.append("provenance: none in this file")
        return
    lines.append("provenance:")
    keys = ["host", "mpi_ranks", "threads", "start_time", "end_time", "wall_time_s",
            "git_commit"]
    keys = [k for k in keys if k in prov.attrs] + sorted(set(prov.attrs) - set(keys))
    width = max([14, *map(len, keys)])
    for key in keys:
        lines.append(f"  {key:<{width}} {_text(prov.attrs[key])}")
    for name, sub in prov.items():
        if isinstance(sub, h5py.Group):
            items = ", ".join(f"{k}={_text(v)}" for k, v in sub.attrs.items())
            lines.append(f"  {name}: {items}")


def _timeseries(f: h5py.File, lines: list) -> None:
    ts = f.get("timeseries")
    if ts is None or "time_s" not in ts or ts["time_s"].shape[0] == 0:
        lines.append("timeseries: no rows")
        return
    t = ts["time_s"][:]
    lines.append(f"timeseries: {t.size} rows, t = {t.min():g} .. {t.max():g} s "
                 f"({t.min() / 60:.4g} .. {t.max() / 60:.4g} min)")
    if "temperature_c" in ts:
        temp = ts["temperature_c"][:]
        lines.append(f"  temperature {np.nanmin(temp):.6g} .. {np.nanmax(temp):.6g} degC")
    extras = [name for name in ts if name not in ("time_s", "temperature_c", "phase_fraction")]
    for name in extras:
        dset = ts[name]
        units = _text(dset.attrs.get("units", "?"))
        lines.append(f"  {name}: shape {dset.shape}, units {units}")
    if "phase_fraction" in ts and ts["phase_fraction"].shape[0]:
        pf = ts["phase_fraction"]
        names = [_text(n) for n in pf.attrs.get("phases", [])]
        final = pf[-1]
        names += [f"phase {i}" for i in range(len(names), final.size)]
        lines.append(f"final phase fractions (t = {t[-1] / 60:.4g} min):")
        lines.append(f"  {'phase':<12} fraction")
        for name, value in zip(names, final):
            lines.append(f"  {name:<12} {value:.4f}")


def _snapshots(f: h5py.File, lines: list) -> None:
    snaps = f.get("snapshots")
    keys = sorted(snaps) if snaps is not None else []
    lines.append(f"snapshots: {len(keys)}")
    if not keys:
        return
    fields = ", ".join(f"{n} {snaps[keys[0]][n].dtype}" for n in snaps[keys[0]])
    lines.append(f"  fields: {fields}")
    lines.append(f"  {'index':<6} {'time_min':>10} {'temperature_c':>14}")
    half = _SNAPSHOTS_SHOWN // 2
    shown = keys if len(keys) <= _SNAPSHOTS_SHOWN else keys[:half] + [None] + keys[-half:]
    for key in shown:
        if key is None:
            lines.append(f"  ... {len(keys) - 2 * half} more ...")
            continue
        attrs = snaps[key].attrs
        lines.append(f"  {key:<6} {float(attrs.get('time_s', np.nan)) / 60:>10.4g} "
                     f"{float(attrs.get('temperature_c', np.nan)):>14.6g}")


def _pores(f: h5py.File, lines: list) -> None:
    """The pore scalars of the last ``/pores/NNNN`` group (the final state of a finished run)."""
    pores = f.get("pores")
    keys = sorted(k for k in pores if k.isdigit()) if pores is not None else []
    if not keys:
        return
    from mcsim.pores import SCALAR_UNITS, SCALARS

    group = pores[keys[-1]]
    lines.append(f"pore statistics ({len(keys)} snapshots in /pores, /pore_series); last "
                 f"[{_text(group.attrs.get('label', keys[-1]))}], "
                 f"t = {float(group.attrs.get('time_s', np.nan)) / 60:.4g} min, "
                 f"{float(group.attrs.get('temperature_c', np.nan)):.6g} degC:")
    for name in SCALARS:
        if name in group:
            lines.append(f"  {name:<32} {_text(group[name][()]):>12} {SCALAR_UNITS[name][0]}")


def _other_groups(f: h5py.File, lines: list) -> None:
    for name, obj in f.items():
        if name in _KNOWN_GROUPS or not isinstance(obj, h5py.Group):
            continue
        lines.append(f"/{name}:")
        for key, value in obj.attrs.items():
            lines.append(f"  @{key} = {_text(value)}")

        def show(sub_name, item):
            if isinstance(item, h5py.Dataset):
                if item.shape == ():
                    value = item.asstr()[()] if h5py.check_string_dtype(item.dtype) else item[()]
                    lines.append(f"  {sub_name} = {_text(value)}")
                else:
                    lines.append(f"  {sub_name}: {item.dtype} {item.shape}")
            else:
                lines.append(f"  {sub_name}/")

        obj.visititems(show)


# ------------------------------------------------------------------------------------------
# the short summary
# ------------------------------------------------------------------------------------------
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


def _porosity_extras(group) -> list:
    """Further porosity scalars of a /pores group (e.g. a porosity by mass), name and value."""
    extras = []
    for name in sorted(group):
        if name != "porosity" and "porosity" in name:
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
    text = "not computed" if count is None else f"{count:g}"
    if core is not None:
        text += f"; core density {core:.4g} per um^3"
        if shell is not None:
            text += f" (shell {shell:.4g})"
    lines.append(_row("  nanopores", text))
    count = _scalar(group, "void_count")
    text = "not computed" if count is None else f"{count:g}"
    kinds = [(n, _scalar(group, f"{n}_count")) for n in ("intergranular", "open")]
    if count is not None and all(v is not None for _, v in kinds):
        text += " (" + ", ".join(f"{n} {v:g}" for n, v in kinds) + ")"
    central = _scalar(group, "central_void_fraction")
    if central is not None:
        text += f"; central void fraction {central:.4f}"
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
    from mcsim.figures import FIGURES

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


def _guard(lines: list, label: str, fn, *args) -> None:
    """Run one section; a damaged part of the file gets one line instead of a traceback."""
    try:
        fn(*args, lines)
    except UnreadableResultError:
        raise
    except _SECTION_ERRORS as err:
        reason = (str(err).splitlines() or [type(err).__name__])[0]
        lines.append(_row(label, f"unreadable ({reason})"))


def summarize(path, full: bool = True) -> str:
    """Describe a result file in plain text.

    Parameters
    ----------
    path : str or os.PathLike
        Result file, or its ``.partial`` (which is always reported as INCOMPLETE). When only
        ``path.partial`` exists, that file is summarized instead.
    full : bool
        False: the short summary of ``mcsim info`` (about 15 lines). True (the default, as
        ``mcsim info --all``): the short summary followed by everything else in the file.

    Returns
    -------
    str
        The short summary: status (complete, or INCOMPLETE and why), what was run (schedule,
        parameter set, lithium source, seed, particle and grid), the final TM phase shares
        and the lithium left in sources, porosity, nanopores and voids at the last snapshot,
        wall time and ranks, and where the figures are. ``full`` adds versions, every
        provenance attribute, every time series, final phase fractions over the grid, the
        snapshot list, the final pore scalars and any further top-level groups.

    Raises
    ------
    FileNotFoundError
        If neither ``path`` nor ``path.partial`` exists.
    UnreadableResultError
        If the file is not readable HDF5, or its snapshots read files outside its folder.

    Examples
    --------
    >>> print(summarize("run.h5", full=False))                 # doctest: +SKIP
    """
    path = shown = Path(path)
    lines = [f"mcsim result: {path}"]
    if not path.exists() and partial_path(path).exists():
        lines.append(f"{_INCOMPLETE} {path.name} does not exist; only "
                     f"{partial_path(path).name} (an unfinished run) is there")
        path = partial_path(path)
    elif not path.exists():
        raise FileNotFoundError(f"no result file at {path}")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise UnreadableResultError(f"{path}: cannot be read as an HDF5 result file "
                                    f"({h5_reason(err)})") from None
    with f:
        whole = _status(f, path, lines)
        complete = whole or (isinstance(f.attrs.get("complete"), (bool, np.bool_))
                             and bool(f.attrs["complete"])
                             and not path.name.endswith(PARTIAL_SUFFIX))
        try:
            cfg = _config(f)
            schedule = _schedule(cfg)
        except _SECTION_ERRORS:
            cfg = schedule = None
        _guard(lines, "run", _what_was_run, f, cfg, schedule)
        _guard(lines, "final state", _final_state, f, complete, schedule, whole)
        _guard(lines, "pores", _pore_summary, f, cfg)
        _guard(lines, "wall time", _wall_time, f)
        _guard(lines, "figures", _figures, path, shown, whole)
        if not full:
            lines.append(_row("more", f"mcsim info --all {shlex.quote(str(shown))} (every "
                              "provenance field, time series, snapshot and group)"))
            return "\n".join(lines)
        lines.append("")
        lines.append("everything in the file:")
        _guard(lines, "versions", _versions, f)
        _guard(lines, "provenance", _provenance, f)
        _guard(lines, "timeseries", _timeseries, f)
        _guard(lines, "snapshots", _snapshots, f)
        _guard(lines, "pore statistics", _pores, f)
        _guard(lines, "other groups", _other_groups, f)
    return "\n".join(lines)
