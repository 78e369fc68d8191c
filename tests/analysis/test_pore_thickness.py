"""Local thickness in its two conventions (mcsim.pores.local_thickness) on shapes of known size.

``convention="mcsim"``: the diameter of the largest lattice ball (the voxel centres within D/2
of a voxel centre) that lies in the pore space and holds the voxel. ``convention="porespy"``:
the integer radius r of the largest sphere that holds the voxel, a sphere centred on voxel c
fitting when the distance from c to the nearest solid voxel is at least r and holding the
voxels strictly closer than r to c (PoreSpy's ``local_thickness`` with default arguments).

The expected values below are derived by hand from those definitions (the reasoning is in the
comments) and checked always; when PoreSpy is installed the PoreSpy option is also compared
with ``porespy.filters.local_thickness`` voxel for voxel (skipped, visibly, without it).
"""

import math

import numpy as np
import pytest
from scipy import ndimage

from mcsim import phases as ph
from mcsim.errors import ConfigError
from mcsim.pores import (THICKNESS_CONVENTIONS, _porespy_levels, local_thickness,
                         pore_statistics)

VOX = 10.0


def _ball(shape, centre, radius2):
    """Voxels whose centres lie within sqrt(radius2) of ``centre``."""
    z, y, x = np.ogrid[:shape[0], :shape[1], :shape[2]]
    return ((z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2) <= radius2


def _r2_from(shape, centre):
    z, y, x = np.ogrid[:shape[0], :shape[1], :shape[2]]
    return (z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2


# -- the known shapes, each with its expected values in both conventions ---------------------
# A digitised ball "d across" holds the voxel centres within d/2 of a voxel centre c.
#  * 1 voxel: the only ball / sphere in it is the voxel itself: 1 and r = 1.
#  * 3 across (|x - c|^2 <= 2, 19 voxels): the nearest solid centre is at sqrt(3) from c
#    (3 is the first sum of three squares above 2.25), so no PoreSpy sphere of radius 2
#    fits anywhere: r = 1 everywhere; mcsim: 3 everywhere.
#  * 5 across (|x - c|^2 <= 6, 81 voxels): nearest solid at sqrt(8) from c (7 is no sum of
#    three squares), so r = 2 fits at c; it also fits at the 6 face neighbours of c (their
#    nearest solid, e.g. (3,0,0) from (1,0,0), is at distance 2 >= 2). The sphere |x - c| < 2
#    holds every ball voxel with |x - c|^2 <= 3; the others, (2,0,0), (2,1,0), (2,1,1) and
#    their permutations, lie within sqrt(3) < 2 of the face neighbour (1,0,0). So r = 2
#    everywhere: a sphere 3 voxels across. mcsim: 5 everywhere.
#  * 7 across (|x - c|^2 <= 12, 179 voxels): nearest solid at sqrt(13) from c, so r = 3 fits
#    at c only (a face neighbour is sqrt(8) from the solid voxel (3,2,0)); that sphere holds
#    |x - c|^2 <= 8. Every other ball voxel gets r = 2. mcsim: 7 everywhere.
BALLS = {  # name: (|x - c|^2 bound, mcsim value, PoreSpy value as a function of |x - c|^2)
    "voxel": (0, 1, lambda r2: np.ones_like(r2)),
    "ball3": (2, 3, lambda r2: np.ones_like(r2)),
    "ball5": (6, 5, lambda r2: np.full_like(r2, 2)),
    "ball7": (12, 7, lambda r2: np.where(r2 <= 8, 3, 2)),
}


def _ball_case(name):
    bound, _, _ = BALLS[name]
    n = 2 * math.isqrt(bound) + 5  # at least two solid voxels around the ball
    c = (n // 2,) * 3
    return _ball((n, n, n), c, bound), _r2_from((n, n, n), c)


def _slab(w):
    pore = np.zeros((w + 4, 6, 7), bool)
    pore[2:2 + w] = True  # solid above and below; the array's y, x faces are not walls
    return pore


def _cylinder(d):
    """A cylinder along z through the whole array (its ends are the array's faces, not walls)
    of the voxel columns within d/2 of the axis; returns it and the in-plane |p|^2."""
    n = d + 5
    c = n // 2
    _, y, x = np.ogrid[:9, :n, :n]
    p2 = np.broadcast_to((y - c) ** 2 + (x - c) ** 2, (9, n, n))
    return p2 <= (d / 2) ** 2, p2


def _touching_balls():
    """A 7-across ball and a 5-across ball whose voxels share faces (centres 6 apart)."""
    shape = (17, 17, 24)
    big = _ball(shape, (8, 8, 8), 12)
    small = _ball(shape, (8, 8, 14), 6)
    assert not (big & small).any() and big[8, 8, 11] and small[8, 8, 12]  # face contact
    return big, small, _r2_from(shape, (8, 8, 8))


# -- the mcsim convention ---------------------------------------------------------------------
@pytest.mark.parametrize("name", list(BALLS))
def test_mcsim_convention_gives_a_digitised_ball_its_diameter(name):
    pore, _ = _ball_case(name)
    lt = local_thickness(pore)
    assert np.all(lt[pore] == BALLS[name][1])
    assert np.all(lt[~pore] == 0)


@pytest.mark.parametrize("w", range(1, 10))
def test_mcsim_convention_of_a_slab(w):
    pore = _slab(w)
    assert np.all(local_thickness(pore)[pore] == (w if w % 2 else w - 1))


@pytest.mark.parametrize("d", [5, 7])
def test_mcsim_convention_of_a_cylinder(d):
    pore, _ = _cylinder(d)
    assert np.all(local_thickness(pore)[pore] == d)


def test_mcsim_convention_keeps_touching_balls_apart():
    big, small, _ = _touching_balls()
    lt = local_thickness(big | small)
    assert np.all(lt[big] == 7) and np.all(lt[small] == 5)


# -- the PoreSpy convention, derived by hand ---------------------------------------------------
@pytest.mark.parametrize("name", list(BALLS))
def test_porespy_convention_of_a_digitised_ball(name):
    pore, r2 = _ball_case(name)
    lt = local_thickness(pore, convention="porespy")
    assert np.array_equal(lt[pore], BALLS[name][2](r2[pore]).astype(np.float32))
    assert np.all(lt[~pore] == 0)


def test_a_five_voxel_ball_measures_five_here_and_radius_two_in_porespy():
    pore, _ = _ball_case("ball5")
    assert pore.sum() == 81 and np.ptp(np.argwhere(pore)[:, 0]) + 1 == 5  # 5 voxels across
    assert set(local_thickness(pore)[pore].tolist()) == {5.0}
    assert set(local_thickness(pore, convention="porespy")[pore].tolist()) == {2.0}


@pytest.mark.parametrize("w", range(1, 10))
def test_porespy_convention_of_a_slab_is_half_its_width_rounded_up(w):
    # the planes at distance ceil(w / 2) from both walls hold spheres of r = ceil(w / 2),
    # which reach ceil(w / 2) - 1 planes either way: the whole slab
    pore = _slab(w)
    assert np.all(local_thickness(pore, convention="porespy")[pore] == (w + 1) // 2)


@pytest.mark.parametrize("d", [5, 7])
def test_porespy_convention_of_a_cylinder(d):
    # in the cross-section as for the balls: d = 5, the axis is sqrt(8) from the solid
    # (2, 2), the in-plane neighbours of the axis 2 from (3, 0): r = 2 everywhere; d = 7, only
    # the axis is >= 3 from the solid (sqrt(13), (3, 2)): r = 3 on |p|^2 <= 8, 2 elsewhere
    pore, p2 = _cylinder(d)
    want = np.full(pore.shape, 2.0) if d == 5 else np.where(p2 <= 8, 3.0, 2.0)
    assert np.array_equal(local_thickness(pore, convention="porespy")[pore], want[pore])


def test_porespy_convention_keeps_touching_balls_apart():
    big, small, r2 = _touching_balls()
    lt = local_thickness(big | small, convention="porespy")
    assert np.array_equal(lt[big], np.where(r2[big] <= 8, 3.0, 2.0))
    assert np.all(lt[small] == 2)


def _painted_spheres(pore):
    """The PoreSpy convention by its definition: paint, from every pore voxel c, each sphere
    |x - c| < r of integer radius r <= dt(c) with r; keep the largest."""
    d2 = np.rint(ndimage.distance_transform_edt(pore) ** 2).astype(np.int64)
    best = np.zeros(pore.shape, np.int64)
    zz, yy, xx = np.indices(pore.shape)
    for cz, cy, cx in zip(*np.nonzero(pore)):
        r = math.isqrt(int(d2[cz, cy, cx]))
        reach = (zz - cz) ** 2 + (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        np.maximum(best, np.where(reach, r, 0), out=best)
    return best


def test_porespy_convention_equals_painting_every_sphere_on_a_random_structure():
    shape = (20, 16, 18)
    rng = np.random.Generator(np.random.Philox(key=np.array([4, 2], dtype=np.uint64)))
    pore = np.zeros(shape, bool)
    for centre, radius in zip(rng.uniform(0, 1, (25, 3)) * shape, rng.uniform(0.8, 4.5, 25)):
        pore |= _ball(shape, centre, radius * radius)
    want = _painted_spheres(pore)
    assert want.max() >= 3  # the structure reaches beyond trivial radii
    assert np.array_equal(local_thickness(pore, convention="porespy"), want.astype(np.float32))
    levels, _ = _porespy_levels(pore, slab=3)  # tiny slabs: every halo path is used
    assert np.array_equal(np.where(pore, levels.astype(np.int64) + 1, 0), want)


# -- against PoreSpy itself (only where it is installed) --------------------------------------
def _porespy_cases():
    cases = {name: _ball_case(name)[0] for name in BALLS}
    cases.update({f"slab{w}": _slab(w) for w in (1, 2, 5, 6)})
    cases.update({f"cylinder{d}": _cylinder(d)[0] for d in (5, 7)})
    big, small, _ = _touching_balls()
    cases["touching_balls"] = big | small
    shape = (22, 19, 17)
    rng = np.random.Generator(np.random.Philox(key=np.array([9, 3], dtype=np.uint64)))
    rand = np.zeros(shape, bool)
    for centre, radius in zip(rng.uniform(0, 1, (30, 3)) * shape, rng.uniform(0.8, 5.5, 30)):
        rand |= _ball(shape, centre, radius * radius)  # also touches the array's faces
    cases["random_balls"] = rand
    return cases


@pytest.mark.parametrize("name", list(_porespy_cases()))
def test_porespy_option_matches_porespy_voxel_for_voxel(name):
    ps = pytest.importorskip("porespy")
    pore = _porespy_cases()[name]
    want = np.asarray(ps.filters.local_thickness(pore))
    got = local_thickness(pore, convention="porespy")
    assert want.shape == got.shape
    assert np.array_equal(got, want), f"{np.count_nonzero(got != want)} voxels differ"


# -- options and errors ----------------------------------------------------------------------
def test_unknown_convention_and_grid_with_porespy_are_refused_by_name():
    pore, _ = _ball_case("ball5")
    with pytest.raises(ConfigError, match=r"convention = 'imagej'.*\"mcsim\".*\"porespy\""):
        local_thickness(pore, convention="imagej")
    with pytest.raises(ConfigError, match="diameters_vox"):
        local_thickness(pore, [1, 2, 3], convention="porespy")
    assert THICKNESS_CONVENTIONS == ("mcsim", "porespy")


def _particle_with_pores():
    """A solid layered sphere (R = 18 voxels, grains 1 | 2 split at x = 20) holding a
    5-across nanopore inside grain 1 and a 7-across void across both grains."""
    n, radius = 40, 18.0
    c = (n - 1) / 2
    inside = _ball((n, n, n), (c, c, c), radius * radius)
    phase = np.where(inside, ph.LAYERED, ph.PORE).astype(np.uint8)
    grain = np.where(inside, 1, 0).astype(np.int32)
    grain[inside & (np.arange(n)[None, None, :] >= 20)] = 2
    nano = _ball(phase.shape, (19, 19, 10), 6)
    void = _ball(phase.shape, (19, 10, 19), 12)
    phase[nano | void] = ph.PORE
    return phase, grain, (c, c, c), radius, nano, void


def test_pore_statistics_bins_porespy_radii_as_diameters_two_r():
    phase, grain, c, r, nano, void = _particle_with_pores()
    s = pore_statistics(phase, grain, c, r, VOX, thickness_convention="porespy")
    lt = s["local_thickness"]
    edges = lt["edges_nm"]
    assert np.array_equal(edges, 2 * np.arange(1, math.ceil(r) + 3) * VOX)
    k2 = int(np.flatnonzero(edges == 4 * VOX)[0])  # r = 2
    k3 = int(np.flatnonzero(edges == 6 * VOX)[0])  # r = 3
    assert lt["nanopore_voxels"][k2] == nano.sum() == lt["nanopore_voxels"].sum()
    r2 = _r2_from(phase.shape, (19, 10, 19))
    assert lt["void_voxels"][k3] == np.count_nonzero(void & (r2 <= 8))
    assert lt["void_voxels"][k2] == np.count_nonzero(void & (r2 > 8))
    assert lt["void_voxels"].sum() == void.sum()
    # the rest of the statistics does not depend on the convention
    m = pore_statistics(phase, grain, c, r, VOX)
    assert m["local_thickness"]["nanopore_voxels"].sum() == nano.sum()
    for key in ("porosity", "pore_count", "nanopore_count", "void_count"):
        assert s[key] == m[key]


def test_pore_statistics_refuses_an_unknown_convention_by_name():
    phase, grain, c, r, _, _ = _particle_with_pores()
    with pytest.raises(ConfigError, match="thickness_convention"):
        pore_statistics(phase, grain, c, r, VOX, thickness_convention="spheres")
