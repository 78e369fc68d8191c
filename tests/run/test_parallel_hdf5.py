"""Tests of the parallel result writer: per-rank part files joined by virtual datasets.

The contract tests run a real MPI job once per module (``mpiexec -n 3`` from the mpich wheel,
next to ``sys.executable``; oversubscribing two cores is fine): three ranks holding uneven
blocks split along two axes write known global arrays, and the tests check what a reader sees
in the files they leave. The single-rank delegation is also checked in-process.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

from mcsim.io import (
    IncompleteResultError,
    ResultWriter,
    is_complete,
    open_result,
    partial_path,
    read_xdmf_references,
    summarize,
)
from mcsim.io.parallel_hdf5 import (
    ParallelResultWriter,
    _MainWriter,
    check_tiling,
    missing_parts,
    part_files,
    part_name,
    parts_dir,
)

# Shared by the MPI script (as common.py) and the tests: the grid, the ranks' blocks (a slab,
# then the rest split along axis 1), the known global arrays and the writer arguments.
COMMON = textwrap.dedent('''
    import numpy as np

    GRID = (7, 5, 6)
    BLOCKS = [((0, 0, 0), (3, 5, 6)), ((3, 0, 0), (4, 2, 6)), ((3, 2, 0), (4, 3, 6))]
    PROVENANCE = {"start_time": "2025-01-01T00:00:00+00:00", "host": "test", "python": "3",
                  "numpy": "n", "numba": "n", "h5py": "h", "hdf5": "h", "mpi_ranks": 3}
    END = {"end_time": "2025-01-01T01:00:00+00:00", "wall_time_s": 3600.0}


    def global_fields(k):
        idx = np.arange(np.prod(GRID), dtype=np.int64).reshape(GRID)
        return {"phase": ((idx * 5 + k) % 7).astype(np.uint8),
                "grain": (idx * (k + 3) - 40).astype(np.int32),
                "amount": ((idx * 977 + 13 * k) % 65536).astype(np.uint16),
                "li": (np.sin(idx + 0.1 * k) * 1e3).astype(np.float32)}


    def block_fields(k, offset, shape):
        window = tuple(slice(o, o + s) for o, s in zip(offset, shape))
        return {name: np.ascontiguousarray(arr[window])
                for name, arr in global_fields(k).items()}


    def rows(k, n=5):
        return [(60.0 * i, 25.0 + 5.0 * i + k, np.full(7, (i + 1 + k) / 10.0), 100.0 * i + k)
                for i in range(n)]


    def writer_kwargs():
        return dict(config_toml="seed = 5\\n", seed=5, mcsim_version="0.1.0",
                    provenance=dict(PROVENANCE), grid_shape=GRID, voxel_nm=10.0,
                    buffer_rows=2)
''')

SCRIPT = textwrap.dedent('''
    import json
    import sys
    from pathlib import Path

    import numpy as np
    from mpi4py import MPI

    from common import BLOCKS, END, block_fields, rows, writer_kwargs
    import mcsim.io.parallel_hdf5 as ph
    from mcsim.io import ResultWriter
    from mcsim.io.parallel_hdf5 import ParallelResultWriter

    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    work = Path(sys.argv[1])
    report = {"rank": rank, "size": comm.Get_size()}


    def write_run(comm, path, k, *, finish=True, block=BLOCKS[rank], inject_bad=False):
        offset, shape = block
        bias = 0.0 if comm.Get_rank() == 0 else 1000.0  # other ranks' rows must be ignored
        w = ParallelResultWriter(comm, path, local_offset=offset, local_shape=shape,
                                 **writer_kwargs())
        w.describe("li_total", units="quanta", description="all lithium")
        indices = []
        for i, (t, temp, fractions, li) in enumerate(rows(k)):
            w.append_timeseries(t + bias, temp, fractions, li_total=li + bias)
            if i in (1, 3):
                fields = block_fields(k + i, offset, shape)
                if inject_bad and i == 3:
                    bad = dict(fields)
                    if comm.Get_rank() == 2:
                        bad["li"] = bad["li"][:-1]
                    try:
                        w.write_snapshot(t, temp, bad)
                    except ValueError as err:
                        report["bad_snapshot_error"] = str(err)
                indices.append(w.write_snapshot(t, temp, fields, attrs={"step": i}))
        w.write_group("geometry", {"radius_vox": 2.5})
        if finish == "fail on rank 1":  # rank 1 cannot make its part durable
            fsync = ph._fsync_path
            if comm.Get_rank() == 1:
                def failing_fsync(path, directory=False):
                    raise OSError(f"injected failure syncing {Path(path).name}")
                ph._fsync_path = failing_fsync
            try:
                w.finish(END)
            except OSError as err:
                report["finish_error"] = str(err)
            finally:
                ph._fsync_path = fsync
        elif finish:
            report.setdefault("finish_returned", []).append(str(w.finish(END)))
        else:
            w.abort()
        return indices


    report["indices"] = write_run(comm, work / "run" / "out.h5", 0, inject_bad=True)
    write_run(comm, work / "abort" / "out.h5", 0)
    write_run(comm, work / "abort" / "out.h5", 10, finish=False)
    write_run(comm, work / "fresh_abort" / "out.h5", 0, finish=False)
    write_run(comm, work / "finish_fails" / "out.h5", 0, finish="fail on rank 1")
    for k, finish in ((0, True), (10, False), (20, True)):
        write_run(comm, work / "rerun" / "out.h5", k, finish=finish)

    overlapping = BLOCKS[:2] + [((2, 2, 0), (5, 3, 6))]
    try:
        write_run(comm, work / "bad" / "out.h5", 0, block=overlapping[rank])
    except ValueError as err:
        report["tiling_error"] = str(err)

    if rank == 0:  # a communicator of one rank must give exactly ResultWriter's file
        offset, shape = (0, 0, 0), (7, 5, 6)
        write_run(MPI.COMM_SELF, work / "single" / "parallel.h5", 0, block=(offset, shape))
        with ResultWriter(work / "single" / "serial.h5", **writer_kwargs()) as w:
            w.describe("li_total", units="quanta", description="all lithium")
            for i, (t, temp, fractions, li) in enumerate(rows(0)):
                w.append_timeseries(t, temp, fractions, li_total=li)
                if i in (1, 3):
                    w.write_snapshot(t, temp, block_fields(i, offset, shape), attrs={"step": i})
            w.write_group("geometry", {"radius_vox": 2.5})
            w.finish(END)

    (work / f"report-{rank}.json").write_text(json.dumps(report))
''')

_COMMON: dict = {}
exec(COMMON, _COMMON)  # noqa: S102 - the very definitions the MPI script imports
GRID, BLOCKS, END = _COMMON["GRID"], _COMMON["BLOCKS"], _COMMON["END"]
global_fields, block_fields = _COMMON["global_fields"], _COMMON["block_fields"]
rows, writer_kwargs = _COMMON["rows"], _COMMON["writer_kwargs"]
N_RANKS = len(BLOCKS)


def _mpiexec() -> Path:
    path = Path(sys.executable).parent / ("mpiexec.exe" if os.name == "nt" else "mpiexec")
    if not path.is_file():
        if os.name == "nt":
            pytest.skip("the mpich wheel (and its mpiexec) is not installed on Windows")
        pytest.fail(f"no mpiexec next to {sys.executable}: install the 'mpich' wheel")
    return path


@pytest.fixture(scope="module")
def mpi_work(tmp_path_factory):
    """Run the script on 3 ranks once; return its work directory and the per-rank reports."""
    work = tmp_path_factory.mktemp("parallel_hdf5")
    (work / "common.py").write_text(COMMON)
    (work / "script.py").write_text(SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    # "-m mpi4py": an uncaught exception on one rank aborts the job instead of hanging it
    proc = subprocess.run([str(_mpiexec()), "-n", str(N_RANKS), sys.executable, "-m", "mpi4py",
                           str(work / "script.py"), str(work)],
                          cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    reports = [json.loads((work / f"report-{r}.json").read_text()) for r in range(N_RANKS)]
    return work, reports


def _sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _assert_snapshots_equal(f, k0) -> None:
    """The two snapshots (rows 1 and 3) of a run made with offset ``k0`` read back exactly."""
    assert sorted(f["snapshots"]) == ["0000", "0001"]
    for key, i in (("0000", 1), ("0001", 3)):
        group = f["snapshots"][key]
        assert group.attrs["step"] == i and group.attrs["time_s"] == 60.0 * i
        for name, want in global_fields(k0 + i).items():
            got = group[name][...]
            assert got.dtype == want.dtype and got.shape == GRID
            assert np.array_equal(got, want), (key, name)


@pytest.mark.mpi
def test_three_rank_snapshot_reads_back_global_arrays_bit_exactly(mpi_work):
    work, reports = mpi_work
    path = work / "run" / "out.h5"
    assert [r["size"] for r in reports] == [N_RANKS] * N_RANKS
    assert all(r["indices"] == [0, 1] for r in reports)
    assert all(r["finish_returned"][0] == str(path) for r in reports)
    with open_result(path) as f:
        assert f.attrs["complete"] and tuple(f.attrs["grid_shape"]) == GRID
        assert all(d.is_virtual for d in f["snapshots/0000"].values())
        _assert_snapshots_equal(f, 0)
    assert not partial_path(path).exists()


@pytest.mark.mpi
def test_every_part_is_complete_and_holds_only_its_ranks_block(mpi_work):
    work, _ = mpi_work
    parts = parts_dir(work / "run" / "out.h5")
    assert sorted(p.name for p in parts.iterdir()) == [part_name(1, r) for r in range(N_RANKS)]
    for rank, (offset, shape) in enumerate(BLOCKS):
        with h5py.File(parts / part_name(1, rank), "r") as f:
            assert f.attrs["complete"] and f.attrs["rank"] == rank
            assert tuple(f.attrs["local_offset"]) == offset
            phase = f["snapshots/0001/phase"]
            assert phase.shape == shape and not phase.is_virtual
            assert phase.compression == "gzip" and phase.shuffle and phase.chunks == shape
            want = block_fields(3, offset, shape)["phase"]
            assert np.array_equal(phase[...], want)


@pytest.mark.mpi
def test_timeseries_and_groups_come_from_rank_zero_only(mpi_work):
    work, _ = mpi_work
    with open_result(work / "run" / "out.h5") as f:
        ts = f["timeseries"]
        want = rows(0)
        assert np.array_equal(ts["time_s"][:], [r[0] for r in want])
        assert np.array_equal(ts["li_total"][:], [r[3] for r in want])
        assert np.array_equal(ts["phase_fraction"][:], np.stack([r[2] for r in want]))
        assert ts["li_total"].attrs["units"] == "quanta"
        assert f["geometry/radius_vox"][()] == 2.5


@pytest.mark.mpi
def test_bad_block_on_one_rank_raises_on_every_rank_and_writes_nothing(mpi_work):
    _, reports = mpi_work
    for report in reports:
        message = report["bad_snapshot_error"]
        assert "rank 2" in message and "'li'" in message and "local_shape" in message
    # the rejected call left no snapshot behind: indices stay 0, 1 (checked above as well)
    assert all(r["indices"] == [0, 1] for r in reports)


@pytest.mark.mpi
def test_overlapping_blocks_raise_on_every_rank_before_any_file_exists(mpi_work):
    work, reports = mpi_work
    for report in reports:
        assert "ranks 0" in report["tiling_error"] and "2" in report["tiling_error"]
        assert "overlap" in report["tiling_error"]
    assert not (work / "bad").exists() or not any((work / "bad").iterdir())


@pytest.mark.mpi
def test_sources_are_relative_and_survive_moving_the_directory(mpi_work, tmp_path,
                                                              monkeypatch):
    work, _ = mpi_work
    with h5py.File(work / "run" / "out.h5", "r") as f:
        sources = {s.file_name for s in f["snapshots/0000/phase"].virtual_sources()}
    assert sources == {f"out.h5.parts/{part_name(1, r)}" for r in range(N_RANKS)}

    moved = tmp_path / "elsewhere" / "moved"
    shutil.copytree(work / "run", tmp_path / "copy")
    shutil.move(tmp_path / "copy", moved)
    # a decoy with the same relative names but other data in the working directory
    decoy = tmp_path / "cwd"
    (decoy / "out.h5.parts").mkdir(parents=True)
    for r in range(N_RANKS):
        shutil.copy(parts_dir(work / "rerun" / "out.h5") / part_name(3, r),
                    decoy / "out.h5.parts" / part_name(1, r))
    monkeypatch.chdir(decoy)
    assert missing_parts(moved / "out.h5") == []
    with open_result(moved / "out.h5") as f:
        _assert_snapshots_equal(f, 0)


@pytest.mark.mpi
def test_missing_part_is_reported_and_reads_as_an_impossible_value(mpi_work, tmp_path):
    work, _ = mpi_work
    shutil.copytree(work / "run", tmp_path / "run")
    path = tmp_path / "run" / "out.h5"
    (parts_dir(path) / part_name(1, 1)).unlink()
    assert missing_parts(path) == [f"out.h5.parts/{part_name(1, 1)}"]
    offset, shape = BLOCKS[1]
    window = tuple(slice(o, o + s) for o, s in zip(offset, shape))
    with h5py.File(path, "r") as f:
        phase, li = f["snapshots/0000/phase"][...], f["snapshots/0000/li"][...]
    assert np.all(phase[window] == 255) and np.all(np.isnan(li[window]))
    phase[window] = global_fields(1)["phase"][window]
    assert np.array_equal(phase, global_fields(1)["phase"])
    # a result renamed away from its parts still names the folder it looks for
    path.rename(path.with_name("renamed.h5"))
    line = next(ln for ln in summarize(path.with_name("renamed.h5")).splitlines()
                if ln.startswith("status:"))
    assert "together with out.h5.parts, beside it" in line, line


@pytest.mark.mpi
def test_xdmf_sidecar_references_resolve_to_the_global_arrays(mpi_work, tmp_path):
    work, _ = mpi_work
    moved = tmp_path / "moved"
    shutil.copytree(work / "run", moved)
    refs = read_xdmf_references(moved / "out.xmf")
    assert len(refs) == 2 * 4
    for h5_file, dataset, dims, dtype in refs:
        assert h5_file == moved / "out.h5"
        key, name = dataset.split("/")[2:]
        with h5py.File(h5_file, "r") as f:
            data = f[dataset][...]
        assert data.shape == dims == GRID and data.dtype == dtype
        assert np.array_equal(data, global_fields({"0000": 1, "0001": 3}[key])[name])


@pytest.mark.mpi
def test_info_and_analysis_scripts_read_the_parallel_file_unchanged(mpi_work, tmp_path):
    from mcsim import plot as mplot

    work, _ = mpi_work
    path = work / "run" / "out.h5"
    text = summarize(path)
    assert "status: complete" in text and "snapshots: 2" in text
    assert "phase uint8" in text and "li float32" in text
    script = mplot.load_script("cross_sections")
    with script.C.open_result(path) as f:
        assert script.C.snapshot_keys(f) == ["0000", "0001"]
        assert np.array_equal(f["snapshots/0001/phase"][3], global_fields(3)["phase"][3])
    out = script.plot(path, tmp_path / "cross.png")
    assert out.stat().st_size > 1000


@pytest.mark.mpi
def test_aborted_rerun_keeps_the_previous_result_and_its_parts(mpi_work):
    work, _ = mpi_work
    path = work / "abort" / "out.h5"
    with open_result(path) as f:
        _assert_snapshots_equal(f, 0)
    assert not is_complete(partial_path(path))
    with h5py.File(partial_path(path), "r") as f:  # the aborted run's own data, incomplete
        assert not f.attrs["complete"]
    parts = parts_dir(path)
    for rank in range(N_RANKS):
        assert (parts / part_name(1, rank)).is_file()
        unfinished = partial_path(parts / part_name(2, rank))
        assert not (parts / part_name(2, rank)).exists()
        with h5py.File(unfinished, "r") as f:
            assert not f.attrs["complete"] and f.attrs["generation"] == 2


@pytest.mark.mpi
def test_aborted_run_leaves_no_finished_main_file(mpi_work):
    work, _ = mpi_work
    path = work / "fresh_abort" / "out.h5"
    assert not path.exists() and not path.with_suffix(".xmf").exists()
    with pytest.raises(IncompleteResultError):
        open_result(path)
    assert sorted(p.name for p in parts_dir(path).iterdir()) == \
        [part_name(1, r) + ".partial" for r in range(N_RANKS)]


@pytest.mark.mpi
def test_part_that_fails_to_finish_keeps_the_main_file_unfinished_on_every_rank(mpi_work):
    work, reports = mpi_work
    for report in reports:
        assert report["finish_error"].startswith("rank 1 of 3: injected failure syncing")
    path = work / "finish_fails" / "out.h5"
    assert not path.exists() and not path.with_suffix(".xmf").exists()
    assert not is_complete(partial_path(path))
    parts = parts_dir(path)
    assert not (parts / part_name(1, 1)).exists()
    assert partial_path(parts / part_name(1, 1)).is_file()


@pytest.mark.mpi
def test_finished_rerun_replaces_the_result_and_deletes_stale_parts(mpi_work):
    work, _ = mpi_work
    path = work / "rerun" / "out.h5"
    with open_result(path) as f:
        _assert_snapshots_equal(f, 20)
        assert {s.file_name for s in f["snapshots/0001/grain"].virtual_sources()} == \
            {f"out.h5.parts/{part_name(3, r)}" for r in range(N_RANKS)}
    assert sorted(p.name for p in parts_dir(path).iterdir()) == \
        [part_name(3, r) for r in range(N_RANKS)]
    assert not partial_path(path).exists()


@pytest.mark.mpi
def test_one_rank_communicator_writes_resultwriters_file_byte_for_byte(mpi_work):
    work, _ = mpi_work
    single = work / "single"
    assert _sha(single / "parallel.h5") == _sha(single / "serial.h5")
    assert not parts_dir(single / "parallel.h5").exists()
    with open_result(single / "parallel.h5") as f:
        _assert_snapshots_equal(f, 0)
        assert not f["snapshots/0000/phase"].is_virtual


# -- in-process: the single-rank delegation and the tiling check ---------------------------

def _write_serial(writer):
    with writer as w:
        w.describe("li_total", units="quanta")
        for i, (t, temp, fractions, li) in enumerate(rows(0)):
            w.append_timeseries(t, temp, fractions, li_total=li)
            if i == 2:
                w.write_snapshot(t, temp, global_fields(i), attrs={"step": i})
        w.write_group("geometry", {"radius_vox": 2.5})
        return w.finish(END)


def test_writer_without_communicator_is_byte_identical_to_resultwriter(tmp_path):
    ref = _write_serial(ResultWriter(tmp_path / "ref.h5", **writer_kwargs()))
    par = _write_serial(ParallelResultWriter(None, tmp_path / "par.h5", local_offset=(0, 0, 0),
                                             local_shape=GRID, **writer_kwargs()))
    assert par == tmp_path / "par.h5" and _sha(par) == _sha(ref)
    assert (tmp_path / "par.xmf").read_text() == \
        (tmp_path / "ref.xmf").read_text().replace("ref.h5", "par.h5")


def test_serial_finish_deletes_parts_left_by_an_earlier_parallel_run(tmp_path):
    path = tmp_path / "out.h5"
    parts = parts_dir(path)
    parts.mkdir()
    for name in (part_name(1, 0), part_name(2, 1) + ".partial"):
        (parts / name).write_bytes(b"stale")
    _write_serial(ParallelResultWriter(None, path, local_offset=(0, 0, 0), local_shape=GRID,
                                       **writer_kwargs()))
    assert is_complete(path) and not parts.exists()


def test_single_rank_must_hold_the_whole_grid(tmp_path):
    with pytest.raises(ValueError, match="whole grid"):
        ParallelResultWriter(None, tmp_path / "x.h5", local_offset=(0, 0, 0),
                             local_shape=(7, 5, 5), **writer_kwargs())
    with pytest.raises(ValueError, match="inside the grid"):
        ParallelResultWriter(None, tmp_path / "x.h5", local_offset=(1, 0, 0),
                             local_shape=GRID, **writer_kwargs())
    assert not any(tmp_path.iterdir())


def test_tiling_check_accepts_exact_tilings_and_names_each_defect():
    offsets, shapes = [b[0] for b in BLOCKS], [b[1] for b in BLOCKS]
    check_tiling(GRID, offsets, shapes)
    check_tiling(GRID, offsets + [(7, 5, 6)], shapes + [(0, 0, 0)])  # an empty block
    with pytest.raises(ValueError, match=r"ranks 1 .* and 2 .* overlap"):
        check_tiling(GRID, [(0, 0, 0), (3, 0, 0), (3, 1, 0)], shapes)
    with pytest.raises(ValueError, match="cover 186 voxels"):
        check_tiling(GRID, offsets, [(3, 5, 6), (4, 2, 6), (4, 2, 6)])
    with pytest.raises(ValueError, match="rank 2: .* inside the grid"):
        check_tiling(GRID, [(0, 0, 0), (3, 0, 0), (3, 2, 1)], shapes)


@pytest.mark.skipif(os.name == "nt", reason="no per-process open-file limit on Windows")
def test_raised_open_file_limit_lets_a_reader_hold_more_parts_than_the_soft_limit(tmp_path):
    n_parts = 96
    grid = (n_parts, 2, 3)
    want = (np.arange(np.prod(grid)) % 7).astype(np.uint8).reshape(grid)
    parts_dir(tmp_path / "many.h5").mkdir()
    sources = []
    for r in range(n_parts):  # the files n ranks would leave (made here in one process)
        name = f"many.h5.parts/{part_name(1, r)}"
        with h5py.File(tmp_path / name, "w") as f:
            f["snapshots/0000/phase"] = want[r:r + 1]
        sources.append((name, (r, 0, 0), (1, 2, 3)))
    kwargs = dict(writer_kwargs(), grid_shape=grid)
    main = _MainWriter(tmp_path / "many.h5", **kwargs)
    main.write_virtual_snapshot(0.0, 25.0, {"phase": np.dtype(np.uint8)}, sources)
    main.finish()
    assert len(part_files(tmp_path / "many.h5")) == n_parts
    reader = textwrap.dedent(f"""
        import resource, sys
        import h5py, numpy as np
        from mcsim.io.parallel_hdf5 import raise_open_file_limit
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (48, hard))
        assert raise_open_file_limit(sys.argv[1]) == {n_parts} + 64
        with h5py.File(sys.argv[1], "r") as f:
            phase = f["snapshots/0000/phase"][...]
        want = (np.arange(phase.size) % 7).astype(np.uint8).reshape(phase.shape)
        print(int((phase != want).sum()))
    """)
    proc = subprocess.run([sys.executable, "-c", reader, str(tmp_path / "many.h5")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "0"
