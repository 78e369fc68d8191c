"""``mcsim bench --mpi``: strong scaling of the reaction-diffusion step over MPI ranks.

The launcher (:func:`run_bench_mpi`, an ordinary process) starts, for each rank count, the
worker of this module under the ``mpiexec`` next to the interpreter (``mpiexec -n R python -m
mcsim.bench_mpi --worker ...``) and reads back what rank 0 measured. Each worker rank builds the
same ``size``^3 lattice as ``mcsim bench`` (every rank generates the whole particle and cuts
its block, halo included, out of it), then times the engine's step on its block with one
Numba thread per rank: the fused reaction sweep and source retirement, the halo exchange of
the five state fields, the exchange of the change flags, one transport sub-step that refreshes
the face classes around changed voxels in the same pass (the engine's kernels,
:func:`mcsim.reference.step_numba`) and the exchange of its result, and the ``Allreduce`` of
the step's tallies and counts. Every repetition restarts from the same state,
so every rank count does exactly the same work; a repetition is timed between two barriers
(the slowest rank's time), best of ``repeat``; the busiest rank's CPU time in it is shown too
(on a machine shared with other jobs the wall time also holds the time the ranks waited for
a core). The time inside
:meth:`mcsim.parallel.Decomposition.exchange` (packing, messages and waiting for the
neighbour) is reported as the halo-exchange share; it is the slowest rank's share.

Figures: voxel-updates/s of the whole lattice, speed-up and parallel efficiency against one
rank, halo share, the bytes one exchange of all five state fields sends per rank, and the
time of the exchange alone (five fields; the lithium field alone, as in an RKL stage), timed
back to back without kernels in between, so without waiting for a slower neighbour.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

from mcsim.bench import bench_state
from mcsim.parallel import Decomposition, allreduce_int
from mcsim.processes import slots as S
from mcsim.processes.transport import prepare_face_codes
from mcsim.reference import step_numba
from mcsim.state import EXCHANGED, FIELD_NAMES, State, full_amount_table
from mcsim.stepper import neutral_coefficients


def _local_state(full, dec):
    """This rank's block of the lone bench state ``full``, halo included, as a State."""
    sl = tuple(slice(o, o + n + 2) for o, n in zip(dec.offset, dec.shape))
    arrays = {name: np.ascontiguousarray(getattr(full, name)[sl]) for name in FIELD_NAMES}
    state = State(**arrays, global_shape=full.global_shape, offset=dec.offset,
                  voxel_nm=full.voxel_nm, center_vox=full.center_vox,
                  radius_vox=full.radius_vox)
    dec.attach(state)
    return state


def _coefficients():
    coef = neutral_coefficients()  # the same step as bench.bench_full_step
    coef[[S.C_P_REL_LIOH, S.C_P_REL_LI2O, S.C_P_REL_CO3, S.C_P_LIOH_DECOMP]] = 0.01
    coef[[S.C_KDT_LITH, S.C_KDT_DEHYD, S.C_KDT_RS]] = (0.01, 0.005, 0.01)
    coef[S.C_DISORDER_NEW] = 20
    coef[S.C_ANNEAL] = 0.99
    return coef


def worker(size: int, repeat: int, json_path: str | None) -> dict:
    """Measure the step on this rank's block (run under mpiexec); rank 0 returns the figures."""
    from mpi4py import MPI  # only in the worker: importing it initialises MPI

    numba.set_num_threads(1)
    comm = MPI.COMM_WORLD
    full_state, _ = bench_state(size)
    dec = Decomposition(comm, full_state.global_shape)
    state = _local_state(full_state, dec)
    del full_state
    coef = _coefficients()
    full = full_amount_table()
    pristine = {n: getattr(state, n).copy() for n in FIELD_NAMES}
    pristine_codes = prepare_face_codes(state).copy()

    def restore():
        for n in FIELD_NAMES:
            np.copyto(getattr(state, n), pristine[n])
        np.copyto(state.face_codes(), pristine_codes)
        state.dirty_flags()[...] = 0

    def step():
        tallies, counts = step_numba(state, coef, full, 1, 0.1, 0.001)
        allreduce_int(state.comm, np.concatenate([tallies, counts]))

    restore()
    step()  # compile (or load the cache), warm scratch buffers
    best = (np.inf, 0.0, 0.0)
    for _ in range(repeat):
        restore()
        comm.Barrier()
        dec.seconds = 0.0
        t0 = time.perf_counter()
        c0 = time.process_time()
        step()
        cpu = time.process_time() - c0
        comm.Barrier()
        wall = time.perf_counter() - t0
        halo = comm.allreduce(dec.seconds, op=MPI.MAX)
        cpu = comm.allreduce(cpu, op=MPI.MAX)
        if wall < best[0]:
            best = (wall, halo, cpu)
    # the exchange alone (no kernel in between, so no waiting for a slower neighbour):
    # all five state fields, and the lithium field alone (one RKL stage's exchange)
    lone_exchange = {}
    for label, arrays in (("fields5", [getattr(state, n) for n in EXCHANGED]), ("li", [state.li])):
        dec.exchange(*arrays)
        best_x = np.inf
        for _ in range(max(repeat, 5)):
            comm.Barrier()
            t0 = time.perf_counter()
            for _ in range(10):
                dec.exchange(*arrays)
            best_x = min(best_x, (time.perf_counter() - t0) / 10)
        lone_exchange[label] = comm.allreduce(best_x, op=MPI.MAX)
    plane_bytes = 0
    itemsize = sum(getattr(state, n).itemsize for n in EXCHANGED)
    padded = state.phase.shape
    for axis in range(3):
        lower, upper = dec.neighbours[axis]
        n_sides = (lower != MPI.PROC_NULL) + (upper != MPI.PROC_NULL)
        plane_bytes += n_sides * (np.prod(padded) // padded[axis]) * itemsize
    result = {"ranks": dec.size, "dims": list(dec.dims), "block": list(dec.shape),
              "seconds": best[0], "halo_seconds": best[1], "cpu_seconds": best[2],
              "halo_share": best[1] / best[0] if best[0] > 0 else 0.0,
              "voxel_updates_per_s": float(np.prod(dec.global_shape)) / best[0],
              "halo_bytes_per_exchange": int(comm.allreduce(int(plane_bytes), op=MPI.MAX)),
              "exchange_fields5_s": lone_exchange["fields5"], "exchange_li_s": lone_exchange["li"]}
    if dec.rank == 0 and json_path:
        Path(json_path).write_text(json.dumps(result))
    dec.free()
    return result


def run_bench_mpi(size: int = 256, ranks=(1, 2), repeat: int = 3, json_path=None,
                  out=print) -> dict:
    """Launch the worker with each rank count in ``ranks`` and print the scaling table.

    Returns ``{"lattice": size, "runs": [...], "speedup": {ranks: x}}``.
    """
    mpiexec = Path(sys.executable).parent / "mpiexec"
    if not mpiexec.exists():
        mpiexec = Path("mpiexec")
    result = {"lattice": size, "runs": [], "speedup": {}}
    out(f"mcsim bench --mpi: {size}^3 reaction-diffusion step (fused reactions, halo exchange, "
        f"face-class refresh, one transport sub-step, tally allreduce), 1 Numba thread per "
        f"rank, best of {repeat}")
    header = (f"{'ranks':>5s} {'grid':>7s} {'block':>14s} {'step s':>8s} {'cpu s':>7s} "
              f"{'voxel-upd/s':>12s} {'speed-up':>8s} {'effic.':>7s} {'halo %':>7s} "
              f"{'halo MB/exch':>12s}")
    out(header)
    out("-" * len(header))
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    env.pop("MCSIM_MPI_DIMS", None)
    with tempfile.TemporaryDirectory() as tmp:
        for r in ranks:
            path = Path(tmp) / f"bench-{r}.json"
            cmd = [str(mpiexec), "-n", str(r), sys.executable, "-m", "mcsim.bench_mpi",
                   "--worker", "--size", str(size), "--repeat", str(repeat),
                   "--json", str(path)]
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
            row = json.loads(path.read_text())
            result["runs"].append(row)
            base = result["runs"][0]
            speedup = base["seconds"] / row["seconds"]
            eff = speedup * base["ranks"] / row["ranks"]
            result["speedup"][r] = speedup
            out(f"{r:5d} {'x'.join(map(str, row['dims'])):>7s} "
                f"{'x'.join(map(str, row['block'])):>14s} {row['seconds']:8.3f} "
                f"{row['cpu_seconds']:7.3f} {row['voxel_updates_per_s']:12.3g} {speedup:8.2f} {100 * eff:6.1f}% "
                f"{100 * row['halo_share']:6.1f}% {row['halo_bytes_per_exchange'] / 1e6:12.2f}")
    out("step s: wall time of one step (slowest rank, between barriers); cpu s: the CPU time "
        "of the busiest rank in it (below the wall time when other processes share the cores); "
        "halo %: time inside the halo exchange (packing, messages, waiting for the neighbour) "
        "of the slowest rank; MB/exch: bytes one rank sends in one exchange of all five "
        "state fields")
    for row in result["runs"]:
        if row["ranks"] > 1:
            out(f"{row['ranks']} ranks, the exchange alone: five state fields "
                f"{1e3 * row['exchange_fields5_s']:.2f} ms "
                f"({row['halo_bytes_per_exchange'] / row['exchange_fields5_s'] / 1e9:.2f} GB/s "
                f"sent per rank), lithium field {1e3 * row['exchange_li_s']:.2f} ms")
    if json_path:
        with open(json_path, "w") as fh:
            json.dump(result, fh, indent=2, default=str)
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m mcsim.bench_mpi")
    p.add_argument("--worker", action="store_true", help="(internal) run under mpiexec")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    if args.worker:
        worker(args.size, args.repeat, args.json)
    else:
        run_bench_mpi(args.size, args.ranks, args.repeat, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
