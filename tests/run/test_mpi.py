"""MPI domain decomposition: the contract that a run split over any number of ranks writes the
same result file, bit for bit, as the run on one rank.

A small particle (61^3 grid, so 2, 3 and 4 ranks all split it unevenly) on a short, fast ramp
(150 -> 500 C at 20 C/min in about 40 steps: dehydration, release, both lithiation paths,
rock-salt ripening into nanopores, melting of the LiOH) is run with ``mpiexec -n 1`` and
compared with runs on 2, 3 and 4 ranks, on 2 ranks with 2 threads each, with a plain process
without MPI, and, with the ``contact`` release variant (whose kernel reads neighbouring
voxels), on 3 ranks split along x (``MCSIM_MPI_DIMS=1,1,3``), with the ``per-grain``
dehydration variant (a grain straddling ranks converts whole) on 3 ranks along z, and with
sintering switched on for the end of the ramp (a share of the rock-salt outline kept, the
lithiation expansion kept out of the nanopores) on 4 ranks split along y and x. Every dataset
of the result file is compared: snapshot fields (read through the parallel writer's virtual
datasets), time series, images, geometry, pore statistics, the microstructure report (less the
generator's wall-clock timings) and the configuration (less ``numerics.threads``). A separate
check runs
the halo exchange on a 2x2x2 process grid and compares every halo voxel, corners included,
with the global array.

The ranks run through the mpiexec of the ``mpich`` wheel installed next to the interpreter;
oversubscribing the cores is fine (``OMP_WAIT_POLICY=PASSIVE`` keeps waiting Numba threads
from spinning).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import h5py
import numpy as np
import pytest

pytestmark = pytest.mark.mpi

MPIEXEC = Path(sys.executable).parent / "mpiexec"

#: The MPI contract's configuration: tests.support.MPI_CONFIG without its checkpoints, written
#: out here because this file also runs as a bare script under mpiexec (--halo-worker), where
#: the tests package is not importable.
CONFIG = """\
seed = 3
[particle]
radius_um = 0.205
grain_length_nm = 100
grain_width_nm = 60
grain_thickness_nm = 30
[lithium]
source_diameter_nm = 80
[schedule]
preset = "ramp"
start_c = 150
to_c = 500
ramp_c_per_min = 20
[output]
timeseries_interval_s = 120
snapshot_temperatures_c = [250, 400]
[numerics]
dt_max_s = 120
max_temperature_step_c = 10
max_event_probability = 1.0
threads = 1
"""

#: Sintering switched on for the short ramp: onset 400 C and temperature-independent rates,
#: so the last 100 C of the ramp (5 min) do about 12 grain-growth, 6 pore-migration and 12
#: densification MCS, with a densification probability high enough that vacancies are
#: annihilated and paired with sink voxels gathered from every rank, and a strong vacancy
#: constraint (one stiffer voxel layer) so that part of them stay inside the particle. The
#: same runs keep a share of the rock-salt outline (``ripening_surface_gaps`` between 0 and 1:
#: each voxel's draw keyed by its global index) and keep the lithiation expansion out of the
#: nanopores (a walled-in excess passed on through full voxels, across block faces too), and
#: pore migration never cuts a moving voxel off a pore (read from the contact counts of the
#: pair, halo included), and consolidation runs in sink mode (the outline and nanopore walls
#: read from the coordination snapshot across block faces).
SINTER_ONSET_C = 400
SINTER_SETS = (
    f"model.overrides.sinter_onset_c={SINTER_ONSET_C}",
    "model.overrides.grain_growth_a_per_s=0.04", "model.overrides.grain_growth_ea_j_per_mol=0",
    "model.overrides.pore_migration_a_per_s=0.02",
    "model.overrides.pore_migration_ea_j_per_mol=0",
    "model.overrides.densification_a_per_s=0.04",
    "model.overrides.densification_ea_j_per_mol=0",
    "model.overrides.densification_probability=0.05",
    "model.overrides.vacancy_constraint_per_nm=0.1",
    "model.overrides.ripening_surface_gaps=0.3",
    "model.overrides.expansion_fills_nanopores=0.0",
    "model.overrides.pore_migration_detach=0.0",
    "model.overrides.consolidation_sinks=1",
)

#: Ripening in sink mode: nucleation sites keyed by the global index, nanopore walls read from
#: the coordination snapshot across block faces, with a share of the outline kept; and the
#: expansion filling pits first (the pores' counts and bits of the snapshot, two halo
#: refreshes, read across block faces: 140 voxels of the 500 C snapshot differ without it).
SINK_SETS = ("model.overrides.nanopore_site_spacing_nm=30",
             "model.overrides.ripening_surface_gaps=0.3",
             "model.overrides.expansion_fills_pits_first=1")

#: Wall-clock timings of the generator: the only datasets that may differ between runs.
TIMING_DATASETS = ("microstructure/generation_time_s", "microstructure/timings_s/")


def _mpirun(n, args, env_extra=None, timeout=240):
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    env.pop("MCSIM_MPI_DIMS", None)
    env.update(env_extra or {})
    cmd = [str(MPIEXEC), "-n", str(n), sys.executable, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _run(tmp, name, n, sets=(), dims=None):
    out = tmp / f"{name}.h5"
    args = ["-m", "mcsim", "run", str(tmp / "tiny.toml"), "-o", str(out), "--no-progress"]
    for s in sets:
        args += ["--set", s]
    proc = _mpirun(n, args, {"MCSIM_MPI_DIMS": dims} if dims else None)
    return out, proc


def _datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()]
            if name.startswith("snapshots/") or name.startswith("images/"):
                out[f"{name}@attrs"] = {k: v for k, v in obj.attrs.items()}
        f.visititems(visit)
        prov = dict(f["provenance"].attrs)
    return out, prov


def _config_without_threads(text):
    cfg = tomllib.loads(text.decode() if isinstance(text, bytes) else text)
    cfg["numerics"].pop("threads")
    return cfg


def _assert_same(base, other):
    a, _ = _datasets(base)
    b, _ = _datasets(other)
    assert sorted(a) == sorted(b)
    compared = 0
    for name in sorted(a):
        if name.startswith(TIMING_DATASETS):
            continue
        x, y = a[name], b[name]
        if name == "config":
            assert _config_without_threads(x) == _config_without_threads(y)
        elif name.endswith("@attrs"):
            assert sorted(x) == sorted(y), name
            for k in x:
                assert np.array_equal(np.asarray(x[k]), np.asarray(y[k])), (name, k)
        else:
            x, y = np.asarray(x), np.asarray(y)
            assert x.dtype == y.dtype and x.shape == y.shape, name
            if x.dtype.kind == "O":  # strings: compare values, not object pointers
                assert x.tolist() == y.tolist(), f"{other.name}: dataset {name} differs"
            else:
                assert x.tobytes() == y.tobytes(), f"{other.name}: dataset {name} differs"
        compared += 1
    return compared


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every run of the contract, done once: name -> (path, provenance attributes)."""
    tmp = tmp_path_factory.mktemp("mpi")
    (tmp / "tiny.toml").write_text(CONFIG)
    plan = {
        "n1": (1, (), None),
        "n2": (2, (), None),
        "n3": (3, (), None),
        "n4": (4, (), None),
        "n2_t2": (2, ("numerics.threads=2",), None),
        "contact_n1": (1, ("model.processes.release='contact'",), None),
        "contact_x3": (3, ("model.processes.release='contact'",), "1,1,3"),
        "grain_n1": (1, ("model.processes.dehydration='per-grain'",), None),
        "grain_yz3": (3, ("model.processes.dehydration='per-grain'",), "3,1,1"),
        "walls_n1": (1, ("model.processes.transport='rkl1-slow-walls'",), None),
        "walls_x3": (3, ("model.processes.transport='rkl1-slow-walls'",), "1,1,3"),
        "sinter_n1": (1, SINTER_SETS, None),
        "sinter_yx4": (4, SINTER_SETS, "1,2,2"),
        "sinks_n1": (1, SINK_SETS, None),
        "sinks_zx3": (3, SINK_SETS, "3,1,1"),
    }
    out = {}
    for name, (n, sets, dims) in plan.items():
        path, proc = _run(tmp, name, n, sets, dims)
        out[name] = (path, _datasets(path)[1], proc)
    return out


def test_single_rank_run_is_nontrivial(runs):
    """The reference run exercises every kernel that the decomposition must get right."""
    data, prov = _datasets(runs["n1"][0])
    assert int(prov["mpi_ranks"]) == 1
    for series in ("li_released", "tm_lithiated", "tm_dehydrated", "tm_rs_lithiated",
                   "nanopore_voxels_opened", "transport_substeps"):
        assert data[f"timeseries/{series}"][-1] > 0, series
    assert len([k for k in data if k.startswith("snapshots/") and k.endswith("/phase")]) == 3
    contact, _ = _datasets(runs["contact_n1"][0])
    assert contact["timeseries/li_released"][-1] > 0
    assert contact["timeseries/li_source"][-1] > 0  # only the contacts released: a real variant


@pytest.mark.parametrize("name, ranks, dims", [
    ("n2", 2, [2, 1, 1]), ("n3", 3, [3, 1, 1]), ("n4", 4, [2, 2, 1]), ("n2_t2", 2, [2, 1, 1])])
def test_decomposed_run_is_bit_identical(runs, name, ranks, dims):
    """Uneven blocks (61 = 31 + 30 = 21 + 20 + 20), 1 or 2 threads per rank: same file."""
    path, prov, proc = runs[name]
    assert int(prov["mpi_ranks"]) == ranks
    assert list(prov["mpi_dims"]) == dims
    assert _assert_same(runs["n1"][0], path) > 100
    # only rank 0 logs: one start line, one summary
    assert proc.stdout.count("mcsim 0.") == 1 and proc.stdout.count("lattice passes") == 1


def test_contact_release_split_along_x(runs):
    """The contact variant reads neighbours in the reaction sweep; x-split blocks 21/20/20."""
    path, prov, _ = runs["contact_x3"]
    assert list(prov["mpi_dims"]) == [1, 1, 3]
    assert _assert_same(runs["contact_n1"][0], path) > 100


def test_per_grain_dehydration_split_over_three_ranks(runs):
    """The per-grain variant converts a grain's hydroxide across rank boundaries (each rank
    its halo too, from the same draw per grain and step): the same file on 3 ranks."""
    path, prov, _ = runs["grain_yz3"]
    assert list(prov["mpi_dims"]) == [3, 1, 1]
    base, _ = _datasets(runs["grain_n1"][0])
    default, _ = _datasets(runs["n1"][0])
    assert base["timeseries/tm_dehydrated"][-1] > 0
    assert not np.array_equal(base["timeseries/tm_dehydrated"], default["timeseries/tm_dehydrated"])
    assert _assert_same(runs["grain_n1"][0], path) > 100


def test_slow_wall_transport_split_along_x(runs):
    """The rkl1-slow-walls transport classifies faces from the halo-exchanged phases and grains
    as the default does: x-split blocks 21/20/20 write the 1-rank file, which binds less
    lithium than the default transport's."""
    path, prov, _ = runs["walls_x3"]
    assert list(prov["mpi_dims"]) == [1, 1, 3]
    walls, _ = _datasets(runs["walls_n1"][0])
    default, _ = _datasets(runs["n1"][0])
    assert 0 < walls["timeseries/li_bound"][-1] < default["timeseries/li_bound"][-1]
    assert _assert_same(runs["walls_n1"][0], path) > 100


def test_sintering_split_along_y_and_x(runs):
    """Potts grain growth (26-neighbour colour sweeps), pore-migration swaps across block
    faces, the gathered densification pairing with outer and inner sinks, and the ripening
    with kept outline sites: 4 ranks (1 x 2 x 2, blocks 31/30 in y and x) write the 1-rank
    file."""
    data, _ = _datasets(runs["sinter_n1"][0])
    for series in ("grain_flips", "pore_swaps", "vacancies_annihilated", "vacancies_inward"):
        assert data[f"timeseries/{series}"][-1] > 0, series
    assert data["timeseries/vacancies_inward"][-1] < data["timeseries/vacancies_annihilated"][-1]
    # kept outline sites empty inner partners instead: below the sintering onset (the same
    # steps in both runs) ripening has opened more nanopores than with every site retreating
    default, _ = _datasets(runs["n1"][0])
    below = np.nonzero(data["timeseries/temperature_c"] < SINTER_ONSET_C)[0][-1]
    assert np.array_equal(data["timeseries/temperature_c"][:below + 1],
                          default["timeseries/temperature_c"][:below + 1])
    assert (data["timeseries/nanopore_voxels_opened"][below]
            > 2 * default["timeseries/nanopore_voxels_opened"][below])
    path, prov, _ = runs["sinter_yx4"]
    assert list(prov["mpi_dims"]) == [1, 2, 2]
    assert _assert_same(runs["sinter_n1"][0], path) > 100


def test_ripening_sink_mode_split_along_z(runs):
    """Ripening in sink mode, with the expansion filling pits first, on 3 ranks writes the
    1-rank file, and it is a real variant: below the sintering onset it opens fewer nanopore
    voxels than the rule before."""
    data, _ = _datasets(runs["sinks_n1"][0])
    default, _ = _datasets(runs["n1"][0])
    opened = data["timeseries/nanopore_voxels_opened"]
    assert 0 < np.nansum(opened) < np.nansum(default["timeseries/nanopore_voxels_opened"])
    path, prov, _ = runs["sinks_zx3"]
    assert list(prov["mpi_dims"]) == [3, 1, 1]
    assert _assert_same(runs["sinks_n1"][0], path) > 100


def test_mpiexec_single_rank_equals_plain_process(runs, tmp_path):
    """One code path: the 1-rank MPI run writes what a process without MPI writes."""
    from mcsim import config
    from mcsim.engine import Simulation

    cfg = config.load(runs["n1"][0].parent / "tiny.toml")
    Simulation(cfg, log=lambda *a: None).run(tmp_path / "plain.h5", progress=False)
    assert _assert_same(runs["n1"][0], tmp_path / "plain.h5") > 100


def test_halo_exchange_fills_every_neighbour_and_corner():
    """On a 2x2x2 grid over an uneven 7x6x5 lattice every halo voxel (faces, edges, corners)
    equals the global array, and zero outside it; gather and reductions are exact."""
    proc = _mpirun(8, [str(Path(__file__).resolve()), "--halo-worker"], timeout=120)
    assert proc.stdout.count("halo ok") == 8, proc.stdout + proc.stderr


def test_split_extent_is_array_split():
    from mcsim.parallel import split_extent

    for n in (1, 5, 7, 60, 61, 256):
        for parts in range(1, min(n, 9) + 1):
            pieces = np.array_split(np.arange(n), parts)
            for i, piece in enumerate(pieces):
                assert split_extent(n, parts, i) == (int(piece[0]), len(piece))


def test_fixed_point_sum_does_not_depend_on_the_split():
    """The float32 sum rule: any split of the values gives the same exact total."""
    from mcsim.diagnostics import census_kernel
    from mcsim.parallel import fixed_point_sum, fixed_point_total

    gen = np.random.Generator(np.random.Philox(5))
    li = (gen.standard_normal((12, 9, 8)) * 300).astype(np.float32)
    li[0, 0, :3] = (1e-3, -2.5e-7, 1000.0)
    total = fixed_point_sum(li)
    for cut in (1, 5, 11):
        parts_hi = []
        parts_lo = []
        for block in (li[:cut], li[cut:]):
            v = np.trunc(block.astype(np.float64).ravel() * 2.0 ** 32).astype(np.int64)
            parts_hi.append((v >> 32).sum())
            parts_lo.append((v & 0xFFFFFFFF).sum())
        assert fixed_point_total(parts_hi, parts_lo) == total
    padded = np.zeros((14, 11, 10), np.float32)
    padded[1:-1, 1:-1, 1:-1] = li
    phase = np.zeros(padded.shape, np.uint8)
    _, _, mobile = census_kernel(phase, np.zeros(padded.shape, np.uint16), padded, 7)
    assert fixed_point_total(mobile[:, 0], mobile[:, 1]) == total
    assert abs(total - float(np.sum(li, dtype=np.float64))) < 1e-6 * np.abs(li).sum()


def _halo_worker():
    from mpi4py import MPI

    from mcsim.parallel import (Decomposition, allreduce_image, fixed_point_sum, gather_field)

    comm = MPI.COMM_WORLD
    gshape = (7, 6, 5)
    dec = Decomposition(comm, gshape)
    assert dec.dims == (2, 2, 2), dec.dims
    ok = True
    for dtype in (np.uint8, np.uint16, np.int32, np.float32):
        glob = (np.arange(np.prod(gshape)).reshape(gshape) % 250 + 1).astype(dtype)
        padded = np.pad(glob, 1)
        local = np.full(tuple(n + 2 for n in dec.shape), 77, dtype=dtype)
        sl = tuple(slice(o, o + n) for o, n in zip(dec.offset, dec.shape))
        local[1:-1, 1:-1, 1:-1] = glob[sl]
        dec.exchange(local)
        want = padded[tuple(slice(o, o + n + 2) for o, n in zip(dec.offset, dec.shape))]
        ok &= bool(np.array_equal(local, want))
        whole = gather_field(dec, local[1:-1, 1:-1, 1:-1])
        if dec.rank == 0:
            ok &= bool(np.array_equal(whole, glob))
    values = (np.arange(np.prod(gshape)).reshape(gshape) * 0.37 - 11.0).astype(np.float32)
    sl = tuple(slice(o, o + n) for o, n in zip(dec.offset, dec.shape))
    ok &= fixed_point_sum(values[sl], dec.cart) == fixed_point_sum(values)
    image = np.ones((*dec.shape[1:], 3), np.int64)
    full = allreduce_image(dec.cart, image, dec.offset[1:], gshape[1:])
    ok &= bool(np.all(full == dec.dims[0]))  # every (y, x) column summed over the z-blocks
    if ok:
        print("halo ok", flush=True)
    dec.free()


if __name__ == "__main__" and "--halo-worker" in sys.argv:
    _halo_worker()
