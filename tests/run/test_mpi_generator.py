"""The particle generator by blocks under MPI: every rank generates only its block
(:mod:`mcsim.generator.blocks`, sums over the ranks by ``Allreduce``) and the blocks,
gathered, are the particle one process generates, bit for bit, with the same report on
every rank; on uneven splits (61 = 21 + 20 + 20 along x, 31 + 30 in z and y; 109 = 55 + 54),
for the MPI contract's particle and for a radius-0.9 um particle whose lithium does not all
fit as source particles (a trimmed last particle and a uniform layer).

This file also runs as a bare script under mpiexec (``--worker`` checks one case,
``--rss`` prints each rank's peak memory while generating; see its ``__main__``), where the
tests package is not importable.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.mpi

MPIEXEC = Path(sys.executable).parent / "mpiexec"

#: The checked particles: generator arguments.
CASES = {
    # tests.support.MPI_CONFIG's particle (61^3)
    "contract": dict(radius_um=0.205, grain_length_nm=100.0, grain_width_nm=60.0,
                     grain_thickness_nm=30.0, source_diameter_nm=80.0, seed=3),
    # the configuration's default particle at radius 0.9 um, 20 nm voxels (109^3)
    "r09": dict(radius_um=0.9, voxel_nm=20.0, grain_length_nm=200.0, grain_width_nm=100.0,
                grain_thickness_nm=40.0, source_diameter_nm=150.0, seed=1),
}


def _mpirun(n, args, dims, timeout=300):
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", NUMBA_NUM_THREADS="1",
               MCSIM_MPI_DIMS=dims)
    cmd = [str(MPIEXEC), "-n", str(n), sys.executable, str(Path(__file__).resolve()), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.mark.parametrize("case, n, dims", [
    ("contract", 3, "1,1,3"), ("contract", 4, "2,2,1"), ("r09", 4, "2,1,2")])
def test_blocks_generated_on_ranks_are_the_serial_particle(case, n, dims):
    proc = _mpirun(n, ["--worker", case], dims)
    assert proc.stdout.count(f"generator ok {case}") == n, proc.stdout + proc.stderr


def _canon(v):
    """A report as comparable plain values (floats as hex, arrays as bytes), no timings."""
    import numpy as np

    if isinstance(v, dict):
        return {k: _canon(x) for k, x in sorted(v.items())
                if k not in ("timings_s", "generation_time_s")}
    if isinstance(v, np.ndarray):
        return (v.dtype.str, v.shape, v.tobytes())
    if isinstance(v, (float, np.floating)):
        return float(v).hex()
    if isinstance(v, (list, tuple)):
        return [_canon(x) for x in v]
    return v


def _generate_block(kwargs, comm):
    """This rank's block of the particle and the decomposition it belongs to."""
    from mcsim.generator import generate_agglomerate
    from mcsim.generator.arguments import validate_arguments
    from mcsim.generator.blocks import comm_reduce
    from mcsim.parallel import Decomposition

    n = validate_arguments(**{**_defaults(), **kwargs, "margin_nm": None})[-1]
    dec = Decomposition(comm, (n, n, n))
    micro = generate_agglomerate(**kwargs, block=(dec.offset, dec.shape),
                                 reduce=comm_reduce(dec.cart))
    return micro, dec


def _defaults():
    return dict(radius_um=1.0, voxel_nm=10.0, porosity=0.25, grain_length_nm=300.0,
                grain_width_nm=150.0, grain_thickness_nm=50.0, size_cv=0.2, li_source="LiOH",
                li_to_tm=1.05, source_diameter_nm=300.0, placement="particles", seed=1)


def _worker(case):
    import numpy as np
    from mpi4py import MPI

    from mcsim.generator import generate_agglomerate
    from mcsim.parallel import gather_field

    comm = MPI.COMM_WORLD
    kwargs = CASES[case]
    micro, dec = _generate_block(kwargs, comm)
    assert micro.offset == dec.offset and micro.phase.shape == dec.shape
    phase = gather_field(dec, micro.phase)
    grain = gather_field(dec, micro.grain)
    ok, report = True, None
    if dec.rank == 0:  # the particle of one process, without blocks
        ref = generate_agglomerate(**kwargs)
        ok = bool(np.array_equal(phase, ref.phase) and np.array_equal(grain, ref.grain))
        report = ref.report
    report = comm.bcast(report, root=0)
    ok &= _canon(micro.report) == _canon(report)  # every rank: the whole particle's report
    if case == "r09":
        ok &= micro.report["n_source_layer_voxels"] > 0
    ok = comm.allreduce(ok, op=MPI.LAND)
    if ok:
        print(f"generator ok {case}", flush=True)
    dec.free()


def _rss(radius_um, voxel_nm):
    """Each rank's peak resident memory (MiB) before and after generating its block of the
    configuration's default particle at ``radius_um`` and ``voxel_nm``."""
    import resource

    from mpi4py import MPI

    from mcsim import config
    from mcsim.config import generator_kwargs

    comm = MPI.COMM_WORLD
    cfg = config.load(sets=[f"particle.radius_um={radius_um}",
                            f"particle.voxel_nm={voxel_nm}"])
    kwargs = generator_kwargs(cfg)
    # warm-up: load every kernel on a tiny particle first
    _generate_block({**kwargs, "radius_um": 0.1, "grain_length_nm": 4 * voxel_nm,
                     "grain_width_nm": 3 * voxel_nm, "grain_thickness_nm": 2 * voxel_nm,
                     "source_diameter_nm": 4 * voxel_nm}, comm)[1].free()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    micro, dec = _generate_block(kwargs, comm)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n = micro.report["grid_n"]
    block = micro.phase.size
    rows = comm.gather((dec.rank, before, after, block), root=0)
    if dec.rank == 0:
        print(f"grid {n}^3 = {n ** 3} voxels on {dec.size} ranks {dec.dims}, "
              f"generated in {micro.report['generation_time_s']:.1f} s")
        for rank, b, a, vox in rows:
            print(f"rank {rank}: block {vox} voxels, peak RSS {b:.0f} MiB before, {a:.0f} MiB "
                  f"after generating: +{a - b:.0f} MiB = {(a - b) * 2 ** 20 / vox:.1f} B per "
                  f"block voxel")
    dec.free()


if __name__ == "__main__" and "--worker" in sys.argv:
    _worker(sys.argv[sys.argv.index("--worker") + 1])
elif __name__ == "__main__" and "--rss" in sys.argv:
    i = sys.argv.index("--rss")
    _rss(float(sys.argv[i + 1]), float(sys.argv[i + 2]))
