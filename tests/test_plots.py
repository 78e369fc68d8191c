"""The figure scripts in analysis/ and ``mcsim.plot`` on the small finished run.

Each script (phase_fractions.py, radial_map.py, cross_sections.py, thermal.py,
mass_thickness.py, with helpers in _common.py) runs as a subprocess on the ``small_run`` file and
writes a PNG; ``mcsim.plot.plot_all`` writes them all; an incomplete file is refused.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import h5py
import pytest

from mcsim import phases
from mcsim import plot as mplot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SCRIPTS = ("phase_fractions.py", "radial_map.py", "cross_sections.py", "thermal.py",
           "mass_thickness.py")


def _is_png(path) -> bool:
    return path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG_SIGNATURE


@pytest.fixture(scope="module")
def incomplete_file(small_run, tmp_path_factory):
    bad = tmp_path_factory.mktemp("incomplete") / "bad.h5"
    shutil.copy(small_run.path, bad)
    with h5py.File(bad, "r+") as f:
        f.attrs["complete"] = False
    return bad


def test_the_script_list_matches_mcsim_plot():
    assert tuple(s.removesuffix(".py") for s in SCRIPTS) == mplot.SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_writes_a_png_from_the_small_run(script, small_run, repo_root, tmp_path):
    out = tmp_path / f"{script}.png"
    proc = subprocess.run([sys.executable, str(repo_root / "analysis" / script),
                           str(small_run.path), "-o", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert _is_png(out)
    assert str(out) in proc.stdout


def test_pdf_flag_adds_a_pdf_next_to_the_png(small_run, tmp_path):
    out = tmp_path / "thermal.png"
    assert mplot.load_script("thermal").main([str(small_run.path), "-o", str(out), "--pdf"]) == 0
    assert _is_png(out)
    assert out.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_main_refuses_an_incomplete_file(script, incomplete_file, tmp_path, capsys):
    module = mplot.load_script(script.removesuffix(".py"))
    out = tmp_path / "x.png"
    assert module.main([str(incomplete_file), "-o", str(out)]) != 0
    assert "incomplete" in capsys.readouterr().err.lower()
    assert not out.exists()


def test_plot_all_writes_every_figure(small_run, tmp_path):
    paths = mplot.plot_all(small_run.path, tmp_path / "figs")
    assert [p.name for p in paths] == [f"small_{name}.png" for name in mplot.SCRIPTS]
    assert all(_is_png(p) for p in paths)


def test_mcsim_plot_command_refuses_an_incomplete_file(incomplete_file, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mcsim.plot", str(incomplete_file),
                           "-o", str(tmp_path / "figs")], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "incomplete" in proc.stderr.lower()
    assert not list(tmp_path.glob("figs/*.png"))


def test_plot_all_says_clearly_when_the_analysis_folder_is_missing(monkeypatch, tmp_path):
    import mcsim

    installed = tmp_path / "site-packages" / "mcsim" / "__init__.py"  # no analysis/ beside it
    monkeypatch.setattr(mcsim, "__file__", str(installed))
    with pytest.raises(mplot.PlotError, match="source checkout"):
        mplot.analysis_dir()


def test_common_phase_table_matches_mcsim_phases():
    common = mplot.load_script("phase_fractions").C  # analysis/_common.py, as the scripts see it
    assert common.PHASE_NAMES == phases.NAMES
    assert set(common.PHASE_COLOURS) == set(phases.NAMES)
    assert len(common.PHASE_LABELS) == phases.N_PHASES
