"""Pytest hooks and fixtures of the test suite; the plain helpers they use live in
``tests/support.py`` (the tiny particle on a short schedule, run once per session here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import REPO_ROOT, TINY_SETS, run_tiny


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
