"""Central cross-sections of every snapshot, coloured by phase (the analogue of the paper's SEM
cross-sections, Fig. 1c-e and Fig. 2g-i).

Usage: python -m mcsim.figures.cross_sections RUN.h5 [-o FIGURE.png] [--pdf]

Reads the middle plane along the slowest axis (n0, called z) of /snapshots/NNNN/phase for every
snapshot, with the snapshot's temperature, time and label attributes and the root attribute
voxel_nm for the length scale. Pores (and the space around the particle) are black; a
lithium-source voxel whose amount is 0 (read from the snapshot's amount field) holds no solid
and is drawn as a pore.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

from mcsim.figures import _common as C

NAME = "cross_sections"
MAX_COLUMNS = 4


def plot(h5_path: str | Path, out_path: str | Path, formats=None) -> Path:
    """Write the figure for ``h5_path`` to ``out_path`` (PNG or PDF by suffix); return the path."""
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    slices = []
    with C.open_result(h5_path) as f:
        voxel_um = float(f.attrs.get("voxel_nm", 1.0)) / 1000.0
        title = C.run_title(f)
        for key in C.snapshot_keys(f):
            group = f["snapshots"][key]
            ds = group["phase"]
            z = ds.shape[0] // 2
            slices.append({"phase": C.phase_slice(group, z), "z": z,
                           "temperature_c": float(group.attrs.get("temperature_c", np.nan)),
                           "time_s": float(group.attrs.get("time_s", np.nan)),
                           "label": str(group.attrs.get("label", key))})
    n_codes = len(C.PHASE_NAMES)
    cmap = ListedColormap([C.PHASE_COLOURS[name] for name in C.PHASE_NAMES])
    norm = BoundaryNorm(np.arange(-0.5, n_codes), n_codes)

    if not slices:
        fig = C.new_figure(figsize=(5, 3))
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "this run wrote no snapshots", ha="center", va="center")
        ax.set_axis_off()
        fig.suptitle(title, fontsize=10)
        return C.save(fig, out_path, formats)

    nrows = math.ceil(len(slices) / MAX_COLUMNS)
    ncols = math.ceil(len(slices) / nrows)  # balanced rows: 5 panels as 3 + 2, not 4 + 1
    fig = C.new_figure(figsize=(3.0 * ncols + 0.4, 3.1 * nrows + 0.9))
    grid = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    for ax in grid[:-1].ravel():
        ax.tick_params(labelbottom=False)
    axes = grid.ravel()
    present = set()
    for ax, s in zip(axes, slices):
        img = s["phase"]
        present.update(np.unique(img).tolist())
        ny, nx = img.shape
        ax.imshow(img, cmap=cmap, norm=norm, interpolation="nearest", origin="lower",
                  extent=(0.0, nx * voxel_um, 0.0, ny * voxel_um))
        ax.set_title(f"{s['temperature_c']:.0f} °C, {s['time_s'] / 60:.0f} min\n[{s['label']}]",
                     fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes[len(slices):]:
        ax.set_axis_off()
    for i, ax in enumerate(axes[:len(slices)]):
        row, col = divmod(i, ncols)
        if col == 0:
            ax.set_ylabel("y (µm)", fontsize=8)
        if row == nrows - 1 or i + ncols >= len(slices):  # lowest panel of its column
            ax.set_xlabel("x (µm)", fontsize=8)
            ax.tick_params(labelbottom=True)
    handles = [Patch(facecolor=C.PHASE_COLOURS[name], edgecolor="0.5", label=C.PHASE_LABELS[c])
               for c, name in enumerate(C.PHASE_NAMES) if c in present or c >= 4]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8,
               frameon=False)
    fig.suptitle(f"Central cross-sections (z = {slices[0]['z']}) by phase — {title}",
                 fontsize=10)
    return C.save(fig, out_path, formats)


def main(argv=None) -> int:
    return C.script_main(plot, NAME, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
