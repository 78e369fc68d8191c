"""``mcsim plot``: write every analysis figure of a finished result file.

The figures are made by the scripts in the repository's ``analysis/`` folder (one figure per
script, each with a ``plot(h5_path, out_path, formats=None)`` function). This module loads them
by file path, so it works from a source checkout (an editable install); a package installed
without the repository has no ``analysis/`` folder and gets a clear error.

Library use::

    from mcsim.plot import plot_all
    paths = plot_all("run.h5", out_dir="figures", formats=("png", "pdf"))

Command line (``mcsim plot RUN.h5 [-o DIR] [--pdf]``): :func:`main`, or :func:`add_arguments`
plus :func:`run` for a subcommand of the ``mcsim`` parser.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

#: The figure scripts, in the order they are drawn; each writes ``<RUN stem>_<name>.<format>``.
SCRIPTS = ("phase_fractions", "radial_map", "cross_sections", "thermal", "mass_thickness")


class PlotError(Exception):
    """The figures cannot be made: no analysis/ folder, or an unusable result file."""


def analysis_dir() -> Path:
    """The repository's ``analysis/`` folder, found next to the ``mcsim`` package."""
    import mcsim

    folder = Path(mcsim.__file__).resolve().parent.parent / "analysis"
    missing = [n for n in SCRIPTS if not (folder / f"{n}.py").is_file()]
    if missing:
        raise PlotError(
            f"the analysis scripts are not available (looked for {folder}/{{"
            f"{','.join(missing)}}}.py); 'mcsim plot' needs a source checkout of mcsim "
            "installed with 'pip install -e .', not a plain package install")
    return folder


def load_script(name: str):
    """Import ``analysis/<name>.py`` by file path (as module ``mcsim_analysis_<name>``)."""
    path = analysis_dir() / f"{name}.py"
    module_name = f"mcsim_analysis_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def _check_complete(h5_path: Path) -> None:
    """Refuse a missing, unreadable or unfinished result, or one missing a part file (the
    shared check of :func:`mcsim.io.hdf5.open_result`)."""
    from mcsim.io.hdf5 import IncompleteResultError, open_result
    from mcsim.io.safepath import UnsafePathError

    if not h5_path.exists():
        raise PlotError(f"{h5_path}: no such file")
    try:
        open_result(h5_path).close()
    except (IncompleteResultError, UnsafePathError, OSError) as exc:
        raise PlotError(f"{exc}; refusing to plot it") from exc


def plot_all(h5_path, out_dir=None, formats=("png",)) -> list[Path]:
    """Write every figure of ``h5_path`` into ``out_dir`` (default: the file's folder).

    Files are named ``<stem>_<figure>.<format>`` for each format in ``formats`` (``"png"``,
    ``"pdf"``, ...). Returns the paths written, figure by figure. Raises :class:`PlotError`
    for a missing, unreadable or incomplete file, or when the analysis scripts are absent.
    """
    h5_path = Path(h5_path)
    formats = [fmt.lstrip(".").lower() for fmt in formats] or ["png"]
    _check_complete(h5_path)
    modules = [load_script(name) for name in SCRIPTS]  # fail before drawing anything
    out_dir = Path(out_dir) if out_dir is not None else h5_path.resolve().parent
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, module in zip(SCRIPTS, modules):
        first = out_dir / f"{h5_path.stem}_{name}.{formats[0]}"
        refused = getattr(getattr(module, "C", None), "ResultFileError", ())  # analysis/_common
        try:
            module.plot(h5_path, first, formats=formats[1:])
        except refused as exc:
            raise PlotError(str(exc)) from exc
        written.extend(first.with_suffix("." + fmt) for fmt in formats)
    return written


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``mcsim plot`` arguments (RUN.h5, -o DIR, --pdf) to ``parser``."""
    parser.add_argument("result", metavar="RUN.h5", help="a finished mcsim result file")
    parser.add_argument("-o", "--output-dir", metavar="DIR", default=None,
                        help="folder for the figures (default: the result file's folder)")
    parser.add_argument("--pdf", action="store_true", help="write PDF as well as PNG")
    return parser


def run(args: argparse.Namespace) -> int:
    """Carry out parsed ``mcsim plot`` arguments; print the written paths; exit status."""
    formats = ("png", "pdf") if args.pdf else ("png",)
    try:
        paths = plot_all(args.result, args.output_dir, formats)
    except PlotError as exc:
        print(f"mcsim plot: error: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


def main(argv=None) -> int:
    """``mcsim plot RUN.h5 [-o DIR] [--pdf]``."""
    parser = argparse.ArgumentParser(
        prog="mcsim plot", description="write the analysis figures of a finished result file")
    return run(add_arguments(parser).parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
