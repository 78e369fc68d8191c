"""Map the layered and rock-salt shares over r/R and temperature, with the core-shell boundary.

Usage: python -m mcsim.figures.radial_map RUN.h5 [-o FIGURE.png] [--pdf]

Reads /timeseries/radial_layered and /timeseries/radial_rocksalt (TM share per shell of r/R,
equal shells from the centre to the surface), /timeseries/core_shell_r50 (r/R where the layered
share first reaches 50 % going outwards) and the time and temperature columns. Two panels show
the heating branch: temperature along x, r/R along y (the analogue of the paper's core-shell
evolution, Fig. 2c-f). Where the furnace holds a temperature only the last row of the hold is
drawn.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from mcsim.figures import _common as C

NAME = "radial_map"
PANELS = (("radial_layered", "layered", "Greens"), ("radial_rocksalt", "rocksalt", "Reds"))


def _last_per_temperature(temp: np.ndarray) -> np.ndarray:
    """Indices of rows keeping the last row of every run of equal temperatures (holds)."""
    keep = np.ones(len(temp), dtype=bool)
    keep[:-1] = np.diff(temp) > 0
    return np.flatnonzero(keep)


def _cell_edges(x: np.ndarray) -> np.ndarray:
    """Cell edges half-way between increasing centres ``x`` (the ends extended by half a gap)."""
    if len(x) == 1:
        return np.array([x[0] - 0.5, x[0] + 0.5])
    mid = 0.5 * (x[1:] + x[:-1])
    return np.concatenate([[x[0] - (mid[0] - x[0])], mid, [x[-1] + (x[-1] - mid[-1])]])


def plot(h5_path: str | Path, out_path: str | Path, formats=None) -> Path:
    """Write the figure for ``h5_path`` to ``out_path`` (PNG or PDF by suffix); return the path."""
    with C.open_result(h5_path) as f:
        temp = C.series(f, "temperature_c")
        time_s = C.series(f, "time_s")
        maps = {key: C.series(f, key) for key, _, _ in PANELS}
        r50 = C.series(f, "core_shell_r50")
        title = C.run_title(f)
    heating = np.flatnonzero(C.heating_branch(time_s, temp))
    rows = heating[_last_per_temperature(temp[heating])]
    t = temp[rows]
    nbins = maps[PANELS[0][0]].shape[1]
    r_edges = np.linspace(0.0, 1.0, nbins + 1)
    t_edges = _cell_edges(t)
    # core_shell_r50 is 1.0 both when no shell has reached 50 % layered and when the boundary
    # sits in the outermost shell; draw the line only where a boundary lies inside the particle.
    boundary = np.where((r50[rows] < 1.0) & np.isfinite(r50[rows]), r50[rows], np.nan)

    fig = C.new_figure(figsize=(11, 4.3))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, (key, phase, cmap) in zip(axes, PANELS):
        share = np.ma.masked_invalid(maps[key][rows].T)
        mesh = ax.pcolormesh(t_edges, r_edges, share, cmap=cmap, vmin=0.0, vmax=1.0,
                             shading="flat", rasterized=True)
        cbar = fig.colorbar(mesh, ax=ax, pad=0.01)
        cbar.set_label(f"share of TM in {C.TM_LABELS[phase]}")
        ax.plot(t, boundary, color="k", lw=1.6, label="$r_{50}$: layered share reaches 50 %")
        ax.set_xlabel("temperature (°C)")
        ax.set_xlim(t_edges[0], t_edges[-1])
        ax.set_ylim(0.0, 1.0)
        ax.set_title(f"{C.TM_LABELS[phase]} by radius", fontsize=10)
        ax.legend(loc="lower left", fontsize=8, framealpha=0.8)
    axes[0].set_ylabel("r / R (0 = centre, 1 = surface)")
    fig.suptitle(f"Radial phase map, heating branch — {title}", fontsize=10)
    return C.save(fig, out_path, formats)


def main(argv=None) -> int:
    return C.script_main(plot, NAME, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
