"""End-to-end tests of the ``mcsim`` command line, run as a subprocess (``python -m mcsim``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tomllib

import h5py
import numpy as np
import pytest

from mcsim import config

import mcsim
from mcsim import params
from mcsim.io.hdf5 import ResultWriter, partial_path
from mcsim.phases import NAMES
from tests.support import START_WATCHDOG_S


def mcsim_cli(*args, cwd, timeout=120):
    """Run ``python -m mcsim ARGS`` in ``cwd`` and return the CompletedProcess (text mode)."""
    return subprocess.run([sys.executable, "-m", "mcsim", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def _result_files(directory) -> list:
    return sorted(p.name for p in directory.iterdir()
                  if p.name.endswith((".h5", ".partial", ".xmf")))


# -- config show / check -------------------------------------------------------------------

def test_config_show_prints_toml_that_config_check_accepts(tmp_path):
    shown = mcsim_cli("config", "show", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    parsed = tomllib.loads(shown.stdout)
    assert parsed["schedule"]["preset"] == "R-NCM"
    assert parsed["particle"]["radius_um"] == config.SCHEMA["particle"]["radius_um"].default
    (tmp_path / "shown.toml").write_text(shown.stdout)
    checked = mcsim_cli("config", "check", "shown.toml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "valid" in checked.stdout
    assert checked.stderr == ""


def test_config_check_notes_a_voxel_other_than_the_calibrations(tmp_path):
    """At 10 nm no note; on another voxel `config check` says the results are not yet
    independent of it (and the run log says the same, from the same function)."""
    (tmp_path / "a.toml").write_text("[particle]\nradius_um = 0.1\nvoxel_nm = 20.0\n")
    checked = mcsim_cli("config", "check", "a.toml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "note: particle.voxel_nm = 20 nm" in checked.stdout
    assert "not yet independent of the voxel" in checked.stdout
    (tmp_path / "b.toml").write_text("[particle]\nradius_um = 0.1\n")
    checked = mcsim_cli("config", "check", "b.toml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "voxel_nm" not in checked.stdout
    assert config.voxel_note(config.load(None)) is None


def test_config_show_applies_set_override(tmp_path):
    shown = mcsim_cli("config", "show", "--set", "particle.radius_um=0.5", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert tomllib.loads(shown.stdout)["particle"]["radius_um"] == 0.5


BAD_CONFIGS = {
    "unknown-key": ("[particle]\nradius_umm = 0.5\n",
                    ["particle.radius_umm", "0.5", "unknown key", "radius_um"]),
    "out-of-range": ("[particle]\nradius_um = 50.0\n",
                     ["particle.radius_um", "50.0", "[0.05, 20]"]),
    "schedule-ramps-down": ('[schedule]\npreset = "custom"\nstart_c = 25.0\n'
                            "[[schedule.steps]]\nramp_c_per_min = 5.0\nto_c = 400.0\n"
                            "[[schedule.steps]]\nramp_c_per_min = 5.0\nto_c = 300.0\n",
                            ["schedule.steps[1].to_c", "300.0", "400.0"]),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_rejected_with_one_line_naming_key_value_and_range(tmp_path, case):
    text, needles = BAD_CONFIGS[case]
    (tmp_path / "bad.toml").write_text(text)
    checked = mcsim_cli("config", "check", "bad.toml", cwd=tmp_path)
    assert checked.returncode == 2
    assert checked.stdout == ""
    lines = checked.stderr.strip().splitlines()
    assert len(lines) == 1, checked.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert "Traceback" not in checked.stderr


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_run_on_bad_config_exits_2_and_writes_nothing(tmp_path, case):
    text, needles = BAD_CONFIGS[case]
    (tmp_path / "bad.toml").write_text(text)
    ran = mcsim_cli("run", "bad.toml", "--no-progress", cwd=tmp_path)
    assert ran.returncode == 2, ran.stderr
    assert needles[0] in ran.stderr
    ran_o = mcsim_cli("run", "bad.toml", "-o", "out.h5", "--no-progress", cwd=tmp_path)
    assert ran_o.returncode == 2, ran_o.stderr
    assert _result_files(tmp_path) == []


# -- run and info --------------------------------------------------------------------------

def _write_tiny_config(path, tiny_sets) -> None:
    """A TOML file with the tiny particle (the schedule comes from --set on the command line)."""
    lines = {}
    for assignment in tiny_sets:
        key, value = assignment.split("=", 1)
        section, name = key.split(".")
        if section in ("particle", "lithium"):
            lines.setdefault(section, []).append(f"{name} = {value}")
    text = "\n".join(f"[{s}]\n" + "\n".join(v) for s, v in lines.items()) + "\n"
    path.write_text(text)


def test_run_writes_result_and_sidecar_and_info_summarises_it(tmp_path, tiny_sets):
    _write_tiny_config(tmp_path / "tiny.toml", tiny_sets)
    schedule_sets = [a for a in tiny_sets if a.split(".")[0] in ("schedule", "output", "numerics")]
    args = ["run", "tiny.toml", "-o", "out.h5", "--no-progress",
            "--set", "output.snapshot_temperatures_c=[250.0]"]
    for assignment in schedule_sets:
        args += ["--set", assignment]
    ran = mcsim_cli(*args, cwd=tmp_path, timeout=180)
    assert ran.returncode == 0, ran.stderr
    assert (tmp_path / "out.h5").is_file()
    assert (tmp_path / "out.xmf").is_file()
    assert not partial_path(tmp_path / "out.h5").exists()
    with h5py.File(tmp_path / "out.h5", "r") as f:
        assert bool(f.attrs["complete"])
        assert tomllib.loads(f["config"].asstr()[()])["particle"]["radius_um"] == 0.2
        final = f["timeseries/phase_fraction"][-1]

    info = mcsim_cli("info", "out.h5", "--all", cwd=tmp_path)  # the whole-grid phase table
    assert info.returncode == 0, info.stderr
    assert "status: complete" in info.stdout
    assert "INCOMPLETE" not in info.stdout
    assert "final phase fractions" in info.stdout
    for name, value in zip(NAMES, final):
        assert f"{name:<12} {value:.4f}" in info.stdout, name


def _aborted_partial(path):
    writer = ResultWriter(path, config_toml="seed = 1\n", seed=1, mcsim_version=mcsim.__version__,
                          provenance={}, grid_shape=(4, 4, 4), voxel_nm=10.0)
    fractions = np.zeros(len(NAMES))
    fractions[0] = 1.0
    writer.append_timeseries(0.0, 25.0, fractions)
    writer.abort()
    return partial_path(path)


def test_info_on_partial_file_says_incomplete_and_exits_1(tmp_path):
    partial = _aborted_partial(tmp_path / "crashed.h5")
    assert partial.exists() and not (tmp_path / "crashed.h5").exists()
    for target in (partial.name, "crashed.h5"):
        info = mcsim_cli("info", target, cwd=tmp_path)
        assert info.returncode == 1, info.stderr
        assert "INCOMPLETE" in info.stdout, target
        assert "status: complete" not in info.stdout


def test_info_on_missing_or_unreadable_file_exits_2_with_one_line(tmp_path):
    info = mcsim_cli("info", "nothing.h5", cwd=tmp_path)
    assert info.returncode == 2
    assert "nothing.h5" in info.stderr
    (tmp_path / "junk.h5").write_bytes(b"not hdf5 at all" * 100)
    info = mcsim_cli("info", "junk.h5", cwd=tmp_path)
    assert info.returncode == 2 and info.stdout == ""
    assert info.stderr.strip().count("\n") == 0 and "junk.h5" in info.stderr


# -- params and version --------------------------------------------------------------------

def test_config_params_lists_every_set_with_units_and_sources(tmp_path):
    listed = mcsim_cli("config", "params", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert len(params.PARAMETER_SETS) >= 2
    sections = {}
    current = None
    for line in listed.stdout.splitlines():
        if line.startswith("parameter set "):
            current = line.split()[-1]
            sections[current] = []
        elif line.strip():
            sections[current].append(line)
    assert sorted(sections) == sorted(params.PARAMETER_SETS)
    for name, table in params.PARAMETER_SETS.items():
        rows = {row.split()[0]: row for row in sections[name]}
        assert sorted(rows) == sorted(table)
        for key, parameter in table.items():
            assert parameter.unit in rows[key].split(), (name, key)
            assert parameter.source and parameter.source in rows[key], (name, key)


def test_version_flag_prints_package_version(tmp_path):
    shown = mcsim_cli("--version", cwd=tmp_path)
    assert shown.returncode == 0
    assert shown.stdout.strip() == f"mcsim {mcsim.__version__}"


# -- a killed run --------------------------------------------------------------------------

def test_run_killed_midway_leaves_no_result_file(tmp_path, tiny_sets):
    _write_tiny_config(tmp_path / "long.toml", tiny_sets)
    out = tmp_path / "killed.h5"
    partial = partial_path(out)
    # R-NCM (ramp to 850 C, 12 h hold) on the tiny particle runs far longer than this test
    proc = subprocess.Popen([sys.executable, "-m", "mcsim", "run", "long.toml", "-o", out.name,
                             "--no-progress", "--set", "schedule.preset='R-NCM'",
                             "--set", "numerics.threads=1"],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + START_WATCHDOG_S
        while not partial.exists():
            assert proc.poll() is None, f"run ended early: {proc.stderr.read()!r}"
            assert time.monotonic() < deadline, f"no .partial file after {START_WATCHDOG_S} s"
            time.sleep(0.05)
        time.sleep(0.5)  # let it write a little
        assert proc.poll() is None, "run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert not out.exists()
    assert not out.with_suffix(".xmf").exists()
    assert partial.exists()
    info = mcsim_cli("info", out.name, cwd=tmp_path)
    assert info.returncode == 1, info.stderr
    assert "INCOMPLETE" in info.stdout


@pytest.mark.parametrize("given, expected", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_openmp_threads_wait_passively_unless_the_user_says_otherwise(given, expected):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given is not None:
        env["OMP_WAIT_POLICY"] = given
    proc = subprocess.run([sys.executable, "-c",
                           "import mcsim, os; print(os.environ['OMP_WAIT_POLICY'])"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == expected
