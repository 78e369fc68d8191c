"""What each validation check proves: its kind, the parameters fitted to it, seeds and spread,
the two bases of the Rietveld fractions, the observation checks, and the disorder diagnostic.

The observation checks run in their quick variant on one seed and read the runs
:mod:`mcsim.validate.paper` caches, so the quick 5 C/min ramp is shared with
``test_validate_paper.py`` when both run in one session.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import mcsim.validate  # noqa: F401 - registers every check module
from mcsim import params
from mcsim.validate import harness, observations, paper
from mcsim.validate.harness import KINDS, CheckResult


def _calibration_source_ok(name: str) -> bool:
    sources = [t[name].source for t in params.PARAMETER_SETS.values() if name in t]
    return bool(sources) and all(s.lower().startswith("calibrated") for s in sources)


# ---------------------------------------------------------------------------- the record
def test_kind_is_required_and_one_of_four():
    assert set(KINDS) == {"numerics", "calibrated", "cross-check", "prediction"}
    with pytest.raises(TypeError):
        CheckResult("g", "a", 1.0, 1.0, "", True)  # no kind
    with pytest.raises(ValueError, match="kind"):
        CheckResult("g", "a", 1.0, 1.0, "", True, kind="tuned")
    with pytest.raises(ValueError, match="calibrated"):
        CheckResult("g", "a", 1.0, 1.0, "", True, kind="calibrated")  # names no parameter
    with pytest.raises(ValueError, match="calibrated"):
        CheckResult("g", "a", 1.0, 1.0, "", True, kind="prediction",
                    calibrated_by=("d_cap_m2_per_s",))
    with pytest.raises(ValueError, match="seeds"):
        CheckResult("g", "a", 1.0, 1.0, "", True, kind="numerics", seeds=(1, 2), per_seed=(1.0,))


def test_every_registered_function_declares_a_valid_kind():
    fns = harness.registered()
    assert {g for g, _ in fns} >= {"analytic", "paper", "microstructure", "observations"}
    for group, fn in fns:
        kind, calibrated_by = harness._KIND_OF[fn]
        assert kind in KINDS, (group, fn.__name__)
        assert (kind == "calibrated") == bool(calibrated_by)


def test_calibrated_parameters_are_read_from_the_parameter_table():
    names = harness.calibrated_parameters("Fig. 2j")
    assert "d_cap_m2_per_s" in names and "dehydration_a_per_s" in names
    for name in names:
        assert _calibration_source_ok(name)
        assert "Fig. 2j" in params.PARAMETER_SETS["ncm622-lioh"][name].source
    # the Li2CO3 release is a parameter of its own set
    li2co3 = harness.calibrated_parameters("Ext. Data Fig. 2", parameter_set="ncm622-li2co3")
    assert "release_a_per_s" in li2co3 and "rocksalt_lithiation_a_per_s" in li2co3
    assert harness.calibrated_parameters("no such figure") == ()
    # every registered calibrated function names existing, calibrated parameters
    for _, fn in harness.registered():
        kind, calibrated_by = harness._KIND_OF[fn]
        for name in calibrated_by:
            assert _calibration_source_ok(name), (fn.__name__, name)


def test_d_cap_is_declared_as_calibrated_with_its_effect():
    p = params.PARAMETER_SETS["ncm622-lioh"]["d_cap_m2_per_s"]
    assert p.source.startswith("calibrated") and "Fig. 2j" in p.source
    assert "ceiling" in p.source and "speed-up" not in p.source.replace("not a speed-up", "")
    # the Arrhenius law meets the cap where the source string says (~264 C)
    lioh = params.PARAMETER_SETS["ncm622-lioh"]
    t_cap = lioh["d_fast_ea_j_per_mol"].value / (8.314462618 * math.log(
        lioh["d_fast_d0_m2_per_s"].value / p.value)) - 273.15
    assert 254 < t_cap < 274


def test_json_round_trip_keeps_kind_parameters_and_seeds():
    rows = [CheckResult("g", "a", 0.697, 0.70, "+-0.05", True, "d", kind="calibrated",
                        calibrated_by=("d_cap_m2_per_s",), seeds=(1, 2, 3),
                        per_seed=(0.69, 0.70, 0.71)),
            CheckResult("g", "b", "> 0", math.nan, "> 0", False, kind="prediction",
                        seeds=(1, 2), per_seed=(math.nan, 1.0)),
            CheckResult("g", "c", 1.0, 1.0, "exact", True, kind="numerics")]
    text = harness.to_json(rows)
    doc = json.loads(text)
    assert [r["kind"] for r in doc["results"]] == ["calibrated", "prediction", "numerics"]
    assert doc["results"][0]["calibrated_by"] == ["d_cap_m2_per_s"]
    assert doc["results"][0]["spread"] == pytest.approx(0.01)
    assert doc["failed_by_kind"] == {"prediction": 1}
    back = harness.from_json(text)
    assert back[0] == rows[0] and back[2] == rows[2]
    assert back[1].kind == "prediction" and math.isnan(back[1].per_seed[0])


def test_table_shows_kind_spread_and_failures_by_kind():
    rows = [CheckResult("g", "a", 0.697, 0.70, "+-0.05", True, "d", kind="calibrated",
                        calibrated_by=("d_cap_m2_per_s",), seeds=(1, 2, 3),
                        per_seed=(0.69, 0.70, 0.71)),
            CheckResult("g", "b", "> 0", -3.0, "> 0", False, kind="prediction", seeds=(1,),
                        per_seed=(-3.0,))]
    table = harness.format_table(rows)
    assert "sd 0.01, n=3" in table and "1 seed" in table
    assert "calibrated: d_cap_m2_per_s" in table and "1: 0.69, 2: 0.7, 3: 0.71" in table
    assert table.splitlines()[-1] == "1 passed, 1 failed (failed: 1 prediction)"


def test_seeds_option_sets_the_seeds_and_quick_runs_use_the_first(monkeypatch):
    assert harness.build_parser().parse_args([]).seeds == (1, 2, 3)
    assert harness.build_parser().parse_args(["--seeds", "4,7"]).seeds == (4, 7)
    with pytest.raises(SystemExit):
        harness.build_parser().parse_args(["--seeds", "1,1"])
    seen = []

    def probe(quick):
        seen.append((harness.current_seeds(), paper.seeds_for(quick)))
        return [CheckResult("zz-kinds", "probe", 1.0, 1.0, "", True, kind="numerics")]

    harness.register("zz-kinds", "numerics")(probe)
    try:
        harness.run_checks(quick=False, only="zz-kinds", seeds=[5, 6, 7])
        harness.run_checks(quick=True, only="zz-kinds", seeds=[5, 6, 7])
    finally:
        harness.unregister(probe)
    assert seen == [((5, 6, 7), (5, 6, 7)), ((5, 6, 7), (5,))]
    assert harness.current_seeds() == harness.DEFAULT_SEEDS


def test_set_changes_the_model_of_every_simulator_run_and_refuses_other_keys(monkeypatch,
                                                                              tmp_path, capsys):
    """``--set model.KEY=VALUE`` reaches the runs of the paper checks (and is part of their
    cache key) and of the R-NCM/TS-NCM pairs, is written in the JSON and the footer; a key
    outside ``model.`` or a bad value exits 2 naming it, before any run."""
    from mcsim.validate import microstructure

    grain = "model.processes.dehydration='per-grain'"
    assert harness.main(["--set", "particle.radius_um=0.3", "--only", "zz"]) == 2
    assert "particle.radius_um=0.3" in capsys.readouterr().err
    assert harness.main(["--set", "model.processes.dehydration='bogus'", "--only", "zz"]) == 2
    assert "model.processes.dehydration" in capsys.readouterr().err
    simulated, paired = [], []
    monkeypatch.setattr(paper, "_simulate", lambda sets: simulated.append(list(sets)) or {})
    monkeypatch.setattr(microstructure, "ordering_table",
                        lambda quick, seeds: paired.append(harness.model_sets()) or [])

    def probe(quick):
        paper.run(("schedule.to_c=300",), 1)
        microstructure.ordering_rows(quick, (1,))
        return [CheckResult("zz-set", "probe", 1.0, 1.0, "", True, kind="numerics")]

    harness.register("zz-set", "numerics")(probe)
    out = tmp_path / "v.json"
    try:
        assert harness.main(["--set", grain, "--only", "zz-set", "--json", str(out)]) == 0
        assert harness.main(["--only", "zz-set"]) == 0  # the model as shipped: runs again
    finally:
        harness.unregister(probe)
        harness.use_model_sets(())
        for model in ((grain,), ()):  # leave no probe result in the modules' caches
            paper._CACHE.pop((("schedule.to_c=300",), 1, (), model), None)
            microstructure._ROWS.pop((False, (1,), model), None)
    assert simulated[0][-1] == grain and grain not in simulated[1]
    assert paired == [(grain,), ()]
    assert json.loads(out.read_text())["model_sets"] == [grain]
    assert "model changed: " + grain in capsys.readouterr().out


def test_an_ordering_without_the_figure_in_r_ncm_fails_and_prints():
    """TS/R with R-NCM at zero: inf when TS-NCM has some (fails), nan when neither has any
    (fails: the finding needs R-NCM to show it); the table still prints (no overflow)."""
    from mcsim.validate import harness
    from mcsim.validate import microstructure as ms

    def row(seed, r_core, ts_core):
        fig = {"nanopore_density_core_per_um3": 0.0, "central_void_opened": 0.1,
               "core_nanopore_voxels": 0,
               "porosity": 0.25, "mass_porosity": 0.32, "disorder": 0.0}
        return {"seed": seed, "r-ncm": {**fig, "nanopore_density_core_per_um3": r_core},
                "ts-ncm": {**fig, "nanopore_density_core_per_um3": ts_core}}

    rows = [row(1, 0.0, 0.0), row(2, 0.0, 50.0), row(3, 100.0, 10.0)]
    fewer = ms._ratio_result("tsncm_fewer_core_nanopores", rows,
                             "nanopore_density_core_per_um3", False, ms.MAX_NANOPORE_RATIO, False)
    assert math.isnan(fewer.per_seed[0]) and fewer.per_seed[1] == math.inf
    assert fewer.per_seed[2] == pytest.approx(0.1) and not fewer.passed
    huge = harness.CheckResult("g", "n", 1.0, 1e300, "", False, kind="prediction",
                               seeds=(1, 2), per_seed=(0.0, 1e300))
    assert math.isinf(huge.spread)
    assert "g/n" in harness.format_table([fewer, huge])


def test_fewer_core_nanopores_needs_the_pooled_counts_to_bound_the_ratio():
    """Every seed at TS/R 0.2 passes only when the cores hold enough pores for the pooled
    counts to bound the ratio below 0.3 at 95 %; from a handful of pores, or without counts
    (files before schema 3.1), it fails."""
    from mcsim.validate import microstructure as ms

    def row(seed, n_r, n_ts, counts=True):
        def fig(n):
            out = {"nanopore_density_core_per_um3": n / 0.113, "central_void_opened": 0.1,
                   "core_nanopore_voxels": n, "porosity": 0.25, "mass_porosity": 0.32}
            if counts:
                out["nanopore_count_core"] = n
            return out
        return {"seed": seed, "r-ncm": fig(n_r), "ts-ncm": fig(n_ts)}

    many = [row(s, 500, 100) for s in (1, 2, 3)]
    few = [row(s, 10, 2) for s in (1, 2, 3)]
    for rows, passes in ((many, True), (few, False),
                         ([row(s, 500, 100, counts=False) for s in (1, 2, 3)], False)):
        fewer = ms.ordering_results(rows, quick=False)[0]
        assert fewer.name == "tsncm_fewer_core_nanopores"
        assert fewer.per_seed == pytest.approx((0.2, 0.2, 0.2))
        assert fewer.passed is passes, fewer.detail
    assert "300 / 1500 core nanopores" in ms.ordering_results(many, quick=False)[0].detail


def test_ordering_line_marks_a_missing_count_instead_of_printing_minus_one():
    """A result file before schema 3.1 has no core count (the row holds -1): the per-seed line
    prints "?" for it, and the count itself where there is one."""
    from mcsim.validate import microstructure as ms

    fig = {"nanopore_density_core_per_um3": 300.0, "central_void_opened": 0.1,
           "core_nanopore_voxels": 40, "porosity": 0.25, "mass_porosity": 0.32}
    rows = [{"seed": 1, "r-ncm": {**fig, "nanopore_count_core": -1},
             "ts-ncm": {**fig, "nanopore_count_core": 34}}]
    text = ms.format_ordering(rows)
    assert "(? / 34 pores" in text and "-1" not in text


# ------------------------------------------------------------------- Rietveld bases (Fig. 2j)
def test_tm_mole_and_weight_fractions_convert_as_computed_by_hand():
    # molar masses per TM (Ni0.6Co0.2Mn0.2 = 57.990 g/mol): TM(OH)2 92.004, TMO 73.989,
    # LiTMO2 96.928; x = (0.1, 0.2, 0.7) -> masses 9.2004, 14.7978, 67.8496 (sum 91.8478)
    w = paper.tm_to_weight([0.1, 0.2, 0.7])
    np.testing.assert_allclose(w, [0.10017, 0.16111, 0.73872], atol=2e-5)
    np.testing.assert_allclose(paper.weight_to_tm(w), [0.1, 0.2, 0.7], atol=1e-12)
    # the paper's 10.9 / 19.5 / 69.7 read as weights are these TM shares: 0.109/92.004,
    # 0.195/73.989, 0.697/96.928 normalised
    x = paper.weight_to_tm([paper.FIG2J[p] for p in ("hydroxide", "rocksalt", "layered")])
    np.testing.assert_allclose(x, [0.1076, 0.2394, 0.6531], atol=2e-4)


# --------------------------------------------------------------------------- observations
def test_disorder_peak_is_the_plateau_middle_and_fall_is_last_over_peak():
    steps = np.array([200.0, 250.0, 300.0, 350.0, 400.0])
    assert observations.disorder_peak(steps, [0.02, 0.05, 0.08, 0.06, 0.03]) == 300.0
    # a plateau from 200 to 300 C peaks at its middle
    assert observations.disorder_peak(steps, [0.08, 0.08, 0.079, 0.05, 0.01]) == 250.0
    assert math.isnan(observations.disorder_peak(steps, [0, 0, 0, 0, 0]))
    ratio, monotone = observations.disorder_fall(steps, [0.02, 0.05, 0.08, 0.06, 0.03])
    assert ratio == pytest.approx(0.375) and monotone
    assert not observations.disorder_fall(steps, [0.02, 0.08, 0.04, 0.06, 0.03])[1]


def test_tem_onset_is_the_first_temperature_from_which_shell_and_core_stay_apart():
    temp = np.arange(170.0, 305.0, 10.0)
    shell = np.where(temp >= 240, 0.01, -0.001)
    core = np.where(temp >= 200, -0.02, 0.001)
    assert observations.tem_onset(temp, shell, core) == 240.0
    shell[-1] = -0.001  # no longer apart at 300 C
    assert math.isnan(observations.tem_onset(temp, shell, core))


@pytest.fixture(scope="module")
def quick_observations():
    """The quick observation checks that read the ramp and pristine runs (one seed)."""
    out = {}
    for only in ("observations/dta", "observations/tem"):
        for r in harness.run_checks(quick=True, only=only, seeds=[1]):
            out[r.name] = r
    return out


@pytest.mark.parametrize("name", ["dta_exotherm_200C", "dta_pristine_sign", "tem_shell_gain_300C",
                                  "tem_core_loss_300C"])
def test_quick_observation_gives_a_finite_number(quick_observations, name):
    r = quick_observations[name]
    assert r.kind in KINDS and r.seeds == (1,) and len(r.per_seed) == 1
    assert math.isfinite(r.simulated), harness.format_table([r])
    assert "raised" not in r.detail


def test_quick_pristine_event_sign_follows_the_heat(quick_observations):
    """The verdict is the sign of the integrated heat (the model's dehydration enthalpy is
    endothermic, so this is negative until Co/Mn oxidation is modelled)."""
    r = quick_observations["dta_pristine_sign"]
    assert r.passed == (r.simulated > 0)
    assert r.kind == "prediction"


def test_quick_paper_results_carry_kinds_and_seeds():
    results = paper.check_ramp_targets(quick=True)  # cached run, shared with test_validate_paper
    by_name = {r.name: r for r in results}
    for r in results:
        assert r.kind in KINDS and r.seeds == (1,)
        for name in r.calibrated_by:
            assert _calibration_source_ok(name)
    assert by_name["fig2j_layered_300C"].kind == "calibrated"
    assert "d_cap_m2_per_s" in by_name["fig2j_layered_300C"].calibrated_by
    assert by_name["fig2j_layered_300C_weight"].kind == "cross-check"
    tm = [by_name[f"fig2j_{p}_300C"].simulated for p in ("hydroxide", "rocksalt", "layered")]
    wt = [by_name[f"fig2j_{p}_300C_weight"].simulated for p in ("hydroxide", "rocksalt", "layered")]
    np.testing.assert_allclose(wt, paper.tm_to_weight(tm), atol=1e-12)


# ---------------------------------------------------------------------- disorder diagnostic
def test_disorder_mean_is_per_layered_tm():
    """A topotactic layered voxel holds the hydroxide's 1000 quanta, 0.89 of a full layered
    voxel: the mean must not be divided by that fill (it was: 1/0.89 too high)."""
    from mcsim import phases as ph
    from mcsim.diagnostics import Profiles
    from mcsim.state import State, full_amount_table

    n = 12
    phase = np.full((n, n, n), ph.LAYERED, np.uint8)
    amount = np.full((n, n, n), 1000, np.uint16)  # topotactic layered: a hydroxide voxel's TM
    amount[: n // 2] = 500  # half-filled voxels weigh half
    state = State.from_arrays(phase, np.ones((n, n, n), np.int32), amount, radius_vox=n / 2 - 0.5)
    d = state.interior("disorder")
    d[...] = 80
    d[: n // 2] = 20
    out = Profiles(full_amount_table())(state)
    zz, yy, xx = np.meshgrid(*(np.arange(n) - c for c in state.center_vox), indexing="ij")
    inside = np.sqrt(zz ** 2 + yy ** 2 + xx ** 2) < state.radius_vox
    amt = amount[inside].astype(float)
    want = float((d[inside] * amt).sum() / amt.sum() / 1000.0)
    assert out["disorder_mean"] == pytest.approx(want, rel=1e-12)
    assert 0.02 < out["disorder_mean"] < 0.08
