"""The project's own inputs (data.local_dir, data.mappings_dir, data.measures_file) are DVC dependencies.

They are tracked through the fingerprints the ``params`` stage writes (no ``${...}`` templating of
params into dvc.yaml); tests/test_user_paths.py checks the fingerprints change with the files.
"""

from __future__ import annotations

import contextlib

import pytest
import yaml
from conftest import REPO

from linkage.params import validate_params
from linkage.params.userpath import path_fields
from linkage.paths import user_inputs


def test_dvc_stages_depend_on_the_project_inputs():
    from linkage.params import Params

    dvc = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    readers = dict(path_fields(Params))
    assert readers["data.local_dir"].reads("acquire")
    for name in ("ingest_staff", "ingest_patient"):
        assert readers["data.mappings_dir"].reads(name) and readers["data.measures_file"].reads(name)
        assert str(user_inputs(name)) in dvc[name]["deps"]
    for name in ("acquire", "link", "model", "report", "multiverse"):
        assert str(user_inputs(name)) in dvc[name]["deps"]
    for name in ("link", "model", "report", "multiverse"):
        assert readers["data.measures_file"].reads(name)


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
