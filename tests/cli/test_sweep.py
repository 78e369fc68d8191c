"""Tests of ``mcsim sweep`` (mcsim/sweep/) and of analysis/sweep_map.py.

Parsing and validation are checked on small sweep files without running anything. One real
sweep of four tiny runs (the tiny configuration of tests/support.py, 0.15 um radius, ramp from
150 C) runs under ``mpiexec -n 2`` with run 1 failed on purpose through the test hook
``MCSIM_SWEEP_FAIL_RUNS``; a second, one-rank invocation resumes it after one result file is
deleted. The index and the sweep map are checked on what those two invocations left.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import re
import signal
import subprocess
import shutil
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

from mcsim import cli, config
from mcsim import sweep as sw
from mcsim.errors import ConfigError
from tests.support import REPO_ROOT as ROOT

MPIEXEC = Path(sys.executable).parent / "mpiexec"
SWEEP_MAP = ROOT / "analysis" / "sweep_map.py"

#: Settings added to the tiny run so that each run of the sweep takes about a second.
SHORT_SETS = ("particle.radius_um=0.15", "schedule.start_c=150",
              "output.timeseries_interval_s=420")


def _write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def base_file(tmp_path, tiny_sets):
    """A base configuration file: the tiny run, shortened."""
    cfg = config.load(sets=[*tiny_sets, *SHORT_SETS])
    return _write(tmp_path / "base.toml", config.to_toml(cfg))


def _sweep(tmp_path, body: str, name: str = "sw.toml") -> Path:
    return _write(tmp_path / name, '[sweep]\nbase = "base.toml"\n' + textwrap.dedent(body))


# -- parsing and validation ----------------------------------------------------------------

def test_grid_is_the_cartesian_product_in_file_order(tmp_path, base_file):
    path = _sweep(tmp_path, """
        replicas = 2
        [grid]
        "schedule.to_c" = [280, 300, 320]
        lithium.li_to_tm = [1.0, 1.05]
        """)
    plan = sw.load_sweep(path)
    assert plan.n_points == 6 and len(plan.runs) == 12
    assert plan.swept_keys == ["schedule.to_c", "lithium.li_to_tm"]
    assert [(r.values["schedule.to_c"], r.values["lithium.li_to_tm"]) for r in plan.runs[::2]] == [
        (280, 1.0), (280, 1.05), (300, 1.0), (300, 1.05), (320, 1.0), (320, 1.05)]
    for run in plan.runs:
        assert run.run_id == run.point * 2 + run.replica
        assert run.cfg["schedule"]["to_c"] == float(run.values["schedule.to_c"])
        assert run.cfg["lithium"]["li_to_tm"] == run.values["lithium.li_to_tm"]
        assert run.cfg["particle"]["radius_um"] == 0.15  # from the base file
        assert run.cfg["seed"] == run.seed


def test_zip_lists_vary_together_as_one_more_axis(tmp_path, base_file):
    path = _sweep(tmp_path, """
        [set]
        "particle.porosity" = 0.2
        [grid]
        "schedule.to_c" = [280, 300]
        [zip]
        "lithium.li_to_tm" = [1.0, 1.05, 1.1]
        "lithium.source_diameter_nm" = [60.0, 80.0, 100.0]
        """)
    plan = sw.load_sweep(path)
    assert len(plan.runs) == 6
    pairs = {(r.cfg["lithium"]["li_to_tm"], r.cfg["lithium"]["source_diameter_nm"])
             for r in plan.runs}
    assert pairs == {(1.0, 60.0), (1.05, 80.0), (1.1, 100.0)}
    assert [r.values["lithium.li_to_tm"] for r in plan.runs] == [1.0, 1.05, 1.1] * 2
    assert all(r.cfg["particle"]["porosity"] == 0.2 for r in plan.runs)


def test_unequal_zip_lengths_are_rejected(tmp_path, base_file):
    path = _sweep(tmp_path, """
        [zip]
        "lithium.li_to_tm" = [1.0, 1.05, 1.1]
        "lithium.source_diameter_nm" = [60.0, 80.0]
        """)
    with pytest.raises(ConfigError) as err:
        sw.load_sweep(path)
    assert err.value.key == "zip"
    assert "same length" in str(err.value) and "'lithium.li_to_tm': 3" in str(err.value)


@pytest.mark.parametrize("body, key, allowed", [
    ("[sweep2]\nx = 1\n", "sweep2", "[grid]"),
    ("replica = 2\n", "sweep.replica", "replicas"),
    ("replicas = 0\n", "sweep.replicas", "integer in [1,"),
    ("[grid]\n\"particle.radus_um\" = [0.1]\n", "grid.particle.radus_um", "radius_um"),
    ("[grid]\n\"particles.radius_um\" = [0.1]\n", "grid.particles.radius_um", "particle"),
    ("[grid]\n\"particle.radius_um\" = 0.1\n", "grid.particle.radius_um", "non-empty list"),
    ("[grid]\n\"seed\" = [1, 2]\n", "grid.seed", "sweep.seed"),
    ("[set]\n\"particle.porosity\" = 0.2\n[grid]\n\"particle.porosity\" = [0.1]\n",
     "grid.particle.porosity", "only one of"),
    ("[grid]\n\"schedule.to_c\" = [300, 2500]\n", "grid.schedule.to_c", "[-273.15, 2000]"),
    ("[set]\n\"lithium.source\" = \"LiNO3\"\n", "set.lithium.source", "'Li2CO3'"),
])
def test_bad_sweep_files_name_the_key_and_what_is_allowed(tmp_path, base_file, body, key, allowed):
    with pytest.raises(ConfigError) as err:
        sw.load_sweep(_sweep(tmp_path, body))
    assert err.value.key == key
    assert allowed in err.value.allowed


def test_base_file_is_relative_to_the_sweep_file_and_inside_its_folder(tmp_path, base_file):
    sub = tmp_path / "sub"
    (sub / "configs").mkdir(parents=True)
    shutil.copy(base_file, sub / "configs" / "base.toml")
    path = _write(sub / "sw.toml", '[sweep]\nbase = "configs/base.toml"\n')
    assert sw.load_sweep(path).runs[0].cfg["particle"]["radius_um"] == 0.15
    with pytest.raises(ConfigError) as err:
        sw.load_sweep(_write(sub / "bad.toml", '[sweep]\nbase = "base.toml"\n'))
    assert err.value.key == "sweep.base" and "file not found" in err.value.allowed
    for outside in ("../base.toml", str(base_file)):  # a name that leaves the folder
        with pytest.raises(ConfigError) as err:
            sw.load_sweep(_write(sub / "out.toml", f'[sweep]\nbase = "{outside}"\n'))
        assert err.value.key == "sweep.base" and "inside the sweep file's folder" in str(err.value)
    default = sw.load_sweep(_write(tmp_path / "default.toml", "[sweep]\nreplicas = 1\n"))
    assert default.base is None
    assert default.runs[0].cfg["particle"] == config.load()["particle"]


def test_replica_seeds_are_distinct_reproducible_and_spawned_from_the_sweep_seed(
        tmp_path, base_file):
    path = _sweep(tmp_path, """
        seed = 11
        replicas = 3
        [grid]
        "schedule.to_c" = [280, 300]
        """)
    plan = sw.load_sweep(path)
    seeds = [r.seed for r in plan.runs]
    assert len(set(seeds)) == 6
    assert seeds == [r.seed for r in sw.load_sweep(path).runs]  # reproducible
    assert all(0 <= s < 2**63 for s in seeds)
    tree = [point.spawn(3) for point in np.random.SeedSequence(11).spawn(2)]
    for run in plan.runs:  # the child of the SeedSequence spawn tree keyed (point, replica)
        child = tree[run.point][run.replica]
        assert run.seed == int(child.generate_state(1, np.uint64)[0]) >> 1
    other = sw.load_sweep(_write(tmp_path / "other.toml",
                                 path.read_text().replace("seed = 11", "seed = 12")))
    assert not set(seeds) & {r.seed for r in other.runs}
    common = sw.load_sweep(_write(tmp_path / "common.toml",
                                  path.read_text().replace("seed = 11",
                                                           "seed = 11\ncommon_seeds = true")))
    by_replica = {}
    for run in common.runs:
        by_replica.setdefault(run.replica, set()).add(run.seed)
    assert all(len(s) == 1 for s in by_replica.values()) and len(by_replica) == 3


def test_group_layout_leaves_leftover_ranks_idle():
    assert sw.group_layout(1, 1) == (1, [])
    assert sw.group_layout(8, 2) == (4, [])
    assert sw.group_layout(7, 3) == (2, [6])
    with pytest.raises(ConfigError) as err:
        sw.group_layout(2, 4)
    assert err.value.key == "sweep.ranks_per_run" and "(2)" in err.value.allowed


def test_ranks_per_run_above_one_needs_a_simulation_that_takes_comm():
    class WithComm:
        def __init__(self, cfg, *, log=print, comm=None):
            pass

    class WithoutComm:
        def __init__(self, cfg, *, log=print):
            pass

    assert sw.simulation_accepts_comm(WithComm) and not sw.simulation_accepts_comm(WithoutComm)
    sw.check_comm_support(1, WithoutComm)
    sw.check_comm_support(4, WithComm)
    with pytest.raises(ConfigError) as err:
        sw.check_comm_support(2, WithoutComm)
    assert err.value.key == "sweep.ranks_per_run" and "comm=" in err.value.allowed


def test_dry_run_lists_every_run_and_writes_nothing(tmp_path, base_file, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = _sweep(tmp_path, """
        replicas = 2
        [grid]
        "schedule.to_c" = [280, 300]
        """)
    assert cli.main(["sweep", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "2 point(s) x 2 replica(s) = 4 runs" in out
    lines = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()
             and line.split()[-1] == "pending"]
    plan = sw.load_sweep(path)
    assert [(int(f[0]), int(f[3]), f[4]) for f in lines] == [
        (r.run_id, r.seed, str(r.values["schedule.to_c"])) for r in plan.runs]
    assert not (tmp_path / "sw").exists()


def test_invalid_run_config_stops_the_sweep_before_any_run(tmp_path, base_file, capsys,
                                                           monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = _sweep(tmp_path, """
        [grid]
        "schedule.to_c" = [300, 2500]
        """)
    assert cli.main(["sweep", str(path)]) == 2
    err = capsys.readouterr().err
    assert "grid.schedule.to_c = 2500:" in err and "point 1" in err
    assert not (tmp_path / "sw").exists()


def test_shipped_hold_sweep_is_valid(repo_root):
    plan = sw.load_sweep(repo_root / "runs" / "sweep-hold.toml")
    assert plan.swept_keys == ["schedule.hold_c", "schedule.hold_min"]
    assert len(plan.runs) == plan.n_points * plan.replicas == 32
    holds = {(r.cfg["schedule"]["hold_c"], r.cfg["schedule"]["hold_min"]) for r in plan.runs}
    assert {c for c, _ in holds} == {150.0, 200.0, 250.0, 300.0}
    assert min(m for _, m in holds) <= 1.0 and max(m for _, m in holds) == 360.0
    assert {r.cfg["schedule"]["preset"] for r in plan.runs} == {"TS-NCM"}


def test_slurm_sweep_script_is_valid_bash_and_stops_cleanly(repo_root):
    script = repo_root / "runs" / "slurm-sweep.sh"
    text = script.read_text()
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    assert "#SBATCH --signal=TERM@" in text and "#SBATCH --ntasks=" in text
    assert 'SWEEP=${1:-runs/sweep-hold.toml}' in text
    assert 'mpirun -n "${SLURM_NTASKS:-1}" mcsim sweep "$SWEEP"' in text


def test_set_on_the_command_line_fixes_a_key_in_every_run_after_the_files_set(repo_root):
    path = repo_root / "runs" / "sweep-hold.toml"
    plain = sw.load_sweep(path)
    plan = sw.load_sweep(path, sets=["particle.radius_um=0.25", "numerics.threads=1"])
    assert len(plan.runs) == len(plain.runs)
    assert {r.cfg["particle"]["radius_um"] for r in plan.runs} == {0.25}
    assert {r.cfg["numerics"]["threads"] for r in plan.runs} == {1}
    # everything else, the swept values and the seeds included, is the file's
    for a, b in zip(plan.runs, plain.runs):
        assert a.values == b.values and a.seed == b.seed
        assert a.cfg["schedule"] == b.cfg["schedule"]


@pytest.mark.parametrize("assignment, words", [
    ("schedule.hold_c=100", "swept by the file's [grid]"),
    ("particle.bogus=1", "unknown configuration key"),
    ("seed=3", "run seeds are derived"),
    ("particle.radius_um=-1", "particle.radius_um"),
])
def test_set_on_the_command_line_is_refused_for_a_swept_or_bad_key(repo_root, assignment, words):
    with pytest.raises(ConfigError, match=re.escape(words)):
        sw.load_sweep(repo_root / "runs" / "sweep-hold.toml", sets=[assignment])


# -- a real sweep: 4 tiny runs under mpiexec -n 2, one failing; then a resume -------------

def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_index(path: Path) -> dict:
    def value(v):
        arr = v[()]
        if isinstance(arr, np.ndarray) and arr.dtype.kind == "O":
            return [x.decode() if isinstance(x, bytes) else x for x in arr]
        return arr.decode() if isinstance(arr, bytes) else arr

    with h5py.File(path, "r") as f:
        out = {"attrs": dict(f.attrs)}
        f.visititems(lambda n, o: out.__setitem__(n, value(o))
                     if isinstance(o, h5py.Dataset) else None)
    return out


def _require_mpiexec() -> None:
    """The mpich wheel is a dependency: a missing mpiexec is a failure, not a skip (the
    wheel does not exist for Windows, where these tests cannot run)."""
    if not MPIEXEC.is_file():
        if sys.platform == "win32":
            pytest.skip("the mpich wheel (and its mpiexec) is not installed on Windows")
        pytest.fail(f"no mpiexec next to {sys.executable}: install the 'mpich' wheel")


@pytest.fixture(scope="module")
def sweep_history(tmp_path_factory, tiny_sets):
    """Phase 1: mpiexec -n 2, run 1 failed by the hook. Phase 2: one rank, run 2's result
    deleted, no hook. Returns what each phase printed and left behind."""
    _require_mpiexec()
    tmp = tmp_path_factory.mktemp("sweep")
    cfg = config.load(sets=[*tiny_sets, *SHORT_SETS])
    _write(tmp / "base.toml", config.to_toml(cfg))
    path = _sweep(tmp, """
        seed = 7
        [grid]
        "schedule.to_c" = [280, 302]
        "lithium.li_to_tm" = [1.0, 1.05]
        """)
    out = tmp / "out"
    env = {**os.environ, sw.FAIL_HOOK_ENV: "1"}
    proc = subprocess.run([str(MPIEXEC), "-n", "2", sys.executable, "-m", "mcsim", "sweep",
                           str(path), "-o", str(out)], env=env, capture_output=True, text=True,
                          timeout=300, cwd=tmp)
    plan = sw.load_sweep(path, out)
    phase1 = {"proc": proc, "index": _read_index(out / "index.h5"),
              "files": sorted(p.name for p in out.iterdir()),
              "error_text": plan.error_path(plan.runs[1]).read_text()
              if plan.error_path(plan.runs[1]).exists() else ""}
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("run-*.h5")}
    digests = {p.name: _digest(p) for p in out.glob("run-*.h5")}
    (out / "run-0002.h5").unlink()

    lines: list[str] = []
    old = os.environ.pop(sw.FAIL_HOOK_ENV, None)
    try:
        args = cli.build_parser().parse_args(["sweep", str(path), "-o", str(out)])
        code = sw.main(args, say=lines.append)
    finally:
        if old is not None:
            os.environ[sw.FAIL_HOOK_ENV] = old
    phase2 = {"code": code, "lines": lines, "index": _read_index(out / "index.h5"),
              "mtimes": {p.name: p.stat().st_mtime_ns for p in out.glob("run-*.h5")},
              "error_files": sorted(p.name for p in out.glob("*.error.txt"))}
    return {"plan": plan, "out": out, "phase1": phase1, "phase2": phase2,
            "mtimes1": mtimes, "digests1": digests}


def _started(lines) -> list[int]:
    # searched in the joined output, not line by line: under load, mpiexec may forward two
    # ranks' lines without a newline between them
    text = "\n".join(lines)
    return [int(n) for n in re.findall(r"\[sweep rank \d+\] run (\d+) \([^)]*\) started", text)]


@pytest.mark.mpi
def test_mpi_sweep_records_the_failure_and_finishes_the_other_runs(sweep_history):
    p1 = sweep_history["phase1"]
    proc = p1["proc"]
    assert proc.returncode == sw.EXIT_RUN_FAILED, proc.stdout + proc.stderr
    assert "FAILED run 1" in proc.stdout and "3 done, 1 failed, 0 pending" in proc.stdout
    started = _started(proc.stdout.splitlines())
    assert sorted(started) == [0, 1, 2, 3]  # every run taken exactly once
    assert set(started[:2]) == {2, 3}  # the longer runs (to 302 C) are handed out first
    ranks = {line.split("]")[0] for line in proc.stdout.splitlines() if "started" in line}
    assert ranks == {"[sweep rank 0", "[sweep rank 1"}  # both groups took runs
    assert {"run-0000.h5", "run-0002.h5", "run-0003.h5", "run-0001.error.txt",
            "index.h5"} <= set(p1["files"])
    assert "run-0001.h5" not in p1["files"]
    assert all(f"run-000{i}.toml" in p1["files"] for i in range(4))
    head, _, tb = p1["error_text"].partition("\n\n")
    assert head.splitlines()[0] == ("error: RuntimeError: failure injected by "
                                    "MCSIM_SWEEP_FAIL_RUNS (test hook)")
    assert "Traceback (most recent call last)" in tb and "RuntimeError" in tb
    index = p1["index"]
    assert index["runs/status"] == ["done", "failed", "done", "done"]
    assert "failure injected" in index["runs/error"][1] and index["runs/error"][0] == ""
    assert np.isnan(index["outcomes/final_layered"][1])
    assert np.all(np.isfinite(index["outcomes/final_layered"][[0, 2, 3]]))


@pytest.mark.mpi
def test_resume_reruns_only_the_failed_and_the_missing_run(sweep_history):
    p2, out = sweep_history["phase2"], sweep_history["out"]
    assert p2["code"] == 0, "\n".join(p2["lines"])
    assert _started(p2["lines"]) == [1, 2]  # one rank: in run order
    for name in ("run-0000.h5", "run-0003.h5"):  # finished runs untouched
        assert p2["mtimes"][name] == sweep_history["mtimes1"][name]
        assert _digest(out / name) == sweep_history["digests1"][name]
    assert p2["mtimes"]["run-0002.h5"] > sweep_history["mtimes1"]["run-0002.h5"]
    assert p2["error_files"] == []  # the error file goes once the run succeeds
    assert p2["index"]["runs/status"] == ["done"] * 4
    assert "4 done, 0 failed, 0 pending (2 run now, 2 skipped as done)" in p2["lines"][-1]
    # same seed, same configuration: the rerun reproduces the deleted result's outcomes
    for name in sw.OUTCOMES:
        a, b = sweep_history["phase1"]["index"][f"outcomes/{name}"][2], \
            p2["index"][f"outcomes/{name}"][2]
        assert (np.isnan(a) and np.isnan(b)) or a == b, name


@pytest.mark.mpi
def test_index_holds_parameters_seeds_configs_and_outcomes(sweep_history):
    plan, out = sweep_history["plan"], sweep_history["out"]
    index = sweep_history["phase2"]["index"]
    assert index["attrs"]["format"] == "mcsim-sweep-index"
    assert list(index["attrs"]["swept_keys"]) == ["schedule.to_c", "lithium.li_to_tm"]
    assert list(index["params/schedule.to_c"]) == [280, 280, 302, 302]
    assert list(index["params/lithium.li_to_tm"]) == [1.0, 1.05, 1.0, 1.05]
    assert list(index["runs/run_id"]) == [0, 1, 2, 3]
    assert list(index["runs/seed"]) == [sw.derive_seed(7, p, 0) for p in range(4)]
    assert index["runs/result"] == [f"run-000{i}.h5" for i in range(4)]
    assert np.all(index["runs/wall_time_s"] > 0)
    for run in plan.runs:
        with h5py.File(out / f"run-000{run.run_id}.h5", "r") as f:
            assert f.attrs["complete"] and int(f.attrs["seed"]) == run.seed
            stored = f["config"].asstr()[()]
            frac = f["timeseries/tm_phase_fraction"][-1]
            time_s = f["timeseries/time_s"][()]
            contrast = f["timeseries/contrast_layered"][()]
        assert stored == (out / f"run-000{run.run_id}.toml").read_text()
        cache = json.loads((out / f"run-000{run.run_id}.outcomes.json").read_text())
        assert cache["result_mtime_ns"] == (out / f"run-000{run.run_id}.h5").stat().st_mtime_ns
        assert cache["outcomes"]["final_layered"] == index["outcomes/final_layered"][run.run_id]
        assert np.allclose([index["outcomes/final_hydroxide"][run.run_id],
                            index["outcomes/final_rocksalt"][run.run_id],
                            index["outcomes/final_layered"][run.run_id]], frac, rtol=0, atol=0)
        c300 = index["outcomes/contrast_layered_300c"][run.run_id]
        if run.values["schedule.to_c"] < 300:  # the furnace never reaches 300 C
            assert np.isnan(c300)
        else:  # 150 C + 5 C/min: 300 C at 1800 s, between two rows 420 s apart
            t300 = (300.0 - 150.0) / 5.0 * 60.0
            i = int(np.searchsorted(time_s, t300))
            assert time_s[i - 1] < t300 < time_s[i]
            assert min(contrast[i - 1:i + 1]) <= c300 <= max(contrast[i - 1:i + 1])
            assert c300 == pytest.approx(np.interp(t300, time_s, contrast), rel=1e-12)
    pores = [index[f"outcomes/{n}"] for n in sw.PORE_OUTCOMES]
    try:
        import mcsim.pores  # noqa: F401
    except ImportError:
        assert all(np.all(np.isnan(col)) for col in pores)
    else:
        assert all(np.all(np.isfinite(col)) for col in pores)
        assert np.all((index["outcomes/porosity"] > 0) & (index["outcomes/porosity"] < 1))


@pytest.mark.mpi
def test_index_only_rebuilds_the_same_index_from_the_files(sweep_history):
    plan, out = sweep_history["plan"], sweep_history["out"]
    before = sweep_history["phase2"]["index"]
    (out / "index.h5").unlink()
    args = cli.build_parser().parse_args(["sweep", str(plan.path), "-o", str(out),
                                          "--index-only"])
    lines: list[str] = []
    assert sw.main(args, say=lines.append) == 0
    after = _read_index(out / "index.h5")
    assert set(after) == set(before)
    for key in before:
        if key != "attrs":
            np.testing.assert_array_equal(after[key], before[key], err_msg=key)


@pytest.mark.mpi
def test_a_stored_result_counts_as_done_only_for_the_same_configuration(sweep_history,
                                                                         tmp_path):
    plan = sw.load_sweep(sweep_history["plan"].path, tmp_path)
    run = plan.runs[0]
    shutil.copy2(sweep_history["out"] / "run-0000.h5", plan.result_path(run))
    assert sw.run_state(plan, run).status == "done"
    threads = copy.deepcopy(run.cfg)
    threads["numerics"]["threads"] = 2  # does not change results
    assert sw.run_state(plan, dataclasses.replace(run, cfg=threads)).status == "done"
    other = copy.deepcopy(run.cfg)
    other["particle"]["porosity"] = 0.3
    state = sw.run_state(plan, dataclasses.replace(run, cfg=other))
    assert state.status == "pending" and "different configuration" in state.error
    assert sw.run_state(plan, plan.runs[1]).status == "pending"  # no file at all


@pytest.mark.mpi
def test_results_of_other_configurations_are_replaced_only_with_overwrite(sweep_history,
                                                                           tmp_path):
    from mcsim.sweep import scheduler

    plan = sw.load_sweep(sweep_history["plan"].path, tmp_path / "out")
    plan.output_dir.mkdir()
    for run in plan.runs[:2]:
        shutil.copy2(sweep_history["out"] / "run-0000.h5", plan.result_path(run))
    before = {p.name: _digest(p) for p in plan.output_dir.iterdir()}
    states = [sw.run_state(plan, run) for run in plan.runs]
    assert [st.replaces for st in states] == [False, True] + [False] * (len(states) - 2)
    with pytest.raises(ConfigError) as err:  # run 1's file holds run 0's configuration
        scheduler._prepare(plan, lambda *_: None)
    assert "--overwrite" in str(err.value) and "run 1:" in str(err.value)
    assert {p.name: _digest(p) for p in plan.output_dir.iterdir()} == before  # nothing written
    lines = []
    todo = scheduler._prepare(plan, lines.append, overwrite=True)
    assert 0 not in todo and 1 in todo
    assert any("run 1:" in line and "--overwrite" in line for line in lines)


@pytest.mark.mpi
def test_outcome_cache_is_used_only_while_the_result_file_is_unchanged(sweep_history,
                                                                       tmp_path):
    plan = sw.load_sweep(sweep_history["plan"].path, tmp_path)
    run = plan.runs[0]
    shutil.copy2(sweep_history["out"] / "run-0000.h5", plan.result_path(run))
    real = sw.run_outcomes(plan, run)  # no cache yet: computed and cached
    cache = json.loads(plan.outcomes_path(run).read_text())
    cache["outcomes"]["final_layered"] = 42.0
    plan.outcomes_path(run).write_text(json.dumps(cache))
    assert sw.run_outcomes(plan, run)["final_layered"] == 42.0
    stat = plan.result_path(run).stat()
    os.utime(plan.result_path(run), ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert sw.run_outcomes(plan, run)["final_layered"] == real["final_layered"] != 42.0


@pytest.mark.mpi
def test_sweep_map_draws_the_outcome_over_two_swept_keys(sweep_history, tmp_path):
    out_png = tmp_path / "map.png"
    proc = subprocess.run([sys.executable, str(SWEEP_MAP), str(sweep_history["out"] / "index.h5"),
                           "--x", "schedule.to_c", "--y", "lithium.li_to_tm",
                           "--outcome", "final_layered", "-o", str(out_png)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert out_png.stat().st_size > 1000 and out_png.with_suffix(".pdf").stat().st_size > 1000
    bad = subprocess.run([sys.executable, str(SWEEP_MAP), str(sweep_history["out"] / "index.h5"),
                          "--x", "schedule.to_c", "--y", "seed", "--outcome", "final_layered"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "not a swept key" in bad.stderr


# -- sweep_map on a hand-made index --------------------------------------------------------

def _load_sweep_map():
    import importlib.util

    spec = importlib.util.spec_from_file_location("mcsim_analysis_sweep_map", SWEEP_MAP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_index(path: Path, params: dict, outcome: list, status: list) -> Path:
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "mcsim-sweep-index"
        f.attrs["swept_keys"] = np.array(list(params), dtype=h5py.string_dtype())
        for key, values in params.items():
            strings = isinstance(values[0], str)
            f.create_dataset(f"params/{key}", data=values,
                             dtype=h5py.string_dtype() if strings else None)
        f["outcomes/final_layered"] = np.asarray(outcome, dtype=np.float64)
        f.create_dataset("runs/status", data=status, dtype=h5py.string_dtype())
    return path


def test_sweep_map_averages_replicas_and_skips_runs_not_done(tmp_path):
    smap = _load_sweep_map()
    path = _fake_index(tmp_path / "index.h5",
                       {"a": [1.0, 1.0, 1.0, 2.0, 2.0], "b": [5, 5, 5, 5, 5]},
                       [0.2, 0.4, 99.0, np.nan, 0.7],
                       ["done", "done", "failed", "done", "done"])
    agg = smap.aggregate(smap.read_index(path), "a", "b", "final_layered")
    assert agg["x"] == [1.0, 2.0] and agg["y"] == [5, 5]
    assert agg["mean"] == pytest.approx([0.3, 0.7]) and list(agg["count"]) == [2, 1]
    png = smap.plot(path, tmp_path / "m.png", x="a", y="b", outcome="final_layered")
    assert png.is_file() and png.with_suffix(".pdf").is_file()


def test_sweep_map_refuses_to_average_over_another_swept_key(tmp_path):
    smap = _load_sweep_map()
    path = _fake_index(tmp_path / "index.h5",
                       {"a": [1.0, 2.0, 1.0, 2.0], "b": [5, 5, 5, 5], "c": ["x", "x", "y", "y"]},
                       [0.1, 0.2, 0.3, 0.4], ["done"] * 4)
    index = smap.read_index(path)
    with pytest.raises(smap.C.ResultFileError, match="c vary"):
        smap.aggregate(index, "a", "b", "final_layered")
    agg = smap.aggregate(index, "a", "b", "final_layered", where={"c": "y"})
    assert agg["mean"] == pytest.approx([0.3, 0.4])


# -- errors and signals under a launcher ---------------------------------------------------

@pytest.mark.mpi
def test_config_error_under_mpiexec_exits_2_on_every_rank_without_output(tmp_path, base_file):
    _require_mpiexec()
    path = _sweep(tmp_path, "ranks_per_run = 4\n")
    proc = subprocess.run([str(MPIEXEC), "-n", "2", sys.executable, "-m", "mcsim", "sweep",
                           str(path)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("sweep.ranks_per_run = 4: must be at most the number of MPI "
                             "ranks (2)") == 1  # said once, by rank 0
    assert not (tmp_path / "sw").exists()


def test_sigterm_stops_the_sweep_cleanly_and_leaves_it_resumable(tmp_path, base_file):
    path = _sweep(tmp_path, """
        replicas = 2
        [set]
        "schedule.start_c" = 25.0
        "schedule.to_c" = 350.0
        """)
    proc = subprocess.Popen([sys.executable, "-m", "mcsim", "sweep", str(path)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "started" in line:
            proc.send_signal(signal.SIGTERM)
            break
    lines += proc.stdout.readlines()
    assert proc.wait(timeout=120) == sw.EXIT_INTERRUPTED, "".join(lines)
    text = "".join(lines)
    assert "run 0 interrupted" in text and "run 1 (" not in text
    assert not (tmp_path / "sw" / "run-0000.h5").exists()
    with h5py.File(tmp_path / "sw" / "index.h5", "r") as f:
        assert [s.decode() for s in f["runs/status"][()]] == ["pending", "pending"]


def test_a_run_whose_result_another_sweep_holds_is_left_to_it(tmp_path, base_file,
                                                              monkeypatch):
    from mcsim.io.claim import OutputClaim, lock_path

    monkeypatch.chdir(tmp_path)
    plan = sw.load_sweep(_sweep(tmp_path, "replicas = 1\n"))
    run = plan.runs[0]
    plan.output_dir.mkdir(parents=True)
    other = OutputClaim(plan.result_path(run), command="the other sweep").acquire()
    try:
        record = sw.execute_run(plan, run, sw._StopState(), say=lambda *_: None)
    finally:
        other.release()
    assert record["status"] == "failed" and "another run" in record["error"]
    assert sorted(p.name for p in plan.output_dir.iterdir()) == []  # nothing written
    assert not lock_path(plan.result_path(run)).exists()
