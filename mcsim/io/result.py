"""The one reader of result files: open a finished one, or say what state one is in.

Every reader of results goes through here: ``mcsim info`` and ``mcsim run``'s output check
report the state (:func:`result_status`, :func:`inspect_result`, :func:`is_complete`);
``mcsim plot``, ``mcsim compare``, the figure modules, the sweep index and the scripts in
``analysis/`` refuse anything but a finished result (:func:`open_result`). A result is
complete when

* the file is there (not only its ``.partial``) and can be read as HDF5,
* its root attribute ``complete`` is true (numpy or Python bool), and
* every part file its snapshot virtual datasets read (a run over several MPI ranks) is in
  ``OUT.h5.parts`` beside it. HDF5 reads a missing part as the fill value without an error,
  hence this check; a source named anything else (``..``, an absolute path, a link out of the
  folder) is refused outright, so a result never makes a reader open a file elsewhere.

Every refusal is an :class:`UnusableResultError` with a one-line message. Its three kinds keep
the standard classes older callers catch: :class:`IncompleteResultError` (a RuntimeError: not
finished, unreadable, a missing part), :class:`ResultNotFoundError` (a FileNotFoundError) and
:class:`UnsafeResultError` (a :class:`~mcsim.io.safepath.UnsafePathError`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import h5py
import numpy as np

from mcsim.io.failures import h5_reason
from mcsim.io.safepath import UnsafePathError, inside
from mcsim.io.schema import PARTIAL_SUFFIX, SOURCE_RE, partial_path


class UnusableResultError(Exception):
    """A result file that cannot be used, with a one-line reason.

    Attributes
    ----------
    path : pathlib.Path or None
        The file the reason is about.
    reason : str
        The cause alone (e.g. the system's reason a file could not be opened), for callers
        that word the message themselves.
    """

    path = None
    reason = ""


class IncompleteResultError(UnusableResultError, RuntimeError):
    """A result file is unreadable or was never finished (``complete`` is not true, only the
    ``.partial`` is there, or a part file of its snapshots is missing)."""


class ResultNotFoundError(UnusableResultError, FileNotFoundError):
    """Neither the result file nor its ``.partial`` exists."""


class UnsafeResultError(UnusableResultError, UnsafePathError):
    """A result's snapshots read a file outside its folder (a hostile or hand-edited file)."""


def _error(cls, message: str, path, reason: str = ""):
    exc = cls(message)
    exc.path, exc.reason = Path(path), reason or message
    return exc


# -- part files ----------------------------------------------------------------------------

def virtual_sources(f: h5py.File, folder) -> list[str]:
    """The files the snapshot virtual datasets of an open result read, as stored (relative
    to the result's ``folder``), sorted; each checked to be a part file inside ``folder``.

    Raises
    ------
    UnsafeResultError
        If a source is named anything else (``..``, an absolute path, a link out): a result
        file never makes a reader open a file elsewhere.
    """
    names: set[str] = set()
    snaps = f.get("snapshots")
    for group in (snaps.values() if isinstance(snaps, h5py.Group) else ()):
        if not isinstance(group, h5py.Group):
            continue
        for dset in group.values():
            if isinstance(dset, h5py.Dataset) and dset.is_virtual:
                names.update(src.file_name for src in dset.virtual_sources())
    names.discard(".")  # a source in the same file
    for name in names:
        try:
            inside(folder, name, f"{f.filename}: virtual dataset source", max_parts=2,
                   pattern=SOURCE_RE)
        except UnsafePathError as err:
            raise _error(UnsafeResultError, str(err), f.filename) from None
    return sorted(names)


def missing_sources(f: h5py.File, folder) -> list[str]:
    """The part files (:func:`virtual_sources`) of an open result that are not in ``folder``.

    A virtual dataset whose source is missing reads as its fill value (255 for ``phase``)
    without an error, so every reader checks this (:func:`is_complete`, :func:`open_result`).
    """
    return [n for n in virtual_sources(f, folder) if not (Path(folder) / n).is_file()]


def part_files(path) -> list[str]:
    """List the source files the snapshot virtual datasets of a result file read from.

    Parameters
    ----------
    path : str or os.PathLike
        Result file (a serial one has no virtual datasets and gives an empty list).

    Returns
    -------
    list of str
        Source file names as stored, relative to the main file's directory, sorted.

    Raises
    ------
    UnsafeResultError
        If a source name is not ``OUT.parts/gen-NNNN.rank-NNNN.h5`` inside the result's
        folder (a result file never makes a reader open a file elsewhere).
    """
    with h5py.File(path, "r") as f:
        return virtual_sources(f, Path(path).parent)


def missing_parts(path) -> list[str]:
    """List the part files a result file's virtual datasets need but cannot find.

    A virtual dataset whose source file is missing reads as its fill value (the largest value
    of an unsigned field, e.g. 255 for ``phase``; the smallest of a signed one; NaN for a
    float one) without an error, so check this after moving or copying a parallel result.

    Parameters
    ----------
    path : str or os.PathLike
        Result file.

    Returns
    -------
    list of str
        The names of :func:`part_files` that do not exist next to ``path``; empty when every
        part is in place.
    """
    path = Path(path)
    return [n for n in part_files(path) if not (path.parent / n).is_file()]


def raise_open_file_limit(path, spare: int = 64) -> int | None:
    """Let this process hold every part file of ``path`` open at once.

    HDF5 keeps each source file of a virtual dataset open once it has read from it, and where
    it cannot open one (``Too many open files``) it returns the fill value without an error.
    Reading a whole field of a run on more ranks than the soft limit on open files (often
    1024) therefore needs a higher limit; this raises the soft limit (never the hard one) to
    ``len(part_files(path)) + spare`` when it is lower.

    Parameters
    ----------
    path : str or os.PathLike
        Result file.
    spare : int, optional
        Descriptors left for everything else the process opens.

    Returns
    -------
    int or None
        The soft limit now in force (``resource.RLIM_INFINITY`` for none); None where the
        platform has no such limit (Windows).

    Raises
    ------
    OSError
        If the hard limit is below what is needed (ask for a higher ``ulimit -Hn``).
    """
    try:
        import resource
    except ImportError:  # Windows: no per-process descriptor limit to raise
        return None
    need = len(part_files(path)) + int(spare)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= need:
        return soft
    if hard != resource.RLIM_INFINITY and hard < need:
        raise OSError(f"reading {path} needs {need} open files, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    return need


# -- the state of a result -----------------------------------------------------------------

def _complete_flag(f: h5py.File) -> bool:
    value = f.attrs.get("complete", False)
    return isinstance(value, (bool, np.bool_)) and bool(value)


@dataclasses.dataclass(frozen=True)
class ResultStatus:
    """What :func:`result_status` or :func:`inspect_result` found about one result file.

    Attributes
    ----------
    path : pathlib.Path
        The file examined: the path asked about, or its ``.partial`` when only that exists.
    only_partial : bool
        The path asked about does not exist; ``path`` is its ``.partial``.
    error : str
        One line saying why the file cannot be read; empty when it was read.
    complete_attr : object
        The root attribute ``complete`` as stored (False when absent or unread).
    missing : tuple of str
        Part files its snapshots read that are not beside it (as stored, relative to its
        folder). :func:`result_status` looks only when ``complete_attr`` is true.
    """

    path: Path
    only_partial: bool = False
    error: str = ""
    complete_attr: object = False
    missing: tuple = ()

    @property
    def flag(self) -> bool:
        """The attribute ``complete`` is true."""
        return isinstance(self.complete_attr, (bool, np.bool_)) and bool(self.complete_attr)

    @property
    def partial_name(self) -> bool:
        """The file examined is named ``*.partial``."""
        return self.path.name.endswith(PARTIAL_SUFFIX)

    @property
    def complete(self) -> bool:
        """Readable, ``complete`` true, every part file there: what :func:`is_complete` says."""
        return not self.error and not self.only_partial and self.flag and not self.missing

    @property
    def finished(self) -> bool:
        """:attr:`complete` and not named ``*.partial``: a whole result ``mcsim info`` and
        ``mcsim run`` report as finished."""
        return self.complete and not self.partial_name


def _locate(path) -> tuple[Path, bool]:
    """The file to examine for ``path`` (it, or its ``.partial`` when only that exists) and
    whether it is that ``.partial``."""
    path = Path(path)
    if not path.exists():
        if partial_path(path).exists():
            return partial_path(path), True
        raise _error(ResultNotFoundError, f"no result file at {path}", path)
    return path, False


def _open(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise _error(IncompleteResultError,
                     f"{path} cannot be read as HDF5 (truncated by a killed run?): "
                     f"{h5_reason(err)}", path, h5_reason(err)) from err


def result_status(path) -> ResultStatus:
    """The state of the result file ``path``; never refuses.

    Parameters
    ----------
    path : str or os.PathLike
        Result file. When only ``path.partial`` exists, that file is examined and
        ``only_partial`` is set.

    Returns
    -------
    ResultStatus
        ``complete`` tells whether :func:`open_result` would accept ``path``. A missing,
        unreadable file, or one naming part files outside its folder, has ``error`` set.
    """
    try:
        examined, only_partial = _locate(path)
    except ResultNotFoundError as err:
        return ResultStatus(Path(path), error=str(err))
    if not examined.is_file():
        return ResultStatus(examined, only_partial, error=f"{examined} is not a file")
    try:
        with h5py.File(examined, "r") as f:
            attr = f.attrs.get("complete", False)
            missing = tuple(missing_sources(f, examined.parent)) if _complete_flag(f) else ()
    except (OSError, UnsafePathError) as err:
        return ResultStatus(examined, only_partial, error=(str(err).splitlines() or [""])[0]
                            or type(err).__name__)
    return ResultStatus(examined, only_partial, "", attr, missing)


def is_complete(path) -> bool:
    """Tell whether ``path`` is a readable result file whose ``complete`` attribute is true
    and whose part files (a run over several MPI ranks) are all there.

    Parameters
    ----------
    path : str or os.PathLike
        Result file to check.

    Returns
    -------
    bool
        False for a missing, unreadable, truncated or unfinished file.
    """
    return result_status(path).complete


# -- opening -------------------------------------------------------------------------------

def open_result(path) -> h5py.File:
    """Open a finished result file read-only.

    Parameters
    ----------
    path : str or os.PathLike
        Result file written by :class:`mcsim.io.writer.ResultWriter` or
        :class:`mcsim.io.parallel_hdf5.ParallelResultWriter`.

    Returns
    -------
    h5py.File
        The open file; close it (or use it as a context manager) when done.

    Raises
    ------
    IncompleteResultError
        If the file cannot be read as HDF5, if its ``complete`` attribute is not true, if a
        part file its snapshots read (a run over several MPI ranks) is missing, or if only
        ``path.partial`` exists (the run crashed, was aborted or is still running).
    UnsafeResultError
        If its snapshots read files outside its folder (a hostile or hand-edited file).
    ResultNotFoundError
        If neither ``path`` nor ``path.partial`` exists.

    Examples
    --------
    >>> with open_result("run.h5") as f:                       # doctest: +SKIP
    ...     t = f["timeseries/time_s"][:]
    """
    path = Path(path)
    examined, only_partial = _locate(path)
    if only_partial:
        raise _error(IncompleteResultError,
                     f"{path} does not exist, only {examined.name}: the run did not "
                     "finish (crashed, aborted or still running)", examined)
    f = _open(path)
    try:
        if not _complete_flag(f):
            raise _error(IncompleteResultError,
                         f"{path} is INCOMPLETE (attribute complete is not true): the run "
                         "that wrote it crashed, was aborted or is still running", path)
        missing = missing_sources(f, path.parent)
        if missing:
            raise _error(IncompleteResultError,
                         f"{path} is INCOMPLETE: its snapshots read part files that are "
                         f"missing: {', '.join(missing)} (copy or move the result with its "
                         f"{path.name}.parts folder)", path)
    except BaseException:
        f.close()
        raise
    return f


def open_if_complete(path) -> h5py.File | None:
    """:func:`open_result`, or None where :func:`is_complete` is false (missing, unfinished,
    unreadable, a part file missing or outside the folder): for readers that rerun or skip
    such a result rather than refuse it."""
    try:
        return open_result(path)
    except (UnusableResultError, OSError):
        return None


class ResultFile:
    """An open result file, finished or not, with its :class:`ResultStatus`.

    Made by :func:`inspect_result`; use it as a context manager (it closes the file).

    Attributes
    ----------
    h5 : h5py.File
        The file, open read-only.
    status : ResultStatus
        Its state; ``missing`` is filled whatever ``complete_attr`` says.
    """

    def __init__(self, h5: h5py.File, status: ResultStatus):
        self.h5 = h5
        self.status = status

    def close(self) -> None:
        self.h5.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def inspect_result(path) -> ResultFile:
    """Open a result file, finished or not, to report on it (``mcsim info``).

    Parameters
    ----------
    path : str or os.PathLike
        Result file, or its ``.partial``. When only ``path.partial`` exists, that file is
        opened.

    Returns
    -------
    ResultFile
        The open file and its status.

    Raises
    ------
    ResultNotFoundError
        If neither ``path`` nor ``path.partial`` exists.
    IncompleteResultError
        If the file cannot be read as HDF5 (``reason`` holds the system's reason).
    UnsafeResultError
        If its snapshots read files outside its folder.
    """
    examined, only_partial = _locate(path)
    f = _open(examined)
    try:
        missing = tuple(missing_sources(f, examined.parent))
        status = ResultStatus(examined, only_partial, "", f.attrs.get("complete", False),
                              missing)
    except BaseException as err:
        f.close()
        if isinstance(err, UnsafeResultError):
            err.path = examined
        raise
    return ResultFile(f, status)
