"""Run-configuration loading and validation: every rule gives one clear error naming the key."""

import tomllib

import pytest

from mcsim import config
from mcsim.errors import ConfigError


def _write(tmp_path, text):
    p = tmp_path / "c.toml"
    p.write_text(text)
    return p


def test_default_configuration_is_valid_and_complete():
    cfg = config.load()
    assert cfg["seed"] == 1
    assert cfg["schedule"]["preset"] == "R-NCM"
    assert cfg["model"]["parameter_set"] == "ncm622-lioh"
    for section, spec in config.SCHEMA.items():
        if isinstance(spec, dict):
            for key, s in spec.items():
                if s.default is not None:
                    assert key in cfg[section], f"{section}.{key} missing from defaults"


def test_resolved_configuration_round_trips_through_toml(tmp_path):
    cfg = config.load(sets=["particle.radius_um=0.3", "schedule.preset='TS-NCM'",
                            "schedule.hold_c=230", "model.overrides.lithiation_a_per_s=2e8"])
    text = config.to_toml(cfg)
    again = config.load(_write(tmp_path, text))
    assert again == cfg
    assert tomllib.loads(text)["schedule"]["hold_c"] == 230.0


def test_set_overrides_file_values(tmp_path):
    p = _write(tmp_path, "seed = 5\n[particle]\nradius_um = 0.4\n")
    cfg = config.load(p, ["particle.radius_um=0.5"])
    assert cfg["seed"] == 5 and cfg["particle"]["radius_um"] == 0.5


def test_integers_are_accepted_where_numbers_are_expected():
    cfg = config.load(sets=["particle.voxel_nm=20"])
    assert isinstance(cfg["particle"]["voxel_nm"], float)


def test_custom_schedule_steps_are_accepted(tmp_path):
    p = _write(tmp_path, """
[schedule]
preset = "custom"
start_c = 25
[[schedule.steps]]
ramp_c_per_min = 5
to_c = 300
[[schedule.steps]]
hold_min = 60
[[schedule.steps]]
quench_to_c = 25
""")
    cfg = config.load(p)
    sched = config.build_schedule(cfg)
    assert sched.duration_s == pytest.approx((275 / 5 + 60) * 60)


BAD = [
    # (TOML text or --set, key named in the error, fragment of the allowed range)
    ("sets", "particle.radius_um=-1", "particle.radius_um", "[0.05, 20]"),
    ("sets", "particle.radius_um='big'", "particle.radius_um", "a number"),
    ("sets", "particle.porosity=0.9", "particle.porosity", "[0, 0.6]"),
    ("sets", "particle.colour=3", "particle.colour", "unknown key"),
    ("sets", "partikel.radius_um=1", "partikel", "unknown key"),
    ("sets", "seed=-3", "seed", "integer"),
    ("sets", "seed=1.5", "seed", "integer"),
    ("sets", "lithium.source='LiNO3'", "lithium.source", "'LiOH', 'Li2CO3'"),
    ("sets", "lithium.li_to_tm=0", "lithium.li_to_tm", "[0.01, 3]"),
    ("sets", "lithium.placement='inside'", "lithium.placement", "'particles', 'shell'"),
    ("sets", "schedule.preset='fast'", "schedule.preset", "'R-NCM'"),
    ("sets", "schedule.ramp_c_per_min=0", "schedule.ramp_c_per_min", "[1e-06, 1000]"),
    ("sets", "model.parameter_set='nmc811'", "model.parameter_set", "ncm622-lioh"),
    ("sets", "model.overrides.no_such_rate=1", "model.overrides.no_such_rate", "unknown parameter"),
    ("sets", "model.overrides.dehydration_a_per_s=-1", "model.overrides.dehydration_a_per_s", "must be in"),
    ("sets", "model.processes.melting='fast'", "model.processes.melting", "unknown process"),
    ("sets", "model.processes.dehydration='second-order'", "model.processes.dehydration", "'first-order'"),
    ("sets", "output.snapshot_temperatures_c=[100, 'x']", "output.snapshot_temperatures_c", "list of numbers"),
    ("sets", "output.timeseries_interval_s=0", "output.timeseries_interval_s", "[1e-06"),
    ("sets", "numerics.threads=-1", "numerics.threads", "[0, 4096]"),
    ("sets", "particle.voxel_nm=100", "particle.grain_thickness_nm", ">= 2 voxels"),
    ("sets", "schedule.hold_min=-1", "schedule.hold_min", "[0, 1e+06]"),
    ("sets", "numerics.final_snapshot=true", "numerics.final_snapshot", "unknown key"),
    ("sets", "output.final_snapshot=1", "output.final_snapshot", "true or false"),
    ("toml", "[schedule]\npreset = 'custom'\n", "schedule.steps", "required"),
    ("toml", "[schedule]\npreset = 'R-NCM'\n[[schedule.steps]]\nhold_min = 3\n", "schedule.steps",
     "only allowed"),
    ("toml", "[schedule]\npreset = 'custom'\n[[schedule.steps]]\nramp_c_per_min = 5\nto_c = 10\n",
     "schedule.steps[0].to_c", ""),
    ("toml", "[schedule]\npreset = 'custom'\n[[schedule.steps]]\nhold_min = -5\n",
     "schedule.steps[0].hold_min", ""),
    ("toml", "[schedule]\npreset = 'interrupted'\n", "schedule.quench_at_c", ""),
    ("toml", "particle = 3\n", "particle", "table"),
]


@pytest.mark.parametrize("how,text,key,allowed", BAD, ids=[b[2] + ":" + b[1][:20] for b in BAD])
def test_bad_input_names_the_key_and_what_is_allowed(tmp_path, how, text, key, allowed):
    with pytest.raises(ConfigError) as info:
        if how == "sets":
            config.load(sets=[text])
        else:
            config.load(_write(tmp_path, text))
    assert info.value.key == key
    assert allowed in str(info.value)
    assert str(info.value).startswith(key)


def test_missing_file_and_broken_toml_are_reported(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        config.load(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(_write(tmp_path, "[particle\nradius_um = 1"))


def test_set_without_equals_sign_is_rejected():
    with pytest.raises(ConfigError, match="section.key=value"):
        config.load(sets=["particle.radius_um"])


def test_integer_ranges_are_written_whole_in_the_message():
    with pytest.raises(ConfigError) as err:
        config.load(sets=["seed=-1"])
    assert str(err.value).endswith("must be an integer in [0, 2**63 - 1]")
    with pytest.raises(ConfigError) as err:
        config.load(sets=["numerics.threads=-1"])
    assert str(err.value).endswith("must be an integer in [0, 4096]")


@pytest.mark.parametrize("make, words", [
    (lambda d: d, "is a directory, not a TOML file"),
    (lambda d: d / "missing.toml", "file not found"),
    (lambda d: (d / "bom.toml").write_bytes(b"\xef\xbb\xbfseed = 1\n") and d / "bom.toml",
     "byte-order mark"),
])
def test_unusable_configuration_files_say_why(tmp_path, make, words):
    with pytest.raises(ConfigError) as err:
        config.read_toml_text(make(tmp_path))
    assert words in str(err.value)
