"""Sintering kernels (mcsim.processes.sintering): conservation, reproducibility, grain growth,
which pores densification removes, the real-time MCS mapping, and decomposition readiness."""

from __future__ import annotations


import numba
import numpy as np
import pytest

from mcsim import params
from mcsim import phases as ph
from mcsim.processes import REGISTRY, build_processes
from mcsim.processes import sintering as si
from mcsim.state import State, full_amount_table

FIELDS = ("phase", "grain", "amount", "li", "disorder")


def particle_arrays(n=32, porosity=0.2, seed=5, shape=None):
    """A spherical porous polycrystal (3.5-voxel grains of hydroxide, rock salt and layered,
    intergranular pores labelled -1, outside pore 0) with integer lithium, as interior arrays."""
    shape = shape or (n, n, n)
    grain = si.polycrystal(shape, 3.5, seed=seed)
    r = np.random.default_rng(seed)
    phase = (ph.HYDROXIDE + grain % 3).astype(np.uint8)
    amount = full_amount_table()[phase].astype(np.uint16)
    partial = (phase == ph.ROCKSALT) & (r.random(shape) < 0.5)
    amount[partial] = amount[partial] // 2
    pore = r.random(shape) < porosity
    zz, yy, xx = np.indices(shape)
    c = [(s - 1) / 2 for s in shape]
    out = (zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 > (min(shape) / 2 - 2) ** 2
    phase[pore | out] = ph.PORE
    amount[pore | out] = 0
    grain = np.where(pore, -1, grain)
    grain[out] = 0
    li = np.where(phase != ph.PORE, r.integers(0, 50, shape), 0).astype(np.float32)
    disorder = np.where(phase == ph.LAYERED, r.integers(0, 80, shape), 0).astype(np.uint8)
    return phase, grain.astype(np.int32), amount, li, disorder


def make_state(arrays):
    phase, grain, amount, li, disorder = arrays
    st = State.from_arrays(phase, grain, amount, li)
    st.disorder[1:-1, 1:-1, 1:-1] = disorder
    return st


def process(**overrides):
    pr = params.resolve("ncm622-lioh", overrides)
    return si.PottsSintering(pr, {}, 1)


def run_mcs(st, n=(3, 3, 3), seed=1, first=0, **overrides):
    p = process(**overrides)
    p.seed = seed
    todo = {m: (first, k) for m, k in zip(si.MECHANISMS, n)}
    return si.drive(st, p.steps(st, todo))


def inventory(st):
    inner = {name: st.interior(name) for name in FIELDS}
    tm = [int(inner["amount"][inner["phase"] == c].astype(np.int64).sum()) for c in ph.TM_PHASES]
    return tm, float(inner["li"].astype(np.float64).sum())


def test_registered_with_potts_default_and_none():
    assert list(REGISTRY["sintering"]) == ["potts", "none"]
    names = [p.name for p in build_processes({}, params.resolve("ncm622-lioh"), {}, 1)]
    assert names.index("sintering") == names.index("restructure") + 1


def test_tm_per_phase_and_lithium_conserved_by_all_three_mechanisms():
    st = make_state(particle_arrays())
    tm0, li0 = inventory(st)
    out = run_mcs(st, (4, 4, 4), densification_probability=0.05)
    assert out["grain_flips"] > 0 and out["pore_swaps"] > 0 and out["vacancies_annihilated"] > 0
    tm1, li1 = inventory(st)
    assert tm1 == tm0
    assert li1 == li0  # integer lithium: the moves are exact
    # the incrementally kept contact counts equal a recount
    s = si.contact_field(st)
    fresh = np.zeros_like(s)
    si.contact_count_kernel(st.phase, fresh)
    assert np.array_equal(fresh[1:-1, 1:-1, 1:-1], s[1:-1, 1:-1, 1:-1])
    # solids always carry a grain id; pores inside stay inside
    solid = st.phase >= ph.HYDROXIDE
    assert (st.grain[solid] > 0).all()


@pytest.mark.parametrize("per_nm", [0.0, 0.5])
def test_one_and_two_threads_bit_identical(per_nm):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba sees a single core: 1 and 2 threads cannot be compared here")
    arrays = particle_arrays(seed=6)
    results = []
    for t in (1, 2):
        numba.set_num_threads(t)
        st = make_state(arrays)
        p = process(densification_probability=0.05, vacancy_constraint_per_nm=per_nm)
        tallies = si.drive(st, p.steps(st, {m: (0, 3) for m in si.MECHANISMS}))
        assert (tallies["vacancies_inward"] > 0) == (per_nm > 0)
        results.append((tallies, [getattr(st, f).copy() for f in FIELDS]))
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1]):
        assert np.array_equal(a, b)


def test_same_seed_same_result_other_seed_differs():
    arrays = particle_arrays(n=24, seed=7)
    runs = []
    for seed in (1, 1, 2):
        st = make_state(arrays)
        run_mcs(st, (2, 2, 2), seed=seed, densification_probability=0.05)
        runs.append(np.concatenate([getattr(st, f).ravel().view(np.uint8) for f in FIELDS]))
    assert np.array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_grain_growth_coarsens_a_dense_polycrystal_and_never_flips_into_a_pore():
    n = 32
    grain = si.polycrystal((n, n, n), 3.5, seed=3)
    phase = np.full((n, n, n), ph.LAYERED, dtype=np.uint8)
    r = np.random.default_rng(3)
    pore = r.random((n, n, n)) < 0.03
    phase[pore] = ph.PORE
    grain = np.where(pore, np.where(r.random((n, n, n)) < 0.5, -1, grain), grain)
    st = State.from_arrays(phase, grain)
    ids0 = np.unique(st.interior("grain")[~pore])
    pores_before = st.grain[st.phase == ph.PORE].copy()
    count0 = ids0.size
    out = run_mcs(st, (20, 0, 0))
    assert out["grain_growth_mcs"] == 20 and out["grain_flips"] > 0
    solid = st.interior("phase") != ph.PORE
    ids1, sizes = np.unique(st.interior("grain")[solid], return_counts=True)
    assert ids1.size < count0
    assert sizes.mean() > solid.sum() / count0
    assert np.isin(ids1, ids0).all() and (ids1 > 0).all()  # only ids of solid neighbours
    assert np.array_equal(st.phase[1:-1, 1:-1, 1:-1] == ph.PORE, pore)
    assert np.array_equal(st.grain[st.phase == ph.PORE], pores_before)


def bicrystal(n=24):
    """Two grains (x < n/2: grain 1, else 2) in a sphere; an intragranular nanopore deep in
    grain 1 and a pore on the grain boundary."""
    phase = np.full((n, n, n), ph.LAYERED, dtype=np.uint8)
    grain = np.where(np.arange(n)[None, None, :] < n // 2, 1, 2) * np.ones((n, n, n), np.int32)
    zz, yy, xx = np.indices((n, n, n))
    c = (n - 1) / 2
    out = (zz - c) ** 2 + (yy - c) ** 2 + (xx - c) ** 2 > (n / 2 - 1) ** 2
    phase[out] = ph.PORE
    grain[out] = 0
    nano = (n // 2, n // 2, n // 2 - 5)
    gb = (n // 2, n // 2 - 3, n // 2)
    phase[nano] = phase[gb] = ph.PORE
    grain[nano] = 1
    grain[gb] = -1
    return State.from_arrays(phase, grain), nano, gb


def test_enclosed_nanopore_survives_while_grain_boundary_pore_is_annihilated():
    st, nano, gb = bicrystal()
    surface0 = int(((st.phase == 0) & (st.grain == 0))[1:-1, 1:-1, 1:-1].sum())
    tm0, li0 = inventory(st)
    out = run_mcs(st, (0, 0, 5), densification_probability=1.0)
    inner = st.interior("phase")
    assert inner[nano] == ph.PORE and st.interior("grain")[nano] == 1
    assert inner[gb] == ph.LAYERED and st.interior("grain")[gb] in (1, 2)
    assert out["vacancies_annihilated"] == 1
    outside = int(((st.phase == 0) & (st.grain == 0))[1:-1, 1:-1, 1:-1].sum())
    assert outside == surface0 + 1  # the particle shrank by the pore's volume
    assert inventory(st) == (tm0, li0)


def test_nothing_happens_at_or_below_the_onset():
    st = make_state(particle_arrays(n=20))
    before = [getattr(st, f).copy() for f in FIELDS]
    p = process()
    for temp in (25.0, 400.0, 599.0, 600.0):
        assert p.advance(st, 12 * 3600.0, temp) == {}
    assert p.tau == {m: 0.0 for m in si.MECHANISMS}
    for name, b in zip(FIELDS, before):
        assert np.array_equal(getattr(st, name), b)


def test_doubling_the_hold_doubles_the_mcs_count():
    counts = []
    for hours in (6, 12):
        p = process()
        total = {m: 0 for m in si.MECHANISMS}
        for _ in range(hours * 60):
            for m, (_, n) in p.mcs_for(60.0, 850.0).items():
                total[m] += n
        counts.append(total)
        assert {m: int(t) for m, t in p.tau.items()} == total
    for m in si.MECHANISMS:
        assert counts[0][m] > 10
        assert abs(counts[1][m] - 2 * counts[0][m]) <= 1


def test_mcs_rates_scale_with_the_voxel_by_each_mechanisms_exponent():
    """Calibrated at 10 nm (factor exactly 1 there); on a finer lattice the same physical
    change takes more MCS: grain growth x (10/dx)^2, pore migration ^4, densification ^2, and
    consolidation, which runs at the densification event rate, with it."""
    p = process()
    k10 = p.rates_mcs_per_s(850.0)
    assert p.rates_mcs_per_s(850.0, 10.0) == k10 and all(k > 0.0 for k in k10.values())
    k5 = p.rates_mcs_per_s(850.0, 5.0)
    k20 = p.rates_mcs_per_s(850.0, 20.0)
    for m, e in (("grain_growth", 2), ("pore_migration", 4), ("densification", 2)):
        assert k5[m] == pytest.approx(2.0 ** e * k10[m], rel=1e-12), m
        assert k20[m] == pytest.approx(k10[m] / 2.0 ** e, rel=1e-12), m
    assert p.rates_mcs_per_s(590.0, 5.0) == {m: 0.0 for m in si.MECHANISMS}  # below the onset
    off = process(grain_growth_voxel_exponent=0.0, pore_migration_voxel_exponent=0.0,
                  densification_voxel_exponent=0.0)
    assert off.rates_mcs_per_s(850.0, 5.0) == k10  # the rule before: no scaling
    from mcsim.processes.restructure import PairRestructuring
    r = PairRestructuring(params.resolve("ncm622-lioh"), {}, 1)
    assert r.consolidation_rate(850.0, 5.0) == pytest.approx(4.0 * r.consolidation_rate(850.0),
                                                             rel=1e-12)
    # the accumulators follow the scaled rate: a 1 h hold at 5 nm does 4x the grain-growth MCS
    a, b = process(), process()
    n10 = a.mcs_for(3600.0, 850.0)["grain_growth"][1]
    n5 = b.mcs_for(3600.0, 850.0, 5.0)["grain_growth"][1]
    assert n10 > 10 and abs(n5 - 4 * n10) <= 4


def test_grain_growth_lattice_temperature_scales_with_the_voxel():
    """J/kT of the Potts lattice is grain_growth_j_over_kt at 10 nm, exactly, and scales as
    (voxel_nm / 10 nm) ** grain_growth_j_voxel_exponent (1: half at 5 nm, twice at 20 nm);
    exponent 0 keeps it at every voxel (the rule before). The process's acceptance table is
    the one of that J/kT."""
    pr = params.resolve("ncm622-lioh")
    j = pr["grain_growth_j_over_kt"]
    assert pr["grain_growth_j_voxel_exponent"] == 1.0
    assert si.lattice_j_over_kt(pr, 10.0) == j
    assert si.lattice_j_over_kt(pr, 5.0) == pytest.approx(j / 2.0, rel=1e-15)
    assert si.lattice_j_over_kt(pr, 20.0) == pytest.approx(2.0 * j, rel=1e-15)
    off = params.resolve("ncm622-lioh", {"grain_growth_j_voxel_exponent": 0.0})
    assert si.lattice_j_over_kt(off, 5.0) == si.lattice_j_over_kt(off, 20.0) == j
    with pytest.raises(ValueError, match="voxel_nm"):
        si.lattice_j_over_kt(pr, 0.0)
    p = process()
    assert np.array_equal(p.grain_growth_table(10.0), si.grain_growth_accept_table(j))
    assert np.array_equal(p.grain_growth_table(5.0), si.grain_growth_accept_table(j / 2.0))
    # a hotter lattice accepts an uphill flip more often
    assert p.grain_growth_table(5.0)[27] > p.grain_growth_table(10.0)[27] > 0.0


def test_pore_migration_lattice_temperature_scales_with_the_voxel():
    """Pore migration's J/kT follows the same convention: pore_migration_j_over_kt at 10 nm,
    exactly, times (voxel_nm / 10 nm) ** pore_migration_j_voxel_exponent; the process's
    table is the one of that J/kT."""
    pr = params.resolve("ncm622-lioh")
    j = pr["pore_migration_j_over_kt"]
    assert pr["pore_migration_j_voxel_exponent"] == 1.0
    assert si.lattice_surface_j_over_kt(pr, 10.0) == j
    assert si.lattice_surface_j_over_kt(pr, 5.0) == pytest.approx(j / 2.0, rel=1e-15)
    off = params.resolve("ncm622-lioh", {"pore_migration_j_voxel_exponent": 0.0})
    assert si.lattice_surface_j_over_kt(off, 5.0) == j
    with pytest.raises(ValueError, match="voxel_nm"):
        si.lattice_surface_j_over_kt(pr, -1.0)
    p = process()
    assert np.array_equal(p.pore_migration_table(10.0), si.pore_migration_accept_table(j))
    assert np.array_equal(p.pore_migration_table(5.0), si.pore_migration_accept_table(j / 2))


def test_the_lattice_temperature_reaches_the_kernel_on_a_finer_lattice():
    """The same lattice run as a 5 nm and as a 10 nm one (same MCS, seed and fields) flips
    and swaps differently: the 5 nm run takes J/kT / 2; with the exponents 0 the two are
    identical."""
    def run(voxel_nm, n, **overrides):  # the nanopore acceptance is 1 at both voxels here
        phase, grain, amount, li, disorder = particle_arrays(24, seed=3)
        st = State.from_arrays(phase, grain, amount, li, voxel_nm=voxel_nm)
        st.disorder[1:-1, 1:-1, 1:-1] = disorder
        out = run_mcs(st, n=n, nanopore_mobility=1.0, **overrides)
        return out["grain_flips"] + out["pore_swaps"], st.interior("grain").copy()

    for n, exponent in (((2, 0, 0), "grain_growth_j_voxel_exponent"),
                        ((0, 2, 0), "pore_migration_j_voxel_exponent")):
        m10, g10 = run(10.0, n)
        m5, g5 = run(5.0, n)
        assert m5 > m10 > 0 and not np.array_equal(g5, g10), exponent
        m5_off, g5_off = run(5.0, n, **{exponent: 0.0})
        assert m5_off == m10 and np.array_equal(g5_off, g10), exponent


def test_state_dict_round_trip_resumes_the_mcs_sequence():
    a = process()
    a.mcs_for(3600.0, 850.0)
    b = process()
    b.load_state_dict(a.state_dict())
    assert a.mcs_for(1800.0, 840.0) == b.mcs_for(1800.0, 840.0)
    assert all(isinstance(v, float) for v in b.state_dict().values())


# ---- decomposition readiness: two halves along z with hand-copied halos --------------------


def _exchange(lower, upper, arr_lo, arr_up):
    """Halo exchange between two z-halves (y and x faces stay the inert global boundary)."""
    for arr in (arr_lo, arr_up):
        arr[:, 0] = arr[:, -1] = 0
        arr[:, :, 0] = arr[:, :, -1] = 0
    arr_lo[0] = 0
    arr_up[-1] = 0
    arr_lo[-1] = arr_up[1]
    arr_up[0] = arr_lo[-2]


def _lockstep(halves, gens):
    replies = [None, None]
    while True:
        reqs = []
        for i, g in enumerate(gens):
            try:
                reqs.append(g.send(replies[i]))
            except StopIteration as stop:
                reqs.append(("done", stop.value))
        kinds = {r[0] for r in reqs}
        assert len(kinds) == 1, kinds
        kind = kinds.pop()
        if kind == "done":
            return [r[1] for r in reqs]
        if kind == "exchange":
            for a, b in zip(reqs[0][1], reqs[1][1]):
                _exchange(*halves, a, b)
            replies = [None, None]
        else:
            gathered = [reqs[0][1], reqs[1][1]]
            replies = [gathered, gathered]


@pytest.mark.parametrize("per_nm", [0.0, 0.5])
def test_two_halves_along_z_match_the_whole_lattice_bit_for_bit(per_nm):
    arrays = particle_arrays(n=24, seed=9, shape=(26, 24, 24))
    whole = make_state(arrays)
    cut = 13
    halves = []
    for lo, hi in ((0, cut), (cut, 26)):
        st = make_state([a[lo:hi] for a in arrays])
        st.global_shape = whole.global_shape
        st.offset = (lo, 0, 0)
        st.center_vox, st.radius_vox = whole.center_vox, whole.radius_vox
        st.lone = False
        halves.append(st)
    for name in FIELDS:
        _exchange(*halves, getattr(halves[0], name), getattr(halves[1], name))
    p_whole = process(densification_probability=0.2, vacancy_constraint_per_nm=per_nm)
    p_half = [process(densification_probability=0.2, vacancy_constraint_per_nm=per_nm)
              for _ in halves]
    todo = {m: (0, 3) for m in si.MECHANISMS}
    out_whole = si.drive(whole, p_whole.steps(whole, todo))
    outs = _lockstep(halves, [p.steps(st, todo) for p, st in zip(p_half, halves)])
    assert out_whole["pore_swaps"] > 0 and out_whole["vacancies_annihilated"] > 0
    assert (out_whole["vacancies_inward"] > 0) == (per_nm > 0)
    for key in ("grain_flips", "pore_swaps"):
        assert outs[0][key] + outs[1][key] == out_whole[key]
    for key in ("vacancies_annihilated", "vacancies_inward"):
        assert outs[0][key] == outs[1][key] == out_whole[key]
    for name in FIELDS:
        joined = np.concatenate([h.interior(name) for h in halves])
        assert np.array_equal(joined, whole.interior(name)), name
    joined = np.concatenate([si.contact_field(h)[1:-1, 1:-1, 1:-1] for h in halves])
    assert np.array_equal(joined, si.contact_field(whole)[1:-1, 1:-1, 1:-1])


def test_pure_grain_growth_is_parabolic_in_the_quick_validation():
    """mcsim validate's quick parabolic-law case: <V>^(2/3) linear in MCS, exponent ~1/2."""
    from mcsim.validate.microstructure import check_parabolic_grain_growth, grain_growth_curve

    results = check_parabolic_grain_growth(quick=True)
    assert [r.passed for r in results] == [True, True], [r.detail for r in results]
    # the curve itself: grains coarsen (fewer, larger) from the first MCS on
    t, vol, count = grain_growth_curve(24, 10)
    assert count[-1] < count[0] and vol[-1] > vol[0]




def test_pinned_growth_puts_the_same_physical_pores_on_both_lattices():
    """The grain-growth voxel check compares one physical structure: the 5 nm lattice's pores
    are the 10 nm lattice's, each voxel split in eight, and it runs the MCS the model's voxel
    scaling gives (4 times as many); grains coarsen on both."""
    from mcsim.validate.microstructure import PINNED_FRACTION, pinned_growth

    coarse = pinned_growth(1, PINNED_FRACTION, size0=12, mcs0=4)
    fine = pinned_growth(2, PINNED_FRACTION, size0=12, mcs0=4)
    assert coarse["voxel_nm"] == 10.0 and fine["voxel_nm"] == 5.0
    assert (coarse["mcs"], fine["mcs"]) == (4, 16)
    assert 0.0 < coarse["pore_fraction"] == fine["pore_fraction"]
    # the same grains at the start (one seed per 40 nm cube), in physical volume
    assert coarse["grains"][0] == fine["grains"][0] == 27
    for run in (coarse, fine):
        assert run["grains"][1] <= run["grains"][0] and run["volume"][1] >= run["volume"][0]
    dense = pinned_growth(1, 0.0, size0=12, mcs0=0)
    assert dense["pore_fraction"] == 0.0 and dense["grains"] == (27, 27)


def test_grain_growth_voxel_verdicts_follow_the_volume_ratio():
    """Each result is the 5 nm final mean grain volume over the 10 nm one; it passes inside
    1 +- 0.3 and fails outside, for the dense and the pinned case alike; numerics."""
    from mcsim.validate import microstructure as ms

    def run(v1):
        return {"voxel_nm": 10.0, "mcs": 1, "pore_fraction": 0.1, "j_over_kt": 2.0,
                "grains": (10, 5), "volume": (1.0, v1)}

    runs = {(0.0, 1): run(10.0), (0.0, 2): run(8.0),
            (ms.PINNED_FRACTION, 1): run(10.0), (ms.PINNED_FRACTION, 2): run(5.0)}
    dense, pinned = ms.grain_growth_voxel_results(runs, quick=False)
    assert (dense.name, pinned.name) == ("grain_growth_voxel_dense", "grain_growth_voxel_pinned")
    assert dense.simulated == pytest.approx(0.8) and dense.passed
    assert pinned.simulated == pytest.approx(0.5) and not pinned.passed
    assert dense.kind == pinned.kind == "numerics"


def test_the_grain_growth_checks_take_the_validations_model_overrides():
    """`mcsim validate --set model.overrides...` reaches the checks that drive the Potts
    kernel directly: the pinned-growth runs read J/kT and its voxel scaling from the changed
    set (the 5 nm lattice at J/kT 1 as shipped, 2 with the exponent 0)."""
    from mcsim.validate import harness
    from mcsim.validate.microstructure import model_parameters, pinned_growth

    assert model_parameters() == params.resolve("ncm622-lioh")
    assert pinned_growth(2, 0.0, size0=8, mcs0=0)["j_over_kt"] == 1.0
    try:
        harness.use_model_sets(("model.overrides.grain_growth_j_voxel_exponent=0",))
        assert model_parameters()["grain_growth_j_voxel_exponent"] == 0.0
        assert pinned_growth(2, 0.0, size0=8, mcs0=0)["j_over_kt"] == 2.0
    finally:
        harness.use_model_sets(())
    assert model_parameters()["grain_growth_j_voxel_exponent"] == 1.0
