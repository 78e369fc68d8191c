"""Particle-size study from finished mcsim results: one row per run, and a figure against radius.

Usage: python analysis/size_study.py RUN.h5 [RUN.h5 ...] [-o FIGURE.png]

For each run it prints the particle radius, the voxel, the parameter set, the transition-metal
shares (hydroxide / rock salt / layered) when the furnace first reaches 300 C, the layered
core-shell contrast there, and, for runs that went on to the end, the final core nanopore
density with the count of nanopores it is made of (schema 3.1; counted on the last snapshot
for older files; a density from n pores is uncertain by about sqrt(n) / n). With ``-o`` it draws the three against the radius, one line
per (parameter set, voxel), seeds of one case as separate points, the density with the
counting error of each point. Runs that never reach 600 C (for example cut at 300 C with
``schedule.preset = "ramp"``, ``schedule.to_c = 300``) give the first two only.
"""

from __future__ import annotations

import argparse
import math
import sys
import tomllib

import numpy as np

from mcsim.figures import _common as C
from mcsim.sweep.index import CONTRAST_AT_C

#: Temperature at which the calcination figures are read, C (the paper's Fig. 2j): that of
#: the sweep index's contrast outcome.
AT_C = CONTRAST_AT_C
#: A run whose furnace reached this (the default sintering onset, C) reports its final core
#: nanopore density; runs cut earlier report the calcination figures only.
SINTERED_C = 600.0


def _config(f) -> dict:
    return tomllib.loads(f["config"].asstr()[()])


def read_run(path) -> dict:
    """The figures of one result (raises ``C.ResultFileError`` for an unusable file). The
    contrast at 300 C and the final core nanopores are the sweep index's outcomes
    (:func:`mcsim.sweep.read_outcomes`: the contrast at the time the schedule reaches 300 C,
    the pores from the final statistics or, for older files, the last snapshot)."""
    from mcsim.sweep import read_outcomes

    with C.open_result(path) as f:
        cfg = _config(f)
        temp = C.series(f, "temperature_c")
        frac = C.series(f, "tm_phase_fraction")
        row = {"path": str(path), "seed": int(f.attrs["seed"]),
               "radius_um": float(cfg.get("particle", {}).get("radius_um", math.nan)),
               "voxel_nm": float(f.attrs["voxel_nm"]),
               "parameter_set": str(cfg.get("model", {}).get("parameter_set", "ncm622-lioh")),
               "shares_300c": (math.nan,) * 3, "core_density": math.nan, "core_count": -1,
               "final": "pore_series" in f and float(np.nanmax(temp)) >= SINTERED_C}
        i = C.first_at_or_above(temp, AT_C)
        if i is not None:
            row["shares_300c"] = tuple(float(v) for v in frac[i])
    out = read_outcomes(path, cfg, log=lambda *_: None)
    row["contrast_300c"] = out["contrast_layered_300c"]
    if row["final"]:
        row["core_density"] = out["nanopore_density_core_per_um3"]
        n = out["nanopore_count_core"]
        row["core_count"] = int(n) if math.isfinite(n) else -1
    return row


def table(rows) -> list[str]:
    """The rows as text, sorted by parameter set, voxel and radius."""
    head = (f"{'radius':>7} {'voxel':>6} {'seed':>4}  {'set':<16} {'TM(OH)2':>8} "
            f"{'rocksalt':>8} {'layered':>8} {'contrast':>8}  {'core nanopores /um^3':>22}")
    out = [f"TM shares and contrast at {AT_C:g} C; core nanopore density at the end", head]
    for r in sorted(rows, key=lambda r: (r["parameter_set"], r["voxel_nm"], r["radius_um"],
                                         r["seed"])):
        h, rs, lay = r["shares_300c"]
        dens = "-" if not r["final"] else (
            f"{r['core_density']:.0f}" + (f" ({r['core_count']} pores)" if r["core_count"] >= 0
                                          else ""))
        out.append(f"{r['radius_um']:6.2f}u {r['voxel_nm']:4.0f}nm {r['seed']:>4}  "
                   f"{r['parameter_set']:<16} {h:8.3f} {rs:8.3f} {lay:8.3f} "
                   f"{r['contrast_300c']:8.2f}  {dens:>22}")
    return out


def plot(rows, out_path, formats=None):
    """Three panels against the radius: TM shares at 300 C, the contrast there, and the final
    core nanopore density (error bar: the count's square root). Every run is a point; the
    lines join the means over the seeds of each radius."""
    fig = C.new_figure(figsize=(12.0, 3.8))
    ax_share, ax_con, ax_np = fig.subplots(1, 3)
    cases = sorted({(r["parameter_set"], r["voxel_nm"]) for r in rows})
    markers = "osD^v<>"
    for k, (pset, vox) in enumerate(cases):
        sel = sorted((r for r in rows if (r["parameter_set"], r["voxel_nm"]) == (pset, vox)),
                     key=lambda r: r["radius_um"])
        rad = np.array([r["radius_um"] for r in sel])
        radii = np.unique(rad)

        def means(values):  # the seeds of one radius averaged, for the line through them
            v = np.asarray(values, dtype=np.float64)
            return np.array([np.nanmean(v[rad == x], axis=0) for x in radii])

        label = f"{pset}, {vox:g} nm"
        m = markers[k % len(markers)]
        shares = np.array([r["shares_300c"] for r in sel])
        mean_shares = means(shares)
        for j, name in enumerate(C.TM_PHASES):
            colour = C.PHASE_COLOURS[name]
            ax_share.plot(rad, shares[:, j], m, ms=4, color=colour)
            ax_share.plot(radii, mean_shares[:, j], ls="-" if j == 2 else ":", color=colour,
                          label=f"{C.TM_LABELS[name]}, {label}" if j == 2 or k == 0 else None)
        contrast = [r["contrast_300c"] for r in sel]
        line, = ax_con.plot(radii, means(contrast), "-", label=label)
        ax_con.plot(rad, contrast, m, ms=4, color=line.get_color())
        fin = [r for r in sel if r["final"]]
        if fin:
            dens = np.array([r["core_density"] for r in fin])
            err = np.array([dens_i / math.sqrt(r["core_count"]) if r["core_count"] > 0 else 0.0
                            for dens_i, r in zip(dens, fin)])
            ax_np.errorbar([r["radius_um"] for r in fin], dens, yerr=err, fmt=m, ms=4,
                           capsize=2, color=line.get_color(), label=label)
    ax_share.set(xlabel="particle radius (µm)", ylabel=f"TM share at {AT_C:g} °C",
                 ylim=(0, 1), title="phases at 300 °C")
    ax_con.set(xlabel="particle radius (µm)", ylabel="layered share, shell − core",
               title="core–shell contrast at 300 °C")
    ax_np.set(xlabel="particle radius (µm)", ylabel="core nanopores (µm⁻³)",
              title="final core nanopore density")
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

    radii = sorted({r["radius_um"] for r in rows})
    for ax in (ax_share, ax_con, ax_np):
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator(radii))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.legend(fontsize=6)
    return C.save(fig, out_path, formats)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", metavar="RUN.h5", nargs="+")
    parser.add_argument("-o", "--output", metavar="FIGURE.png", default=None)
    args = parser.parse_args(argv)
    try:
        rows = [read_run(p) for p in args.results]
    except C.ResultFileError as exc:
        print(f"size_study.py: error: {exc}", file=sys.stderr)
        return 1
    print("\n".join(table(rows)))
    if args.output:
        print(plot(rows, args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
