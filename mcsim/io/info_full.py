"""The sections ``mcsim info --all`` adds to the short summary: everything else the file holds.

Versions and grid, every provenance attribute, every time series with the final phase
fractions over the grid, the snapshot list, the pore scalars of the last ``/pores`` group and
any further top-level groups. :func:`mcsim.io.info.summarize` puts the sections together.
"""

from __future__ import annotations

import h5py
import numpy as np

from mcsim.io.info_summary import _text

_SNAPSHOTS_SHOWN = 20
_KNOWN_GROUPS = ("config", "provenance", "timeseries", "snapshots", "pores", "pore_series")


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
    # lazy: mcsim.pores brings the Numba kernels of mcsim.diagnostics into mcsim.io
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
