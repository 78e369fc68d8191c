"""Lithium release from the source (mcsim.processes.release): LiOH, its Li2O residue, Li2CO3.

On hand-built lattices of LiOH with release alone switched on: each voxel hands a share
1 - exp(-k dt) of its lithium quanta to its mobile lithium, rounded stochastically to whole
quanta and unbiased, conserving the voxel's lithium exactly; LiOH turns to Li2O with
probability 1 - exp(-k_dec dt); above the melting point the LiOH releases ``melt_release_factor``
times faster and its Li2O residue does not.

The Li2CO3 route: a tiny particle mixed with Li2CO3 on a 5 C/min ramp to 420 C.
``lithium.source = "Li2CO3"`` selects the ``ncm622-li2co3`` parameter set; the checks: the
carbonate releases its lithium by its own first-order law (much later than LiOH would), the
hydroxide dehydrates to rock salt before layered oxide forms (from rock salt), the weight lost is
the CO2 of the consumed carbonate plus the water of the hydroxide (the sample's mass summed from
the final fields), and transition metal and lithium are conserved."""

from __future__ import annotations

import math

import h5py
import numpy as np
import pytest

from mcsim import params as _params
from mcsim import phases as ph
from mcsim.processes import slots as S
from mcsim.state import full_amount_table
from mcsim.stepper import neutral_coefficients
from tests.support import R_GAS, arrhenius, assert_binomial, box, stepper_with

FULL = full_amount_table()
N = 20

TO_C = 420.0
SETS = ("lithium.source='Li2CO3'", f"schedule.to_c={TO_C}", "particle.radius_um=0.15",
        "output.pore_statistics=false", "output.snapshot_temperatures_c=[350.0]",
        "output.timeseries_interval_s=120")


# -- the rule, on a lattice of LiOH ------------------------------------------------------------

def test_lioh_releases_a_share_one_minus_exp_minus_k_dt_of_its_quanta_unbiased_and_exactly():
    """LiOH voxels (1396 quanta each, no mobile lithium) at 250 C, one step of k dt = 0.3
    (k_dec dt is 1.5e-3: about a dozen voxels turn to Li2O, which releases at the same rate
    below the melting point): every voxel releases floor(x) or floor(x) + 1 quanta,
    x = 1396 (1 - exp(-0.3)) = 361.8, the mean over the 8000 voxels is x to within its
    rounding noise, and each voxel's solid plus mobile lithium is still 1396; the tally is the
    lithium released."""
    stepper, prm = stepper_with({"release"})
    temp_c = 250.0
    k = arrhenius(prm["release_a_per_s"], prm["release_ea_j_per_mol"], temp_c)
    dt = 0.3 / k
    a = int(FULL[ph.LIOH])
    st = box(ph.LIOH, N)
    tallies = stepper.advance(st, dt, temp_c)
    released = st.interior("li").astype(np.float64)
    x = a * -math.expm1(-0.3)
    assert set(np.unique(released)) <= {math.floor(x), math.floor(x) + 1}
    frac = x - math.floor(x)
    sigma = math.sqrt(frac * (1 - frac) / released.size)
    assert abs(released.mean() - x) < 5 * sigma + 1e-9, (released.mean(), x)
    np.testing.assert_array_equal(st.interior("amount") + released, a)
    assert tallies["li_released"] == int(released.sum())
    assert np.all(np.isin(st.interior("phase"), (ph.LIOH, ph.LI2O)))


def test_lioh_decomposes_to_li2o_with_probability_one_minus_exp_minus_k_dec_dt():
    """At 400 C, one step of k_dec dt = 0.5: the share of LiOH voxels turned to Li2O is
    1 - exp(-0.5); each keeps its lithium (solid plus mobile: release empties the solid within
    the step at this temperature, and the lithium stays in the voxel without transport), and
    the decomposition tally is the lithium of the voxels that turned."""
    stepper, prm = stepper_with({"release"}, seed=7)
    temp_c = 400.0
    k_dec = arrhenius(prm["lioh_decomp_a_per_s"], prm["lioh_decomp_ea_j_per_mol"], temp_c)
    a = int(FULL[ph.LIOH])
    st = box(ph.LIOH, N)
    tallies = stepper.advance(st, 0.5 / k_dec, temp_c)
    P = st.interior("phase")
    li2o = int(np.count_nonzero(P == ph.LI2O))
    assert np.all((P == ph.LIOH) | (P == ph.LI2O))
    assert_binomial(li2o, P.size, -math.expm1(-0.5))
    np.testing.assert_array_equal(st.interior("amount") + st.interior("li"), a)
    assert tallies["lioh_decomposed"] == a * li2o


def test_molten_lioh_releases_faster_by_the_melt_factor_and_its_li2o_does_not():
    """Just below and above the melting point (462 C) the per-quantum release probabilities
    are 1 - exp(-k dt) and 1 - exp(-factor k dt) for LiOH, and 1 - exp(-k dt) for Li2O."""
    stepper, prm = stepper_with({"release"})
    process = stepper.by_name["release"]
    melt, factor = prm["source_melt_c"], prm["melt_release_factor"]
    assert factor > 1.0
    dt = 1e-3
    for temp_c, molten in ((melt - 0.5, False), (melt + 0.5, True)):
        k = arrhenius(prm["release_a_per_s"], prm["release_ea_j_per_mol"], temp_c)
        coef = neutral_coefficients()
        process.coefficients(coef, temp_c, dt)
        want = -math.expm1(-(factor if molten else 1.0) * k * dt)
        assert coef[S.C_P_REL_LIOH] == pytest.approx(want, rel=1e-9)
        assert coef[S.C_P_REL_LI2O] == pytest.approx(-math.expm1(-k * dt), rel=1e-9)


# -- the Li2CO3 route --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def li2co3_run(tiny_run, tmp_path_factory):
    run = tiny_run(tmp_path_factory.mktemp("li2co3") / "li2co3.h5", SETS)
    with h5py.File(run.path, "r") as f:
        run.ts = {k: f["timeseries"][k][()] for k in f["timeseries"]}
        keys = sorted(f["snapshots"])
        run.snaps = [{n: f["snapshots"][k][n][()] for n in ("phase", "amount", "li")}
                     | {"temperature_c": float(f["snapshots"][k].attrs["temperature_c"])}
                     for k in keys]
    return run


def _released_first_order(a, ea, schedule, times):
    """1 - exp(-int k(T(t)) dt) at ``times`` (s), integrated here on a fine grid."""
    t = np.linspace(0.0, float(times[-1]), 200_001)
    k = a * np.exp(-ea / (R_GAS * (np.asarray(schedule.temperature_c(t)) + 273.15)))
    integral = np.concatenate([[0.0], np.cumsum(0.5 * (k[1:] + k[:-1]) * np.diff(t))])
    return -np.expm1(-np.interp(times, t, integral))


def test_li2co3_source_selects_its_parameter_set(li2co3_run):
    assert li2co3_run.cfg["model"]["parameter_set"] == "ncm622-li2co3"
    table = _params.PARAMETER_SETS["ncm622-li2co3"]
    for key in ("release_a_per_s", "release_ea_j_per_mol", "source_melt_c"):
        assert li2co3_run.sim.params[key] == table[key].value
    pf = li2co3_run.ts["phase_fraction"]
    assert pf[0, ph.LI2CO3] > 0
    assert np.all(pf[:, ph.LIOH] == 0) and np.all(pf[:, ph.LI2O] == 0)
    # no LiOH: no water from the source, only CO2
    assert np.all(li2co3_run.ts["li_water"][1:] == 0)
    assert np.all(li2co3_run.ts["lioh_decomposed"][1:] == 0)


def test_carbonate_releases_by_its_first_order_law_much_later_than_lioh(li2co3_run):
    """The share of the carbonate's lithium released follows 1 - exp(-int k dt) of the
    ncm622-li2co3 release law on the run's schedule (every source voxel releases by itself);
    where LiOH's law (ncm622-lioh) has released 99 %, the carbonate has released under 0.1 %."""
    ts, sched = li2co3_run.ts, li2co3_run.sim.schedule
    t, temp = ts["time_s"], ts["temperature_c"]
    li0 = ts["li_source"][0]
    released = (li0 - ts["li_source"]) / li0
    prm = li2co3_run.sim.params
    expected = _released_first_order(prm["release_a_per_s"], prm["release_ea_j_per_mol"],
                                     sched, t)
    assert expected[-1] > 0.3  # the ramp goes far enough to test the law
    np.testing.assert_allclose(released, expected, atol=5e-4)
    lioh = _params.resolve("ncm622-lioh")
    lioh_released = _released_first_order(lioh["release_a_per_s"], lioh["release_ea_j_per_mol"],
                                          sched, t)
    i99 = int(np.argmax(lioh_released >= 0.99))
    assert lioh_released[i99] >= 0.99 and temp[i99] < 300.0
    assert released[i99] < 1e-3
    # the temperatures of half release are far apart
    t_half = float(np.interp(0.5, expected, temp))
    t_half_lioh = float(np.interp(0.5, lioh_released, temp))
    assert t_half - t_half_lioh > 150.0


def test_rock_salt_forms_first_and_layered_grows_from_it(li2co3_run):
    """Dehydration first: rock salt appears before layered oxide, the hydroxide is gone before
    layered reaches 5 % (near 400 C), and once the hydroxide is gone every new layered TM comes
    from rock salt."""
    ts = li2co3_run.ts
    temp = ts["temperature_c"]
    hyd, rs, lay = ts["tm_phase_fraction"].T
    first_rs = int(np.argmax(rs >= 0.01))
    first_lay = int(np.argmax(lay >= 0.01))
    assert rs[first_rs] >= 0.01 and lay[first_lay] >= 0.01
    assert first_rs < first_lay
    onset = int(np.argmax(lay >= 0.05))
    assert lay[onset] >= 0.05
    assert 360.0 <= temp[onset] <= TO_C
    assert hyd[onset] < 0.01 and rs[onset] > 0.8
    gone = hyd == 0
    assert gone.any()
    lith = ts["tm_lithiated"]
    assert np.all(lith[gone] == lith[gone][0])  # no topotactic lithiation without hydroxide
    assert ts["tm_rs_lithiated"][-1] > 0
    assert ts["tm_rs_lithiated"][-1] > ts["tm_lithiated"][-1]
    # the 350 C snapshot (taken at the end of the step that reaches 350 C: within the default
    # max_temperature_step_c of 1 C above it): rock salt, hardly any layered oxide
    snap = next(s for s in li2co3_run.snaps if 350.0 <= s["temperature_c"] <= 351.0)
    tm = {c: int(snap["amount"][snap["phase"] == c].sum(dtype=np.int64)) for c in ph.TM_PHASES}
    total = sum(tm.values())
    assert tm[ph.ROCKSALT] > 0.9 * total and tm[ph.LAYERED] < 0.05 * total


def _field_mass(snap) -> float:
    """Mass from the fields (g/mol x quanta): each phase's quanta x its molar mass per TM or per
    Li; mobile lithium as LiO_1/2 (what is left of Li2CO3 once half a CO2 has gone)."""
    P, A = snap["phase"], snap["amount"].astype(np.float64)
    m = sum(A[P == c].sum() * ph.MOLAR_MASS[c] for c in ph.MOLAR_MASS)
    return m + snap["li"].astype(np.float64).sum() * ph.MOLAR_MASS[ph.LI2O]


def test_co2_and_water_lost_match_the_consumed_carbonate_and_hydroxide(li2co3_run):
    ts = li2co3_run.ts
    li0 = ts["li_source"][0]
    consumed = li0 - ts["li_source"]
    # half a CO2 per Li: the tally is exactly the lithium the carbonate lost, row by row
    np.testing.assert_array_equal(ts["li_co2"][1:], consumed[1:])
    final = li2co3_run.snaps[-1]
    left = int(final["amount"][final["phase"] == ph.LI2CO3].sum(dtype=np.int64))
    assert ts["li_co2"][-1] == li0 - left
    m0 = ts["tm_quanta"][0] * ph.MOLAR_MASS[ph.HYDROXIDE] + li0 * ph.MOLAR_MASS[ph.LI2CO3]
    mass_tg = m0 * ts["weight_pct"][-1] / 100.0
    assert mass_tg == pytest.approx(_field_mass(final), rel=2e-5)
    # the loss splits into the CO2 of the consumed carbonate and one water per TM that left the
    # hydroxide (by dehydration or lithiation), less the oxygen the layered TM took up: all
    # counted on the final fields
    tm = {c: int(final["amount"][final["phase"] == c].sum(dtype=np.int64)) for c in ph.TM_PHASES}
    co2 = (li0 - left) * ph.M_CO2 / 2
    water = (ts["tm_quanta"][0] - tm[ph.HYDROXIDE]) * ph.M_H2O
    oxygen = tm[ph.LAYERED] * ph.M_O2 / 4
    assert m0 - mass_tg == pytest.approx(co2 + water - oxygen, rel=1e-4)
    assert co2 > 0.2 * (m0 - mass_tg)  # the carbonate's share is a real part of the loss
    assert np.all(np.diff(ts["weight_pct"]) <= 1e-12)  # only losses on this ramp


def test_transition_metal_and_lithium_are_conserved(li2co3_run):
    ts = li2co3_run.ts
    assert np.all(ts["tm_quanta"] == ts["tm_quanta"][0])
    np.testing.assert_allclose(ts["li_total"], ts["li_total"][0], rtol=1e-5, atol=0)
    assert ts["li_total"][0] == ts["li_source"][0]  # all lithium starts in the carbonate
    assert ts["li_bound"][-1] > 0.1 * ts["li_total"][0]  # and a good part has moved
    for snap in li2co3_run.snaps:
        P, A = snap["phase"], snap["amount"]
        tm = int(A[np.isin(P, ph.TM_PHASES)].sum(dtype=np.int64))
        assert tm == ts["tm_quanta"][0]
        li = (A[P == ph.LI2CO3].sum(dtype=np.int64) + A[P == ph.LAYERED].sum(dtype=np.int64)
              + snap["li"].astype(np.float64).sum())
        assert li == pytest.approx(ts["li_total"][0], rel=1e-5)
