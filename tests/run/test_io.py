"""Tests of the HDF5 result writer, its crash safety, the XDMF sidecar and the summary."""

import hashlib
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

import h5py
import numpy as np
import pytest

from mcsim.io import (
    SCHEMA_VERSION,
    IncompleteResultError,
    ResultWriter,
    is_complete,
    open_result,
    partial_path,
    read_xdmf_references,
    summarize,
)
from mcsim.phases import NAMES, N_PHASES

GRID = (6, 5, 4)
CONFIG = '[run]\nname = "test ü"\nseed = 7\n'


def _writer(path, **kwargs):
    args = dict(config_toml=CONFIG, seed=7, mcsim_version="0.1.0",
                provenance={"git_commit": "abc123", "mpi_ranks": 1, "threads": 2},
                grid_shape=GRID, voxel_nm=12.5)
    args.update(kwargs)
    return ResultWriter(path, **args)


def _fields(k):
    phase = (np.arange(np.prod(GRID)).reshape(GRID) + k) % N_PHASES
    return {"phase": phase.astype(np.uint8),
            "grain": np.arange(np.prod(GRID), dtype=np.int32).reshape(GRID) * (k + 1),
            "lithium": np.full(GRID, 0.5 * k, dtype=np.float32)}


def _rows(n):
    rng = np.random.default_rng(11)
    rows = []
    for i in range(n):
        fractions = rng.dirichlet(np.ones(N_PHASES))
        rows.append(dict(time_s=30.0 * i, temperature_c=25.0 + 5.0 * i,
                         phase_fraction=fractions, li_inventory_mol=1e-3 * i,
                         li_by_phase=rng.random(3)))
    return rows


def _write_run(path, n_rows=10, n_snapshots=3):
    rows = _rows(n_rows)
    with _writer(path, buffer_rows=4) as w:
        w.describe("li_inventory_mol", units="mol", description="total lithium")
        for i, row in enumerate(rows):
            w.append_timeseries(**row)
            if i % 4 == 0 and i // 4 < n_snapshots:
                w.write_snapshot(row["time_s"], row["temperature_c"], _fields(i // 4),
                                 attrs={"step": i})
        w.describe("li_by_phase", units="mol")
        w.write_group("/microstructure", {"n_grains": 42, "grain_volume_nm3": np.arange(5.0),
                                          "porosity": {"radius_nm": np.arange(3.0),
                                                       "value": np.array([0.1, 0.2, 0.3])}},
                      attrs={"method": "voronoi"})
        w.finish({"timing": {"kernels_s": 1.5, "io_s": 0.25}})
    return rows


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_finished_writer_produces_complete_file_with_all_appended_data(tmp_path):
    path = tmp_path / "run.h5"
    rows = _write_run(path)
    assert path.exists() and not partial_path(path).exists()
    assert is_complete(path)
    with open_result(path) as f:
        assert f.attrs["complete"] == np.True_
        assert f.attrs["schema_version"] == SCHEMA_VERSION
        assert f.attrs["seed"] == 7 and f.attrs["mcsim_version"] == "0.1.0"
        assert tuple(f.attrs["grid_shape"]) == GRID and f.attrs["voxel_nm"] == 12.5
        assert f["config"].asstr()[()] == CONFIG
        prov = f["provenance"].attrs
        assert prov["git_commit"] == "abc123" and prov["threads"] == 2
        assert {"start_time", "end_time", "wall_time_s", "python", "numpy"} <= set(prov)
        assert f["provenance/timing"].attrs["io_s"] == 0.25
        ts = f["timeseries"]
        for name in ("time_s", "temperature_c", "phase_fraction", "li_inventory_mol",
                     "li_by_phase"):
            expected = np.array([row[name] for row in rows])
            np.testing.assert_array_equal(ts[name][:], expected)
            assert ts[name].dtype == np.float64 and ts[name].chunks is not None
        assert [p for p in ts["phase_fraction"].attrs["phases"]] == list(NAMES)
        assert ts["li_inventory_mol"].attrs["units"] == "mol"
        assert ts["li_by_phase"].attrs["units"] == "mol"
        snaps = f["snapshots"]
        assert sorted(snaps) == ["0000", "0001", "0002"]
        for k, key in enumerate(sorted(snaps)):
            group = snaps[key]
            assert group.attrs["time_s"] == rows[4 * k]["time_s"]
            assert group.attrs["temperature_c"] == rows[4 * k]["temperature_c"]
            assert group.attrs["step"] == 4 * k
            for name, arr in _fields(k).items():
                np.testing.assert_array_equal(group[name][:], arr)
                assert group[name].dtype == arr.dtype and group[name].compression == "gzip"
        assert f["microstructure/n_grains"][()] == 42
        np.testing.assert_array_equal(f["microstructure/porosity/value"][:], [0.1, 0.2, 0.3])
        assert f["microstructure"].attrs["method"] == "voronoi"


def test_series_that_appears_late_or_is_skipped_is_nan_padded(tmp_path):
    path = tmp_path / "run.h5"
    with _writer(path, buffer_rows=2) as w:
        for i in range(5):
            extra = {"dta_uv": float(i)} if i in (3, 4) else {}
            w.append_timeseries(float(i), 25.0, np.ones(N_PHASES) / N_PHASES, **extra)
        w.finish()
    with open_result(path) as f:
        np.testing.assert_array_equal(f["timeseries/dta_uv"][:], [np.nan] * 3 + [3.0, 4.0])
        assert f["timeseries/time_s"].shape == (5,)
    assert not path.with_suffix(".xmf").exists()  # no snapshots, no sidecar


def test_timeseries_row_of_wrong_shape_raises_value_error(tmp_path):
    with _writer(tmp_path / "run.h5") as w:
        with pytest.raises(ValueError, match="phase_fraction"):
            w.append_timeseries(0.0, 25.0, np.ones(N_PHASES + 1))
        w.append_timeseries(0.0, 25.0, np.ones(N_PHASES), vec=np.ones(3))
        with pytest.raises(ValueError, match="vec"):
            w.append_timeseries(1.0, 25.0, np.ones(N_PHASES), vec=np.ones(4))
        w.abort()


def test_snapshot_with_wrong_shape_raises_value_error_and_writes_nothing(tmp_path):
    path = tmp_path / "run.h5"
    with _writer(path) as w:
        fields = _fields(0)
        fields["lithium"] = np.zeros(GRID[::-1], dtype=np.float32)
        with pytest.raises(ValueError, match="shape"):
            w.write_snapshot(0.0, 25.0, fields)
        with pytest.raises(ValueError, match="grain"):
            w.write_snapshot(0.0, 25.0, {"phase": _fields(0)["phase"]})
        assert w.write_snapshot(0.0, 25.0, _fields(0)) == 0
        w.finish()
    with open_result(path) as f:
        assert sorted(f["snapshots"]) == ["0000"]


def test_writer_never_creates_final_path_before_finish(tmp_path):
    path = tmp_path / "run.h5"
    with _writer(path) as w:
        w.append_timeseries(0.0, 25.0, np.ones(N_PHASES) / N_PHASES)
        w.write_snapshot(0.0, 25.0, _fields(0))
        assert not path.exists() and partial_path(path).exists()
        w.finish()
    assert path.exists() and not partial_path(path).exists()


def test_aborted_writer_leaves_no_result_and_partial_says_incomplete(tmp_path):
    path = tmp_path / "run.h5"
    with pytest.raises(RuntimeError, match="kinetics blew up"):
        with _writer(path) as w:
            w.append_timeseries(0.0, 25.0, np.ones(N_PHASES) / N_PHASES)
            raise RuntimeError("kinetics blew up")
    assert not path.exists()
    partial = partial_path(path)
    with h5py.File(partial, "r") as f:
        assert bool(f.attrs["complete"]) is False
        assert f["timeseries/time_s"].shape == (1,)  # buffered row kept for inspection
    assert not is_complete(partial) and not is_complete(path)
    with pytest.raises(IncompleteResultError):
        open_result(partial)
    with pytest.raises(IncompleteResultError):
        open_result(path)


def test_writer_left_without_finish_warns_and_keeps_partial(tmp_path):
    path = tmp_path / "run.h5"
    with pytest.warns(RuntimeWarning, match="finish"):
        with _writer(path):
            pass
    assert not path.exists() and partial_path(path).exists()


_KILLED_RUN = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    from mcsim.io import ResultWriter
    w = ResultWriter(sys.argv[1], config_toml="x = 1", seed=1, mcsim_version="0.1.0",
                     provenance={}, grid_shape=(6, 5, 4), voxel_nm=1.0, buffer_rows=2)
    for i in range(5):
        w.append_timeseries(float(i), 25.0, np.full(7, 1 / 7))
    w.write_snapshot(0.0, 25.0, {"phase": np.zeros((6, 5, 4), np.uint8),
                                 "grain": np.zeros((6, 5, 4), np.int32)})
    w.append_timeseries(9.0, 25.0, np.full(7, 1 / 7))
    os.kill(os.getpid(), signal.SIGKILL)
""")


def _run_killed(path):
    proc = subprocess.run([sys.executable, "-c", _KILLED_RUN, str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_killed_writer_leaves_no_result_and_partial_is_incomplete(tmp_path):
    path = tmp_path / "run.h5"
    _run_killed(path)
    assert not path.exists()
    partial = partial_path(path)
    assert partial.exists()
    assert not is_complete(partial) and not is_complete(path)
    try:
        f = h5py.File(partial, "r")
    except OSError:
        pass  # unreadable is acceptable for a killed writer; it must just not look complete
    else:
        with f:
            assert bool(f.attrs["complete"]) is False
    with pytest.raises(IncompleteResultError):
        open_result(partial)
    with pytest.raises(IncompleteResultError):
        open_result(path)
    assert "INCOMPLETE" in summarize(path)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_killed_rerun_leaves_previous_complete_result_unchanged(tmp_path):
    path = tmp_path / "run.h5"
    _write_run(path)
    before = _sha(path), path.stat().st_mtime_ns
    _run_killed(path)
    assert (_sha(path), path.stat().st_mtime_ns) == before
    assert is_complete(path)
    with open_result(path) as f:
        assert f["timeseries/time_s"].shape == (10,)


def test_aborted_rerun_leaves_previous_complete_result_unchanged(tmp_path):
    path = tmp_path / "run.h5"
    _write_run(path)
    before = _sha(path)
    w = _writer(path)
    w.append_timeseries(0.0, 25.0, np.ones(N_PHASES) / N_PHASES)
    w.abort()
    assert _sha(path) == before and is_complete(path)


def test_xdmf_references_existing_datasets_with_stated_dims_and_times(tmp_path):
    path = tmp_path / "run.h5"
    _write_run(path)
    xmf = path.with_suffix(".xmf")
    root = ET.parse(xmf).getroot()
    assert root.tag == "Xdmf" and root.get("Version") == "3.0"
    collection = root.find("Domain/Grid")
    assert collection.get("CollectionType") == "Temporal"
    grids = collection.findall("Grid")
    refs = read_xdmf_references(xmf)
    assert len(refs) == 3 * len(_fields(0))
    with open_result(path) as f:
        snaps = f["snapshots"]
        assert len(grids) == len(snaps)
        for grid, key in zip(grids, sorted(snaps)):
            assert float(grid.find("Time").get("Value")) == snaps[key].attrs["time_s"]
            topo = grid.find("Topology")
            assert topo.get("TopologyType") == "3DCoRectMesh"
            assert tuple(int(n) for n in topo.get("Dimensions").split()) == \
                tuple(n + 1 for n in GRID)
            spacing = grid.find("Geometry/DataItem[@Name='Spacing']").text.split()
            assert [float(s) for s in spacing] == [12.5] * 3
            for attribute in grid.findall("Attribute"):
                assert attribute.get("Center") == "Cell"
        for h5_file, dataset, dims, dtype in refs:
            assert h5_file.resolve() == path.resolve()
            assert dataset in f
            assert f[dataset].shape == dims and f[dataset].dtype == dtype
    phase_item = [item for item in root.iter("DataItem") if item.text.endswith("/phase")][0]
    assert (phase_item.get("NumberType"), phase_item.get("Precision")) == ("UChar", "1")


def test_summary_reports_completeness_final_fractions_and_snapshot_count(tmp_path):
    path = tmp_path / "run.h5"
    rows = _write_run(path)
    text = summarize(path)
    assert "status: complete" in text and "INCOMPLETE" not in text
    assert "snapshots: 3" in text
    assert "final phase fractions" in text
    for name, value in zip(NAMES, rows[-1]["phase_fraction"]):
        assert f"{name:<12} {value:.4f}" in text
    assert "/microstructure" in text and "n_grains = 42" in text


def test_summary_works_without_snapshots_and_flags_incomplete_file(tmp_path):
    path = tmp_path / "run.h5"
    w = _writer(path)
    w.append_timeseries(0.0, 25.0, np.ones(N_PHASES) / N_PHASES)
    w.abort()
    text = summarize(path)
    assert "INCOMPLETE" in text and "snapshots: 0" in text
    assert "INCOMPLETE" in summarize(partial_path(path))
