"""The small input problems of the file-safety probe, each refused in one line or handled.

Non-UTF-8 and deeply nested configuration files, a ``--set`` value with a newline, a sweep
with ``output.checkpoint_path`` set, and a lithium source whose parameter set does not match.
"""

from __future__ import annotations

import pytest

from mcsim import cli, config
from mcsim import sweep as sw
from mcsim.errors import ConfigError


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mcsim: ") and "Traceback" not in err[0], err
    return err[0]


def test_a_config_that_is_not_utf8_is_refused_in_one_line(tmp_path, capsys):
    (tmp_path / "c.toml").write_bytes(b"seed = 1\n# Temperatur \xb0C\n")
    assert cli.main(["config", "check", str(tmp_path / "c.toml")]) == 2
    assert "not UTF-8" in _one_line(capsys)


@pytest.mark.parametrize("text", ["x = " + "[" * 5000 + "]" * 5000,
                                  "x = " + "{a = " * 2000 + "1" + "}" * 2000])
def test_a_deeply_nested_config_is_refused_in_one_line(text, tmp_path, capsys):
    (tmp_path / "c.toml").write_text(text + "\n")
    assert cli.main(["config", "check", str(tmp_path / "c.toml")]) == 2
    assert "deep" in _one_line(capsys)


def test_a_set_value_with_a_newline_is_refused_not_cut(capsys):
    assert cli.main(["config", "show", "--set", "seed=3\nparticle.radius_um=9"]) == 2
    assert "one line" in _one_line(capsys)
    with pytest.raises(ConfigError, match="one line"):
        config.parse_set("particle.radius_um=0.3\r")


def test_a_long_offending_value_is_shortened_in_the_message():
    err = ConfigError("--set", "x" * 5000, "too long")
    assert len(str(err)) < 200 and "5002 characters" in str(err)


def test_a_sweep_with_a_checkpoint_path_is_refused_naming_the_key(tmp_path, monkeypatch,
                                                                   capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sw.toml").write_text('[sweep]\nreplicas = 2\n[set]\n'
                                      '"output.checkpoint_path" = "x.ckpt"\n')
    assert cli.main(["sweep", "sw.toml", "--dry-run"]) == 2
    line = _one_line(capsys)
    assert "output.checkpoint_path" in line and "run-NNNN.ckpt" in line
    (tmp_path / "one.toml").write_text('[sweep]\nreplicas = 1\n[set]\n'
                                       '"output.checkpoint_path" = "x.ckpt"\n')
    assert len(sw.load_sweep(tmp_path / "one.toml").runs) == 1  # one run may name its own


def test_li2co3_source_chooses_its_parameter_set_and_a_mismatch_is_refused():
    assert config.load()["model"]["parameter_set"] == "ncm622-lioh"
    chosen = config.load(sets=["lithium.source='Li2CO3'"])
    assert chosen["model"]["parameter_set"] == "ncm622-li2co3"
    assert config.load(sets=["lithium.source='Li2CO3'",
                             "model.parameter_set='ncm622-li2co3'"]) == chosen
    for sets in (["lithium.source='Li2CO3'", "model.parameter_set='ncm622-lioh'"],
                 ["model.parameter_set='ncm622-li2co3'"]):
        with pytest.raises(ConfigError) as err:
            config.load(sets=sets)
        assert err.value.key == "model.parameter_set" and "lithium.source" in str(err.value)


def test_li2co3_in_a_sweep_grid_follows_the_source(tmp_path):
    (tmp_path / "sw.toml").write_text('[sweep]\n[grid]\n"lithium.source" = ["LiOH", "Li2CO3"]\n')
    runs = sw.load_sweep(tmp_path / "sw.toml").runs
    assert [r.cfg["model"]["parameter_set"] for r in runs] == ["ncm622-lioh", "ncm622-li2co3"]


def test_a_bad_thread_count_with_restart_is_refused_naming_the_option(tmp_path, monkeypatch,
                                                                        capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "--restart", "none.ckpt", "--threads", "-1"]) == 2
    assert "--threads" in _one_line(capsys)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("out", [".", "..", "./"])
def test_an_output_naming_the_current_or_parent_folder_is_refused_in_one_line(
        out, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert cli.main(["run", "-o", out, "--set", "particle.radius_um=0.15"]) == 2
    assert "-o" in _one_line(capsys)
    assert [p for p in tmp_path.rglob("*")] == [work]
