"""Tests of the shipped run configurations (runs/), of the XDMF sidecar of a real run, and a
meta-test that every analysis script is exercised by some test."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import h5py
import numpy as np
import pytest

from mcsim import config
from mcsim.io.xdmf import read_xdmf_references
from mcsim.schedule import PRESETS
from tests.support import REPO_ROOT as ROOT, TESTS_ROOT

# runs/sweep-*.toml are sweep files (mcsim sweep), checked in tests/cli/test_sweep.py
RUN_CONFIGS = sorted(p for p in (ROOT / "runs").glob("*.toml")
                     if not p.name.startswith("sweep-"))
ANALYSIS_SCRIPTS = sorted(p for p in (ROOT / "analysis").glob("*.py") if p.name != "__init__.py")


# -- runs/*.toml ---------------------------------------------------------------------------

def test_runs_directory_holds_configurations():
    assert RUN_CONFIGS, f"no runs/*.toml in {ROOT / 'runs'}"


@pytest.mark.parametrize("path", RUN_CONFIGS, ids=[p.name for p in RUN_CONFIGS])
def test_run_configuration_validates(path):
    cfg = config.load(path)
    assert cfg["schedule"]["preset"] in config.SCHEDULE_PRESETS
    config.build_schedule(cfg)


def test_every_schedule_preset_used_by_some_run_configuration():
    assert RUN_CONFIGS, "no runs/*.toml to look at"
    used = {config.load(path)["schedule"]["preset"] for path in RUN_CONFIGS}
    missing = [preset for preset in PRESETS if preset not in used]
    assert not missing, f"presets no runs/ configuration uses: {missing}"


# -- XDMF sidecar of a real run ------------------------------------------------------------

def test_xdmf_sidecar_references_match_hdf5_datasets(small_run):
    xmf = small_run.path.with_suffix(".xmf")
    assert xmf.is_file()
    root = ET.parse(xmf).getroot()
    assert root.tag == "Xdmf"
    refs = read_xdmf_references(xmf)
    assert refs
    with h5py.File(small_run.path, "r") as f:
        grid = tuple(int(n) for n in f.attrs["grid_shape"])
        snapshot_datasets = {f"/snapshots/{k}/{name}" for k in f["snapshots"]
                             for name in f["snapshots"][k]}
        for h5_file, dataset, dims, dtype in refs:
            assert Path(h5_file).resolve() == small_run.path.resolve()
            assert dataset in f, dataset
            dset = f[dataset]
            assert dset.shape == dims, dataset
            assert dset.dtype == np.dtype(dtype), dataset
    assert {dataset for _, dataset, _, _ in refs} == snapshot_datasets
    topologies = list(root.iter("Topology"))
    assert len(topologies) == len({d.rsplit("/", 1)[0] for d in snapshot_datasets})
    for topology in topologies:
        dims = tuple(int(n) for n in topology.get("Dimensions").split())
        assert dims == tuple(n + 1 for n in grid)


# -- analysis scripts ----------------------------------------------------------------------

def test_every_analysis_script_is_run_by_a_test():
    test_sources = {p.name: p.read_text() for p in TESTS_ROOT.rglob("*.py")}
    unused = [script.name for script in ANALYSIS_SCRIPTS
              if not any(script.name in text for text in test_sources.values())]
    assert not unused, f"analysis scripts no test runs: {unused}"
