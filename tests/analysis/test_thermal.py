"""Simulated thermal signals (mcsim.diagnostics.Thermo): for each thermal event, on a small
hand-built lattice where only that event can happen, the DTA signal has the sign of the event's
enthalpy (exothermic up), its time integral is (quanta converted, counted on the lattice) x
(enthalpy per mole) / m0, and the TG weight change is the gas given off (H2O, CO2) or taken up
(O2) times its molar mass, equal to the change of the sample's mass summed from its fields."""

from __future__ import annotations

import numpy as np
import pytest

from mcsim import config
from mcsim import params as _params
from mcsim import phases as ph
from mcsim.diagnostics import Thermo
from mcsim.processes import REGISTRY
from mcsim.state import State, full_amount_table
from mcsim.stepper import Stepper

N = 8  # an 8^3 box: 512 voxels
FULL = full_amount_table()
#: Mass of one quantum of mobile lithium: lithium leaves LiOH with half a water and Li2CO3 with
#: half a CO2, so the mobile lithium carries the rest of the formula unit, LiO_1/2 (Li2O / 2).
M_MOBILE_LI = ph.MOLAR_MASS[ph.LI2O]


def _stepper(on, pset="ncm622-lioh", overrides=None, seed=7):
    """A Stepper with only the processes named in ``on`` (default variants), all others off."""
    choices = {name: ("none" if name not in on else next(iter(variants)))
               for name, variants in REGISTRY.items()}
    prm = _params.resolve(pset, overrides or {})
    return Stepper(choices, prm, dict(config.load()["numerics"]), seed), prm


def _box(phase, amount=None, li=0.0):
    p = np.full((N,) * 3, phase, np.uint8)
    a = None if amount is None else np.full((N,) * 3, amount, np.uint16)
    return State.from_arrays(p, np.ones((N,) * 3, np.int32), a,
                             np.full((N,) * 3, li, np.float32))


def _quanta(state, phase):
    """Quanta (int) held by the voxels of ``phase``."""
    return int(state.interior("amount")[state.interior("phase") == phase].sum(dtype=np.int64))


def _field_mass(state) -> float:
    """The sample's mass from its fields (g/mol x quanta): every phase's quanta times its molar
    mass per TM or per Li, plus the mobile lithium (negative: a Li-deficient layered voxel)."""
    P, A = state.interior("phase"), state.interior("amount").astype(np.float64)
    m = sum(A[P == c].sum() * ph.MOLAR_MASS[c] for c in ph.MOLAR_MASS)
    return m + state.interior("li").astype(np.float64).sum() * M_MOBILE_LI


def _hold(state, stepper, thermo, temp_c, dt_s, n_steps):
    """Hold at ``temp_c``; feed the cumulative tallies to ``thermo`` after every step."""
    tallies = {}
    rows = [thermo(state.time_s, tallies)]
    times = [state.time_s]
    for _ in range(n_steps):
        for k, v in stepper.advance(state, dt_s, temp_c).items():
            tallies[k] = tallies.get(k, 0) + v
        rows.append(thermo(state.time_s, tallies))
        times.append(state.time_s)
    return np.array(times), rows, tallies


def _check_event(state, stepper, prm, thermo, temp_c, dt_s, n_steps, counted, dh_key,
                 expect_sign, gas_per_quantum):
    """Hold, then check sign and integral of the DTA and the weight change of one event.

    ``counted(state)`` gives the quanta converted, read off the lattice; ``gas_per_quantum`` the
    mass (g/mol) the sample loses (> 0) or gains (< 0) per quantum converted.
    """
    m_fields0 = _field_mass(state)
    times, rows, tallies = _hold(state, stepper, thermo, temp_c, dt_s, n_steps)
    n = counted(state)
    assert 0 < n < counted.total, "the hold must convert part of the lattice"
    dta = np.array([r["dta_w_per_g"] for r in rows])
    weight = np.array([r["weight_pct"] for r in rows])
    assert dta[0] == 0.0 and weight[0] == 100.0
    # sign of the event's enthalpy: endothermic (dH > 0) gives dta <= 0, exothermic >= 0
    dh = prm[dh_key]
    assert np.sign(dh) == -expect_sign  # the parameter set declares the event's character
    assert np.all(expect_sign * dta >= 0), dta
    assert np.count_nonzero(dta) >= n_steps // 2
    # time integral of the heat flow: quanta converted x enthalpy per mole, per initial mass
    integral = float(np.sum(dta[1:] * np.diff(times)))
    assert integral == pytest.approx(-n * dh / thermo.m0, rel=1e-9)
    # thermogravimetry: the gas given off times its molar mass
    assert weight[-1] == pytest.approx(100.0 * (1.0 - n * gas_per_quantum / thermo.m0), rel=1e-12)
    assert np.all(np.sign(np.diff(weight)) * np.sign(gas_per_quantum) <= 0)  # monotone
    # ... which is the mass change of the sample summed from its fields (mass balance)
    dm_fields = _field_mass(state) - m_fields0
    assert dm_fields == pytest.approx(-n * gas_per_quantum, rel=1e-3)
    return tallies, n


class _Counter:
    def __init__(self, phase, total):
        self.phase, self.total = phase, total

    def __call__(self, state):
        return _quanta(state, self.phase)


def test_dehydration_is_endothermic_and_loses_one_water_per_tm():
    """TM(OH)2 -> TMO + H2O(g): heat -n dH_dehydration, weight -n M_H2O."""
    st = _box(ph.HYDROXIDE)
    stepper, prm = _stepper({"dehydration"})
    m0_tm = _quanta(st, ph.HYDROXIDE)
    thermo = Thermo(prm, m0_tm, 0, ph.LIOH)
    assert thermo.m0 == pytest.approx(m0_tm * ph.MOLAR_MASS[ph.HYDROXIDE])
    # M(TM(OH)2) - M(TMO) is one water
    assert ph.MOLAR_MASS[ph.HYDROXIDE] - ph.MOLAR_MASS[ph.ROCKSALT] == pytest.approx(ph.M_H2O,
                                                                                     abs=1e-9)
    tallies, n = _check_event(st, stepper, prm, thermo, 300.0, 60.0, 10,
                              _Counter(ph.ROCKSALT, m0_tm), "dehydration_dh_j_per_mol", -1,
                              ph.M_H2O)
    assert tallies["tm_dehydrated"] == n
    assert tallies.get("tm_lithiated", 0) == 0


def test_topotactic_lithiation_is_exothermic_loses_water_and_takes_up_oxygen():
    """TM(OH)2 + LiO1/2 + 1/4 O2 -> LiTMO2 + H2O(g): heat -n dH_lithiation (exothermic), weight
    -n (M_H2O - M_O2 / 4)."""
    st = _box(ph.HYDROXIDE, li=1000.0)  # every voxel supplied with the lithium it binds
    stepper, prm = _stepper({"lithiation"})
    m0_tm = _quanta(st, ph.HYDROXIDE)
    thermo = Thermo(prm, m0_tm, 0, ph.LIOH)
    tallies, n = _check_event(st, stepper, prm, thermo, 230.0, 5.0, 10,
                              _Counter(ph.LAYERED, m0_tm), "lithiation_dh_j_per_mol", +1,
                              ph.M_H2O - ph.M_O2 / 4)
    assert tallies["tm_lithiated"] == n
    assert tallies.get("tm_dehydrated", 0) == 0


def test_rocksalt_lithiation_is_exothermic_and_only_takes_up_oxygen():
    """TMO + LiO1/2 + 1/4 O2 -> LiTMO2: no water left to lose, so the weight rises by the
    oxygen taken up, n M_O2 / 4; heat -n dH_rocksalt_lithiation."""
    st = _box(ph.ROCKSALT, amount=1000, li=1000.0)  # rock salt as dehydration leaves it
    stepper, prm = _stepper({"rocksalt_lithiation"})
    m0_tm = _quanta(st, ph.ROCKSALT)
    thermo = Thermo(prm, m0_tm, 0, ph.LIOH)
    tallies, n = _check_event(st, stepper, prm, thermo, 450.0, 2.0, 10,
                              _Counter(ph.LAYERED, m0_tm), "rocksalt_lithiation_dh_j_per_mol", +1,
                              -ph.M_O2 / 4)
    assert tallies["tm_rs_lithiated"] == n


def test_lioh_decomposition_is_endothermic_and_loses_half_a_water_per_li():
    """2 LiOH -> Li2O + H2O(g), alone (release switched off through its rate): heat
    -n dH_LiOH per Li, weight -n M_H2O / 2."""
    st = _box(ph.LIOH)
    stepper, prm = _stepper({"release"}, overrides={"release_a_per_s": 0.0})
    li0 = _quanta(st, ph.LIOH)
    thermo = Thermo(prm, 0, li0, ph.LIOH)
    assert ph.MOLAR_MASS[ph.LIOH] - ph.MOLAR_MASS[ph.LI2O] == pytest.approx(ph.M_H2O / 2,
                                                                            abs=0.01)
    tallies, n = _check_event(st, stepper, prm, thermo, 400.0, 2.0, 10,
                              _Counter(ph.LI2O, li0), "lioh_decomp_dh_j_per_mol", -1,
                              ph.M_H2O / 2)
    assert tallies["lioh_decomposed"] == n == tallies["li_water"]
    assert tallies.get("li_released", 0) == 0


class _Released:
    """Lithium quanta that left the source solid (the source's own quanta drop)."""

    def __init__(self, phase, total):
        self.phase, self.total = phase, total

    def __call__(self, state):
        return self.total - _quanta(state, self.phase)


def test_li2co3_decomposition_is_endothermic_and_loses_half_a_co2_per_li():
    """Li2CO3 -> Li2O + CO2(g), per Li released: heat -n dH_carbonate, weight -n M_CO2 / 2."""
    st = _box(ph.LI2CO3)
    stepper, prm = _stepper({"release"}, pset="ncm622-li2co3")
    li0 = _quanta(st, ph.LI2CO3)
    thermo = Thermo(prm, 0, li0, ph.LI2CO3)
    assert thermo.m0 == pytest.approx(li0 * ph.MOLAR_MASS[ph.LI2CO3])
    tallies, n = _check_event(st, stepper, prm, thermo, 500.0, 2.0, 10,
                              _Released(ph.LI2CO3, li0), "carbonate_dh_j_per_mol", -1,
                              ph.M_CO2 / 2)
    assert tallies["li_co2"] == n == tallies["li_released"]
    assert tallies.get("li_water", 0) == 0
    # the lithium released is now mobile, in the voxels it left (transport is off)
    assert float(st.interior("li").astype(np.float64).sum()) == pytest.approx(n, abs=1e-3)


def test_heat_flow_integral_adds_up_over_concurrent_events():
    """Dehydration and lithiation in one lattice: the integral of the DTA is the sum of both
    events' heats, and the weight the sum of both mass changes (bookkeeping is additive)."""
    li = np.zeros((N,) * 3, np.float32)
    li[: N // 2] = 1000.0  # half the box supplied with lithium, half dry
    st = State.from_arrays(np.full((N,) * 3, ph.HYDROXIDE, np.uint8),
                           np.ones((N,) * 3, np.int32), None, li)
    stepper, prm = _stepper({"lithiation", "dehydration"})
    tm0 = _quanta(st, ph.HYDROXIDE)
    thermo = Thermo(prm, tm0, 0, ph.LIOH)
    m_fields0 = _field_mass(st)
    times, rows, _ = _hold(st, stepper, thermo, 290.0, 30.0, 12)
    n_rs, n_lay = _quanta(st, ph.ROCKSALT), _quanta(st, ph.LAYERED)
    assert n_rs > 0 and n_lay > 0
    dta = np.array([r["dta_w_per_g"] for r in rows])
    heat = -(n_rs * prm["dehydration_dh_j_per_mol"] + n_lay * prm["lithiation_dh_j_per_mol"])
    assert float(np.sum(dta[1:] * np.diff(times))) == pytest.approx(heat / thermo.m0, rel=1e-9)
    dm = -(n_rs * ph.M_H2O + n_lay * (ph.M_H2O - ph.M_O2 / 4))
    assert rows[-1]["weight_pct"] == pytest.approx(100.0 * (1.0 + dm / thermo.m0), rel=1e-12)
    assert _field_mass(st) - m_fields0 == pytest.approx(dm, rel=1e-3)


def _source_quanta(st) -> int:
    return sum(_quanta(st, c) for c in ph.SOURCE_PHASES)


def _release_all(st, stepper, temp_c, dt_s, max_steps=400):
    tallies = {}
    for _ in range(max_steps):
        for k, v in stepper.advance(st, dt_s, temp_c).items():
            tallies[k] = tallies.get(k, 0) + v
        if _source_quanta(st) == 0:
            break
    return tallies


def test_lioh_heat_and_weight_do_not_depend_on_the_route_to_mobile_lithium():
    """Route A: LiOH -> Li2O + H2O, then Li2O releases its lithium. Route B: LiOH releases its
    lithium directly (with its half water). Both end with the same lithium mobile and the same
    water given off, so the same weight and, by Hess's law, the same heat."""
    # route A: decomposition alone at 400 C, then release of the Li2O
    a = _box(ph.LIOH)
    li0 = _quanta(a, ph.LIOH)
    dec, prm = _stepper({"release"}, overrides={"release_a_per_s": 0.0})
    t_a = _release_all(a, dec, 400.0, 20.0)
    assert _quanta(a, ph.LIOH) == 0 and _quanta(a, ph.LI2O) == li0
    rel, _ = _stepper({"release"}, overrides={"lioh_decomp_a_per_s": 0.0})
    for k, v in _release_all(a, rel, 400.0, 20.0).items():
        t_a[k] = t_a.get(k, 0) + v
    # route B: direct release, decomposition switched off through its rate
    b = _box(ph.LIOH)
    t_b = _release_all(b, rel, 400.0, 20.0)
    assert t_b.get("lioh_decomposed", 0) == 0 and t_a["lioh_decomposed"] == li0
    for st in (a, b):  # the same end state: every quantum mobile, no source solid left
        assert _source_quanta(st) == 0
        assert float(st.interior("li").astype(np.float64).sum()) == pytest.approx(li0, abs=1e-2)
    thermo = Thermo(prm, 0, li0, ph.LIOH)
    assert thermo.mass_change(t_a) == pytest.approx(thermo.mass_change(t_b), rel=1e-12)
    assert thermo.mass_change(t_b) == pytest.approx(-li0 * ph.M_H2O / 2, rel=1e-12)
    assert thermo.heat(t_a) == pytest.approx(-li0 * prm["lioh_decomp_dh_j_per_mol"], rel=1e-12)
    assert thermo.heat(t_b) == pytest.approx(thermo.heat(t_a), rel=1e-9)
