"""A process defined here, outside the package, runs in the engine, under MPI and through a
checkpoint, with no edit to mcsim (the walk-through of docs/adding-a-process.md).

The toy process "aging" has a kernel of its own: each step, every layered voxel whose Li/Ni
disorder code is below 255 gains one code with probability ``p`` (a uniform keyed by the
voxel's global index and the step, so any split of the lattice draws the same numbers), where
``p`` falls with the number of steps it has taken. It reports the events of the step as the tally
``aging_events`` and keeps its step count and event total in its ``state_dict``
(checkpointed). Run as a script (``python tests/processes/test_toy_process.py run
...``) it registers the toy and hands the rest of the command line to ``mcsim``: that is how
``mpiexec`` starts it on several ranks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numba
import numpy as np
import pytest

from mcsim import phases as ph
from mcsim import rng
from mcsim.parallel import allreduce_int
from mcsim.processes import REGISTRY, register, unregister
from mcsim.processes.base import Process

HERE = Path(__file__).resolve()
#: A stream of the counter-based generator no built-in process uses.
STREAM_TOY = 1001


@numba.njit(parallel=True, cache=False)
def _aging_kernel(phase, disorder, p, seed, step, oz, oy, ox, gny, gnx):
    nz, ny, nx = phase.shape[0] - 2, phase.shape[1] - 2, phase.shape[2] - 2
    events = np.zeros(nz, dtype=np.int64)
    for z in numba.prange(1, nz + 1):
        for y in range(1, ny + 1):
            for x in range(1, nx + 1):
                if phase[z, y, x] == ph.LAYERED and disorder[z, y, x] < 255:
                    g = ((oz + z - 1) * gny + (oy + y - 1)) * gnx + (ox + x - 1)
                    if rng.uniform(seed, STREAM_TOY, g, step) < p:
                        disorder[z, y, x] += 1
                        events[z - 1] += 1
    return events.sum()


class Aging(Process):
    """Toy: layered voxels gain Li/Ni disorder at a fixed probability per step."""

    name = "aging"
    variant = "toy"
    probability = 0.01

    def __init__(self, params, numerics, seed):
        super().__init__(params, numerics, seed)
        self.total = 0  # events so far
        self.steps = 0  # steps taken so far

    def advance(self, state, dt_s, temperature_c):
        # the probability falls with the steps taken: a restart that lost the process's state
        # would draw with other probabilities and end with other fields
        p = self.probability / (1.0 + self.steps / 50.0)
        self.steps += 1
        n = _aging_kernel(state.phase, state.disorder, p, self.seed, state.step,
                          *state.offset, *state.global_shape[1:])
        state.exchange_halo(("disorder",))
        n = int(allreduce_int(state.comm, np.array([n]))[0])
        self.total += n
        return {"aging_events": n}

    def state_dict(self):
        return {"total": self.total, "steps": self.steps}

    def load_state_dict(self, d):
        self.total, self.steps = int(d["total"]), int(d["steps"])

    def describe(self):
        return f"aging: toy, p = {self.probability} per step"


def install():
    """Register the toy (idempotent)."""
    if "aging" not in REGISTRY:
        register("aging", {"toy": Aging})


@pytest.fixture
def toy():
    install()
    yield
    unregister("aging")


TO_C = 320.0
SETS = ("particle.radius_um=0.15", "particle.grain_length_nm=100", "particle.grain_width_nm=60",
        "particle.grain_thickness_nm=30", "lithium.source_diameter_nm=80",
        "schedule.preset='ramp'", f"schedule.to_c={TO_C}", "output.snapshot_temperatures_c=[]",
        "output.timeseries_interval_s=120", 'model.processes.aging="toy"')


def _run(args, cwd, env_extra=None, ranks=1):
    env = dict(os.environ, NUMBA_NUM_THREADS="1", MPLBACKEND="Agg", **(env_extra or {}))
    cmd = [sys.executable, str(HERE), *args]
    if ranks > 1:
        mpiexec = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) \
            or shutil.which("mpiexec")
        if mpiexec is None:
            pytest.fail("mpiexec is missing (the mpich wheel is a dependency)")
        cmd = [mpiexec, "-n", str(ranks), *cmd]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _read(path):
    with h5py.File(path, "r") as f:
        ts = f["timeseries"]
        out = {"events": ts["aging_events"][()] if "aging_events" in ts else None}
        last = f["snapshots"][sorted(f["snapshots"])[-1]]
        out["disorder"] = last["disorder"][()]
        out["phase"] = last["phase"][()]
    return out


def test_the_toy_is_refused_before_it_is_registered():
    from mcsim import config
    from mcsim.errors import ConfigError

    assert "aging" not in REGISTRY
    with pytest.raises(ConfigError, match="model.processes.aging"):
        config.load(sets=['model.processes.aging="toy"'])


def test_a_toy_process_defined_outside_mcsim_runs_under_mpi_and_through_a_checkpoint(tmp_path):
    sets = [a for s in SETS for a in ("--set", s)]
    one = _run(["run", "-o", "one.h5", *sets], tmp_path)
    assert one.returncode == 0, one.stderr
    a = _read(tmp_path / "one.h5")
    # it ran: events happened, cumulatively, on layered voxels only
    events = a["events"][1:]  # row 0 is written before the first step (NaN: no tally yet)
    assert events[-1] > 0 and np.all(np.diff(events) >= 0)
    assert np.all(a["disorder"][a["phase"] != ph.LAYERED] == 0)

    # the same run switched off differs: the toy changed the fields
    off = _run(["run", "-o", "off.h5", *sets, "--set", 'model.processes.aging="none"'],
               tmp_path)
    assert off.returncode == 0, off.stderr
    b = _read(tmp_path / "off.h5")
    assert b["events"] is None  # switched off: no tally of its own
    assert not np.array_equal(b["disorder"], a["disorder"])

    # two ranks: bit-identical fields and tallies
    two = _run(["run", "-o", "two.h5", *sets], tmp_path, ranks=2)
    assert two.returncode == 0, two.stderr
    b = _read(tmp_path / "two.h5")
    assert np.array_equal(a["disorder"], b["disorder"])
    np.testing.assert_array_equal(a["events"], b["events"])  # NaN == NaN here

    # stopped by the wall-time limit after its first checkpoint, continued on two ranks: the
    # toy's state (its running total) and fields come back, and the result is the same
    stop = _run(["run", "-o", "ck.h5", *sets, "--walltime", "00:00:01"], tmp_path)
    assert stop.returncode == 75, stop.stderr
    again = _run(["run", "--restart", "ck.ckpt"], tmp_path, ranks=2)
    assert again.returncode == 0, again.stderr
    c = _read(tmp_path / "ck.h5")
    assert np.array_equal(a["disorder"], c["disorder"])
    np.testing.assert_array_equal(a["events"], c["events"])

if __name__ == "__main__":  # python tests/processes/test_toy_process.py ARGS: mcsim + the toy
    install()
    from mcsim.cli import main

    sys.exit(main(sys.argv[1:]))
