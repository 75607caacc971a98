"""The project's own inputs (data.local_dir, data.mappings_dir, data.measures_file) are DVC dependencies."""

from __future__ import annotations

import contextlib

import pytest
import yaml
from conftest import REPO

from linkage.params import validate_params
from linkage.paths import LOCAL_DIR, USER_MAPPINGS, USER_MEASURES


def test_dvc_stages_depend_on_the_project_inputs():
    dvc = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert str(LOCAL_DIR) == "${data.local_dir}" and str(LOCAL_DIR) in dvc["acquire"]["deps"]
    for name in ("ingest_staff", "ingest_patient"):
        assert {str(USER_MAPPINGS), str(USER_MEASURES)} <= set(dvc[name]["deps"])
    for name in ("link", "model", "report", "multiverse"):
        assert str(USER_MEASURES) in dvc[name]["deps"]


def test_the_default_project_inputs_exist():
    """DVC needs every dependency to exist: the defaults are committed (a README, an empty measures list)."""
    params = validate_params({})
    for key in ("local_dir", "mappings_dir", "measures_file"):
        assert (REPO / getattr(params.data, key)).exists(), key


def test_defaults_absent_outside_the_project_mean_packaged_only(tmp_path):
    with contextlib.chdir(tmp_path):
        p = validate_params({})
        assert p.data.project_measures() is None and p.data.project_mappings() is None


def test_an_explicit_missing_measures_file_is_an_error(tmp_path):
    from linkage.errors import ParamsError

    with pytest.raises(ParamsError, match=r"data.measures_file: .*nowhere.yaml does not exist"):
        validate_params({"data": {"measures_file": str(tmp_path / "nowhere.yaml")}})


def test_user_measure_in_params_cross_check(tmp_path):
    (tmp_path / "measures.yaml").write_text(
        "measures:\n  outcome.shmi: {role: outcome, scale: ratio, label: SHMI, higher_is_better: false}\n")
    p = validate_params({"data": {"measures_file": str(tmp_path / "measures.yaml")},
                         "patient": {"measures": ["outcome.shmi"]},
                         "link": {"headline_patient": "outcome.shmi"},
                         "model": {"dependent": "outcome.shmi", "other_exposures": []}})
    assert p.model.dependent == "outcome.shmi"
