"""Names read back from files (checkpoints, sweep files, result files) that mcsim then opens
or writes: each must stay inside the directory it belongs to.

A checkpoint's ``meta.h5``, a sweep's plan and a parallel result's main file all store file
names. mcsim never trusts them: before anything is read or written, every such name is checked
to be a relative path of plain components (no absolute path, no ``..``, no empty or ``.``
component, no NUL, no backslash) that, once symbolic links are resolved, still lies inside its
directory. A name that fails is refused with :class:`UnsafePathError` (``mcsim`` exits 2).
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath


class UnsafePathError(ValueError):
    """A file name read from a file points outside the directory it belongs to, or is not
    of the form its file format allows."""


def inside(directory, name, what: str, *, max_parts: int = 1,
           pattern: re.Pattern | None = None) -> Path:
    """The path ``directory / name``, after checking that ``name`` stays inside ``directory``.

    Parameters
    ----------
    directory : str or os.PathLike
        The directory the name belongs to (a checkpoint generation, a sweep's output folder,
        the folder of a result file).
    name : str
        The name as read from a file.
    what : str
        What the name is, for the message (e.g. ``"meta.h5 blocks/file"``).
    max_parts : int
        How many path components the name may have (1: a bare file name).
    pattern : re.Pattern, optional
        A pattern the whole name must match (``fullmatch``), e.g. ``block-\\d{5}.h5``.

    Returns
    -------
    pathlib.Path
        ``directory / name`` (not resolved).

    Raises
    ------
    UnsafePathError
        If the name is empty, absolute, has a ``..``, ``.`` or empty component, a NUL or a
        backslash, more than ``max_parts`` components, does not match ``pattern``, or resolves
        (through symbolic links) to a place outside ``directory``.
    """
    text = name if isinstance(name, str) else os.fsdecode(name)
    where = f"{what} = {text!r}"
    if not text or "\x00" in text or "\\" in text:
        raise UnsafePathError(f"{where}: not a plain file name")
    pure = PurePosixPath(text)
    if pure.is_absolute() or text.startswith("/"):
        raise UnsafePathError(f"{where}: an absolute path; only names inside {directory} "
                              "are allowed")
    parts = text.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise UnsafePathError(f"{where}: has a '..', '.' or empty component; only names "
                              f"inside {directory} are allowed")
    if len(parts) > max_parts:
        raise UnsafePathError(f"{where}: has {len(parts)} path components, at most "
                              f"{max_parts} allowed")
    if pattern is not None and not pattern.fullmatch(text):
        raise UnsafePathError(f"{where}: not a name this file format writes "
                              f"(expected {pattern.pattern})")
    base = Path(directory)
    path = base.joinpath(*parts)
    root = base.resolve()
    target = path.resolve()
    if target != root and root not in target.parents:
        raise UnsafePathError(f"{where}: resolves to {target}, outside {root} (a symbolic "
                              "link?)")
    return path
