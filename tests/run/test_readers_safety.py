"""Readers of a result split over MPI ranks notice a missing part file.

A run on two ranks writes its snapshot blocks into per-rank part files behind virtual
datasets; a virtual dataset whose part is gone reads HDF5's fill value (255: drawn as layered
oxide) without an error. Every reader goes through one check (``mcsim.io.hdf5.open_result`` /
``is_complete``): ``mcsim info`` reports the result as incomplete naming the part (exit 1),
``mcsim plot`` and ``mcsim compare --results`` refuse to draw (exit 1), and a result whose
virtual datasets name a file outside its folder is refused (exit 2).
"""

from __future__ import annotations

import shutil
import sys

import h5py
import pytest

from mcsim import cli
from mcsim.io.hdf5 import IncompleteResultError, is_complete, open_result
from tests.support import MPI_CONFIG, mpiexec

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="mpiexec")


@pytest.fixture(scope="module")
def two_rank_result(tmp_path_factory):
    root = tmp_path_factory.mktemp("two-rank-result")
    (root / "c.toml").write_text(MPI_CONFIG)
    done = mpiexec(2, ["run", "c.toml", "-o", "out.h5", "--no-progress"], root)
    assert done.returncode == 0, done.stderr
    parts = sorted((root / "out.h5.parts").iterdir())
    assert len(parts) == 2
    return root


@pytest.fixture
def one_part_gone(two_rank_result, tmp_path):
    for name in ("out.h5", "out.h5.parts"):
        src = two_rank_result / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    gone = sorted((tmp_path / "out.h5.parts").iterdir())[1]
    gone.unlink()
    return tmp_path / "out.h5", f"out.h5.parts/{gone.name}"


@pytest.mark.mpi
def test_the_whole_result_is_complete_and_readable(two_rank_result):
    assert is_complete(two_rank_result / "out.h5")
    open_result(two_rank_result / "out.h5").close()


@pytest.mark.mpi
def test_a_missing_part_makes_the_result_incomplete_for_every_reader(one_part_gone):
    path, gone = one_part_gone
    assert not is_complete(path)
    with pytest.raises(IncompleteResultError, match=gone):
        open_result(path)


@pytest.mark.mpi
def test_info_names_the_missing_part_and_exits_1(one_part_gone, capsys):
    path, gone = one_part_gone
    assert cli.main(["info", str(path)]) == 1
    out = capsys.readouterr().out
    assert "INCOMPLETE" in out and gone in out and "status: complete" not in out


@pytest.mark.mpi
def test_plot_refuses_to_draw_a_result_missing_a_part(one_part_gone, capsys):
    path, gone = one_part_gone
    assert cli.main(["plot", str(path), "-o", str(path.parent / "figs")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and gone in err[0], err
    assert not (path.parent / "figs").exists() or not any((path.parent / "figs").iterdir())


@pytest.mark.mpi
def test_compare_refuses_a_result_missing_a_part(one_part_gone, two_rank_result, capsys):
    path, gone = one_part_gone
    status = cli.main(["compare", "--results", str(two_rank_result / "out.h5"), str(path),
                       "-o", str(path.parent / "cmp")])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 1 and len(err) == 1 and gone in err[0], err


@pytest.mark.mpi
def test_info_refuses_a_result_reading_a_file_outside_its_folder(two_rank_result, tmp_path,
                                                                  capsys):
    path = tmp_path / "out.h5"
    shutil.copy(two_rank_result / "out.h5", path)
    with h5py.File(path, "r+") as f:  # repoint one snapshot field at a file outside
        name = next(iter(f["snapshots"]))
        layout = h5py.VirtualLayout(shape=(2, 2, 2), dtype="u1")
        layout[:] = h5py.VirtualSource("../../etc/hostname.h5", "phase", shape=(2, 2, 2))
        del f[f"snapshots/{name}/phase"]
        f[f"snapshots/{name}"].create_virtual_dataset("phase", layout, fillvalue=255)
    assert cli.main(["info", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert "outside" in captured.err or ".." in captured.err


@pytest.mark.mpi
@pytest.mark.parametrize("damage", ["junk", "truncated", "zero-bytes", "directory"])
def test_a_damaged_result_gets_one_line_from_info_and_plot(damage, two_rank_result, tmp_path,
                                                            capsys):
    path = tmp_path / "out.h5"
    if damage == "directory":
        path.mkdir()
    elif damage == "junk":
        path.write_bytes(b"\x89HDF but not really" * 50)
    else:
        data = (two_rank_result / "out.h5").read_bytes()
        path.write_bytes(data[:len(data) // 3] if damage == "truncated" else b"")
    assert cli.main(["info", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1, captured.err
    assert cli.main(["plot", str(path), "-o", str(tmp_path / "figs")]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (tmp_path / "figs").exists()
