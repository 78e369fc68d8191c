"""Pore statistics in the results, ``mcsim compare`` and the microstructure validation cases.

The compare tests run the tiny particle of tests/support.py, shrunk to R = 0.15 um, on shortened
R-NCM and TS-NCM schedules (to 300 C, 5 min holds) once per module; every number the command
prints or writes is checked against the result files read back with h5py.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import shutil

import h5py
import numpy as np
import pytest

from mcsim import cli
from mcsim import compare as cmp
from mcsim.io.hdf5 import SCHEMA_VERSION
from mcsim.io.info_summary import HISTORY, run_history
from mcsim.pores import SCALARS, pore_statistics

#: A 0.15 um particle on shortened schedules: both presets to 300 C, 5 min holds, fast cool.
SHORT = ("particle.radius_um=0.15", "schedule.peak_c=300", "schedule.hold_min=5",
         "schedule.peak_hold_min=0", "schedule.cool_c_per_min=100",
         "output.snapshot_temperatures_c=[250]")


def _set_args(sets):
    out = []
    for s in sets:
        out += ["--set", s]
    return out


@pytest.fixture(scope="module")
def pair(tmp_path_factory, tiny_sets):
    """``mcsim compare`` on the tiny particle: its output folder, stdout and JSON."""
    base = [s for s in tiny_sets if not s.startswith("schedule.")]
    out = tmp_path_factory.mktemp("compare")
    args = ["compare", *_set_args([*base, *SHORT]), "--seed", "3", "-o", str(out / "runs"),
            "--json", str(out / "c.json"), "--no-progress"]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        status = cli.main(args)
    assert status == 0
    return {"dir": out / "runs", "stdout": buf.getvalue(), "json": out / "c.json",
            "args": args}


def _final(path):
    """Final TM shares and pore scalars read straight from a result file."""
    with h5py.File(path, "r") as f:
        key = sorted(f["pores"])[-1]
        g = f["pores"][key]
        out = {name: float(g[name][()]) for name in SCALARS}
        tm = f["timeseries/tm_phase_fraction"][-1]
        out.update(final_hydroxide=float(tm[0]), final_rocksalt=float(tm[1]),
                   final_layered=float(tm[2]), preset=None)
        ts = f["timeseries"]  # a tally's column exists once its first event was counted

        def last(name):
            return float(ts[name][-1]) if name in ts else math.nan

        out["tm_dehydrated_share"] = last("tm_dehydrated") / last("tm_quanta")
        out["vacancies_annihilated"] = last("vacancies_annihilated")
        out["vacancies_inward"] = last("vacancies_inward")
        out["snapshot_keys"] = sorted(f["snapshots"])
        out["pore_keys"] = sorted(f["pores"])
        out["config"] = f["config"].asstr()[()]
        out["seed"] = int(f.attrs["seed"])
    return out


# -- the engine's pore statistics -------------------------------------------------------------

def test_engine_writes_pores_for_every_snapshot_and_matching_series(small_run):
    with h5py.File(small_run.path, "r") as f:
        snaps = sorted(f["snapshots"])
        assert snaps and sorted(f["pores"]) == snaps
        ps = f["pore_series"]
        assert list(ps["snapshot_index"][()]) == [int(k) for k in snaps]
        for i, key in enumerate(snaps):
            s, p = f["snapshots"][key], f["pores"][key]
            for attr in ("time_s", "temperature_c", "label"):
                assert p.attrs[attr] == s.attrs[attr]
            assert ps["time_s"][i] == s.attrs["time_s"]
            assert ps["temperature_c"][i] == s.attrs["temperature_c"]
            for name in SCALARS:
                a, b = ps[name][i], float(p[name][()])
                assert a == b or (math.isnan(a) and math.isnan(b)), name
        for name in SCALARS:
            assert ps[name].attrs["units"] and ps[name].attrs["description"]
        # the last group is pore_statistics of the final snapshot's fields (a used-up source
        # voxel, amount 0, counted as pore)
        last = f["snapshots"][snaps[-1]]
        want = pore_statistics(last["phase"][()], last["grain"][()],
                               f["geometry/center_vox"][()], float(f["geometry/radius_vox"][()]),
                               float(f.attrs["voxel_nm"]), outline="tags",
                               amount=last["amount"][()],
                               central_void_reference=f["geometry/central_void_reference"][()])
        got = f["pores"][snaps[-1]]
        for name in (*SCALARS, "pore_count"):
            assert float(got[name][()]) == pytest.approx(float(want[name]), nan_ok=True)
        assert np.array_equal(got["pores/volume_voxels"][()], want["pores"]["volume_voxels"])
        assert f.attrs["schema_version"] == SCHEMA_VERSION


def test_info_prints_the_final_pore_scalars(small_run):
    from mcsim.io.info import summarize

    text = summarize(small_run.path)
    with h5py.File(small_run.path, "r") as f:
        last = sorted(f["pores"])[-1]
        count = int(f["pores"][last]["nanopore_count"][()])
        porosity = float(f["pores"][last]["porosity"][()])
    assert "pore statistics" in text
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("nanopore_count"))
    assert int(line.split()[1]) == count
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("porosity "))
    assert float(line.split()[1]) == pytest.approx(porosity, rel=1e-5)
    assert "/pores:" not in text  # not dumped dataset by dataset


# -- mcsim compare ----------------------------------------------------------------------------

def test_compare_runs_both_presets_on_the_same_particle(pair):
    a, b = _final(pair["dir"] / "r-ncm.h5"), _final(pair["dir"] / "ts-ncm.h5")
    assert "preset = \"R-NCM\"" in a["config"] and "preset = \"TS-NCM\"" in b["config"]
    assert a["seed"] == b["seed"] == 3
    assert a["snapshot_keys"] == a["pore_keys"] and b["snapshot_keys"] == b["pore_keys"]
    # TS-NCM on its own hold temperature (preset default 250 C), the shared options applied
    assert "hold_c" not in a["config"] and "hold_min = 5" in b["config"]
    assert "peak_c = 300" in a["config"] and "peak_c = 300" in b["config"]


def test_printed_table_holds_the_numbers_of_the_files(pair):
    a, b = _final(pair["dir"] / "r-ncm.h5"), _final(pair["dir"] / "ts-ncm.h5")
    lines = pair["stdout"].splitlines()
    for key, label, _units in cmp.ROWS:
        line = next(ln for ln in lines if ln.startswith(label))
        cells = line[len(label):].split()
        va, vb, diff = (float(c) for c in cells[1:4])
        assert va == pytest.approx(a[key], rel=1e-3, abs=1e-4, nan_ok=True), key
        assert vb == pytest.approx(b[key], rel=1e-3, abs=1e-4, nan_ok=True), key
        assert diff == pytest.approx(b[key] - a[key], rel=1e-3, abs=1e-4, nan_ok=True), key
        if a[key] != 0 and not math.isnan(a[key] + b[key]):
            assert float(cells[4]) == pytest.approx(b[key] / a[key], abs=1e-3)


def test_json_holds_the_exact_numbers(pair):
    doc = json.loads(pair["json"].read_text())
    a, b = _final(pair["dir"] / "r-ncm.h5"), _final(pair["dir"] / "ts-ncm.h5")
    assert doc["a"]["preset"] == "R-NCM" and doc["b"]["preset"] == "TS-NCM"
    equal = [k for k, _, _ in cmp.EQUAL_TIME_ROWS]
    assert [r["key"] for r in doc["rows"]] == [k for k, _, _ in cmp.ROWS] + equal
    for row in doc["rows"]:
        if row["key"] in equal:
            continue  # test_equal_time_rows_read_both_series_at_the_shorter_hold
        for got, want in ((row["a"], a[row["key"]]), (row["b"], b[row["key"]]),
                          (row["difference"], b[row["key"]] - a[row["key"]])):
            assert got == want or (got is None and math.isnan(want)), row["key"]  # NaN: null
    assert "_peak" not in doc["a"] and doc["a"]["peak_c"] == pytest.approx(300.0)
    assert sorted(doc["figure"]) == sorted(str(pair["dir"] / f"compare.{x}")
                                           for x in ("png", "pdf"))


def _peak_rows(path):
    """(time since the peak began, porosity, by mass) of a result's rows at its highest
    temperature, read straight from the file."""
    with h5py.File(path, "r") as f:
        ts = f["timeseries"]
        t, temp = ts["time_s"][()], ts["temperature_c"][()]
        at = np.flatnonzero(temp >= temp.max() - 0.5)
        sl = slice(at[0], at[-1] + 1)
        return t[sl] - t[at[0]], ts["porosity"][sl], ts["mass_porosity"][sl]


def test_equal_time_rows_read_both_series_at_the_shorter_hold(pair):
    # the fixture's presets hold 0 min at the peak: both rows read the first row there
    doc = json.loads(pair["json"].read_text())
    rows = {r["key"]: r for r in doc["rows"]}
    for name, col in (("porosity_equal_peak_time", 1), ("mass_porosity_equal_peak_time", 2)):
        r = rows[name]
        assert r["time_at_peak_s"] == 0.0
        assert r["a"] == _peak_rows(pair["dir"] / "r-ncm.h5")[col][0]
        assert r["b"] == _peak_rows(pair["dir"] / "ts-ncm.h5")[col][0]
    # summaries with holds of 2 and 5 h: the rows read both at 2 h, the last row not after it
    a = {"peak_c": 850.0, "peak_hold_s": 7200.0,
         "_peak": (np.array([0.0, 3000.0, 7000.0, 7200.0]), np.array([0.3, 0.2, 0.1, 0.09]),
                   np.array([0.4, 0.3, 0.2, 0.19]))}
    b = {"peak_c": 850.2, "peak_hold_s": 18000.0,
         "_peak": (np.array([0.0, 7100.0, 7300.0, 18000.0]), np.array([0.3, 0.15, 0.14, 0.05]),
                   np.array([0.4, 0.25, 0.24, 0.15]))}
    assert cmp.equal_peak_time(a, b) == 7200.0
    assert [cmp._at_peak_time(s, 7200.0, 1) for s in (a, b)] == [0.09, 0.15]
    assert [cmp._at_peak_time(s, 7200.0, 2) for s in (a, b)] == [0.19, 0.25]
    assert math.isnan(cmp.equal_peak_time(a, b | {"peak_c": 800.0}))  # not the same peak
    old = {k: v for k, v in a.items() if k != "_peak"}  # a result without the series
    assert math.isnan(cmp.equal_peak_time(old, b))


def test_figure_files_exist(pair):
    for suffix in ("png", "pdf"):
        path = pair["dir"] / f"compare.{suffix}"
        assert path.is_file() and path.stat().st_size > 10_000


def test_reuse_reads_the_finished_runs_instead_of_rerunning(pair, capsys):
    before = {p: p.stat().st_mtime_ns for p in pair["dir"].glob("*.h5")}
    assert cli.main([*pair["args"], "--reuse", "--no-figure"]) == 0
    after = {p: p.stat().st_mtime_ns for p in pair["dir"].glob("*.h5")}
    assert before == after
    assert "B: TS-NCM" in capsys.readouterr().out


def test_results_mode_compares_two_files(pair, tmp_path, capsys):
    out = tmp_path / "r.json"
    status = cli.main(["compare", "--results", str(pair["dir"] / "r-ncm.h5"),
                       str(pair["dir"] / "ts-ncm.h5"), "--json", str(out), "--no-figure",
                       "-o", str(tmp_path)])
    assert status == 0
    assert json.loads(out.read_text())["rows"] == json.loads(pair["json"].read_text())["rows"]


def test_results_mode_refuses_an_incomplete_file(pair, tmp_path, capsys):
    bad = tmp_path / "bad.h5"
    shutil.copy(pair["dir"] / "ts-ncm.h5", bad)
    with h5py.File(bad, "r+") as f:
        f.attrs["complete"] = np.bool_(False)
    out = tmp_path / "x.json"
    status = cli.main(["compare", "--results", str(pair["dir"] / "r-ncm.h5"), str(bad),
                       "--json", str(out), "-o", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 1 and "INCOMPLETE" in err
    assert not out.exists() and not list(tmp_path.glob("compare.*"))
    # only a .partial there
    shutil.move(bad, str(bad) + ".partial")
    assert cli.main(["compare", "--results", str(pair["dir"] / "r-ncm.h5"), str(bad)]) == 1
    assert "did not finish" in capsys.readouterr().err


def test_several_pairs_pool_the_core_nanopores_with_their_counting_interval(pair, tmp_path,
                                                                             capsys):
    """--results with two pairs (here the same pair twice): one row per pair with the ratios of
    the single comparison, and the core counts pooled over the pairs."""
    from mcsim.validate.counting import rate_ratio_interval

    files = [str(pair["dir"] / "r-ncm.h5"), str(pair["dir"] / "ts-ncm.h5")]
    out = tmp_path / "several.json"
    assert cli.main(["compare", "--results", *files, *files, "--json", str(out),
                     "-o", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("2 pairs, A = R-NCM, B = TS-NCM") and "pooled core nanopores" in text
    doc = json.loads(out.read_text())
    single = {r["key"]: r for r in json.loads(pair["json"].read_text())["rows"]}
    assert len(doc["pairs"]) == 2 and len(doc["findings"]) == 2
    for row in doc["findings"]:
        assert row["seed_a"] == row["seed_b"] == 3
        for key, _label, _finding in cmp.FINDINGS:
            assert row[key]["a"] == single[key]["a"] and row[key]["b"] == single[key]["b"]
            assert row[key]["ratio"] == single[key]["ratio"]
    a, b = _final(pair["dir"] / "r-ncm.h5"), _final(pair["dir"] / "ts-ncm.h5")
    pooled = doc["pooled_core_nanopores"]
    assert (pooled["count_a"], pooled["count_b"]) == (2 * a["nanopore_count_core"],
                                                       2 * b["nanopore_count_core"])
    lower, upper = rate_ratio_interval(pooled["count_b"], pooled["count_a"],
                                       pooled["volume_b_um3"] / pooled["volume_a_um3"])
    assert (pooled["lower"], _inf(pooled["upper"])) == (lower, upper)
    # one figure per pair, numbered, in the output folder
    assert sorted(doc["figure"]) == sorted(str(tmp_path / f"compare-{i}.{x}")
                                           for i in (1, 2) for x in ("png", "pdf"))
    assert cli.main(["compare", "--results", *files, files[0]]) == 2
    assert "pairs of results" in capsys.readouterr().err


def _inf(v):
    return math.inf if v == "inf" else v


def test_seeds_run_one_pair_per_seed_and_check_every_output_first(pair, tmp_path, capsys):
    """--seeds runs the pair of --seed for each seed (seed 3 gives the fixture's figures) in
    DIR/seed-N; a file that a later seed would replace stops everything before the first run."""
    args = [a for a in pair["args"] if a not in ("--json",) and not a.endswith("c.json")]
    i = args.index("--seed")
    args = args[:i] + args[i + 2:]
    j = args.index("-o")
    args[j + 1] = str(tmp_path / "many")
    (tmp_path / "many" / "seed-4").mkdir(parents=True)
    (tmp_path / "many" / "seed-4" / "ts-ncm.h5").write_text("keep me")
    assert cli.main([*args, "--seeds", "3,4", "--no-figure"]) == 2
    assert "would be replaced" in capsys.readouterr().err
    assert not (tmp_path / "many" / "seed-3").exists()
    (tmp_path / "many" / "seed-4" / "ts-ncm.h5").unlink()
    out = tmp_path / "seeds.json"
    assert cli.main([*args, "--seeds", "3,4", "--no-figure", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert [r["seed_a"] for r in doc["findings"]] == [3, 4]
    single = {r["key"]: r for r in json.loads(pair["json"].read_text())["rows"]}
    for key, _label, _finding in cmp.FINDINGS:
        assert doc["findings"][0][key]["a"] == single[key]["a"]
        assert doc["findings"][0][key]["b"] == single[key]["b"]
    for seed in (3, 4):
        for stem in ("r-ncm", "ts-ncm"):
            assert _final(tmp_path / "many" / f"seed-{seed}" / f"{stem}.h5")["seed"] == seed
    assert cli.main([*args, "--seeds", "3,4", "--seed", "3"]) == 2
    assert "--seeds" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main([*args, "--seeds", "3,x"])


def test_bad_compare_arguments_are_configuration_errors(tmp_path, capsys):
    assert cli.main(["compare", "--set", "schedule.preset='ramp'", "-o", str(tmp_path)]) == 2
    assert "schedule.preset" in capsys.readouterr().err
    assert cli.main(["compare", "--set", "schedule.to_c=300", "-o", str(tmp_path)]) == 2
    assert "schedule.to_c" in capsys.readouterr().err
    assert cli.main(["compare", "--results", "a.h5", "b.h5", "--seed", "2"]) == 2
    assert not list(tmp_path.iterdir())


def test_preset_configs_keep_schedule_options_to_their_preset(tmp_path):
    base = tmp_path / "base.toml"
    base.write_text("seed = 4\n[schedule]\npreset = 'R-NCM'\nhold_min = 600.0\nstart_c = 30.0\n")
    cfgs = cmp.preset_configs(base, ["schedule.hold_c=200"], seed=None)
    a, b = cfgs["r-ncm"]["schedule"], cfgs["ts-ncm"]["schedule"]
    assert a == {"preset": "R-NCM", "hold_min": 600.0, "start_c": 30.0}
    assert b == {"preset": "TS-NCM", "hold_c": 200.0, "start_c": 30.0}
    assert cfgs["r-ncm"]["seed"] == cfgs["ts-ncm"]["seed"] == 4
    assert cmp.preset_configs(base, [], seed=9)["ts-ncm"]["seed"] == 9


def test_history_rows_read_the_last_row_and_are_nan_without_the_column():
    with h5py.File("history.h5", "w", driver="core", backing_store=False) as f:
        ts = f.create_group("timeseries")
        ts["tm_dehydrated"] = [0.0, 120.0, 250.0]
        ts["tm_quanta"] = [1000.0, 1000.0, 1000.0]
        ts["vacancies_annihilated"] = [0.0, 7.0, 9.0]
        h = run_history(ts)
    assert h["tm_dehydrated_share"] == 0.25 and h["vacancies_annihilated"] == 9.0
    assert math.isnan(h["vacancies_inward"])  # a result older than the column
    assert [k for k, _, _ in HISTORY] == [k for k, _, _ in cmp.ROWS[-3:]]


# -- validation -------------------------------------------------------------------------------

def test_known_shapes_validation_passes_exactly():
    from mcsim.validate.microstructure import check_known_shapes

    results = check_known_shapes(True)
    assert len(results) == 4 and all(r.passed for r in results), [r.detail for r in results]


def test_rncm_vs_tsncm_quick_verdicts_follow_the_numbers():
    """The quick ordering check's runs, on the first of its seeds: its verdicts are what the
    numbers say (whether the model gives the paper's ordering is reported by mcsim validate,
    not assumed here). One seed keeps the suite short; the verdicts and the pooling over
    several seeds are tested on made-up rows in tests/validate/test_validate_kinds.py."""
    from mcsim.validate import microstructure as ms
    from mcsim.validate.counting import rate_ratio_interval

    rows = ms.ordering_table(True, seeds=ms.SEEDS[:1])
    assert [r["seed"] for r in rows] == [ms.SEEDS[0]]
    for r in rows:
        for run in ("r-ncm", "ts-ncm"):
            assert math.isfinite(r[run]["central_void_opened"])
            assert r[run]["nanopore_density_core_per_um3"] >= 0 and r[run]["porosity"] > 0
    fewer, smaller = ms.ordering_results(rows, quick=True)
    def within(key, limit):  # R-NCM must show the figure for the ordering to hold
        return all(r["r-ncm"][key] > 0 and r["ts-ncm"][key] <= limit * r["r-ncm"][key]
                   for r in rows)

    pooled = ms.pooled_core_counts(rows, "ts-ncm", "r-ncm")
    assert pooled is not None  # the runs write the core counts (schema 3.1)
    bound = rate_ratio_interval(*pooled, level=ms.COUNT_LEVEL, sided="upper")[1]
    assert fewer.passed == (within("nanopore_density_core_per_um3", ms.MAX_NANOPORE_RATIO)
                            and bound <= ms.MAX_NANOPORE_RATIO)
    assert smaller.passed == within("central_void_opened", ms.MAX_VOID_RATIO)
    text = ms.format_ordering(rows)
    for r in rows:
        assert (f"central void opened {r['r-ncm']['central_void_opened']:.3f} / "
                f"{r['ts-ncm']['central_void_opened']:.3f}") in text


def test_compare_runs_script_runs_alone_from_the_two_files(pair, tmp_path):
    """mcsim.figures.compare_runs, run as a module on the two results, writes PNG and PDF."""
    import subprocess
    import sys

    out = tmp_path / "cmp.png"
    proc = subprocess.run([sys.executable, "-m", "mcsim.figures.compare_runs",
                           str(pair["dir"] / "r-ncm.h5"),
                           str(pair["dir"] / "ts-ncm.h5"), "-o", str(out), "--pdf"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 10_000 and out.with_suffix(".pdf").stat().st_size > 1_000
