"""Where annihilated vacancies go (mcsim.processes.sintering.vacancy_sinks): constrained
sintering read from the local bond fraction, and local sinks."""

from __future__ import annotations

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
