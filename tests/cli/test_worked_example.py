"""The worked example docs/example-hold-sweep.md, run as written on a tiny particle.

The page marks its sweep file (``<!-- example: sweep-file PATH -->``) and the commands to run
(``<!-- example: commands -->``) with HTML comments in front of the fenced blocks. This test
checks that the sweep file shown is the one in runs/, then runs the commands with the installed
console script in a temporary folder laid out like the checkout (runs/, analysis/). The one
change: every ``mcsim sweep`` command gets :data:`TINY` appended (``--set`` for a 0.1 um
particle on 20 nm voxels, about 3 s a run instead of minutes); sweep file, grid, schedule, seeds
and the rest of each command are the page's.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.support import REPO_ROOT as ROOT

DOC = ROOT / "docs" / "example-hold-sweep.md"
SWEEP_FILE = "runs/sweep-example-hold.toml"

#: Options appended to every ``mcsim sweep`` command of the page: the tiny particle.
TINY = ("--set", "particle.radius_um=0.1", "--set", "particle.voxel_nm=20.0")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
BLOCK = re.compile(r"<!-- example: ([\w-]+)(?: (\S+))? -->\s*\n```(\w*)\n(.*?)^```",
                   re.S | re.M)


def _blocks() -> dict:
    """The marked blocks of the page: name -> (argument, fenced text)."""
    found = {}
    for name, arg, _lang, body in BLOCK.findall(DOC.read_text()):
        assert name not in found, f"{DOC.name}: block {name!r} marked twice"
        found[name] = (arg, body)
    return found


def _commands(text: str) -> list:
    """The commands of a fenced shell block: continuation lines joined, comments dropped."""
    commands = []
    for line in text.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if words:
            commands.append(words)
    return commands


def _console_script() -> str:
    script = Path(sys.executable).parent / "mcsim"
    found = str(script) if script.exists() else shutil.which("mcsim")
    assert found, "the mcsim console script is not installed (pip install -e .)"
    return found


def test_the_sweep_file_on_the_page_is_the_one_in_runs():
    blocks = _blocks()
    assert "sweep-file" in blocks and "commands" in blocks
    path, text = blocks["sweep-file"]
    assert path == SWEEP_FILE
    assert text == (ROOT / SWEEP_FILE).read_text()
    for words in _commands(blocks["commands"][1]):  # only what the test below can run
        assert words[0] in ("mcsim", "python"), words
    # every sweep command on the page, the cluster ones too, names this sweep file
    sweeps = re.findall(r"mcsim sweep (\S+)", DOC.read_text())
    assert sweeps and set(sweeps) == {SWEEP_FILE}


def test_the_figure_on_the_page_is_in_the_checkout():
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", DOC.read_text())
    assert images, "the page shows no figure"
    for image in images:
        data = (DOC.parent / image).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 10_000, image


def test_the_commands_run_on_a_tiny_particle_and_map_the_core_nanopore_density(tmp_path):
    blocks = _blocks()
    commands = _commands(blocks["commands"][1])
    source = (ROOT / SWEEP_FILE).read_text()
    doc = tomllib.loads(source)
    # the folder of the commands: the sweep file, its base, analysis/
    (tmp_path / "runs").mkdir()
    shutil.copy(ROOT / SWEEP_FILE, tmp_path / SWEEP_FILE)
    shutil.copy(ROOT / "runs" / doc["sweep"]["base"], tmp_path / "runs")
    (tmp_path / "analysis").mkdir()
    shutil.copy(ROOT / "analysis" / "sweep_map.py", tmp_path / "analysis")
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE", MPLBACKEND="Agg")
    env.pop("MCSIM_SWEEP_FAIL_RUNS", None)
    programs = {"mcsim": _console_script(), "python": sys.executable}
    outputs = []
    for words in commands:
        extra = TINY if words[:2] == ["mcsim", "sweep"] else ()
        proc = subprocess.run([programs[words[0]], *words[1:], *extra], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:  # with the tracebacks of failed runs, if any
            errors = [e.read_text() for e in sorted(tmp_path.rglob("*.error.txt"))]
            pytest.fail(f"{shlex.join(words)} exited {proc.returncode}:\n{proc.stdout}\n"
                        f"{proc.stderr}\n" + "\n".join(errors))
        outputs.append(proc.stdout)

    grid = doc["grid"]
    points = list(itertools.product(*grid.values()))
    dry = next(i for i, w in enumerate(commands) if "--dry-run" in w)
    assert f"= {len(points)} runs" in outputs[dry]
    index = tmp_path / doc["sweep"]["output_dir"] / "index.h5"
    with h5py.File(index, "r") as f:
        assert f.attrs["format"] == "mcsim-sweep-index"
        assert f.attrs["n_runs"] == len(points) == f.attrs["n_done"]
        assert [k.decode() if isinstance(k, bytes) else k
                for k in f.attrs["swept_keys"]] == list(grid)
        assert [s.decode() for s in f["runs/status"][()]] == ["done"] * len(points)
        rows = list(zip(*(f["params"][key][()].tolist() for key in grid)))
        assert rows == points  # one row per grid point, in grid order
        density = f["outcomes/nanopore_density_core_per_um3"][()]
        assert density.shape == (len(points),)
        assert np.all(np.isfinite(density)) and np.all(density >= 0.0)
        assert len(set(f["runs/seed"][()].tolist())) == 1  # common_seeds: one particle
    resolved = tomllib.loads((index.parent / "run-0000.toml").read_text())
    assert resolved["particle"]["radius_um"] == 0.1  # the tiny particle, not the default
    at = next(i for i, w in enumerate(commands) if w[0] == "python")
    mapping = commands[at]
    assert mapping[mapping.index("--outcome") + 1] == "nanopore_density_core_per_um3"
    figure = tmp_path / mapping[mapping.index("-o") + 1]
    data = figure.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 10_000
    assert str(figure.relative_to(tmp_path)) in outputs[at]  # the script names what it wrote
