"""Plot phase fractions (by transition metal) against temperature from an mcsim result file.

Usage: python analysis/phase_fractions.py RUN.h5 [-o FIGURE.png]

Reads only the documented HDF5 layout (mcsim/io/SCHEMA.md): /timeseries/temperature_c,
/timeseries/time_s and /timeseries/tm_phase_fraction (hydroxide, rock salt, layered), and
overlays the paper's Rietveld point at 300 C (Fig. 2j).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

#: Paper Fig. 2j: conventional ramp quenched at 300 C (Rietveld), fractions of TM phases.
PAPER_300C = {"hydroxide": 0.109, "rocksalt": 0.195, "layered": 0.697}
TM_PHASES = ("hydroxide", "rocksalt", "layered")
COLOURS = {"hydroxide": "tab:purple", "rocksalt": "tab:red", "layered": "tab:green"}


def plot(h5_path: str | Path, out_path: str | Path) -> Path:
    """Write the figure for ``h5_path`` to ``out_path`` (PNG or PDF by suffix)."""
    with h5py.File(h5_path, "r") as f:
        if not bool(f.attrs.get("complete", False)):
            raise SystemExit(f"{h5_path}: run is not complete")
        ts = f["timeseries"]
        temp = ts["temperature_c"][:]
        time_min = ts["time_s"][:] / 60.0
        frac = ts["tm_phase_fraction"][:]
    heating = time_min <= time_min[temp.argmax()]  # the heating branch up to the peak
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, name in enumerate(TM_PHASES):
        ax.plot(temp[heating], frac[heating, i], color=COLOURS[name], label=name)
        ax.plot([300.0], [PAPER_300C[name]], "o", color=COLOURS[name], mfc="none")
    ax.set_xlabel("temperature (°C)")
    ax.set_ylabel("fraction of transition metal")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{Path(h5_path).name}: open circles = paper Fig. 2j (300 °C)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_path, dpi=120)
    plt.close(fig)
    return Path(out_path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("result")
    p.add_argument("-o", "--output", default=None)
    args = p.parse_args(argv)
    out = args.output or str(Path(args.result).with_suffix("")) + "_phase_fractions.png"
    print(plot(args.result, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
