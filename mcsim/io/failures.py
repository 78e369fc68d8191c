"""Failed HDF5 writes and opens, as one-line errors.

A write that fails (disk full, quota, file-system error) stops the writer at once with
:class:`ResultIOError`; :func:`h5_failures` and :func:`guarded` catch the failures h5py reports
only while it releases objects. :func:`h5_reason` shortens h5py's multi-line message on a
failed open to one line.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys


class ResultIOError(OSError):
    """Writing a result file failed (disk full, quota, file-system error).

    The writer that raised it writes nothing more and does not close its HDF5 file: after a
    failed write HDF5 cannot flush or close that file reliably (it can crash the process),
    so the caller reports the error and ends the process (``mcsim run`` exits with status
    74). The file stays ``.partial`` with ``complete = false``.
    """


_ERRNO_RE = re.compile(r"errno = (\d+)")
_FILENAME_RE = re.compile(r"filename = '([^']*)'")


def io_failure(exc: BaseException, filename=None) -> ResultIOError:
    """A :class:`ResultIOError` naming the file and the system's reason for ``exc``.

    ``filename`` defaults to the file named in ``exc`` (h5py names it in its message).
    """
    code = getattr(exc, "errno", None)
    text = str(exc)
    if not code:
        m = _ERRNO_RE.search(text)
        code = int(m.group(1)) if m else None
    if filename is None:
        m = _FILENAME_RE.search(text)
        filename = getattr(exc, "filename", None) or (m.group(1) if m else None)
    reason = os.strerror(code) if code else (text.splitlines() or [type(exc).__name__])[0]
    return ResultIOError(code or 0, reason, None if filename is None else os.fspath(filename))


def h5_reason(err: BaseException) -> str:
    """One short line saying why h5py could not open a file (its messages span lines)."""
    text = str(err)
    m = _ERRNO_RE.search(text)
    code = getattr(err, "errno", None) or (int(m.group(1)) if m else None)
    if code:
        return os.strerror(code)
    first = text.splitlines()[0] if text else type(err).__name__
    return first.replace("Unable to synchronously open file", "cannot open").strip()


@contextlib.contextmanager
def h5_failures():
    """Collect, instead of printing, the errors h5py reports while it releases objects.

    h5py reports some failed writes (disk full, quota) only when it releases an object: it
    prints them as "exception ignored" with a traceback and goes on, and a later flush of
    that file can crash the process. Inside this block such reports go to the yielded list
    (check it and stop writing when it is not empty); the hooks are restored on leaving.
    """
    caught: list = []
    previous = sys.unraisablehook, sys.excepthook
    sys.unraisablehook = lambda info: caught.append(info.exc_value)
    sys.excepthook = lambda *_exc: None  # Cython prints the traceback through it first
    try:
        yield caught
    finally:
        sys.unraisablehook, sys.excepthook = previous


def guarded(method):
    """Run a writer method so that HDF5 write failures stop the writer at the first one.

    While the method runs, failures h5py reports only while releasing objects are
    collected (:func:`h5_failures`) and checked before every flush; the first failure,
    reported either way, marks the writer failed and is raised as :class:`ResultIOError`.
    The writer has the attributes ``_failure``, ``_caught``, ``_state`` and ``partial``.
    """
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if self._failure is not None:
            raise io_failure(self._failure, self.partial) from self._failure
        if self._caught is not None:  # a nested call: the outer one collects
            return method(self, *args, **kwargs)
        try:
            with h5_failures() as caught:
                self._caught = caught
                result = method(self, *args, **kwargs)
                self._check_caught()
        except OSError as exc:
            self._failure = exc.__cause__ if isinstance(exc, ResultIOError) and exc.__cause__ \
                else exc
            self._state = "failed"
            raise io_failure(self._failure, self.partial) from self._failure
        finally:
            self._caught = None
        return result

    return wrapper
