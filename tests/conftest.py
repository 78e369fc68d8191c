"""Shared fixtures of the end-to-end tests: a tiny particle on a short schedule, run once per session.

The tiny configuration (0.2 um radius, 10 nm voxels: a 60^3 grid) heated at 5 C/min from 25 C to
350 C takes a few seconds on two cores and still goes through dehydration, lithium release and
both lithiation paths, so the physical checks have something to look at.
"""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from mcsim import config
from mcsim.engine import Simulation

REPO_ROOT = Path(__file__).resolve().parent.parent

#: ``--set`` assignments of the tiny run every end-to-end test starts from.
TINY_SETS = (
    "particle.radius_um=0.2",
    "particle.grain_length_nm=100",
    "particle.grain_width_nm=60",
    "particle.grain_thickness_nm=30",
    "lithium.source_diameter_nm=80",
    "schedule.preset='ramp'",
    "schedule.to_c=350",
    "output.timeseries_interval_s=300",
    "numerics.dt_max_s=120",
    "numerics.threads=1",
)

#: The temperature the tiny schedule ends at.
TINY_TO_C = 350.0


def _silent(*_args, **_kwargs):
    return None


def run_tiny(path, extra_sets=(), *, simulation_hook=None):
    """Run the tiny configuration with ``extra_sets`` applied on top, writing ``path``.

    ``simulation_hook(sim)``, when given, is called on the Simulation before it runs (used to
    inject failures). Returns a namespace with ``path``, ``cfg``, ``sim`` and ``summary``.
    """
    cfg = config.load(sets=[*TINY_SETS, *extra_sets])
    sim = Simulation(cfg, log=_silent)
    if simulation_hook is not None:
        simulation_hook(sim)
    summary = sim.run(path, progress=False)
    return types.SimpleNamespace(path=Path(path), cfg=cfg, sim=sim, summary=summary)


def pytest_configure(config):
    config.addinivalue_line("markers", "mpi: runs ranks under the mpich wheel's mpiexec")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The root of the mcsim checkout (holds runs/, analysis/, tests/)."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def tiny_sets() -> tuple:
    """The ``--set`` assignments of the tiny run."""
    return TINY_SETS


@pytest.fixture(scope="session")
def tiny_run():
    """A callable ``tiny_run(path, extra_sets=(), simulation_hook=None)`` running the tiny case."""
    return run_tiny


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """The tiny default-process run, done once; tests must only read its files.

    Attributes: ``path`` (the .h5), ``cfg`` (resolved configuration), ``sim`` (the finished
    Simulation, whose ``schedule`` the checks use) and ``summary`` (what ``run`` returned).
    """
    path = tmp_path_factory.mktemp("small_run") / "small.h5"
    return run_tiny(path)
