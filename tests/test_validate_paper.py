"""Reduced paper checks: the quick (0.35 um, diffusivity-scaled) particle on a 5 C/min ramp.

The full checks (`mcsim validate --only paper`) run the default particle and compare with the
paper's numbers; here the reduced particle must still show the mechanism: a core-shell
intermediate that appears near 240 C, has a layered shell over a rock-salt core at 300 C and
fades by 500 C, with lithiation starting before dehydration.
"""

import math

import pytest

from mcsim.validate import paper


@pytest.fixture(scope="module")
def quick_ramp():
    return {r.name: r for r in paper.check_ramp_targets(quick=True)}


@pytest.mark.parametrize("name", ["core_shell_appears", "shell_layered_core_rocksalt_300C",
                                  "heterogeneity_weaker_500C"])
def test_reduced_particle_forms_and_loses_a_core_shell_intermediate(quick_ramp, name):
    result = quick_ramp[name]
    assert result.passed, (result.simulated, result.detail)


def test_reduced_particle_lithiates_before_it_dehydrates(quick_ramp):
    t_lith = quick_ramp["onset_lithiation"].simulated
    t_dehy = quick_ramp["onset_dehydration"].simulated
    assert math.isfinite(t_lith) and math.isfinite(t_dehy)
    assert t_lith < t_dehy


def test_reduced_particle_phase_shares_at_300c_add_up(quick_ramp):
    shares = [quick_ramp[f"fig2j_{p}_300C"].simulated for p in ("hydroxide", "rocksalt", "layered")]
    assert sum(shares) == pytest.approx(1.0, abs=1e-9)
    assert shares[2] > max(shares[0], shares[1])  # the shell is most of the particle
