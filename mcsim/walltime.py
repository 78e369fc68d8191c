"""An estimate of a run's wall time before it is started (``mcsim config check --time``).

The time a run takes is, to a first approximation, its number of lattice passes (every
kernel sweep over the lattice counts one: a reaction sweep, a transport stage, a sintering
MCS; the engine logs the same count at the end of a run) times the voxels of a rank's block,
divided by the voxel-updates per second one core makes:

    wall ~ passes x block voxels / (rate per core)

Both factors are measured rather than modelled:

* **passes** come from a *pilot*: the run's own configuration (schedule, parameters,
  numerics, voxel size, grains) on a small particle of radius :data:`PILOT_RADIUS_UM`, with no
  snapshots and no pore statistics. The time step is set by the schedule, by ``numerics`` and
  by rates that do not depend on the particle's size, so the pilot takes nearly the same
  steps; a larger particle keeps hydroxide supplied with lithium for longer, which holds the
  step down for longer. Measured on the default R-NCM run (0.6 um, 10 nm): 19 327 passes
  against the pilot's 15 143, so the pilot undercounts by about a fifth there
  (:data:`PILOT_UNDERCOUNT` is applied and stated).
* **rate per core** is the full reaction-diffusion step of ``mcsim bench`` on one thread,
  read from a ``mcsim bench --json`` file, or measured on the spot on a 128^3 lattice.

Not counted: halo exchanges (1-2.5 % of a step at 10^9 voxels on 512 ranks, see
docs/cluster.md), snapshots and pore statistics, the generator, and the ranks' imbalance.
The figure is for planning a job's length, not a promise.
"""

from __future__ import annotations

import copy
import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mcsim.errors import ConfigError

#: Radius of the pilot particle, um: big enough for a few grains and a lithium source at the
#: default grain sizes, small enough to run the default schedule in about 25 s.
PILOT_RADIUS_UM = 0.15
#: Passes of the default R-NCM run (0.6 um) over those of its pilot, measured: 19 327 / 15 143.
PILOT_UNDERCOUNT = 19327 / 15143
#: Lattice of the on-the-spot rate measurement.
RATE_LATTICE = 128


@dataclass(frozen=True)
class WallTime:
    """A wall-time estimate and what it was made from."""

    passes: int
    rate_per_core: float
    rate_source: str
    block_voxels: int
    ranks: int
    threads_per_rank: int

    @property
    def seconds(self) -> float:
        """Estimated wall time, s."""
        work = PILOT_UNDERCOUNT * self.passes * self.block_voxels
        return work / (self.rate_per_core * self.threads_per_rank)

    def line(self) -> str:
        """One line for ``mcsim config check``."""
        return (f"wall time about {_duration(self.seconds)} on {self.ranks} rank(s) x "
                f"{self.threads_per_rank} thread(s) ({self.passes} lattice passes in a "
                f"{PILOT_RADIUS_UM:g} um pilot of this schedule, x {PILOT_UNDERCOUNT:.2f} for a "
                f"larger particle; {self.rate_per_core:.3g} voxel-updates/s per core from "
                f"{self.rate_source}; halo exchange and output not counted)")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def pilot_config(cfg: dict) -> dict:
    """``cfg`` on the pilot particle: no snapshots, no pore statistics, no checkpoints."""
    pilot = copy.deepcopy(cfg)
    pilot["particle"]["radius_um"] = PILOT_RADIUS_UM
    length = min(pilot["particle"]["grain_length_nm"], 2000.0 * PILOT_RADIUS_UM)
    pilot["particle"]["grain_length_nm"] = length
    pilot["particle"]["grain_width_nm"] = min(pilot["particle"]["grain_width_nm"], length)
    pilot["particle"]["grain_thickness_nm"] = min(pilot["particle"]["grain_thickness_nm"],
                                                  pilot["particle"]["grain_width_nm"])
    out = pilot["output"]
    out["snapshot_temperatures_c"] = []
    out["snapshot_times_min"] = []
    out["final_snapshot"] = False
    out["pore_statistics"] = False
    for key in list(out):
        if key.startswith("checkpoint_") and isinstance(out[key], (int, float)) \
                and not isinstance(out[key], bool):
            out[key] = 0
    return pilot


def pilot_passes(cfg: dict) -> int:
    """Lattice passes of the run's schedule on the pilot particle (one process, one thread;
    runs the engine, about 25 s for the default schedule)."""
    from mcsim.engine import Simulation  # the engine compiles kernels: import only here

    pilot = pilot_config(cfg)
    pilot["numerics"]["threads"] = 1
    with tempfile.TemporaryDirectory(prefix="mcsim-pilot-") as tmp:
        sim = Simulation(pilot, log=lambda *a, **k: None)
        sim.run(Path(tmp) / "pilot.h5", progress=False)
        return int(sim.passes)


def bench_rate(path: str | None) -> tuple[float, str]:
    """Voxel-updates/s per core of the full step on one thread: from a ``mcsim bench
    --json`` file, or measured now on a 128^3 lattice."""
    if path is not None:
        try:
            data = json.loads(Path(path).read_text())
            rows = data["full_step"]["numba"]
            row = min(rows, key=lambda r: r["threads"])
            rate = float(row["per_core"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError("--bench", path, "a JSON file written by 'mcsim bench --json' "
                              f"(with its full_step figures): {exc}") from None
        if not math.isfinite(rate) or rate <= 0:
            raise ConfigError("--bench", path, "a positive full-step rate per core")
        return rate, f"{path} (lattice {data.get('lattice', '?')}^3)"
    from mcsim.bench import bench_full_step

    row = bench_full_step(RATE_LATTICE, [1], 2)["numba"][0]
    return float(row["per_core"]), f"mcsim bench's full step, measured now on {RATE_LATTICE}^3"


def estimate_wall_time(cfg: dict, block_voxels: int, ranks: int, bench: str | None = None,
                       threads_per_rank: int = 1) -> WallTime:
    """The estimate for a validated ``cfg`` whose busiest rank holds ``block_voxels``."""
    rate, source = bench_rate(bench)
    return WallTime(passes=pilot_passes(cfg), rate_per_core=rate, rate_source=source,
                    block_voxels=int(block_voxels), ranks=int(ranks),
                    threads_per_rank=max(1, int(threads_per_rank)))
