"""The plain-NumPy reference step (mcsim.reference) against the Numba kernels it mirrors."""

import numpy as np
import pytest

from mcsim import phases as ph
from mcsim import reference, rng
from mcsim.processes import slots as S
from mcsim.processes.reactions import reaction_kernel
from mcsim.state import State, full_amount_table
from tests.support import busy_state

U64_MAX = 2**64 - 1
FIELDS = ("phase", "grain", "amount", "li", "disorder")


def _numba_block(counter, key):
    return tuple(int(w) for w in rng.philox4x64(*(np.uint64(c) for c in counter),
                                                *(np.uint64(k) for k in key)))


def test_philox_numpy_equals_numba_on_random_and_carrying_words():
    gen = np.random.default_rng(2024)
    n = 300
    words = [gen.integers(0, U64_MAX, n, dtype=np.uint64, endpoint=True) for _ in range(6)]
    # Words that make every addition and partial product carry: all ones, top bit only, and
    # keys whose Weyl increments wrap past 2**64 in the first rounds.
    specials = [U64_MAX, 2**63, 2**64 - 2**32, 2**32 - 1, 0]
    for i, v in enumerate(specials):
        for w in words:
            w[i] = v
    words[4][10] = U64_MAX - 0x9E3779B97F4A7C15 + 1
    words[5][10] = U64_MAX - 0xBB67AE8584CAA73B + 1
    out = reference.philox4x64_numpy(*words)
    assert all(o.dtype == np.uint64 and o.shape == (n,) for o in out)
    for i in range(n):
        got = tuple(int(o[i]) for o in out)
        assert got == _numba_block([int(w[i]) for w in words[:4]], [int(w[i]) for w in words[4:]])


def test_philox_numpy_broadcasts_scalars():
    idx = np.arange(2**40, 2**40 + 17, dtype=np.uint64)
    out = reference.philox4x64_numpy(idx, 9, 0, 0, U64_MAX, 3)
    for i, c in enumerate(idx):
        assert tuple(int(o[i]) for o in out) == _numba_block((int(c), 9, 0, 0), (U64_MAX, 3))


@pytest.mark.parametrize("block", [7, 1 << 18])
def test_uniform4_numpy_equals_rng_uniform4(block):
    gen = np.random.default_rng(5)
    idx = gen.integers(0, 2**45, size=(4, 25))
    idx[0, 0] = 0
    u = reference.uniform4_numpy(123, rng.STREAM_REACTION, idx, 41, block=block)
    assert all(x.shape == idx.shape and x.dtype == np.float64 for x in u)
    for pos in np.ndindex(idx.shape):
        assert tuple(x[pos] for x in u) == rng.uniform4(123, rng.STREAM_REACTION, idx[pos], 41)


def test_expm1_thresholds_match_the_kernel_at_ties():
    """Decisions of the NumPy reference equal the kernel's for lanes at and next to every
    threshold floor(p 2^16), where an ulp of expm1 or the fine part could tip them."""
    from mcsim.processes.reactions import LANES, below, neg_expm1

    gen = np.random.default_rng(3)
    k = np.concatenate([gen.random(5000) * 3, gen.random(5000) * 0.01])  # both branches
    exact = np.array([neg_expm1(v) for v in k])
    gidx = gen.integers(0, 2**40, size=k.size)
    mask = np.ones(k.size, bool)
    for shift in (-1, 0, 1):
        c = np.clip(np.floor(exact * LANES).astype(np.int64) + shift, 0, 65535)
        p = reference._neg_expm1_for_compare(k, c, mask)
        got = reference._below_numpy(c, p, mask, 11, gidx, 5, 2)
        want = [below(int(ci), float(e), 11, int(g), 5, 2) for ci, e, g in zip(c, exact, gidx)]
        np.testing.assert_array_equal(got, want)


def test_lane_decisions_have_the_right_probability():
    """u = (c + f) / 2^16 is uniform: the share of u < p over many voxels is p, also for p
    below one lane (2^-16), where every decision goes through the fine part."""
    from mcsim.processes.reactions import LANES

    n = 400_000
    gidx = np.arange(n, dtype=np.int64)
    c = reference._lanes_numpy(9, gidx, 3, 0)
    assert c.min() >= 0 and c.max() < LANES
    mask = np.ones(n, bool)
    for p in (0.3, 0.01, 3.0 / LANES):
        rate = reference._below_numpy(c, np.full(n, p), mask, 9, gidx, 3, 2).mean()
        assert abs(rate - p) < 5 * np.sqrt(p * (1 - p) / n), (p, rate)
    # below one lane: only voxels with c == 0 can pass, then with probability p 2^16
    p = 0.25 / LANES
    hits = reference._below_numpy(c, np.full(n, p), mask, 9, gidx, 3, 2)
    assert np.all(c[hits] == 0)
    zero = np.count_nonzero(c == 0)
    assert abs(hits.sum() - 0.25 * zero) < 5 * np.sqrt(0.25 * 0.75 * zero) + 1


@pytest.fixture(scope="module")
def micro():
    from mcsim.generator import generate_agglomerate

    return generate_agglomerate(radius_um=0.25, voxel_nm=10, grain_length_nm=100,
                                grain_width_nm=60, grain_thickness_nm=30,
                                source_diameter_nm=80, seed=11)


def _busy_coef():
    coef = np.zeros(S.N_COEF)
    coef[S.C_P_REL_LIOH] = 0.3
    coef[S.C_P_REL_LI2O] = 0.45
    coef[S.C_P_REL_CO3] = 0.2
    coef[S.C_P_LIOH_DECOMP] = 0.35
    coef[S.C_KDT_LITH] = 0.8
    coef[S.C_KDT_DEHYD] = 0.25
    coef[S.C_KDT_RS] = 0.6
    coef[S.C_DISORDER_NEW] = 37
    coef[S.C_ANNEAL] = 0.7
    return coef


def _copy(state):
    fields = {n: getattr(state, n).copy() for n in FIELDS}
    return State(**fields, global_shape=state.global_shape, offset=state.offset,
                 voxel_nm=state.voxel_nm, step=state.step)


def _assert_fields_equal(a, b, names=FIELDS):
    for name in names:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y, err_msg=name)


@pytest.mark.parametrize("offset, shape", [((0, 0, 0), None), ((5, 9, 13), (40, 33, 29))])
def test_reaction_step_numpy_is_bit_identical_to_numba_kernel(micro, offset, shape):
    base = busy_state(micro, offset, shape)
    coef = _busy_coef()
    full = full_amount_table()
    for step in (0, 3):
        a, b = _copy(base), _copy(base)
        tal_nb, cnt_nb = reaction_kernel(a.phase, a.grain, a.amount, a.li, a.disorder, coef,
                                         full, 99, step, *a.offset, *a.global_shape[1:],
                                         a.dirty_flags())
        tal_np, cnt_np = reference.reaction_step_numpy(b.phase, b.grain, b.amount, b.li,
                                                       b.disorder, coef, full, 99, step,
                                                       b.offset, b.global_shape)
        _assert_fields_equal(a, b)
        np.testing.assert_array_equal(tal_np, tal_nb)
        np.testing.assert_array_equal(cnt_np, cnt_nb)
        # Every branch fired: all tallies and counts are non-zero, and every kind of change
        # (annealing, both hydroxide outcomes, rock-salt lithiation, emptied sources) happened.
        assert (tal_nb > 0).all() and (cnt_nb > 0).all(), (tal_nb, cnt_nb)
        before, after = base.interior("phase"), a.interior("phase")
        assert ((before == ph.HYDROXIDE) & (after == ph.LAYERED)).any()
        assert ((before == ph.ROCKSALT) & (after == ph.LAYERED)).any()
        src_after = (after == ph.LIOH) | (after == ph.LI2O) | (after == ph.LI2CO3)
        assert (src_after & (a.interior("amount") == 0)).any()  # used up, retired after the sweep
        lay = (before == ph.LAYERED) & (base.interior("disorder") > 0)
        assert (a.interior("disorder")[lay] < base.interior("disorder")[lay]).any()


def test_reaction_step_with_processes_off_changes_nothing_and_counts_spent_sources(micro):
    from mcsim.stepper import neutral_coefficients

    base = busy_state(micro)
    a, b = _copy(base), _copy(base)
    full = full_amount_table()
    coef = neutral_coefficients()
    out_nb = reaction_kernel(a.phase, a.grain, a.amount, a.li, a.disorder, coef, full, 1, 0,
                             0, 0, 0, *a.global_shape[1:], a.dirty_flags())
    out_np = reference.reaction_step_numpy(b.phase, b.grain, b.amount, b.li, b.disorder, coef,
                                           full, 1, 0, (0, 0, 0), b.global_shape)
    _assert_fields_equal(a, b)
    _assert_fields_equal(a, base, ("phase", "grain", "amount", "li", "disorder"))
    spent = np.isin(base.interior("phase"), ph.SOURCE_PHASES) & (base.interior("amount") == 0) \
        & (base.interior("li") < 0.5)
    assert spent.any()
    assert out_nb[1][S.K_SPENT] == np.count_nonzero(spent)
    for x, y in zip(out_np, out_nb):
        np.testing.assert_array_equal(x, y)


def _diffusion_bound(state, w_fast):
    """Per-voxel magnitude |li| + sum_k w |li_k - li| (upper bound over the face weights)."""
    li = state.li.astype(np.float64)
    c = li[1:-1, 1:-1, 1:-1]
    mag = np.abs(c).copy()
    for dz, dy, dx in reference._FACES:
        mag += w_fast * np.abs(li[reference._shifted(dz, dy, dx)] - c)
    return mag


def test_diffuse_numpy_equals_numba_kernel_to_float32_rounding(micro):
    state = busy_state(micro, seed=4)
    w_fast, w_slow = 0.16, 0.004
    out_nb = np.zeros_like(state.li)
    out_np = np.zeros_like(state.li)
    reference.diffuse_numba(state.phase, state.grain, state.li, out_nb, w_fast, w_slow)
    reference.diffuse_numpy(state.phase, state.grain, state.li, out_np, w_fast, w_slow)
    tol = reference.DIFFUSION_RTOL * _diffusion_bound(state, w_fast)
    diff = np.abs(out_np[1:-1, 1:-1, 1:-1].astype(np.float64)
                  - out_nb[1:-1, 1:-1, 1:-1].astype(np.float64))
    assert (diff <= tol).all(), diff.max()
    # The step did move lithium, and both conserve it to rounding.
    assert (out_np[1:-1, 1:-1, 1:-1] != state.interior("li")).mean() > 0.3
    total = state.interior("li").sum(dtype=np.float64)
    assert abs(out_np[1:-1, 1:-1, 1:-1].sum(dtype=np.float64) - total) < 1e-5 * total


def test_step_numpy_equals_step_numba(micro):
    base = busy_state(micro, seed=8)
    base.step = 12
    a, b = _copy(base), _copy(base)
    coef = _busy_coef()
    out_nb = reference.step_numba(a, coef, seed=4, w_fast=0.15, w_slow=0.002)
    out_np = reference.step_numpy(b, coef, seed=4, w_fast=0.15, w_slow=0.002)
    for x, y in zip(out_np, out_nb):
        np.testing.assert_array_equal(x, y)
    _assert_fields_equal(a, b, ("phase", "grain", "amount", "disorder"))
    np.testing.assert_allclose(b.li, a.li, rtol=1e-5, atol=1e-3)
    assert b.step == base.step  # the clock is the caller's
