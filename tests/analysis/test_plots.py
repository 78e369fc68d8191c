"""The figure modules of ``mcsim.figures`` and ``mcsim.plot`` on the small finished run.

Each figure (phase_fractions, radial_map, cross_sections, thermal, mass_thickness, with
helpers in _common) runs as ``python -m mcsim.figures.NAME`` on the ``small_run`` file and
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
SCRIPTS = ("phase_fractions", "radial_map", "cross_sections", "thermal", "mass_thickness")


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
    assert SCRIPTS == mplot.SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_figure_module_writes_a_png_from_the_small_run(script, small_run, tmp_path):
    out = tmp_path / f"{script}.png"
    proc = subprocess.run([sys.executable, "-m", f"mcsim.figures.{script}",
                           str(small_run.path), "-o", str(out)], capture_output=True, text=True,
                          cwd=tmp_path)
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
    module = mplot.load_script(script)
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


def test_common_phase_table_matches_mcsim_phases():
    common = mplot.load_script("phase_fractions").C  # mcsim/figures/_common.py
    assert common.PHASE_NAMES == phases.NAMES
    assert set(common.PHASE_COLOURS) == set(phases.NAMES)
    assert len(common.PHASE_LABELS) == phases.N_PHASES
