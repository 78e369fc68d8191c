"""Resource estimates and limits (issue 10, item 6): a run's memory and output are estimated
before anything is allocated, printed by ``mcsim config check`` and at the start of a run,
and a run that cannot fit, a schedule of years, a time series of billions of rows or a
sweep of millions of runs is refused with one line and exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from mcsim import cli, config, engine, resources
from mcsim.errors import EXIT_CONFIG, ConfigError
from mcsim.schedule import MAX_DURATION_S, Schedule
from tests.support import MPIEXEC, TINY_SETS, measure_first_run, write_toml as _toml

#: Radius 4 um at 5 nm voxels: a 1664^3 grid, about 200 GiB (the issue's MemoryError).
HUGE_SETS = ("particle.radius_um=4", "particle.voxel_nm=5")
#: Radius 8.8 um at 10 nm: a 2044^3 grid (the box grown so the lithium source fits), just
#: under the generator's 2048^3 limit.
LARGEST_GRID_SETS = ("particle.radius_um=8.8", "particle.voxel_nm=10")

def _mcsim(*args, timeout=60):
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    return subprocess.run([sys.executable, "-m", "mcsim", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def _one_line_refusal(stderr: str, key: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"mcsim: configuration error: {key} = "), stderr
    assert "Traceback" not in stderr


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, first_run):
    """The tiny run (radius 0.2 um) as a first run, which compiles every kernel (the largest
    peak), in a child process: its output, measured peak RSS and the estimate for its
    configuration. The session's measured first run when there was one (conftest.py), else a
    run with an empty Numba cache of its own."""
    if first_run is None:
        tmp = tmp_path_factory.mktemp("tiny")
        first_run = measure_first_run(tmp, cache_dir=tmp / "empty-numba-cache")
    assert first_run["rc"] == 0, first_run["stderr"]
    return dict(first_run, estimate=resources.estimate(config.load(first_run["config_path"])))


def test_estimate_never_undershoots_the_measured_peak_rss(tiny_run):
    est = tiny_run["estimate"]
    assert est.grid_n == 60
    assert est.memory_per_rank_bytes >= tiny_run["peak_bytes"], (
        est.memory_per_rank_bytes / 2**20, tiny_run["peak_bytes"] / 2**20)
    # and not absurdly above it (the base dominates this small case)
    assert est.memory_per_rank_bytes < 2 * tiny_run["peak_bytes"]


def test_run_banner_prints_the_memory_and_output_estimate(tiny_run):
    banner = next(line for line in tiny_run["stdout"].splitlines()
                  if line.startswith("mcsim ") and "grid" in line)
    assert tiny_run["estimate"].short() in banner
    assert "B/voxel" not in banner


def test_estimate_grid_is_the_generators_grid():
    cfg = config.load(sets=list(TINY_SETS))
    from mcsim.generator import generate_agglomerate

    micro = generate_agglomerate(**engine.generator_kwargs(cfg))
    assert micro.phase.shape == (resources.grid_edge(cfg),) * 3


@pytest.mark.parametrize("pores", [False, True])
def test_more_ranks_need_less_memory_per_rank(pores):
    cfg = config.load(sets=[*HUGE_SETS, f"output.pore_statistics={str(pores).lower()}"])
    one, eight = resources.estimate(cfg, 1), resources.estimate(cfg, 8)
    assert eight.block_voxels < one.block_voxels / 7
    # each rank generates its own block and analyses its own slab: what grows with the
    # lattice is divided by the ranks (the base is not)
    base = resources.BASE_BYTES
    assert eight.memory_per_rank_bytes - base < (one.memory_per_rank_bytes - base) / 6
    restart = resources.estimate(cfg, 8, generate=False)
    assert restart.memory_per_rank_bytes <= eight.memory_per_rank_bytes


@pytest.mark.parametrize("sets", [HUGE_SETS, LARGEST_GRID_SETS], ids=["4um-5nm", "2014^3"])
def test_config_check_prints_the_estimate_and_refuses_a_grid_too_big_for_memory(tmp_path,
                                                                                sets):
    proc = _mcsim("config", "check", str(_toml(tmp_path / "big.toml", sets)))
    assert proc.returncode == EXIT_CONFIG
    assert "memory about" in proc.stdout and ": valid" not in proc.stdout
    assert "GiB" in proc.stdout and "output at most" in proc.stdout
    _one_line_refusal(proc.stderr, "particle.radius_um")
    assert "particle.voxel_nm" in proc.stderr and "available" in proc.stderr


def test_run_refuses_a_grid_too_big_for_memory_before_writing_anything(tmp_path):
    cfg_path = _toml(tmp_path / "big.toml", HUGE_SETS)
    t0 = time.monotonic()
    proc = _mcsim("run", str(cfg_path), "-o", str(tmp_path / "big.h5"), "--no-progress")
    assert time.monotonic() - t0 < 30  # refused before generating 4.6e9 voxels
    assert proc.returncode == EXIT_CONFIG
    _one_line_refusal(proc.stderr, "particle.radius_um")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.toml"]


def test_refusal_when_the_available_memory_is_small(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(resources, "available_memory_bytes", lambda: 50 * 2**20)

    def never(**_kwargs):
        raise AssertionError("the generator ran before the memory check")

    monkeypatch.setattr(engine, "generate_agglomerate", never)
    cfg_path = _toml(tmp_path / "tiny.toml", TINY_SETS)
    assert cli.main(["config", "check", str(cfg_path)]) == EXIT_CONFIG
    out, err = capsys.readouterr()
    assert "memory about" in out
    _one_line_refusal(err, "particle.radius_um")
    assert "50 MiB of memory is available" in err
    with pytest.raises(ConfigError, match="particle.voxel_nm"):
        engine.Simulation(config.load(cfg_path), log=lambda *_a, **_k: None)
    assert cli.main(["run", str(cfg_path), "-o", str(tmp_path / "t.h5"),
                     "--no-progress"]) == EXIT_CONFIG
    _one_line_refusal(capsys.readouterr().err, "particle.radius_um")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.toml"]


def test_config_check_ranks_multiply_the_memory_on_this_node(tmp_path, monkeypatch, capsys):
    cfg_path = _toml(tmp_path / "tiny.toml", TINY_SETS)
    per_rank = resources.estimate(config.load(cfg_path), 4).memory_per_rank_bytes
    monkeypatch.setattr(resources, "available_memory_bytes", lambda: 3 * per_rank)
    assert cli.main(["config", "check", str(cfg_path), "--ranks", "2"]) == 0
    assert "per rank" in capsys.readouterr().out
    assert cli.main(["config", "check", str(cfg_path), "--ranks", "4"]) == EXIT_CONFIG
    assert "x 4 ranks on this node" in capsys.readouterr().err


def test_a_hold_of_1e308_minutes_is_refused_by_config_check(tmp_path, capsys):
    path = tmp_path / "hold.toml"
    path.write_text("[schedule]\npreset = 'custom'\n[[schedule.steps]]\nhold_min = 1e308\n")
    assert cli.main(["config", "check", str(path)]) == EXIT_CONFIG
    _one_line_refusal(capsys.readouterr().err, "schedule.steps[0].hold_min")


def test_schedules_longer_than_1000_hours_are_refused_naming_the_option():
    assert MAX_DURATION_S == 1000 * 3600
    with pytest.raises(ConfigError, match=r"^schedule\.hold_min = .*at most 60000 min"):
        Schedule.preset("R-NCM", hold_min=1e6)
    with pytest.raises(ConfigError, match=r"^schedule\.peak_hold_min = "):
        Schedule.preset("TS-NCM", peak_hold_min=1e6)
    with pytest.raises(ConfigError, match=r"^schedule\.ramp_c_per_min = "):
        Schedule.preset("ramp", to_c=850, ramp_c_per_min=1e-3)
    with pytest.raises(ConfigError, match=r"^schedule\.steps\[1\]\.hold_min = "):
        Schedule.from_steps(25, [{"hold_min": 59_000}, {"hold_min": 2_000}])
    assert Schedule.from_steps(25, [{"hold_min": 60_000}]).duration_s == MAX_DURATION_S


def test_timeseries_interval_of_a_microsecond_is_refused(capsys, tmp_path):
    path = _toml(tmp_path / "ts.toml", ["output.timeseries_interval_s=1e-6"])
    assert cli.main(["config", "check", str(path)]) == EXIT_CONFIG
    err = capsys.readouterr().err
    _one_line_refusal(err, "output.timeseries_interval_s")
    assert "at most 1e+06 time-series rows" in err
    # the default schedule at 1 s per row is fine
    config.load(sets=["output.timeseries_interval_s=1"])


def test_more_than_1000_snapshots_are_refused():
    times = "[" + ", ".join(str(m) for m in range(1001)) + "]"
    with pytest.raises(ConfigError, match=r"^output\.snapshot_times_min = .*at most 1000"):
        config.load(sets=[f"output.snapshot_times_min={times}"])


def test_sweep_of_1000_points_by_100000_replicas_is_refused_quickly(tmp_path):
    path = tmp_path / "big.toml"
    path.write_text("[sweep]\nreplicas = 100000\n[grid]\n\"schedule.hold_min\" = ["
                    + ", ".join(str(i) for i in range(1000)) + "]\n")
    wrapper = ("import json, resource, subprocess, sys, time; t0 = time.monotonic(); "
               "p = subprocess.run([sys.executable, '-m', 'mcsim', 'sweep', sys.argv[1], "
               "'--dry-run'], capture_output=True, text=True); print(json.dumps({'rc': "
               "p.returncode, 'err': p.stderr, 's': time.monotonic() - t0, 'peak': "
               "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}))")
    proc = subprocess.run([sys.executable, "-c", wrapper, str(path)], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    result = json.loads(proc.stdout)
    assert result["rc"] == EXIT_CONFIG
    _one_line_refusal(result["err"], "sweep.replicas")
    assert "at most 100000 runs" in result["err"]
    assert result["s"] < 20 and result["peak"] < 500 * 2**20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.toml"]


@pytest.mark.mpi
def test_mpi_refusal_is_one_line_and_no_rank_hangs(tmp_path):
    cfg_path = _toml(tmp_path / "big.toml", HUGE_SETS)
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    env.pop("MCSIM_MPI_DIMS", None)
    proc = subprocess.run([str(MPIEXEC), "-n", "2", sys.executable, "-m", "mcsim", "run",
                           str(cfg_path), "-o", str(tmp_path / "big.h5"), "--no-progress"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == EXIT_CONFIG, proc.stderr
    _one_line_refusal(proc.stderr, "particle.radius_um")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.toml"]
