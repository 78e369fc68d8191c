"""The reference docs in docs/reference are generated from the code (``mcsim config reference``):
the committed files must equal a fresh rendering, list every key with its default and every
parameter with its value, and ``--check`` must tell a stale copy from a current one."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from mcsim import docgen, params
from mcsim.cli import main as cli_main
from tests.support import REPO_ROOT as ROOT

REF = ROOT / docgen.REPO_DIR


def _mcsim(*args, cwd):
    return subprocess.run([sys.executable, "-m", "mcsim", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def _rows(text: str) -> dict[str, list[list[str]]]:
    """Table rows of a generated Markdown file by their first cell (code ticks removed);
    a name may have several rows (one per parameter set)."""
    rows: dict[str, list[list[str]]] = {}
    for line in text.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        rows.setdefault(cells[0].strip("`"), []).append(cells)
    return rows


def _leaves(doc: dict, prefix: str = "") -> dict:
    """Dotted key -> value of every scalar, list or empty table of a TOML document."""
    out = {}
    for key, value in doc.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(_leaves(value, dotted + "."))
        else:
            out[dotted] = value
    return out


@pytest.mark.parametrize("name", [docgen.CONFIG_FILE, docgen.PARAMS_FILE])
def test_committed_reference_equals_what_the_code_generates(name):
    path = REF / name
    assert path.is_file(), f"{path} is missing: run `{docgen.COMMAND}`"
    assert path.read_text(encoding="utf-8") == docgen.documents()[name], (
        f"{docgen.REPO_DIR}/{name} is stale (the schema or the parameters changed): "
        f"run `{docgen.COMMAND}` and commit the result")
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(docgen.MARKER) and "do not edit by hand" in first


def test_rendering_is_deterministic_and_free_of_machine_paths():
    first, second = docgen.documents(), docgen.documents()
    assert first == second
    for text in first.values():
        assert str(ROOT) not in text and str(Path.home()) not in text
        assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text)  # no dates


def test_every_key_of_config_show_is_in_the_reference_with_its_default(tmp_path):
    proc = _mcsim("config", "show", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    shown = _leaves(tomllib.loads(proc.stdout))
    rows = _rows(docgen.configuration_reference())
    text = docgen.configuration_reference()
    assert len(shown) >= 25
    for key, value in shown.items():
        if isinstance(value, dict):  # the open tables [model.overrides], [model.processes]
            assert f"### [{key}]" in text, key
            continue
        assert key in rows, f"{key} (printed by mcsim config show) is not in the reference"
        (cells,) = rows[key]
        default = cells[1].strip("`")
        assert tomllib.loads(f"v = {default}")["v"] == value, (key, default, value)


def test_reference_ranges_and_units_follow_the_schema():
    from mcsim import config

    rows = _rows(docgen.configuration_reference())
    (radius,) = rows["particle.radius_um"]
    spec = config.SCHEMA["particle"]["radius_um"]
    assert radius[3] == f"[{spec.lo:g}, {spec.hi:g}]" and radius[4] == "µm"
    assert rows["schedule.ramp_c_per_min"][0][4] == "°C/min"
    assert rows["output.checkpoint_interval_sim_min"][0][4] == "min (simulated)"
    assert rows["particle.porosity"][0][4] == "1"
    for choice in config.SCHEMA["schedule"]["preset"].choices:
        assert f'`"{choice}"`' in rows["schedule.preset"][0][3]
    # every schema key has a row, with its own description
    for section, keys in config.SCHEMA.items():
        if isinstance(keys, dict):
            for key, spec in keys.items():
                (cells,) = rows[f"{section}.{key}"]
                assert cells[5] == " ".join(spec.doc.split())


def test_processes_and_presets_come_from_the_code():
    from mcsim.processes import REGISTRY
    from mcsim.schedule import PRESETS

    text = docgen.configuration_reference()
    rows = _rows(text)
    for name, variants in REGISTRY.items():
        (cells,) = rows[f"model.processes.{name}"]
        assert cells[1] == f'`"{next(iter(variants))}"`'
        for variant in variants:
            assert f'`"{variant}"`' in cells[2]
    for preset in PRESETS:
        assert f'| `"{preset}"` |' in text


def test_every_parameter_of_every_set_is_in_the_table():
    text = docgen.parameter_reference()
    rows = _rows(text)
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    assert [s.splitlines()[0] for s in sections] == list(params.PARAMETER_SETS)
    for section in sections:
        name = section.splitlines()[0]
        table = params.PARAMETER_SETS[name]
        section_rows = _rows(section)
        assert set(section_rows) == set(table), name
        for key, p in table.items():
            (cells,) = section_rows[key]
            assert float(cells[1]) == p.value, (name, key, cells[1])
            assert cells[2] == p.unit
            expected = next((w for w in ("calibrated", "estimated")
                             if p.source.startswith(w + ":")), "literature")
            assert cells[4] == expected, (name, key)
            assert cells[6] == " ".join(p.source.split())
    # a value that differs between the sets shows up as such
    melt = [float(cells[1]) for cells in rows["source_melt_c"]]
    assert melt == [t["source_melt_c"].value for t in params.PARAMETER_SETS.values()]
    assert len(set(melt)) == 2


def test_number_rendering_is_exact():
    for value in (4.4e9, 134e3, 0.05, 1.25e-16, 8.5e-11, 0.1 + 0.2, 1e-6, 7.0e8, 462.0):
        assert float(docgen.number(value)) == value


def test_check_fails_on_a_tampered_copy_and_passes_on_a_fresh_write(tmp_path, capsys):
    out = tmp_path / "ref"
    assert cli_main(["config", "reference", "--check", str(out)]) == 1  # missing
    assert capsys.readouterr().out.count("missing") == 2
    assert cli_main(["config", "reference", "--write", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {docgen.CONFIG_FILE, docgen.PARAMS_FILE}
    capsys.readouterr()
    assert cli_main(["config", "reference", "--check", str(out)]) == 0
    assert "up to date" in capsys.readouterr().out
    # one changed default in the parameter table: exactly that file is reported
    tampered = out / docgen.PARAMS_FILE
    tampered.write_text(tampered.read_text(encoding="utf-8").replace("| 462 |", "| 463 |", 1),
                        encoding="utf-8")
    assert cli_main(["config", "reference", "--check", str(out)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and docgen.PARAMS_FILE in lines[0] and "--write" in lines[0]
    # writing again repairs it
    assert cli_main(["config", "reference", "--write", str(out)]) == 0
    assert cli_main(["config", "reference", "--check", str(out)]) == 0


def test_check_on_the_committed_docs_via_the_console(tmp_path):
    proc = _mcsim("config", "reference", "--check", REF, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_write_refuses_a_file_it_did_not_generate(tmp_path, capsys):
    mine = tmp_path / docgen.CONFIG_FILE
    mine.write_text("my notes\n", encoding="utf-8")
    assert cli_main(["config", "reference", "--write", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert docgen.CONFIG_FILE in err and "not replaced" in err
    assert mine.read_text(encoding="utf-8") == "my notes\n"
    assert not (tmp_path / docgen.PARAMS_FILE).exists()  # refused before anything is written


def test_config_reference_prints_exactly_what_docgen_generates(capsys):
    assert cli_main(["config", "reference"]) == 0
    assert capsys.readouterr().out == docgen.configuration_reference()
    assert cli_main(["config", "reference", "--params"]) == 0
    assert capsys.readouterr().out == docgen.parameter_reference()
