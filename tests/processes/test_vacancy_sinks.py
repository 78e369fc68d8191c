"""Where annihilated vacancies go (mcsim.processes.sintering.vacancy_sinks): constrained
sintering read from the local bond fraction, and local sinks."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy import ndimage

from mcsim import params
from mcsim import phases as ph
from mcsim.processes import sintering as si
from mcsim.processes.sintering import vacancy_sinks as vs
from mcsim.state import State, full_amount_table


def sphere(n=40, core_porosity=0.3, shell_porosity=0.3, seed=3, core_r=0.55):
    """A layered polycrystal sphere (3.5-voxel grains) with intergranular pores (-1) drawn at
    ``core_porosity`` inside r < core_r R and ``shell_porosity`` outside; outside pore 0."""
    shape = (n, n, n)
    grain = si.polycrystal(shape, 3.5, seed=seed).astype(np.int32)
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.indices(shape)
    c = (n - 1) / 2
    big_r = n / 2 - 2
    r = np.sqrt((zz - c) ** 2 + (yy - c) ** 2 + (xx - c) ** 2) / big_r
    pore = rng.random(shape) < np.where(r < core_r, core_porosity, shell_porosity)
    out = r > 1.0
    phase = np.full(shape, ph.LAYERED, dtype=np.uint8)
    phase[pore | out] = ph.PORE
    grain[pore] = -1
    grain[out] = 0
    amount = np.where(phase == ph.LAYERED, full_amount_table()[ph.LAYERED], 0).astype(np.uint16)
    st = State.from_arrays(phase, grain, amount, np.zeros(shape, dtype=np.float32))
    return st, r


def sink_map(st):
    edge = vs.cell_edge(st.voxel_nm)
    return vs.SinkMap(vs.local_cell_counts(st, edge), edge, st.voxel_nm)


def densify(st, per_nm, p=0.2, mcs=0):
    pr = params.resolve("ncm622-lioh", {"densification_probability": p,
                                        "vacancy_constraint_per_nm": per_nm})
    proc = si.PottsSintering(pr, {}, 1)
    return si.drive(st, proc.steps(st, {"grain_growth": (0, 0), "pore_migration": (0, 0),
                                        "densification": (mcs, 1)}))


def test_bond_fraction_is_one_inside_a_solid_block_and_falls_with_porosity():
    n = 48
    phase = np.full((n, n, n), ph.LAYERED, dtype=np.uint8)
    st = State.from_arrays(phase, np.ones((n, n, n), dtype=np.int32))
    m = sink_map(st)
    assert m.bond[2:-2, 2:-2, 2:-2] == pytest.approx(1.0)  # away from the lattice faces
    dense, _ = sphere(core_porosity=0.1, shell_porosity=0.1)
    loose, _ = sphere(core_porosity=0.4, shell_porosity=0.4)
    mid = tuple(s // 2 for s in sink_map(dense).shape)
    assert sink_map(loose).bond[mid] < sink_map(dense).bond[mid] < 1.0


def test_a_soft_core_under_a_stiff_shell_is_constrained_and_a_uniform_particle_is_not():
    soft, _ = sphere(core_porosity=0.45, shell_porosity=0.1)
    uniform, _ = sphere(core_porosity=0.1, shell_porosity=0.1)
    centre = np.ravel_multi_index(tuple(s // 2 for s in sink_map(soft).shape),
                                  sink_map(soft).shape)
    c_soft = sink_map(soft).constraint_nm(np.array([centre]))[0]
    c_uniform = sink_map(uniform).constraint_nm(np.array([centre]))[0]
    assert c_soft > 20.0  # nm of fully stiffer material, weighted by the excess
    assert c_uniform < 0.25 * c_soft


def test_inward_chance_is_zero_without_constraint_and_rises_with_it():
    c = np.array([0.0, 10.0, 40.0, 400.0])
    assert (vs.inward_chance(c, 0.0) == 0).all()
    ch = vs.inward_chance(c, 1 / 40)
    assert ch[0] == 0 and np.all(np.diff(ch) > 0) and ch[2] == pytest.approx(1 - np.exp(-1))


def _emptied(before_phase, st):
    return (before_phase >= ph.HYDROXIDE) & (st.interior("phase") == ph.PORE)


def test_without_constraint_every_vacancy_leaves_at_the_nearby_outer_surface():
    st, r = sphere(core_porosity=0.45, shell_porosity=0.1)
    outside0 = (st.interior("phase") == ph.PORE) & (st.interior("grain") == 0)
    before = st.interior("phase").copy()
    out = densify(st, 0.0)
    assert out["vacancies_annihilated"] > 50 and out["vacancies_inward"] == 0
    emptied = _emptied(before, st)
    assert emptied.sum() == out["vacancies_annihilated"]
    assert (st.interior("grain")[emptied] == 0).all()
    labels, _ = ndimage.label(outside0 | emptied)
    assert np.isin(labels[emptied], labels[outside0]).all()


def test_a_particle_under_a_closed_layer_of_spent_source_still_shrinks_at_its_surface():
    """Used-up source voxels keep their phase at amount 0; a particle wrapped in them (the
    uniform source layer of a large particle) must still find its outer surface."""
    st, r = sphere(core_porosity=0.45, shell_porosity=0.1)
    layer = (r > 1.0) & (r < 1.2)  # a closed shell of spent Li2O (grain 0) on the surface
    ph0 = st.interior("phase")
    ph0[layer] = ph.LI2O
    st.interior("amount")[layer] = 0
    assert sink_map(st).has_outer.any()
    before = st.interior("phase").copy()
    out = densify(st, 0.0)
    emptied = _emptied(before, st)
    assert out["vacancies_annihilated"] > 50 and out["vacancies_inward"] == 0
    assert emptied.sum() == out["vacancies_annihilated"]
    assert (st.interior("grain")[emptied] == 0).all()
    spent = ndimage.binary_dilation(layer)  # every emptied voxel lies on the layer's face
    assert spent[emptied].all()


def test_a_stiff_shell_keeps_the_soft_cores_vacancies_inside_and_a_uniform_particle_shrinks():
    shares = {}
    for name, core in (("soft core", 0.45), ("uniform", 0.1)):
        st, r = sphere(core_porosity=core, shell_porosity=0.1, core_r=0.75)
        before = st.interior("phase").copy()
        out = densify(st, 1 / 40)
        emptied = _emptied(before, st)
        inside = emptied & (st.interior("grain") == -1)
        assert inside.sum() == out["vacancies_inward"]
        shares[name] = out["vacancies_inward"] / out["vacancies_annihilated"]
        if name == "soft core":  # the inner sinks lie in the core, where the events were
            assert np.median(r[inside]) < 0.75
    # on this 18-voxel particle the shell is ~5 voxels thick: C ~ 15 nm in the core, an
    # inward chance ~ 0.3 there, and most events lie in the shell
    assert shares["soft core"] > 0.08
    assert shares["uniform"] < 0.5 * shares["soft core"]


def test_tm_and_lithium_are_conserved_with_the_constraint_on():
    st, _ = sphere(core_porosity=0.45, shell_porosity=0.1)
    st.li[st.phase == ph.LAYERED] = 3.0
    tm0 = st.interior("amount")[st.interior("phase") == ph.LAYERED].astype(np.int64).sum()
    li0 = st.interior("li").astype(np.float64).sum()
    out = densify(st, 1 / 40)
    assert out["vacancies_inward"] > 0
    assert st.interior("amount")[st.interior("phase") == ph.LAYERED].astype(np.int64).sum() == tm0
    assert st.interior("li").astype(np.float64).sum() == li0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_first_per_group_and_assign_match_a_plain_loop(seed):
    r = np.random.default_rng(seed)
    group = r.integers(0, 6, 200)
    key = r.integers(0, 30, 200).astype(np.uint64)
    idx = r.permutation(200).astype(np.int64)
    want = r.integers(0, 8, 6)
    sel = vs.first_per_group(group, key, idx, want)
    expected = []
    for g in range(6):
        members = sorted(np.flatnonzero(group == g), key=lambda i: (key[i], idx[i]))
        expected += members[:want[g]]
    assert list(sel) == expected
    events = r.integers(-1, 6, 50)
    pos = vs.assign(events, group[sel])
    used = {}
    for i, g in enumerate(events):
        k = used.get(g, 0)
        avail = [j for j, gg in enumerate(group[sel]) if gg == g]
        want_pos = avail[k] if g >= 0 and k < len(avail) else -1
        assert pos[i] == want_pos
        used[g] = k + 1


@pytest.mark.parametrize("shape, reach", [((7, 9, 11), 2), ((1, 5, 3), 2), ((12, 4, 6), 1),
                                          ((5, 5, 5), 4)])
def test_inward_targets_by_passes_equal_the_scan_of_every_box(shape, reach):
    """The three one-dimensional passes pick, for every cell, the cell the scan of its box
    picks: the largest pore fraction among cells with inner sinks, ties to the smallest index
    (pore fractions drawn from a few values, so ties are common), -1 where none is in reach."""
    gen = np.random.default_rng(sum(shape) + reach)
    for trial in range(5):
        pore = gen.integers(0, 4, size=shape) / 4.0
        has_inner = gen.random(shape) < (0.05, 0.3, 0.9, 1.0, 0.0)[trial]
        fast = np.full(shape, -2, dtype=np.int64)
        scan = np.full(shape, -2, dtype=np.int64)
        vs._inward_targets_kernel(pore, has_inner, reach, fast)
        vs._inward_targets_scan(pore, has_inner, reach, scan)
        np.testing.assert_array_equal(fast, scan)
        if trial == 4:
            assert (fast == -1).all()


def _grain_boundary_choice_by_counting(phase, grain, z, y, x):
    """The choice as it was first written: every solid id of the box counted over the box."""
    box_p = phase[z - 1:z + 2, y - 1:y + 2, x - 1:x + 2].ravel()
    box_g = grain[z - 1:z + 2, y - 1:y + 2, x - 1:x + 2].ravel()
    solid = box_g[box_p >= ph.HYDROXIDE]
    if len(set(solid.tolist())) < 2:
        return 0
    best, best_n = 0, 0
    for g in solid.tolist():
        n = int(np.count_nonzero(solid == g))
        if n > best_n or (n == best_n and g < best):
            best, best_n = g, n
    return best


def test_grain_boundary_choice_tallies_as_counting_does():
    """The most frequent solid grain id around a pore (ties: the smallest; 0 with fewer than
    two ids), tallied in one pass, equals counting every id over the box."""
    import numba

    from mcsim.processes.sintering.densification import _grain_boundary_choice

    choice = numba.njit(_grain_boundary_choice.py_func)
    gen = np.random.default_rng(8)
    phase = np.where(gen.random((9, 10, 11)) < 0.3, ph.PORE, ph.LAYERED).astype(np.uint8)
    ids = np.empty(27, dtype=np.int32)
    tally = np.empty(27, dtype=np.int64)
    seen = set()
    for n_grains in (1, 2, 3, 6):
        grain = gen.integers(1, n_grains + 1, size=phase.shape).astype(np.int32)
        for z, y, x in np.argwhere(phase[1:-1, 1:-1, 1:-1] == ph.PORE) + 1:
            got = choice(phase, grain, z, y, x, ids, tally)
            assert got == _grain_boundary_choice_by_counting(phase, grain, z, y, x)
            seen.add(got == 0)
    assert seen == {True, False}


def _cell_counts_numpy(phase, grain, offset, global_shape, edge):
    """The per-cell counts of :func:`vs.cell_counts_kernel`, voxel by voxel in NumPy, for
    haloed ``phase`` and ``grain`` of a block at ``offset``."""
    inner = (slice(1, -1),) * 3
    p, g = phase[inner], grain[inner]

    def shifted(arr, axis, d):
        sl = [slice(1, -1)] * 3
        sl[axis] = slice(1 + d, arr.shape[axis] - 1 + d)
        return arr[tuple(sl)]

    solid = p >= si.SOLID_MIN
    bond = sum((shifted(phase, a, 1) >= si.SOLID_MIN).astype(np.int64) for a in range(3))
    outer = np.zeros(p.shape, dtype=bool)
    inner_face = np.zeros(p.shape, dtype=bool)
    for a in range(3):
        for d in (-1, 1):
            pn, gn = shifted(phase, a, d), shifted(grain, a, d)
            outer |= (pn < si.SOLID_MIN) & (gn == 0)
            inner_face |= (pn == ph.PORE) & (gn == -1)
    ncz, ncy, ncx = vs.cell_grid(global_shape, edge)
    out = np.zeros((vs.N_COUNTS, ncz, ncy, ncx), dtype=np.int64)
    cells = tuple((np.indices(p.shape)[a] + offset[a]) // edge for a in range(3))
    for k, value in ((vs.N_VOXELS, np.ones(p.shape, np.int64)), (vs.N_SOLID, solid),
                     (vs.N_BOND, bond * solid), (vs.N_INNER_PORE, (p == ph.PORE) & (g != 0)),
                     (vs.N_OUTER_SINK, solid & outer),
                     (vs.N_INNER_SINK, solid & ~outer & inner_face)):
        np.add.at(out[k], cells, np.asarray(value, dtype=np.int64))
    return out


@pytest.mark.parametrize("offset, edge", [((0, 0, 0), 4), ((3, 5, 7), 4), ((2, 9, 1), 3)])
def test_cell_counts_are_the_voxel_by_voxel_counts(offset, edge):
    """The counts run through each cell of a row in registers: the same numbers as counting
    voxel by voxel, on a block at an offset that cuts cells, with sources, inner and outer
    pores and nanopores, and solid in the halo."""
    gen = np.random.default_rng(sum(offset) + edge)
    shape, global_shape = (21, 18, 23), (40, 41, 37)
    phase = gen.choice([ph.PORE, ph.LIOH, ph.LI2O, ph.HYDROXIDE, ph.ROCKSALT, ph.LAYERED],
                       size=tuple(n + 2 for n in shape),
                       p=[0.3, 0.05, 0.05, 0.1, 0.1, 0.4]).astype(np.uint8)
    grain = gen.integers(-1, 6, size=phase.shape).astype(np.int32)
    block = SimpleNamespace(phase=phase, grain=grain, offset=offset, shape=shape,
                            global_shape=global_shape)
    got = vs.local_cell_counts(block, edge)
    want = _cell_counts_numpy(phase, grain, offset, global_shape, edge)
    np.testing.assert_array_equal(got, want)
    assert got[vs.N_OUTER_SINK].sum() > 0 and got[vs.N_INNER_SINK].sum() > 0
