"""Topotactic lithiation (mcsim.processes.lithiation): TM(OH)2 + Li -> layered LiTMO2 + H2O.

The hydroxide voxel's rule: it lithiates at k_l min(1, li/amount) while it dehydrates at k_d,
and one draw decides between them, so within a step an event happens with probability
1 - exp(-(k_l f + k_d) dt) and is a lithiation with probability k_l f / (k_l f + k_d) (exact
competing risks). Checked on hand-built lattices with the rates evaluated here, and on the
tiny run: layered oxide forms only after lithium has been released, and never with both
lithiation paths switched off."""

from __future__ import annotations

import math

import h5py
import numpy as np
import pytest

from mcsim import phases as ph
from tests.support import (FEW_SNAPSHOTS, arrhenius, assert_binomial, box, phase_ever_present,
                           stepper_with)

#: 20^3 voxels.
N = 20
TEMP_C = 300.0


@pytest.mark.parametrize("supply", ["ample", "scarce"])
def test_lithiation_and_dehydration_compete_for_a_hydroxide_voxel_in_one_draw(supply):
    """Hydroxide (1000 TM quanta a voxel) holding ``li`` mobile lithium at 300 C, both
    processes on, one step with (k_l f + k_d) dt = 0.5. Ample lithium (li = 2 amount, f = 1):
    lithiation wins about 31 events in 32. Scarce lithium (f = k_d / k_l: about 32 quanta): the
    lithiation rate falls to k_d and each outcome takes half of the events. Every lithiated
    voxel binds its 1000 quanta of lithium (its mobile lithium goes down by 1000, below zero
    for the scarce supply); TM and the total lithium are conserved."""
    stepper, prm = stepper_with({"lithiation", "dehydration"})
    kl = arrhenius(prm["lithiation_a_per_s"], prm["lithiation_ea_j_per_mol"], TEMP_C)
    kd = arrhenius(prm["dehydration_a_per_s"], prm["dehydration_ea_j_per_mol"], TEMP_C)
    assert kl > 10 * kd
    li0 = 2000.0 if supply == "ample" else float(np.float32(1000.0 * kd / kl))
    f = min(1.0, li0 / 1000.0)
    rate_l = kl * f
    dt = 0.5 / (rate_l + kd)
    st = box(ph.HYDROXIDE, N, li=li0)
    tallies = stepper.advance(st, dt, TEMP_C)
    P, A, L = st.interior("phase"), st.interior("amount"), st.interior("li")
    lay, rs = P == ph.LAYERED, P == ph.ROCKSALT
    events = int(np.count_nonzero(lay | rs))
    assert np.all(lay | rs | (P == ph.HYDROXIDE))
    assert_binomial(events, P.size, -math.expm1(-0.5))
    assert_binomial(int(np.count_nonzero(lay)), events, rate_l / (rate_l + kd))
    assert np.all(A == 1000)
    np.testing.assert_array_equal(L[lay], np.float32(li0) - np.float32(1000.0))
    np.testing.assert_array_equal(L[~lay], np.float32(li0))
    assert L.sum(dtype=np.float64) + A[lay].sum() == pytest.approx(li0 * P.size, rel=1e-6)
    assert tallies["tm_lithiated"] == 1000 * int(np.count_nonzero(lay))
    assert tallies["tm_dehydrated"] == 1000 * int(np.count_nonzero(rs))


def test_hydroxide_without_lithium_never_lithiates():
    """Dry hydroxide with lithiation alone on (dehydration off) stays hydroxide, however long
    the step: lithiation needs mobile lithium."""
    stepper, prm = stepper_with({"lithiation"})
    st = box(ph.HYDROXIDE, N)
    tallies = stepper.advance(st, 1e4, 350.0)
    assert np.all(st.interior("phase") == ph.HYDROXIDE)
    assert tallies["tm_lithiated"] == 0 and tallies["tm_dehydrated"] == 0


def test_layered_forms_only_after_lithium_released(small_run):
    with h5py.File(small_run.path, "r") as f:
        layered = f["timeseries/tm_phase_fraction"][:, 2]
        source = f["timeseries/li_source"][()]
        mobile = f["timeseries/li_mobile"][()]
    assert layered[0] == 0.0
    assert layered[-1] > 0, "no layered oxide by 350 C"
    first_layered = int(np.argmax(layered > 0))
    released = (source < source[0]) | (mobile > 0)
    first_release = int(np.argmax(released))
    assert released.any()
    assert first_release < first_layered
    assert np.all(released[layered > 0])


def test_without_lithiation_no_layered_forms(small_run, tiny_run, tmp_path):
    assert phase_ever_present(small_run.path, ph.LAYERED)  # the default run does form it
    run = tiny_run(tmp_path / "nolith.h5", ["model.processes.lithiation='none'",
                                            "model.processes.rocksalt_lithiation='none'",
                                            FEW_SNAPSHOTS])
    assert not phase_ever_present(run.path, ph.LAYERED)
    assert phase_ever_present(run.path, ph.ROCKSALT)
    with h5py.File(run.path, "r") as f:
        assert np.all(f["timeseries/li_bound"][()] == 0)
