"""Dehydration (mcsim.processes.dehydration): TM(OH)2 -> rock-salt TMO + H2O, first order.

On a hand-built lattice of dry hydroxide with dehydration alone switched on, a voxel turns to
rock salt within a step with probability 1 - exp(-k_d dt), k_d = A exp(-Ea/RT) from the
parameter set (evaluated here), keeping its TM; on the tiny run, rock salt appears by 350 C and
never forms with dehydration switched off."""

from __future__ import annotations

import math

import h5py
import numpy as np
import pytest

from mcsim import phases as ph
from tests.support import (FEW_SNAPSHOTS, arrhenius, assert_binomial, box, phase_ever_present,
                           stepper_with)

#: 20^3 voxels: a fraction's binomial spread is at most 0.006.
N = 20


def _k_dehydration(prm, temp_c):
    return arrhenius(prm["dehydration_a_per_s"], prm["dehydration_ea_j_per_mol"], temp_c)


@pytest.mark.parametrize("temp_c", [260.0, 300.0])
def test_dry_hydroxide_dehydrates_with_probability_one_minus_exp_minus_k_dt(temp_c):
    """One step of dt = 0.4 / k_d(300 C) at each temperature: the share of voxels turned to
    rock salt is 1 - exp(-k_d(T) dt) (0.33 at 300 C, a seventh of that at 260 C, so the
    activation energy is tested too); every voxel keeps its TM quanta, no lithium appears, and
    the tally counts the TM of exactly the voxels that changed."""
    stepper, prm = stepper_with({"dehydration"})
    dt = 0.4 / _k_dehydration(prm, 300.0)
    p = -math.expm1(-_k_dehydration(prm, temp_c) * dt)
    st = box(ph.HYDROXIDE, N)
    amount0 = st.interior("amount").copy()
    tallies = stepper.advance(st, dt, temp_c)
    P = st.interior("phase")
    rocksalt = int(np.count_nonzero(P == ph.ROCKSALT))
    assert np.all((P == ph.ROCKSALT) | (P == ph.HYDROXIDE))
    assert_binomial(rocksalt, P.size, p)
    assert 0 < rocksalt < P.size
    np.testing.assert_array_equal(st.interior("amount"), amount0)  # TM stays where it was
    assert not st.interior("li").any()
    assert tallies["tm_dehydrated"] == int(amount0[P == ph.ROCKSALT].sum())
    assert tallies["tm_lithiated"] == 0


def test_the_hydroxide_left_after_steps_decays_as_exp_minus_k_t():
    """Five steps of k_d dt = 0.3 at 280 C: the hydroxide left is exp(-1.5) of the start; the
    sum of the step tallies is the TM now in rock salt."""
    stepper, prm = stepper_with({"dehydration"}, seed=11)
    dt = 0.3 / _k_dehydration(prm, 280.0)
    st = box(ph.HYDROXIDE, N)
    tm0 = int(st.interior("amount").sum())
    total = 0
    for _ in range(5):
        total += stepper.advance(st, dt, 280.0)["tm_dehydrated"]
    P = st.interior("phase")
    assert_binomial(int(np.count_nonzero(P == ph.HYDROXIDE)), P.size, math.exp(-1.5))
    assert total == int(st.interior("amount")[P == ph.ROCKSALT].sum())
    assert int(st.interior("amount").sum()) == tm0


def test_rocksalt_appears_by_350c(small_run):
    with h5py.File(small_run.path, "r") as f:
        rocksalt = f["timeseries/tm_phase_fraction"][:, 1]
        final_phase = f["snapshots"][sorted(f["snapshots"])[-1]]["phase"][()]
    assert rocksalt[0] == 0.0
    assert rocksalt[-1] > 0
    assert np.any(final_phase == ph.ROCKSALT)


def test_without_dehydration_no_rocksalt_forms(small_run, tiny_run, tmp_path):
    assert phase_ever_present(small_run.path, ph.ROCKSALT)  # the default run does form it
    run = tiny_run(tmp_path / "nodehyd.h5", ["model.processes.dehydration='none'", FEW_SNAPSHOTS])
    assert not phase_ever_present(run.path, ph.ROCKSALT)
    assert phase_ever_present(run.path, ph.LAYERED)  # the rest of the model still acts


# -- variant "per-grain": a grain nucleates at k_d and converts whole ---------------------------


def _per_grain_stepper(seed=5):
    return stepper_with({"dehydration"}, seed=seed, variants={"dehydration": "per-grain"})


def _blocks(n=20, side=2, phase=ph.HYDROXIDE):
    """An n^3 lattice of ``phase`` cut into cubic grains of ``side`` voxels (ids from 1)."""
    from mcsim.state import State
    idx = np.indices((n,) * 3) // side
    m = n // side
    grain = (1 + idx[0] * m * m + idx[1] * m + idx[2]).astype(np.int32)
    return State.from_arrays(np.full((n,) * 3, phase, np.uint8), grain, None,
                             np.zeros((n,) * 3, np.float32))


def _grain_shares(st, phase_code):
    P, G = st.interior("phase"), st.interior("grain")
    hits = np.bincount(G.ravel(), weights=(P == phase_code).ravel())[1:]
    size = np.bincount(G.ravel())[1:]
    return hits / size


def test_per_grain_dehydration_converts_whole_grains_at_first_order_rate():
    """1000 grains of 8 voxels, dry hydroxide, one step at 280 C with k_d dt = 0.5: every grain
    is all hydroxide or all rock salt, the grains converted are binomial with p = 1 - exp(-0.5),
    the tally is the TM of the converted voxels and the census follows the change."""
    stepper, prm = _per_grain_stepper()
    k = _k_dehydration(prm, 280.0)
    st = _blocks()
    st.census.update({"hydroxide": 8000, "hydroxide_supplied": 0, "rocksalt": 0,
                      "rocksalt_partial": 0})
    amount0 = st.interior("amount").copy()
    tallies = stepper.advance(st, 0.5 / k, 280.0)
    share = _grain_shares(st, ph.ROCKSALT)
    assert np.all((share == 0.0) | (share == 1.0))
    converted = int(np.count_nonzero(share == 1.0))
    assert_binomial(converted, 1000, -math.expm1(-0.5))
    P = st.interior("phase")
    assert tallies["tm_dehydrated"] == int(amount0[P == ph.ROCKSALT].sum())
    assert st.census["rocksalt"] == 8 * converted
    assert st.census["hydroxide"] == 8000 - 8 * converted
    np.testing.assert_array_equal(st.interior("amount"), amount0)


def test_per_grain_dehydration_decays_as_exp_minus_k_t_by_grain():
    """Six steps of k_d dt = 0.25 at 300 C: exp(-1.5) of the grains are still hydroxide."""
    stepper, prm = _per_grain_stepper(seed=17)
    k = _k_dehydration(prm, 300.0)
    st = _blocks()
    for _ in range(6):
        stepper.advance(st, 0.25 / k, 300.0)
    share = _grain_shares(st, ph.HYDROXIDE)
    assert np.all((share == 0.0) | (share == 1.0))
    assert_binomial(int(np.count_nonzero(share == 1.0)), 1000, math.exp(-1.5))


def test_per_grain_dehydration_leaves_lithiated_voxels_layered():
    """A grain half lithiated: when it nucleates (k_d dt = 50, so surely), its hydroxide half
    becomes rock salt and the layered half is untouched; pores and other phases too."""
    stepper, prm = _per_grain_stepper()
    k = _k_dehydration(prm, 300.0)
    st = _blocks(n=8, side=8)
    P = st.phase
    P[1:5] = ph.LAYERED  # the lower half of the interior (halo at index 0)
    P[5, 1:3] = ph.PORE
    before = P.copy()
    stepper.advance(st, 50.0 / k, 300.0)
    after = st.phase
    assert np.all(after[before == ph.LAYERED] == ph.LAYERED)
    assert np.all(after[before == ph.PORE] == ph.PORE)
    assert np.all(after[1:-1, 1:-1, 1:-1][before[1:-1, 1:-1, 1:-1] == ph.HYDROXIDE]
                  == ph.ROCKSALT)


def test_per_grain_dehydration_is_the_same_whatever_the_threads():
    """The decision reads the grain id and the step only: 1 and 2 threads give the same
    lattice."""
    import numba
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba sees one thread")
    out = []
    for threads in (1, 2):
        numba.set_num_threads(threads)
        try:
            stepper, prm = _per_grain_stepper(seed=23)
            st = _blocks(n=24, side=3)
            for _ in range(3):
                stepper.advance(st, 0.3 / _k_dehydration(prm, 290.0), 290.0)
            out.append(st.phase.copy())
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    np.testing.assert_array_equal(out[0], out[1])
    assert 0 < np.count_nonzero(out[0] == ph.ROCKSALT) < out[0].size
