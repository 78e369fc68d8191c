"""The nanobeam-diffraction checks of Fig. 1c-k read the quasi-equilibrium steps' radial
profiles at the right rows and bins, and their verdicts are the criterion applied.

No simulation: :func:`mcsim.validate.paper.run` is replaced by a made-up time series of the
steps (heating to 600 C, then cooling back through the step temperatures, rows the checks
must not read).
"""

from __future__ import annotations

import numpy as np
import pytest

import mcsim.validate  # noqa: F401 - registers every check module
from mcsim.validate import paper


def _steps_series(seed: int) -> dict:
    # heating: each step's last row is the state after its relax; cooling rows repeat the
    # temperatures with other values
    heat_t = [25.0, 100.0, 150.0, 175.0, 200.0, 200.0, 225.0, 250.0, 250.0, 260.0, 275.0,
              300.0, 300.0, 600.0]
    cool_t = [300.0, 250.0, 200.0, 25.0]
    temp = np.array(heat_t + cool_t)
    n = temp.size
    layered = np.full((n, 10), 0.9)
    rocksalt = np.full((n, 10), 0.05)
    bins = np.arange(10) / 100.0
    for i, t in enumerate(heat_t):
        if t <= 300.0:
            layered[i] = t / 1000.0 + bins  # a row's value tells its temperature and bin
            rocksalt[i] = 0.5 * layered[i]
    # the rows the checks must read: the last heating row at each step
    layered[5] = [0.0] * 8 + [0.55 + 0.01 * seed, 0.65 + 0.01 * seed]  # 200 C: shell 0.6+
    layered[8] = [0.2, 0.3, 0.4 + 0.01 * seed] + [0.8] * 7  # 250 C: core 0.3+
    layered[12] = [0.7, 0.8, 0.9] + [1.0] * 7  # 300 C: core 0.8
    return {"temperature_c": temp, "radial_layered": layered, "radial_rocksalt": rocksalt,
            "tm_phase_fraction": np.column_stack([1.0 - layered.mean(1), np.zeros(n),
                                                  layered.mean(1)]),
            "particle": {"radius_um": 0.6, "voxel_nm": 10.0}, "overrides": {}}


@pytest.fixture
def made_up_steps(monkeypatch):
    def fake_run(sets, seed=1, extra=()):
        assert tuple(sets) == paper.QUASI_EQUILIBRIUM
        return _steps_series(seed)
    monkeypatch.setattr(paper, "run", fake_run)
    monkeypatch.setattr(paper, "current_seeds", lambda: (1, 2, 3))


def test_the_last_heating_row_at_or_below_the_step_is_read():
    ts = _steps_series(1)
    assert paper.qe_radial_at(ts, 200.0, "radial_layered", slice(8, 10)) == pytest.approx(0.61)
    assert paper.qe_radial_at(ts, 250.0, "radial_layered", slice(0, 3)) == pytest.approx(0.3033333)
    assert paper.qe_radial_at(ts, 300.0, "radial_layered", slice(0, 3)) == pytest.approx(0.8)
    # a temperature between steps reads the last row below it (260 C's row for 270 C)
    assert paper.qe_radial_at(ts, 270.0, "radial_layered", slice(0, 1)) == pytest.approx(0.26)


def test_nbd_checks_give_each_seed_and_the_verdict_of_more_than_half(made_up_steps):
    out = {r.name: r for r in paper.check_quasi_equilibrium(quick=False)}
    names = [name for name, *_ in paper.NBD_SAMPLES]
    assert names == ["nbd_steps_shell_layered_200C", "nbd_steps_core_layered_250C",
                     "nbd_steps_core_layered_300C"]
    assert {"xrd_steps_layered_200_250C", *names} == set(out)
    shell = out["nbd_steps_shell_layered_200C"]
    assert shell.per_seed == pytest.approx((0.61, 0.62, 0.63)) and shell.seeds == (1, 2, 3)
    assert shell.passed and shell.kind == "cross-check" and not shell.calibrated_by
    core250 = out["nbd_steps_core_layered_250C"]
    assert core250.per_seed == pytest.approx([(0.2 + 0.3 + 0.4 + 0.01 * s) / 3 for s in (1, 2, 3)])
    assert not core250.passed  # 0.30-0.31: not more than half
    assert "rock-salt share there per seed" in core250.detail
    core300 = out["nbd_steps_core_layered_300C"]
    assert core300.simulated == pytest.approx(0.8) and core300.passed


def test_a_share_of_exactly_half_fails(monkeypatch, made_up_steps):
    def half(sets, seed=1, extra=()):
        ts = _steps_series(seed)
        ts["radial_layered"][12] = [0.5] * 10
        return ts
    monkeypatch.setattr(paper, "run", half)
    out = {r.name: r for r in paper.check_quasi_equilibrium(quick=True)}
    assert out["nbd_steps_core_layered_300C"].simulated == pytest.approx(0.5)
    assert not out["nbd_steps_core_layered_300C"].passed
    assert out["nbd_steps_core_layered_300C"].seeds == (1,)
