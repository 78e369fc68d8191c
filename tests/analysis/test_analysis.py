"""The examples in analysis/ run on a small result file (sweep_map.py: tests/cli/test_sweep.py)."""

import shutil
import subprocess
import sys

import h5py


def test_read_result_example_prints_the_phase_table_and_draws_it(small_run, repo_root,
                                                                  tmp_path):
    out = tmp_path / "fractions.png"
    proc = subprocess.run([sys.executable, str(repo_root / "analysis" / "read_result.py"),
                           str(small_run.path), "-o", str(out)], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "hydroxide" in proc.stdout and "end " in proc.stdout
    assert out.stat().st_size > 1000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_read_result_example_refuses_an_incomplete_file(small_run, repo_root, tmp_path):
    bad = tmp_path / "bad.h5"
    shutil.copy(small_run.path, bad)
    with h5py.File(bad, "r+") as f:
        f.attrs["complete"] = False
    proc = subprocess.run([sys.executable, str(repo_root / "analysis" / "read_result.py"),
                           str(bad), "-o", str(tmp_path / "x.png")], capture_output=True,
                          text=True)
    assert proc.returncode != 0
    assert "incomplete" in (proc.stderr + proc.stdout).lower()
    assert not (tmp_path / "x.png").exists()
