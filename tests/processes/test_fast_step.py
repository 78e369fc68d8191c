"""The faster reaction-diffusion step gives the same bits as the kernels of 2026-12-04.

New: the reaction sweep draws Philox inline, lithiation and rock-salt lithiation decide "no
event" from the lane alone when it lies above every probability of the step, the face classes
are refreshed around the changed voxels inside the transport stage (flag by flag), and the
stage is vectorised. Old: ``legacy=True`` (``reaction_kernel``, ``step_numba``, ``Stepper``),
which keeps the kernels and rules of 2026-12-04.
"""

import numba
import numpy as np
import pytest

from mcsim import config
from mcsim import phases as ph
from mcsim import rng
from mcsim.generator import generate_agglomerate
from mcsim.processes import slots as S
from mcsim.processes import transport as tr
from mcsim.processes import reactions as rx
from mcsim.processes.reactions import _philox, reaction_kernel
from mcsim.reference import step_numba
from mcsim.state import FIELD_NAMES, State, full_amount_table
from mcsim.stepper import Stepper
from tests.support import THREADS, busy_state



@pytest.fixture
def threads(request):
    """Run the test with ``request.param`` Numba threads, then restore the count."""
    before = numba.get_num_threads()
    numba.set_num_threads(request.param)
    yield request.param
    numba.set_num_threads(before)


@pytest.fixture(scope="module")
def micro():
    return generate_agglomerate(radius_um=0.25, voxel_nm=10, grain_length_nm=100,
                                grain_width_nm=60, grain_thickness_nm=30,
                                source_diameter_nm=80, seed=13)


def _coef(scale):
    """Busy coefficients; ``scale`` 1 gives probabilities from 1e-2 to 0.5 (lanes near and
    above every early-out bound), 8 pushes the lithiation bound past 1 (no early-out)."""
    coef = np.zeros(S.N_COEF)
    coef[[S.C_P_REL_LIOH, S.C_P_REL_LI2O, S.C_P_REL_CO3, S.C_P_LIOH_DECOMP]] = \
        (0.3, 0.45, 0.2, 0.35)
    coef[[S.C_KDT_LITH, S.C_KDT_DEHYD, S.C_KDT_RS]] = np.array([0.08, 0.01, 0.06]) * scale
    coef[S.C_DISORDER_NEW] = 37
    coef[S.C_ANNEAL] = 0.7
    return coef


def _copy(state):
    out = State(**{n: getattr(state, n).copy() for n in FIELD_NAMES},
                global_shape=state.global_shape, offset=state.offset, voxel_nm=state.voxel_nm,
                step=state.step)
    out.codes = None if state.codes is None else state.codes.copy()
    out.dirty = None if state.dirty is None else state.dirty.copy()
    out.codes_ready = state.codes_ready
    return out


def _assert_same(a, b, what):
    for name in FIELD_NAMES:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x.view(np.uint8), y.view(np.uint8),
                                      err_msg=f"{name} ({what})")
    np.testing.assert_array_equal(a.face_codes(), b.face_codes(), err_msg=f"codes ({what})")
    np.testing.assert_array_equal(a.dirty_flags(), b.dirty_flags(), err_msg=f"dirty ({what})")


@numba.njit
def _philox_both(c, k):
    out = np.empty((c.shape[0], 2, 4), dtype=np.uint64)
    for i in range(c.shape[0]):
        out[i, 0, :] = np.array(rng.philox4x64(c[i, 0], c[i, 1], c[i, 2], c[i, 3], k[i, 0],
                                               k[i, 1]))
        out[i, 1, :] = np.array(_philox(c[i, 0], c[i, 1], c[i, 2], c[i, 3], k[i, 0], k[i, 1]))
    return out


def test_inline_philox_is_rng_philox():
    gen = np.random.default_rng(1)
    c = gen.integers(0, 2**64 - 1, size=(500, 4), dtype=np.uint64, endpoint=True)
    k = gen.integers(0, 2**64 - 1, size=(500, 2), dtype=np.uint64, endpoint=True)
    c[0] = 2**64 - 1
    k[1] = 2**64 - 1
    out = _philox_both(c, k)
    np.testing.assert_array_equal(out[:, 0], out[:, 1])


@pytest.mark.parametrize("threads", THREADS, indirect=True)
@pytest.mark.parametrize("mu, nu, w_fast, w_slow", [(1.0, 0.0, 0.16, 0.004),
                                                    (1.5, -0.5, 0.1, 0.001),
                                                    (1.9, -0.9, 0.05, 0.05)])
def test_stage_kernel_is_the_reference_bit_for_bit(threads, mu, nu, w_fast, w_slow):
    """Random face classes (every face class, closed voxels and closed runs, rows all
    closed) and lithium with zeros, negative values and wide magnitudes."""
    gen = np.random.default_rng(7)
    shape = (23, 19, 45)
    faces = gen.integers(0, 3, size=shape + (6,))
    code = np.zeros(shape, dtype=np.uint16)
    for k in range(6):
        code |= (faces[..., k] << (2 * k)).astype(np.uint16)
    code[gen.random(shape) < 0.3] = 0
    code[:, :, :9] = 0  # closed ends of rows
    code[:, 4, :] = 0  # whole rows closed
    codes = np.zeros((25, 21, 47), dtype=np.uint16)
    codes[1:-1, 1:-1, 1:-1] = code
    a = (gen.standard_normal((25, 21, 47)) * 10.0 ** gen.integers(-3, 4, (25, 21, 47)))
    a[gen.random(a.shape) < 0.1] = 0.0
    a = a.astype(np.float32)
    b = (a + gen.standard_normal(a.shape).astype(np.float32)).astype(np.float32)
    new = np.full_like(a, 7.0)
    old = np.full_like(a, 7.0)
    tr.rkl_stage_kernel(codes, a, b, new, mu, nu, w_fast, w_slow)
    tr.rkl_stage_kernel_reference(codes, a, b, old, mu, nu, w_fast, w_slow)
    np.testing.assert_array_equal(new.view(np.uint32), old.view(np.uint32))
    assert (new[1:-1, 1:-1, 1:-1] != a[1:-1, 1:-1, 1:-1]).mean() > 0.3  # it did move lithium


@pytest.mark.parametrize("threads", THREADS, indirect=True)
def test_refresh_in_the_stage_equals_a_full_recount(micro, threads):
    """Phases and grains changed at random (with their flags, some in the halo) and the
    classes refreshed inside the stage: the full recount's classes, the reference's stage."""
    state = busy_state(micro, seed=2)
    tr.prepare_face_codes(state)
    gen = np.random.default_rng(3)
    P, G = state.interior("phase"), state.interior("grain")
    flip = gen.random(P.shape) < 0.01
    P[flip] = gen.integers(0, ph.N_PHASES, P.shape)[flip].astype(np.uint8)
    regrain = gen.random(P.shape) < 0.005
    G[regrain] = gen.integers(-1, 40, P.shape)[regrain]
    dirty = state.dirty_flags()
    dirty[1:-1, 1:-1, 1:-1][flip | regrain] = 1
    dirty[0, 3:9, 5] = 1  # flags in the halo, as a neighbouring block would send them
    legacy = _copy(state)
    out_new = np.zeros_like(state.li)
    out_old = np.zeros_like(state.li)
    codes = tr.stage_with_fresh_codes(state, state.li, state.li, out_new, 1.0, 0.0, 0.1, 0.01)
    fresh = np.zeros_like(codes)
    tr.face_codes_kernel(state.phase, state.grain, tr.MOBILITY, fresh)
    np.testing.assert_array_equal(codes[1:-1, 1:-1, 1:-1], fresh[1:-1, 1:-1, 1:-1])
    assert not state.dirty_flags().any()
    old_codes = tr.prepare_face_codes(legacy)
    np.testing.assert_array_equal(codes, old_codes)
    tr.rkl_stage_kernel_reference(old_codes, legacy.li, legacy.li, out_old, 1.0, 0.0, 0.1, 0.01)
    np.testing.assert_array_equal(out_new.view(np.uint32), out_old.view(np.uint32))


@numba.njit
def _lanes_both(w, j):
    out = np.empty((j.shape[0], 2), dtype=np.int64)
    for i in range(j.shape[0]):
        out[i, 0] = rng.lane16(w[i, 0], w[i, 1], w[i, 2], w[i, 3], j[i])
        out[i, 1] = rx._lane_2026_12_04(w[i, 0], w[i, 1], w[i, 2], w[i, 3], j[i])
    return out


def test_lane_selection_by_two_moves_is_the_four_way_choice():
    """rng.lane16 picks the word by two two-way selections (no jump table); the lane is the
    one the four-way choice of 2026-12-04 gives, for every position in the block."""
    gen = np.random.default_rng(2)
    w = gen.integers(0, 2**64 - 1, size=(4096, 4), dtype=np.uint64, endpoint=True)
    j = np.arange(4096, dtype=np.int64) * 7 + 3  # every j & 15, in changing order
    out = _lanes_both(w, j)
    np.testing.assert_array_equal(out[:, 0], out[:, 1])
    k = (j >> 2) & 3
    word = w[np.arange(j.shape[0]), k]
    expect = (word >> (16 * (j & 3)).astype(np.uint64)) & np.uint64(0xFFFF)
    np.testing.assert_array_equal(out[:, 0], expect.astype(np.int64))


@numba.njit
def _round_both(x, c, g):
    out = np.empty((x.shape[0], 2), dtype=np.int64)
    for i in range(x.shape[0]):
        out[i, 0] = rx._round_below(x[i], c[i], 5, g[i], 3, 3)
        out[i, 1] = rx._round_below_2026_12_04(x[i], c[i], 5, g[i], 3, 3)
    return out


def test_branch_free_rounding_is_the_branching_rounding():
    """The stochastic rounding adds the coarse comparison instead of branching on it; the
    count is the same, ties (coarse lane equal to floor(frac 2^16), decided by the fine part)
    included."""
    gen = np.random.default_rng(3)
    n = 20000
    x = gen.random(n) * 40.0
    c = gen.integers(0, 65536, size=n).astype(np.int64)
    tie = np.arange(n) % 3 == 0  # a third of the draws are ties
    c[tie] = np.floor((x[tie] - np.floor(x[tie])) * 65536.0).astype(np.int64)
    g = np.arange(n, dtype=np.int64) * 11
    out = _round_both(x, c, g)
    np.testing.assert_array_equal(out[:, 0], out[:, 1])
    ups = out[tie, 0] - np.floor(x[tie]).astype(np.int64)
    assert 0 < ups.sum() < tie.sum()  # the fine part decides both ways


def test_generated_sweep_lists_the_rows_voxels_with_a_rule_first():
    """The new sweep runs the rules over a list of the row's non-pore voxels; the kernel of
    2026-12-04 keeps its test per voxel. (Their results are compared bit for bit below.)"""
    from mcsim.processes import registry
    rules, lay = registry.local_rules(), registry.layout()
    new, old = rx.kernel_source(rules, lay), rx.kernel_source(rules, lay, legacy=True)
    assert "todo[n] = x" in new and "for i in range(n):" in new
    assert "todo" not in old and "continue" in old


@pytest.mark.parametrize("threads", THREADS, indirect=True)
@pytest.mark.parametrize("scale", [1.0, 8.0])
def test_reaction_sweep_is_the_legacy_sweep(micro, threads, scale):
    """The new sweep (inline Philox, early "no event" from the lane) against the sweep and
    rules of 2026-12-04: every field, flag, tally and count, on several steps."""
    base = busy_state(micro, seed=4)
    full = full_amount_table()
    coef = _coef(scale)
    for step in (0, 1, 7):
        a, b = _copy(base), _copy(base)
        out = [reaction_kernel(s.phase, s.grain, s.amount, s.li, s.disorder, coef, full, 5, step,
                               *s.offset, *s.global_shape[1:], s.dirty_flags(), legacy=legacy)
               for s, legacy in ((a, False), (b, True))]
        _assert_same(a, b, f"step {step}")
        for x, y in zip(*out):
            np.testing.assert_array_equal(x, y)
        assert (out[0][0] > 0).all(), out[0][0]  # every event happened
        for name in ("phase", "li"):
            assert (getattr(a, name) != getattr(base, name)).any()


@pytest.mark.parametrize("threads", THREADS, indirect=True)
def test_full_step_is_the_legacy_step_over_several_steps(micro, threads):
    """``step_numba``: reactions, retirement, the refresh fused into the transport stage and
    the swap, step after step, against the step of 2026-12-04, from the same state."""
    new, old = busy_state(micro, seed=6), busy_state(micro, seed=6)
    coef = _coef(1.0)
    retired = 0
    for step in range(6):
        new.step = old.step = step
        before = new.interior("phase").copy()
        out_new = step_numba(new, coef, seed=3, w_fast=0.12, w_slow=0.003)
        out_old = step_numba(old, coef, seed=3, w_fast=0.12, w_slow=0.003, legacy=True)
        for x, y in zip(out_new, out_old):
            np.testing.assert_array_equal(x, y)
        _assert_same(new, old, f"step {step}")
        retired += np.count_nonzero(np.isin(before, ph.SOURCE_PHASES)
                                    & (new.interior("phase") == ph.PORE))
    assert retired > 0  # sources retired: flags set after the sweep were refreshed too


@pytest.mark.parametrize("threads", THREADS, indirect=True)
@pytest.mark.parametrize("transport", ["rkl1", "explicit", "rkl1-slow-walls"])
def test_engine_steps_equal_the_legacy_engine(threads, transport):
    """Two Steppers on the same generated particle, the new kernels and those of 2026-12-04,
    through dehydration, release, both lithiation paths and restructuring: every field
    after every step; the refreshed classes equal a full recount."""
    micro = generate_agglomerate(radius_um=0.2, voxel_nm=10, grain_length_nm=100,
                                 grain_width_nm=60, grain_thickness_nm=30,
                                 source_diameter_nm=80, seed=5)
    cfg = config.load(sets=["numerics.threads=1", "model.processes.release='contact'",
                            f"model.processes.transport='{transport}'"])
    new, old = State.from_microstructure(micro), State.from_microstructure(micro)
    steppers = (Stepper.from_config(cfg), Stepper.from_config(cfg, legacy=True))
    changed = 0
    for temp in (250.0, 290.0, 320.0, 350.0, 480.0, 520.0, 560.0):
        before = new.interior("phase").copy()
        out = [s.advance(st, 30.0, temp) for s, st in zip(steppers, (new, old))]
        assert out[0] == out[1]
        _assert_same(new, old, f"{temp} C")
        changed += np.count_nonzero(new.interior("phase") != before)
        table = tr.SLOW_WALL_MOBILITY if transport == "rkl1-slow-walls" else tr.MOBILITY
        fresh = np.zeros_like(new.face_codes())
        tr.face_codes_kernel(new.phase, new.grain, table, fresh)
        codes = [tr.prepare_face_codes(st, table)[1:-1, 1:-1, 1:-1] for st in (new, old)]
        np.testing.assert_array_equal(codes[0], fresh[1:-1, 1:-1, 1:-1])
        np.testing.assert_array_equal(codes[1], codes[0])
    assert changed > 1000


@pytest.mark.parametrize("threads", THREADS, indirect=True)
@pytest.mark.parametrize("transport", ["rkl1", "explicit"])
def test_later_stages_skip_only_what_is_already_there(micro, threads, transport):
    """The later stages of a transport step read the rows' open runs that the first stage
    recorded and leave the closed row ends alone in buffers that a stage of the same step has
    written (:class:`mcsim.processes.transport.StageEnds`). Made hard: the closed voxels hold
    lithium (pores outside the particle, each different), it changes between steps as the
    reactions may change it, the scratch buffers start with garbage and get new garbage
    between steps, and the classes change between steps. Every field and buffer must be the
    legacy kernels', which find and copy everything in every stage."""
    new, old = busy_state(micro, seed=9), busy_state(micro, seed=9)
    gen = np.random.default_rng(4)
    cfg = config.load(sets=["numerics.threads=1", f"model.processes.transport='{transport}'"])
    procs = []
    for legacy in (False, True):
        p = Stepper.from_config(cfg, legacy=legacy).by_name["transport"]
        procs.append(p)
    outside = (new.interior("phase") == ph.PORE) & (new.interior("grain") == 0)
    assert outside.mean() > 0.2
    stages = 0
    for step in range(4):
        noise = (gen.random(outside.shape) * 3.0).astype(np.float32)
        for st in (new, old):
            st.interior("li")[outside] = noise[outside]  # closed voxels with lithium
            for k in (0, 1):
                st.scratch_array(k)[...] = np.float32(1e6 * (step + 1) + k)  # stale garbage
        if step == 2:  # classes change: some outside pores filled, some solid emptied
            flip = outside & (gen.random(outside.shape) < 0.05)
            for st in (new, old):
                st.interior("phase")[flip] = ph.LAYERED
                st.interior("amount")[flip] = 500
                st.interior("grain")[flip] = 3
                st.dirty_flags()[1:-1, 1:-1, 1:-1][flip] = 1
            outside &= ~flip
        out = [p.advance(st, 40.0, 300.0) for p, st in zip(procs, (new, old))]
        assert out[0] == out[1]
        stages += out[0]["transport_substeps"]
        _assert_same(new, old, f"step {step}")
        np.testing.assert_array_equal(new.interior("li")[outside], noise[outside])
    assert stages >= 4 * 4  # several stages per step: the later ones took the short cut
