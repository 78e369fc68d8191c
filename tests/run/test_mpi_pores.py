"""Pore and grain statistics without gathering: on 2, 3, 4 and 8 ranks,
:func:`mcsim.pores.distributed_pore_statistics` and
:func:`mcsim.pores.distributed_reference_central_void` return, on rank 0, exactly what the
serial :func:`mcsim.pores.pore_statistics` and :func:`mcsim.pores.reference_central_void`
return for the gathered lattice: the same keys, dtypes, shapes and bytes of every array, the
same bits of every float.

Two kinds of particles, on lattices whose z and x edges (49 and 47; 61) none of the rank
counts divides:

* a generated particle with carved nanopores (:func:`mcsim.pores.synthetic_particle`, 48^3
  grid cut to 49 x 48 x 47) with random amounts (used-up sources become pores), for both
  outlines, both local-thickness conventions and a central-void reference (computed, then
  used), split along z, along x (the blocks cross the analysis's z-slabs) and on 2-D process
  grids; then with a central cavity 21 voxels across, whose distances outgrow the first
  distance halo and whose balls reach over more than one neighbouring slab;
* the state of a short run of the engine (the MPI contract's particle, 61^3, ramped to
  about 330 C: dehydration, release, lithiation), taken from each rank's block as the engine
  holds it, with the engine's options (``outline="tags"``, ``amount``).

A tiny particle on 8 ranks leaves the last rank without a slab of the particle's box. Each
case runs under ``mpiexec`` as this file run as a script (``--worker``), which prints one
``ok`` line per comparison on rank 0.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.mpi

MPIEXEC = Path(sys.executable).parent / "mpiexec"

#: The MPI contract's particle on its ramp (tests.support.MPI_CONFIG without its output
#: table), for the engine case; written out here because this file also runs as a bare
#: script under mpiexec (--worker), where the tests package is not importable.
CONFIG = """\
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
[numerics]
dt_max_s = 120
max_temperature_step_c = 10
max_event_probability = 1.0
threads = 1
"""

#: Simulated time of the engine case, s (150 -> 330 C at 20 C/min).
RUN_S = 540.0


def _mpirun(n, args, timeout=300):
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", NUMBA_NUM_THREADS="1")
    env.pop("MCSIM_MPI_DIMS", None)
    cmd = [str(MPIEXEC), "-n", str(n), sys.executable, str(Path(__file__).resolve()),
           "--worker", *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _oks(out):
    return sorted(line.split(maxsplit=1)[1] for line in out.splitlines()
                  if line.startswith("ok "))


SYNTHETIC = ["sphere", "tags", "porespy", "reference", "reference_used", "cavity",
             "cavity_porespy"]


@pytest.mark.parametrize("ranks, dims", [(2, "2,1,1"), (3, "3,1,1"), (3, "1,1,3"),
                                         (4, "2,2,1"), (4, "1,2,2")])
def test_generated_particle_statistics_equal_the_gathered_analysis(ranks, dims):
    out = _mpirun(ranks, ["synthetic", dims])
    assert _oks(out) == sorted(f"synthetic {dims} {case}" for case in SYNTHETIC), out


@pytest.mark.parametrize("ranks, dims", [(3, "3,1,1"), (4, "1,2,2")])
def test_engine_state_statistics_equal_the_gathered_analysis(ranks, dims, tmp_path):
    (tmp_path / "tiny.toml").write_text(CONFIG)
    out = _mpirun(ranks, ["engine", dims, tmp_path / "tiny.toml"])
    assert _oks(out) == sorted(f"engine {dims} {case}" for case in ("pores", "reference")), out


def test_ranks_without_a_slab_of_the_box_take_part():
    """A box of 7 planes (padded outside the 7 x 6 x 5 lattice in y and x) on 8 ranks
    (2 x 2 x 2 grid): the last rank holds no slab, every rank takes part."""
    out = _mpirun(8, ["tiny", "2,2,2"])
    assert _oks(out) == ["tiny 2,2,2 pores", "tiny 2,2,2 reference",
                         "tiny 2,2,2 reference_used"], out


# -- the worker (this file run under mpiexec) ------------------------------------------------

def _blocks(dec, *arrays):
    sl = tuple(slice(o, o + n) for o, n in zip(dec.offset, dec.shape))
    return [None if a is None else np.ascontiguousarray(a[sl]) for a in arrays]


def _compare(comm, label, dist, serial):
    """Print ``ok LABEL`` on rank 0 if the two agree, else the differences."""
    if comm.Get_rank() != 0:
        assert dist is None or (isinstance(dist, float) and math.isnan(dist)), dist
        return
    from mcsim.pores.distributed import statistics_differences

    diff = statistics_differences(dist, serial)
    print(f"ok {label}" if not diff else f"FAIL {label}: {diff[:8]}", flush=True)


def _cases(comm, dec, label, phase, grain, amount, center, radius, voxel_nm, cases):
    from mcsim.pores import (distributed_pore_statistics, distributed_reference_central_void,
                             pore_statistics, reference_central_void)

    root = comm.Get_rank() == 0
    b_phase, b_grain, b_amount = _blocks(dec, phase, grain, amount)
    for case, kw in cases.items():
        if case == "reference":
            dist = distributed_reference_central_void(dec, b_phase, b_grain, center, radius,
                                                      voxel_nm, **kw)
            serial = reference_central_void(phase, grain, center, radius, voxel_nm,
                                            **kw) if root else None
            _compare(comm, f"{label} {case}", dist, serial)
            kw = dict(kw, central_void_reference=dist if root else None)
            case = "reference_used"
        dist = distributed_pore_statistics(dec, b_phase, b_grain, center, radius, voxel_nm,
                                           **{k: (b_amount if k == "amount" else v)
                                              for k, v in kw.items()})
        serial = pore_statistics(phase, grain, center, radius, voxel_nm,
                                 **{k: (amount if k == "amount" else v) for k, v in kw.items()}
                                 ) if root else None
        if case == "reference_used" and root:  # the reference in use: opened is a number
            assert not math.isnan(dist["central_void_opened"])
        _compare(comm, f"{label} {case}", dist, serial)


def _synthetic(comm, dims):
    from mcsim.parallel import Decomposition
    from mcsim.pores import synthetic_particle

    m = synthetic_particle(48, 500, seed=7)
    phase = np.zeros((49, 48, 47), np.uint8)  # plane 48: outside, pore of grain 0
    grain = np.zeros(phase.shape, np.int32)
    phase[:48] = m.phase[:, :, :47]
    grain[:48] = m.grain[:, :, :47]
    rng = np.random.Generator(np.random.Philox(key=np.array([7, 1], dtype=np.uint64)))
    amount = rng.integers(0, 4, phase.shape).astype(np.uint16)
    dec = Decomposition(comm, phase.shape, dims=dims)
    assert dec.shape[0] == 49 // dims[0] + (dec.coords[0] < 49 % dims[0])
    label = "synthetic " + ",".join(map(str, dims))
    _cases(comm, dec, label, phase, grain, amount, m.center_vox, m.radius_vox, m.voxel_nm, {
        "sphere": dict(amount="amount"),
        "tags": dict(outline="tags"),
        "porespy": dict(outline="tags", amount="amount", thickness_convention="porespy",
                        n_size_bins=7),
        "reference": dict(outline="sphere"),
    })
    # a central cavity 21 voxels across: distances beyond the first halo (8 planes), balls
    # reaching over more than one neighbouring slab
    c = m.center_vox
    z, y, x = np.ogrid[:phase.shape[0], :phase.shape[1], :phase.shape[2]]
    phase[(z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= 10.5 ** 2] = 0
    if comm.Get_rank() == 0:
        from mcsim.pores import pore_statistics

        lt = pore_statistics(phase, grain, c, m.radius_vox, m.voxel_nm)["local_thickness"]
        assert lt["void_voxels"][lt["edges_nm"][:-1] >= 17 * m.voxel_nm].sum() > 1000, lt
    _cases(comm, dec, label, phase, grain, amount, c, m.radius_vox, m.voxel_nm, {
        "cavity": dict(amount="amount"),
        "cavity_porespy": dict(thickness_convention="porespy"),
    })
    dec.free()


def _engine(comm, dims, config_path):
    from mcsim import config
    from mcsim.parallel import gather_field
    from mcsim.engine import Simulation
    from mcsim.state import WRITTEN

    os.environ["MCSIM_MPI_DIMS"] = ",".join(map(str, dims))
    sim = Simulation(config.load(config_path), log=lambda *a, **k: None, comm=comm)
    dec, st = sim.decomposition, sim.state
    assert tuple(dec.dims) == tuple(dims)
    for _ in range(1000):
        if st.time_s >= RUN_S * (1 - 1e-12):
            break
        dt = sim.choose_dt(st.time_s, RUN_S)
        if RUN_S - (st.time_s + dt) < 1e-9 * RUN_S:
            dt = RUN_S - st.time_s  # land on RUN_S, as the engine lands on its events
        sim.advance(dt)
    fields = st.interior_fields(WRITTEN)
    whole = {k: gather_field(dec, fields[k]) for k in ("phase", "grain", "amount")}
    label = "engine " + ",".join(map(str, dims))
    _whole_cases(comm, dec, label, fields, whole, st)


def _whole_cases(comm, dec, label, fields, whole, st):
    from mcsim.pores import (distributed_pore_statistics, distributed_reference_central_void,
                             pore_statistics, reference_central_void)

    root = comm.Get_rank() == 0
    args = (st.center_vox, st.radius_vox, st.voxel_nm)
    dist = distributed_reference_central_void(dec, fields["phase"], fields["grain"], *args,
                                              outline="tags", amount=fields["amount"])
    serial = (reference_central_void(whole["phase"], whole["grain"], *args, outline="tags",
                                     amount=whole["amount"]) if root else None)
    _compare(comm, f"{label} reference", dist, serial)
    dist = distributed_pore_statistics(dec, fields["phase"], fields["grain"], *args,
                                       outline="tags", amount=fields["amount"],
                                       central_void_reference=0.0)
    serial = (pore_statistics(whole["phase"], whole["grain"], *args, outline="tags",
                              amount=whole["amount"], central_void_reference=0.0)
              if root else None)
    if root:
        assert serial["pore_count"] > 10 and serial["grain_count"] > 10, serial["pore_count"]
    _compare(comm, f"{label} pores", dist, serial)


def _tiny(comm, dims):
    from mcsim import phases as ph
    from mcsim.parallel import Decomposition

    shape = (7, 6, 5)
    phase = np.full(shape, ph.LAYERED, np.uint8)
    grain = np.ones(shape, np.int32)
    phase[3, 2, 2] = ph.PORE  # a nanopore at the centre
    phase[1:6, 4, 2] = ph.PORE  # a channel along z
    grain[:, :, 3:] = 2
    dec = Decomposition(comm, shape, dims=dims)
    center, radius = (3.0, 2.5, 2.0), 1.9
    _cases(comm, dec, "tiny " + ",".join(map(str, dims)), phase, grain, None, center, radius,
           10.0, {"pores": {}, "reference": {}})
    dec.free()


def _worker(argv):
    from mpi4py import MPI

    comm = MPI.COMM_WORLD

    def abort(kind, value, tb):  # a failing rank ends the job instead of leaving it waiting
        sys.__excepthook__(kind, value, tb)
        sys.stderr.flush()
        comm.Abort(1)

    sys.excepthook = abort
    kind, dims = argv[0], tuple(int(d) for d in argv[1].split(","))
    if kind == "synthetic":
        _synthetic(comm, dims)
    elif kind == "engine":
        _engine(comm, dims, argv[2])
    else:
        _tiny(comm, dims)


if __name__ == "__main__" and "--worker" in sys.argv:
    _worker(sys.argv[sys.argv.index("--worker") + 1:])
