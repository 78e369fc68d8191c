"""Damaged and hostile checkpoints, sweep files and result files are refused, and change nothing.

One checkpoint of a run split over two MPI ranks (two blocks, two part files, a copy of the
result) is made once; each case damages a copy of it (flipped bits, truncation, wrong shape or
dtype, missing files) or makes it hostile (file names in ``meta.h5`` or ``LATEST`` that leave
the checkpoint or the result's folder, by ``..``, an absolute path or a symbolic link). A
restart from it must exit 2 with one line, and leave every file under the case's folder as it
was: no output, no ``.partial``, nothing written outside. Sweep files that name a place
outside their folder, and result files whose virtual datasets read files outside theirs, are
refused the same way.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from mcsim import cli
from mcsim import checkpoint as ck
from mcsim.io.parallel_hdf5 import part_files
from mcsim.io.safepath import UnsafePathError
from tests.support import MPI_CONFIG, START_WATCHDOG_S, mpiexec, mpiexec_command

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="mpiexec, symbolic links")

#: The particle of the MPI restart test (``MPI_CONFIG``: checkpoints every 6 simulated minutes,
#: a snapshot at 250 C written into per-rank part files) heated to 500 C and held there for
#: hours: the run is killed once its first checkpoint is complete, long before its end.
HELD_CONFIG = MPI_CONFIG.replace(
    '[schedule]\npreset = "ramp"\nstart_c = 150\nto_c = 500\nramp_c_per_min = 20\n',
    '[schedule]\npreset = "custom"\nstart_c = 150\n'
    '[[schedule.steps]]\nramp_c_per_min = 20\nto_c = 500\n'
    '[[schedule.steps]]\nhold_min = 600\n')


@pytest.fixture(scope="module")
def two_rank_checkpoint(tmp_path_factory):
    """The first checkpoint of a run on two ranks (killed with SIGKILL right after it)."""
    root = tmp_path_factory.mktemp("two-rank")
    (root / "c.toml").write_text(HELD_CONFIG)
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    env.pop("MCSIM_MPI_DIMS", None)
    job = subprocess.Popen(mpiexec_command(2, ["run", "c.toml", "-o", "out.h5", "--no-progress"]),
                           cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True, start_new_session=True)
    deadline = time.monotonic() + START_WATCHDOG_S
    try:
        while not (root / "out.ckpt" / ck.LATEST).is_file():
            assert job.poll() is None, job.communicate()[1]
            assert time.monotonic() < deadline, f"no checkpoint after {START_WATCHDOG_S} s"
            time.sleep(0.01)
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.communicate()
    ckpt = ck.open_checkpoint(root / "out.ckpt")
    assert len(ckpt.blocks) == 2 and len(ckpt.result_parts) == 2
    return root / "out.ckpt"


@pytest.fixture
def keep_signals():
    """``mcsim run`` installs its stop handlers in this process: put pytest's back."""
    names = ("SIGINT", "SIGTERM", "SIGUSR1", "SIGHUP")
    saved = {n: signal.getsignal(getattr(signal, n)) for n in names if hasattr(signal, n)}
    yield
    for name, handler in saved.items():
        signal.signal(getattr(signal, name), handler)


def listing(root: Path) -> dict:
    """Every folder, file and link under ``root``; files with size and modification time.
    (A folder's own time is left out: a run's lock file comes and goes in it.)"""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            out[str((Path(dirpath) / name).relative_to(root))] = "folder"
        for name in filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns, p.is_symlink())
    return out


def generation(ckpt: Path) -> Path:
    return ckpt / (ckpt / ck.LATEST).read_text().strip()


def flip(path: Path, dataset: str | None = None, at: float = 0.5) -> None:
    """Invert 4 bytes of ``path``: inside ``dataset``'s stored data, or at a fraction of it."""
    if dataset is not None:
        with h5py.File(path, "r") as f:
            start, size = f[dataset].id.get_offset(), f[dataset].id.get_storage_size()
    else:
        start, size = 0, path.stat().st_size
    pos = start + int(size * at)
    with open(path, "r+b") as fh:
        fh.seek(pos)
        data = fh.read(4)
        fh.seek(pos)
        fh.write(bytes(b ^ 0xFF for b in data))


def truncate(path: Path, keep: float = 0.5) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(int(path.stat().st_size * keep))


def set_meta(ckpt: Path, name: str, values, attr: bool = False) -> None:
    """Replace dataset (or attribute) ``name`` of the current ``meta.h5``."""
    with h5py.File(generation(ckpt) / ck.META, "r+") as f:
        if attr:
            group, key = name.rsplit("/", 1)
            f[group or "/"].attrs[key] = values
            return
        del f[name]
        f.create_dataset(name, data=values, dtype=h5py.string_dtype("utf-8"))


def rewrite_block(ckpt: Path, field: str, make) -> None:
    with h5py.File(generation(ckpt) / ck.block_name(1), "r+") as f:
        data = make(f[field][()])
        del f[field]
        f[field] = data


def gen_symlink_outside(ckpt: Path) -> None:
    outside = ckpt.parent.parent / "outside" / "gen-000009"
    shutil.copytree(generation(ckpt), outside)
    (ckpt / "gen-000009").symlink_to(outside)
    (ckpt / ck.LATEST).write_text("gen-000009\n")


def parts_symlink_outside(ckpt: Path) -> None:
    outside = ckpt.parent.parent / "outside" / "parts"
    outside.mkdir()
    shutil.rmtree(ckpt.parent / "out.h5.parts", ignore_errors=True)
    (ckpt.parent / "out.h5.parts").symlink_to(outside)


#: (case id, damage applied to a copy of the checkpoint directory)
CHECKPOINT_CASES = {
    "block-li-bits-flipped": lambda c: flip(generation(c) / "block-00001.h5", "li"),
    "block-phase-bits-flipped": lambda c: flip(generation(c) / "block-00000.h5", "phase"),
    "block-amount-bits-flipped": lambda c: flip(generation(c) / "block-00001.h5", "amount"),
    "block-truncated": lambda c: truncate(generation(c) / "block-00001.h5"),
    "block-zero-bytes": lambda c: truncate(generation(c) / "block-00000.h5", 0.0),
    "block-missing": lambda c: (generation(c) / "block-00001.h5").unlink(),
    "block-wrong-shape": lambda c: rewrite_block(c, "li", lambda a: a[:-1]),
    "block-wrong-dtype": lambda c: rewrite_block(c, "phase", lambda a: a.astype(np.int32)),
    "meta-zero-bytes": lambda c: truncate(generation(c) / ck.META, 0.0),
    "meta-not-hdf5": lambda c: (generation(c) / ck.META).write_bytes(b"\x89junk" * 200),
    "meta-truncated": lambda c: truncate(generation(c) / ck.META, 0.3),
    "meta-incomplete": lambda c: set_meta(c, "/complete", False, attr=True),
    "latest-dotdot": lambda c: (c / ck.LATEST).write_text("../outside\n"),
    "latest-absolute": lambda c: (c / ck.LATEST).write_text(f"{c.parent.parent}/outside\n"),
    "latest-empty": lambda c: (c / ck.LATEST).write_text(""),
    "generation-symlink-outside": gen_symlink_outside,
    "block-name-dotdot": lambda c: set_meta(c, "blocks/file",
                                            ["../../outside/block-00000.h5", "block-00001.h5"]),
    "block-name-absolute": lambda c: set_meta(c, "blocks/file",
                                              ["/etc/hostname", "block-00001.h5"]),
    "part-target-dotdot": lambda c: set_meta(c, "result/parts_final",
                                             ["../outside/x.parts/gen-0001.rank-0000.h5",
                                              "out.h5.parts/gen-0001.rank-0001.h5"]),
    "part-target-absolute": lambda c: set_meta(
        c, "result/parts_final", [f"{c.parent.parent}/outside/gen-0001.rank-0000.h5",
                                  "out.h5.parts/gen-0001.rank-0001.h5"]),
    "part-target-other-name": lambda c: set_meta(c, "result/parts_final",
                                                 ["out.h5.parts/evil.toml",
                                                  "out.h5.parts/gen-0001.rank-0001.h5"]),
    "part-copy-name-dotdot": lambda c: set_meta(c, "result/parts_file",
                                                ["../part-00000.h5", "part-00001.h5"]),
    "result-copy-name-dotdot": lambda c: set_meta(c, "result/file",
                                                  "../result.h5.partial", attr=True),
    "result-copy-bits-flipped": lambda c: flip(generation(c) / ck.RESULT_COPY, at=0.6),
    "part-copy-bits-flipped": lambda c: flip(generation(c) / "part-00001.h5", at=0.7),
    "parts-folder-symlink-outside": parts_symlink_outside,
}


@pytest.mark.mpi
@pytest.mark.parametrize("case", sorted(CHECKPOINT_CASES))
def test_damaged_or_hostile_checkpoint_is_refused_and_changes_nothing(
        case, two_rank_checkpoint, tmp_path, monkeypatch, capsys, keep_signals):
    work, outside = tmp_path / "work", tmp_path / "outside"
    work.mkdir()
    outside.mkdir()
    (outside / "sentinel.h5").write_bytes(b"the user's file")
    ckpt = work / "out.ckpt"
    shutil.copytree(two_rank_checkpoint, ckpt)
    CHECKPOINT_CASES[case](ckpt)
    before = listing(tmp_path)
    monkeypatch.chdir(work)
    status = cli.main(["run", "--restart", "out.ckpt", "-o", "out.h5", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2, err
    assert len(err) == 1 and err[0].startswith("mcsim: "), err
    assert "Traceback" not in err[0]
    assert listing(tmp_path) == before


@pytest.mark.mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_a_damaged_block_is_refused_on_any_rank_count_with_one_line_and_no_hang(
        ranks, two_rank_checkpoint, tmp_path):
    ckpt = tmp_path / "out.ckpt"
    shutil.copytree(two_rank_checkpoint, ckpt)
    flip(generation(ckpt) / "block-00001.h5", "li")
    before = listing(tmp_path)
    done = mpiexec(ranks, ["run", "--restart", "out.ckpt", "-o", "b.h5", "--no-progress"],
                   tmp_path, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert lines == [lines[0]] and "fails its CRC-32 check" in lines[0], lines
    assert listing(tmp_path) == before


def test_a_block_read_in_part_is_still_checked(two_rank_checkpoint, tmp_path):
    ckpt = tmp_path / "out.ckpt"
    shutil.copytree(two_rank_checkpoint, ckpt)
    good = ck.open_checkpoint(ckpt)
    box = (good.global_shape[0] - 3, 0, 0), (3, 4, 4)  # a corner of block 1 only
    clean = ck.read_region(good.generation_dir, good.blocks, *box)
    assert clean["li"].shape == (3, 4, 4)
    flip(generation(ckpt) / "block-00001.h5", "li", at=0.1)  # far from the corner read
    with pytest.raises(ck.CheckpointError, match="fails its CRC-32 check"):
        ck.read_region(good.generation_dir, good.blocks, *box)


# -- sweep files and result files ------------------------------------------------------------

@pytest.mark.parametrize("line", [
    'base = "../base.toml"', 'base = "/etc/hostname"', 'output_dir = "../elsewhere"',
    'output_dir = "/tmp/mcsim-sweep-outside"'])
def test_a_sweep_file_naming_a_place_outside_its_folder_is_refused(line, tmp_path, monkeypatch,
                                                                    capsys):
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "base.toml").write_text("seed = 1\n")
    (work / "sw.toml").write_text(f"[sweep]\n{line}\n")
    monkeypatch.chdir(work)
    before = listing(tmp_path)
    status = cli.main(["sweep", "sw.toml", "--dry-run"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and err[0].startswith("mcsim: "), err
    assert listing(tmp_path) == before
    assert not Path("/tmp/mcsim-sweep-outside").exists()


def _result_with_source(tmp_path: Path, source: str) -> Path:
    """A result-like file whose snapshot field is a virtual dataset reading ``source``."""
    layout = h5py.VirtualLayout(shape=(2, 2, 2), dtype=np.uint8)
    layout[:] = h5py.VirtualSource(source, "phase", shape=(2, 2, 2))
    path = tmp_path / "r.h5"
    with h5py.File(path, "w") as f:
        f.create_group("snapshots/0000").create_virtual_dataset("phase", layout, fillvalue=255)
    return path


@pytest.mark.parametrize("source", ["../outside/p.h5", "/etc/hostname",
                                    "r.h5.parts/../../x.h5"])
def test_a_result_whose_parts_lie_outside_its_folder_is_refused(source, tmp_path):
    path = _result_with_source(tmp_path, source)
    with pytest.raises(UnsafePathError):
        part_files(path)


def test_a_result_with_parts_inside_its_folder_lists_them(tmp_path):
    path = _result_with_source(tmp_path, "r.h5.parts/gen-0001.rank-0000.h5")
    assert part_files(path) == ["r.h5.parts/gen-0001.rank-0000.h5"]


@pytest.mark.mpi
@pytest.mark.parametrize("stored", ["/etc/mcsim-evil.h5", "{outside}/out.h5",
                                    "{work}/../outside/out.h5"])
def test_a_restart_without_o_never_writes_where_the_checkpoint_points_outside_its_folder(
        stored, two_rank_checkpoint, tmp_path, monkeypatch, capsys, keep_signals):
    work, outside = tmp_path / "work", tmp_path / "outside"
    work.mkdir()
    outside.mkdir()
    shutil.copytree(two_rank_checkpoint, work / "out.ckpt")
    target = stored.format(outside=outside, work=work)
    set_meta(work / "out.ckpt", "engine/out_path", target, attr=True)
    before = listing(tmp_path)
    monkeypatch.chdir(work)
    status = cli.main(["run", "--restart", "out.ckpt", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and "-o" in err[0], err
    assert listing(tmp_path) == before
    assert not Path("/etc/mcsim-evil.h5").exists()
