"""A synthetic particle with many nanopores, and the benchmark of :func:`pore_statistics`:
``python -m mcsim.pores [--size 256] [--nanopores 12000]``."""

from __future__ import annotations

import math

import numpy as np

from mcsim import phases as ph
from mcsim.generator import generate_agglomerate
from mcsim.pores.geometry import _TM_LUT
from mcsim.pores.summary import SCALARS, pore_statistics


def synthetic_particle(size=64, nanopores=500, seed=5):
    """A generated particle (:func:`mcsim.generator.generate_agglomerate`, 10 nm voxels) on a
    ``size``^3 grid with ``nanopores`` small balls (radius 0.6-2.2 voxels) carved into grains.

    A ball removes only the voxels of the grain at its centre and they keep that grain's
    id, as ripening does; balls that reach an intergranular pore merge with it. Random
    numbers: Philox keyed (seed, 101). For benchmarks and tests.

    Returns
    -------
    Microstructure
    """
    voxel_nm, margin_nm = 10.0, 80.0
    radius_um = (size * voxel_nm - 2 * margin_nm) / 2000.0
    micro = generate_agglomerate(radius_um=radius_um, voxel_nm=voxel_nm, margin_nm=margin_nm,
                                 li_to_tm=0.1, placement="shell", seed=seed)
    phase, grain = micro.phase, micro.grain
    rng = np.random.Generator(np.random.Philox(key=np.array([seed, 101], dtype=np.uint64)))
    cand = np.flatnonzero(_TM_LUT[phase] & (grain > 0))
    centres = np.unravel_index(rng.choice(cand, size=min(nanopores, cand.size), replace=False),
                               phase.shape)
    radii = rng.uniform(0.6, 2.2, size=centres[0].size)
    for cz, cy, cx, r in zip(*centres, radii):
        h = int(r)
        sl = tuple(slice(max(c - h, 0), c + h + 1) for c in (cz, cy, cx))
        zz, yy, xx = np.ogrid[sl]
        ball = (zz - cz) ** 2 + (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        g0 = grain[cz, cy, cx]
        cut = ball & (grain[sl] == g0) & _TM_LUT[phase[sl]]
        phase[sl][cut] = ph.PORE
    return micro


def _main(argv=None):
    import argparse
    import time
    import tracemalloc

    ap = argparse.ArgumentParser(prog="python -m mcsim.pores",
                                 description="time pore_statistics on a synthetic particle")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--nanopores", type=int, default=12000)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    m = synthetic_particle(args.size, args.nanopores, args.seed)
    t1 = time.perf_counter()
    c1 = time.process_time()
    s = pore_statistics(m.phase, m.grain, m.center_vox, m.radius_vox, m.voxel_nm)
    c2 = time.process_time()
    t2 = time.perf_counter()
    tracemalloc.start()  # a second, traced run for the peak of numpy/scipy allocations
    pore_statistics(m.phase, m.grain, m.center_vox, m.radius_vox, m.voxel_nm)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    box = np.prod([min(n, math.ceil(c + m.radius_vox) + 2)
                   - max(0, math.floor(c - m.radius_vox) - 1)
                   for c, n in zip(m.center_vox, m.phase.shape)])
    print(f"grid {m.phase.shape}, R = {m.radius_vox:.1f} vox; particle built in {t1 - t0:.1f} s")
    print(f"pore_statistics: {t2 - t1:.2f} s wall, {c2 - c1:.2f} s CPU; peak traced "
          f"allocations {peak / 2**20:.0f} MiB ({peak / box:.1f} B per box voxel, "
          f"{peak / m.phase.size:.1f} B per grid voxel)")
    for k in ("pore_count", *SCALARS):
        print(f"  {k:32s} {s[k]:.6g}")
