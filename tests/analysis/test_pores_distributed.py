"""The pieces of the pore statistics without gathering (mcsim.pores.distributed) in one
process: the union of pores labelled slab by slab, the levels of local thickness of a slab
with its halos, the strict comparison, and the whole analysis on one rank (a communicator of
size 1), which must equal the serial one bit for bit. The runs on 2 to 8 ranks are in
tests/run/test_mpi_pores.py."""

import math

import numpy as np
import pytest

from mcsim import phases as ph
from mcsim.errors import ConfigError
from mcsim.pores import (distributed_pore_statistics, distributed_reference_central_void,
                         pore_statistics, reference_central_void, synthetic_particle)
from mcsim.pores.classes import find_pores
from mcsim.pores.distributed import (_boundary_edges, _merge, _slab_rows,
                                     statistics_differences)
from mcsim.pores.geometry import _OUTSIDE
from mcsim.pores.labelling import label_pores
from mcsim.pores.thickness import _opening_levels, _pore_sq_distance, thickness_grid_vox


def _random_particle(seed, shape=(23, 17, 19)):
    """Random phases (pores, sources, layered oxide) and grains (1-4 and 0) on a box whose
    outer layer is outside the particle, as the particle's box always is."""
    rng = np.random.Generator(np.random.Philox(seed))
    phase = rng.choice([ph.PORE, ph.LAYERED, ph.LAYERED, ph.LIOH], size=shape).astype(np.uint8)
    grain = rng.integers(0, 5, size=shape).astype(np.int32)
    shell = rng.integers(0, 10, size=shape).astype(np.uint8)
    shell[rng.random(shape) < 0.1] = _OUTSIDE
    for axis in range(3):  # the outer layer
        for index in (0, -1):
            sl = [slice(None)] * 3
            sl[axis] = index
            shell[tuple(sl)] = _OUTSIDE
    return phase, grain, shell


def _table_by_slabs(phase, grain, shell, cuts, origin):
    """find_pores's table assembled from z-slabs cut at ``cuts``, as the ranks do it."""
    bounds = [0, *cuts, phase.shape[0]]
    rows, edges, labels, counts = [], [], [], []
    for z0, z1 in zip(bounds[:-1], bounds[1:]):
        lab, n, _ = label_pores(phase[z0:z1], shell[z0:z1])
        below = None if z0 == 0 else (phase[z0 - 1:z0], grain[z0 - 1:z0], shell[z0 - 1:z0])
        above = (None if z1 == phase.shape[0]
                 else (phase[z1:z1 + 1], grain[z1:z1 + 1], shell[z1:z1 + 1]))
        rows.append(_slab_rows(lab, n, phase[z0:z1], grain[z0:z1], shell[z0:z1], below, above,
                               z0))
        if labels:
            edges.append(_boundary_edges(lab[0], labels[-1][-1], sum(counts),
                                         sum(counts[:-1])))
        labels.append(lab)
        counts.append(n)
    table, void = _merge(np.concatenate(rows), np.concatenate(edges or [np.zeros((0, 2),
                                                                              np.int64)]),
                         origin)
    return table, void, labels


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("cuts", [(1,), (11,), (5, 6), (3, 9, 15, 16)])
def test_pores_merged_over_z_slabs_are_those_of_the_whole_box(seed, cuts):
    """Labels of the slabs, unions over their boundaries and the records added up give the
    whole box's pore table: same pores in the same order, volumes, faces, centroids, classes
    and enclosing grains (random structure: many pores cross the cuts, some several)."""
    phase, grain, shell = _random_particle(seed)
    origin = (-3, 4, 7)
    labels, want = find_pores(phase, grain, shell, origin)
    got, void, slab_labels = _table_by_slabs(phase, grain, shell, cuts, origin)
    assert want["volume_voxels"].size > 50
    crossing = set()
    for z in cuts:
        crossing |= (set(np.unique(labels[z - 1])) & set(np.unique(labels[z]))) - {0}
    assert len(crossing) > 3 or cuts == (1,)  # the cuts split pores (plane 0 is outside)
    assert statistics_differences(got, want) == []
    # the void flag of each slab's labels is that of its pore in the whole box
    flags = np.concatenate(([False], want["pore_class"] != 0))
    bounds = [0, *cuts, phase.shape[0]]
    pos = 0
    for (z0, z1), lab in zip(zip(bounds[:-1], bounds[1:]), slab_labels):
        n = int(lab.max()) if lab.size else 0
        mine = void[pos:pos + n].astype(bool)
        assert np.array_equal(np.concatenate(([False], mine))[lab], flags[labels[z0:z1]])
        pos += n


def test_one_voxel_thick_slabs_still_merge():
    """Every slab one plane thick: pores are only joined through the boundary edges."""
    phase, grain, shell = _random_particle(4, shape=(9, 12, 10))
    _, want = find_pores(phase, grain, shell)
    got, _, _ = _table_by_slabs(phase, grain, shell, tuple(range(1, 9)), (0, 0, 0))
    assert statistics_differences(got, want) == []


def test_levels_of_a_slab_with_halos_equal_those_of_the_whole_array():
    """_opening_levels of planes lo:hi with halos of isqrt(largest cover) planes equals the
    same planes of the whole array's levels, for a structure with balls up to 9 across."""
    rng = np.random.Generator(np.random.Philox(9))
    pore = np.zeros((40, 24, 24), bool)
    for _ in range(30):
        c = rng.integers(2, (38, 22, 22))
        r = rng.uniform(1.0, 4.5)
        z, y, x = np.ogrid[:40, :24, :24]
        pore |= (z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= r * r
    pore[[0, -1]] = False
    d2 = _pore_sq_distance(pore)
    grid = thickness_grid_vox(20)
    quarter = grid ** 2 // 4
    whole = _opening_levels(pore, d2, quarter + 1, quarter)
    assert whole.max() >= 7
    last = max(k for k in range(len(grid)) if quarter[k] + 1 <= d2.max())
    h = math.isqrt(int(quarter[last]))
    for lo, hi in ((0, 7), (7, 19), (19, 20), (20, 40)):
        a, b = max(0, lo - h), min(40, hi + h)
        part = _opening_levels(pore[a:b], d2[a:b], quarter + 1, quarter,
                               planes=(lo - a, hi - a))
        assert np.array_equal(part, whole[lo:hi]), (lo, hi)
    # a one-plane halo misses balls: the comparison above can fail
    misses = 0
    for lo, hi in ((0, 7), (7, 19), (19, 20), (20, 40)):
        a, b = max(0, lo - 1), min(40, hi + 1)
        part = _opening_levels(pore[a:b], d2[a:b], quarter + 1, quarter,
                               planes=(lo - a, hi - a))
        misses += int(np.count_nonzero(part != whole[lo:hi]))
    assert misses > 0


def test_statistics_differences_sees_one_changed_bit():
    base = {"x": 0.1, "a": np.arange(3, dtype=np.int64), "d": {"y": math.nan}, "l": ["a"]}
    assert statistics_differences(base, dict(base)) == []
    assert statistics_differences(base, {**base, "x": float(np.nextafter(0.1, 1.0))})
    assert statistics_differences(base, {**base, "a": np.arange(3, dtype=np.int32)})
    assert statistics_differences(base, {**base, "d": {"y": 0.0}})
    assert statistics_differences(base, {**base, "d": {"y": math.nan, "z": 1}})
    assert statistics_differences(base, {**base, "l": ["b"]})


# -- the whole analysis on one rank -----------------------------------------------------------

@pytest.fixture(scope="module")
def particle():
    m = synthetic_particle(48, 500, seed=3)
    rng = np.random.Generator(np.random.Philox(11))
    amount = rng.integers(0, 3, m.phase.shape).astype(np.uint16)
    return m, amount


@pytest.fixture(scope="module")
def lone():
    from mpi4py import MPI

    from mcsim.parallel import Decomposition

    decs = {}
    yield lambda shape: decs.setdefault(shape, Decomposition(MPI.COMM_SELF, shape))
    for dec in decs.values():
        dec.free()


@pytest.mark.parametrize("kwargs", [
    {}, {"outline": "tags", "amount": True, "central_void_reference": 0.05},
    {"thickness_convention": "porespy", "amount": True, "n_size_bins": 9}])
def test_one_rank_equals_the_serial_analysis(particle, lone, kwargs):
    m, amount = particle
    kw = {k: (amount if k == "amount" else v) for k, v in kwargs.items()}
    args = (m.center_vox, m.radius_vox, m.voxel_nm)
    want = pore_statistics(m.phase, m.grain, *args, **kw)
    got = distributed_pore_statistics(lone(m.phase.shape), m.phase, m.grain, *args, **kw)
    assert want["pore_count"] > 20 and want["grain_count"] > 10
    assert statistics_differences(got, want) == []
    ref = distributed_reference_central_void(lone(m.phase.shape), m.phase, m.grain, *args,
                                             outline=kw.get("outline", "sphere"),
                                             amount=kw.get("amount"))
    assert ref == reference_central_void(m.phase, m.grain, *args,
                                         outline=kw.get("outline", "sphere"),
                                         amount=kw.get("amount"))


def test_one_rank_with_the_box_padded_outside_the_lattice(lone):
    """A sphere touching the lattice's faces: the box reaches outside and is padded."""
    shape = (9, 8, 7)
    phase = np.full(shape, ph.LAYERED, np.uint8)
    grain = np.ones(shape, np.int32)
    grain[:, 4:] = 2
    phase[4, 3:5, 3] = ph.PORE
    phase[1:8, 1, 3] = ph.PORE
    args = ((4.0, 3.5, 3.0), 3.0, 10.0)
    want = pore_statistics(phase, grain, *args)
    assert want["pore_count"] == 2 and want["grain_count"] == 2
    got = distributed_pore_statistics(lone(shape), phase, grain, *args)
    assert statistics_differences(got, want) == []


@pytest.mark.parametrize("kwargs, key", [
    ({"outline": "disc"}, "outline"),
    ({"thickness_convention": "imagej"}, "thickness_convention"),
    ({"central_void_reference": 2.0}, "central_void_reference"),
    ({"n_size_bins": 0}, "n_size_bins"),
    ({"radius_vox": 30.0}, "radius_vox"),
    ({"amount": np.zeros((3, 3, 3), np.uint16)}, "amount"),
    ({"grain": np.zeros((2, 2, 2), np.int32)}, "grain"),
    ({"phase": np.full((9, 8, 7), 99, np.uint8)}, "phase"),
])
def test_bad_input_is_a_config_error_naming_the_key(lone, kwargs, key):
    shape = (9, 8, 7)
    args = dict(phase=np.zeros(shape, np.uint8), grain=np.zeros(shape, np.int32),
                center_vox=(4.0, 3.5, 3.0), radius_vox=3.0, voxel_nm=10.0)
    args.update(kwargs)
    with pytest.raises(ConfigError) as err:
        distributed_pore_statistics(lone(shape), **args)
    assert err.value.key == key


def test_used_up_sources_count_as_pores_on_the_slabs(lone):
    """amount 0 on a lithium source: a pore for both analyses, which agree."""
    shape = (9, 8, 7)
    phase = np.full(shape, ph.LAYERED, np.uint8)
    grain = np.ones(shape, np.int32)
    phase[3:6, 3, 3] = ph.LIOH
    amount = np.full(shape, 5, np.uint16)
    amount[4, 3, 3] = 0
    args = ((4.0, 3.5, 3.0), 3.4, 10.0)
    want = pore_statistics(phase, grain, *args, amount=amount)
    assert want["pore_count"] == 1
    got = distributed_pore_statistics(lone(shape), phase, grain, *args, amount=amount)
    assert statistics_differences(got, want) == []
