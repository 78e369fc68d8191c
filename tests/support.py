"""Helpers shared by the test modules: plain functions and constants, no fixtures.

The tiny configuration (0.2 um radius, 10 nm voxels: a 60^3 grid) heated at 5 C/min from 25 C to
350 C takes a few seconds on two cores and still goes through dehydration, lithium release and
both lithiation paths, so the physical checks have something to look at. ``conftest.py`` turns
it into fixtures; a test module imports what it needs from here (``from tests.support import
...``), never from another test module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import math

import h5py
import numba
import numpy as np
import pytest

from mcsim import config
from mcsim import params as _params
from mcsim.engine import Simulation
from mcsim.processes import REGISTRY
from mcsim import phases as ph
from mcsim.state import State, full_amount_table
from mcsim.stepper import Stepper

#: The tests' folder and the root of the mcsim checkout (holds runs/, analysis/, tests/).
#: Numba thread counts for ``pytest.mark.parametrize``: 1, and 2 where Numba has two threads
#: (skipped, with the reason, where it has one).
THREADS = [1, pytest.param(2, marks=pytest.mark.skipif(
    numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 Numba threads; NUMBA_NUM_THREADS is 1"))]

TESTS_ROOT = Path(__file__).resolve().parent
REPO_ROOT = TESTS_ROOT.parent

#: The mpiexec of the mpich wheel, installed next to the interpreter.
MPIEXEC = Path(sys.executable).parent / "mpiexec"
#: Seconds a test waits for a run it started to reach a state (a .partial file, a
#: checkpoint) before calling it hung. A run's first use of a copy of mcsim compiles every
#: kernel (about two minutes on the 2-core CI machine, more while a simulation shares it),
#: so this is a watchdog against a hang, not a limit on speed.
START_WATCHDOG_S = 480

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

#: The tiny particle on the R-NCM schedule (17 h simulated): runs until it is stopped.
LONG_SETS = (*(a for a in TINY_SETS if not a.startswith("schedule.")),
             "schedule.preset='R-NCM'")

#: One snapshot (at 250 C) instead of the default list: for runs whose final state is enough.
FEW_SNAPSHOTS = "output.snapshot_temperatures_c=[250.0]"

#: A short, fast ramp (about 40 steps; the MPI contract test's particle, 61^3 voxels): a
#: snapshot at 250 C (5 min, written by the parallel writer into per-rank part files) before
#: the first checkpoint (6 min), one at 400 C after it.
MPI_CONFIG = """\
seed = 3
[particle]
radius_um = 0.205
grain_length_nm = 100
grain_width_nm = 60
grain_thickness_nm = 30
[lithium]
source_diameter_nm = 80
[schedule]
preset = "ramp"
start_c = 150
to_c = 500
ramp_c_per_min = 20
[output]
timeseries_interval_s = 120
snapshot_temperatures_c = [250, 400]
checkpoint_interval_sim_min = 6
[numerics]
dt_max_s = 120
max_temperature_step_c = 10
max_event_probability = 1.0
threads = 1
"""


def silent(*_args, **_kwargs):
    """A log function that prints nothing."""
    return None


def run_tiny(path, extra_sets=(), *, simulation_hook=None):
    """Run the tiny configuration with ``extra_sets`` applied on top, writing ``path``.

    ``simulation_hook(sim)``, when given, is called on the Simulation before it runs (used to
    inject failures). Returns a namespace with ``path``, ``cfg``, ``sim`` and ``summary``.
    """
    cfg = config.load(sets=[*TINY_SETS, *extra_sets])
    sim = Simulation(cfg, log=silent)
    if simulation_hook is not None:
        simulation_hook(sim)
    summary = sim.run(path, progress=False)
    return types.SimpleNamespace(path=Path(path), cfg=cfg, sim=sim, summary=summary)


def write_toml(path: Path, sets) -> Path:
    """A configuration file holding ``sets`` (``section.key=value``, values as TOML)."""
    tables: dict[str, list[str]] = {}
    for item in sets:
        key, value = item.split("=", 1)
        section, name = key.rsplit(".", 1)
        tables.setdefault(section, []).append(f"{name} = {value}")
    path.write_text("".join(f"[{s}]\n" + "\n".join(lines) + "\n"
                            for s, lines in tables.items()))
    return path


#: Runs mcsim's command line in a child process and prints the child's peak RSS
#: (RUSAGE_CHILDREN of this wrapper, which has no other child) as JSON.
_MEASURE = """
import json, resource, subprocess, sys
proc = subprocess.run([sys.executable, "-m", "mcsim", *sys.argv[1:]], capture_output=True,
                      text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps({"rc": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr,
                  "peak_bytes": peak}))
"""


def checkout_cache_is_empty() -> bool:
    """Whether Numba has cached no kernel of the checkout's mcsim yet (a fresh clone): its
    cache is the default one (``NUMBA_CACHE_DIR`` unset, the package folder writable) and
    holds no index file."""
    package = REPO_ROOT / "mcsim"
    if os.environ.get("NUMBA_CACHE_DIR") or not os.access(package, os.W_OK):
        return False
    return not any(package.rglob("*.nbi"))


def measure_first_run(folder: Path, cache_dir: Path | None = None) -> dict:
    """Run the tiny case (``mcsim run``, the checkout's package) in a child process and
    return its ``rc``, ``stdout``, ``stderr`` and measured ``peak_bytes``. With ``cache_dir``
    Numba compiles into that (empty) folder; without it into the checkout's own cache, which
    must then be empty for this to be a first run (:func:`checkout_cache_is_empty`)."""
    folder.mkdir(parents=True, exist_ok=True)
    cfg_path = write_toml(folder / "tiny.toml", TINY_SETS)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
    proc = subprocess.run([sys.executable, "-c", _MEASURE, "run", str(cfg_path), "-o",
                           str(folder / "tiny.h5"), "--no-progress"], cwd=folder,
                          capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr  # the wrapper itself
    result = json.loads(proc.stdout)
    result["config_path"] = cfg_path
    return result


def mcsim_cli(*args, cwd, env=None, timeout=180):
    """Run ``python -m mcsim ARGS`` in ``cwd``; the CompletedProcess (text mode)."""
    return subprocess.run([sys.executable, "-m", "mcsim", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def mpiexec_command(n, args):
    """The command line of ``mcsim ARGS`` on ``n`` ranks."""
    return [str(MPIEXEC), "-n", str(n), sys.executable, "-m", "mcsim", *map(str, args)]


def mpiexec(n, args, cwd, timeout=180):
    """Run ``mcsim ARGS`` on ``n`` ranks in ``cwd`` (waiting ranks do not spin, the process
    grid is MPI's choice); the CompletedProcess (text mode)."""
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    env.pop("MCSIM_MPI_DIMS", None)
    return subprocess.run(mpiexec_command(n, args), cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def phase_ever_present(path, code) -> bool:
    """Whether phase ``code`` shows in any row of the result's phase fractions or in any of its
    snapshots."""
    with h5py.File(path, "r") as f:
        in_series = bool(np.any(f["timeseries/phase_fraction"][:, code] > 0))
        in_snaps = any(np.any(f["snapshots"][k]["phase"][()] == code) for k in f["snapshots"])
    return in_series or in_snaps


# -- one process at a time on a hand-built lattice ---------------------------------------------

#: The gas constant, J/(mol K).
R_GAS = 8.314462618


def arrhenius(a_per_s: float, ea_j_per_mol: float, temperature_c: float) -> float:
    """A exp(-Ea / R T) in 1/s, evaluated here independently of mcsim.processes.base."""
    return a_per_s * math.exp(-ea_j_per_mol / (R_GAS * (temperature_c + 273.15)))


def stepper_with(on, overrides=None, seed=3, parameter_set="ncm622-lioh", variants=None):
    """A Stepper with only the processes named in ``on`` (default variants, or the one
    ``variants`` names: process -> variant), all others off, and the resolved parameters it
    uses."""
    chosen = variants or {}
    choices = {name: ("none" if name not in on else chosen.get(name, next(iter(vs))))
               for name, vs in REGISTRY.items()}
    prm = _params.resolve(parameter_set, overrides or {})
    return Stepper(choices, prm, dict(config.load()["numerics"]), seed), prm


def box(phase, n=8, amount=None, li=0.0):
    """A lone n^3 lattice of one phase in grain 1: ``amount`` quanta per voxel (default: a full
    voxel of the phase) and ``li`` mobile lithium per voxel."""
    shape = (n,) * 3
    return State.from_arrays(np.full(shape, phase, np.uint8), np.ones(shape, np.int32),
                             None if amount is None else np.full(shape, amount, np.uint16),
                             np.full(shape, li, np.float32))


def assert_binomial(hits: int, trials: int, p: float, z: float = 5.0) -> None:
    """``hits`` successes in ``trials`` independent draws agree with probability ``p``: within
    ``z`` standard deviations of the binomial (the draws of distinct voxels are independent)."""
    sigma = math.sqrt(trials * p * (1.0 - p))
    assert abs(hits - trials * p) <= z * sigma, (hits, trials * p, sigma)


# -- comparing two result files ---------------------------------------------------------------

#: Attributes of /provenance that legitimately differ between an uninterrupted run and a
#: restarted one (they describe the process, not the result); every other attribute and
#: every dataset must be identical.
PROVENANCE_MAY_DIFFER = {
    "start_time", "end_time", "pid", "command", "host", "wall_time_s", "threads",
    "voxel_updates_per_s", "restarts", "last_restart_pid", "last_restart_command",
    "last_restart_from_step", "last_restart_mpi_ranks"}
#: Wall-clock timings of the particle generator (differ between any two runs).
WALL_CLOCK_DATASETS = ("microstructure/generation_time_s", "microstructure/timings_s/")


def _may_differ(path: str, attr: str | None = None) -> bool:
    if path == "provenance" and attr is not None:
        return attr in PROVENANCE_MAY_DIFFER or attr.startswith("time_")
    return any(path == p or (p.endswith("/") and path.startswith(p))
               for p in WALL_CLOCK_DATASETS)


def _same_value(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind == "O" or b.dtype.kind == "O":
        return a.shape == b.shape and list(a.flat) == list(b.flat)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def differences(path_a, path_b) -> list:
    """Every object, attribute or dataset (compared byte for byte) in which two result files
    differ, provenance timings aside."""
    out = []
    with h5py.File(path_a, "r") as fa, h5py.File(path_b, "r") as fb:
        names_a, names_b = [], []
        fa.visit(names_a.append)
        fb.visit(names_b.append)
        if sorted(names_a) != sorted(names_b):
            out.append(("objects", sorted(set(names_a) ^ set(names_b))))
        for name in ["/", *names_a]:
            if name not in fb:
                continue
            oa, ob = fa[name], fb[name]
            key = name.strip("/")
            keys = set(oa.attrs) | set(ob.attrs)
            for attr in sorted(keys):
                if _may_differ(key, attr):
                    continue
                if attr not in oa.attrs or attr not in ob.attrs:
                    out.append(("attribute missing", key, attr))
                elif not _same_value(oa.attrs[attr], ob.attrs[attr]):
                    out.append(("attribute", key, attr))
            if isinstance(oa, h5py.Dataset) and not _may_differ(key):
                if not _same_value(oa[()], ob[()]):
                    out.append(("dataset", key))
    return out


def busy_state(micro, offset=(0, 0, 0), shape=None, seed=0):
    """A state cut from ``micro`` where every branch of the reaction kernel has voxels to act
    on: rock salt (full and partial), layered oxide (overfull, disordered), all three sources
    (some nearly used up), lithium dry, partial and above the TM content."""
    state = State.from_microstructure(micro, offset=offset, shape=shape)
    gen = np.random.default_rng(seed)
    full = full_amount_table()
    P, A, L, D = (state.interior(n) for n in ("phase", "amount", "li", "disorder"))
    r = gen.random(P.shape)
    hyd = P == ph.HYDROXIDE
    rs = hyd & (r < 0.15)
    lay = hyd & (r >= 0.15) & (r < 0.3)
    P[rs] = ph.ROCKSALT
    A[rs] = np.where(gen.random(P.shape) < 0.5, full[ph.ROCKSALT], 700)[rs]
    P[lay] = ph.LAYERED
    A[lay] = np.where(gen.random(P.shape) < 0.3, full[ph.LAYERED] + 50, 1000)[lay]
    D[lay] = gen.integers(0, 60, P.shape)[lay]
    src = np.isin(P, ph.SOURCE_PHASES)
    r2 = gen.random(P.shape)
    P[src & (r2 < 0.3)] = ph.LI2O
    P[src & (r2 >= 0.3) & (r2 < 0.55)] = ph.LI2CO3
    small = src & (gen.random(P.shape) < 0.3)
    A[small] = gen.integers(0, 3, P.shape)[small]  # nearly spent: some turn to pore
    li = np.where(P != ph.PORE, gen.random(P.shape) * 1500, 0.0)
    li[gen.random(P.shape) < 0.2] = 0.0
    li[small] = gen.random(P.shape)[small] * 0.8
    L[...] = li.astype(np.float32)
    state.exchange_halo()
    assert (P == ph.HYDROXIDE).any() and rs.any() and lay.any() and src.any()
    return state


def walled_in(neighbour=None, excess=300):
    """A 9^3 block of full layered oxide of grain 1 with one voxel at its centre overfull by
    ``excess`` TM quanta; ``neighbour`` (phase, grain, amount) replaces its +x face neighbour.
    Returns the state (census set for the restructure process) and the centre."""
    full = full_amount_table()
    n = 9
    phase = np.full((n, n, n), ph.LAYERED, dtype=np.uint8)
    grain = np.ones((n, n, n), dtype=np.int32)
    amount = np.full((n, n, n), full[ph.LAYERED], dtype=np.uint16)
    c = n // 2
    amount[c, c, c] = full[ph.LAYERED] + excess
    if neighbour is not None:
        phase[c, c, c + 1], grain[c, c, c + 1], amount[c, c, c + 1] = neighbour
    st = State.from_arrays(phase, grain, amount)
    st.census.update({"rocksalt_partial": 0, "layered_overfull": 1, "lioh": 0})
    return st, (c, c, c)


def layered_block(n=7):
    """An n^3 block of full layered oxide of grain 1 (nothing in it can ripen)."""
    phase = np.full((n, n, n), ph.LAYERED, dtype=np.uint8)
    grain = np.ones((n, n, n), dtype=np.int32)
    amount = np.full((n, n, n), full_amount_table()[ph.LAYERED], dtype=np.uint16)
    return phase, grain, amount


def ripening_lattice(n=12, seed=3, shape=None):
    """Two grains (x < n/2 and above) of dehydrated rock salt with random amounts, a few
    intergranular pores and the outside; interior arrays."""
    shape = shape or (n, n, n)
    r = np.random.default_rng(seed)
    phase = np.full(shape, ph.ROCKSALT, dtype=np.uint8)
    grain = np.where(np.arange(shape[2])[None, None, :] < shape[2] // 2, 1, 2)
    grain = (grain * np.ones(shape)).astype(np.int32)
    amount = r.integers(400, 1600, shape).astype(np.uint16)
    pore = r.random(shape) < 0.08
    phase[pore], grain[pore], amount[pore] = ph.PORE, -1, 0
    phase[0], grain[0], amount[0] = ph.PORE, 0, 0  # the outside along one face
    li = np.where(phase != ph.PORE, r.integers(0, 50, shape), 0).astype(np.float32)
    return phase, grain, amount, li
