"""A run's output is its own: claimed by a lock before any work, never silently replaced,
never colliding with the configuration, a sidecar, a directory or the checkpoint, and never
written where it cannot be (issue 10, items 3 and 4).

Refusals happen before the particle is generated, so most of these tests call the command
line in this process and take milliseconds; the two-run, the overwrite and the MPI tests run
``mcsim`` as separate processes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest

from mcsim import checkpoint as ck
from mcsim import cli, config
from mcsim.engine import Simulation
from mcsim.errors import EXIT_CONFIG
from mcsim.io import claim as cl
from mcsim.io.hdf5 import is_complete, partial_path
from tests.support import (LONG_SETS, START_WATCHDOG_S, TINY_SETS, mcsim_cli, mpiexec_command,
                           silent)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes and signals")


def _tiny_args(*extra, sets=TINY_SETS):
    args = ["run", "--no-progress", *extra]
    for assignment in sets:
        args += ["--set", assignment]
    return args


def _refused(capsys, argv) -> str:
    """Run ``mcsim ARGV`` in this process; assert it is refused with one line, exit 2."""
    status = cli.main(argv)
    err = capsys.readouterr().err
    assert status == EXIT_CONFIG, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mcsim: "), err
    assert " error: " in lines[0] and "Traceback" not in err
    return lines[0]


def _listing(directory: Path) -> dict:
    return {str(p.relative_to(directory)): p.stat().st_mtime_ns
            for p in sorted(directory.rglob("*"))}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A complete result of the tiny run (to copy where a test needs one)."""
    path = tmp_path_factory.mktemp("finished") / "done.h5"
    cfg = config.load(sets=TINY_SETS)
    Simulation(cfg, log=silent).run(path, progress=False)
    return path


# -- item 3: a run claims its output -----------------------------------------------------

def _wait_for(predicate, proc, what, timeout=START_WATCHDOG_S):
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            pytest.fail(f"run ended (status {proc.returncode}) before {what}: "
                        f"{proc.communicate()[1][-2000:]}")
        assert time.monotonic() < deadline, f"no {what} after {timeout} s"
        time.sleep(0.02)


def test_second_run_on_the_same_output_is_refused_and_a_killed_runs_lock_is_taken_over(
        tmp_path):
    # HDF5's own locking off, as on Lustre and NFS: the claim is mcsim's, not HDF5's
    env = dict(os.environ, HDF5_USE_FILE_LOCKING="FALSE")
    first = subprocess.Popen(
        [sys.executable, "-m", "mcsim", *_tiny_args("-o", "out.h5", sets=LONG_SETS)],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: partial_path(tmp_path / "out.h5").exists(), first, "a .partial")
        holder = json.loads((tmp_path / "out.h5.lock").read_text())
        assert holder["pid"] == first.pid and holder["host"] == socket.gethostname()
        assert "run" in holder["command"] and holder["since"]
        second = mcsim_cli(*_tiny_args("-o", "out.h5"), cwd=tmp_path, env=env)
        assert second.returncode == EXIT_CONFIG, second.stderr
        line, = second.stderr.strip().splitlines()
        assert line.startswith("mcsim: output error: out.h5 is being written by another run")
        assert f"pid {first.pid}" in line and socket.gethostname() in line
        assert "since " in line and "remove out.h5.lock" in line
        os.kill(first.pid, signal.SIGKILL)  # leaves its lock behind
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        first.stderr.close()
    assert (tmp_path / "out.h5.lock").exists(), "a SIGKILLed run cannot remove its lock"
    third = mcsim_cli(*_tiny_args("-o", "out.h5"), cwd=tmp_path, env=env)
    assert third.returncode == 0, third.stderr
    note, = [x for x in third.stderr.splitlines() if x.startswith("mcsim:")]
    assert "taking over the stale lock out.h5.lock" in note
    assert f"process {first.pid} is no longer running" in note
    assert is_complete(tmp_path / "out.h5")
    assert not (tmp_path / "out.h5.lock").exists(), "a finished run releases its lock"


def _write_lock(out: Path, **fields) -> Path:
    data = {"host": socket.gethostname(), "pid": os.getpid(), "since": "2026-01-01T00:00:00",
            "command": "mcsim run", "boot_id": cl._boot_id(),
            "start_ticks": cl._process_start_ticks(os.getpid()), "token": "x"}
    data.update(fields)
    path = cl.lock_path(out)
    path.write_text(json.dumps(data))
    return path


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("case", ["dead pid", "reused pid", "rebooted"])
def test_stale_lock_on_this_host_is_identified_and_taken_over(tmp_path, case):
    out = tmp_path / "out.h5"
    fields = {"dead pid": {"pid": _dead_pid()},
              "reused pid": {"start_ticks": (cl._process_start_ticks(os.getpid()) or 0) + 1},
              "rebooted": {"boot_id": "another-boot"}}[case]
    _write_lock(out, **fields)
    notes = []
    claim = cl.OutputClaim(out, log=notes.append).acquire()
    try:
        assert len(notes) == 1 and "taking over the stale lock" in notes[0]
        assert json.loads(cl.lock_path(out).read_text())["token"] == claim.token
    finally:
        claim.release()
    assert not cl.lock_path(out).exists()


@pytest.mark.parametrize("case", ["live process", "other host", "unreadable"])
def test_lock_of_a_live_or_unknown_holder_is_never_broken(tmp_path, case):
    out = tmp_path / "out.h5"
    if case == "unreadable":
        cl.lock_path(out).write_text("not json")
    else:
        _write_lock(out, **({"host": "node-b"} if case == "other host" else {}))
    before = cl.lock_path(out).read_text()
    with pytest.raises(cl.OutputError) as info:
        cl.OutputClaim(out, log=silent).acquire()
    message = str(info.value)
    assert str(cl.lock_path(out)) in message
    if case == "other host":
        assert "host node-b" in message and "on a host that can check" in message
    assert cl.lock_path(out).read_text() == before


def test_run_refused_by_a_foreign_lock_writes_nothing_and_leaves_the_lock(
        tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write_lock(tmp_path / "out.h5", host="node-b")
    line = _refused(capsys, _tiny_args("-o", "out.h5"))
    assert line.startswith("mcsim: output error:") and "node-b" in line
    assert (tmp_path / "out.h5.lock").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.h5.lock"], "nothing written"


@pytest.mark.mpi
def test_claimed_output_is_refused_on_every_rank_under_mpiexec(tmp_path):
    out = tmp_path / "out.h5"
    claim = cl.OutputClaim(out, command="another run", log=silent).acquire()
    try:
        env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
        env.pop("MCSIM_MPI_DIMS", None)
        ran = subprocess.run(mpiexec_command(2, _tiny_args("-o", "out.h5")), cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
    finally:
        claim.release()
    assert ran.returncode == EXIT_CONFIG, ran.stderr
    line, = ran.stderr.strip().splitlines()  # rank 0 alone says it; no rank hangs
    assert line.startswith("mcsim: output error: out.h5 is being written by another run")
    assert f"pid {os.getpid()}" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "nothing written"


@pytest.mark.mpi
def test_an_output_folder_one_rank_cannot_write_is_refused_on_every_rank(tmp_path):
    # Two ranks in two working directories (MPMD), as ranks on nodes that mount different
    # file systems: the relative output folder exists for rank 0 only.
    (tmp_path / "a" / "sub").mkdir(parents=True)
    (tmp_path / "b").mkdir()
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    env.pop("MCSIM_MPI_DIMS", None)
    one = mpiexec_command(1, _tiny_args("-o", "sub/out.h5"))
    command = [*one[:1], "-wdir", str(tmp_path / "a"), *one[1:], ":", "-wdir",
               str(tmp_path / "b"), *one[1:]]
    ran = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert ran.returncode == EXIT_CONFIG, ran.stderr
    line, = ran.stderr.strip().splitlines()  # rank 0 says it for both; no rank hangs
    assert line.startswith("mcsim: output error: rank 1 of 2: output sub/out.h5: the "
                           "directory sub does not exist"), line
    assert [p.name for p in (tmp_path / "a" / "sub").iterdir()] == [], "nothing written"
    assert [p.name for p in (tmp_path / "b").iterdir()] == []


def test_info_on_a_file_a_live_run_is_writing_says_so_and_exits_1(tmp_path, capsys,
                                                                    monkeypatch):
    # HDF5 locks a file while a run writes it, so info cannot open it: the lock file says who
    monkeypatch.chdir(tmp_path)
    partial_path(tmp_path / "out.h5").write_bytes(b"not readable while written")
    claim = cl.OutputClaim(tmp_path / "out.h5", command="the writing run", log=silent).acquire()
    try:
        assert cli.main(["info", "out.h5"]) == 1
        out = capsys.readouterr().out
        assert "INCOMPLETE: the run is still writing it" in out and f"pid {os.getpid()}" in out
    finally:
        claim.release()
    assert cli.main(["info", "out.h5"]) == EXIT_CONFIG  # no live writer: unreadable, as before
    assert "cannot be read as an HDF5 result file" in capsys.readouterr().err


# -- item 4: results are never overwritten or confused -----------------------------------

def test_complete_result_is_replaced_only_with_overwrite(tmp_path, capsys, monkeypatch,
                                                          finished):
    monkeypatch.chdir(tmp_path)
    shutil.copy(finished, tmp_path / "out.h5")
    before = (tmp_path / "out.h5").read_bytes()
    line = _refused(capsys, _tiny_args("-o", "out.h5", "--set", "seed=7"))
    assert line == ("mcsim: output error: out.h5 holds a complete result; pass --overwrite "
                    "to replace it, or choose another -o")
    assert (tmp_path / "out.h5").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.h5"]
    replaced = mcsim_cli(*_tiny_args("-o", "out.h5", "--set", "seed=7", "--overwrite"),
                         cwd=tmp_path)
    assert replaced.returncode == 0, replaced.stderr
    with h5py.File(tmp_path / "out.h5", "r") as f:
        assert int(f.attrs["seed"]) == 7 and bool(f.attrs["complete"])


def test_existing_file_that_is_not_a_result_is_not_replaced(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.h5").write_text("my notes\n")
    line = _refused(capsys, _tiny_args("-o", "notes.h5"))
    assert "notes.h5 exists (a file that is not an mcsim result); pass --overwrite" in line
    assert (tmp_path / "notes.h5").read_text() == "my notes\n"


_BAD_OUTPUTS = {
    # name: (extra arguments, text the message must hold)
    "config file": (["c.toml", "-o", "c.toml"], "would replace the configuration file c.toml"),
    "xdmf sidecar": (["-o", "result.xmf"], "XDMF sidecar"),
    "directory": (["-o", "adir"], "-o adir: names a directory"),
    "directory slash": (["-o", "adir/"], "names a directory"),
    "checkpoint suffix": (["-o", "run.ckpt"], "run.ckpt"),
    "partial suffix": (["-o", "run.h5.partial"], "reserved"),
    "lock suffix": (["-o", "run.h5.lock"], "reserved"),
    "checkpoint is the part directory": (
        ["-o", "run.h5", "--set", "output.checkpoint_path='run.h5.parts'"],
        "its part directory (run.h5.parts) is the checkpoint directory"),
    "checkpoint is the sidecar": (
        ["-o", "run.h5", "--set", "output.checkpoint_path='run.xmf'"], "output.checkpoint_path"),
    "missing parent": (["-o", "nowhere/run.h5"], "the directory nowhere does not exist"),
    "parent is a file": (["-o", "afile/run.h5"], "afile is not a directory"),
    "checkpoint under a file": (
        ["-o", "run.h5", "--set", "output.checkpoint_path='afile/ck'"], "checkpoint directory"),
    "checkpoint is a file": (
        ["-o", "run.h5", "--set", "output.checkpoint_path='afile'"],
        "checkpoint directory afile exists and is not a directory"),
}


@pytest.mark.parametrize("case", sorted(_BAD_OUTPUTS))
def test_colliding_or_unwritable_output_is_refused_before_any_work(tmp_path, capsys,
                                                                    monkeypatch, case):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("a file\n")
    (tmp_path / "c.toml").write_text("seed = 3\n")
    before = _listing(tmp_path)
    extra, needle = _BAD_OUTPUTS[case]
    line = _refused(capsys, _tiny_args(*extra))
    assert line.startswith(("mcsim: output error:", "mcsim: configuration error:")), line
    assert needle in line, line
    assert _listing(tmp_path) == before, "nothing may be written before the refusal"


def test_unwritable_output_directory_is_refused(tmp_path, capsys, monkeypatch):
    if os.geteuid() == 0:
        pytest.skip("root ignores directory permissions; the cases under a regular file and "
                    "a missing directory cover the refusal")
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o555)
    monkeypatch.chdir(tmp_path)
    try:
        line = _refused(capsys, _tiny_args("-o", "ro/run.h5"))
    finally:
        locked.chmod(0o755)
    assert "the directory ro is not writable" in line


@pytest.fixture(scope="module")
def stopped_ckpt(tmp_path_factory):
    """A tiny run stopped after its first steps with a checkpoint: (directory, checkpoint)."""
    root = tmp_path_factory.mktemp("stopped_out")
    cfg = config.load(sets=[*TINY_SETS, "output.checkpoint_interval_sim_min=7"])
    sim = Simulation(cfg, log=silent)
    flag = ck.StopFlag()
    flag.set("test stop")
    stop = ck.Checkpointer.from_config(cfg, root / "out.h5", stop=flag, log=silent)
    with pytest.raises(ck.CheckpointExit):
        sim.run(root / "out.h5", progress=False, checkpointer=stop)
    return root, root / "out.ckpt"


def test_restart_without_o_checks_and_claims_the_stored_output(tmp_path, capsys, monkeypatch,
                                                               stopped_ckpt, finished):
    root, ckpt = stopped_ckpt
    stored = ck.open_checkpoint(ckpt).out_path
    assert Path(stored) == (root / "out.h5").resolve()
    monkeypatch.chdir(tmp_path)
    # a complete result is at the stored path now: refused, as with -o
    shutil.copy(finished, stored)
    try:
        line = _refused(capsys, ["run", "--restart", str(ckpt), "--no-progress"])
        assert line == (f"mcsim: output error: {stored} holds a complete result; pass "
                        "--overwrite to replace it, or choose another -o")
        Path(stored).unlink()
        # another run holds the stored path: refused naming it
        claim = cl.OutputClaim(stored, log=silent).acquire()
        try:
            line = _refused(capsys, ["run", "--restart", str(ckpt), "--no-progress"])
        finally:
            claim.release()
        assert f"{stored} is being written by another run" in line
    finally:
        Path(stored).unlink(missing_ok=True)
    assert ck.open_checkpoint(ckpt).step >= 1, "the checkpoint is untouched"


def test_compare_does_not_replace_a_result_in_its_folder_without_overwrite(
        tmp_path, capsys, finished):
    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.copy(finished, runs / "ts-ncm.h5")
    before = _listing(tmp_path)
    line = _refused(capsys, ["compare", "-o", str(runs), "--no-figure", "--no-progress"])
    assert f"{runs / 'ts-ncm.h5'} exists and would be replaced; pass --overwrite" in line
    assert _listing(tmp_path) == before, "nothing run, nothing written"
