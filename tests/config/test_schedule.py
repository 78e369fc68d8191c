"""Tests of heating schedules in mcsim.schedule."""

import dataclasses
import math

import numpy as np
import pytest
from scipy import integrate

from mcsim.errors import ConfigError
from mcsim.schedule import PRESETS, Schedule, Segment

R_J_PER_MOL_K = 8.314462618
MIN = 60.0


def two_step():
    return Schedule.preset("TS-NCM")


# ----------------------------------------------------------------------------- presets

def test_the_presets_are_the_five_named_schedules_in_order():
    assert PRESETS == ("R-NCM", "TS-NCM", "quasi-equilibrium", "interrupted", "ramp")


def test_r_ncm_ramps_to_850c_holds_12_h_and_cools_back():
    s = Schedule.preset("R-NCM")
    ramp_min = (850 - 25) / 5
    assert s.duration_s == pytest.approx((ramp_min + 720 + ramp_min) * MIN)
    assert s.max_c == 850.0 and s.start_c == 25.0 and s.end_c == 25.0
    assert s.temperature_c(ramp_min * MIN) == 850.0
    assert s.temperature_c((ramp_min + 720) * MIN) == 850.0
    assert s.temperature_c(s.duration_s) == 25.0
    assert [seg.kind for seg in s.segments] == ["ramp", "hold", "cool"]


def test_r_ncm_ramp_rate_option_sets_the_heating_rate():
    s = Schedule.preset("R-NCM", ramp_c_per_min=10)
    assert s.segments[0].duration_s == pytest.approx((850 - 25) / 10 * MIN)
    assert s.rate_c_per_s(1.0) == pytest.approx(10 / MIN)


def test_ts_ncm_holds_6_h_at_250c_then_6_h_at_850c():
    s = two_step()
    expected_min = (250 - 25) / 5 + 360 + (850 - 250) / 5 + 360 + (850 - 25) / 5
    assert s.duration_s == pytest.approx(expected_min * MIN)
    assert s.temperature_c(45 * MIN + 100.0) == 250.0       # during the 250 °C hold
    assert s.temperature_c((45 + 360 + 120) * MIN + 1.0) == 850.0
    assert s.time_at_c(250.0) == pytest.approx(45 * MIN)
    assert s.time_at_c(850.0) == pytest.approx((45 + 360 + 120) * MIN)
    assert [seg.kind for seg in s.segments] == ["ramp", "hold", "ramp", "hold", "cool"]


def test_ts_ncm_options_set_the_first_hold_and_the_ramp_rate():
    s = Schedule.preset("TS-NCM", hold_c=400, hold_min=60, ramp_c_per_min=2)
    assert s.segments[1].start_c == 400.0
    assert s.segments[1].duration_s == pytest.approx(60 * MIN)
    assert s.segments[0].duration_s == pytest.approx((400 - 25) / 2 * MIN)


def test_preset_holds_of_zero_minutes_are_left_out():
    """A sweep over hold times may start at 0 h: the preset then has no hold step."""
    zero = Schedule.preset("TS-NCM", hold_min=0)
    some = Schedule.preset("TS-NCM", hold_min=60)
    assert some.duration_s - zero.duration_s == pytest.approx(3600.0)
    assert zero.temperature_c(zero.time_at_c(250.0) + 60.0) > 250.0  # no plateau at 250 C


def test_quasi_equilibrium_holds_5_min_every_25c_from_100_to_850c():
    s = Schedule.preset("quasi-equilibrium")
    temps = list(range(100, 851, 25))
    assert s.duration_s == pytest.approx(((850 - 25) / 5 + 5 * len(temps)) * MIN)
    holds = [seg for seg in s.segments if seg.kind == "hold"]
    assert [h.start_c for h in holds] == [float(t) for t in temps]
    assert all(h.duration_s == pytest.approx(5 * MIN) for h in holds)
    assert s.end_c == 850.0 and s.segments[-1].kind == "hold"


def test_quasi_equilibrium_steps_and_relax_time_set_the_holds():
    s = Schedule.preset("quasi-equilibrium", step_temperatures_c=[200, 400], relax_min=10)
    assert s.duration_s == pytest.approx(((400 - 25) / 5 + 20) * MIN)
    assert s.end_c == 400.0


@pytest.mark.parametrize("quench_at_c", [100, 200, 250, 300, 500, 700, 850])
def test_interrupted_ramp_quenches_to_25c_at_the_chosen_temperature(quench_at_c):
    s = Schedule.preset("interrupted", quench_at_c=quench_at_c)
    t_quench = (quench_at_c - 25) / 5 * MIN
    assert s.duration_s == pytest.approx(t_quench)
    assert s.max_c == quench_at_c and s.end_c == 25.0
    assert s.temperature_c(t_quench * (1 - 1e-9)) == pytest.approx(quench_at_c, abs=1e-4)
    assert s.temperature_c(t_quench) == 25.0


def test_ramp_preset_is_one_ramp_to_its_target():
    s = Schedule.preset("ramp", to_c=1000, ramp_c_per_min=10)
    assert s.duration_s == pytest.approx(97.5 * MIN)
    assert s.end_c == 1000.0 and len(s.segments) == 1


def test_start_c_is_the_first_and_last_temperature_of_a_preset():
    s = Schedule.preset("R-NCM", start_c=30.0)
    assert s.start_c == 30.0 and s.end_c == 30.0
    assert s.temperature_c(-10.0) == 30.0


@pytest.mark.parametrize("name, options, key", [
    ("R-NCX", {}, "schedule.preset"),
    ("R-NCM", {"bogus": 1}, "schedule.bogus"),
    ("R-NCM", {"ramp_c_per_min": 0}, "schedule.ramp_c_per_min"),
    ("R-NCM", {"ramp_c_per_min": 5000}, "schedule.ramp_c_per_min"),
    ("TS-NCM", {"hold_min": -1}, "schedule.hold_min"),
    ("TS-NCM", {"hold_c": 900}, "schedule.peak_c"),
    ("TS-NCM", {"hold_c": 10}, "schedule.hold_c"),
    ("interrupted", {}, "schedule.quench_at_c"),
    ("interrupted", {"quench_at_c": 20}, "schedule.quench_at_c"),
    ("ramp", {}, "schedule.to_c"),
    ("ramp", {"to_c": "hot"}, "schedule.to_c"),
    ("quasi-equilibrium", {"step_temperatures_c": [100, 90]},
     "schedule.step_temperatures_c[1]"),
    ("quasi-equilibrium", {"step_temperatures_c": []}, "schedule.step_temperatures_c"),
    ("quasi-equilibrium", {"relax_min": 0}, "schedule.relax_min"),
])
def test_bad_preset_raises_config_error_with_key(name, options, key):
    with pytest.raises(ConfigError) as info:
        Schedule.preset(name, **options)
    assert info.value.key == key


def test_unknown_preset_lists_allowed_names():
    with pytest.raises(ConfigError) as info:
        Schedule.preset("nope")
    for name in PRESETS:
        assert name in str(info.value)


# ------------------------------------------------------------------- temperature_c

def test_temperature_is_continuous_across_ramp_hold_joins():
    s = two_step()
    for t_join in s.breakpoints_s[1:-1]:
        before = s.temperature_c(t_join - 1e-6)
        after = s.temperature_c(t_join + 1e-6)
        assert s.temperature_c(t_join) == pytest.approx(before, abs=1e-6)
        assert s.temperature_c(t_join) == pytest.approx(after, abs=1e-6)


def test_a_quench_drops_the_temperature_at_one_instant():
    s = Schedule.from_steps(25.0, [{"ramp_c_per_min": 10, "to_c": 525},
                                   {"quench_to_c": 50},
                                   {"hold_min": 10}])
    t_q = 50 * MIN
    assert s.temperature_c(t_q - 1e-7) == pytest.approx(525.0, abs=1e-6)
    assert s.temperature_c(t_q) == 50.0
    assert s.temperature_c(t_q + 1.0) == 50.0
    assert s.segments[1] == Segment("quench", t_q, t_q, 525.0, 50.0)
    assert s.time_at_c(50.0) == pytest.approx(25 / 10 * MIN)  # passed 50 °C while heating
    assert s.time_at_c(50.0, occurrence=1) == t_q
    assert s.time_at_c(300.0, occurrence=1) is None  # the quench skips over 300 °C


def test_temperature_holds_and_rate_is_zero_outside_the_schedule():
    s = Schedule.preset("ramp", to_c=500)
    assert s.temperature_c(-1e6) == 25.0
    assert s.temperature_c(s.duration_s + 1e6) == 500.0
    assert s.rate_c_per_s(-1.0) == 0.0 and s.rate_c_per_s(s.duration_s + 1) == 0.0


def test_vectorised_temperature_equals_scalar():
    s = Schedule.from_steps(20.0, [{"ramp_c_per_min": 7, "to_c": 300}, {"hold_min": 30},
                                   {"cool_c_per_min": 3, "to_c": 200},
                                   {"quench_to_c": 0}, {"hold_min": 5}])
    times = np.concatenate([np.linspace(-100, s.duration_s + 100, 1001), s.breakpoints_s])
    vector = s.temperature_c(times)
    assert vector.shape == times.shape
    assert np.array_equal(vector, [s.temperature_c(float(t)) for t in times])
    rates = s.rate_c_per_s(times)
    assert np.array_equal(rates, [s.rate_c_per_s(float(t)) for t in times])
    grid = s.temperature_c(times.reshape(-1, 2))
    assert grid.shape == (times.size // 2, 2)
    assert isinstance(s.temperature_c(10.0), float)


def test_rate_is_the_slope_of_each_segment():
    s = Schedule.preset("R-NCM")
    assert s.rate_c_per_s(10.0) == pytest.approx(5 / MIN)
    assert s.rate_c_per_s(200 * MIN) == 0.0
    assert s.rate_c_per_s(900 * MIN) == pytest.approx(-5 / MIN)


def test_breakpoints_join_the_segments_and_the_schedule_is_immutable():
    s = two_step()
    expected = np.array([0, 45, 405, 525, 885, 1050]) * MIN
    assert np.allclose(s.breakpoints_s, expected)
    assert len(s.segments) == 5
    with pytest.raises(AttributeError):
        s.start_c = 3.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.segments[0].end_c = 1.0


# ----------------------------------------------------------------------- time_at_c

@pytest.mark.parametrize("temp_c", np.linspace(25.0, 850.0, 67))
def test_time_at_c_inverts_the_temperature_on_heating_and_cooling(temp_c):
    s = Schedule.preset("R-NCM")
    t_heat = s.time_at_c(temp_c)
    assert s.temperature_c(t_heat) == pytest.approx(temp_c, abs=1e-9)
    assert s.rate_c_per_s(t_heat) >= 0.0
    if temp_c < 850.0:
        t_cool = s.time_at_c(temp_c, occurrence=1)
        assert t_cool > s.time_at_c(850.0)
        assert s.temperature_c(t_cool) == pytest.approx(temp_c, abs=1e-9)


def test_time_at_c_counts_occurrences_and_gives_a_holds_start():
    s = two_step()
    # 250 °C: reached while heating (hold start), then again while cooling
    assert s.time_at_c(250.0) == pytest.approx(45 * MIN)
    assert s.time_at_c(250.0, occurrence=1) == pytest.approx((885 + 120) * MIN)
    assert s.time_at_c(250.0, occurrence=2) is None
    # the 850 °C ramp end, hold and start of cooling form one occurrence
    assert s.time_at_c(850.0, occurrence=1) is None
    assert s.time_at_c(900.0) is None
    assert s.time_at_c(25.0) == 0.0
    assert s.time_at_c(25.0, occurrence=1) == pytest.approx(s.duration_s)


def test_time_at_c_on_quasi_equilibrium_hold_returns_hold_start():
    s = Schedule.preset("quasi-equilibrium")
    hold = next(seg for seg in s.segments if seg.kind == "hold" and seg.start_c == 500.0)
    assert s.time_at_c(500.0) == hold.t_start_s
    assert s.time_at_c(500.0, occurrence=1) is None


# ------------------------------------------------------------------- from_steps errors

@pytest.mark.parametrize("steps, key", [
    ([], "schedule.steps"),
    ("ramp", "schedule.steps"),
    ([5], "schedule.steps[0]"),
    ([{"ramp_c_per_min": 5}], "schedule.steps[0]"),
    ([{"to_c": 100}], "schedule.steps[0]"),
    ([{"hold_min": 5, "to_c": 100}], "schedule.steps[0]"),
    ([{"ramp_c_per_min": 5, "cool_c_per_min": 5, "to_c": 100}], "schedule.steps[0]"),
    ([{"hold_min": 5}, {"ramp_c_per_min": 5, "to_c": 100, "hold": 3}],
     "schedule.steps[1].hold"),
    ([{"ramp_c_per_min": "5", "to_c": 100}], "schedule.steps[0].ramp_c_per_min"),
    ([{"ramp_c_per_min": True, "to_c": 100}], "schedule.steps[0].ramp_c_per_min"),
    ([{"ramp_c_per_min": 0, "to_c": 100}], "schedule.steps[0].ramp_c_per_min"),
    ([{"ramp_c_per_min": -5, "to_c": 100}], "schedule.steps[0].ramp_c_per_min"),
    ([{"ramp_c_per_min": 1001, "to_c": 100}], "schedule.steps[0].ramp_c_per_min"),
    ([{"ramp_c_per_min": math.nan, "to_c": 100}], "schedule.steps[0].ramp_c_per_min"),
    ([{"ramp_c_per_min": 5, "to_c": 2500}], "schedule.steps[0].to_c"),
    ([{"ramp_c_per_min": 5, "to_c": None}], "schedule.steps[0].to_c"),
    ([{"ramp_c_per_min": 5, "to_c": 20}], "schedule.steps[0].to_c"),
    ([{"ramp_c_per_min": 5, "to_c": 25}], "schedule.steps[0].to_c"),
    ([{"ramp_c_per_min": 5, "to_c": 250}, {"hold_min": 60},
      {"ramp_c_per_min": 5, "to_c": 200}], "schedule.steps[2].to_c"),
    ([{"cool_c_per_min": 5, "to_c": 100}], "schedule.steps[0].to_c"),
    ([{"cool_c_per_min": 5, "to_c": -300}], "schedule.steps[0].to_c"),
    ([{"ramp_c_per_min": 5, "to_c": 100}, {"cool_c_per_min": 0, "to_c": 50}],
     "schedule.steps[1].cool_c_per_min"),
    ([{"hold_min": 0}], "schedule.steps[0].hold_min"),
    ([{"hold_min": -3}], "schedule.steps[0].hold_min"),
    ([{"hold_min": math.inf}], "schedule.steps[0].hold_min"),
    ([{"hold_min": "1h"}], "schedule.steps[0].hold_min"),
    ([{"quench_to_c": 100}], "schedule.steps[0].quench_to_c"),
    ([{"quench_to_c": 25}], "schedule.steps[0].quench_to_c"),
    ([{"ramp_c_per_min": 5, "to_c": 100}, {"quench_to_c": -274}],
     "schedule.steps[1].quench_to_c"),
])
def test_invalid_steps_raise_config_error_naming_key(steps, key):
    with pytest.raises(ConfigError) as info:
        Schedule.from_steps(25.0, steps)
    assert info.value.key == key
    assert key in str(info.value)


def test_error_message_names_previous_step_temperature():
    steps = [{"ramp_c_per_min": 5, "to_c": 250}, {"hold_min": 60},
             {"ramp_c_per_min": 5, "to_c": 200}]
    with pytest.raises(ConfigError) as info:
        Schedule.from_steps(25.0, steps)
    message = str(info.value)
    assert "200" in message and "step 1 (250.0 °C)" in message and "ramp" in message


def test_errors_name_a_custom_key_and_its_start_temperature():
    with pytest.raises(ConfigError) as info:
        Schedule.from_steps(25.0, [{"hold_min": -1}], key="run.heating.steps")
    assert info.value.key == "run.heating.steps[0].hold_min"
    with pytest.raises(ConfigError) as info:
        Schedule.from_steps(3000.0, [{"hold_min": 1}], key="run.heating.steps")
    assert info.value.key == "run.heating.start_c"


def test_segments_must_be_contiguous():
    with pytest.raises(ConfigError):
        Schedule(25.0, [Segment("ramp", 0.0, 60.0, 25.0, 30.0),
                        Segment("hold", 61.0, 120.0, 30.0, 30.0)])
    with pytest.raises(ConfigError):
        Schedule(25.0, [Segment("quench", 0.0, 1.0, 25.0, 0.0)])


# -------------------------------------------------------------------- round trip

@pytest.mark.parametrize("name, options", [
    ("R-NCM", {}), ("TS-NCM", {"hold_c": 333.3, "ramp_c_per_min": 3.7}),
    ("quasi-equilibrium", {}), ("interrupted", {"quench_at_c": 700}),
    ("ramp", {"to_c": 1234.5, "ramp_c_per_min": 0.3}),
])
def test_preset_steps_rebuild_the_same_schedule(name, options):
    s = Schedule.preset(name, **options)
    again = Schedule.from_steps(s.start_c, s.to_steps())
    assert again == s
    assert again.to_steps() == s.to_steps()


def test_user_steps_round_trip_unchanged():
    steps = [{"ramp_c_per_min": 2.5, "to_c": 480.0}, {"hold_min": 90.0},
             {"cool_c_per_min": 1.1, "to_c": 300.0}, {"quench_to_c": 20.0},
             {"hold_min": 1.5}]
    s = Schedule.from_steps(20.0, steps)
    assert s.to_steps() == steps
    assert Schedule.from_steps(20.0, s.to_steps()) == s


def test_describe_lists_every_segment():
    text = two_step().describe()
    lines = text.splitlines()
    assert len(lines) == 2 + 5
    for word in ("ramp", "hold", "cool", "850", "250"):
        assert word in text


# ------------------------------------------------------------- Arrhenius integral

def _reference(s, a_per_s, ea_j_per_mol, t0_s, t1_s):
    def integrand(t):
        return a_per_s * math.exp(-ea_j_per_mol / (R_J_PER_MOL_K * (s.temperature_c(t) + 273.15)))
    points = [p for p in s.breakpoints_s if t0_s < p < t1_s]
    value, _ = integrate.quad(integrand, t0_s, t1_s, points=points or None,
                              epsabs=0.0, epsrel=1e-13, limit=500)
    return value


@pytest.mark.parametrize("ea_j_per_mol", [5e4, 1.5e5, 3e5])
def test_arrhenius_on_ramp_matches_quad(ea_j_per_mol):
    s = Schedule.preset("ramp", to_c=900)
    expected = _reference(s, 1e10, ea_j_per_mol, 0.0, s.duration_s)
    got = s.integrate_arrhenius(1e10, ea_j_per_mol, 0.0, s.duration_s)
    assert got == pytest.approx(expected, rel=1e-8)


def test_arrhenius_on_hold_is_exact():
    s = Schedule.preset("R-NCM")
    t0, t1 = 200 * MIN, 700 * MIN
    expected = 3e7 * math.exp(-1.2e5 / (R_J_PER_MOL_K * (850 + 273.15))) * (t1 - t0)
    assert s.integrate_arrhenius(3e7, 1.2e5, t0, t1) == pytest.approx(expected, rel=1e-13)
    assert s.integrate_arrhenius(3e7, 1.2e5, t0, t1) == pytest.approx(
        _reference(s, 3e7, 1.2e5, t0, t1), rel=1e-8)


def test_arrhenius_across_the_two_step_schedule_matches_quad():
    s = two_step()
    t0, t1 = 10 * MIN, 1000 * MIN  # starts inside a ramp, ends during cooling
    expected = _reference(s, 1e6, 1.0e5, t0, t1)
    assert s.integrate_arrhenius(1e6, 1.0e5, t0, t1) == pytest.approx(expected, rel=1e-8)


def test_arrhenius_integral_is_antisymmetric_and_constant_rate_outside():
    s = Schedule.preset("ramp", to_c=500)
    assert s.integrate_arrhenius(2.0, 0.0, 0.0, 100.0) == pytest.approx(200.0, rel=1e-14)
    assert s.integrate_arrhenius(1.0, 8e4, 50.0, 50.0) == 0.0
    forward = s.integrate_arrhenius(1.0, 8e4, 10.0, 3000.0)
    assert s.integrate_arrhenius(1.0, 8e4, 3000.0, 10.0) == -forward
    # before t = 0 the temperature is start_c; after the end it is end_c
    before = s.integrate_arrhenius(1.0, 8e4, -100.0, 0.0)
    assert before == pytest.approx(100.0 * math.exp(-8e4 / (R_J_PER_MOL_K * 298.15)), rel=1e-13)
    end = s.duration_s
    after = s.integrate_arrhenius(1.0, 8e4, end, end + 100.0)
    assert after == pytest.approx(100.0 * math.exp(-8e4 / (R_J_PER_MOL_K * 773.15)), rel=1e-13)
