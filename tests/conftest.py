"""Pytest hooks and fixtures of the test suite; the plain helpers they use live in
``tests/support.py`` (the tiny particle on a short schedule, run once per session here)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support import (REPO_ROOT, TINY_SETS, checkout_cache_is_empty, measure_first_run,
                           run_tiny)

#: The measured first run of the session (:func:`pytest_collection_finish`), if one was made.
FIRST_RUN = pytest.StashKey[dict]()


def pytest_configure(config):
    config.addinivalue_line("markers", "mpi: runs ranks under the mpich wheel's mpiexec")


def pytest_collection_finish(session):
    """On a checkout whose Numba cache is empty (a fresh clone, as in CI) and when the
    memory-estimate test is selected, run the tiny case once in a child process before any
    test. It compiles every kernel into the checkout's cache, which the tests then load, and
    its peak resident memory is a first run's, which ``tests/run/test_resources.py`` checks
    the estimate against; without it that test compiles everything a second time into an
    empty cache of its own (about two minutes on the 2-core CI machine)."""
    if session.config.option.collectonly:
        return
    wanted = any(item.nodeid.startswith("tests/run/test_resources.py::")
                 and "tiny_run" in getattr(item, "fixturenames", ())
                 for item in session.items)
    if wanted and checkout_cache_is_empty():
        folder = Path(tempfile.mkdtemp(prefix="mcsim-first-run-"))
        try:
            session.config.stash[FIRST_RUN] = measure_first_run(folder)
        except (AssertionError, ValueError, OSError, subprocess.SubprocessError):
            shutil.rmtree(folder, ignore_errors=True)  # the test measures and reports it


def pytest_sessionfinish(session):
    """Remove the folder of the measured first run."""
    made = session.config.stash.get(FIRST_RUN, None)
    if made is not None:
        shutil.rmtree(made["config_path"].parent, ignore_errors=True)


@pytest.fixture(scope="session")
def first_run(request):
    """The measured first run of :func:`pytest_collection_finish`, or None if none was made."""
    return request.config.stash.get(FIRST_RUN, None)


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
