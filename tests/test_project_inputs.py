"""The params stage fingerprints the project's own inputs, so DVC re-runs exactly what they feed."""

from __future__ import annotations

import contextlib
import json

import yaml

from linkage.params import validate_params
from linkage.paths import LOCAL_DIR_STATE, STAGES, USER_MAPPINGS_STATE, USER_MEASURES_STATE


def _state(tmp_path, data: dict) -> tuple[dict, dict, dict]:
    from linkage.stages import params as stage

    with contextlib.chdir(tmp_path):
        stage.run(validate_params({"data": data}))
        return tuple(json.loads((tmp_path / p).read_text())
                     for p in (LOCAL_DIR_STATE, USER_MAPPINGS_STATE, USER_MEASURES_STATE))


def test_local_dir_edits_change_the_fingerprint_and_nothing_else_does(tmp_path):
    local = tmp_path / "mydata"
    local.mkdir()
    (local / "a.csv").write_text("x\n1\n")
    data = {"source": "local", "local_dir": str(local)}
    first = _state(tmp_path, data)[0]
    assert _state(tmp_path, data)[0] == first  # unchanged folder: same bytes, so acquire stays a no-op
    (local / "a.csv").write_text("x\n2\n")
    edited = _state(tmp_path, data)[0]
    assert edited != first
    (local / "b.csv").write_text("y\n")
    added = _state(tmp_path, data)[0]
    assert set(added["files"]) == {"a.csv", "b.csv"}
    (local / "b.csv").unlink()
    assert _state(tmp_path, data)[0] == edited
    assert _state(tmp_path, {"source": "demo", "local_dir": str(local)})[0]["files"] == {}


def test_user_mappings_and_measures_are_fingerprinted(tmp_path):
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "m.yaml").write_text("id: m\n")
    (tmp_path / "measures.yaml").write_text("measures: {}\n")
    _, maps, meas = _state(tmp_path, {"mappings_dir": str(tmp_path / "maps"),
                                      "measures_file": str(tmp_path / "measures.yaml")})
    assert list(maps["files"]) == ["m.yaml"] and list(meas["files"]) == ["measures.yaml"]


def test_dvc_stages_depend_on_the_fingerprints():
    from pathlib import Path

    dvc = yaml.safe_load((Path(__file__).resolve().parents[1] / "dvc.yaml").read_text())["stages"]
    assert dvc["params"]["always_changed"] is True
    assert str(LOCAL_DIR_STATE) in dvc["acquire"]["deps"]
    for name in ("ingest_staff", "ingest_patient"):
        assert {str(USER_MAPPINGS_STATE), str(USER_MEASURES_STATE)} <= set(dvc[name]["deps"])
    for name in ("link", "model", "report"):
        assert str(USER_MEASURES_STATE) in dvc[name]["deps"]
    assert STAGES["params"].always_changed


def test_user_measure_in_params_cross_check(tmp_path):
    (tmp_path / "measures.yaml").write_text(
        "measures:\n  outcome.shmi: {role: outcome, scale: ratio, label: SHMI, higher_is_better: false}\n")
    p = validate_params({"data": {"measures_file": str(tmp_path / "measures.yaml")},
                         "patient": {"measures": ["outcome.shmi"]},
                         "link": {"headline_patient": "outcome.shmi"},
                         "model": {"dependent": "outcome.shmi", "other_exposures": []}})
    assert p.model.dependent == "outcome.shmi"
