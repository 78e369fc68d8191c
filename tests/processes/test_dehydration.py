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
