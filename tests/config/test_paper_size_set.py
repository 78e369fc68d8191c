"""The parameter set calibrated at the paper's particle size (``ncm622-lioh-10um``)."""

from __future__ import annotations

import pytest

from mcsim import config, params
from mcsim.errors import ConfigError

_FITTED = ("d_fast_d0_m2_per_s", "d_cap_m2_per_s")


def test_it_differs_from_the_default_set_in_the_two_fitted_diffusivities_only():
    default = params.resolve("ncm622-lioh")
    paper = params.resolve("ncm622-lioh-10um")
    assert set(default) == set(paper)
    changed = {k for k in default if default[k] != paper[k]}
    assert changed == set(_FITTED)
    for k in _FITTED:
        assert paper[k] == pytest.approx(default[k] * params.PAPER_SIZE_D_FACTOR, rel=1e-12)
        assert params.PARAMETER_SETS["ncm622-lioh-10um"][k].source.startswith("calibrated")


def test_lioh_still_chooses_the_default_set_and_the_paper_size_set_is_accepted():
    assert config.load()["model"]["parameter_set"] == "ncm622-lioh"
    chosen = config.load(sets=["model.parameter_set='ncm622-lioh-10um'"])
    assert chosen["model"]["parameter_set"] == "ncm622-lioh-10um"
    assert chosen["lithium"]["source"] == "LiOH"


def test_the_paper_size_set_is_refused_with_li2co3_naming_the_key():
    with pytest.raises(ConfigError) as err:
        config.load(sets=["lithium.source='Li2CO3'",
                               "model.parameter_set='ncm622-lioh-10um'"])
    assert err.value.key == "model.parameter_set" and "lithium.source" in str(err.value)
