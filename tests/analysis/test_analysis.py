"""The examples in analysis/ run on a small result file (sweep_map.py: tests/cli/test_sweep.py)."""

import shutil
import subprocess
import sys

import h5py

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _script(repo_root, name, *args, cwd=None):
    """Run ``analysis/<name>`` with ``args`` in a fresh interpreter; the CompletedProcess."""
    return subprocess.run([sys.executable, str(repo_root / "analysis" / name), *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


def test_read_result_example_prints_the_phase_table_and_draws_it(small_run, repo_root,
                                                                  tmp_path):
    out = tmp_path / "fractions.png"
    proc = _script(repo_root, "read_result.py", small_run.path, "-o", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "hydroxide" in proc.stdout and "end " in proc.stdout
    assert out.stat().st_size > 1000
    assert out.read_bytes()[:8] == PNG_MAGIC


def test_read_result_example_refuses_an_incomplete_file(small_run, repo_root, tmp_path):
    bad = tmp_path / "bad.h5"
    shutil.copy(small_run.path, bad)
    with h5py.File(bad, "r+") as f:
        f.attrs["complete"] = False
    proc = _script(repo_root, "read_result.py", bad, "-o", tmp_path / "x.png")
    assert proc.returncode != 0
    assert "incomplete" in (proc.stderr + proc.stdout).lower()
    assert not (tmp_path / "x.png").exists()


def _size_study(repo_root):
    """analysis/size_study.py loaded as a module (analysis/ is a folder of scripts)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("size_study",
                                                  repo_root / "analysis" / "size_study.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_size_study_reads_the_300c_state_and_the_final_nanopores(small_run, repo_root,
                                                                tmp_path):
    import numpy as np

    study = _size_study(repo_root)
    row = study.read_run(small_run.path)
    with h5py.File(small_run.path, "r") as f:
        temp = f["timeseries/temperature_c"][:]
        i = int(np.flatnonzero(temp >= 300.0)[0])
        shares = f["timeseries/tm_phase_fraction"][i]
        contrast = f["timeseries/contrast_layered"][:]
    assert row["radius_um"] == 0.2 and row["seed"] == small_run.cfg["seed"]
    assert row["shares_300c"] == tuple(float(v) for v in shares)
    lo, hi = sorted(contrast[i - 1:i + 1])
    assert lo <= row["contrast_300c"] <= hi
    assert not row["final"]  # the tiny run stops at 350 C: no final density
    # the same file as if its furnace had gone on to 700 C: the final density and its count
    hot = tmp_path / "hot.h5"
    shutil.copy(small_run.path, hot)
    with h5py.File(hot, "r+") as f:
        f["timeseries/temperature_c"][...] = 2.0 * temp
        ps = f["pore_series"]
        density = float(ps["nanopore_density_core_per_um3"][-1])
        count = int(ps["nanopore_count_core"][-1])
    hot_row = study.read_run(hot)
    assert hot_row["final"] and hot_row["core_density"] == density
    assert hot_row["core_count"] == count
    lines = study.table([row, hot_row])
    assert len(lines) == 4 and sum(f"({count} pores)" in ln for ln in lines) == 1


def test_size_study_script_prints_and_draws(small_run, repo_root, tmp_path):
    out = tmp_path / "size.png"
    proc = _script(repo_root, "size_study.py", small_run.path, "-o", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "layered" in proc.stdout and "0.20u" in proc.stdout
    assert out.read_bytes()[:8] == PNG_MAGIC
