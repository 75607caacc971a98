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
    Params,
    describe,
    load_params,
    render_yaml,
    require_all_described,
    validate_params,
)
from linkage.paths import STAGES, param_print

REPO = Path(__file__).resolve().parents[1]


def test_committed_params_yaml_is_valid_and_complete():
    params = load_params(REPO / "params.yaml")
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    # every schema key is written out, so reviewers see every choice in one file
    sections = {k for k, t, *_ in describe() if t == "section"}

    def keys(d, prefix=""):
        out = set()
        for k, v in d.items():
            out.add(prefix + k)
            if isinstance(v, dict) and prefix + k in sections:
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


def test_lists_and_mappings_are_native_yaml():
    p = validate_params({"model": {"lags": [0, 1, 2]}, "staff": {"measures": ["staff.stress", "staff.engagement"]},
                         "link": {"split_assign": {"RW6": "RM3"}}})
    assert p.model.lags == [0, 1, 2]
    assert p.staff.measures == ["staff.stress", "staff.engagement"]
    assert p.link.split_assign == {"RW6": "RM3"}
    # what `dvc exp run -S 'model.lags=[0,1,2]'` writes into params.yaml
    raw = yaml.safe_load(render_yaml())
    raw["model"]["lags"] = yaml.safe_load("[0,1,2]")
    assert validate_params(raw).model.lags == [0, 1, 2]


def test_a_comma_string_for_a_list_says_how_to_write_a_list():
    with pytest.raises(ParamsError, match=r"model\.lags: expected a YAML list.*-S 'section\.key=\[a,b\]'"):
        validate_params({"model": {"lags": "0, 1, 2"}})


def test_unknown_measure_lists_catalogue():
    with pytest.raises(ParamsError, match=r"staff\.measures: unknown staff measure \(given: 'staff\.happiness'\)"):
        validate_params({"staff": {"measures": ["staff.stress", "staff.happiness"]}})


@pytest.mark.parametrize(
    ("raw", "pattern"),
    [
        ({"modle": {"lag": 1}}, r"modle: unknown key .*allowed keys here: data, link, model, multiverse, patient, report, staff"),
        ({"model": {"exposure": "staff.happiness"}}, r"model\.exposure: unknown measure \(given: 'staff\.happiness'\)"),
        ({"model": {"dependent": "patient.nope"}}, r"model\.dependent: unknown measure"),
        ({"model": {"dependent": ""}}, r"model\.dependent: unknown measure \(given: ''\)"),
        ({"model": {"other_exposures": ["staff.stress", "staff.moodiness"]}}, r"model\.other_exposures: unknown measure"),
        ({"model": {"covariates": ["staff.morale"]}, "staff": {"measures": ["staff.stress"]}},
         r"model\.covariates: 'staff\.morale' is not kept by staff\.measures"),
        ({"model": {"exposure": "staff.morale"}, "staff": {"measures": ["staff.stress"]}},
         r"model\.exposure: 'staff\.morale' is not kept by staff\.measures"),
        ({"link": {"headline_staff": "patient.ip_overall"}}, r"link\.headline_staff: 'patient\.ip_overall' is a patient measure"),
        ({"data": {"demo": {"seed": -1}}}, r"data\.demo\.seed: Input should be greater than or equal to 0"),
        ({"data": {"demo": {"n_acute": 401}}}, r"data\.demo\.n_acute: Input should be less than or equal to 400"),
        ({"model": {"headline_family": "pooled", "families": ["twoway_fe"]}}, r"headline_family 'pooled' is not in families"),
        ({"model": {"dk_bandwidth": 2}}, r"model\.dk_bandwidth: set to 2 but model\.cov_type is 'clustered_entity'"),
    ],
    ids=["misspelt-section", "unknown-exposure", "unknown-dependent", "empty-dependent", "unknown-other-exposure",
         "covariate-not-ingested", "exposure-not-ingested", "headline-staff-wrong-kind", "negative-seed",
         "too-many-trusts", "headline-family-not-fitted", "bandwidth-without-dk"],
)
def test_invalid_params_are_refused_naming_key_and_value(raw, pattern):
    with pytest.raises(ParamsError, match=pattern):
        validate_params(raw)


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


def test_every_stage_runs_after_the_params_check_and_reads_its_section():
    """`params` always runs (it validates the whole of params.yaml) and every other stage runs after it, so
    an invalid file stops DVC before any stage removes an output. No stage declares params, so dvc.lock holds no
    copy of params.yaml: each depends on the fingerprint of the values it reads, which `params` writes."""
    dvc = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert list(dvc) == list(STAGES)
    assert dvc["params"]["always_changed"] is True and "params" not in dvc["params"]
    lock = yaml.safe_load((REPO / "dvc.lock").read_text())["stages"]
    assert not [n for n, st in lock.items() if "params" in st]
    producers = {next(iter(o)) if isinstance(o, dict) else o: name for name, st in dvc.items() for o in st.get("outs", [])}

    def upstream(name: str) -> set[str]:
        deps = {producers[d] for d in dvc[name].get("deps", []) if d in producers}
        return deps | set().union(*(upstream(d) for d in deps)) if deps else set()

    for name, st in dvc.items():
        assert st["cmd"] == f"linkage stage {name}"
        if name != "params":
            assert "params" in upstream(name), f"{name} can run before the params check"
            assert "params" not in st, "no params in dvc.lock: the stage depends on its params fingerprint"
            assert str(param_print(name)) in st["deps"]
        if STAGES[name].notebook:  # through its code fingerprint, which the stage depends on
            from linkage.codeprint import code_prints
            from linkage.paths import code_print

            assert str(code_print(name)) in st["deps"]
            assert f"notebooks/{STAGES[name].notebook}.ipynb" in code_prints(REPO)[name]["files"]


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
    assert section in Params.model_fields
    assert 'params_file = "params.yaml"' in src
    stage = next(s for s in STAGES.values() if s.notebook == nb.stem)
    assert stage.section == section
    code = "".join("".join(c["source"]) for c in cells)
    assert f'stage_params("{section}", globals(), params_file)' in code
    assert f"from linkage.stages import {stage.name} as stage" in code


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
