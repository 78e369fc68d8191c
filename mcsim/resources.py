"""What a run will need, worked out from its configuration before anything is allocated:
the grid, the memory per MPI rank and the size of the result file; and the limits on the
size of a run that keep a typo from asking for years of simulated time or terabytes.

Memory model
------------
A rank's peak resident memory is estimated as ::

    BASE_BYTES + SAFETY * max(generator, running)

    generator = GENERATOR_BYTES_PER_VOXEL * n_block          (every rank generates its
                                                              block of the particle)
    running   = LATTICE_BYTES_PER_VOXEL * n_block            (fields, halo, scratch)
              + RETAINED_BYTES_PER_VOXEL * N   (one rank)    (the generated phase and grain
                                                              the engine keeps)
              + PORE_STATS_BYTES_PER_VOXEL * N (one rank, pore statistics on)
              + DIST_PORE_STATS_BYTES_PER_VOXEL * N / ranks
              + DIST_PORE_STATS_BYTES_PER_PLANE * n^2
                                               (several ranks, pore statistics on: each
                                                rank analyses a slab, nothing is gathered)

with ``N`` the voxels of the global grid (edge ``n``) and ``n_block`` those of the largest
block with its one-voxel halo. The figures were measured on this code (Linux x86-64, Python 3.11, numba,
one thread) as the peak RSS (``getrusage(...).ru_maxrss``) of fresh processes, each doing
one thing, with the tiny settings of ``tests/support.py`` (``TINY_SETS``,
``lithium.source_diameter_nm = 150``):

* the generator works by blocks (:mod:`mcsim.generator.blocks`): a rank holds the nearest
  seed and boundary gap of its block (8 B per voxel), then phase and grain (5 B) and the
  provisional records of the source particles; the global steps exchange sums of counts,
  not arrays. Its peak RSS over the RSS before it (kernels loaded), for the configuration's
  default particle at radius 1.0 um (234^3 = 1.28e7 voxels, source particles and a layer):
  +113 MiB on one rank (9.3 B per voxel), +34 MiB on each of 4 ranks (blocks of 3.2e6
  voxels, 11.0 B per block voxel, the per-grain and per-ball arrays every rank holds
  weighing more on a smaller block); before the blocks one rank needed +411 MiB (33.6 B
  per voxel of the whole grid) and so did every rank. Measured with ``mpiexec -n N python3
  tests/run/test_mpi_generator.py --rss 1.0 10``; hence ``GENERATOR_BYTES_PER_VOXEL = 12``
  per voxel of the block.
* whole tiny runs (ramp to 350 C, pore statistics at each snapshot), radius 0.3 / 0.45 /
  0.6 um (94^3, 124^3, 154^3): 240, 281 and 357 MiB, a slope of 40 B per voxel between the
  first two and 46 B between the last two (the default run, 154^3, peaks about 43 B per
  voxel over a base of about 220 MB). The lattice (``mcsim.state``: 12 B of fields and 11 B of
  scratch, plus the 1 B sintering contact field) is 24 B and the kept generator output 5 B,
  so the pore statistics' temporaries (labels, feature transform) come to about 17 B:
  ``PORE_STATS_BYTES_PER_VOXEL = 16``, which with ``SAFETY`` gives 52 B per voxel. The
  same 124^3 run without pore statistics peaks at 268 MiB (13 MiB less).
* pore statistics on several ranks (:mod:`mcsim.pores.distributed`), a synthetic 256^3
  particle (box 243^3, outline from the tags, with amounts), peak RSS over the fields held:
  +258 MiB on one rank (the serial path), +137 MiB on each of 2 ranks, +99 MiB on each of 4
  (the gathered path it replaced: +372 MiB on rank 0 of 4); the 4-rank figure is about
  60 MiB that scale with a plane of the box (47 MiB of it scipy's distance-transform
  scratch) plus about 11 B per voxel of the rank's slab:
  ``DIST_PORE_STATS_BYTES_PER_VOXEL = 12``, ``DIST_PORE_STATS_BYTES_PER_PLANE = 800``.
* the base, what a small run holds besides its lattice (the interpreter, numpy, numba's
  compiled kernels, h5py, scipy): 214 MiB for the 60^3 tiny run (10 MB of lattice) when the
  kernels come from numba's cache; the straight line through the two largest runs meets zero
  voxels at 197 MiB. The first run on a machine (or after an upgrade, or with another
  ``NUMBA_CACHE_DIR``) compiles every kernel, and LLVM holds about 250 MiB more while it
  does: the same 60^3 run peaks at 478 MiB with an empty cache, the 74^3 and 124^3 runs at
  491 and 545 MiB (236 and 291 MiB with a warm one); in a freshly made virtual environment
  the 60^3 run peaked at 522 MiB. The faster kernels of 2026-12-04 are larger functions to
  compile (Philox inlined into the reaction sweep, the restructure step's row masks): a first
  run of the 60^3 particle to 450 C now peaks at 684 MiB against 574 MiB before them (649 MiB
  with only the reaction-diffusion change), and the tiny test run at 645 MiB here and 678 MiB
  in a freshly made virtual environment. The compiler's share does not grow with the lattice
  but varies by some 50 MiB between environments. By 2026-12-06 the kernels added since
  (the sintering variants, the ripening rules) had brought the tiny run's first-run peak to
  734 MiB here and, in CI's freshly made virtual environment, 790 MiB, above the 750 MiB base
  and its estimate of 761 MiB (the sink mode of ripening added 5-7 MiB: 739-742 MiB here).
  ``BASE_BYTES = 800 MiB`` covers a first run; later runs stay about 550 MiB below the
  estimate.

``SAFETY = 1.15`` covers allocator slack and the difference between machines; the test
``tests/run/test_resources.py`` checks that the estimate is never below a measured peak.

Output model
------------
Snapshots are stored gzip-compressed; their size depends on the microstructure, so the
estimate is the *uncompressed* upper bound: 12 B per voxel per snapshot (the five fields),
the projected image (8 B per pixel) and a fixed allowance for the pore statistics, plus
``TIMESERIES_BYTES_PER_ROW`` per time-series row. Real files are usually several times
smaller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from mcsim.config import (MAX_SNAPSHOTS, MAX_TIMESERIES_ROWS, build_schedule,
                          check_output_limits, generator_kwargs, snapshot_count)
from mcsim.errors import ConfigError
from mcsim.generator.arguments import validate_arguments
from mcsim.parallel import dims_from_env
from mcsim.state import BYTES_PER_VOXEL, FIELDS, SCRATCH_BYTES_PER_VOXEL, WRITTEN

__all__ = ["Estimate", "estimate", "snapshot_count", "available_memory_bytes",
           "check_memory", "check_output_limits", "check_sweep_size", "MAX_TIMESERIES_ROWS",
           "MAX_SNAPSHOTS", "MAX_SWEEP_RUNS"]

MIB = 2 ** 20
GIB = 2 ** 30

#: Resident memory of a run besides its lattice (interpreter, libraries, kernels compiled
#: on a first run with an empty numba cache), bytes; measured, see the module docstring.
BASE_BYTES = 800 * MIB
#: Peak of the particle generator per voxel of a rank's block (measured: 9.3 B on one rank,
#: 11.0 B on each of four; see the module docstring).
GENERATOR_BYTES_PER_VOXEL = 12
#: Fields, scratch buffers and the sintering contact field of the lattice, per voxel of a
#: rank's block with its halo.
LATTICE_BYTES_PER_VOXEL = BYTES_PER_VOXEL + SCRATCH_BYTES_PER_VOXEL + 1
#: The generated phase (uint8) and grain (int32) that a one-rank run keeps.
RETAINED_BYTES_PER_VOXEL = 5
#: Temporaries of :func:`mcsim.pores.pore_statistics` on one rank (measured: about 17 B).
PORE_STATS_BYTES_PER_VOXEL = 16
#: On several ranks (:mod:`mcsim.pores.distributed`), per voxel of a rank's slab of the grid
#: (the slab's phase, grain and amount, labels and distances; measured: about 11 B) ...
DIST_PORE_STATS_BYTES_PER_VOXEL = 12
#: ... plus a part that grows with the area of a plane of the grid, not with the slab:
#: scipy's distance-transform scratch and the halos (measured: about 60 MiB on 243^2).
DIST_PORE_STATS_BYTES_PER_PLANE = 800
#: Factor on the lattice-dependent part of the estimate for allocator slack.
SAFETY = 1.15

#: Bytes of one snapshot per voxel, uncompressed: the fields a snapshot writes (12).
SNAPSHOT_BYTES_PER_VOXEL = sum(f.itemsize for f in FIELDS if f.name in WRITTEN)
#: Allowance per snapshot for the pore statistics and attributes, bytes.
SNAPSHOT_OVERHEAD_BYTES = 1 * MIB
#: One time-series row: about 120 float64 columns (scalars, phase shares, radial profiles).
TIMESERIES_BYTES_PER_ROW = 1024
#: Fixed part of a result file (configuration, provenance, generator report), bytes.
RESULT_OVERHEAD_BYTES = 1 * MIB

# MAX_TIMESERIES_ROWS and MAX_SNAPSHOTS (with check_output_limits and snapshot_count) live
# in mcsim.config, whose validation applies them; they are re-exported here.
#: Most runs (points x replicas) of one sweep. The plan holds a configuration per run in
#: memory (about 10 kB each) and writes four files per run; 10^5 runs are already a
#: gigabyte of plan and 400 000 files, far beyond what one sweep on one allocation can do.
MAX_SWEEP_RUNS = 10 ** 5


@dataclass(frozen=True)
class Estimate:
    """What a run is expected to need, worked out before anything is allocated.

    Attributes
    ----------
    grid_n : int
        Edge of the cubic grid, voxels.
    voxels : int
        Voxels of the whole grid.
    ranks : int
        MPI ranks the lattice is split over.
    block_voxels : int
        Voxels of the largest block, halo included.
    memory_per_rank_bytes : int
        Estimated peak resident memory of the busiest rank (rank 0), bytes.
    snapshots : int
        Snapshots the run will write.
    timeseries_rows : int
        Rows of the time series.
    output_bytes : int
        Result file size, upper bound (snapshots uncompressed), bytes.
    """

    grid_n: int
    voxels: int
    ranks: int
    block_voxels: int
    memory_per_rank_bytes: int
    snapshots: int
    timeseries_rows: int
    output_bytes: int

    def lines(self) -> list[str]:
        """The estimate as two lines for ``mcsim config check``."""
        per = " per rank" if self.ranks > 1 else ""
        return [f"grid {self.grid_n}^3 = {self.voxels:.3g} voxels"
                + (f" on {self.ranks} MPI ranks" if self.ranks > 1 else "")
                + f", memory about {_size(self.memory_per_rank_bytes)}{per} (peak estimate)",
                f"output at most {_size(self.output_bytes)} ({self.snapshots} snapshot(s) "
                f"uncompressed, {self.timeseries_rows} time-series rows; gzip makes it smaller)"]

    def short(self) -> str:
        """The estimate in a few words, for the run's first log line."""
        per = " per rank" if self.ranks > 1 else ""
        return (f"{self.voxels:.3g} voxels, memory about "
                f"{_size(self.memory_per_rank_bytes)}{per}, output at most "
                f"{_size(self.output_bytes)}")


def _size(nbytes: float) -> str:
    """``nbytes`` in MiB, GiB or TiB, three significant figures."""
    for unit, scale in (("TiB", 2 ** 40), ("GiB", GIB)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{nbytes / MIB:.3g} MiB"


def _balanced_dims(ranks: int) -> list[int]:
    """A balanced 3-D process grid for ``ranks`` (as ``MPI.Compute_dims`` makes it), or the
    one named by ``MCSIM_MPI_DIMS``; without importing MPI."""
    named = dims_from_env(ranks)
    if named is not None:
        return list(named)
    factors, rest, p = [], ranks, 2
    while p * p <= rest:
        while rest % p == 0:
            factors.append(p)
            rest //= p
        p += 1
    if rest > 1:
        factors.append(rest)
    dims = [1, 1, 1]
    for f in sorted(factors, reverse=True):
        dims[dims.index(min(dims))] *= f
    return sorted(dims, reverse=True)


def grid_edge(cfg: dict) -> int:
    """Edge of the cubic grid of a validated configuration, voxels: ``ceil((2 R + 2 margin)
    / voxel_nm)`` with the generator's own rule for the margin (the source particles'
    diameter plus two voxels unless ``particle.margin_nm`` says otherwise)."""
    # the generator's argument check returns the grid edge it would use: the exact rule
    return int(validate_arguments(**{"margin_nm": None, **generator_kwargs(cfg)})[-1])


def estimate(cfg: dict, ranks: int = 1, *, generate: bool = True, schedule=None) -> Estimate:
    """Estimate the grid, the peak memory of the busiest rank and the result size of a run.

    Parameters
    ----------
    cfg : dict
        A validated configuration (:func:`mcsim.config.load`).
    ranks : int
        MPI ranks the lattice is split over.
    generate : bool
        Whether the run generates its particle (False for a restart from a checkpoint).
    schedule : mcsim.schedule.Schedule, optional
        The run's schedule (built from ``cfg`` when left out).

    Returns
    -------
    Estimate
    """
    schedule = build_schedule(cfg) if schedule is None else schedule
    n = grid_edge(cfg)
    voxels = n ** 3
    dims = _balanced_dims(max(1, int(ranks)))
    block = math.prod(math.ceil(n / d) + 2 for d in dims)
    pores = bool(cfg["output"]["pore_statistics"])
    running = LATTICE_BYTES_PER_VOXEL * block
    running += RETAINED_BYTES_PER_VOXEL * voxels if ranks == 1 else 0
    if pores and ranks > 1:  # statistics on slabs of the particle's box, nothing gathered
        running += (DIST_PORE_STATS_BYTES_PER_VOXEL * voxels / ranks
                    + DIST_PORE_STATS_BYTES_PER_PLANE * n * n)
    elif pores:
        running += PORE_STATS_BYTES_PER_VOXEL * voxels
    generator = GENERATOR_BYTES_PER_VOXEL * block if generate else 0
    memory = BASE_BYTES + SAFETY * max(generator, running)
    snaps = snapshot_count(cfg, schedule)
    rows = 1 + math.ceil(schedule.duration_s / cfg["output"]["timeseries_interval_s"])
    output = (RESULT_OVERHEAD_BYTES + rows * TIMESERIES_BYTES_PER_ROW
              + snaps * (SNAPSHOT_BYTES_PER_VOXEL * voxels + 8 * n * n
                         + SNAPSHOT_OVERHEAD_BYTES))
    return Estimate(grid_n=n, voxels=voxels, ranks=int(ranks), block_voxels=block,
                    memory_per_rank_bytes=int(memory), snapshots=snaps, timeseries_rows=rows,
                    output_bytes=int(output))


def available_memory_bytes() -> int | None:
    """Memory this process may still use, bytes: ``MemAvailable`` of ``/proc/meminfo``,
    lowered to the room left under a cgroup v2 limit (``memory.max``) when there is one;
    None where neither can be read (then nothing is refused)."""
    avail = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        avail = None
    try:
        cg = Path("/sys/fs/cgroup")
        limit = (cg / "memory.max").read_text().strip()
        if limit != "max":
            room = int(limit) - int((cg / "memory.current").read_text().strip())
            avail = room if avail is None else min(avail, room)
    except (OSError, ValueError):
        pass
    return avail


def memory_error(cfg: dict, est: Estimate, ranks_on_node: int,
                 available_bytes: int | None) -> ConfigError | None:
    """The refusal of a run whose ``ranks_on_node`` ranks would need more than
    ``available_bytes``, or None when it fits (or nothing is known)."""
    need = est.memory_per_rank_bytes * max(1, int(ranks_on_node))
    if available_bytes is None or need <= available_bytes:
        return None
    ranks = (f" x {ranks_on_node} ranks on this node = {_size(need)}"
             if ranks_on_node > 1 else "")
    return ConfigError(
        "particle.radius_um", cfg["particle"]["radius_um"],
        f"with particle.voxel_nm = {cfg['particle']['voxel_nm']:g} the grid is "
        f"{est.grid_n}^3 ({est.voxels:.3g} voxels) and needs about "
        f"{_size(est.memory_per_rank_bytes)} per rank{ranks}, but only "
        f"{_size(available_bytes)} of memory is available: allowed is a particle whose "
        "estimate fits (smaller particle.radius_um, larger particle.voxel_nm"
        + (", fewer ranks per node)" if ranks_on_node > 1 else ")"))


def check_memory(cfg: dict, est: Estimate, ranks_on_node: int = 1,
                 available_bytes: int | None = None) -> None:
    """Raise :class:`ConfigError` (naming ``particle.radius_um`` and
    ``particle.voxel_nm``) when ``ranks_on_node`` ranks of the estimate ``est`` do not fit
    into ``available_bytes`` (default: :func:`available_memory_bytes`)."""
    if available_bytes is None:
        available_bytes = available_memory_bytes()
    error = memory_error(cfg, est, ranks_on_node, available_bytes)
    if error is not None:
        raise error


def check_memory_collective(cfg: dict, comm=None, *, generate: bool = True) -> Estimate:
    """:func:`check_memory` for a run on ``comm`` (None: one process): every rank counts
    the ranks of its node and reads its node's free memory; the worst verdict is shared
    (``allgather``) before anyone raises, so every rank raises the same error and none is
    left waiting in a collective. Returns the estimate."""
    size = comm.Get_size() if comm is not None else 1
    est = estimate(cfg, size, generate=generate)
    if comm is None or size == 1:
        check_memory(cfg, est, 1)
        return est
    from mpi4py import MPI  # optional: only under MPI

    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    on_node = node.Get_size()
    node.Free()
    avail = available_memory_bytes()
    verdicts = comm.allgather((on_node, avail))  # the same list, in order, on every rank
    errors = [memory_error(cfg, est, n, a) for n, a in verdicts]
    error = next((e for e in errors if e is not None), None)
    if error is not None:
        raise error
    return est


def check_sweep_size(n_points: int, replicas: int) -> None:
    """Raise :class:`ConfigError` naming ``sweep.replicas`` when a sweep of ``n_points``
    points x ``replicas`` replicas has more than :data:`MAX_SWEEP_RUNS` runs."""
    runs = n_points * replicas
    if runs > MAX_SWEEP_RUNS:
        raise ConfigError("sweep.replicas", replicas,
                          f"allowed: at most {MAX_SWEEP_RUNS} runs in one sweep (points x "
                          f"replicas); this sweep has {n_points} point(s) x {replicas} = "
                          f"{runs} runs: split it into several sweep files")
