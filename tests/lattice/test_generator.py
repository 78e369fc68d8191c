"""Tests of the secondary-particle generator (mcsim.generator.agglomerate)."""
import numba
import numpy as np
import pytest

from mcsim import phases
from mcsim.errors import ConfigError
from mcsim.generator import Microstructure, generate_agglomerate

SMALL = dict(radius_um=0.4, voxel_nm=10.0, source_diameter_nm=200.0)
# grains small enough that a 0.6 um particle holds several hundred of them
SIZE = dict(radius_um=0.6, voxel_nm=10.0, grain_length_nm=200.0, grain_width_nm=100.0,
            grain_thickness_nm=40.0, source_diameter_nm=200.0)


def _radius_map(m):
    n = m.phase.shape[0]
    zz, yy, xx = np.ogrid[:n, :n, :n]
    c = m.center_vox
    return np.sqrt((zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2)


@pytest.fixture(scope="module")
def sized():
    return generate_agglomerate(**SIZE, seed=11)


def test_same_seed_gives_identical_arrays_and_different_seed_differs():
    a = generate_agglomerate(**SMALL, seed=3)
    b = generate_agglomerate(**SMALL, seed=3)
    c = generate_agglomerate(**SMALL, seed=4)
    assert isinstance(a, Microstructure)
    assert np.array_equal(a.phase, b.phase) and np.array_equal(a.grain, b.grain)
    assert np.array_equal(a.seed_points, b.seed_points)
    assert not np.array_equal(a.grain, c.grain)


def test_result_does_not_depend_on_thread_count():
    nt = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        a = generate_agglomerate(**SMALL, seed=5)
    finally:
        numba.set_num_threads(nt)
    b = generate_agglomerate(**SMALL, seed=5)
    assert np.array_equal(a.phase, b.phase) and np.array_equal(a.grain, b.grain)
    assert a.report["grain_size"]["length_nm"] == b.report["grain_size"]["length_nm"]


def test_fields_have_their_dtypes_and_the_box_holds_sphere_and_sources():
    m = generate_agglomerate(**SMALL, seed=1)
    n = int(np.ceil((800.0 + 2 * (200.0 + 20.0)) / 10.0))
    assert m.phase.shape == (n, n, n) and m.grain.shape == (n, n, n)
    assert m.phase.dtype == np.uint8 and m.grain.dtype == np.int32
    assert m.radius_vox == pytest.approx(40.0)
    assert m.seed_points.shape == (m.report["n_grains"], 3)


@pytest.mark.parametrize("target", [0.1, 0.25, 0.4])
def test_porosity_within_002_of_target(target):
    m = generate_agglomerate(**SMALL, porosity=target, seed=2)
    inside = _radius_map(m) <= m.radius_vox
    measured = np.mean(m.phase[inside] == phases.PORE)
    assert abs(measured - target) < 0.02
    assert m.report["porosity_overall"] == pytest.approx(measured)
    assert len(m.report["porosity_by_radius"]) == 10
    assert len(m.report["porosity_radius_edges"]) == 11


def test_mean_grain_size_within_10_percent_of_request(sized):
    rep = sized.report
    assert rep["grain_size"]["n_measured"] >= 100
    assert abs(rep["mean_grain_size_nm"] / rep["mean_grain_size_requested_nm"] - 1) < 0.10
    for axis in ("length", "width", "thickness"):
        assert abs(rep["grain_size_rel_error"][axis]) < 0.15, axis


def test_grain_size_report_matches_independent_moment_computation(sized):
    g = sized.grain
    pg = sized.report["per_grain"]
    for gid in (1, sized.report["n_grains"] // 2):
        pts = np.argwhere(g == gid).astype(float)
        cov = np.cov(pts.T, bias=True) + np.eye(3) / 12.0
        lam = np.linalg.eigvalsh(cov)
        assert 2 * np.sqrt(5 * lam[2]) * sized.voxel_nm == pytest.approx(
            pg["length_nm"][gid - 1], rel=1e-9)
        assert pg["voxels"][gid - 1] == len(pts)


def test_grains_long_axis_points_radially(sized):
    pg = sized.report["per_grain"]
    c = np.asarray(sized.center_vox)
    rel = pg["centroid_vox"] - c
    r = np.linalg.norm(rel, axis=1)
    sel = (~pg["touches_surface"]) & (pg["voxels"] >= 8) & (r > 0.3 * sized.radius_vox)
    assert sel.sum() >= 50
    cos = np.abs(np.sum(pg["long_axis"][sel] * rel[sel], axis=1)) / r[sel]
    assert cos.mean() > 0.8  # isotropic orientation would give 0.5
    assert sized.report["grain_size"]["radial_alignment_mean_abs_cos"] > 0.8
    assert sized.report["grain_size"]["aspect"]["mean"] > 2.0


@pytest.mark.parametrize("placement", ["particles", "shell"])
@pytest.mark.parametrize("source", ["LiOH", "Li2CO3"])
def test_li_to_tm_within_2_percent_and_source_outside_sphere(source, placement):
    m = generate_agglomerate(radius_um=0.3, voxel_nm=10.0, source_diameter_nm=150.0,
                             li_source=source, placement=placement, li_to_tm=1.05, seed=6)
    code = phases.LIOH if source == "LiOH" else phases.LI2CO3
    other = phases.LI2CO3 if source == "LiOH" else phases.LIOH
    v = (m.voxel_nm * 1e-7) ** 3
    tm = np.sum(m.phase == phases.HYDROXIDE) * v / phases.MOLAR_VOLUME_CM3[phases.HYDROXIDE]
    n_src = np.sum(m.phase == code)
    li = n_src * v / phases.MOLAR_VOLUME_CM3[code] * phases.LI_PER_FORMULA[code]
    assert abs(li / tm / 1.05 - 1) < 0.02
    assert m.report["li_to_tm_achieved"] == pytest.approx(li / tm)
    assert m.report["n_source_voxels"] == n_src
    assert not np.any(m.phase == other)
    assert np.all(_radius_map(m)[m.phase == code] > m.radius_vox)


def test_no_hydroxide_outside_sphere_and_grain_zero_exactly_off_hydroxide():
    m = generate_agglomerate(**SMALL, seed=8)
    r = _radius_map(m)
    hyd = m.phase == phases.HYDROXIDE
    assert not np.any(hyd & (r > m.radius_vox))
    assert np.all((m.grain == 0) == ~hyd)
    ids = np.unique(m.grain[hyd])
    assert ids[0] == 1 and ids[-1] == m.report["n_grains"] == ids.size
    assert set(np.unique(m.phase)) <= {phases.PORE, phases.HYDROXIDE, phases.LIOH}


def test_summary_names_porosity_and_li_to_tm():
    m = generate_agglomerate(**SMALL, seed=1)
    s = m.summary()
    assert "porosity" in s and "Li:TM" in s


@pytest.mark.parametrize("kwargs,key", [
    (dict(radius_um=0.0), "particle.radius_um"),
    (dict(radius_um=50.0), "particle.radius_um"),          # grid above 2048^3
    (dict(voxel_nm=-1.0), "particle.voxel_nm"),
    (dict(porosity=0.7), "particle.porosity"),
    (dict(porosity=-0.1), "particle.porosity"),
    (dict(grain_thickness_nm=15.0), "particle.grain_thickness_nm"),   # < 2 voxels
    (dict(grain_width_nm=30.0), "particle.grain_width_nm"),           # < thickness
    (dict(grain_length_nm=100.0), "particle.grain_length_nm"),        # < width
    (dict(size_cv=2.0), "particle.size_cv"),
    (dict(li_source="Li2O"), "lithium.source"),
    (dict(li_to_tm=0.0), "lithium.li_to_tm"),
    (dict(li_to_tm=3.5), "lithium.li_to_tm"),
    (dict(placement="mixed"), "lithium.placement"),
    (dict(source_diameter_nm=0.0), "lithium.source_diameter_nm"),
    (dict(margin_nm=-5.0), "particle.margin_nm"),
    (dict(seed=-1), "seed"),
    (dict(radius_um=0.3, li_to_tm=3.0, margin_nm=20.0, placement="shell"),
     "lithium.li_to_tm"),                                              # does not fit
    (dict(radius_um=0.3, li_to_tm=3.0, margin_nm=20.0, source_diameter_nm=100.0),
     "lithium.li_to_tm"),                                              # does not fit
])
def test_invalid_input_raises_config_error_naming_key(kwargs, key):
    with pytest.raises(ConfigError) as ei:
        generate_agglomerate(**kwargs)
    assert ei.value.key == key
    assert key in str(ei.value)
