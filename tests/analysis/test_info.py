"""``mcsim info``: a short summary by default, everything in the file with ``--all``.

The complete-run checks read the session's tiny run (``small_run``, conftest) or a copy of it;
the incomplete and synthetic files are a few voxels written with ``ResultWriter``.
"""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

import mcsim
from mcsim import cli
from mcsim.figures import FIGURES
from mcsim.io.hdf5 import ResultWriter, partial_path
from mcsim.io.info import _describe_schedule, summarize
from mcsim.phases import LI2O, LIOH, NAMES, PORE, ROCKSALT
from mcsim.schedule import Schedule

MAX_SHORT_LINES = 30


def _info(capsys, *args):
    """``mcsim info ARGS`` in this process: exit status and stdout."""
    status = cli.main(["info", *map(str, args)])
    captured = capsys.readouterr()
    return status, captured.out


def _value(out: str, label: str) -> str:
    """The text after ``label:`` on the one line of ``out`` that starts with it."""
    found = [ln.split(":", 1)[1].strip() for ln in out.splitlines()
             if ln.strip().startswith(label + ":")]
    assert len(found) == 1, (label, out)
    return found[0]


def _copy(small_run, tmp_path, name="r.h5"):
    target = tmp_path / name
    shutil.copy(small_run.path, target)
    return target


def test_history_line_gives_the_rock_salt_share_and_the_vacancies(small_run, tmp_path, capsys):
    with h5py.File(small_run.path, "r") as f:
        ts = f["timeseries"]
        share = float(ts["tm_dehydrated"][-1]) / float(ts["tm_quanta"][-1])
        sintered = "vacancies_annihilated" in ts
    assert share > 0  # the tiny run heats past the dehydration onset
    _, out = _info(capsys, small_run.path)
    line = _value(out, "history")
    assert line.startswith(f"{share:.4f} of the TM went through rock salt")
    assert ("vacancies annihilated" in line) == sintered
    # a result whose run sintered: the cumulative tallies' last row
    target = _copy(small_run, tmp_path)
    with h5py.File(target, "r+") as f:
        ts = f["timeseries"]
        n = ts["time_s"].shape[0]
        for name, last in (("vacancies_annihilated", 1234.0), ("vacancies_inward", 56.0)):
            if name in ts:
                del ts[name]
            ts[name] = np.linspace(0.0, last, n)
    _, out = _info(capsys, target)
    assert _value(out, "history").endswith("; 1234 vacancies annihilated, 56 kept inside")


def test_default_summary_answers_what_came_out_in_few_lines(small_run, capsys):
    status, out = _info(capsys, small_run.path)
    assert status == 0
    lines = out.strip().splitlines()
    assert len(lines) <= MAX_SHORT_LINES, out
    assert "status: complete" in out and "INCOMPLETE" not in out
    with h5py.File(small_run.path, "r") as f:
        tm_final = f["timeseries/tm_phase_fraction"][-1]
        last = sorted(f["pores"])[-1]
        porosity = float(f["pores"][last]["porosity"][()])
        nanopores = int(f["pores"][last]["nanopore_count"][()])
        core_count = int(f["pores"][last]["nanopore_count_core"][()])
        voids = int(f["pores"][last]["void_count"][()])
        central = float(f["pores"][last]["central_pore_fraction"][()])
        wall = float(f["provenance"].attrs["wall_time_s"])
        series = list(f["timeseries"])
    schedule = small_run.sim.schedule
    line = _value(out, "schedule")
    assert f"peak {schedule.max_c:g} C" in line
    assert f"total {schedule.duration_s / 60:g} min" in line and "no hold" in line
    run = _value(out, "run")
    assert small_run.cfg["schedule"]["preset"] in run and f"seed {small_run.cfg['seed']}" in run
    assert "radius 0.2 um" in _value(out, "particle")
    shares = dict(part.split() for part in _value(out, "TM phases").split(" (")[0].split(", "))
    assert list(shares) == ["hydroxide", "rocksalt", "layered"]
    values = np.array([float(v) for v in shares.values()])
    assert values.sum() == pytest.approx(1.0, abs=2e-4)
    assert values == pytest.approx(tm_final, abs=1e-4)
    assert float(_value(out, "porosity").split()[0]) == pytest.approx(porosity, abs=1e-4)
    assert int(_value(out, "nanopores").split(";")[0]) == nanopores
    assert f"from {core_count} pores" in _value(out, "nanopores")  # the density's basis
    void_line = _value(out, "voids")
    assert int(void_line.split()[0]) == voids and f"{central:.4f}" in void_line
    assert _value(out, "wall time").startswith(f"{wall:.3g} s")
    assert f"mcsim plot {small_run.path}" in _value(out, "figures")
    assert "--all" in out
    # the full dump is not in the default: no per-series lines, no snapshot table
    assert "dta_w_per_g" in series and "dta_w_per_g" not in out
    assert "snapshots:" not in out and "provenance:" not in out


def test_all_lists_every_provenance_field_time_series_and_snapshot(small_run, capsys):
    status, out = _info(capsys, "--all", small_run.path)
    assert status == 0
    short = summarize(small_run.path, full=False)
    assert short.splitlines()[:-1] == out.splitlines()[:len(short.splitlines()) - 1]
    with h5py.File(small_run.path, "r") as f:
        provenance = dict(f["provenance"].attrs)
        series = list(f["timeseries"])
        snapshots = sorted(f["snapshots"])
    rows = [ln.split() for ln in out.splitlines() if ln.startswith("  ") and ln.strip()]
    for key, value in provenance.items():  # one line each, with its value
        assert any(row[0] == key and len(row) > 1 for row in rows), key
        if isinstance(value, str) and value:
            assert any(row[:2] == [key, value.split()[0]] for row in rows), key
    for name in series:  # every series by name (time_s and temperature_c as the range line)
        assert name in out, name
    assert f"snapshots: {len(snapshots)}" in out
    for key in snapshots:
        assert any(row[:1] == [key] for row in rows), key
    for name in NAMES:  # the final whole-grid phase table
        assert any(row[:1] == [name] for row in rows), name
    assert "pore statistics" in out and "/microstructure:" in out


def _aborted(path):
    writer = ResultWriter(path, config_toml="seed = 1\n", seed=1, mcsim_version=mcsim.__version__,
                          provenance={}, grid_shape=(4, 4, 4), voxel_nm=10.0)
    fractions = np.zeros(len(NAMES))
    fractions[PORE] = 1.0
    writer.append_timeseries(0.0, 25.0, fractions)
    writer.abort()
    return partial_path(path)


@pytest.mark.parametrize("flags", [[], ["--all"]])
def test_an_aborted_run_is_incomplete_in_both_modes(flags, tmp_path, capsys):
    partial = _aborted(tmp_path / "crashed.h5")
    for target in (partial, tmp_path / "crashed.h5"):
        status, out = _info(capsys, *flags, target)
        assert status == 1
        assert "status: *** INCOMPLETE ***" in out and "status: complete" not in out
        assert "draws only a complete result" in _value(out, "figures")
        assert _value(out, "wall time").startswith("not recorded")


@pytest.mark.parametrize("flags", [[], ["--all"]])
def test_a_result_not_marked_complete_is_incomplete_in_both_modes(flags, small_run, tmp_path,
                                                                  capsys):
    path = _copy(small_run, tmp_path)
    with h5py.File(path, "r+") as f:
        f.attrs["complete"] = np.bool_(False)
    status, out = _info(capsys, *flags, path)
    assert status == 1
    assert "INCOMPLETE" in out.splitlines()[1] and "status: complete" not in out
    assert "last row" in out and "final state" not in out
    if not flags:
        assert len(out.strip().splitlines()) <= MAX_SHORT_LINES


def test_a_file_without_pore_statistics_still_gets_a_summary(small_run, tmp_path, capsys):
    path = _copy(small_run, tmp_path)
    with h5py.File(path, "r+") as f:
        del f["pores"], f["pore_series"]
    status, out = _info(capsys, path)
    assert status == 0 and "status: complete" in out
    assert _value(out, "pores").startswith("not computed")
    assert "porosity:" not in out and "nanopores:" not in out
    assert _value(out, "TM phases") and _value(out, "wall time")
    status, out = _info(capsys, "--all", path)
    assert status == 0 and "pore statistics" not in out


def test_a_damaged_configuration_costs_one_line_not_the_summary(small_run, tmp_path, capsys):
    path = _copy(small_run, tmp_path)
    with h5py.File(path, "r+") as f:
        del f["config"]
        f["config"] = "this is [not toml"
        del f["provenance"]
    status, out = _info(capsys, path)
    assert status == 0
    assert _value(out, "run").startswith("no readable configuration")
    assert _value(out, "schedule").startswith("not recorded")
    assert _value(out, "wall time").startswith("not recorded")
    assert "TM phases" in out and "porosity" in out


def test_figures_beside_the_result_are_reported(small_run, tmp_path, capsys):
    path = _copy(small_run, tmp_path, "run7.h5")
    assert _value(_info(capsys, path)[1], "figures").startswith("none beside the result")
    for name in FIGURES[:2]:
        (tmp_path / f"run7_{name}.png").write_bytes(b"\x89PNG")
    line = _value(_info(capsys, path)[1], "figures")
    assert line.startswith(f"2 of {len(FIGURES)} beside the result")
    assert f"mcsim plot {path}" in line


def test_lithium_left_in_sources_ignores_spent_source_voxels(tmp_path):
    """Source voxels with amount 0 are spent: they hold no lithium, whatever their phase code."""
    grid = (4, 4, 4)
    phase = np.full(grid, PORE, dtype=np.uint8)
    amount = np.zeros(grid, dtype=np.uint16)
    phase[0], amount[0] = ROCKSALT, 1000       # 16 TM voxels
    phase[1], amount[1] = LI2O, 0              # 16 spent source voxels
    phase[2, 0], amount[2, 0] = LIOH, 500      # 4 LiOH voxels with lithium left
    li_left = 4 * 500.0
    li_total = 16 * 1000.0
    path = tmp_path / "sources.h5"
    fractions = np.bincount(phase.ravel(), minlength=len(NAMES)) / phase.size
    with ResultWriter(path, config_toml="seed = 3\n", seed=3, mcsim_version=mcsim.__version__,
                      provenance={"mpi_ranks": 1, "threads": 1}, grid_shape=grid,
                      voxel_nm=10.0) as w:
        w.append_timeseries(0.0, 25.0, fractions, li_source=li_total, li_total=li_total)
        w.append_timeseries(60.0, 300.0, fractions, li_source=li_left, li_total=li_total)
        w.write_snapshot(60.0, 300.0, {"phase": phase, "grain": np.zeros(grid, np.int32),
                                       "amount": amount})
        w.finish()
    text = summarize(path, full=False)
    line = _value(text, "Li sources")
    assert line.startswith(f"{100 * li_left / li_total:.3g} % of the lithium")
    assert f"LiOH {100 * li_left / li_total:.3g} %" in line
    assert "Li2O" not in line  # the spent voxels' phase code says Li2O, their amount says none
    # no tm_phase_fraction series: the TM-phase voxels stand in, and are labelled as such
    assert _value(text, "TM phases").startswith("hydroxide 0.0000, rocksalt 1.0000, layered")
    assert "share of the TM-phase voxels" in text


def test_schedule_line_names_peak_holds_cooling_and_total():
    line = _describe_schedule(Schedule.preset("R-NCM"))
    assert line.startswith("from 25 C: heat 5 C/min, peak 850 C")
    assert "hold 720 min at 850 C" in line and "cool 5 C/min to 25 C" in line
    assert line.endswith(f"total {Schedule.preset('R-NCM').duration_s / 60:g} min")
    many = Schedule.preset("quasi-equilibrium")
    holds = [s for s in many.segments if s.kind == "hold"]
    line = _describe_schedule(many)
    assert f"{len(holds)} holds of" in line and "peak 850 C" in line
    assert len(line) < 120
