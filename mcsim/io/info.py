"""Human-readable summary of a result file, printed by ``mcsim info OUT.h5``."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from mcsim.io.hdf5 import PARTIAL_SUFFIX, h5_reason, missing_sources, partial_path
from mcsim.io.safepath import UnsafePathError

_INCOMPLETE = "*** INCOMPLETE ***"
_SNAPSHOTS_SHOWN = 20
_KNOWN_GROUPS = ("config", "provenance", "timeseries", "snapshots", "pores", "pore_series")


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


def _header(f: h5py.File, path: Path, lines: list) -> None:
    complete = f.attrs.get("complete", False)
    try:
        missing = missing_sources(f, path.parent)
    except UnsafePathError as err:
        raise UnreadableResultError(f"{path}: refused: {err}") from None
    if missing:
        lines.append(f"status: {_INCOMPLETE} part files of its snapshots are missing: "
                     f"{', '.join(missing)} -- those snapshots cannot be read (move or copy "
                     f"the result together with {path.name}.parts)")
    elif isinstance(complete, (bool, np.bool_)) and bool(complete) and \
            not path.name.endswith(PARTIAL_SUFFIX):
        lines.append("status: complete")
    else:
        lines.append(f"status: {_INCOMPLETE} complete={_text(complete)} -- the run crashed, "
                     "was aborted or is still running; data may be truncated")
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
        return
    lines.append("provenance:")
    keys = ["host", "mpi_ranks", "threads", "start_time", "end_time", "wall_time_s",
            "git_commit"]
    for key in keys:
        if key in prov.attrs:
            lines.append(f"  {key:<14} {_text(prov.attrs[key])}")
    others = sorted(set(prov.attrs) - set(keys))
    if others:
        lines.append("  also: " + ", ".join(others))
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


def summarize(path) -> str:
    """Describe a result file in a few dozen lines of plain text.

    Parameters
    ----------
    path : str or os.PathLike
        Result file, or its ``.partial`` (which is always reported as INCOMPLETE). When only
        ``path.partial`` exists, that file is summarized instead.

    Returns
    -------
    str
        Completeness, versions, seed, grid, provenance, time-series range, final phase
        fractions, the snapshot list and any further top-level groups.

    Raises
    ------
    FileNotFoundError
        If neither ``path`` nor ``path.partial`` exists.
    UnreadableResultError
        If the file is not readable HDF5, or its snapshots read files outside its folder.

    Examples
    --------
    >>> print(summarize("run.h5"))                             # doctest: +SKIP
    """
    path = Path(path)
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
        _header(f, path, lines)
        _provenance(f, lines)
        _timeseries(f, lines)
        _snapshots(f, lines)
        _pores(f, lines)
        _other_groups(f, lines)
    return "\n".join(lines)
