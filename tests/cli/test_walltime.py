"""``mcsim config check --time``: the wall-time estimate (mcsim.walltime) and
``--ranks-per-node``."""

from __future__ import annotations

import json

import pytest

from mcsim import cli, config, walltime
from mcsim.errors import EXIT_CONFIG, ConfigError
from tests.support import TINY_SETS, write_toml as _toml


def _bench_json(path, per_core=1.0e8):
    path.write_text(json.dumps({"lattice": 128, "full_step": {"numba": [
        {"threads": 2, "per_core": 3.0e8}, {"threads": 1, "per_core": per_core}]}}))
    return path


def test_pilot_keeps_the_schedule_and_numerics_and_drops_output():
    cfg = config.load(sets=[*TINY_SETS, "particle.radius_um=0.4",
                            "output.checkpoint_interval_wall_s=60"])
    pilot = walltime.pilot_config(cfg)
    assert pilot["particle"]["radius_um"] == walltime.PILOT_RADIUS_UM
    assert pilot["schedule"] == cfg["schedule"] and pilot["numerics"] == cfg["numerics"]
    assert pilot["particle"]["voxel_nm"] == cfg["particle"]["voxel_nm"]
    out = pilot["output"]
    assert out["snapshot_temperatures_c"] == [] and not out["final_snapshot"]
    assert not out["pore_statistics"] and out["checkpoint_interval_wall_s"] == 0
    assert cfg["particle"]["radius_um"] == 0.4  # the caller's configuration is untouched
    config.validate(pilot)  # the pilot is a valid configuration


def test_wall_time_is_passes_times_block_over_rate():
    w = walltime.WallTime(passes=1000, rate_per_core=1.0e8, rate_source="x",
                          block_voxels=10 ** 8, ranks=4, threads_per_rank=2)
    assert w.seconds == pytest.approx(walltime.PILOT_UNDERCOUNT * 1000 * 1e8 / 2e8)
    assert "on 4 rank(s) x 2 thread(s)" in w.line() and "1000 lattice passes" in w.line()


def test_rate_is_read_from_a_bench_file_at_one_thread(tmp_path):
    rate, source = walltime.bench_rate(str(_bench_json(tmp_path / "b.json", 1.25e8)))
    assert rate == 1.25e8 and "b.json" in source


@pytest.mark.parametrize("text", ["not json", '{"full_step": {}}',
                                  '{"full_step": {"numba": [{"threads": 1, "per_core": -1}]}}'])
def test_a_bad_bench_file_is_refused_naming_the_option(tmp_path, text):
    path = tmp_path / "b.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match="--bench"):
        walltime.bench_rate(str(path))


def test_config_check_time_prints_an_estimate_from_a_pilot(tmp_path, capsys):
    cfg_path = _toml(tmp_path / "tiny.toml", TINY_SETS)
    bench = _bench_json(tmp_path / "b.json", 1.0e8)
    assert cli.main(["config", "check", str(cfg_path), "--time", "--bench", str(bench),
                     "--ranks", "2"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "wall time about" in x)
    assert "on 2 rank(s)" in line and "1e+08 voxel-updates/s per core" in line
    passes = int(line.split(" lattice passes")[0].rsplit("(", 1)[1])
    assert passes > 10  # a whole ramp to 350 C takes many sweeps


def test_bench_without_time_and_ranks_per_node_out_of_range_are_refused(tmp_path, capsys):
    cfg_path = _toml(tmp_path / "tiny.toml", TINY_SETS)
    bench = _bench_json(tmp_path / "b.json")
    assert cli.main(["config", "check", str(cfg_path), "--bench", str(bench)]) == EXIT_CONFIG
    assert "--bench" in capsys.readouterr().err
    assert cli.main(["config", "check", str(cfg_path), "--ranks", "4",
                     "--ranks-per-node", "5"]) == EXIT_CONFIG
    assert "--ranks-per-node" in capsys.readouterr().err


def test_ranks_per_node_limits_the_memory_check_to_one_node(tmp_path, monkeypatch, capsys):
    from mcsim import resources

    cfg_path = _toml(tmp_path / "tiny.toml", TINY_SETS)
    one = resources.estimate(config.load(cfg_path), 64).memory_per_rank_bytes
    # room for 8 ranks of this run, not for 64
    monkeypatch.setattr(resources, "available_memory_bytes", lambda: 8 * one + 1)
    assert cli.main(["config", "check", str(cfg_path), "--ranks", "64"]) == EXIT_CONFIG
    capsys.readouterr()
    assert cli.main(["config", "check", str(cfg_path), "--ranks", "64",
                     "--ranks-per-node", "8"]) == 0
