"""Failures in the middle of a run end with one line saying what happened and what was kept,
a defined exit status, the ``.partial`` left ``complete = false`` and the checkpoint kept
(issue 10, item 7): a full disk, a write error after checkpoints, Ctrl-C, SIGHUP, and the
same under mpiexec.

A full disk is simulated with a file-size limit (``RLIMIT_FSIZE``, SIGXFSZ ignored: writes
past it fail with EFBIG), set after MPI has started since the MPI library's own
shared-memory files are larger; a write error at a chosen simulated time by a test-only
wrapper around the command line that replaces ``ResultWriter.append_timeseries``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from mcsim import checkpoint as ck
from mcsim.errors import EXIT_CHECKPOINTED, EXIT_CONFIG, EXIT_INTERRUPTED, EXIT_IO
from mcsim.io.hdf5 import is_complete, partial_path
from tests.support import LONG_SETS, MPIEXEC, START_WATCHDOG_S, TINY_SETS

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and limits")

#: ``python -c`` programs wrapping ``mcsim.cli.main`` (arguments after the program).
FILE_SIZE_LIMIT = """
import resource, signal, sys
from mpi4py import MPI  # start MPI (its shared-memory files) before the limit
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), resource.RLIM_INFINITY))
from mcsim.cli import main
sys.exit(main(sys.argv[2:]))
"""
DISK_FULL_AT_30_MIN = """
import errno, sys
from mcsim.cli import main
from mcsim.io.hdf5 import ResultWriter
real = ResultWriter.append_timeseries
def failing(self, time_s, *args, **kwargs):
    if time_s >= 30 * 60.0:
        raise OSError(errno.ENOSPC, "No space left on device", str(self.partial))
    return real(self, time_s, *args, **kwargs)
ResultWriter.append_timeseries = failing
sys.exit(main(sys.argv[1:]))
"""
CONFIG_ERROR_IN_SIMULATION = """
import sys
import mcsim.engine
from mcsim.cli import main
from mcsim.errors import ConfigError
def refuse(self, *args, **kwargs):
    raise ConfigError("model.processes", "x", "refused by the test")
mcsim.engine.Simulation.__init__ = refuse
sys.exit(main(sys.argv[1:]))
"""


def _run_args(out="out.h5", sets=TINY_SETS, *extra):
    args = ["run", "-o", out, "--no-progress", *extra]
    for assignment in sets:
        args += ["--set", assignment]
    return args


def _mcsim(args, cwd, program=None, prefix=(), timeout=180):
    head = [sys.executable, "-m", "mcsim"] if program is None else [sys.executable, "-c",
                                                                     program, *prefix]
    return subprocess.run([*map(str, head), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def _mpiexec(n, program, args):
    return [str(MPIEXEC), "-n", str(n), sys.executable, "-c",
            program, *map(str, args)]


def _mpi_env():
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    env.pop("MCSIM_MPI_DIMS", None)
    return env


def _one_line(stderr: str) -> str:
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr[-3000:]
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr[-3000:]
    return lines[0]


def _kept_incomplete(tmp_path, out="out.h5"):
    assert not (tmp_path / out).exists()
    assert partial_path(tmp_path / out).exists()
    assert not is_complete(partial_path(tmp_path / out))
    assert not (tmp_path / (out + ".lock")).exists(), "the claim is released"


# -- a full disk ---------------------------------------------------------------------------

def test_full_disk_mid_run_exits_74_with_one_line_and_keeps_an_incomplete_partial(tmp_path):
    ran = _mcsim(_run_args(), tmp_path, FILE_SIZE_LIMIT, prefix=[200_000])
    assert ran.returncode == EXIT_IO, ran.stderr[-3000:]
    line = _one_line(ran.stderr)
    assert line == "mcsim: I/O error: writing out.h5.partial: File too large; kept: " \
                   "out.h5.partial (incomplete)"
    _kept_incomplete(tmp_path)


def test_full_disk_while_writing_a_checkpoint_exits_74_and_names_the_file(tmp_path):
    ran = _mcsim(_run_args("out.h5", TINY_SETS, "--set", "output.checkpoint_interval_sim_min=7"),
                 tmp_path, FILE_SIZE_LIMIT, prefix=[200_000])
    assert ran.returncode == EXIT_IO, ran.stderr[-3000:]
    line = _one_line(ran.stderr)
    assert line == ("mcsim: I/O error: writing out.ckpt/gen-000001/block-00000.h5: File too "
                    "large; kept: out.h5.partial (incomplete); removed the unfinished checkpoint "
                    "gen-000001"), line
    _kept_incomplete(tmp_path)
    # the half-written generation would keep the space a rerun needs: it is gone
    assert not (tmp_path / "out.ckpt" / "gen-000001").exists()


def test_write_error_after_checkpoints_keeps_the_last_one_and_it_restarts(tmp_path):
    sets = (*TINY_SETS, "output.checkpoint_interval_sim_min=7")
    ran = _mcsim(_run_args("out.h5", sets), tmp_path, DISK_FULL_AT_30_MIN)
    assert ran.returncode == EXIT_IO, ran.stderr[-3000:]
    line = _one_line(ran.stderr)
    step = ck.open_checkpoint(tmp_path / "out.ckpt").step
    assert line == ("mcsim: I/O error: writing out.h5.partial: No space left on device; kept: "
                    f"out.h5.partial (incomplete), checkpoint out.ckpt (step {step}; continue "
                    "with: mcsim run --restart out.ckpt -o out.h5)")
    _kept_incomplete(tmp_path)
    restarted = _mcsim(["run", "--restart", "out.ckpt", "-o", "out.h5", "--no-progress"],
                       tmp_path)
    assert restarted.returncode == 0, restarted.stderr
    assert is_complete(tmp_path / "out.h5")


@pytest.mark.mpi
def test_write_error_on_rank_0_ends_every_rank_with_one_line_under_mpiexec(tmp_path):
    sets = (*TINY_SETS, "output.checkpoint_interval_sim_min=7")
    ran = subprocess.run(_mpiexec(2, DISK_FULL_AT_30_MIN, _run_args("out.h5", sets)),
                         cwd=tmp_path, env=_mpi_env(), capture_output=True, text=True,
                         timeout=180)  # rank 1 waits in a collective rank 0 never enters
    assert ran.returncode == EXIT_IO, ran.stderr[-3000:]
    line = _one_line(ran.stderr)
    assert line.startswith("mcsim: I/O error: writing out.h5.partial: No space left on device; "
                           "kept: out.h5.partial (incomplete), checkpoint out.ckpt (step "), line
    _kept_incomplete(tmp_path)


@pytest.mark.mpi
def test_configuration_error_raised_while_setting_up_is_printed_once_under_mpiexec(tmp_path):
    ran = subprocess.run(_mpiexec(2, CONFIG_ERROR_IN_SIMULATION, _run_args()), cwd=tmp_path,
                         env=_mpi_env(), capture_output=True, text=True, timeout=120)
    assert ran.returncode == EXIT_CONFIG, ran.stderr[-3000:]
    assert _one_line(ran.stderr) == ("mcsim: configuration error: model.processes = 'x': "
                                     "refused by the test")
    assert not (tmp_path / "out.h5.lock").exists()


# -- signals -------------------------------------------------------------------------------

def _signalled(tmp_path, signals, out="out.h5"):
    """Start a long run; once it has written a little, send ``signals``; return it ended."""
    proc = subprocess.Popen([sys.executable, "-m", "mcsim", *_run_args(out, LONG_SETS)],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + START_WATCHDOG_S
        while not partial_path(tmp_path / out).exists():
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, f"no .partial after {START_WATCHDOG_S} s"
            time.sleep(0.02)
        time.sleep(0.3)  # into the run loop
        for sig in signals:
            proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, stdout, stderr


def test_ctrl_c_checkpoints_at_the_next_step_and_exits_130_with_one_line(tmp_path):
    status, stdout, stderr = _signalled(tmp_path, [signal.SIGINT])
    assert status == EXIT_INTERRUPTED, stderr[-3000:]
    assert stderr == ""
    lines = stdout.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("mcsim 0.")
    assert lines[1].startswith("mcsim: stopped on SIGINT at t = ")
    assert "Continue with: mcsim run --restart out.ckpt -o out.h5" in lines[1]
    assert ck.open_checkpoint(tmp_path / "out.ckpt").step >= 1
    _kept_incomplete(tmp_path)


def test_second_ctrl_c_stops_at_once_with_exit_130_and_one_line(tmp_path):
    status, stdout, stderr = _signalled(tmp_path, [signal.SIGINT, signal.SIGINT])
    assert status == EXIT_INTERRUPTED, stderr[-3000:]
    # the second Ctrl-C may land while the checkpoint is written, or after the run stopped
    said = [x for x in (stdout + stderr).splitlines() if x.startswith("mcsim:")]
    assert len(said) == 1 and ("interrupted (Ctrl-C); kept: out.h5.partial (incomplete)"
                               in said[0] or "stopped on SIGINT" in said[0]), said
    assert "Traceback" not in stderr
    _kept_incomplete(tmp_path)


def test_stop_signal_handler_turns_a_second_sigint_into_keyboardinterrupt():
    names = ("SIGINT", "SIGTERM", "SIGUSR1", "SIGHUP")
    previous = {name: signal.getsignal(getattr(signal, name)) for name in names}
    try:
        flag = ck.install_stop_signals()
        os.kill(os.getpid(), signal.SIGHUP)
        assert flag.reason == "SIGHUP"
        os.kill(os.getpid(), signal.SIGINT)
        assert flag.reason == "SIGINT"
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.1)  # the handler runs between bytecodes
    finally:
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), handler)


@pytest.mark.parametrize("terminal", [True, False])
def test_first_ctrl_c_is_answered_at_once_only_on_a_terminal(monkeypatch, terminal):
    import io

    class Err(io.StringIO):
        def isatty(self):
            return terminal

    err = Err()
    monkeypatch.setattr(sys, "stderr", err)
    previous = signal.getsignal(signal.SIGINT)
    others = {name: signal.getsignal(getattr(signal, name))
              for name in ("SIGTERM", "SIGUSR1", "SIGHUP")}
    try:
        flag = ck.install_stop_signals()
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        assert flag.reason == "SIGINT"
    finally:
        signal.signal(signal.SIGINT, previous)
        for name, handler in others.items():
            signal.signal(getattr(signal, name), handler)
    said = err.getvalue()
    if terminal:  # before the step ends: the person at the keyboard knows it was heard
        assert said.startswith("mcsim: Ctrl-C: stopping after this step, with a checkpoint")
    else:  # a pipe (mpiexec, batch jobs, the tests): the one line at the end says it all
        assert said == ""


def test_sighup_checkpoints_and_exits_75_and_the_output_stays_clean(tmp_path):
    status, stdout, stderr = _signalled(tmp_path, [signal.SIGHUP])
    assert status == EXIT_CHECKPOINTED, stderr[-3000:]
    assert stderr == ""
    lines = stdout.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("mcsim: stopped on SIGHUP at t = "), stdout
    assert ck.open_checkpoint(tmp_path / "out.ckpt").step >= 1
    _kept_incomplete(tmp_path)
