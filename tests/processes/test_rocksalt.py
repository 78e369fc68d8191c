"""Rock-salt lithiation (mcsim.processes.rocksalt): TMO + Li -> layered LiTMO2.

A rock-salt voxel holding mobile lithium turns layered within a step with probability
1 - exp(-k dt min(1, li/amount)), k = A exp(-Ea/RT) from the parameter set (evaluated here);
the new layered voxel binds as many lithium quanta as it holds TM, and a voxel that ripened to
more TM than a layered voxel holds comes out overfull (counted for restructuring)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mcsim import phases as ph
from mcsim.state import full_amount_table
from tests.support import arrhenius, assert_binomial, box, stepper_with

FULL = full_amount_table()
N = 20
TEMP_C = 450.0


@pytest.mark.parametrize("share", [1.0, 0.25])
def test_rock_salt_lithiates_with_probability_one_minus_exp_minus_k_dt_times_the_supply(share):
    """Full rock-salt voxels (2082 TM quanta, more than a layered voxel's 1123) holding
    ``share`` x 2082 quanta of mobile lithium (more for share 1 does not speed them up), one
    step of k dt = 0.6 at 450 C: the share turned layered is 1 - exp(-0.6 min(1, share)); each
    binds its 2082 quanta of lithium, comes out overfull, and keeps its TM."""
    stepper, prm = stepper_with({"rocksalt_lithiation"})
    k = arrhenius(prm["rocksalt_lithiation_a_per_s"], prm["rocksalt_lithiation_ea_j_per_mol"],
                  TEMP_C)
    a = int(FULL[ph.ROCKSALT])
    assert a > FULL[ph.LAYERED]
    li0 = 2.0 * a if share == 1.0 else share * a
    st = box(ph.ROCKSALT, N, li=li0)
    tallies = stepper.advance(st, 0.6 / k, TEMP_C)
    P, A, L = st.interior("phase"), st.interior("amount"), st.interior("li")
    lay = P == ph.LAYERED
    n = int(np.count_nonzero(lay))
    assert np.all(lay | (P == ph.ROCKSALT))
    assert_binomial(n, P.size, -math.expm1(-0.6 * min(1.0, share)))
    assert np.all(A == a)
    np.testing.assert_array_equal(L[lay], np.float32(li0) - np.float32(a))
    np.testing.assert_array_equal(L[~lay], np.float32(li0))
    assert tallies["tm_rs_lithiated"] == a * n
    assert st.census["layered_overfull"] == n
    assert st.census["rocksalt"] == P.size - n


def test_rock_salt_without_lithium_stays_rock_salt():
    stepper, prm = stepper_with({"rocksalt_lithiation"})
    st = box(ph.ROCKSALT, N)
    tallies = stepper.advance(st, 1e4, 600.0)
    assert np.all(st.interior("phase") == ph.ROCKSALT)
    assert tallies["tm_rs_lithiated"] == 0


def test_lithium_limited_rate_doubles_with_the_supply():
    """At equal k dt, voxels holding a tenth and a fifth of their TM in lithium lithiate with
    probabilities 1 - exp(-0.1 k dt) and 1 - exp(-0.2 k dt): the rate is linear in the supply
    below one quantum of lithium per TM quantum."""
    stepper, prm = stepper_with({"rocksalt_lithiation"}, seed=5)
    k = arrhenius(prm["rocksalt_lithiation_a_per_s"], prm["rocksalt_lithiation_ea_j_per_mol"],
                  TEMP_C)
    a = int(FULL[ph.ROCKSALT])
    li = np.full((N,) * 3, 0.1 * a, np.float32)
    li[N // 2:] = 0.2 * a
    st = box(ph.ROCKSALT, N)
    st.interior("li")[...] = li
    stepper.advance(st, 2.0 / k, TEMP_C)
    lay = st.interior("phase") == ph.LAYERED
    half = lay[:N // 2].size
    assert_binomial(int(np.count_nonzero(lay[:N // 2])), half, -math.expm1(-0.2))
    assert_binomial(int(np.count_nonzero(lay[N // 2:])), half, -math.expm1(-0.4))
