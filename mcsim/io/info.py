"""Summary of a result file, printed by ``mcsim info OUT.h5``.

By default a short answer to "did it work and what came out": status, what was run (schedule,
particle, seed, ranks), the final phases, porosity, nanopores and voids, wall time and where
the figures are (the sections of :mod:`mcsim.io.info_summary`). ``mcsim info --all`` adds
everything else the file holds: every provenance attribute, every time series, the snapshot
list, the final pore scalars and further groups (:mod:`mcsim.io.info_full`). The file is
opened and its state read by the one reader of results, :func:`mcsim.io.result.inspect_result`.
"""

from __future__ import annotations

import os
import shlex
import tomllib
from pathlib import Path

from mcsim.io.info_full import (  # noqa: F401 - re-exported
    _KNOWN_GROUPS,
    _SNAPSHOTS_SHOWN,
    _other_groups,
    _pores,
    _provenance,
    _snapshots,
    _timeseries,
    _versions,
)
from mcsim.io.info_summary import (  # noqa: F401 - re-exported
    _LABEL,
    _MAX_SPLIT_VOXELS,
    _SLAB_VOXELS,
    _SOURCE_LABELS,
    _config,
    _describe_schedule,
    _duration,
    _figures,
    _final_column,
    _final_state,
    _pore_summary,
    _porosity_extras,
    _rates,
    _row,
    _scalar,
    _schedule,
    _section,
    _source_li,
    _text,
    _what_was_run,
    _wall_time,
)
from mcsim.io.result import (
    IncompleteResultError,
    ResultStatus,
    UnsafeResultError,
    inspect_result,
)

_INCOMPLETE = "*** INCOMPLETE ***"
#: Errors a damaged or unexpected file raises while a section is read: the section says it
#: is unreadable and the summary goes on.
_SECTION_ERRORS = (OSError, KeyError, ValueError, TypeError, IndexError, AttributeError,
                   RuntimeError, tomllib.TOMLDecodeError)


class UnreadableResultError(OSError):
    """The file given to ``mcsim info`` is not a readable HDF5 file (``mcsim info`` exits 2)."""


def _status_line(status: ResultStatus) -> str:
    """The status line: complete, or INCOMPLETE and why."""
    path = status.path
    if status.missing:
        # the folder the file names (a renamed result still looks for its old one)
        folders = sorted({os.path.dirname(n) for n in status.missing if os.path.dirname(n)})
        folder = ", ".join(folders) if folders else f"{path.name}.parts"
        return (f"status: {_INCOMPLETE} part files of its snapshots are missing: "
                f"{', '.join(status.missing)} -- those snapshots cannot be read (move or copy "
                f"the result together with {folder}, beside it and under that name)")
    if status.flag and not status.partial_name:
        return "status: complete"
    return (f"status: {_INCOMPLETE} complete={_text(status.complete_attr)} -- the run crashed, "
            "was aborted or is still running; data may be truncated")


def _guard(lines: list, label: str, fn, *args) -> None:
    """Run one section; a damaged part of the file gets one line instead of a traceback."""
    try:
        fn(*args, lines)
    except UnreadableResultError:
        raise
    except _SECTION_ERRORS as err:
        reason = (str(err).splitlines() or [type(err).__name__])[0]
        lines.append(_row(label, f"unreadable ({reason})"))


def summarize(path, full: bool = True) -> str:
    """Describe a result file in plain text.

    Parameters
    ----------
    path : str or os.PathLike
        Result file, or its ``.partial`` (which is always reported as INCOMPLETE). When only
        ``path.partial`` exists, that file is summarized instead.
    full : bool
        False: the short summary of ``mcsim info`` (about 15 lines). True (the default, as
        ``mcsim info --all``): the short summary followed by everything else in the file.

    Returns
    -------
    str
        The short summary: status (complete, or INCOMPLETE and why), what was run (schedule,
        parameter set, lithium source, seed, particle and grid), the final TM phase shares
        and the lithium left in sources, porosity, nanopores and voids at the last snapshot,
        wall time and ranks, and where the figures are. ``full`` adds versions, every
        provenance attribute, every time series, final phase fractions over the grid, the
        snapshot list, the final pore scalars and any further top-level groups.

    Raises
    ------
    FileNotFoundError
        If neither ``path`` nor ``path.partial`` exists.
    UnreadableResultError
        If the file is not readable HDF5, or its snapshots read files outside its folder.

    Examples
    --------
    >>> print(summarize("run.h5", full=False))                 # doctest: +SKIP
    """
    shown = Path(path)
    lines = [f"mcsim result: {shown}"]
    try:
        result = inspect_result(shown)  # FileNotFoundError when neither file is there
    except IncompleteResultError as err:
        raise UnreadableResultError(f"{err.path}: cannot be read as an HDF5 result file "
                                    f"({err.reason})") from None
    except UnsafeResultError as err:
        raise UnreadableResultError(f"{err.path}: refused: {err}") from None
    with result:
        f, status, path = result.h5, result.status, result.status.path
        if status.only_partial:
            lines.append(f"{_INCOMPLETE} {shown.name} does not exist; only "
                         f"{path.name} (an unfinished run) is there")
        lines.append(_status_line(status))
        whole = status.finished
        complete = status.flag and not status.partial_name
        try:
            cfg = _config(f)
            schedule = _schedule(cfg)
        except _SECTION_ERRORS:
            cfg = schedule = None
        _guard(lines, "run", _what_was_run, f, cfg, schedule)
        _guard(lines, "final state", _final_state, f, complete, schedule, whole)
        _guard(lines, "pores", _pore_summary, f, cfg)
        _guard(lines, "wall time", _wall_time, f)
        _guard(lines, "figures", _figures, path, shown, whole)
        if not full:
            lines.append(_row("more", f"mcsim info --all {shlex.quote(str(shown))} (every "
                              "provenance field, time series, snapshot and group)"))
            return "\n".join(lines)
        lines.append("")
        lines.append("everything in the file:")
        _guard(lines, "versions", _versions, f)
        _guard(lines, "provenance", _provenance, f)
        _guard(lines, "timeseries", _timeseries, f)
        _guard(lines, "snapshots", _snapshots, f)
        _guard(lines, "pore statistics", _pores, f)
        _guard(lines, "other groups", _other_groups, f)
    return "\n".join(lines)
