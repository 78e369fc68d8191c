"""Bad configurations are refused before any work: exit 2, one line naming the key, no file.

Each case is a configuration file (text or raw bytes) and/or ``--set`` assignments given to
``mcsim run``. The run must stop before the particle is made: status 2, exactly one line on
stderr that starts with ``mcsim: `` and names the offending key, no traceback, and nothing
written (no result, no ``.partial``, no lock, no checkpoint). Reaching the simulation at all
fails the test at once, so a case that is wrongly accepted cannot start a long run.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from mcsim import cli
from mcsim import engine

#: (case id, file content (str, bytes or None for no file), --set assignments, key named)
CASES = [
    # types
    ("seed-string", 'seed = "one"\n', (), "seed"),
    ("seed-float", "seed = 1.5\n", (), "seed"),
    ("seed-negative", "seed = -1\n", (), "seed"),
    ("seed-too-large", "seed = 9223372036854775807\n[particle]\nradius_um = 'x'\n", (),
     "particle.radius_um"),
    ("radius-string", "[particle]\nradius_um = 'big'\n", (), "particle.radius_um"),
    ("radius-bool", "[particle]\nradius_um = true\n", (), "particle.radius_um"),
    ("radius-list", "[particle]\nradius_um = [1.0]\n", (), "particle.radius_um"),
    ("radius-table", "[particle.radius_um]\nx = 1\n", (), "particle.radius_um"),
    ("final-snapshot-int", "[output]\nfinal_snapshot = 1\n", (), "output.final_snapshot"),
    ("snapshots-not-list", "[output]\nsnapshot_temperatures_c = 300\n", (),
     "output.snapshot_temperatures_c"),
    ("snapshots-strings", "[output]\nsnapshot_temperatures_c = ['hot']\n", (),
     "output.snapshot_temperatures_c"),
    ("threads-float", "[numerics]\nthreads = 1.5\n", (), "numerics.threads"),
    ("source-number", "[lithium]\nsource = 7\n", (), "lithium.source"),
    # ranges
    ("radius-zero", "[particle]\nradius_um = 0.0\n", (), "particle.radius_um"),
    ("radius-huge", "[particle]\nradius_um = 1e6\n", (), "particle.radius_um"),
    ("voxel-zero", "[particle]\nvoxel_nm = 0\n", (), "particle.voxel_nm"),
    ("porosity-high", "[particle]\nporosity = 0.9\n", (), "particle.porosity"),
    ("porosity-negative", "[particle]\nporosity = -0.1\n", (), "particle.porosity"),
    ("size-cv-high", "[particle]\nsize_cv = 3.0\n", (), "particle.size_cv"),
    ("li-to-tm-zero", "[lithium]\nli_to_tm = 0.0\n", (), "lithium.li_to_tm"),
    ("li-to-tm-high", "[lithium]\nli_to_tm = 30.0\n", (), "lithium.li_to_tm"),
    ("source-diameter-zero", "[lithium]\nsource_diameter_nm = 0\n", (),
     "lithium.source_diameter_nm"),
    ("start-below-absolute-zero", "[schedule]\nstart_c = -300.0\n", (), "schedule.start_c"),
    ("ramp-zero", "[schedule]\nramp_c_per_min = 0\n", (), "schedule.ramp_c_per_min"),
    ("peak-too-hot", "[schedule]\npeak_c = 5000\n", (), "schedule.peak_c"),
    ("hold-negative", "[schedule]\nhold_min = -5\n", (), "schedule.hold_min"),
    ("dt-zero", "[numerics]\ndt_max_s = 0\n", (), "numerics.dt_max_s"),
    ("event-probability-above-one", "[numerics]\nmax_event_probability = 2.0\n", (),
     "numerics.max_event_probability"),
    ("threads-negative", "[numerics]\nthreads = -2\n", (), "numerics.threads"),
    ("log-interval-zero", "[output]\nlog_interval_s = 0\n", (), "output.log_interval_s"),
    ("checkpoint-interval-negative", "[output]\ncheckpoint_interval_sim_min = -1\n", (),
     "output.checkpoint_interval_sim_min"),
    # not-a-number and infinities
    ("radius-nan", "[particle]\nradius_um = nan\n", (), "particle.radius_um"),
    ("radius-inf", "[particle]\nradius_um = inf\n", (), "particle.radius_um"),
    ("dt-minus-inf", "[numerics]\ndt_max_s = -inf\n", (), "numerics.dt_max_s"),
    ("hold-nan", "[schedule]\npreset = 'TS-NCM'\nhold_min = nan\n", (), "schedule.hold_min"),
    ("snapshot-inf", "[output]\nsnapshot_temperatures_c = [inf]\n", (),
     "output.snapshot_temperatures_c"),
    # unknown names and wrong nesting
    ("unknown-top-key", "colour = 'red'\n", (), "colour"),
    ("unknown-section", "[furnace]\nrate = 5\n", (), "furnace"),
    ("unknown-particle-key", "[particle]\nradius = 0.5\n", (), "particle.radius"),
    ("unknown-output-key", "[output]\nsnapshots = [300]\n", (), "output.snapshots"),
    ("section-not-table", "particle = 0.5\n", (), "particle"),
    ("seed-as-table", "[seed]\nvalue = 1\n", (), "seed"),
    ("overrides-not-table", "[model]\noverrides = 5\n", (), "model.overrides"),
    ("unknown-override", "[model.overrides]\nwarp_speed = 9\n", (), "warp_speed"),
    ("unknown-parameter-set", "[model]\nparameter_set = 'ncm811'\n", (), "model.parameter_set"),
    ("unknown-preset", "[schedule]\npreset = 'fast'\n", (), "schedule.preset"),
    ("unknown-source", "[lithium]\nsource = 'LiNO3'\n", (), "lithium.source"),
    ("unknown-placement", "[lithium]\nplacement = 'inside'\n", (), "lithium.placement"),
    ("steps-without-custom", "[[schedule.steps]]\nto_c = 300\nramp_c_per_min = 5\n", (),
     "schedule.steps"),
    ("custom-without-steps", "[schedule]\npreset = 'custom'\n", (), "schedule.steps"),
    ("steps-not-tables", "[schedule]\npreset = 'custom'\nsteps = [1, 2]\n", (),
     "schedule.steps"),
    # absurd sizes and schedules
    ("grain-thinner-than-voxel", "[particle]\nvoxel_nm = 50\ngrain_thickness_nm = 10\n", (),
     "particle"),
    ("source-mismatch-parameter-set",
     "[lithium]\nsource = 'Li2CO3'\n[model]\nparameter_set = 'ncm622-lioh'\n", (),
     "model.parameter_set"),
    ("lioh-with-li2co3-set", "[model]\nparameter_set = 'ncm622-li2co3'\n", (),
     "model.parameter_set"),
    # files that are not configurations
    ("empty-but-bad-set", "", ("particle.radius_um=-1",), "particle.radius_um"),
    ("not-utf8", b"seed = 1\n# caf\xe9 \xff\xfe\n", (), "CONFIG"),
    ("binary-junk", bytes(range(256)) * 4, (), "CONFIG"),
    ("not-toml", "this is not = = toml\n", (), "CONFIG"),
    ("duplicate-key", "seed = 1\nseed = 2\n", (), "CONFIG"),
    ("duplicate-section", "[particle]\nporosity = 0.2\n[particle]\nporosity = 0.3\n", (),
     "CONFIG"),
    ("deeply-nested-array", "x = " + "[" * 3000 + "]" * 3000 + "\n", (), "CONFIG"),
    ("deeply-nested-tables", "[" + ".".join(f"t{i}" for i in range(40)) + "]\nx = 1\n", (),
     "CONFIG"),
    ("missing-file", None, (), "CONFIG"),
    # bad --set forms
    ("set-no-equals", "", ("particle.radius_um",), "--set"),
    ("set-empty-key-part", "", ("particle..radius_um=1",), "--set"),
    ("set-newline-in-value", "", ("seed=3\nparticle.radius_um=9",), "--set"),
    ("set-carriage-return", "", ("seed=3\rx=1",), "--set"),
    ("set-into-scalar", "", ("seed.value=3",), "seed"),
    ("set-deep-value", "", ("seed=" + "[" * 3000 + "]" * 3000,), "--set"),
    ("set-unknown-key", "", ("particle.colour=2",), "particle.colour"),
    ("set-bad-value", "", ("numerics.threads=many",), "numerics.threads"),
]


@pytest.fixture(autouse=True)
def no_simulation(monkeypatch):
    """A configuration that gets as far as the simulation was wrongly accepted."""
    def refuse(*_args, **_kwargs):
        raise AssertionError("the bad configuration reached the simulation")

    monkeypatch.setattr(engine.Simulation, "__init__", refuse)


def test_there_are_at_least_sixty_cases():
    assert len(CASES) >= 60
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case,content,sets,key", CASES, ids=[c[0] for c in CASES])
def test_bad_configuration_exits_2_with_one_line_naming_the_key_and_writes_nothing(
        case, content, sets, key, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["run"]
    if content is not None or case == "missing-file":
        path = tmp_path / "c.toml"
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content is not None:
            path.write_text(content)
        args.append("c.toml")
    for assignment in sets:
        args += ["--set", assignment]
    args += ["-o", "out.h5", "--no-progress"]
    before = sorted(p.name for p in tmp_path.iterdir())
    status = cli.main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2, err
    assert len(err) == 1 and err[0].startswith("mcsim: "), err
    assert key in err[0], err
    assert "Traceback" not in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("content", ["[particle]\nradius_um = -1\n", b"\xff\xfe junk",
                                     "x = " + "[" * 3000 + "]" * 3000])
def test_installed_command_refuses_bad_configurations_in_one_line(content, tmp_path):
    path = tmp_path / "c.toml"
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    for command in (["config", "check", "c.toml"], ["run", "c.toml", "-o", "o.h5"]):
        done = subprocess.run([sys.executable, "-m", "mcsim", *command], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("mcsim: "), lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]
