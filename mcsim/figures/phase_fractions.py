"""Plot phase fractions (by transition metal) against temperature from an mcsim result file.

Usage: python -m mcsim.figures.phase_fractions RUN.h5 [-o FIGURE.png] [--pdf]

Reads only the documented HDF5 layout (mcsim/io/SCHEMA.md): /timeseries/temperature_c,
/timeseries/time_s and /timeseries/tm_phase_fraction (hydroxide, rock salt, layered), and
overlays the paper's Rietveld point at 300 C (Fig. 2j).
"""

from __future__ import annotations

import sys
from pathlib import Path

from mcsim.figures import _common as C

NAME = "phase_fractions"

#: Paper Fig. 2j: conventional ramp quenched at 300 C (Rietveld), fractions of TM phases.
PAPER_300C = {"hydroxide": 0.109, "rocksalt": 0.195, "layered": 0.697}


def plot(h5_path: str | Path, out_path: str | Path, formats=None) -> Path:
    """Write the figure for ``h5_path`` to ``out_path`` (PNG or PDF by suffix); return the path.

    ``formats`` (e.g. ``["pdf"]``) adds copies of the same stem in further formats.
    """
    with C.open_result(h5_path) as f:
        temp = C.series(f, "temperature_c")
        time_s = C.series(f, "time_s")
        frac = C.series(f, "tm_phase_fraction")
        title = C.run_title(f)
    heating = C.heating_branch(time_s, temp)
    fig = C.new_figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    for i, name in enumerate(C.TM_PHASES):
        colour = C.PHASE_COLOURS[name]
        ax.plot(temp[heating], frac[heating, i], color=colour, label=C.TM_LABELS[name])
        ax.plot([300.0], [PAPER_300C[name]], "o", color=colour, mfc="none", ms=8)
    ax.plot([], [], "o", color="0.3", mfc="none", label="paper Fig. 2j (300 °C, Rietveld)")
    ax.set_xlabel("temperature (°C)")
    ax.set_ylabel("fraction of transition metal")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(f"TM phase fractions, heating branch — {title}", fontsize=10)
    ax.legend(fontsize=9)
    return C.save(fig, out_path, formats)


def main(argv=None) -> int:
    return C.script_main(plot, NAME, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
