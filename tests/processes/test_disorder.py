"""Li/Ni site disorder of layered oxide: set where layered oxide forms (the parameter set's
formation disorder), annealed at k_a = A exp(-Ea/RT) (isothermal holds on hand-built lattices,
against exp(-k t)), zero off the layered phase, and reported by the ``disorder_mean``
diagnostic as the mean disorder of the layered oxide."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mcsim import phases as ph
from mcsim.diagnostics import Profiles
from mcsim.state import State, full_amount_table
from tests.support import R_GAS, arrhenius, box, stepper_with

FULL = full_amount_table()
N = 8


def _k_anneal(prm, temp_c):
    """Annealing rate, evaluated here independently of mcsim.processes.base.arrhenius."""
    return arrhenius(prm["disorder_anneal_a_per_s"], prm["disorder_anneal_ea_j_per_mol"], temp_c)


# -- formation -------------------------------------------------------------------------------

@pytest.mark.parametrize("route, phase, amount, temp_c, dt_s", [
    ("lithiation", ph.HYDROXIDE, None, 240.0, 30.0),
    ("rocksalt_lithiation", ph.ROCKSALT, 1000, 450.0, 10.0),
])
@pytest.mark.parametrize("form", [None, 0.15])
def test_new_layered_oxide_starts_with_the_formation_disorder(route, phase, amount, temp_c,
                                                             dt_s, form):
    """Every voxel that turns layered (by either lithiation path) holds the code of the
    parameter set's ``disorder_form`` (code / 1000 = fraction); every other voxel holds 0."""
    overrides = {} if form is None else {"disorder_form": form}
    stepper, prm = stepper_with({route, "disorder"}, overrides)
    st = box(phase, N, amount, li=1000.0)
    stepper.advance(st, dt_s, temp_c)  # one step: the new voxels are not annealed yet
    P, D = st.interior("phase"), st.interior("disorder")
    lay = P == ph.LAYERED
    assert 0 < lay.sum() < lay.size
    expected = round(prm["disorder_form"] * 1000)
    assert expected == (80 if form is None else 150)
    assert np.all(D[lay] == expected)
    assert np.all(D[~lay] == 0)


def test_without_the_disorder_process_layered_oxide_forms_ordered():
    stepper, _ = stepper_with({"lithiation"})
    st = box(ph.HYDROXIDE, N, li=1000.0)
    stepper.advance(st, 30.0, 240.0)
    assert (st.interior("phase") == ph.LAYERED).any()
    assert not st.interior("disorder").any()


# -- annealing -------------------------------------------------------------------------------

@pytest.mark.parametrize("temp_c", [320.0, 420.0])
def test_disorder_anneals_as_exp_minus_k_t_at_the_arrhenius_rate(temp_c):
    """Isothermal hold of layered oxide with known disorder codes: the mean code decays as
    d0 exp(-k_a t), k_a = A exp(-Ea/RT) from the parameter set. Each step rounds d exp(-k dt)
    with one dither shared by all voxels (unbiased), so the error of one realisation is at most
    0.5 / sqrt(1 - exp(-2 k dt)) codes; averaging over independent seeds shrinks it."""
    gen = np.random.default_rng(0)
    d0 = gen.integers(60, 256, size=(N,) * 3).astype(np.uint8)
    kdt, n_steps, n_seeds = 0.05, 20, 16
    means = []
    for seed in range(n_seeds):
        stepper, prm = stepper_with({"disorder"}, seed=100 + seed)
        k = _k_anneal(prm, temp_c)
        st = box(ph.LAYERED, N, amount=1000)
        st.interior("disorder")[...] = d0
        dt = kdt / k
        for _ in range(n_steps):
            stepper.advance(st, dt, temp_c)
        assert st.time_s == pytest.approx(n_steps * dt)
        means.append(st.interior("disorder").mean(dtype=np.float64))
    expected = d0.mean(dtype=np.float64) * math.exp(-k * n_steps * dt)
    sigma = 0.5 / math.sqrt(1.0 - math.exp(-2 * kdt)) / math.sqrt(n_seeds)
    assert abs(np.mean(means) - expected) < 5 * sigma, (np.mean(means), expected, sigma)
    # the decay is a real one: about e^-1 of the start, far outside the error
    assert expected < 0.4 * d0.mean() and 5 * sigma < 0.05 * expected


def test_annealing_rate_follows_arrhenius_between_two_temperatures():
    """The fraction of disorder kept in one step is exp(-k_a(T) dt) at each temperature; its
    logarithm scales with temperature as the activation energy says."""
    stepper, prm = stepper_with({"disorder"})
    p = stepper.by_name["disorder"]
    from mcsim.processes import slots as S
    from mcsim.stepper import neutral_coefficients

    keeps = {}
    for temp_c in (300.0, 500.0):
        coef = neutral_coefficients()
        p.coefficients(coef, temp_c, 100.0)
        keeps[temp_c] = coef[S.C_ANNEAL]
        assert keeps[temp_c] == pytest.approx(math.exp(-_k_anneal(prm, temp_c) * 100.0),
                                              rel=1e-12)
    ratio = math.log(keeps[500.0]) / math.log(keeps[300.0])
    ea = prm["disorder_anneal_ea_j_per_mol"]
    assert ratio == pytest.approx(math.exp(ea / R_GAS * (1 / 573.15 - 1 / 773.15)), rel=1e-9)


def test_disorder_stays_zero_off_the_layered_phase_while_everything_reacts():
    """Lithiation, dehydration, rock-salt lithiation, release, transport, restructuring and
    annealing together on a mixed lattice heated from 250 to 450 C: disorder codes only ever
    sit on layered voxels, and a spill of overfull layered oxide carries its disorder along."""
    gen = np.random.default_rng(5)
    shape = (10, 10, 10)
    P = np.full(shape, ph.HYDROXIDE, np.uint8)
    P[:, :, :2] = ph.LIOH
    r = gen.random(shape)
    P[(r < 0.2) & (P == ph.HYDROXIDE)] = ph.PORE
    grain = np.where(P == ph.PORE, -1, 1 + (np.arange(10)[None, None, :] >= 6)).astype(np.int32)
    grain = np.broadcast_to(grain, shape).copy()
    st = State.from_arrays(P, grain)
    choices = {"lithiation", "dehydration", "rocksalt_lithiation", "release", "transport",
               "restructure", "disorder"}
    stepper, _ = stepper_with(choices)
    # an overfull layered voxel (rock salt ripened, then lithiated) next to a pore
    st.interior("phase")[5, 5, 5] = ph.LAYERED
    st.interior("amount")[5, 5, 5] = FULL[ph.LAYERED] + 400
    st.interior("disorder")[5, 5, 5] = 77
    st.interior("phase")[5, 5, 6] = ph.PORE
    for z, y in ((4, 5), (6, 5), (5, 4), (5, 6)):  # walled in by hydroxide but for one pore
        st.interior("phase")[z, y, 5] = ph.HYDROXIDE
        st.interior("amount")[z, y, 5] = 1000
        st.interior("grain")[z, y, 5] = 1
    st.interior("phase")[5, 5, 4] = ph.HYDROXIDE
    st.interior("amount")[5, 5, 4] = 1000
    st.interior("grain")[5, 5, 4] = 1
    st.interior("grain")[5, 5, 6] = st.interior("grain")[5, 5, 5]
    seen_layered = 0
    for i in range(40):
        stepper.advance(st, 30.0, 250.0 + 5.0 * i)
        Pi, Di = st.interior("phase"), st.interior("disorder")
        assert not Di[Pi != ph.LAYERED].any(), f"disorder off layered oxide at step {i}"
        seen_layered = max(seen_layered, int((Pi == ph.LAYERED).sum()))
        if i == 0:  # the spill happened in the first restructuring pass
            assert st.interior("phase")[5, 5, 6] == ph.LAYERED
            assert st.interior("disorder")[5, 5, 6] == 77
    assert seen_layered > 50
    assert st.interior("disorder")[st.interior("phase") == ph.LAYERED].mean() > 0


# -- the disorder_mean diagnostic --------------------------------------------------------------

def _sphere_state(n=15, radius=7.0):
    """A box with a voxelised sphere (r < 1 in units of ``radius``) and its corners."""
    shape = (n,) * 3
    c = (n - 1) / 2
    z, y, x = np.indices(shape)
    r = np.sqrt((z - c) ** 2 + (y - c) ** 2 + (x - c) ** 2) / radius
    return shape, r


def _disorder_mean(state) -> float:
    return Profiles(FULL)(state)["disorder_mean"]


def test_disorder_mean_of_full_layered_voxels_is_the_mean_code_inside_the_particle():
    """Layered voxels at full amount with random codes inside r < 1; outside, layered voxels
    with the largest code and, inside, hydroxide and rock salt with stray codes: the
    diagnostic is the mean code of the layered voxels with r < 1, / 1000."""
    shape, r = _sphere_state()
    gen = np.random.default_rng(1)
    P = np.where(gen.random(shape) < 0.6, ph.LAYERED, ph.HYDROXIDE).astype(np.uint8)
    P[(P == ph.HYDROXIDE) & (gen.random(shape) < 0.5)] = ph.ROCKSALT
    P[r >= 1.0] = ph.LAYERED
    D = gen.integers(0, 256, shape).astype(np.uint8)
    D[r >= 1.0] = 255
    st = State.from_arrays(P, np.ones(shape, np.int32), radius_vox=7.0)
    st.interior("disorder")[...] = D
    inside_lay = (P == ph.LAYERED) & (r < 1.0)
    expected = D[inside_lay].mean(dtype=np.float64) / 1000.0
    assert _disorder_mean(st) == pytest.approx(expected, rel=1e-12)
    # the corners (r >= 1) would pull the mean up if they were counted
    assert D[P == ph.LAYERED].mean() / 1000.0 > expected + 0.01


def test_disorder_mean_is_zero_without_layered_oxide():
    shape, r = _sphere_state()
    st = State.from_arrays(np.full(shape, ph.HYDROXIDE, np.uint8), radius_vox=7.0)
    assert _disorder_mean(st) == 0.0


def test_disorder_mean_of_freshly_formed_layered_oxide_is_the_formation_disorder():
    """New layered oxide starts disorder_form (8 %) disordered: right after it forms (no
    annealing yet), the mean Li/Ni disorder of the layered oxide is 0.080, whatever the
    voxels' fill (here 1000 of 1123 quanta: dividing by full-voxel equivalents would read
    8.98 %)."""
    shape, r = _sphere_state()
    P = np.where(r < 1.0, ph.HYDROXIDE, ph.PORE).astype(np.uint8)
    st = State.from_arrays(P, np.ones(shape, np.int32),
                           li=np.where(r < 1.0, 1000.0, 0.0).astype(np.float32), radius_vox=7.0)
    stepper, prm = stepper_with({"lithiation", "disorder"})
    stepper.advance(st, 60.0, 240.0)
    lay = st.interior("phase") == ph.LAYERED
    assert lay.sum() > 100
    assert np.all(st.interior("amount")[lay] == 1000)  # fill 1000 / 1123
    assert np.all(st.interior("disorder")[lay] == 80)
    assert _disorder_mean(st) == pytest.approx(prm["disorder_form"], rel=1e-9)


def test_disorder_mean_of_uniformly_disordered_full_layered_oxide_is_its_code():
    """The same uniform code in layered voxels all at full amount reads exactly that code:
    the case where the two readings of the definition agree."""
    shape, r = _sphere_state()
    P = np.where(r < 1.0, ph.LAYERED, ph.PORE).astype(np.uint8)
    st = State.from_arrays(P, np.ones(shape, np.int32), radius_vox=7.0)
    st.interior("disorder")[P == ph.LAYERED] = 80
    assert _disorder_mean(st) == pytest.approx(0.080, rel=1e-12)


def test_disorder_mean_weights_each_voxel_by_its_layered_tm():
    """Layered voxels of different fills (Li-deficient 1000, full 1123, overfull 1500 quanta)
    with different codes: the mean disorder per layered TM is sum(code x amount) / sum(amount)
    / 1000 over the layered voxels with r < 1."""
    shape, r = _sphere_state()
    gen = np.random.default_rng(9)
    inside = r < 1.0
    P = np.where(inside & (gen.random(shape) < 0.7), ph.LAYERED, ph.ROCKSALT).astype(np.uint8)
    P[~inside] = ph.PORE
    A = np.where(P == ph.LAYERED, gen.choice([1000, int(FULL[ph.LAYERED]), 1500], size=shape),
                 FULL[P]).astype(np.uint16)
    D = np.where(P == ph.LAYERED, gen.integers(0, 256, shape), 0).astype(np.uint8)
    # codes correlated with fill, so a voxel mean and a TM-weighted mean differ
    D[(P == ph.LAYERED) & (A == 1500)] = 250
    st = State.from_arrays(P, np.ones(shape, np.int32), A, radius_vox=7.0)
    st.interior("disorder")[...] = D
    lay = P == ph.LAYERED
    w = A[lay].astype(np.float64)
    expected = float((D[lay] * w).sum() / w.sum()) / 1000.0
    assert _disorder_mean(st) == pytest.approx(expected, rel=1e-12)
    assert abs(expected - D[lay].mean() / 1000.0) > 0.005
