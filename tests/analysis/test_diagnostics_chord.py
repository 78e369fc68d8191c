"""The radial and porosity diagnostics visit only each row's chord through the particle
(:func:`mcsim.diagnostics._chord`): the sums must be those of testing every voxel of the
block, including voxels exactly on the sphere (integer centre and radius) and blocks at an
offset from the particle."""

import numpy as np
import pytest

from mcsim import diagnostics as dg
from mcsim import phases as ph


def _every_voxel(phase, grain, amount, disorder, offset, centre, radius, nbins):
    """Shells (voxels, layered disorder x amount, amount per phase) and porosity sums of
    :func:`dg.radial_kernel` and :func:`dg.porosity_kernel`, voxel by voxel."""
    inner = (slice(1, -1),) * 3
    p, g, a, d = (arr[inner].astype(np.int64) for arr in (phase, grain, amount, disorder))
    zz, yy, xx = (np.indices(p.shape)[k] + offset[k] - centre[k] for k in range(3))
    r = np.sqrt(zz * zz + yy * yy + xx * xx) * (1.0 / radius)
    inside = r < 1.0
    b = np.minimum((r * nbins).astype(np.int64), nbins - 1)
    shells = np.zeros((nbins, 2 + ph.N_PHASES), dtype=np.int64)
    np.add.at(shells[:, 0], b[inside], 1)
    lay = inside & (p == ph.LAYERED)
    np.add.at(shells[:, 1], b[lay], (d * a)[lay])
    for code in range(ph.N_PHASES):
        sel = inside & (p == code)
        np.add.at(shells[:, 2 + code], b[sel], a[sel])
    within = (yy * yy + xx * xx) + zz * zz <= radius * radius
    counted = within & ~((g == 0) & (p < ph.HYDROXIDE))
    spent = (a == 0) & np.isin(p, ph.SOURCE_PHASES)
    por = [counted.sum(), (counted & ((p == ph.PORE) | spent)).sum()]
    por += [a[counted & (p == code)].sum() for code in range(ph.N_PHASES)]
    return shells, np.array(por, dtype=np.int64)


@pytest.mark.parametrize("seed", range(12))
def test_chord_bounded_sums_equal_every_voxel_tested(seed):
    gen = np.random.default_rng(seed)
    shape = tuple(int(n) for n in gen.integers(12, 30, 3))
    padded = tuple(n + 2 for n in shape)
    phase = gen.integers(0, ph.N_PHASES, padded).astype(np.uint8)
    grain = gen.integers(-1, 4, padded).astype(np.int32)
    amount = gen.integers(0, 900, padded).astype(np.int32)
    disorder = gen.integers(0, 200, padded).astype(np.uint8)
    offset = tuple(int(v) for v in gen.integers(0, 15, 3))
    if seed % 4 == 0:  # the sphere inside the block, voxels exactly on it
        centre = tuple(float(o + n // 2) for o, n in zip(offset, shape))
        radius = float(min(shape) // 2 - 1)
    elif seed % 4 == 1:  # inside the block, off the lattice points
        centre = tuple(o + n / 2 + gen.random() - 0.5 for o, n in zip(offset, shape))
        radius = min(shape) / 2 - 1.5 + gen.random()
    elif seed % 4 == 2:  # the block cut from a larger sphere, voxels exactly on it
        centre = tuple(float(v) for v in gen.integers(0, 35, 3))
        radius = float(gen.integers(3, 22))
    else:
        centre = tuple(float(v) for v in gen.random(3) * 35)
        radius = float(gen.random() * 22 + 0.7)
    nbins = 10
    shells, _ = dg.radial_kernel(phase, amount, disorder, *offset, *centre, radius, nbins,
                                 0.25 * radius)
    sums = dg.porosity_kernel(phase, grain, amount, *offset, *centre, radius)
    want_shells, want_sums = _every_voxel(phase, grain, amount, disorder, offset, centre,
                                          radius, nbins)
    np.testing.assert_array_equal(shells, want_shells)
    np.testing.assert_array_equal(sums, want_sums)
