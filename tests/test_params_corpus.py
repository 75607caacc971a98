"""A corpus of invalid params.yaml files: each is refused, naming its dotted key.

Every file starts from the committed ``params.yaml`` and breaks one thing.  Two
kinds of case:

* derived from the schema: for every numeric, boolean, text and list key, the
  values a strict schema must refuse (a bool for a number, a quoted number, a
  float for a whole number, infinity, a value past each bound - and every
  number must have both bounds);
* written by hand: the contradictions between keys, the malformed addresses,
  dates and lists, and the file-level faults (empty file, a key or a section
  given twice) that DVC itself refuses.

``linkage validate-params`` must exit 2 with one line naming the exact key
(``model.lags[0]``, not ``model``) and no traceback.  A sample also goes
through ``dvc repro`` in a throw-away copy of the project (slow-marked): it
must fail at the ``params`` stage naming the same key, changing no file.
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
import re
import shutil
import subprocess
import sys
import types
import typing
from pathlib import Path
from typing import Any

import annotated_types as at
import pytest
import yaml
from pydantic import BaseModel

from linkage.cli import main
from linkage.params import Params, read_raw

ROOT = Path(__file__).resolve().parents[1]
BASE = read_raw(ROOT / "params.yaml")


def _set(raw: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(raw)
    node = out
    parts = key.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value
    return out


def _bounds(metadata: list[Any]) -> tuple[float | None, float | None]:
    low = high = None
    metadata = [x for m in metadata for x in (getattr(m, "metadata", None) or [m])]  # Field(...) in Annotated
    for m in metadata:
        low = m.ge if isinstance(m, at.Ge) else m.gt if isinstance(m, at.Gt) else low
        high = m.le if isinstance(m, at.Le) else m.lt if isinstance(m, at.Lt) else high
    return low, high


def _strip_optional(ann: Any) -> Any:
    if isinstance(ann, types.UnionType) or typing.get_origin(ann) is typing.Union:
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        return args[0] if len(args) == 1 else ann
    return ann


def _leaves(model: type[BaseModel], prefix: str = ""):
    for name, field in model.model_fields.items():
        ann = _strip_optional(field.annotation)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            yield from _leaves(ann, f"{prefix}{name}.")
        else:
            yield prefix + name, ann, list(field.metadata)


def _number_cases(key: str, kind: type, metadata: list[Any]) -> list[tuple[str, Any, str]]:
    low, high = _bounds(metadata)
    cases = [(f"{key}=true", True, key), (f"{key}='3'", "3", key)]
    if high is not None:
        cases.append((f"{key}>max", (high * 10 + 1) if kind is int else high * 10 + 1.5, key))
        cases.append((f"{key}=1e18", 10**18 if kind is int else 1e30, key))
    if low is not None:
        cases.append((f"{key}<min", (low - 1) if kind is int else low - 1.5, key))
    if kind is int:
        cases.append((f"{key}=8.0", 8.0, key))
    else:
        cases += [(f"{key}=inf", math.inf, key), (f"{key}=nan", math.nan, key)]
    return cases


def schema_cases() -> list[tuple[str, dict[str, Any], str]]:
    """(id, raw params, key that must be named) for every leaf of the schema."""
    out = []
    for key, ann, metadata in _leaves(Params):
        origin = typing.get_origin(ann)
        if ann in (int, float):
            cases = _number_cases(key, ann, metadata)
        elif ann is bool:
            cases = [(f"{key}=1", 1, key), (f"{key}='yes'", "yes", key)]
        elif ann is str:
            cases = [(f"{key}=5", 5, key), (f"{key}=list", ["a"], key)]
        elif origin is list:
            (elem,) = typing.get_args(ann)
            cases = [(f"{key}=text", "a,b", key), (f"{key}[0]=null", [None], f"{key}[0]")]
            base = typing.get_args(elem)[0] if typing.get_origin(elem) is typing.Annotated else elem
            if base is int:
                cases.append((f"{key}[0]=true", [True], f"{key}[0]"))
                low, high = _bounds(list(getattr(elem, "__metadata__", ())))
                cases.append((f"{key}[0]>max", [10**6 if high is None else high + 1], f"{key}[0]"))
        elif typing.get_origin(ann) is typing.Literal:
            cases = [(f"{key}=unknown", "no-such-choice", key)]
        else:
            continue
        out += [(cid, _set(BASE, key, value), named) for cid, value, named in cases]
    return out


def test_every_number_has_both_bounds():
    """An unbounded number lets a typo such as 1e18 through; every numeric key and list element has both."""
    missing = []
    for key, ann, metadata in _leaves(Params):
        if ann in (int, float) and None in _bounds(metadata):
            missing.append(key)
        if typing.get_origin(ann) is list:
            (elem,) = typing.get_args(ann)
            base = typing.get_args(elem)[0] if typing.get_origin(elem) is typing.Annotated else elem
            if base in (int, float) and None in _bounds(list(getattr(elem, "__metadata__", ()))):
                missing.append(f"{key}[]")
    assert not missing, f"numbers without a lower and an upper bound: {missing}"


HAND = [
    ("sd-infinite", "model.score_individual_sd", math.inf, "model.score_individual_sd"),
    ("decimals-quoted", "report.decimals", "3", "report.decimals"),
    ("chunks-float", "multiverse.chunks", 8.0, "multiverse.chunks"),
    ("mv-min-obs-huge", "multiverse.min_obs", 10**18, "multiverse.min_obs"),
    ("model-min-obs-1e30", "model.min_obs", 1e30, "model.min_obs"),
    ("lag-bool", "model.lag", True, "model.lag"),
    ("lag-not-in-lags", "model.lag", 3, "model.lag"),
    ("lags-negative", "model.lags", [-1, 0], "model.lags[0]"),
    ("lags-repeat", "model.lags", [0, 1, 1], "model.lags[2]"),
    ("placebo-zero", "model.placebo_leads", [0], "model.placebo_leads[0]"),
    ("families-repeat", "model.families", ["twoway_fe", "twoway_fe"], "model.families[1]"),
    ("families-empty", "model.families", [], "model.families"),
    ("covariate-is-exposure", "model.covariates", ["staff.stress"], "model.covariates[0]"),
    ("other-exposure-is-dependent", "model.other_exposures", ["patient.ip_overall"], "model.other_exposures[0]"),
    ("exposure-is-dependent", "model.exposure", "patient.ip_overall", "model.exposure"),
    ("alpha-text", "model.alpha", "0.05", "model.alpha"),
    ("reverse-yes-text", "model.reverse", "yes", "model.reverse"),
    ("weights-unknown", "model.weights", "staff.nothing__n", "model.weights"),
    ("reference-future", "link.reference_date", "2999-01-01", "link.reference_date"),
    ("reference-zero", "link.reference_date", 0, "link.reference_date"),
    ("reference-text", "link.reference_date", "April 2024", "link.reference_date"),
    ("reference-ancient", "link.reference_date", "1970-01-01", "link.reference_date"),
    ("trust-types-empty", "link.trust_types", [], "link.trust_types"),
    ("trust-types-repeat", "link.trust_types", ["acute", "acute"], "link.trust_types[1]"),
    ("series-start-ancient", "link.series_start", {"patient.*": 1800}, "link.series_start.patient.*"),
    ("survey-date-bad", "link.survey_dates", {"staff": "13-01", "patient": "11-01"}, "link.survey_dates.staff"),
    ("staff-lag-float", "link.staff_lag", 1.0, "link.staff_lag"),
    ("mv-weights-repeat", "multiverse.weights", ["none", "none"], "multiverse.weights[1]"),
    ("mv-families-empty", "multiverse.families", [], "multiverse.families"),
    ("mv-samples-empty", "multiverse.samples", [], "multiverse.samples"),
    ("mv-staff-empty", "multiverse.staff_measures", [], "multiverse.staff_measures"),
    ("mv-lags-far", "multiverse.lags", [0, 9], "multiverse.lags[1]"),
    ("mv-boot-weights-empty", "multiverse.bootstrap_weights", [], "multiverse.bootstrap_weights"),
    ("scheduler-no-scheme", "multiverse.scheduler", "10.0.0.5:8786", "multiverse.scheduler"),
    ("scheduler-no-port", "multiverse.scheduler", "tcp://10.0.0.5", "multiverse.scheduler"),
    ("scheduler-http", "multiverse.scheduler", "http://10.0.0.5:8787/status", "multiverse.scheduler"),
    ("scheduler-bad-port", "multiverse.scheduler", "tcp://host:99999", "multiverse.scheduler"),
    ("mirror-not-url", "data.mirror_url", "not-a-url", "data.mirror_url"),
    ("mirror-ftp", "data.mirror_url", "ftp://files.example.org", "data.mirror_url"),
    ("local-dir-null", "data.local_dir", None, "data.local_dir"),
    ("local-dir-list", "data.local_dir", ["a", "b"], "data.local_dir"),
    ("local-dir-empty", "data.local_dir", "", "data.local_dir"),
    ("download-timeout-zero", "data.download_timeout", 0, "data.download_timeout"),
    ("download-stall-negative", "data.download_stall", -1, "data.download_stall"),
    ("demo-mergers", "data.demo", {"n_acute": 12, "n_mergers": 4}, "data.demo.n_mergers"),
    ("demo-years-far", "data.demo.staff_years", [2019, 2040], "data.demo.staff_years[1]"),
    ("staff-years-ancient", "staff.years", [1900], "staff.years[0]"),
    ("staff-years-repeat", "staff.years", [2021, 2021], "staff.years[1]"),
    ("staff-measures-empty", "staff.measures", [], "staff.measures"),
    ("staff-measures-repeat", "staff.measures", ["staff.stress", "staff.stress"], "staff.measures[1]"),
    ("patient-measure-unknown", "patient.measures", ["patient.nothing"], "patient.measures"),
    ("report-interval-text", "report.interval_level", "0.95", "report.interval_level"),
    ("report-min-base-huge", "report.min_base_staff", 10**9, "report.min_base_staff"),
    ("section-not-mapping", "model", [1, 2], "model"),
    ("unknown-key", "model.lagz", 1, "model.lagz"),
]

TEXT = [
    ("empty-file", "", "is empty"),
    ("comments-only", "# nothing here\n", "is empty"),
    ("duplicate-key", "model:\n  lag: 0\n  lag: 1\n", "'lag' is given twice (line 2 and line 3)"),
    ("duplicate-section", "model:\n  lag: 0\nreport:\n  decimals: 3\nmodel:\n  lag: 1\n", "'model' is given twice"),
    ("top-level-list", "- model\n- report\n", "top level must be a mapping"),
    ("not-yaml", "model: [0, 1\n", "not valid YAML"),
    ("tab-indent", "model:\n\tlag: 1\n", "not valid YAML"),
]

CASES = [(f"hand:{cid}", _set(BASE, key, value), named) for cid, key, value, named in HAND]
SCHEMA_CASES = schema_cases()


def _refused(tmp_path: Path, text: str, capsys) -> str:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    code = main(["validate-params", "--params", str(path)])
    err = capsys.readouterr().err
    assert code == 2, f"accepted:\n{text}"
    assert "Traceback" not in err
    return err


def test_the_corpus_is_large():
    assert len(CASES) + len(TEXT) >= 60 and len(SCHEMA_CASES) >= 200


@pytest.mark.parametrize(("raw", "key"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_params_file_is_refused_naming_its_key(tmp_path, capsys, raw, key):
    err = _refused(tmp_path, yaml.safe_dump(raw, sort_keys=False), capsys)
    assert re.search(rf"^  - {re.escape(key)}: ", err, re.M), f"{key} not named in:\n{err}"


@pytest.mark.parametrize(("raw", "key"), [c[1:] for c in SCHEMA_CASES], ids=[c[0] for c in SCHEMA_CASES])
def test_schema_refuses_each_wrong_type_and_bound_naming_its_key(raw, key):
    """The schema-derived cases, validated as the CLI does but without re-parsing YAML for each."""
    from linkage.errors import ParamsError
    from linkage.params import validate_params

    with pytest.raises(ParamsError) as err:
        validate_params(yaml.safe_load(yaml.safe_dump(raw, sort_keys=False)))
    assert re.search(rf"^  - {re.escape(key)}: ", str(err.value), re.M), f"{key} not named in:\n{err.value}"


@pytest.mark.parametrize(("text", "fragment"), [c[1:] for c in TEXT], ids=[c[0] for c in TEXT])
def test_invalid_params_text_is_refused(tmp_path, capsys, text, fragment):
    err = _refused(tmp_path, text, capsys)
    assert fragment in err and str(tmp_path / "params.yaml") in err


def test_yes_is_text_as_dvc_reads_it(tmp_path, capsys):
    """YAML 1.2 (DVC's reading): ``reverse: yes`` is the text 'yes', refused as not a boolean."""
    err = _refused(tmp_path, "model:\n  reverse: yes\n", capsys)
    assert "model.reverse" in err


def test_the_committed_file_and_injected_values_still_validate():
    from linkage.params import load_params

    params = load_params(ROOT / "params.yaml", overrides={"link": {"reference_date": "2024-04-01"}})
    assert params.link.reference_date.isoformat() == "2024-04-01"


# --------------------------------------------------------------------------- through dvc repro
DVC_SAMPLE = ["hand:sd-infinite", "hand:lags-negative", "hand:lag-not-in-lags", "hand:mv-weights-repeat",
              "hand:scheduler-no-port", "hand:reference-zero"]


def _tree_hashes(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and not rel.startswith((".git/", ".dvc/tmp/", ".dvc/cache/", "params.yaml")):
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory):
    """The project's tracked files (as they are in the working tree) in a fresh git repository."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    dest = tmp_path_factory.mktemp("project")
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for rel in files:
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"]):
        subprocess.run(["git", *args], cwd=dest, check=True)
    return dest


@pytest.mark.slow
@pytest.mark.parametrize("case", DVC_SAMPLE)
def test_dvc_repro_refuses_at_the_params_stage_changing_nothing(project_copy, case):
    raw, key = next((r, k) for cid, r, k in CASES if cid == case)
    before = _tree_hashes(project_copy)
    (project_copy / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(["dvc", "repro"], cwd=project_copy, capture_output=True, text=True, env=env, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert f"{key}:" in out, out
    assert "Traceback" not in out
    assert _tree_hashes(project_copy) == before
