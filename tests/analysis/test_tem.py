"""The simulated TEM mass-thickness image (mcsim.diagnostics.Profiles): the transition-metal
phases' mass summed along axis 0 over a central slab, on hand-built spheres whose projection is
known from geometry and the molar masses of mcsim.phases."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest

from mcsim import config
from mcsim import params as _params
from mcsim import phases as ph
from mcsim.diagnostics import SLAB_HALF_WIDTH, Profiles, radial_kernel
from mcsim.processes import REGISTRY
from mcsim.state import State, full_amount_table
from mcsim.stepper import Stepper

FULL = full_amount_table()
RS = 8           # sphere radius, voxels
N = 2 * RS + 3   # box edge: the sphere with a voxel of pore all round
C = (N - 1) // 2  # the centre voxel index (the box centre, an integer)
#: Mass of one quantum of each TM phase in image units (g/mol per 1000 quanta).
UNIT = {c: ph.MOLAR_MASS[c] / 1000.0 for c in ph.TM_PHASES}


def _geometry():
    z, y, x = np.indices((N,) * 3)
    r = np.sqrt((z - C) ** 2 + (y - C) ** 2 + (x - C) ** 2)
    rho = np.sqrt((y[0] - C) ** 2 + (x[0] - C) ** 2)
    return z, r, rho


def _sphere(phase=ph.HYDROXIDE, amount=None, radius_vox=float(RS)):
    z, r, _ = _geometry()
    P = np.where(r <= RS, phase, ph.PORE).astype(np.uint8)
    A = np.where(r <= RS, FULL[phase] if amount is None else amount, 0).astype(np.uint16)
    return State.from_arrays(P, np.ones((N,) * 3, np.int32), A, radius_vox=radius_vox)


def _image(state):
    out = Profiles(FULL)(state)
    return out["_image"], out


def test_full_projection_of_a_uniform_sphere_is_density_times_chord():
    """With the slab wider than the sphere (radius_vox = 5 R_s), every pixel is
    the mass per voxel times the number of voxels on its chord: 2 floor(sqrt(R^2 - rho^2)) + 1,
    within one voxel of the continuous chord 2 sqrt(R^2 - rho^2); through the centre
    (2 R + 1) voxels."""
    st = _sphere(radius_vox=5.0 * RS)
    assert SLAB_HALF_WIDTH * st.radius_vox >= RS + 1
    img, _ = _image(st)
    _, _, rho = _geometry()
    per_voxel = FULL[ph.HYDROXIDE] * UNIT[ph.HYDROXIDE]
    assert per_voxel == pytest.approx(ph.MOLAR_MASS[ph.HYDROXIDE])  # 1000 quanta = one TM(OH)2
    inside = rho <= RS
    counts = np.where(inside, 2 * np.floor(np.sqrt(np.maximum(RS ** 2 - rho ** 2, 0))) + 1, 0)
    np.testing.assert_allclose(img, per_voxel * counts, rtol=1e-12, atol=1e-12)
    assert img[C, C] == pytest.approx(per_voxel * (2 * RS + 1), rel=1e-12)
    chord = 2 * np.sqrt(np.maximum(RS ** 2 - rho ** 2, 0))
    assert np.all(np.abs(img[inside] / per_voxel - chord[inside]) <= 1.0 + 1e-12)
    # the fall-off as sqrt(R^2 - r^2): monotone along a radius
    row = img[C, C:]
    assert np.all(np.diff(row) <= 0) and row[-1] == 0.0


def test_projection_is_through_a_central_slab_of_half_width_a_quarter_radius():
    """With radius_vox = R_s the slab |z - c| <= R_s / 4 is 2 floor(R_s / 4) + 1 voxels thick:
    pixels whose chord is longer than that read exactly that many voxels' mass."""
    st = _sphere()
    img, _ = _image(st)
    _, _, rho = _geometry()
    half = SLAB_HALF_WIDTH * RS
    thick = 2 * math.floor(half) + 1
    per_voxel = ph.MOLAR_MASS[ph.HYDROXIDE]
    long_chord = RS ** 2 - rho ** 2 >= (math.floor(half)) ** 2
    np.testing.assert_allclose(img[long_chord], per_voxel * thick, rtol=1e-12)
    assert img[C, C] == pytest.approx(per_voxel * thick, rel=1e-12)


def test_lithium_sources_and_pores_add_no_mass_thickness():
    """LiOH and Li2CO3 around the sphere leave the image unchanged."""
    st = _sphere()
    base, _ = _image(st)
    P = st.interior("phase")
    P[P == ph.PORE] = ph.LIOH
    st.interior("amount")[P == ph.LIOH] = FULL[ph.LIOH]
    P[:2] = ph.LI2CO3
    st.interior("amount")[:2] = FULL[ph.LI2CO3]
    img, _ = _image(st)
    np.testing.assert_array_equal(img, base)


@pytest.mark.parametrize("phase, amount, denser", [
    (ph.ROCKSALT, int(FULL[ph.ROCKSALT]), True),   # ripened rock salt: 2082 quanta of TMO
    (ph.LAYERED, 1000, True),                      # lithiated in place: LiTMO2
    (ph.ROCKSALT, 1000, False),                    # dehydrated in place: TMO, lost its water
])
def test_replacing_the_shell_changes_the_rim_by_the_molar_mass_ratio(phase, amount, denser):
    """Replace the outer shell (r >= 0.7 R) of a hydroxide sphere: core pixels (rho < 0.5 R,
    whose slab columns lie at r < 0.56 R) keep their value; shell pixels (0.7 R <= rho < R,
    whose columns lie wholly in the shell) scale by amount M_new / (1000 M_hydroxide); a denser
    shell raises the rim relative to the centre, a lighter one lowers it."""
    st = _sphere()
    base, before = _image(st)
    _, r, rho = _geometry()
    shell3 = (r >= 0.7 * RS) & (r <= RS)
    st.interior("phase")[shell3] = phase
    st.interior("amount")[shell3] = amount
    img, after = _image(st)
    core = rho < 0.5 * RS
    rim = (rho >= 0.7 * RS) & (rho < RS)
    factor = amount * ph.MOLAR_MASS[phase] / (1000.0 * ph.MOLAR_MASS[ph.HYDROXIDE])
    np.testing.assert_array_equal(img[core], base[core])
    np.testing.assert_allclose(img[rim], base[rim] * factor, rtol=1e-12)
    assert after["tem_core"] == pytest.approx(before["tem_core"], rel=1e-12)
    assert after["tem_shell"] == pytest.approx(before["tem_shell"] * factor, rel=1e-12)
    ratio_before = before["tem_shell"] / before["tem_core"]
    ratio_after = after["tem_shell"] / after["tem_core"]
    assert (ratio_after > ratio_before) == denser
    assert (factor > 1.0) == denser


def _expected_difference(phase0, amount0, phase1, amount1, slab):
    """(later - earlier) image computed from the fields: sum over the slab of amount x M."""
    def image(P, A):
        m = np.zeros(P.shape)
        for c in ph.TM_PHASES:
            m += np.where(P == c, A.astype(np.float64) * UNIT[c], 0.0)
        return (m * slab[:, None, None]).sum(axis=0)
    return image(phase1, amount1) - image(phase0, amount0)


def test_difference_image_of_a_lithiating_shell_and_dehydrating_core():
    """A hydroxide sphere whose outer part (r >= 0.6 R) holds lithium, held at 280 C with
    lithiation and dehydration on: the shell lithiates (TM(OH)2 -> LiTMO2, heavier per TM), the
    dry core dehydrates (-> TMO, lighter). The later-minus-earlier image equals the one from
    the fields, every core pixel darkens or stays, and tem_shell rises while tem_core falls
    (the sign of the shell/core intensity change the model implies)."""
    st = _sphere()
    _, r, rho = _geometry()
    st.interior("li")[...] = np.where((r >= 0.6 * RS) & (r <= RS), 1000.0, 0.0)
    choices = {name: ("none" if name not in ("lithiation", "dehydration")
                      else next(iter(v))) for name, v in REGISTRY.items()}
    stepper = Stepper(choices, _params.resolve("ncm622-lioh"), dict(config.load()["numerics"]), 5)
    img0, d0 = _image(st)
    P0, A0 = st.interior("phase").copy(), st.interior("amount").copy()
    for _ in range(10):
        stepper.advance(st, 60.0, 280.0)
    img1, d1 = _image(st)
    P1, A1 = st.interior("phase"), st.interior("amount")
    np.testing.assert_array_equal(A1, A0)  # conversions in place, TM conserved voxel by voxel
    z = np.arange(N)
    slab = np.abs(z - C) <= SLAB_HALF_WIDTH * RS
    diff = img1 - img0
    np.testing.assert_allclose(diff, _expected_difference(P0, A0, P1, A1, slab), atol=1e-9)
    core = rho < 0.5 * RS
    assert np.all(diff[core] <= 0) and np.any(diff[core] < 0)
    assert d1["tem_shell"] > d0["tem_shell"]
    assert d1["tem_core"] < d0["tem_core"]
    assert (P1 == ph.LAYERED).any() and (P1 == ph.ROCKSALT).any()


def test_image_is_the_same_on_two_threads_as_on_one():
    """The image is summed per row, so no two threads add into one pixel: 300 calls on two
    threads all give the one-thread image (summed per z plane, two threads lost an update in
    about one call in five)."""
    st = _sphere(radius_vox=5.0 * RS)
    args = (st.phase, st.amount, st.disorder, *st.offset, *st.center_vox, st.radius_vox, 20,
            SLAB_HALF_WIDTH * st.radius_vox)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        shells1, image1 = radial_kernel(*args)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        for _ in range(300):
            shells, image = radial_kernel(*args)
            np.testing.assert_array_equal(image, image1)
            np.testing.assert_array_equal(shells, shells1)
    finally:
        numba.set_num_threads(before)
