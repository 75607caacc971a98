"""params.yaml, its schema, and the DVC/notebook wiring that must agree with it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from linkage.cli import main
from linkage.errors import ParamsError
from linkage.params import (
    describe,
    load_params,
    params_model,
    render_yaml,
    require_all_described,
    validate_params,
)

REPO = Path(__file__).resolve().parents[1]


def test_committed_params_yaml_is_valid_and_complete():
    params = load_params(REPO / "params.yaml")
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    # every schema key is written out, so reviewers see every choice in one file
    def keys(d, prefix=""):
        out = set()
        for k, v in d.items():
            out.add(prefix + k)
            if isinstance(v, dict):
                out |= keys(v, prefix + k + ".")
        return out

    schema_keys = {k for k, *_ in describe()}
    assert keys(raw) == schema_keys
    assert params.data.source in ("demo", "local", "official")
    assert params.data.local_dir


def test_every_key_is_described():
    assert require_all_described() == []


def test_bad_literal_names_key_value_and_allowed():
    with pytest.raises(ParamsError) as err:
        validate_params({"data": {"source": "internet"}})
    msg = str(err.value)
    assert "data.source" in msg and "'internet'" in msg
    assert "'demo'" in msg and "'local'" in msg and "'official'" in msg


def test_unknown_key_is_an_error_not_ignored():
    with pytest.raises(ParamsError, match=r"model\.familes: unknown key"):
        validate_params({"model": {"familes": "pooled"}})


def test_bad_model_choice_fails_before_any_stage():
    with pytest.raises(ParamsError) as err:
        validate_params({"model": {"cov_type": "sandwich"}})
    assert "model.cov_type" in str(err.value) and "clustered_entity" in str(err.value)


def test_type_error_names_key():
    with pytest.raises(ParamsError, match=r"data\.demo\.n_acute"):
        validate_params({"data": {"demo": {"n_acute": "many"}}})


def test_comma_strings_become_typed_lists():
    p = validate_params({"model": {"lags": "0, 1, 2"}, "staff": {"measures": "staff.stress, staff.engagement"}})
    assert p.model.lags == [0, 1, 2]
    assert p.staff.measures == ["staff.stress", "staff.engagement"]
    assert validate_params({"model": {"lags": 1}}).model.lags == [1]


def test_unknown_measure_lists_catalogue():
    with pytest.raises(ParamsError, match=r"unknown measure\(s\) \['staff\.happiness'\]"):
        validate_params({"staff": {"measures": "staff.stress, staff.happiness"}})


def test_render_yaml_round_trips_defaults():
    text = render_yaml()
    again = validate_params(yaml.safe_load(text))
    assert again == validate_params({})


def test_cli_validate_params_exit_codes(tmp_path, capsys):
    good = tmp_path / "params.yaml"
    good.write_text(render_yaml())
    assert main(["validate-params", "--params", str(good)]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  source: web\n")
    assert main(["validate-params", "--params", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "data.source" in err and "Traceback" not in err


def test_cli_subprocess_has_no_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  small_sample: maybe\n")
    proc = subprocess.run([sys.executable, "-m", "linkage.cli", "validate-params", "--params", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "model.small_sample" in proc.stderr and "Traceback" not in proc.stderr


def test_dvc_yaml_matches_schema():
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "build_dvc.py"), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_every_notebook_stage_passes_every_section_key():
    dvc = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    sections = {"ingest_staff": "staff", "ingest_patient": "patient", "link": "link", "model": "model", "report": "report"}
    for stage, section in sections.items():
        cmd = dvc[stage]["cmd"]
        assert "papermill notebooks/" in cmd and " -k linkage" in cmd
        assert " -f " not in cmd, "papermill -f silently ignores nested keys"
        assert section in dvc[stage]["params"]
        for key in params_model().model_fields[section].annotation.model_fields:
            assert f' {key} "${{{section}.{key}}}"' in cmd, f"{stage} does not pass {section}.{key}"


def _notebooks():
    return sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("nb", _notebooks(), ids=lambda p: p.name)
def test_notebooks_committed_without_outputs(nb):
    cells = json.loads(nb.read_text())["cells"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in cells if c["cell_type"] == "code")


@pytest.mark.parametrize("nb", _notebooks(), ids=lambda p: p.name)
def test_notebook_parameters_cell_declares_its_section(nb):
    cells = json.loads(nb.read_text())["cells"]
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    src = "".join(tagged[0]["source"])
    section = src.split("section `")[1].split("`")[0]
    for key in params_model().model_fields[section].annotation.model_fields:
        assert f"\n{key} = " in src, f"{nb.name}: parameters cell lacks {key}"


@pytest.mark.parametrize("nb", _notebooks(), ids=lambda p: p.name)
def test_notebook_imports_and_linkage_calls_resolve(nb):
    """Cheap guard before the pipeline runs: every import works and every `module.function(`
    the notebook calls on a linkage module exists."""
    import re
    import types

    ns: dict = {}
    sources = ["".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]
    for src in sources:
        for line in src.splitlines():
            if line.startswith(("import ", "from ")):
                exec(line, ns)  # noqa: S102 - the notebook's own import lines
    for src in sources:
        for mod, attr in re.findall(r"\b(\w+)\.(\w+)\(", src):
            obj = ns.get(mod)
            if isinstance(obj, types.ModuleType) and obj.__name__.startswith("linkage"):
                assert hasattr(obj, attr), f"{nb.name}: {mod}.{attr} does not exist"
