"""Every analysis/ script runs on a small result file and writes its figure."""

import subprocess
import sys


def test_phase_fraction_script_writes_a_png_from_the_hdf5_alone(small_run, repo_root, tmp_path):
    out = tmp_path / "fractions.png"
    proc = subprocess.run([sys.executable, str(repo_root / "analysis" / "phase_fractions.py"),
                           str(small_run.path), "-o", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 1000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_phase_fraction_script_refuses_an_incomplete_file(small_run, repo_root, tmp_path):
    import shutil

    import h5py

    bad = tmp_path / "bad.h5"
    shutil.copy(small_run.path, bad)
    with h5py.File(bad, "r+") as f:
        f.attrs["complete"] = False
    proc = subprocess.run([sys.executable, str(repo_root / "analysis" / "phase_fractions.py"),
                           str(bad), "-o", str(tmp_path / "x.png")], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "incomplete" in (proc.stderr + proc.stdout).lower()
