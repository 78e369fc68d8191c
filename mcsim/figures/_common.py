"""Helpers shared by the figure modules of :mod:`mcsim.figures` (not a figure itself).

Everything here reads the documented HDF5 layout (mcsim/io/SCHEMA.md) with h5py, never the
simulator's kernels; whether a file is a finished result is mcsim's one shared check
(:func:`mcsim.io.result.open_result`). Figures are built with the object-oriented matplotlib API
(``matplotlib.figure.Figure``) so that importing a figure module neither needs nor changes a
pyplot backend. Scripts of one's own (``analysis/`` has examples) can use the phase table,
colours and readers here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import h5py
import numpy as np

from mcsim.io.result import UnusableResultError
from mcsim.io.result import open_result as _open_finished

# -- phases and colours ---------------------------------------------------------------------

#: Phase codes of the ``phase`` snapshot field, as in mcsim.phases (repeated here so the
#: scripts read the file alone; checked against mcsim.phases by the tests).
PHASE_NAMES = ("pore", "lioh", "li2o", "li2co3", "hydroxide", "rocksalt", "layered")

#: Labels for legends, in code order.
PHASE_LABELS = ("pore", "LiOH", "Li$_2$O", "Li$_2$CO$_3$", "TM(OH)$_2$", "rock salt",
                "layered")

#: One colour per phase name, used by every figure (paper Fig. 2j: layered green, rock salt
#: red, TM(OH)2 purple).
PHASE_COLOURS = {
    "pore": "black",
    "lioh": "#9ecae1",      # light blue
    "li2o": "#17becf",      # cyan
    "li2co3": "#ff7f0e",    # orange
    "hydroxide": "#9467bd",  # purple
    "rocksalt": "#d62728",  # red
    "layered": "#2ca02c",   # green
}

#: Codes of the lithium sources (LiOH, Li2O, Li2CO3). A source voxel whose ``amount`` is 0
#: holds no solid: the file keeps the source's code there while the voxel still carries
#: mobile lithium, but every figure draws it as a pore (:func:`shown_phase`).
SOURCE_CODES = (1, 2, 3)


def shown_phase(phase, amount=None) -> np.ndarray:
    """Phase codes as the figures draw them: a lithium-source voxel with ``amount`` 0 is a
    pore (code 0), as in the time series' ``phase_fraction``. ``amount`` None (a file
    without that field) leaves the codes as stored. Returns a new uint8 array."""
    out = np.array(phase, dtype=np.uint8)
    if amount is not None:
        amount = np.asarray(amount)
        if amount.shape != out.shape:
            raise ResultFileError(f"phase {out.shape} and amount {amount.shape} slices differ "
                                  "in shape")
        out[np.isin(out, SOURCE_CODES) & (amount == 0)] = 0
    return out


def phase_slice(group, z: int) -> np.ndarray:
    """Plane ``z`` of a snapshot group's ``phase`` as drawn (:func:`shown_phase`, using the
    group's ``amount`` field when it has one)."""
    amount = group["amount"][z] if "amount" in group else None
    return shown_phase(group["phase"][z], amount)


#: The transition-metal phases, in the column order of ``tm_phase_fraction`` and of the
#: ``radial_*`` series.
TM_PHASES = ("hydroxide", "rocksalt", "layered")
TM_LABELS = {"hydroxide": "TM(OH)$_2$", "rocksalt": "rock salt", "layered": "layered"}


# -- reading --------------------------------------------------------------------------------

class ResultFileError(Exception):
    """The file cannot be plotted: missing, unreadable or not a finished run."""


def open_result(h5_path: str | Path) -> h5py.File:
    """Open a finished mcsim result file read-only; raise ResultFileError otherwise (also
    when a part file of a run over several MPI ranks is missing: mcsim's one check,
    :func:`mcsim.io.result.open_result`). ``mcsim plot`` refuses a file with this check."""
    path = Path(h5_path)
    if not path.exists():
        raise ResultFileError(f"{path}: no such file")
    try:
        return _open_finished(path)
    except (UnusableResultError, OSError) as exc:
        raise ResultFileError(f"{exc}; refusing to plot it") from exc


def series(f: h5py.File, name: str) -> np.ndarray:
    """``/timeseries/<name>`` as a float array; a clear error when the run did not write it."""
    ts = f["timeseries"]
    if name not in ts:
        raise ResultFileError(f"{f.filename}: /timeseries/{name} is missing (written by a "
                              "newer engine, or its process was switched off)")
    return np.asarray(ts[name][:], dtype=np.float64)


def heating_branch(time_s: np.ndarray, temp_c: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows up to the first time the peak temperature is reached."""
    if len(temp_c) == 0:
        return np.zeros(0, dtype=bool)
    return np.asarray(time_s) <= np.asarray(time_s)[int(np.nanargmax(temp_c))]


def first_at_or_above(temp_c: np.ndarray, threshold: float) -> int | None:
    """Index of the first row whose temperature is at least ``threshold`` (None if none)."""
    hits = np.flatnonzero(np.asarray(temp_c) >= threshold)
    return int(hits[0]) if hits.size else None


def snapshot_keys(f: h5py.File, group: str = "snapshots") -> list[str]:
    """Sorted member names of ``/snapshots`` (or ``/images``); empty when the group is absent."""
    return sorted(f[group].keys()) if group in f else []


# -- figures and output ---------------------------------------------------------------------

def new_figure(**kwargs):
    """A pyplot-free Figure with constrained layout."""
    from matplotlib.figure import Figure

    kwargs.setdefault("layout", "constrained")
    return Figure(**kwargs)


def output_paths(out_path: str | Path, formats=None) -> list[Path]:
    """Every file to write: ``out_path`` itself, then the same stem in each further format."""
    out = Path(out_path)
    paths = [out]
    for fmt in formats or ():
        other = out.with_suffix("." + fmt.lstrip("."))
        if other not in paths:
            paths.append(other)
    return paths


def save(fig, out_path: str | Path, formats=None, dpi: int = 130) -> Path:
    """Save ``fig`` to ``out_path`` (format by suffix) and to the same stem in ``formats``."""
    for path in output_paths(out_path, formats):
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    return Path(out_path)


def run_title(f: h5py.File) -> str:
    """Short description of the run for figure titles: file name and schedule preset."""
    name = Path(f.filename).name
    preset = None
    if "config" in f:
        for line in f["config"].asstr()[()].splitlines():
            s = line.strip()
            if s.startswith("preset") and "=" in s:
                preset = s.split("=", 1)[1].strip().strip("'\"")
                break
    return f"{name} ({preset} schedule)" if preset else name


def script_main(plot, name: str, doc: str, argv=None) -> int:
    """Command line shared by the scripts: ``RUN.h5 [-o OUT.png] [--pdf]``.

    The PNG is always written; ``--pdf`` or an output ending in ``.pdf`` adds a PDF of the same
    stem. Prints the written paths; an unusable file gives a message on stderr and exit status 1.
    """
    p = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    p.add_argument("result", metavar="RUN.h5", help="a finished mcsim result file")
    p.add_argument("-o", "--output", metavar="OUT.png", default=None,
                   help=f"figure file (default: RUN_{name}.png next to RUN.h5)")
    p.add_argument("--pdf", action="store_true", help="also write a PDF")
    args = p.parse_args(argv)
    out = Path(args.output) if args.output else (
        Path(args.result).with_name(Path(args.result).stem + f"_{name}.png"))
    formats = []
    if args.pdf or out.suffix.lower() == ".pdf":
        formats = ["png", "pdf"]
    try:
        plot(args.result, out, formats=formats)
    except ResultFileError as exc:
        print(f"{Path(sys.argv[0]).name}: error: {exc}", file=sys.stderr)
        return 1
    for path in output_paths(out, formats):
        print(path)
    return 0
