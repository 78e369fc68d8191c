"""Claiming a result path before a run: a lock file of our own and the checks that keep
results from being overwritten, confused with other files or written where they cannot be.

A run claims ``OUT.h5`` by creating ``OUT.h5.lock`` atomically (a hard link of a fully
written temporary file, or ``O_EXCL`` where links are not supported); the lock names the
host, the process id, the process start time and boot id, when the run started and its
command line. It does not depend on HDF5's own file locking, so it also holds with
``HDF5_USE_FILE_LOCKING=FALSE`` (Lustre, NFS). A lock left by a run that was killed
(SIGKILL, a crashed node) is recognised as stale when it was written on this host and its
process is gone (or the process id now belongs to another process, or the host rebooted),
and is then taken over; a lock of a run on another host is never broken automatically.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import h5py

from mcsim.io.result import is_complete
from mcsim.io.schema import PARTS_SUFFIX as _PARTS_SUFFIX
from mcsim.io.schema import partial_path

#: Suffix of the lock file beside a result file.
LOCK_SUFFIX = ".lock"
#: Suffix of the XDMF sidecar of a result file (``OUT.h5`` -> ``OUT.xmf``).
SIDECAR_SUFFIX = ".xmf"
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


class OutputError(RuntimeError):
    """An output path is refused: it collides with another file, is not writable, holds a
    complete result (without ``--overwrite``) or is claimed by another run."""


def lock_path(out_path) -> Path:
    """The lock file of the result ``out_path``: ``OUT.h5`` -> ``OUT.h5.lock``."""
    return Path(os.fspath(out_path) + LOCK_SUFFIX)


def sidecar_path(out_path) -> Path:
    """The XDMF sidecar a finished result writes beside itself (``OUT.h5`` -> ``OUT.xmf``)."""
    return Path(out_path).with_suffix(SIDECAR_SUFFIX)


def _boot_id() -> str:
    try:
        return _BOOT_ID.read_text().strip()
    except OSError:
        return ""


def _proc_stat(pid: int) -> list[str] | None:
    """Fields 3 onwards of ``/proc/PID/stat`` (Linux), None where there is none."""
    try:
        text = Path(f"/proc/{int(pid)}/stat").read_text()
    except (OSError, ValueError):
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    return text[text.rfind(")") + 2:].split()


def _process_start_ticks(pid: int) -> int | None:
    """Start time of process ``pid`` in clock ticks since boot (Linux), None if unknown."""
    fields = _proc_stat(pid)
    try:
        return int(fields[19])
    except (TypeError, ValueError, IndexError):
        return None


def _pid_alive(pid: int) -> bool:
    fields = _proc_stat(pid)
    if fields and fields[0] in ("Z", "X"):  # killed, not yet reaped by its parent
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except (OverflowError, ValueError):
        return False
    return True


@dataclass
class Holder:
    """Who holds a lock, as written in the lock file."""

    host: str = "?"
    pid: int = -1
    since: str = "?"
    command: str = ""
    boot_id: str = ""
    start_ticks: int | None = None
    token: str = ""

    @classmethod
    def read(cls, path: Path) -> "Holder | None":
        """The holder named by the lock file ``path``; None when it cannot be parsed."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(host=str(data["host"]), pid=int(data["pid"]), since=str(data["since"]),
                       command=str(data.get("command", "")), boot_id=str(data.get("boot_id", "")),
                       start_ticks=(None if data.get("start_ticks") is None
                                    else int(data["start_ticks"])),
                       token=str(data.get("token", "")))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def describe(self) -> str:
        return f"host {self.host}, pid {self.pid}, since {self.since}"

    def stale_reason(self) -> str | None:
        """Why this lock is known to be stale, or None when its run may still be going.

        Only a lock written on this host can be judged: its process is gone, the process id
        now belongs to a process started at another time, or the host has rebooted since.
        """
        if self.host != socket.gethostname():
            return None
        if self.boot_id and _boot_id() and self.boot_id != _boot_id():
            return "the host has rebooted since"
        if not _pid_alive(self.pid):
            return f"process {self.pid} is no longer running"
        ticks = _process_start_ticks(self.pid)
        if self.start_ticks is not None and ticks is not None and ticks != self.start_ticks:
            return f"process id {self.pid} now belongs to another process"
        return None


class OutputClaim:
    """A run's claim on its result path (``OUT.h5.lock``); release it when the run ends.

    Parameters
    ----------
    out_path : str or os.PathLike
        The result file to claim.
    command : str, optional
        The command line recorded in the lock (default: ``sys.argv``).
    log : callable, optional
        Where the one-line note about taking over a stale lock goes (default: stderr).
    """

    def __init__(self, out_path, *, command: str | None = None, log=None):
        self.out_path = Path(out_path)
        self.path = lock_path(out_path)
        self.command = " ".join(sys.argv) if command is None else command
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.token = uuid.uuid4().hex
        self.held = False

    def _content(self) -> str:
        return json.dumps({
            "host": socket.gethostname(), "pid": os.getpid(),
            "since": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": self.command, "boot_id": _boot_id(),
            "start_ticks": _process_start_ticks(os.getpid()), "token": self.token,
            "node": platform.node()}, indent=1) + "\n"

    def _create(self) -> bool:
        """Create the lock atomically with its content; False when it exists already."""
        tmp = self.path.with_name(f"{self.path.name}.{self.token}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(self._content())
                fh.flush()
                os.fsync(fh.fileno())
            try:  # link(2) is atomic and fails on an existing name, NFS included
                os.link(tmp, self.path)
                return True
            except FileExistsError:
                return False
            except OSError:  # a file system without hard links: O_EXCL instead
                try:
                    fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                except FileExistsError:
                    return False
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(tmp.read_text(encoding="utf-8"))
                    fh.flush()
                    os.fsync(fh.fileno())
                return True
        finally:
            tmp.unlink(missing_ok=True)

    def acquire(self) -> "OutputClaim":
        """Take the lock, taking over a stale one (with a one-line note).

        Raises
        ------
        OutputError
            If another run holds it, or the lock cannot be created where the result goes.
        """
        try:
            for _attempt in range(2):
                if self._create():
                    self.held = True
                    return self
                holder = Holder.read(self.path)
                if holder is None:
                    raise OutputError(
                        f"{self.out_path}: the lock {self.path} exists but cannot be read; if "
                        f"no run is writing {self.out_path}, remove {self.path} and try again")
                why = holder.stale_reason()
                if why is None:
                    raise OutputError(
                        f"{self.out_path} is being written by another run ({holder.describe()}"
                        f"; lock {self.path}); wait for it or choose another -o. If that run "
                        f"is gone (e.g. its node crashed), remove {self.path} on a host that "
                        f"can check, then try again")
                self.log(f"mcsim: note: taking over the stale lock {self.path} "
                         f"({holder.describe()}: {why})")
                self.path.unlink(missing_ok=True)
        except OSError as err:
            raise OutputError(f"cannot write beside {self.out_path}: creating the lock "
                              f"{self.path} failed: {err.strerror or err}") from err
        raise OutputError(f"{self.out_path}: another run took the lock {self.path} at the same "
                          "time; try again")

    def release(self) -> None:
        """Remove the lock if it is still ours; safe to call twice, never raises."""
        if not self.held:
            return
        self.held = False
        holder = Holder.read(self.path)
        if holder is not None and holder.token == self.token:
            try:
                self.path.unlink()
            except OSError:
                pass  # gone already, or the directory became unwritable: the next run sees stale

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *_exc):
        self.release()
        return False


def _same(a: Path, b: Path) -> bool:
    """Whether two paths name the same file (resolved names, or the same inode)."""
    try:
        if a.resolve() == b.resolve():
            return True
    except (OSError, RuntimeError):
        return False
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _writable_directory(directory: Path, what: str, path: Path) -> None:
    """Refuse when ``directory`` (where ``path`` goes) is missing, not a directory, or not
    writable by this process."""
    if not directory.exists():
        raise OutputError(f"{what} {path}: the directory {directory} does not exist; "
                          "create it first")
    if not directory.is_dir():
        raise OutputError(f"{what} {path}: {directory} is not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {path}: the directory {directory} is not writable")


def check_writable(out_path, checkpoint_dir=None) -> None:
    """Refuse (:class:`OutputError`) unless this process can create files beside the result
    ``out_path`` and in the checkpoint directory (created when missing: the nearest existing
    ancestor decides). Part of :func:`preflight_output`; under MPI every rank calls it for
    itself, since each writes its own part file and checkpoint block and ranks on other nodes
    may see other file systems."""
    out = Path(out_path)
    _writable_directory(out.parent, "output", out)
    if checkpoint_dir is not None:
        ckpt = Path(checkpoint_dir)
        if ckpt.exists() and not ckpt.is_dir():
            raise OutputError(f"checkpoint directory {ckpt} exists and is not a directory")
        existing = ckpt  # created with its missing parents: the nearest existing one decides
        while not existing.exists() and existing.parent != existing:
            existing = existing.parent
        if existing.exists() and not existing.is_dir():
            raise OutputError(f"checkpoint directory {ckpt}: {existing} is not a directory")
        _writable_directory(existing, "checkpoint directory", ckpt)


def _is_hdf5(path: Path) -> bool:
    try:
        return h5py.is_hdf5(path)
    except OSError:
        return False


def preflight_output(out_path, *, config_path=None, checkpoint_dir=None,
                     overwrite: bool = False) -> None:
    """Check, before any work, that a run may write its result to ``out_path``.

    Parameters
    ----------
    out_path : str or os.PathLike
        The result file (``-o``, or the path stored in a checkpoint).
    config_path : str or os.PathLike, optional
        The configuration file of the run; nothing the run writes may replace it.
    checkpoint_dir : str or os.PathLike, optional
        Where the run writes checkpoints (created when missing; its parent must exist).
    overwrite : bool
        Whether an existing file at ``out_path`` may be replaced (``--overwrite``).

    Raises
    ------
    OutputError
        Naming the path and what is allowed, if ``out_path`` is a directory, names an XDMF
        sidecar (``*.xmf``), a ``.partial``/``.lock`` file or the checkpoint directory, if a
        file the run writes would replace the configuration, if the result or checkpoint
        location is not a writable directory, or if a file is already at ``out_path`` and
        ``overwrite`` is false.
    """
    out = Path(out_path)
    if out.name in ("", ".", "..") or out.is_dir():
        raise OutputError(f"-o {out}: names a directory; give a file name such as "
                          f"{out / 'result.h5'}")
    if out.suffix == SIDECAR_SUFFIX:
        raise OutputError(f"-o {out}: {SIDECAR_SUFFIX} is the suffix of the XDMF sidecar a "
                          f"result writes beside itself; use another suffix (e.g. "
                          f"{out.with_suffix('.h5')})")
    for suffix in (".partial", LOCK_SUFFIX, _PARTS_SUFFIX, ".ckpt"):
        if out.name.endswith(suffix):
            raise OutputError(f"-o {out}: names end in {suffix} are reserved for the files "
                              "mcsim keeps beside a result; use a name ending in .h5")
    written = {"the result": out, "its .partial": partial_path(out),
               "its sidecar": sidecar_path(out), "its lock": lock_path(out),
               "its part directory": Path(os.fspath(out) + _PARTS_SUFFIX)}
    if config_path is not None:
        config = Path(config_path)
        for what, path in written.items():
            if _same(path, config):
                raise OutputError(f"-o {out}: {what} ({path}) would replace the configuration "
                                  f"file {config}; choose another output name")
    if checkpoint_dir is not None:
        ckpt = Path(checkpoint_dir)
        for what, path in written.items():
            if _same(path, ckpt):
                raise OutputError(f"-o {out}: {what} ({path}) is the checkpoint directory "
                                  f"{ckpt}; choose another output name or "
                                  "output.checkpoint_path")
        if config_path is not None and _same(ckpt, Path(config_path)):
            raise OutputError(f"checkpoint directory {ckpt} is the configuration file")
    check_writable(out, checkpoint_dir)
    for what, path in written.items():
        if what != "the result" and path.is_dir() and what != "its part directory":
            raise OutputError(f"-o {out}: {what} {path} is a directory")
    if out.exists() and not overwrite:
        if is_complete(out):
            raise OutputError(f"{out} holds a complete result; pass --overwrite to replace it, "
                              "or choose another -o")
        kind = "an HDF5 file that is not a finished result" if _is_hdf5(out) else \
            "a file that is not an mcsim result"
        raise OutputError(f"{out} exists ({kind}); pass --overwrite to replace it, or choose "
                          "another -o")
