"""The sink mode of ripening (``nanopore_site_spacing_nm`` > 0, mcsim.processes.restructure):
the free volume of rock salt hops between inner voxels (they swap their fills) and empties
only at a sink: a retreating site of the grain's outline, a nanopore's wall, or a nucleation
site, one per spacing^3 of volume on any lattice. At 0 the rule is the one before (the other
ripening tests)."""

from __future__ import annotations

import numba
import numpy as np
from scipy import ndimage

from mcsim import phases as ph
from mcsim.processes.restructure import (_is_site, _site_draw, nucleation_site_share,
                                         restructure_kernel)
from mcsim.state import State, full_amount_table
from tests.support import layered_block

FULL = full_amount_table()
SEED = 1
HALF = 1000  # a dehydrated voxel: 48 % of a rock-salt voxel


def index(v, shape):
    """Global index of interior voxel ``v`` on a lone domain of interior ``shape``."""
    return (v[0] * shape[1] + v[1]) * shape[2] + v[2]


@numba.njit
def _draws(n, q):
    sites = np.zeros(n, dtype=np.bool_)
    outline = np.zeros(n, dtype=np.float64)
    for i in range(n):
        sites[i] = _is_site(SEED, i, q)
        outline[i] = _site_draw(SEED, i)
    return sites, outline


def ripen(phase, grain, amount, q_site, steps, p_gap=1.0):
    st = State.from_arrays(phase, grain, amount)
    for k in range(steps):
        restructure_kernel(st.phase, st.grain, st.amount, st.li, st.disorder, 1.0, 0.0, FULL,
                           SEED, k, *st.offset, *st.global_shape[1:], st.dirty_flags(), 1.0,
                           p_gap, 0.0, 1.0, q_site)
    return st


def test_sites_have_one_density_per_volume_on_every_lattice():
    assert nucleation_site_share(0.0, 10.0) == 0.0
    assert nucleation_site_share(30.0, 10.0) == (10.0 / 30.0) ** 3
    assert nucleation_site_share(30.0, 5.0) / 5.0 ** 3 == nucleation_site_share(30.0, 10.0) / 10.0 ** 3
    assert nucleation_site_share(5.0, 10.0) == 1.0  # spacing below the voxel: every voxel


def test_sites_are_drawn_at_their_share_and_apart_from_the_outline_draw():
    n, q = 200_000, 0.04
    sites, outline = _draws(n, q)
    sd = (q * (1.0 - q) / n) ** 0.5
    assert abs(sites.mean() - q) < 5.0 * sd
    # the outline's draw does not tell the sites: the same share below and above its median
    low = outline < 0.5
    assert abs(sites[low].mean() - sites[~low].mean()) < 10.0 * sd


def _wrapped_rock_salt(n=12, core=None):
    """An n^3 block of one grain: full layered oxide around an inner cube of half-full rock
    salt (``core`` sets its amounts), so the rock salt has no outline: only sites and walls
    can take its free volume."""
    phase, grain, amount = layered_block(n)
    inner = (slice(2, n - 2),) * 3
    phase[inner] = ph.ROCKSALT
    amount[inner] = HALF if core is None else core
    return phase, grain, amount


def test_without_sites_the_free_volume_only_hops_and_nothing_empties():
    r = np.random.default_rng(4)
    n = 12
    core = r.integers(600, 2000, (n - 4,) * 3).astype(np.uint16)
    phase, grain, amount = _wrapped_rock_salt(n, core)
    st = ripen(phase, grain, amount, 1e-12, steps=4)
    m = st.interior("amount")
    assert not np.any(st.interior("phase") == ph.PORE)
    # fills were swapped, none created or lost: the same multiset of amounts
    assert np.array_equal(np.sort(m, axis=None), np.sort(amount, axis=None))
    assert not np.array_equal(m, amount)


def test_nanopores_grow_only_from_sites_and_fewer_than_without_them():
    n = 16
    phase, grain, amount = _wrapped_rock_salt(n)
    shape = phase.shape
    q = 0.01
    st = ripen(phase.copy(), grain.copy(), amount.copy(), q, steps=3)
    p, g, m = st.interior("phase"), st.interior("grain"), st.interior("amount")
    assert int(m.astype(np.int64).sum()) == int(amount.astype(np.int64).sum())
    nano = (p == ph.PORE) & (g == 1)
    assert np.array_equal(p == ph.PORE, nano)  # inside one grain: every pore a nanopore
    labels, count = ndimage.label(nano)
    assert count > 1
    site = np.zeros(shape, dtype=bool)
    for v in zip(*np.nonzero(phase == ph.ROCKSALT)):
        site[v] = _is_site(SEED, index(v, shape), q)
    # every nanopore holds a nucleation site, and sites are few
    assert set(np.unique(labels[site & nano])) - {0} == set(range(1, count + 1))
    assert count <= site.sum() < 0.03 * (phase == ph.ROCKSALT).sum()
    # the pores grew beyond their site: the free volume came to them
    assert nano.sum() > 2 * count
    # the rule before: a pore wherever a pair ripens, most of them with no site
    st0 = ripen(phase.copy(), grain.copy(), amount.copy(), 0.0, steps=3)
    nano0 = (st0.interior("phase") == ph.PORE)
    labels0, count0 = ndimage.label(nano0)
    assert count0 > 5 * count
    with_site = set(np.unique(labels0[site & nano0])) - {0}
    assert len(with_site) < count0 / 2


def test_sink_mode_same_bits_on_one_and_two_threads():
    results = []
    for threads in (1, 2):
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        phase, grain, amount = _wrapped_rock_salt(14)
        phase[0:3, 5:9, 5:9], grain[0:3, 5:9, 5:9], amount[0:3, 5:9, 5:9] = ph.PORE, -1, 0
        st = ripen(phase, grain, amount, 0.05, 6, p_gap=0.3)
        results.append([st.interior(f).copy() for f in ("phase", "grain", "amount")])
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    for a, b in zip(*results):
        assert np.array_equal(a, b)
