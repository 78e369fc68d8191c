"""The validation harness (table, JSON, exit status, crash handling) and the quick analytic checks."""

from __future__ import annotations

import json
import math

import pytest

import mcsim.validate  # noqa: F401 - registers the checks
from mcsim.validate import analytic, harness
from mcsim.validate.harness import CheckResult


@pytest.fixture
def scratch_check():
    """Register throw-away check functions under a unique group; unregister them afterwards."""
    added = []

    def add(fn):
        harness.register("zz-scratch", "numerics")(fn)
        added.append(fn)
        return fn

    yield add
    for fn in added:
        harness.unregister(fn)


def _ok(quick):
    return [CheckResult("zz-scratch", "ok", 1.0, 1.0, "== 1", True, "fine", kind="numerics")]


def _bad(quick):
    return [CheckResult("zz-scratch", "bad", "x < 1", 2.5, "< 1", False, "too big",
                        kind="prediction")]


def _boom(quick):
    raise RuntimeError("kernel exploded")


def test_table_has_columns_verdicts_and_summary():
    rows = [CheckResult("g", "a", 1.0, 1.01, "<= 2 %", True, "some detail", kind="numerics"),
            CheckResult("g", "b", "text target", math.nan, "n/a", False, kind="cross-check")]
    table = harness.format_table(rows)
    lines = table.splitlines()
    for col in ("check", "kind", "target", "simulated", "spread", "tolerance", "verdict"):
        assert col in lines[0]
    assert any(line.startswith("g/a") and "numerics" in line and line.rstrip().endswith("PASS")
               for line in lines)
    assert any(line.startswith("g/b") and "cross-check" in line
               and line.rstrip().endswith("FAIL") for line in lines)
    assert "some detail" in table
    assert lines[-1] == "1 passed, 1 failed (failed: 1 cross-check)"
    assert "some detail" not in harness.format_table(rows, details=False)


def test_results_round_trip_through_json_with_counts_and_nan():
    rows = [CheckResult("g", "a", 134.0, 131.7, "<= 5 %", True, "d", kind="numerics"),
            CheckResult("g", "b", "1-exp(-kt)", math.nan, "no exception", False, "raised",
                        kind="numerics")]
    text = harness.to_json(rows)
    doc = json.loads(text)
    assert doc["passed"] == 1 and doc["failed"] == 1
    back = harness.from_json(text)
    assert back[0] == rows[0]
    assert back[1].target == "1-exp(-kt)" and math.isnan(back[1].simulated)
    assert back[1].passed is False


def test_main_exits_1_on_a_failed_or_unmatched_check_and_writes_json(scratch_check, tmp_path,
                                                                    capsys):
    scratch_check(_ok)
    assert harness.main(["--only", "zz-scratch", "--quick"]) == 0
    scratch_check(_bad)
    out = tmp_path / "v.json"
    assert harness.main(["--only", "zz-scratch", "--json", str(out)]) == 1
    table = capsys.readouterr().out
    assert "zz-scratch/bad" in table and "FAIL" in table
    assert "1 passed, 1 failed (failed: 1 prediction)" in table
    doc = json.loads(out.read_text())
    assert [r["name"] for r in doc["results"]] == ["ok", "bad"]
    assert [r["kind"] for r in doc["results"]] == ["numerics", "prediction"]
    assert doc["failed_by_kind"] == {"prediction": 1}
    # nothing matches: not a silent pass, and not a failed check either: a bad argument,
    # refused before any work with a pointer to --list
    capsys.readouterr()
    assert harness.main(["--only", "no-such-check-anywhere"]) == 2
    err = capsys.readouterr().err
    assert "matches no check" in err and "--list" in err
    assert harness.main(["--list", "--only", "zz-scratch"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed == ["zz-scratch/_ok  (numerics)", "zz-scratch/_bad  (numerics)"]  # as registered


def test_raising_check_is_a_fail_not_a_crash(scratch_check):
    scratch_check(_boom)
    scratch_check(_ok)
    results = harness.run_checks(quick=True, only="zz-scratch")
    assert [r.passed for r in results] == [False, True]
    assert "RuntimeError" in results[0].detail and "kernel exploded" in results[0].detail
    assert results[0].name == "_boom"
    assert results[0].kind == "numerics"  # the kind it was registered with
    assert harness.main(["--only", "zz-scratch"]) == 1


def test_analytic_checks_are_registered():
    names = {fn.__name__ for group, fn in harness.registered() if group == "analytic"}
    assert {"check_crank_sphere", "check_first_order", "check_ginstling_brounshtein",
            "check_kissinger"} <= names


def test_crank_ginstling_and_kissinger_references_are_exact():
    # Crank eq. 6.20 against its series summed here independently (math.fsum, 20 000 terms
    # against the library's 400), on both sides of the join (tau = 0.05) of the series and
    # the short-time form, and no step at the join
    def series(tau, terms=20000):
        return 1.0 - 6.0 / math.pi ** 2 * math.fsum(
            math.exp(-(n * math.pi) ** 2 * tau) / (n * n) for n in range(1, terms + 1))

    for tau in (2e-3, 0.01, 0.03, 0.0499, 0.05, 0.0501, 0.08, 0.2, 1.0):
        assert analytic.crank_sphere_uptake(tau)[0] == pytest.approx(series(tau), abs=2e-6), tau
    below, above = analytic.crank_sphere_uptake([0.05 - 1e-9, 0.05 + 1e-9])
    assert abs(above - below) < 1e-6  # no step at the join
    assert analytic.crank_sphere_uptake(0.0)[0] == pytest.approx(0.0, abs=1e-12)
    assert analytic.crank_sphere_uptake(2.0)[0] == pytest.approx(1.0, abs=1e-8)
    assert analytic.ginstling_brounshtein(1.0) == pytest.approx(1.0 / 3.0)
    # Kissinger on exact peak positions returns Ea exactly
    ea, a = 134e3, 1.27e10
    r = analytic.R_GAS_J_PER_MOL_K
    from scipy.optimize import brentq

    betas = (2.0, 5.0, 10.0, 20.0)
    peaks = [brentq(lambda t, b=b: b / 60 * ea / (r * t * t) - a * math.exp(-ea / (r * t)),
                    400, 800) - 273.15 for b in betas]
    assert analytic.kissinger_ea(betas, peaks)[0] == pytest.approx(ea, rel=1e-9)


@pytest.mark.parametrize("check", ["crank_sphere", "first_order", "ginstling_brounshtein",
                                   "kissinger"])
def test_quick_analytic_check_passes(check):
    results = getattr(analytic, f"check_{check}")(True)
    assert results
    for r in results:
        assert r.passed, harness.format_table([r])
        assert r.kind == "numerics" and r.calibrated_by == ()
