"""Two runs side by side (R-NCM against TS-NCM, as made by ``mcsim compare``): final central
cross-sections coloured by phase, pore-size distributions and porosity by r/R (the analogue of
the paper's Fig. 3 and Fig. 4b-e cross-sections of the two products).

Usage: python -m mcsim.figures.compare_runs A.h5 B.h5 [-o FIGURE.png] [--pdf]

Reads, for each run, the middle plane along the slowest axis (n0, called z) of the last
snapshot's ``phase`` and ``grain`` fields, and the last ``/pores/NNNN`` group
(``size_distribution``, ``porosity_shell``, ``shell_edges_r_over_r``). In the cross-sections
intergranular and open pores are black and intragranular nanopores yellow, told apart by the
engine's tag on pore voxels (``grain`` >= 1: a nanopore inside that grain, -1: an
intergranular pore; see SCHEMA.md), and the outside of the particle is white (a used-up
lithium-source voxel, amount 0, is drawn as the pore it has become); the pore
statistics classify pores by their geometry instead (mcsim.pores), which can differ for a few
pores. Size distributions: number of pores per equivalent-diameter bin, nanopores and voids,
both runs overlaid. A run without ``/pores`` (written before schema 1.2) gets a note in
those panels.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from mcsim.figures import _common as C

NAME = "compare_runs"
#: Colour of intragranular nanopores in the cross-sections (voids stay black).
NANOPORE_COLOUR = "#ffd92f"
OUTSIDE_COLOUR = "white"
#: Line styles of run A and run B.
RUN_STYLES = ("-", "--")
CLASS_COLOURS = {"nanopore": "#e6ab02", "void": "0.2"}


def _read(h5_path) -> dict:
    """Final cross-section and pore statistics of one run."""
    with C.open_result(h5_path) as f:
        out = {"title": C.run_title(f), "name": Path(f.filename).name,
               "voxel_um": float(f.attrs.get("voxel_nm", 1.0)) / 1000.0, "preset": None}
        if "config" in f:
            for line in f["config"].asstr()[()].splitlines():
                s = line.strip()
                if s.startswith("preset") and "=" in s:
                    out["preset"] = s.split("=", 1)[1].strip().strip("'\"")
                    break
        keys = C.snapshot_keys(f)
        if keys:
            g = f["snapshots"][keys[-1]]
            z = g["phase"].shape[0] // 2
            out.update(phase=C.phase_slice(g, z), grain=g["grain"][z], z=z,
                       temperature_c=float(g.attrs.get("temperature_c", np.nan)),
                       time_s=float(g.attrs.get("time_s", np.nan)),
                       label=str(g.attrs.get("label", keys[-1])))
        pkeys = sorted(k for k in f["pores"] if k.isdigit()) if "pores" in f else []
        if pkeys:
            p = f["pores"][pkeys[-1]]
            sd = p["size_distribution"]
            out["sizes"] = {k: sd[k][()] for k in ("edges_nm", "nanopore_count", "void_count")}
            out["porosity_shell"] = p["porosity_shell"][()]
            out["shell_edges"] = p["shell_edges_r_over_r"][()]
            out["porosity"] = float(p["porosity"][()])
    return out


def _cross_section_image(run: dict) -> np.ndarray:
    """Codes 0..6 as the phases, 7 = nanopore, 8 = outside the particle."""
    img = run["phase"].astype(np.int16)
    pore = img == 0
    img[pore & (run["grain"] > 0)] = 7
    img[pore & (run["grain"] == 0)] = 8
    return img


def plot(h5_a, h5_b, out_path, formats=None, labels=None) -> Path:
    """Write the comparison figure of ``h5_a`` and ``h5_b`` to ``out_path`` (PNG or PDF by
    suffix, plus ``formats``); return the path. ``labels``: legend names of the two runs
    (default: their schedule presets, else file names)."""
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    runs = [_read(h5_a), _read(h5_b)]
    if labels is None:
        labels = [r["preset"] or r["name"] for r in runs]
        if labels[0] == labels[1]:
            labels = [r["name"] for r in runs]
    colours = [C.PHASE_COLOURS[n] for n in C.PHASE_NAMES] + [NANOPORE_COLOUR, OUTSIDE_COLOUR]
    cmap = ListedColormap(colours)
    norm = BoundaryNorm(np.arange(-0.5, len(colours)), len(colours))

    fig = C.new_figure(figsize=(10.0, 8.6))
    axes = fig.subplots(2, 2)
    present = set()
    for ax, run, label in zip(axes[0], runs, labels):
        if "phase" not in run:
            ax.text(0.5, 0.5, "this run wrote no snapshots", ha="center", va="center")
            ax.set_axis_off()
            continue
        img = _cross_section_image(run)
        present.update(np.unique(img).tolist())
        ny, nx = img.shape
        u = run["voxel_um"]
        ax.imshow(img, cmap=cmap, norm=norm, interpolation="nearest", origin="lower",
                  extent=(0.0, nx * u, 0.0, ny * u))
        ax.set_title(f"{label}: {run['temperature_c']:.0f} °C, {run['time_s'] / 60:.0f} min "
                     f"[{run['label']}], z = {run['z']}", fontsize=9)
        ax.set_xlabel("x (µm)", fontsize=8)
        ax.set_ylabel("y (µm)", fontsize=8)
        ax.tick_params(labelsize=7)
    handles = [Patch(facecolor=colours[c], edgecolor="0.5",
                     label=("void (inter-granular / open pore)" if c == 0 else C.PHASE_LABELS[c]))
               for c in range(len(C.PHASE_NAMES)) if c in present or c >= 4]
    handles.append(Patch(facecolor=NANOPORE_COLOUR, edgecolor="0.5", label="nanopore"))

    ax = axes[1, 0]
    drew = False
    for run, label, style in zip(runs, labels, RUN_STYLES):
        if "sizes" not in run:
            continue
        edges = run["sizes"]["edges_nm"]
        for cls in ("nanopore", "void"):
            counts = run["sizes"][f"{cls}_count"]
            ax.stairs(counts, edges, color=CLASS_COLOURS[cls], linestyle=style, linewidth=1.5)
            drew = True
    ax.set_xscale("log")
    if drew:
        ax.set_yscale("log")
        ax.set_ylim(bottom=0.7)
    ax.set_xlabel("equivalent diameter (nm)", fontsize=8)
    ax.set_ylabel("pores per bin", fontsize=8)
    ax.set_title("Pore-size distributions (final)", fontsize=9)
    ax.tick_params(labelsize=7)
    if drew:
        ax.legend(handles=[Line2D([], [], color=CLASS_COLOURS["nanopore"], label="nanopores"),
                           Line2D([], [], color=CLASS_COLOURS["void"], label="voids"),
                           *[Line2D([], [], color="k", linestyle=s, label=lab)
                             for s, lab in zip(RUN_STYLES, labels)]], fontsize=7)
    else:
        ax.text(0.5, 0.5, "no pore statistics (/pores) in these files", ha="center",
                va="center", transform=ax.transAxes)

    ax = axes[1, 1]
    drew = False
    for run, label, style in zip(runs, labels, RUN_STYLES):
        if "porosity_shell" not in run:
            continue
        e = run["shell_edges"]
        ax.plot(0.5 * (e[:-1] + e[1:]), run["porosity_shell"], linestyle=style, marker="o",
                markersize=3, color="k", label=f"{label} (mean {run['porosity']:.3f})")
        drew = True
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("r/R", fontsize=8)
    ax.set_ylabel("porosity", fontsize=8)
    ax.set_title("Porosity by radius (final)", fontsize=9)
    ax.tick_params(labelsize=7)
    if drew:
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no pore statistics (/pores) in these files", ha="center",
                va="center", transform=ax.transAxes)
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 5),
               fontsize=8, frameon=False)
    fig.suptitle(f"{labels[0]} vs {labels[1]}: {runs[0]['name']} / {runs[1]['name']}",
                 fontsize=10)
    return C.save(fig, out_path, formats)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("results", nargs=2, metavar="RUN.h5", help="two finished mcsim result files")
    p.add_argument("-o", "--output", metavar="OUT.png", default=None,
                   help="figure file (default: A_vs_B_compare_runs.png next to A)")
    p.add_argument("--pdf", action="store_true", help="also write a PDF")
    args = p.parse_args(argv)
    a, b = (Path(r) for r in args.results)
    out = Path(args.output) if args.output else a.with_name(f"{a.stem}_vs_{b.stem}_{NAME}.png")
    formats = ["png", "pdf"] if args.pdf or out.suffix.lower() == ".pdf" else []
    try:
        plot(a, b, out, formats=formats)
    except C.ResultFileError as exc:
        print(f"{Path(sys.argv[0]).name}: error: {exc}", file=sys.stderr)
        return 1
    for path in C.output_paths(out, formats):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
