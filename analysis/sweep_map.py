"""Map one outcome of a parameter sweep over two swept parameters, replicas averaged.

Usage: python analysis/sweep_map.py INDEX.h5 --x KEY --y KEY --outcome NAME
       [--where KEY=VALUE ...] [-o FIGURE.png]

Reads only the sweep index written by ``mcsim sweep`` (layout in the docstring of
mcsim/sweep.py): /params/<key> (one column per swept key), /outcomes/<name> and
/runs/status. Runs that are not done are left out; the replicas of each (x, y) point are
averaged (NaN outcomes ignored) and the cell shows the mean and the number of replicas. When
the points fill most of the x-y grid the map is a pcolormesh (cells at the swept values,
missing points grey); otherwise a scatter plot coloured by the mean. Any other swept key must
take a single value among the selected runs: fix it with ``--where KEY=VALUE``. The figure is
written as PNG and PDF (the same stem).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import h5py
import numpy as np

from mcsim.figures import _common as C

NAME = "sweep_map"

#: Share of the x-y grid that must hold data for a pcolormesh (else: scatter).
MIN_GRID_FILL = 0.5


def _decode(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind in "OS":
        return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values],
                        dtype=object)
    return values


def read_index(index_path: str | Path) -> dict:
    """The index as ``{"params": {key: array}, "outcomes": {name: array}, "status": array}``."""
    path = Path(index_path)
    if not path.exists():
        raise C.ResultFileError(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise C.ResultFileError(f"{path}: not a readable HDF5 file ({exc})") from exc
    with f:
        if f.attrs.get("format") != "mcsim-sweep-index":
            raise C.ResultFileError(f"{path}: not an mcsim sweep index (no format = "
                                    "'mcsim-sweep-index' attribute)")
        keys = [k.decode() if isinstance(k, bytes) else str(k) for k in f.attrs["swept_keys"]]
        return {
            "params": {k: _decode(f["params"][k][()]) for k in keys},
            "outcomes": {k: np.asarray(f["outcomes"][k][()], dtype=np.float64)
                         for k in f["outcomes"]},
            "status": _decode(f["runs/status"][()]),
        }


def _parse_where(items) -> dict:
    out = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep:
            raise C.ResultFileError(f"--where {item!r}: must look like KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def _matches(column: np.ndarray, text: str) -> np.ndarray:
    if column.dtype.kind in "biuf":
        try:
            return np.isclose(column.astype(np.float64), float(text), rtol=1e-9, atol=0.0)
        except ValueError:
            return np.zeros(column.shape, dtype=bool)
    return np.array([str(v) == text for v in column])


def aggregate(index: dict, x: str, y: str, outcome: str, where: dict | None = None) -> dict:
    """Average ``outcome`` over the replicas of each (x, y) point of the done runs.

    Returns a dict with ``x``, ``y`` (the distinct points), ``mean`` and ``count`` (finite
    replicas at each point), and ``xs``, ``ys`` (sorted distinct values of each axis).

    Raises
    ------
    ResultFileError
        For an unknown key or outcome, no done run, or another swept key that varies.
    """
    params, outcomes = index["params"], index["outcomes"]
    for key in (x, y, *(where or {})):
        if key not in params:
            raise C.ResultFileError(f"{key!r} is not a swept key of this index; swept keys: "
                                    f"{', '.join(params) or 'none'}")
    if outcome not in outcomes:
        raise C.ResultFileError(f"{outcome!r} is not an outcome of this index; outcomes: "
                                f"{', '.join(outcomes)}")
    if x == y:
        raise C.ResultFileError(f"--x and --y are both {x!r}")
    keep = np.asarray(index["status"] == "done", dtype=bool)
    for key, text in (where or {}).items():
        keep &= _matches(params[key], text)
    if not keep.any():
        raise C.ResultFileError("no done run matches (status done"
                                + (f" and {where}" if where else "") + ")")
    varying = [k for k in params if k not in (x, y) and len(set(params[k][keep].tolist())) > 1]
    if varying:
        raise C.ResultFileError(
            f"swept keys {', '.join(varying)} vary among the selected runs; fix each with "
            "--where KEY=VALUE (averaging over them would mix different conditions)")
    xv, yv, ov = params[x][keep], params[y][keep], outcomes[outcome][keep]
    points: dict = {}
    for a, b, v in zip(xv.tolist(), yv.tolist(), ov.tolist()):
        points.setdefault((a, b), []).append(v)
    pairs = sorted(points, key=lambda p: (_sort_key(p[0]), _sort_key(p[1])))
    values = [np.asarray(points[p], dtype=np.float64) for p in pairs]
    count = np.array([int(np.isfinite(v).sum()) for v in values])
    mean = np.array([float(np.mean(v[np.isfinite(v)])) if c else np.nan
                     for v, c in zip(values, count)])
    return {"x": [p[0] for p in pairs], "y": [p[1] for p in pairs], "mean": mean,
            "count": count, "xs": sorted(set(xv.tolist()), key=_sort_key),
            "ys": sorted(set(yv.tolist()), key=_sort_key)}


def _sort_key(value):
    return (0, float(value), "") if isinstance(value, (int, float)) else (1, 0.0, str(value))


def _numeric(values) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges halfway between centres, the end cells as wide as their neighbours."""
    if centres.size == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    mid = 0.5 * (centres[1:] + centres[:-1])
    return np.concatenate([[2 * centres[0] - mid[0]], mid, [2 * centres[-1] - mid[-1]]])


def _axis(values: list) -> tuple[np.ndarray, list | None]:
    """Plot coordinates of sorted distinct values, and tick labels for a categorical axis."""
    if _numeric(values):
        return np.asarray(values, dtype=np.float64), None
    return np.arange(len(values), dtype=np.float64), [str(v) for v in values]


def plot(index_path: str | Path, out_path: str | Path, *, x: str, y: str, outcome: str,
         where: dict | None = None, formats=("png", "pdf")) -> Path:
    """Write the map of ``outcome`` over ``x`` and ``y`` to ``out_path`` (and ``formats``)."""
    agg = aggregate(read_index(index_path), x, y, outcome, where)
    xs, xticks = _axis(agg["xs"])
    ys, yticks = _axis(agg["ys"])
    xpos = {v: xs[i] for i, v in enumerate(agg["xs"])}
    ypos = {v: ys[i] for i, v in enumerate(agg["ys"])}
    px = np.array([xpos[v] for v in agg["x"]])
    py = np.array([ypos[v] for v in agg["y"]])
    fig = C.new_figure(figsize=(6.4, 4.8))
    ax = fig.add_subplot()
    fill = len(agg["x"]) / (len(xs) * len(ys))
    finite = agg["mean"][np.isfinite(agg["mean"])]
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if fill >= MIN_GRID_FILL:
        grid = np.full((len(ys), len(xs)), np.nan)
        for a, b, m in zip(agg["x"], agg["y"], agg["mean"]):
            grid[agg["ys"].index(b), agg["xs"].index(a)] = m
        ax.set_facecolor("0.85")  # missing points and NaN means
        mesh = ax.pcolormesh(_edges(xs), _edges(ys), np.ma.masked_invalid(grid),
                             cmap="viridis", vmin=vmin, vmax=vmax, shading="flat")
        mid = 0.5 * (vmin + vmax)
        for a, b, m, n in zip(px, py, agg["mean"], agg["count"]):
            text = "n/a" if not np.isfinite(m) else f"{m:.3g}\n(n={n})"
            colour = "black" if not np.isfinite(m) or m > mid else "white"
            ax.text(a, b, text, ha="center", va="center", fontsize=8, color=colour)
    else:
        mesh = ax.scatter(px, py, c=agg["mean"], cmap="viridis", vmin=vmin, vmax=vmax, s=120,
                          edgecolors="black", plotnonfinite=True)
        for a, b, n in zip(px, py, agg["count"]):
            ax.annotate(f"n={n}", (a, b), textcoords="offset points", xytext=(0, 9),
                        ha="center", fontsize=7)
    fig.colorbar(mesh, ax=ax, label=f"{outcome} (mean over replicas)")
    if xticks is not None:
        ax.set_xticks(xs, xticks)
    if yticks is not None:
        ax.set_yticks(ys, yticks)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    title = f"{outcome} — {Path(index_path).name}"
    if where:
        title += " (" + ", ".join(f"{k}={v}" for k, v in where.items()) + ")"
    ax.set_title(title, fontsize=10)
    return C.save(fig, out_path, formats)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("index", metavar="INDEX.h5", help="sweep index (OUTDIR/index.h5)")
    p.add_argument("--x", required=True, metavar="KEY", help="swept key on the x axis")
    p.add_argument("--y", required=True, metavar="KEY", help="swept key on the y axis")
    p.add_argument("--outcome", required=True, metavar="NAME",
                   help="outcome column, e.g. contrast_layered_300c")
    p.add_argument("--where", action="append", default=[], metavar="KEY=VALUE",
                   help="keep only runs with this value of another swept key (repeatable)")
    p.add_argument("-o", "--output", metavar="OUT.png", default=None,
                   help="figure file (default: INDEX_map_OUTCOME.png next to INDEX.h5); a PDF "
                        "of the same stem is written too")
    args = p.parse_args(argv)
    out = Path(args.output) if args.output else Path(args.index).with_name(
        f"{Path(args.index).stem}_map_{args.outcome}.png")
    formats = ["png", "pdf"]
    try:
        plot(args.index, out, x=args.x, y=args.y, outcome=args.outcome,
             where=_parse_where(args.where), formats=formats)
    except C.ResultFileError as exc:
        print(f"{Path(sys.argv[0]).name}: error: {exc}", file=sys.stderr)
        return 1
    for path in C.output_paths(out, formats):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
