"""Read a finished mcsim result with h5py: an example to start one's own post-analysis from.

Usage: python analysis/read_result.py RUN.h5 [-o FIGURE.png]

Prints the run's seed and schedule, the transition-metal phase fractions when the furnace
first reaches a few temperatures and at the end, and the final porosity and nanopore
densities; with ``-o`` it also draws the phase fractions against temperature. The layout of
the file is documented in mcsim/io/SCHEMA.md; the helpers come from the installed package
(:mod:`mcsim.figures._common`: the shared finished-result check, the phase table, colours).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from mcsim.figures import _common as C


def summary(path) -> list[str]:
    """Lines describing the result ``path`` (raises ``C.ResultFileError`` for an unusable
    file: missing, unfinished, or missing a part file of a run over several MPI ranks)."""
    with C.open_result(path) as f:
        temp = C.series(f, "temperature_c")
        frac = C.series(f, "tm_phase_fraction")  # rows: time; columns: C.TM_PHASES
        lines = [f"{path}: seed {int(f.attrs['seed'])}, {C.run_title(f)}",
                 "T (C)    " + "  ".join(f"{p:>10}" for p in C.TM_PHASES)]
        for target in (200.0, 250.0, 300.0, 500.0):
            reached = np.flatnonzero(temp >= target)
            if reached.size:
                row = frac[reached[0]]
                lines.append(f"{target:6.0f}   " + "  ".join(f"{v:10.3f}" for v in row))
        lines.append("end      " + "  ".join(f"{v:10.3f}" for v in frac[-1]))
        if "pore_series" in f:  # one row per snapshot (schema 2.0)
            ps = f["pore_series"]
            lines.append(f"final porosity {float(ps['porosity'][-1]):.4f}, nanopores core "
                         f"{float(ps['nanopore_density_core_per_um3'][-1]):.0f} per um^3")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("result", metavar="RUN.h5")
    parser.add_argument("-o", "--output", metavar="FIGURE.png", default=None)
    args = parser.parse_args(argv)
    try:
        print("\n".join(summary(args.result)))
        if args.output:
            from mcsim.figures import phase_fractions  # the figure of `mcsim plot`

            print(phase_fractions.plot(args.result, args.output))
    except C.ResultFileError as exc:
        print(f"read_result.py: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
