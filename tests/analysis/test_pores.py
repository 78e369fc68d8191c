"""Tests of the pore and grain statistics (mcsim.pores) on shapes with known answers."""

import math

import h5py
import numpy as np
import pytest
from scipy import ndimage

from mcsim import phases as ph
from mcsim.errors import ConfigError
from mcsim.io import ResultWriter
from mcsim.pores import (INTERGRANULAR, INTRAGRANULAR, OPEN, SCALARS, SCALAR_UNITS,
                         _pore_sq_distance, _thickness_bins, local_thickness, pore_statistics,
                         synthetic_particle, thickness_grid_vox)

VOX = 10.0


def _solid_particle(n=40, radius=18.0, grain_id=1):
    """An n^3 box with a solid layered sphere of one grain at its centre, pore outside."""
    c = (n - 1) / 2
    z, y, x = np.ogrid[:n, :n, :n]
    inside = (z - c) ** 2 + (y - c) ** 2 + (x - c) ** 2 <= radius * radius
    phase = np.where(inside, ph.LAYERED, ph.PORE).astype(np.uint8)
    grain = np.where(inside, grain_id, 0).astype(np.int32)
    return phase, grain, (c, c, c), radius, inside


def _ball(shape, centre, radius):
    z, y, x = np.ogrid[:shape[0], :shape[1], :shape[2]]
    return ((z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2
            <= radius * radius)


def _faces(mask):
    """Faces between mask voxels and non-mask voxels (mask padded with False)."""
    m = np.pad(mask, 1).astype(np.int8)
    return sum(int(np.abs(np.diff(m, axis=a)).sum()) for a in range(3))


def _eqd(voxels):
    return (6.0 * voxels * VOX ** 3 / math.pi) ** (1.0 / 3.0)


def _only_pore(stats):
    pores = stats["pores"]
    assert pores["volume_voxels"].size == 1
    return {k: v[0] for k, v in pores.items()}


@pytest.mark.parametrize("shape", ["sphere", "cylinder", "slab"])
def test_digitised_pore_in_one_grain_has_exact_volume_diameter_surface_and_is_intragranular(shape):
    phase, grain, c, r, _ = _solid_particle()
    n = phase.shape[0]
    if shape == "sphere":
        pore = _ball(phase.shape, (19, 17, 21), 3.5)
    elif shape == "cylinder":  # axis along x, radius 2.5, 9 voxels long
        z, y, x = np.ogrid[:n, :n, :n]
        pore = ((z - 20) ** 2 + (y - 18) ** 2 <= 6.25) & (x >= 15) & (x < 24)
    else:  # 3 x 6 x 7 box
        pore = np.zeros(phase.shape, bool)
        pore[18:21, 16:22, 15:22] = True
    phase[pore] = ph.PORE
    s = pore_statistics(phase, grain, c, r, VOX)
    p = _only_pore(s)
    v = int(pore.sum())
    assert p["volume_voxels"] == v
    assert p["volume_nm3"] == v * VOX ** 3
    assert p["equivalent_diameter_nm"] == pytest.approx(_eqd(v), rel=1e-12)
    assert p["surface_nm2"] == _faces(pore) * VOX ** 2
    if shape == "slab":
        assert _faces(pore) == 2 * (3 * 6 + 6 * 7 + 3 * 7)
    assert p["pore_class"] == INTRAGRANULAR and p["grain_id"] == 1
    zc, yc, xc = np.nonzero(pore)
    assert np.allclose(p["centroid_vox"], [zc.mean(), yc.mean(), xc.mean()])
    rc = math.dist(p["centroid_vox"], c) / r
    assert p["centroid_r_over_r"] == pytest.approx(rc)
    assert s["nanopore_count"] == 1 and s["void_count"] == 0
    assert s["porosity"] == pytest.approx(v / s["particle_voxels"])


def test_pore_class_follows_grains_and_connection_to_outside():
    phase, grain, c, r, inside = _solid_particle()
    n = phase.shape[0]
    _, _, x = np.ogrid[:n, :n, :n]
    grain[inside & (x >= 20)] = 2  # two grains meeting at the plane x = 19.5
    pores = {
        "one grain": _ball(phase.shape, (19, 19, 10), 2.5),
        "two grains": _ball(phase.shape, (10, 19, 19.5), 2.0),
        "to the outside": np.zeros(phase.shape, bool),
    }
    pores["to the outside"][19, 19, 33:] = True  # a channel through the surface (x <= 37.5)
    for m in pores.values():
        phase[m] = ph.PORE
    s = pore_statistics(phase, grain, c, r, VOX)
    cls = {}
    for name, m in pores.items():
        v_in = int((m & inside).sum())
        i = int(np.flatnonzero(s["pores"]["volume_voxels"] == v_in)[0])
        cls[name] = s["pores"]["pore_class"][i]
    assert cls == {"one grain": INTRAGRANULAR, "two grains": INTERGRANULAR,
                   "to the outside": OPEN}
    assert s["intergranular_count"] == 1 and s["open_count"] == 1 and s["nanopore_count"] == 1
    assert s["void_count"] == 2
    assert s["pore_class_names"] == ["intragranular", "intergranular", "open"]
    # the open channel's surface holds only its faces with solid, not the particle surface
    i = int(np.flatnonzero(s["pores"]["pore_class"] == OPEN)[0])
    v_open = int((pores["to the outside"] & inside).sum())
    assert s["pores"]["surface_nm2"][i] == (4 * v_open + 1) * VOX ** 2  # sides + inner end


def test_pore_walled_by_lithium_source_is_not_intragranular():
    phase, grain, c, r, _ = _solid_particle()
    pore = _ball(phase.shape, (19, 19, 12), 2.5)
    phase[pore] = ph.PORE
    phase[19, 19, 15] = ph.LIOH  # a source voxel on the pore wall, same grain id
    s = pore_statistics(phase, grain, c, r, VOX)
    assert _only_pore(s)["pore_class"] == INTERGRANULAR
    # a pore inside a blob of source (grain 0) has no grain at all around it
    phase, grain, c, r, _ = _solid_particle()
    blob = _ball(phase.shape, (19, 26, 19), 3.5)
    phase[blob] = ph.LIOH
    grain[blob] = 0
    phase[19, 26, 19] = ph.PORE
    s = pore_statistics(phase, grain, c, r, VOX)
    assert _only_pore(s)["pore_class"] == INTERGRANULAR and s["nanopore_count"] == 0


@pytest.mark.parametrize("t", range(1, 14))
def test_local_thickness_of_a_slab_is_its_thickness(t):
    slab = np.zeros((t + 4, 7, 9), bool)
    slab[2:2 + t] = True
    lt = local_thickness(slab)
    assert np.all(lt[~slab] == 0)
    # odd thickness: a ball of diameter t fits centred on the middle plane; even: the best
    # ball would be centred between planes, so the lattice gives t - 1
    assert np.all(lt[slab] == (t if t % 2 else t - 1))
    assert np.all(np.abs(lt[slab] - t) <= 1)


@pytest.mark.parametrize("d", [3, 7, 11, 15])
def test_local_thickness_of_an_odd_sphere_and_cylinder_is_their_diameter(d):
    n = d + 6
    c = (n - 1) // 2
    sphere = _ball((n, n, n), (c, c, c), d / 2)
    assert np.all(local_thickness(sphere)[sphere] == d)
    z, y, _ = np.ogrid[:n, :n, :n]
    cylinder = np.broadcast_to((z - c) ** 2 + (y - c) ** 2 <= (d / 2) ** 2, (n, n, n))
    assert np.all(local_thickness(cylinder)[cylinder] == d)


def test_local_thickness_of_an_even_sphere_is_its_best_voxel_centred_ball():
    # a digitised ball of even diameter d is centred between voxels; the largest ball
    # centred on a voxel inside it has diameter < 2 * sqrt(20) = 8.94, so the grid gives 8
    d = 10
    sphere = _ball((16, 16, 16), (7.5, 7.5, 7.5), d / 2)
    lt = local_thickness(sphere)[sphere]
    assert lt.max() == d - 2 and np.median(lt) == d - 2


def _brute_force_thickness(pore, grid):
    """Paint every lattice ball in the pore space with its diameter, keep the largest."""
    d2 = np.rint(ndimage.distance_transform_edt(pore) ** 2).astype(np.int64)
    best = np.zeros(pore.shape, np.int64)
    zz, yy, xx = np.indices(pore.shape)
    for cz, cy, cx in zip(*np.nonzero(pore)):
        r2 = (zz - cz) ** 2 + (yy - cy) ** 2 + (xx - cx) ** 2
        for dk in grid:
            if 4 * d2[cz, cy, cx] <= dk * dk:  # the ball of diameter dk does not fit
                break
            np.maximum(best, np.where(4 * r2 <= dk * dk, dk, 0), out=best)
    return best


def test_slabbed_local_thickness_equals_painting_every_ball_on_a_random_structure():
    shape = (24, 18, 20)
    rng = np.random.Generator(np.random.Philox(key=np.array([3, 1], dtype=np.uint64)))
    pore = np.zeros(shape, bool)
    for centre, radius in zip(rng.uniform(0, 1, (30, 3)) * shape, rng.uniform(0.8, 4.5, 30)):
        pore |= _ball(shape, centre, radius)  # overlapping balls of radius 0.8-4.5 voxels
    grid = thickness_grid_vox(40)
    lt, d2 = _thickness_bins(pore, grid, slab=3)  # tiny slabs: every halo path is used
    exact = np.rint(ndimage.distance_transform_edt(pore) ** 2).astype(np.int64)
    assert np.array_equal(d2, exact)
    assert np.array_equal(np.where(pore, grid[lt], 0), _brute_force_thickness(pore, grid))
    assert grid[lt][pore].max() >= 7  # the test reaches beyond trivial thicknesses


def test_pore_distance_map_widens_the_halo_for_a_large_cavity():
    pore = np.zeros((60, 30, 30), bool)
    pore[1:59, 1:29, 1:29] = True  # distances up to 14 voxels, far beyond the 2-plane halo
    exact = np.rint(ndimage.distance_transform_edt(pore) ** 2).astype(np.int32)
    assert np.array_equal(_pore_sq_distance(pore, slab=4, halo=2), exact)


def test_local_thickness_histogram_splits_nanopores_and_voids():
    phase, grain, c, r, inside = _solid_particle()
    n = phase.shape[0]
    _, _, x = np.ogrid[:n, :n, :n]
    grain[inside & (x >= 20)] = 2
    nano = _ball(phase.shape, (19, 19, 10), 2.5)  # diameter 5 in grain 1
    void = _ball(phase.shape, (19, 10, 19), 3.5)  # diameter 7 across both grains
    phase[nano | void] = ph.PORE
    lt = pore_statistics(phase, grain, c, r, VOX)["local_thickness"]
    edges = lt["edges_nm"]
    k5 = int(np.flatnonzero(edges == 5 * VOX)[0])
    k7 = int(np.flatnonzero(edges == 7 * VOX)[0])
    assert lt["nanopore_voxels"][k5] == nano.sum() == lt["nanopore_voxels"].sum()
    assert lt["void_voxels"][k7] == void.sum() == lt["void_voxels"].sum()
    assert lt["nanopore_volume_fraction"][k5] == 1.0 and lt["void_volume_fraction"][k7] == 1.0


def test_tagged_outline_leaves_out_the_outside_world_inside_the_sphere():
    """outline="tags": voxels tagged as outside (pore or source with grain 0) within r <= R
    are not particle: a particle whose outer layer receded keeps its porosity."""
    phase, grain, c, r, inside = _solid_particle(n=40, radius=18.0)
    n = phase.shape[0]
    z, y, x = np.indices(phase.shape)
    rr = np.sqrt((z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2)
    pores = inside & ((x + y + z) % 7 == 0) & (rr < 15.0)
    phase[pores] = ph.PORE
    grain[pores] = -1  # intergranular pores inside, as the engine tags them
    receded = inside & (rr > 16.0)  # the outer layer went to the outside world
    phase[receded] = ph.PORE
    grain[receded] = 0
    blob = inside & (x == n - 3) & (rr > 16.0)  # source outside the particle, within R
    phase[blob] = ph.LIOH
    tags = pore_statistics(phase, grain, c, r, VOX, outline="tags")
    sphere = pore_statistics(phase, grain, c, r, VOX)
    particle = inside & ~receded
    assert tags["particle_voxels"] == particle.sum()
    assert tags["porosity"] == pores.sum() / particle.sum()
    assert sphere["particle_voxels"] == inside.sum()
    assert sphere["porosity"] == (pores.sum() + (receded & ~blob).sum()) / inside.sum()
    assert tags["open_count"] == 0 and tags["void_count"] == tags["intergranular_count"]
    with pytest.raises(ConfigError, match="outline"):
        pore_statistics(phase, grain, c, r, VOX, outline="hull")


def test_porosity_by_shell_sums_back_to_the_overall_porosity():
    m = synthetic_particle(64, 300, seed=2)
    s = pore_statistics(m.phase, m.grain, m.center_vox, m.radius_vox, m.voxel_nm)
    w = s["shell_voxels"]
    assert np.sum(s["porosity_shell"] * w) / w.sum() == pytest.approx(s["porosity"], rel=1e-12)
    z, y, x = np.indices(m.phase.shape)
    r = np.sqrt(sum((a - c) ** 2 for a, c in zip((z, y, x), m.center_vox))) / m.radius_vox
    inside = r <= 1.0
    assert w.sum() == inside.sum() == s["particle_voxels"]
    assert s["porosity"] == (m.phase[inside] == ph.PORE).sum() / inside.sum()
    assert np.array_equal(s["shell_edges_r_over_r"], np.linspace(0, 1, 11))


def test_nanopore_densities_central_voids_and_internal_surface_on_a_hand_built_particle():
    n, radius = 48, 22.0
    phase, grain, c, r, inside = _solid_particle(n, radius)
    ci = (n - 1) / 2
    z, y, x = np.indices(phase.shape)
    rr = np.sqrt((z - ci) ** 2 + (y - ci) ** 2 + (x - ci) ** 2) / radius
    # single-voxel nanopores in grain 1 or 2 (away from the plane x = 23.5 where they meet)
    singles = [(24, 20, 28), (24, 24, 18), (17, 24, 28),  # core: r/R = 0.26, 0.25, 0.36
               (24, 36, 28),                              # between: 0.60
               (24, 24, 41), (6, 24, 28)]                 # shell: 0.80, 0.82
    for v in singles:
        phase[v] = ph.PORE
    r_single = np.array([rr[v] for v in singles])
    assert np.sum(r_single < 0.5) == 3 and np.sum(r_single >= 0.7) == 2
    # a central void: a 4 x 4 x 4 cube at the centre split between grains 1 and 2
    cube = np.zeros(phase.shape, bool)
    cube[22:26, 22:26, 22:26] = True
    grain[inside & (x >= 24)] = 2
    phase[cube] = ph.PORE
    s = pore_statistics(phase, grain, c, r, VOX)
    um3 = (VOX / 1000.0) ** 3
    core_vox = int((inside & (rr < 0.5)).sum())
    shell_vox = int((inside & (rr >= 0.7)).sum())
    assert s["nanopore_count"] == 6 and s["void_count"] == 1
    assert s["nanopore_density_core_per_um3"] == pytest.approx(3 / (core_vox * um3), rel=1e-12)
    assert s["nanopore_density_shell_per_um3"] == pytest.approx(2 / (shell_vox * um3), rel=1e-12)
    assert s["nanopore_count_core"] == 3 and s["nanopore_count_shell"] == 2
    central = inside & (rr < 0.3)
    assert s["central_pore_fraction"] == pytest.approx((cube & central).sum() / central.sum(),
                                                       rel=1e-12)
    solid_vox = int((inside & (phase != ph.PORE)).sum())
    faces = 6 * len(singles) + 6 * 16
    assert s["internal_surface_nm2"] == faces * VOX ** 2
    assert s["internal_surface_per_um"] == pytest.approx(
        faces * VOX ** 2 / (solid_vox * VOX ** 3) * 1000.0, rel=1e-12)
    assert s["nanopore_fraction"] == pytest.approx(6 / inside.sum(), rel=1e-12)
    assert s["void_fraction"] == pytest.approx(64 / inside.sum(), rel=1e-12)


def test_grain_statistics_of_a_block_split_into_known_grains():
    phase = np.full((20, 20, 20), ph.LAYERED, np.uint8)
    grain = np.zeros(phase.shape, np.int32)
    grain[:10, :, :] = 3           # 4000 voxels
    grain[10:, :10, :] = 7         # 2000
    grain[10:, 10:, :5] = 8        # 500
    grain[10:, 10:, 5:] = 9        # 1500 ...
    phase[10:, 10:, 15:] = ph.LIOH  # ... minus 500 lithium-source voxels: not a TM grain
    phase[:, :, 0] = ph.PORE       # a pore plane: grains lose voxels, ids on pores ignored
    grain[0, 0, 0] = 11            # a pore voxel's id does not make a grain
    s = pore_statistics(phase, grain, (9.5, 9.5, 9.5), 8.0, VOX)
    g = s["grains"]
    assert s["grain_count"] == 4
    assert list(g["grain_id"]) == [3, 7, 8, 9]
    expected = np.array([4000 - 200, 2000 - 100, 500 - 100, 1000])
    assert np.array_equal(g["volume_voxels"], expected)
    assert np.allclose(g["equivalent_diameter_nm"], _eqd(expected), rtol=1e-12)
    assert s["mean_grain_nm"] == pytest.approx(_eqd(expected).mean(), rel=1e-12)
    hist = g["histogram"]
    assert hist["count"].sum() == 4 and hist["volume_fraction"].sum() == pytest.approx(1.0)
    # bins up to the particle diameter (160 nm); the 3800-voxel grain (194 nm) is counted
    # in the last one
    nb = hist["count"].size
    k = np.minimum(np.searchsorted(hist["edges_nm"], _eqd(expected), side="right") - 1, nb - 1)
    assert np.array_equal(np.bincount(k, minlength=nb), hist["count"])


def _reference_pore_table(phase, grain, center, radius):
    """Per-pore quantities the slow way: one pore at a time, neighbours by shifting."""
    z, y, x = np.indices(phase.shape)
    inside = ((z - center[0]) ** 2 + (y - center[1]) ** 2 + (x - center[2]) ** 2
              <= radius * radius)
    labels, n = ndimage.label((phase == ph.PORE) & inside)
    rows = []
    for i in range(1, n + 1):
        m = labels == i
        vol = int(m.sum())
        surface, open_, ids, other = 0, False, set(), False
        for a in range(3):
            for s in (1, -1):
                nb = np.roll(m, s, axis=a)  # voxels whose neighbour (-s along a) is in m
                nb &= ~m
                solid = nb & (phase != ph.PORE)
                surface += int(solid.sum())
                open_ |= bool((nb & (phase == ph.PORE) & ~inside).any())
                tm = solid & np.isin(phase, ph.TM_PHASES) & (grain > 0)
                ids |= set(np.unique(grain[tm]).tolist())
                other |= bool((solid & ~tm).any())
        if open_:
            cls = OPEN
        elif len(ids) == 1 and not other:
            cls = INTRAGRANULAR
        else:
            cls = INTERGRANULAR
        rows.append((vol, surface, cls, z[m].mean(), y[m].mean(), x[m].mean()))
    return sorted(rows)


def test_vectorised_pore_table_matches_a_per_pore_reference_on_a_synthetic_particle(tmp_path):
    m = synthetic_particle(64, 300, seed=5)
    s = pore_statistics(m.phase, m.grain, m.center_vox, m.radius_vox, m.voxel_nm)
    p = s["pores"]
    n = p["volume_voxels"].size
    assert all(v.shape[0] == n for v in p.values())
    faces = np.rint(p["surface_nm2"] / VOX ** 2).astype(int)
    got = sorted(zip(p["volume_voxels"].tolist(), faces.tolist(), p["pore_class"].tolist(),
                     *p["centroid_vox"].T.tolist()))
    ref = _reference_pore_table(m.phase, m.grain, m.center_vox, m.radius_vox)
    assert len(got) == len(ref)
    for a, b in zip(got, ref):
        assert a[:3] == b[:3] and np.allclose(a[3:], b[3:])
    assert s["nanopore_count"] > 10 and s["intergranular_count"] > 10
    assert p["volume_voxels"].sum() == round(s["porosity"] * s["particle_voxels"])
    # without amounts and the generated particle's reference, the mass porosity and the
    # central void opened are NaN by design; every other scalar is finite
    nan_by_design = {"mass_porosity", "subvoxel_porosity", "central_void_opened",
                     "central_void_reference"}
    for key in SCALARS:
        assert key in SCALAR_UNITS and (np.isfinite(s[key]) or key in nan_by_design)
    # the result is ready for ResultWriter.write_group: nested dicts become subgroups
    path = tmp_path / "pores.h5"
    with ResultWriter(path, config_toml="seed = 5\n", seed=5, mcsim_version="0", provenance={},
                      grid_shape=m.phase.shape, voxel_nm=m.voxel_nm) as w:
        w.write_group("pores", s)
        w.finish()
    with h5py.File(path, "r") as f:
        assert np.array_equal(f["pores/pores/pore_class"][()], p["pore_class"])
        assert f["pores/local_thickness/edges_nm"].shape == s["local_thickness"]["edges_nm"].shape
        assert f["pores/porosity"][()] == s["porosity"]


def test_same_input_gives_identical_statistics():
    m = synthetic_particle(64, 200, seed=9)
    a = pore_statistics(m.phase, m.grain, m.center_vox, m.radius_vox, m.voxel_nm)
    b = pore_statistics(m.phase.copy(), m.grain.copy(), m.center_vox, m.radius_vox, m.voxel_nm)
    for key in SCALARS:
        assert a[key] == b[key] or (np.isnan(a[key]) and np.isnan(b[key]))
    assert all(np.array_equal(a["pores"][k], b["pores"][k]) for k in a["pores"])


@pytest.mark.parametrize("kwargs, key", [
    (dict(radius_vox=0.0), "radius_vox"),
    (dict(radius_vox=25.0), "radius_vox"),          # the sphere sticks out of the array
    (dict(voxel_nm=-1.0), "voxel_nm"),
    (dict(center_vox=(1.0, 2.0)), "center_vox"),
    (dict(grain=np.zeros((4, 4, 4), np.int32)), "grain"),
    (dict(phase=np.full((40, 40, 40), 9, np.uint8)), "phase"),
])
def test_bad_input_is_a_config_error_naming_the_key(kwargs, key):
    phase, grain, c, r, _ = _solid_particle()
    args = dict(phase=phase, grain=grain, center_vox=c, radius_vox=r, voxel_nm=VOX)
    args.update(kwargs)
    with pytest.raises(ConfigError) as err:
        pore_statistics(**args)
    assert err.value.key == key
