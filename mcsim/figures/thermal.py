"""Simulated thermal analysis: TGA with its derivative (DTG) and DTA against temperature (the
analogue of the paper's Fig. 1l, bottom panel: TM(OH)2 with LiOH).

Usage: python -m mcsim.figures.thermal RUN.h5 [-o FIGURE.png] [--pdf]

Reads /timeseries/weight_pct (sample mass / initial mass, %), /timeseries/dtg_pct_per_min
(its derivative, %/min) and /timeseries/dta_w_per_g (reaction heat rate per gram of initial
sample, W/g, exothermic positive) on the heating branch. Dotted lines mark the paper's onsets
at 5 C/min: lithiation about 200 C and dehydration about 220 C (paper Fig. 1l).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from mcsim.figures import _common as C

NAME = "thermal"
#: Paper Fig. 1l onsets (°C) for TM(OH)2 + LiOH at 5 C/min.
PAPER_ONSETS = {"lithiation ≈ 200 °C": 200.0, "dehydration ≈ 220 °C": 220.0}
TGA_COLOUR, DTG_COLOUR, DTA_COLOUR = "k", "tab:blue", "tab:red"


def _mark_onsets(ax, label: bool) -> None:
    for text, t in PAPER_ONSETS.items():
        ax.axvline(t, color="0.55", ls=":", lw=1.0)
        if label:  # written up the left side of each line, from the bottom of the panel
            ax.text(t, 0.04, "paper: " + text, transform=ax.get_xaxis_transform(), fontsize=7,
                    color="0.35", rotation=90, ha="right", va="bottom")


def plot(h5_path: str | Path, out_path: str | Path, formats=None) -> Path:
    """Write the figure for ``h5_path`` to ``out_path`` (PNG or PDF by suffix); return the path."""
    with C.open_result(h5_path) as f:
        temp = C.series(f, "temperature_c")
        time_s = C.series(f, "time_s")
        weight = C.series(f, "weight_pct")
        dtg = C.series(f, "dtg_pct_per_min")
        dta = C.series(f, "dta_w_per_g")
        title = C.run_title(f)
    h = C.heating_branch(time_s, temp)
    t = temp[h]

    fig = C.new_figure(figsize=(6.6, 6.2))
    ax_tga, ax_dta = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    ax_tga.plot(t, weight[h], color=TGA_COLOUR, lw=1.8, label="TGA (weight)")
    ax_tga.set_ylabel("weight (% of initial)")
    ax_dtg = ax_tga.twinx()
    ax_dtg.plot(t, dtg[h], color=DTG_COLOUR, lw=1.2, ls="--", label="DTG")
    ax_dtg.set_ylabel("DTG (%/min)", color=DTG_COLOUR)
    ax_dtg.tick_params(axis="y", colors=DTG_COLOUR)
    finite = dtg[h][np.isfinite(dtg[h])]
    if finite.size:  # keep zero in view so that the sign of the rate reads at a glance
        lo, hi = min(finite.min(), 0.0), max(finite.max(), 0.0)
        pad = 0.08 * (hi - lo) or 0.01
        ax_dtg.set_ylim(lo - pad, hi + pad)
    lines = ax_tga.get_lines() + ax_dtg.get_lines()
    ax_tga.legend(lines, [ln.get_label() for ln in lines], loc="center right", fontsize=8)
    ax_tga.grid(alpha=0.3)
    _mark_onsets(ax_tga, label=False)

    ax_dta.plot(t, dta[h], color=DTA_COLOUR, lw=1.4, ls=":", marker=".", ms=3,
                label="DTA (reaction heat)")
    ax_dta.axhline(0.0, color="0.6", lw=0.8)
    ax_dta.set_ylabel("DTA (W/g, exo up)")
    ax_dta.set_xlabel("temperature (°C)")
    ax_dta.legend(loc="upper left", fontsize=8)
    ax_dta.grid(alpha=0.3)
    _mark_onsets(ax_dta, label=True)
    if t.size:
        ax_dta.set_xlim(t.min(), t.max())
    ax_tga.set_title(f"Simulated TGA / DTG / DTA, heating branch — {title}\n"
                     "dotted verticals: paper Fig. 1l onsets", fontsize=9)
    return C.save(fig, out_path, formats)


def main(argv=None) -> int:
    return C.script_main(plot, NAME, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
