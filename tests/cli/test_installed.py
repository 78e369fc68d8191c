"""What a user gets: the installed ``mcsim`` console script, run from a folder outside the
checkout, makes a result, its figures and a comparison.

``python -m pytest`` imports mcsim from the checkout, so this test runs the console script
installed next to the interpreter instead, in a temporary folder with no ``PYTHONPATH``: after
``pip install .`` (what ``.ci/run`` does) that is the package in site-packages, which has no
``analysis/`` folder beside it, so a figure that needed the source tree would fail here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mcsim.figures import FIGURES
from tests.support import REPO_ROOT, TINY_SETS

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="console script layout")

CONSOLE_SCRIPT = Path(sys.executable).parent / "mcsim"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def mcsim(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(CONSOLE_SCRIPT), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_installed_console_script_runs_plots_and_compares_outside_the_checkout(tmp_path):
    assert CONSOLE_SCRIPT.is_file(), f"no console script at {CONSOLE_SCRIPT}: install mcsim"
    assert REPO_ROOT not in tmp_path.resolve().parents
    sets = [a for s in TINY_SETS for a in ("--set", s)]
    for name, seed in (("a.h5", 1), ("b.h5", 2)):
        done = mcsim("run", "-o", name, "--no-progress", *sets, "--set", f"seed={seed}",
                     cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    plotted = mcsim("plot", "a.h5", "-o", "figs", cwd=tmp_path)
    assert plotted.returncode == 0, plotted.stderr
    for name in FIGURES:
        figure = tmp_path / "figs" / f"a_{name}.png"
        assert figure.read_bytes()[:8] == PNG_SIGNATURE, name
    compared = mcsim("compare", "--results", "a.h5", "b.h5", "-o", "cmp", cwd=tmp_path)
    assert compared.returncode == 0, compared.stderr
    assert (tmp_path / "cmp" / "compare.png").read_bytes()[:8] == PNG_SIGNATURE
    info = mcsim("info", "a.h5", cwd=tmp_path)
    assert info.returncode == 0 and "status: complete" in info.stdout, info.stderr
