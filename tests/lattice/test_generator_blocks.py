"""The particle generator by blocks (mcsim.generator.blocks): the serial generator still
gives the particles the whole-grid generator gave before it worked by blocks (digests of
that code's arrays and reports, kept here), any split of the grid into blocks gives the
same arrays and report as one block, the distributed selection agrees with a sort, and
lithium that does not fit as source particles goes into a uniform layer (radius 0.9 um).

Blocks of one split run in threads of this process; their ``reduce`` sums over the threads
at a barrier, as ``Allreduce`` does over MPI ranks (tests/run/test_mpi_generator.py).
"""
from __future__ import annotations

import hashlib
import json
import threading

import numpy as np
import pytest

from mcsim import config, phases
from mcsim.engine import Simulation
from mcsim.generator import generate_agglomerate
from mcsim.generator.arguments import source_fits, validate_arguments
from mcsim.generator.blocks import Block, radix_select, array_hist, select_smallest
from mcsim.parallel import split_extent

#: Particles of the test suite and corner cases (pores 0 and 0.6, no size dispersion,
#: Li2CO3, 20 nm voxels, a shell source) with the digests of the arrays (phase, grain) and
#: of the report that the generator gave before it worked by blocks (the whole grid in one
#: array, pores picked by ``numpy.argpartition``), computed on that code.
OLD = {
    "small_s3": (dict(radius_um=0.4, voxel_nm=10.0, source_diameter_nm=200.0, seed=3),
                 "9616cec8f0690ed675e0dbe0", "b21e00c3603a02cc212ff6c9", 124),
    "config_default": (dict(radius_um=0.6, voxel_nm=10.0, porosity=0.25,
                            grain_length_nm=200.0, grain_width_nm=100.0,
                            grain_thickness_nm=40.0, size_cv=0.2, li_source="LiOH",
                            li_to_tm=1.05, placement="particles", source_diameter_nm=150.0,
                            seed=1),
                       "ca31527aa6289324faa56465", "86affb4ebf45c0c5c45d01b6", 154),
    "mpi_contract": (dict(radius_um=0.205, grain_length_nm=100.0, grain_width_nm=60.0,
                          grain_thickness_nm=30.0, source_diameter_nm=80.0, seed=3),
                     "79e4bdf13987c493f013cf7a", "b279468774405e4d2960f4e0", 61),
    "tiny": (dict(radius_um=0.2, grain_length_nm=100.0, grain_width_nm=60.0,
                  grain_thickness_nm=30.0, source_diameter_nm=80.0, seed=1),
             "ff0ab5fc6aca51d085d6fdbf", "fa7289921e3ac95f8eafa412", 60),
    "li2co3_s6": (dict(radius_um=0.3, voxel_nm=10.0, source_diameter_nm=150.0,
                       li_source="Li2CO3", li_to_tm=1.05, seed=6),
                  "a745ce2657d0568ebf12b3bf", "becb071aeaf5b954f8df6e97", 94),
    "shell_s6": (dict(radius_um=0.3, voxel_nm=10.0, source_diameter_nm=150.0,
                      placement="shell", li_to_tm=1.05, seed=6),
                 "29931d47c5b66bdd94502156", "1b92f9594e2e04abc3952b63", 94),
    "cv0_por0": (dict(radius_um=0.25, voxel_nm=10.0, grain_length_nm=100.0,
                      grain_width_nm=60.0, grain_thickness_nm=30.0, size_cv=0.0,
                      porosity=0.0, source_diameter_nm=80.0, seed=2),
                 "6e4257292b55eb66415b0128", "91d8469d8a8869311c725440", 70),
    "por06_s9": (dict(radius_um=0.25, voxel_nm=10.0, grain_length_nm=100.0,
                      grain_width_nm=60.0, grain_thickness_nm=30.0, porosity=0.6,
                      size_cv=0.4, source_diameter_nm=60.0, seed=9),
                 "bd5c726b46ef5497ee84eb32", "e1149fc389d4cc9acb3cbf32", 66),
    "coarse_20nm": (dict(radius_um=0.5, voxel_nm=20.0, source_diameter_nm=150.0, seed=4),
                    "36c28c7a1416048d848657a7", "0248b0d976382d419beb4403", 69),
}
#: Report keys added with the blocks (not in the old digests).
NEW_KEYS = ("n_source_particles", "n_source_layer_voxels", "source_layer_radius_vox",
            "margin_nm", "source_note")
#: The configuration's default particle at radius 0.9 um and 20 nm voxels (grains 2 voxels
#: thick): its lithium does not all fit as source particles.
R09 = dict(radius_um=0.9, voxel_nm=20.0, grain_length_nm=200.0, grain_width_nm=100.0,
           grain_thickness_nm=40.0, source_diameter_nm=150.0, seed=1)


def _canon(v):
    """A report as JSON-able plain values: floats as hex, arrays as a hash, no timings."""
    if isinstance(v, dict):
        return {k: _canon(x) for k, x in sorted(v.items())
                if k not in ("timings_s", "generation_time_s")}
    if isinstance(v, np.ndarray):
        return [v.dtype.str, list(v.shape),
                hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()[:16]]
    if isinstance(v, (float, np.floating)):
        return float(v).hex()
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (list, tuple)):
        return [_canon(x) for x in v]
    return v


def _digests(m):
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(m.phase).tobytes())
    h.update(np.ascontiguousarray(m.grain).tobytes())
    old_keys = {k: v for k, v in m.report.items() if k not in NEW_KEYS}
    rep = hashlib.sha256(json.dumps(_canon(old_keys), sort_keys=True).encode())
    return h.hexdigest()[:24], rep.hexdigest()[:24]


class ThreadReduce:
    """The ``reduce`` of blocks run in threads: each block's array is summed with the
    others' at a barrier (like MPI's Allreduce)."""

    def __init__(self, k):
        self.barrier = threading.Barrier(k)
        self.slots = [None] * k

    def of(self, i):
        def reduce(values):
            self.slots[i] = np.array(values, np.int64)
            self.barrier.wait()
            total = np.sum(self.slots, axis=0)
            self.barrier.wait()
            return total
        return reduce


def run_blocks(func, k):
    """``func(i, reduce)`` for blocks 0..k-1 in threads; their results in order."""
    red = ThreadReduce(k)
    out, errors = [None] * k, []

    def work(i):
        try:
            out[i] = func(i, red.of(i))
        except BaseException as exc:  # noqa: BLE001 (re-raised below)
            errors.append(exc)
            red.barrier.abort()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(k)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return out


def split_blocks(n, dims):
    """(offset, shape) of the blocks of an n^3 grid on a process grid ``dims``."""
    out = []
    for coords in np.ndindex(*dims):
        parts = [split_extent(n, d, c) for d, c in zip(dims, coords)]
        out.append((tuple(p[0] for p in parts), tuple(p[1] for p in parts)))
    return out


def generate_split(kwargs, dims):
    """The particle generated block by block on ``dims``: (phase, grain, reports)."""
    n = validate_arguments(**{"margin_nm": None, **_all_args(kwargs)})[-1]
    blocks = split_blocks(n, dims)
    parts = run_blocks(lambda i, red: generate_agglomerate(**kwargs, block=blocks[i],
                                                           reduce=red), len(blocks))
    phase = np.full((n,) * 3, 99, np.uint8)
    grain = np.full((n,) * 3, -7, np.int32)
    for (off, shape), m in zip(blocks, parts):
        assert m.offset == off and m.phase.shape == shape and m.shape == (n,) * 3
        sl = tuple(slice(o, o + s) for o, s in zip(off, shape))
        phase[sl], grain[sl] = m.phase, m.grain
    return phase, grain, [m.report for m in parts]


def _all_args(kwargs):
    args = dict(radius_um=1.0, voxel_nm=10.0, porosity=0.25, grain_length_nm=300.0,
                grain_width_nm=150.0, grain_thickness_nm=50.0, size_cv=0.2, li_source="LiOH",
                li_to_tm=1.05, source_diameter_nm=300.0, placement="particles", seed=1)
    args.update(kwargs)
    return args


# -- one block: the particle of the generator before the blocks --------------------------
@pytest.mark.parametrize("name", sorted(OLD))
def test_serial_generator_reproduces_the_whole_grid_generator(name):
    kwargs, arrays, report, n = OLD[name]
    m = generate_agglomerate(**kwargs)
    got_arrays, got_report = _digests(m)
    assert m.phase.shape == (n, n, n)
    assert got_report == report, name
    if name != "shell_s6":
        assert got_arrays == arrays, name
    # a shell's voxels at the threshold radius were argpartition's arbitrary choice; now
    # they are the ones first in flat order (test_shell_takes_equal_radii_in_flat_order)


def test_shell_takes_equal_radii_in_flat_order():
    m = generate_agglomerate(**OLD["shell_s6"][0])
    n = m.phase.shape[0]
    c = (n - 1) / 2
    zz, yy, xx = np.ogrid[:n, :n, :n]
    rr2 = ((zz - c) ** 2 + (yy - c) ** 2 + (xx - c) ** 2).ravel()
    outside = np.flatnonzero(rr2 > m.radius_vox ** 2)
    order = outside[np.lexsort((outside, rr2[outside]))]
    k = m.report["n_source_voxels"]
    want = np.zeros(n ** 3, bool)
    want[order[:k]] = True
    assert np.array_equal(m.phase.ravel() == phases.LIOH, want)
    assert rr2[order[k - 1]] == rr2[order[k]]  # the cut falls inside a shell of equal radii


# -- several blocks: the same particle ----------------------------------------------------
@pytest.mark.parametrize("name, dims", [
    ("mpi_contract", (2, 1, 1)), ("mpi_contract", (1, 3, 2)), ("mpi_contract", (3, 2, 2)),
    ("shell_s6", (1, 2, 3)), ("por06_s9", (2, 3, 1)), ("cv0_por0", (1, 1, 4)),
    ("li2co3_s6", (3, 1, 2))])
def test_any_split_gives_the_serial_particle(name, dims):
    kwargs = OLD[name][0]
    ref = generate_agglomerate(**kwargs)
    phase, grain, reports = generate_split(kwargs, dims)
    assert np.array_equal(phase, ref.phase)
    assert np.array_equal(grain, ref.grain)
    for rep in reports:  # every block reports the whole particle
        assert _canon(rep) == _canon(ref.report)


def test_split_with_a_trimmed_last_source_particle_and_a_layer():
    """Radius 0.9 um: source particles, then a layer; and a box grown for Li:TM 3."""
    for kwargs, dims in ((R09, (2, 2, 1)), ({**R09, "li_to_tm": 3.0}, (1, 2, 3))):
        ref = generate_agglomerate(**kwargs)
        phase, grain, reports = generate_split(kwargs, dims)
        assert np.array_equal(phase, ref.phase) and np.array_equal(grain, ref.grain)
        assert all(_canon(r) == _canon(ref.report) for r in reports)
        assert ref.report["n_source_layer_voxels"] > 0


def test_a_block_needs_its_reduce_and_must_lie_in_the_grid():
    kwargs = OLD["tiny"][0]
    with pytest.raises(ValueError, match="reduce"):
        generate_agglomerate(**kwargs, block=((0, 0, 0), (30, 60, 60)))
    with pytest.raises(ValueError, match="not inside"):
        generate_agglomerate(**kwargs, block=((40, 0, 0), (30, 60, 60)),
                             reduce=lambda v: np.asarray(v, np.int64))
    assert Block.whole(5).is_whole and not Block.checked(5, (1, 0, 0), (4, 5, 5)).is_whole


# -- the distributed selection -------------------------------------------------------------
def test_select_smallest_over_blocks_equals_a_sort():
    gen = np.random.Generator(np.random.Philox(3))
    keys = gen.integers(0, 40, size=3000)  # many equal keys
    keys[::7] = gen.integers(0, 2 ** 62, size=keys[::7].size)
    flats = gen.permutation(10 ** 6)[:keys.size]
    cuts = [0, 700, 701, 2400, 3000]
    order = np.lexsort((flats, keys))
    for k in (1, 5, 999, 2999, 3000):
        want = np.zeros(keys.size, bool)
        want[order[:k]] = True
        masks = run_blocks(lambda i, red: select_smallest(
            keys[cuts[i]:cuts[i + 1]], flats[cuts[i]:cuts[i + 1]], k, 100, red), 4)
        assert np.array_equal(np.concatenate(masks), want), k


def test_radix_select_finds_the_kth_key():
    keys = np.array([5, 3, 3, 3, 9, 2 ** 40, 0, 3])
    srt = np.sort(keys)
    for k in range(1, keys.size + 1):
        t, less = radix_select(array_hist(keys), 41, k, lambda v: np.asarray(v, np.int64))
        assert t == srt[k - 1] and less == np.count_nonzero(keys < t)
    with pytest.raises(ValueError):
        radix_select(array_hist(keys), 41, keys.size + 1, lambda v: np.asarray(v, np.int64))


# -- any size starts: the source that does not fit as particles --------------------------
def test_radius_09_um_places_its_source_as_particles_and_a_layer():
    m = generate_agglomerate(**R09)
    rep = m.report
    n = m.phase.shape[0]
    assert n == validate_arguments(**{"margin_nm": None, **_all_args(R09)})[-1]
    assert rep["margin_nm"] == pytest.approx(150.0 + 2 * 20.0)  # the box did not grow
    src = m.phase == phases.LIOH
    assert src.sum() == rep["n_source_voxels"]
    assert rep["li_to_tm_achieved"] == pytest.approx(1.05, rel=1e-3)
    assert 0 < rep["n_source_layer_voxels"] < rep["n_source_voxels"] / 2
    assert rep["n_source_particles"] > 100
    c = (n - 1) / 2
    zz, yy, xx = np.ogrid[:n, :n, :n]
    r = np.sqrt((zz - c) ** 2 + (yy - c) ** 2 + (xx - c) ** 2)
    r_layer = rep["source_layer_radius_vox"]
    assert rep["radius_vox"] < r_layer <= c
    assert not np.any(src & (r <= rep["radius_vox"]))
    # the layer leaves no free voxel outside the particle nearer than its outer radius
    assert not np.any((m.phase == phases.PORE) & (r > rep["radius_vox"]) & (r < r_layer))
    # beyond the layer only source particles: within R + 0.9 d of the centre
    assert np.all(r[src & (r > r_layer)] <= rep["radius_vox"] + 0.9 * 150.0 / 20.0 + 1e-9)
    assert np.any(src & (r == r_layer))
    note = rep["source_note"]
    assert "uniform layer" in note and f"{rep['n_source_layer_voxels']}" in note
    assert "\n" not in note and "box margin" not in note
    assert note in m.summary()


def test_radius_09_um_run_logs_the_layer_in_one_line():
    cfg = config.load(sets=["particle.radius_um=0.9", "particle.voxel_nm=20",
                            "numerics.threads=1"])
    lines = []
    sim = Simulation(cfg, log=lines.append)
    assert sum("uniform layer" in str(line) for line in lines) == 1
    assert sim.micro.report["n_source_layer_voxels"] > 0
    assert sim.state.global_shape == (sim.micro.report["grid_n"],) * 3


def test_default_particle_logs_nothing_about_its_source():
    m = generate_agglomerate(**OLD["config_default"][0])
    assert m.report["source_note"] == "" and m.report["n_source_layer_voxels"] == 0
    assert m.report["margin_nm"] == 150.0 + 2 * 10.0


def test_the_box_grows_to_the_smallest_that_holds_the_source():
    kwargs = {**R09, "li_to_tm": 3.0}
    m = generate_agglomerate(**kwargs)
    rep = m.report
    n = rep["grid_n"]
    rv = rep["radius_vox"]
    default_n = int(np.ceil((1800.0 + 2 * 190.0) / 20.0 - 1e-9))
    assert n > default_n
    assert source_fits(n, rv, 0.25, 3.0, "LiOH", 20.0)
    assert not source_fits(n - 1, rv, 0.25, 3.0, "LiOH", 20.0)
    assert rep["li_to_tm_achieved"] == pytest.approx(3.0, rel=1e-3)
    assert rep["source_layer_radius_vox"] <= (n - 1) / 2
    assert "box margin" in rep["source_note"] and "uniform layer" in rep["source_note"]
    # the same source as a shell gets the same box (the room is counted for the shell)
    shell = generate_agglomerate(**{**kwargs, "placement": "shell"})
    assert shell.report["grid_n"] == n and "uniform layer" not in shell.report["source_note"]
