"""End-to-end tests of the simulation engine on a tiny particle: file contents, conservation,
reproducibility, thread independence, the hydroxide used up, crash safety and output switches.
What each process does is tested in tests/processes/."""

from __future__ import annotations

import datetime as dt
import tomllib

import h5py
import numba
import numpy as np
import pytest

from mcsim import config
from mcsim import phases as ph
from mcsim.io.hdf5 import SCHEMA_VERSION, partial_path


def _datasets(path, groups=("timeseries", "snapshots")) -> dict:
    """Every dataset under ``groups`` as {hdf5 path: array}."""
    out = {}
    with h5py.File(path, "r") as f:
        for group in groups:
            if group not in f:
                continue

            def grab(name, obj, group=group):
                if isinstance(obj, h5py.Dataset):
                    out[f"{group}/{name}"] = obj[()]

            f[group].visititems(grab)
    return out


def _assert_bit_identical(path_a, path_b):
    a, b = _datasets(path_a), _datasets(path_b)
    assert a, "no datasets to compare"
    assert sorted(a) == sorted(b)
    differing = [name for name in a if not np.array_equal(a[name], b[name], equal_nan=True)
                 or a[name].dtype != b[name].dtype]
    assert not differing, f"datasets differ: {differing}"


def _snapshot_phases(path) -> list:
    with h5py.File(path, "r") as f:
        return [f["snapshots"][k]["phase"][()] for k in sorted(f["snapshots"])]


# -- the file a default-process run writes ----------------------------------------------------

def test_run_writes_complete_file_with_schema_version_and_seed(small_run):
    with h5py.File(small_run.path, "r") as f:
        assert bool(f.attrs["complete"]) is True
        assert f.attrs["schema_version"] == SCHEMA_VERSION
        assert int(f.attrs["seed"]) == small_run.cfg["seed"]
        assert tuple(f.attrs["grid_shape"]) == small_run.sim.state.global_shape
    assert not partial_path(small_run.path).exists()


def test_stored_config_is_the_resolved_toml(small_run):
    with h5py.File(small_run.path, "r") as f:
        text = f["config"].asstr()[()]
    assert text == config.to_toml(small_run.cfg)
    assert tomllib.loads(text) == small_run.cfg
    # and it reproduces the configuration when loaded back
    reloaded = tomllib.loads(text)
    assert reloaded["schedule"]["preset"] == "ramp" and reloaded["schedule"]["to_c"] == 350.0


def test_timeseries_time_increases_from_zero_to_schedule_end(small_run):
    with h5py.File(small_run.path, "r") as f:
        t = f["timeseries/time_s"][()]
    assert t.size >= 3
    assert t[0] == 0.0
    assert np.all(np.diff(t) > 0)
    assert t[-1] == pytest.approx(small_run.sim.schedule.duration_s, rel=1e-12)


def test_timeseries_temperature_follows_schedule(small_run):
    with h5py.File(small_run.path, "r") as f:
        t = f["timeseries/time_s"][()]
        temp = f["timeseries/temperature_c"][()]
    expected = small_run.sim.schedule.temperature_c(t)
    np.testing.assert_allclose(temp, expected, rtol=1e-12, atol=1e-9)
    assert temp[0] == pytest.approx(25.0) and temp[-1] == pytest.approx(350.0)


def test_phase_fraction_rows_sum_to_one_and_name_phases(small_run):
    with h5py.File(small_run.path, "r") as f:
        pf = f["timeseries/phase_fraction"]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in pf.attrs["phases"]]
        values = pf[()]
    assert names == list(ph.NAMES)
    assert values.shape[1] == ph.N_PHASES
    assert np.all(values >= 0)
    np.testing.assert_allclose(values.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_snapshots_taken_at_requested_temperatures_with_grid_fields(small_run):
    requested = [t for t in small_run.cfg["output"]["snapshot_temperatures_c"] if t <= 350.0]
    unreached = [t for t in small_run.cfg["output"]["snapshot_temperatures_c"] if t > 350.0]
    assert requested and unreached  # the default list has both kinds for this schedule
    shape = small_run.sim.state.global_shape
    with h5py.File(small_run.path, "r") as f:
        snaps = f["snapshots"]
        temps = [float(snaps[k].attrs["temperature_c"]) for k in sorted(snaps)]
        times = [float(snaps[k].attrs["time_s"]) for k in sorted(snaps)]
        for key in snaps:
            assert snaps[key]["phase"].dtype == np.uint8
            assert snaps[key]["grain"].dtype == np.int32
            assert snaps[key]["phase"].shape == shape
            assert snaps[key]["grain"].shape == shape
    # each at the first step end at or after its temperature (no step is cut for output),
    # so within one step's temperature change of it
    step_c = small_run.cfg["numerics"]["max_temperature_step_c"]
    for want in requested:
        assert any(want <= t <= want + step_c + 1e-9 for t in temps), \
            f"no snapshot at {want} C: {temps}"
    # one per reached temperature, plus the final one, and none for unreached ones
    assert len(temps) == len(requested) + 1
    assert times == sorted(times)
    assert times[-1] == pytest.approx(small_run.sim.schedule.duration_s, rel=1e-12)


def test_provenance_records_host_threads_and_times(small_run):
    with h5py.File(small_run.path, "r") as f:
        prov = dict(f["provenance"].attrs)
    for key in ("host", "threads", "start_time", "end_time", "wall_time_s"):
        assert key in prov, key
    assert int(prov["threads"]) == 1
    start = dt.datetime.fromisoformat(str(prov["start_time"]))
    end = dt.datetime.fromisoformat(str(prov["end_time"]))
    assert start <= end
    assert float(prov["wall_time_s"]) > 0


# -- conservation --------------------------------------------------------------------------

def test_transition_metal_conserved_exactly(small_run):
    with h5py.File(small_run.path, "r") as f:
        tm = f["timeseries/tm_quanta"][()]
        sums = []
        for key in sorted(f["snapshots"]):
            phase = f["snapshots"][key]["phase"][()]
            amount = f["snapshots"][key]["amount"][()]
            sums.append(int(amount[np.isin(phase, ph.TM_PHASES)].sum(dtype=np.int64)))
    assert tm[0] > 0
    assert np.all(tm == tm[0])
    assert len(sums) >= 2
    assert all(s == sums[0] for s in sums), sums
    assert sums[0] == int(tm[0])


def test_lithium_total_conserved(small_run):
    with h5py.File(small_run.path, "r") as f:
        li = f["timeseries/li_total"][()]
        bound = f["timeseries/li_bound"][()]
    assert li[0] > 0
    assert bound[-1] > 0  # lithium did move between pools, so the check means something
    np.testing.assert_allclose(li, li[0], rtol=1e-5, atol=0)


# -- reproducibility -----------------------------------------------------------------------

def test_same_seed_gives_bit_identical_datasets(small_run, tiny_run, tmp_path):
    again = tiny_run(tmp_path / "again.h5")
    _assert_bit_identical(small_run.path, again.path)


def test_output_settings_do_not_change_the_trajectory(small_run, tiny_run, tmp_path):
    """Rows and snapshots are taken at step ends, never by cutting a step: a run with no
    snapshots but the final one and time-series rows at another interval takes exactly the
    same steps and ends in exactly the same state."""
    other = tiny_run(tmp_path / "sparse.h5", ["output.snapshot_temperatures_c=[]",
                                               "output.timeseries_interval_s=47"])
    with h5py.File(small_run.path, "r") as a, h5py.File(other.path, "r") as b:
        assert len(b["snapshots"]) == 1 < len(a["snapshots"])
        assert len(b["timeseries/time_s"]) != len(a["timeseries/time_s"])
        last_a = a["snapshots"][sorted(a["snapshots"])[-1]]
        last_b = b["snapshots"][sorted(b["snapshots"])[-1]]
        assert last_a.attrs["time_s"] == last_b.attrs["time_s"]
        fields = [k for k in last_a if isinstance(last_a[k], h5py.Dataset)]
        assert {"phase", "grain"} <= set(fields)
        for name in fields:
            assert np.array_equal(last_a[name][()], last_b[name][()]), name
        for name in ("step", "tm_phase_fraction", "li_total", "li_mobile"):
            assert np.array_equal(a["timeseries"][name][-1], b["timeseries"][name][-1]), name


def test_different_seed_gives_different_phase_field(small_run, tiny_run, tmp_path):
    other = tiny_run(tmp_path / "seed2.h5", ["seed=2"])
    with h5py.File(other.path, "r") as f:
        assert int(f.attrs["seed"]) == 2
    a, b = _snapshot_phases(small_run.path), _snapshot_phases(other.path)
    assert len(a) == len(b)
    assert not np.array_equal(a[-1], b[-1])


def test_result_independent_of_thread_count(small_run, tiny_run, tmp_path):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba sees a single core; cannot run with 2 threads")
    two = tiny_run(tmp_path / "two.h5", ["numerics.threads=2"])
    assert two.sim.threads == 2 and small_run.sim.threads == 1
    _assert_bit_identical(small_run.path, two.path)


# -- the hydroxide is used up ------------------------------------------------------------

def test_hydroxide_fraction_never_increases(small_run):
    with h5py.File(small_run.path, "r") as f:
        hydroxide = f["timeseries/tm_phase_fraction"][:, 0]
    assert hydroxide[0] == pytest.approx(1.0)
    assert hydroxide[-1] < 0.5
    assert np.all(np.diff(hydroxide) <= 0)


# -- crash safety --------------------------------------------------------------------------

def test_run_failing_midway_leaves_only_incomplete_partial(tiny_run, tmp_path, monkeypatch):
    out = tmp_path / "crash.h5"
    calls = {"n": 0}

    def hook(sim):
        proc = sim.stepper.by_name["transport"]
        original = proc.advance

        def failing(state, dt_s, temperature_c):
            calls["n"] += 1
            if calls["n"] > 5:
                raise RuntimeError("injected failure")
            return original(state, dt_s, temperature_c)

        monkeypatch.setattr(proc, "advance", failing)

    with pytest.raises(RuntimeError, match="injected failure"):
        tiny_run(out, simulation_hook=hook)
    assert calls["n"] == 6
    assert not out.exists()
    assert not out.with_suffix(".xmf").exists()
    partial = partial_path(out)
    assert partial.exists()
    with h5py.File(partial, "r") as f:
        assert bool(f.attrs["complete"]) is False
        assert f["timeseries/time_s"].shape[0] >= 1


def test_pore_statistics_can_be_switched_off(tiny_run, tmp_path):
    """output.pore_statistics = false: snapshots without /pores and /pore_series."""
    import h5py

    run = tiny_run(tmp_path / "nopores.h5", ("output.pore_statistics=false",
                                             "schedule.to_c=250"))
    with h5py.File(run.path, "r") as f:
        assert len(f["snapshots"]) > 0
        assert "pores" not in f and "pore_series" not in f


def test_snapshots_the_schedule_never_reaches_are_each_noted():
    import types

    from mcsim.engine import Simulation

    cfg = config.load(sets=["schedule.preset='ramp'", "schedule.to_c=200",
                            "output.snapshot_temperatures_c=[150, 900]",
                            "output.snapshot_times_min=[10, 5000]"])
    notes = []
    stub = types.SimpleNamespace(cfg=cfg, schedule=config.build_schedule(cfg), log=notes.append)
    times = Simulation.snapshot_times(stub)
    assert [label for _, label in times] == ["t=10min", "T=150C", "final"]
    assert len(notes) == 2
    assert "never reaches 900.0 C" in notes[0]
    assert "before 5000 min" in notes[1] and "no snapshot there" in notes[1]
