"""``mcsim plot``: write every figure of a finished result file.

The figures are the modules of :mod:`mcsim.figures` (one figure each, with a
``plot(h5_path, out_path, formats=None)`` function), part of the installed package: ``mcsim
plot`` works from any folder after a plain ``pip install .``.

Library use::

    from mcsim.plot import plot_all
    paths = plot_all("run.h5", out_dir="figures", formats=("png", "pdf"))

Command line (``mcsim plot RUN.h5 [-o DIR] [--pdf]``): :func:`main`, or :func:`add_arguments`
plus :func:`run` for a subcommand of the ``mcsim`` parser.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from mcsim.figures import FIGURES
from mcsim.figures._common import ResultFileError, open_result

#: The figures drawn by ``mcsim plot``, in order (:data:`mcsim.figures.FIGURES`).
SCRIPTS = FIGURES


class PlotError(Exception):
    """The figures cannot be made: an unusable result file."""


def load_script(name: str):
    """The figure module ``mcsim.figures.<name>``."""
    return importlib.import_module(f"mcsim.figures.{name}")


def _check_complete(h5_path: Path) -> None:
    """Refuse a missing, unreadable or unfinished result, or one missing a part file (the
    shared check of :func:`mcsim.io.result.open_result`, worded as the figures word it)."""
    try:
        open_result(h5_path).close()
    except ResultFileError as exc:
        raise PlotError(str(exc)) from exc.__cause__


def plot_all(h5_path, out_dir=None, formats=("png",)) -> list[Path]:
    """Write every figure of ``h5_path`` into ``out_dir`` (default: the file's folder).

    Files are named ``<stem>_<figure>.<format>`` for each format in ``formats`` (``"png"``,
    ``"pdf"``, ...). Returns the paths written, figure by figure. Raises :class:`PlotError`
    for a missing, unreadable or incomplete file.
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
        refused = getattr(getattr(module, "C", None), "ResultFileError", ())  # figures/_common
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
