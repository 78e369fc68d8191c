"""Checkpoint and restart: a restarted run writes the result an uninterrupted one writes.

End to end on the tiny particle of ``tests/support.py``: a run killed with SIGKILL, a run stopped
by its wall-time limit and a run stopped by SIGUSR1 then SIGTERM (as SLURM sends them) are
restarted with ``mcsim run --restart`` and must give a result file bit-identical to an
uninterrupted run in every dataset and attribute (provenance timings aside), and so must a run
with the per-grain dehydration variant stopped halfway through its dehydration. Then: damaged
checkpoints are refused before any work, a checkpoint killed at any point of its writing
is never loaded half-written, the new configuration keys are validated, and the block API
re-assembles a lattice saved by two ranks for one or three ranks.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from mcsim import checkpoint as ck
from mcsim import cli, config
from mcsim.engine import Simulation
from mcsim.errors import ConfigError
from mcsim.io.hdf5 import partial_path
from tests.support import (MPI_CONFIG, START_WATCHDOG_S, TINY_SETS, differences, mcsim_cli,
                           mpiexec_command, run_tiny, silent)

pytestmark = pytest.mark.skipif(sys.platform == "win32",
                                reason="POSIX signals (SIGKILL, SIGUSR1) and fork")

#: The tiny run with a checkpoint every 7 simulated minutes (the schedule lasts 65 min).
CKPT_SETS = (*TINY_SETS, "output.checkpoint_interval_sim_min=7")

def _run_args(out="out.h5"):
    args = ["run", "-o", out, "--no-progress"]
    for assignment in CKPT_SETS:
        args += ["--set", assignment]
    return args


def _popen(args, cwd):
    return subprocess.Popen([sys.executable, "-m", "mcsim", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _latest(ckpt) -> str | None:
    try:
        return (ckpt / ck.LATEST).read_text().strip()
    except OSError:
        return None


def _wait_for(predicate, proc, what, timeout=START_WATCHDOG_S):
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"run ended (status {proc.returncode}) before {what}: {err[-2000:]}")
        assert time.monotonic() < deadline, f"no {what} after {timeout} s"
        time.sleep(0.01)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted tiny run with the same configuration (checkpoints included)."""
    path = tmp_path_factory.mktemp("reference") / "out.h5"
    run_tiny(path, CKPT_SETS[len(TINY_SETS):])
    return path


class _StopAtStep(ck.StopFlag):
    """Asks the run to stop once it has taken ``step`` steps (a signal, deterministically)."""

    def __init__(self, sim, step):
        super().__init__()
        self.sim, self.step = sim, step

    def is_set(self):
        if self.sim.state.step >= self.step:
            self.reason = "test stop"
        return self.reason is not None


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    """A tiny run stopped (with a checkpoint) at step 200: (directory, checkpoint dir)."""
    root = tmp_path_factory.mktemp("stopped")
    cfg = config.load(sets=CKPT_SETS)
    sim = Simulation(cfg, log=silent)
    stop = ck.Checkpointer.from_config(cfg, root / "out.h5", stop=_StopAtStep(sim, 200),
                                       log=silent)
    with pytest.raises(ck.CheckpointExit) as info:
        sim.run(root / "out.h5", progress=False, checkpointer=stop)
    assert info.value.step == 200
    return root, root / "out.ckpt"


# -- restarts give the uninterrupted result ----------------------------------------------

def test_sigkilled_run_restarts_to_a_bit_identical_result(tmp_path, reference):
    proc = _popen(_run_args(), tmp_path)
    try:
        _wait_for(lambda: _latest(tmp_path / "out.ckpt") is not None, proc, "a checkpoint")
        assert proc.poll() is None, "run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert not (tmp_path / "out.h5").exists()
    restarted = mcsim_cli("run", "--restart", "out.ckpt", "--no-progress", cwd=tmp_path)
    assert restarted.returncode == 0, restarted.stderr
    assert differences(reference, tmp_path / "out.h5") == []
    assert (tmp_path / "out.xmf").read_text() == reference.with_suffix(".xmf").read_text()
    assert not (tmp_path / "out.ckpt").exists(), "a finished run keeps no checkpoint"
    assert not partial_path(tmp_path / "out.h5").exists()
    with h5py.File(tmp_path / "out.h5", "r") as f:
        assert int(f["provenance"].attrs["restarts"]) == 1


def _stop_after_new_checkpoint(args, cwd, sig, previous):
    """Start ``mcsim ARGS``; once it has written a checkpoint newer than ``previous``, send
    ``sig``; return (status, stdout, stderr)."""
    proc = _popen(args, cwd)
    try:
        _wait_for(lambda: _latest(cwd / "out.ckpt") not in (None, previous), proc,
                  "a new checkpoint")
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, out, err


def test_walltime_sigusr1_and_sigterm_each_checkpoint_and_exit_75_and_restarts_are_identical(
        tmp_path, reference):
    # 1. the wall-time limit runs out while the run is under way (or before its first step):
    #    checkpoint at the next step boundary, exit with the documented status
    stopped = mcsim_cli(*_run_args(), "--walltime", "00:00:01", cwd=tmp_path)
    assert stopped.returncode == ck.EXIT_CHECKPOINTED == cli.EXIT_CHECKPOINTED, stopped.stderr
    assert "stopped on wall-time limit" in stopped.stdout
    assert "mcsim run --restart out.ckpt -o out.h5" in stopped.stdout
    assert not (tmp_path / "out.h5").exists()
    assert partial_path(tmp_path / "out.h5").exists()
    first = ck.open_checkpoint(tmp_path / "out.ckpt")
    assert first.step >= 1 and first.restarts == 0
    # 2. the restarted run gets SIGUSR1 (SLURM --signal=USR1@...) after a checkpoint of its own
    status, out, err = _stop_after_new_checkpoint(
        ["run", "--restart", "out.ckpt", "-o", "out.h5", "--no-progress"], tmp_path,
        signal.SIGUSR1, first.generation_dir.name)
    assert status == ck.EXIT_CHECKPOINTED, err
    assert "stopped on SIGUSR1" in out
    second = ck.open_checkpoint(tmp_path / "out.ckpt")
    assert second.step > first.step and second.restarts == 1
    # 3. and the next one SIGTERM (SLURM at the time limit, or scancel)
    status, out, err = _stop_after_new_checkpoint(
        ["run", "--restart", "out.ckpt", "--no-progress"], tmp_path, signal.SIGTERM,
        second.generation_dir.name)
    assert status == ck.EXIT_CHECKPOINTED, err
    assert "stopped on SIGTERM" in out
    third = ck.open_checkpoint(tmp_path / "out.ckpt")
    assert third.step > second.step and third.restarts == 2
    # 4. the last segment finishes: the result is the uninterrupted run's
    restarted = mcsim_cli("run", "--restart", "out.ckpt", "--no-progress", cwd=tmp_path)
    assert restarted.returncode == 0, restarted.stderr
    assert differences(reference, tmp_path / "out.h5") == []
    assert not (tmp_path / "out.ckpt").exists()
    with h5py.File(tmp_path / "out.h5", "r") as f:
        assert int(f["provenance"].attrs["restarts"]) == 3


def test_checkpoint_holds_the_run_state_and_the_counter_position(stopped):
    _, ckpt_dir = stopped
    ckpt = ck.open_checkpoint(ckpt_dir)
    assert ckpt.step == 200 and ckpt.time_s > 0
    assert [b["offset"] for b in ckpt.blocks] == [(0, 0, 0)]
    assert ckpt.blocks[0]["shape"] == ckpt.global_shape
    state = ckpt.load_state()
    assert state.step == 200 and state.time_s == ckpt.time_s
    assert state.census, "the kernels' census (time-step switches) must be restored"
    assert ckpt.tallies["tm_lithiated"] > 0
    assert ckpt.thermo_last is not None and ckpt.thermo_last[0] <= ckpt.time_s
    with h5py.File(ckpt.generation_dir / ck.META, "r") as f:
        assert int(f["rng"].attrs["counter_step"]) == 200
        assert "counter" in f["rng"].attrs["note"]
    sim = Simulation(ckpt.config(), log=silent, restart=ckpt)
    assert sim.tallies == ckpt.tallies and sim.thermo.last == ckpt.thermo_last


def test_process_state_survives_a_checkpoint_round_trip(tmp_path, stopped):
    # every process that keeps state between steps (state_dict / load_state_dict, e.g. the
    # sintering MCS accumulators) gets exactly that state back on restart
    _, ckpt_dir = stopped
    sim = Simulation(ck.open_checkpoint(ckpt_dir).config(), log=silent,
                     restart=ck.open_checkpoint(ckpt_dir))
    keeping = [p for p in sim.stepper.processes if hasattr(p, "state_dict")]
    assert keeping, "no process with state_dict to check"
    for i, proc in enumerate(keeping):  # give it a state of its own (floats: 1/3 + i, ...)
        state = proc.state_dict()
        proc.load_state_dict({k: (1.0 / 3.0 + i + j if isinstance(v, float) else v)
                              for j, (k, v) in enumerate(state.items())})
    wanted = {p.name: p.state_dict() for p in keeping}
    position = {"next_row_s": 1e9, "snapshot_index": 0, "breakpoint_index": 0,
                "out_path": tmp_path / "out.h5"}
    ck.write_checkpoint(tmp_path / "rt.ckpt", sim, None, position)
    again = Simulation(sim.cfg, log=silent, restart=ck.open_checkpoint(tmp_path / "rt.ckpt"))
    got = {p.name: p.state_dict() for p in again.stepper.processes if hasattr(p, "state_dict")}
    assert got == wanted and any(v != 0 for d in got.values() for v in d.values())


def test_stateless_variants_restart_to_a_bit_identical_result(tmp_path):
    """The per-grain dehydration variant keeps no state of its own (its draw is keyed by grain
    id and step, its table of grain ids is found again from the fields), nor do the kept sites
    of a rock-salt outline (``ripening_surface_gaps`` between 0 and 1: a draw keyed by the
    voxel's index), the expansion kept out of nanopores, the nucleation sites of ripening's
    sink mode (keyed likewise) or the expansion's order of filling (pits first, read from the
    step's snapshot): a run with all five, stopped while
    grains are still dehydrating, restarts to the uninterrupted result."""
    variants = ("model.processes.dehydration='per-grain'",
                "model.overrides.ripening_surface_gaps=0.3",
                "model.overrides.expansion_fills_nanopores=0.0",
                "model.overrides.nanopore_site_spacing_nm=30",
                "model.overrides.expansion_fills_pits_first=1")
    ref = run_tiny(tmp_path / "ref" / "out.h5", (*CKPT_SETS[len(TINY_SETS):], *variants))
    with h5py.File(ref.path, "r") as f:
        dehydrated = f["timeseries/tm_dehydrated"][()]
        steps = f["timeseries/step"][()]
        nanopores = f["timeseries/nanopore_voxels_opened"][()]
    assert np.nansum(dehydrated) > 0 and nanopores[-1] > 0
    # stop halfway through the dehydration, by TM converted
    done = np.nancumsum(dehydrated)
    stop_at = int(steps[np.searchsorted(done, 0.5 * done[-1])])
    root = tmp_path / "stopped"
    root.mkdir()
    cfg = config.load(sets=[*CKPT_SETS, *variants])
    sim = Simulation(cfg, log=silent)
    stop = ck.Checkpointer.from_config(cfg, root / "out.h5", stop=_StopAtStep(sim, stop_at),
                                       log=silent)
    with pytest.raises(ck.CheckpointExit):
        sim.run(root / "out.h5", progress=False, checkpointer=stop)
    restarted = mcsim_cli("run", "--restart", "out.ckpt", "--no-progress", cwd=root)
    assert restarted.returncode == 0, restarted.stderr
    assert differences(ref.path, root / "out.h5") == []


# -- damaged checkpoints are refused ---------------------------------------------------------

def _flip_byte(path, offset_from_end=None):
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if offset_from_end is None else len(data) - offset_from_end
    data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _damage(case, ckpt):
    gen = ckpt / _latest(ckpt)
    if case == "no-latest":
        (ckpt / ck.LATEST).unlink()
    elif case == "latest-names-missing-generation":
        (ckpt / ck.LATEST).write_text("gen-999999\n")
    elif case == "meta-missing":
        (gen / ck.META).unlink()
    elif case == "meta-not-complete":
        with h5py.File(gen / ck.META, "r+") as f:
            f.attrs["complete"] = np.bool_(False)
    elif case == "meta-truncated":
        with open(gen / ck.META, "r+b") as f:
            f.truncate(os.path.getsize(gen / ck.META) // 2)
    elif case == "block-missing":
        (gen / ck.block_name(0)).unlink()
    elif case == "block-truncated":
        with open(gen / ck.block_name(0), "r+b") as f:
            f.truncate(os.path.getsize(gen / ck.block_name(0)) - 1000)
    elif case == "block-bit-flip":
        with h5py.File(gen / ck.block_name(0), "r") as f:
            where = f["li"].id.get_offset() + f["li"].id.get_storage_size() // 2
        data = bytearray((gen / ck.block_name(0)).read_bytes())
        data[where] ^= 0x01
        (gen / ck.block_name(0)).write_bytes(bytes(data))
    elif case == "result-truncated":
        with open(gen / ck.RESULT_COPY, "r+b") as f:
            f.truncate(os.path.getsize(gen / ck.RESULT_COPY) - 1)
    elif case == "result-bit-flip":
        _flip_byte(gen / ck.RESULT_COPY)
    elif case == "not-a-checkpoint":
        shutil.rmtree(ckpt)
        ckpt.mkdir()
        (ckpt / "notes.txt").write_text("hello")
    else:
        raise AssertionError(case)


DAMAGE = {
    "no-latest": "no complete checkpoint", "latest-names-missing-generation": "gen-999999",
    "meta-missing": "never completed", "meta-not-complete": "INCOMPLETE",
    "meta-truncated": "cannot be read", "block-missing": "missing",
    "block-truncated": "block-00000.h5", "block-bit-flip": "CRC-32",
    "result-truncated": "truncated", "result-bit-flip": "CRC-32",
    "not-a-checkpoint": "no complete checkpoint",
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_damaged_checkpoint_is_refused_before_any_work(tmp_path, stopped, case, monkeypatch,
                                                       capsys):
    src_root, src = stopped
    ckpt = tmp_path / "out.ckpt"
    shutil.copytree(src, ckpt)
    _damage(case, ckpt)
    monkeypatch.setattr(ck, "install_stop_signals", lambda flag=None: ck.StopFlag())
    monkeypatch.chdir(tmp_path)
    status = cli.main(["run", "--restart", "out.ckpt", "-o", "new.h5", "--no-progress"])
    err = capsys.readouterr().err
    assert status == cli.EXIT_CONFIG
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mcsim: checkpoint error:"), err
    assert DAMAGE[case] in lines[0], lines[0]
    assert not (tmp_path / "new.h5").exists() and not partial_path(tmp_path / "new.h5").exists()


def test_restart_errors_exit_2_with_one_line_from_the_command_line(tmp_path, monkeypatch,
                                                                   capsys):
    missing = mcsim_cli("run", "--restart", "nothing.ckpt", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip() == "mcsim: checkpoint error: no checkpoint at nothing.ckpt"
    (tmp_path / "c.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "c.toml", "--restart", "x.ckpt"]) == 2
    err = capsys.readouterr().err
    assert "--restart" in err and "no CONFIG or --set" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]


def test_a_fresh_run_does_not_replace_an_unfinished_runs_checkpoint(tmp_path, stopped,
                                                                     monkeypatch, capsys):
    shutil.copytree(stopped[1], tmp_path / "out.ckpt")
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "out.ckpt").rglob("*"))
    monkeypatch.chdir(tmp_path)
    assert cli.main(_run_args()) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mcsim: output error: out.ckpt holds"), err
    assert "step 200" in err[0] and "--restart out.ckpt -o out.h5" in err[0]
    assert "--overwrite" in err[0]
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "out.ckpt").rglob("*")) == before
    assert not (tmp_path / "out.h5").exists() and not partial_path(tmp_path / "out.h5").exists()
    assert cli.main([*_run_args(), "--overwrite"]) == 0  # asked for: starts afresh
    assert (tmp_path / "out.h5").is_file()


# -- no half-written checkpoint is ever loadable ---------------------------------------------

def _durability_calls(monkeypatch, on_call):
    """Route every fsync and rename of the checkpoint writer through ``on_call``."""
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        on_call("fsync")
        return real_fsync(fd)

    def replace(a, b):
        on_call("replace")
        return real_replace(a, b)

    monkeypatch.setattr(ck.os, "fsync", fsync)
    monkeypatch.setattr(ck.os, "replace", replace)


def test_checkpoint_killed_at_any_point_of_writing_is_never_loaded_half_written(
        tmp_path, stopped, monkeypatch):
    src_root, src = stopped
    ckpt = ck.open_checkpoint(src)
    sim = Simulation(ckpt.config(), log=silent, restart=ckpt)
    old_step = ckpt.step
    sim.state.step += 1  # a different clock tells the two generations apart
    sim.state.time_s += 1.0
    position = {"next_row_s": 1e9, "snapshot_index": 0, "breakpoint_index": 0,
                "out_path": tmp_path / "out.h5"}
    calls = []
    with monkeypatch.context() as m:
        _durability_calls(m, calls.append)
        shutil.copytree(src, tmp_path / "dry")
        ck.write_checkpoint(tmp_path / "dry", sim, None, position)
    assert calls.count("fsync") >= 4 and calls.count("replace") == 1
    for k in range(1, len(calls) + 1):
        target = tmp_path / f"kill{k}"
        shutil.copytree(src, target)
        pid = os.fork()
        if pid == 0:  # child: write, and die by SIGKILL at the k-th fsync or rename
            try:
                count = [0]

                def die(_what, count=count):
                    count[0] += 1
                    if count[0] == k:
                        os.kill(os.getpid(), signal.SIGKILL)

                _durability_calls(monkeypatch, die)
                ck.write_checkpoint(target, sim, None, position)
            finally:
                os._exit(3)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, k
        loaded = ck.open_checkpoint(target)  # never raises: LATEST names a complete generation
        assert loaded.step in (old_step, old_step + 1), k
        state = loaded.load_state()  # CRC-checked
        assert state.step == loaded.step
        for gen in sorted(p for p in target.iterdir() if p.name.startswith("gen-")):
            try:
                other = ck.open_checkpoint(gen)
            except ck.CheckpointError:
                continue  # half-written: refused
            assert other.load_state().step == other.step  # else complete and verified
        # the next write clears what the killed one left and keeps one generation
        ck.write_checkpoint(target, sim, None, position)
        assert sorted(p.name for p in target.iterdir()) == [ck.LATEST, _latest(target)]
        assert ck.open_checkpoint(target).step == old_step + 1


# -- configuration -----------------------------------------------------------------------

@pytest.mark.parametrize("key, value, needle", [
    ("output.checkpoint_interval_wall_s", "-1", "[0, 1e+07]"),
    ("output.checkpoint_interval_sim_min", "-0.5", "[0, 1e+07]"),
    ("output.checkpoint_interval_sim_min", "'often'", "a number"),
    ("output.checkpoint_interval_wall_s", "nan", "a number"),
    ("output.checkpoint_path", "3", "a string"),
])
def test_checkpoint_keys_are_validated_naming_key_and_range(key, value, needle):
    with pytest.raises(ConfigError) as info:
        config.load(sets=[f"{key}={value}"])
    assert info.value.key == key and needle in str(info.value)


def test_checkpoint_defaults_are_off_and_next_to_the_output():
    cfg = config.load()
    assert cfg["output"]["checkpoint_interval_wall_s"] == 0.0
    assert cfg["output"]["checkpoint_interval_sim_min"] == 0.0
    assert ck.checkpoint_dir(cfg, "runs/a.h5").as_posix() == "runs/a.ckpt"
    assert not ck.Checkpointer.from_config(cfg, "a.h5").active
    cfg = config.load(sets=["output.checkpoint_path='elsewhere/c'"])
    assert ck.checkpoint_dir(cfg, "a.h5").as_posix() == "elsewhere/c"
    with pytest.raises(ConfigError, match="output.checkpoint_path"):
        ck.Checkpointer.from_config(config.load(sets=["output.checkpoint_path='a.h5'"]), "a.h5")


def test_walltime_stop_keeps_a_reserve_for_the_longest_step_and_the_write(stopped):
    _, ckpt_dir = stopped
    ckpt = ck.open_checkpoint(ckpt_dir)
    sim = Simulation(ckpt.config(), log=silent, restart=ckpt)
    now = time.monotonic()
    cp = ck.Checkpointer("unused", walltime_s=1000.0, t_start=now - 900.0)
    cp._max_step_s = 10.0  # the longest step so far
    cp.last_seconds = 5.0  # the last checkpoint write
    assert cp.reserve_s(sim) == 2 * 10.0 + 2 * 5.0 + 30.0
    assert cp._reason(sim, now) == (None, False)  # 100 s left > 60 s reserve
    assert cp._reason(sim, now + 41.0) == ("wall-time limit", True)  # 59 s left
    fresh = ck.Checkpointer("unused", walltime_s=10.0, t_start=now)
    nbytes = sum(sim.state.interior(n).nbytes for n in ck.FIELDS)
    assert fresh.reserve_s(sim) == pytest.approx(2 * nbytes / 100e6 + 0.5)


@pytest.mark.parametrize("text, seconds", [
    ("3600", 3600.0), ("90.5", 90.5), ("01:00:00", 3600.0), ("0:00:02", 2.0),
    ("1-00:00:01", 86401.0), ("48:00:00", 172800.0), ("45:00", 2700.0), ("7:30", 450.0)])
def test_walltime_forms_are_read(text, seconds):
    assert ck.parse_walltime(text) == seconds


@pytest.mark.parametrize("text", ["0", "-5", "abc", "", "1:70:00", "inf", "1:2:3:4"])
def test_bad_walltime_is_refused(text):
    with pytest.raises(ConfigError) as info:
        ck.parse_walltime(text, ck.WALLTIME_ENV)
    assert info.value.key == ck.WALLTIME_ENV and "HH:MM:SS" in str(info.value)


def test_bad_walltime_on_the_command_line_and_in_the_environment_exit_2(tmp_path, monkeypatch,
                                                                        capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "--walltime", "soon"]) == 2
    assert "--walltime = 'soon'" in capsys.readouterr().err
    monkeypatch.setenv(ck.WALLTIME_ENV, "1:99:00")
    assert cli.main(["run"]) == 2
    assert f"{ck.WALLTIME_ENV} = '1:99:00'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


# -- the block API: any number of ranks reads what any number wrote ----------------------

def _random_fields(shape, seed=5):
    gen = np.random.default_rng(seed)
    return {"phase": gen.integers(0, 7, shape, dtype=np.uint8),
            "grain": gen.integers(-1, 5000, shape, dtype=np.int32),
            "amount": gen.integers(0, 65535, shape, dtype=np.uint16),
            "li": gen.normal(0, 300, shape).astype(np.float32),
            "disorder": gen.integers(0, 255, shape, dtype=np.uint8)}


def _split(global_shape, axis, parts):
    """(offset, shape) of ``parts`` blocks along ``axis`` by the np.array_split rule."""
    out, start = [], 0
    for i in range(parts):
        n = global_shape[axis] // parts + (1 if i < global_shape[axis] % parts else 0)
        offset = [0, 0, 0]
        offset[axis] = start
        shape = list(global_shape)
        shape[axis] = n
        out.append((tuple(offset), tuple(shape)))
        start += n
    return out


def test_blocks_written_by_two_ranks_are_read_back_by_one_and_by_three(tmp_path):
    global_shape = (13, 11, 17)
    whole = _random_fields(global_shape)
    blocks = []
    for rank, (offset, shape) in enumerate(_split(global_shape, 1, 2)):  # 2 ranks along y
        sl = tuple(slice(o, o + n) for o, n in zip(offset, shape))
        blocks.append(ck.write_block(tmp_path, rank, offset, shape, global_shape,
                                     {k: v[sl] for k, v in whole.items()}))
    one = ck.read_region(tmp_path, blocks, (0, 0, 0), global_shape)  # 1 rank
    for name in ck.FIELDS:
        assert one[name].dtype == whole[name].dtype
        assert one[name].tobytes() == whole[name].tobytes(), name
    for axis in (0, 2):  # 3 ranks, split along another axis: each reads parts of both blocks
        assembled = {k: np.zeros_like(v) for k, v in whole.items()}
        for offset, shape in _split(global_shape, axis, 3):
            part = ck.read_region(tmp_path, blocks, offset, shape)
            sl = tuple(slice(o, o + n) for o, n in zip(offset, shape))
            for name in ck.FIELDS:
                assembled[name][sl] = part[name]
        for name in ck.FIELDS:
            assert assembled[name].tobytes() == whole[name].tobytes(), (axis, name)
    with pytest.raises(ck.CheckpointError, match="cover"):
        ck.read_region(tmp_path, blocks[:1], (0, 0, 0), global_shape)


def test_checkpoint_of_a_lone_run_loads_into_any_subdomain(stopped):
    _, ckpt_dir = stopped
    ckpt = ck.open_checkpoint(ckpt_dir)
    whole = ckpt.load_state()
    gz, gy, gx = ckpt.global_shape
    for offset, shape in [((0, 0, 0), (gz // 2, gy, gx)), ((gz // 3, 5, 7), (gz // 3, gy - 9, 11))]:
        part = ckpt.load_state(offset, shape)
        assert part.offset == offset and part.shape == shape
        sl = tuple(slice(o + 1, o + n + 1) for o, n in zip(offset, shape))
        for name in ck.FIELDS:
            assert np.array_equal(part.interior(name), getattr(whole, name)[sl]), name


# -- a run on 2 ranks, killed, continued on 3 and on 1 ---------------------------------------

@pytest.mark.mpi
def test_run_killed_on_two_ranks_continues_on_three_and_on_one_bit_identically(tmp_path):
    (tmp_path / "c.toml").write_text(MPI_CONFIG)
    cfg = config.load(tmp_path / "c.toml")
    Simulation(cfg, log=silent).run(tmp_path / "ref.h5", progress=False)
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    env.pop("MCSIM_MPI_DIMS", None)
    job = subprocess.Popen(mpiexec_command(2, ["run", "c.toml", "-o", "out.h5", "--no-progress"]),
                           cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _wait_for(lambda: _latest(tmp_path / "out.ckpt") is not None, job, "a checkpoint")
        os.killpg(job.pid, signal.SIGKILL)  # the whole job, as a batch system kills it
        job.wait(timeout=60)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
        job.communicate()
    ckpt = ck.open_checkpoint(tmp_path / "out.ckpt")
    assert len(ckpt.blocks) == 2 and len(ckpt.result_parts) == 2  # two blocks, two part files
    shutil.copytree(tmp_path / "out.ckpt", tmp_path / "saved.ckpt")
    three = subprocess.run(mpiexec_command(3, ["run", "--restart", "out.ckpt", "--no-progress"]),
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert three.returncode == 0, three.stderr
    one = mcsim_cli("run", "--restart", "saved.ckpt", "-o", "one.h5", "--no-progress",
                    cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    for name in ("out.h5", "one.h5"):  # mpi_ranks, mpi_dims: of the first segment (2 ranks)
        assert [d for d in differences(tmp_path / "ref.h5", tmp_path / name)
                if d[:2] != ("attribute", "provenance") or d[2] not in ("mpi_ranks", "mpi_dims")
                ] == [], name
    # the 3-rank segment kept writing blocks per rank: its snapshots read 3 new part files,
    # the first segment's snapshots still read the 2 restored ones, and nothing else is left
    with h5py.File(tmp_path / "out.h5", "r") as f:
        sources = [sorted({Path(v.file_name).name for v in g["phase"].virtual_sources()})
                   for _, g in sorted(f["snapshots"].items())]
    assert all(len(s) in (2, 3) for s in sources) and len(sources[-1]) == 3, sources
    used = {n for s in sources for n in s}
    assert {p.name for p in (tmp_path / "out.h5.parts").iterdir()} == used
