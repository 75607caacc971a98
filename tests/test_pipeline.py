"""The main job end to end (stage functions, no papermill) on the demo and the real files."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from linkage.errors import LinkageError

RESULT_COLUMNS = ["model", "dependent", "term", "estimate", "std_error", "ci_low", "ci_high", "p_value",
                  "n_obs", "n_entities", "cov_type"]
HEADLINE_KEYS = ["estimate", "ci_low", "ci_high", "p_value", "n_trusts", "n_obs"]


@pytest.mark.slow
def test_demo_headline_recovers_planted_effect(demo_pipeline):
    folder = demo_pipeline["folder"]
    head = json.loads((folder / "metrics" / "headline.json").read_text())
    truth = json.loads((folder / "data" / "raw" / "demo_truth.json").read_text())["truth"]["true_effect"]
    assert all(k in head for k in HEADLINE_KEYS)
    assert head["family"] == "twoway_fe" and head["synthetic_demo"] is True
    assert head["ci_low"] < truth < head["ci_high"], head
    assert head["covers_true_effect"] is True and head["true_effect"] == truth
    # the cross-sectional (between) slope is confounded by design and lies outside the within CI
    res = pd.read_csv(folder / "data" / "processed" / "model_results.csv")
    between = res[(res["model"] == "between") & (res["term"] == "staff.stress")]["estimate"].iloc[0]
    assert between < head["ci_low"]


@pytest.mark.slow
def test_demo_outputs_follow_the_interfaces(demo_pipeline):
    folder = demo_pipeline["folder"]
    panel = pd.read_parquet(folder / "data" / "processed" / "panel.parquet")
    assert {"org_code", "year", "staff.stress", "patient.ip_overall"} <= set(panel.columns)
    assert not panel.duplicated(["org_code", "year"]).any()
    audit = pd.read_csv(folder / "data" / "processed" / "linkage_audit.csv")
    assert {"source_file", "org_code", "year", "fate", "reason", "mapped_to"} <= set(audit.columns)
    # every ingested row (plus rolled-up sub-rows) has exactly one fate
    n_in = sum(len(demo_pipeline[k].tidy) + len(demo_pipeline[k].rollups) for k in ("staff", "patient"))
    assert len(audit) == n_in
    assert set(audit["fate"]) <= {"matched", "merged", "excluded"}
    assert audit.loc[audit["fate"] == "excluded", "reason"].notna().all()
    # the planted mergers are merged into their successors, the planted unknown code is listed
    truth = json.loads((folder / "data" / "raw" / "demo_truth.json").read_text())["truth"]
    for m in truth["mergers"]:
        rows = audit[audit["org_code"] == m["org_code"]]
        assert (rows["fate"] == "merged").any() and set(rows.loc[rows["fate"] == "merged", "mapped_to"]) == {m["successor"]}
    assert audit["reason"].astype(str).str.startswith("unknown").any()
    results = pd.read_csv(folder / "data" / "processed" / "model_results.csv")
    assert set(RESULT_COLUMNS) <= set(results.columns)
    assert results["estimate"].notna().all() and results["std_error"].gt(0).all()


@pytest.mark.real
@pytest.mark.slow
def test_real_pipeline_counts_and_headline(real_pipeline):
    folder = real_pipeline["folder"]
    link = json.loads((folder / "metrics" / "linkage.json").read_text())
    assert link["rows"]["reconciled"] is True
    both = link["headline"]["both_same_year"]
    assert 127 <= both["2021"] <= 133 and 127 <= both["2022"] <= 133
    assert 255 <= link["headline"]["both_same_year_total"] <= 266
    assert 125 <= link["headline"]["lag1_staff_to_patient"]["2020"] <= 131
    # acute and specialist trusts whose published inpatient rows reached the panel, per year
    inpatient = link["n_input_codes_by_source_year"]["patient"]
    assert [inpatient[y] for y in ("2020", "2021", "2022")] == [130, 132, 133]
    # after mapping to successors at the reference date (2024-04-01) two 2023 mergers collapse
    # RA4 into RH5 and RVY into RBN
    mapped = link["n_trusts_by_source_year"]["patient"]
    assert [mapped[y] for y in ("2020", "2021", "2022")] == [128, 130, 131]
    assert {"RA4": "RH5", "RVY": "RBN"}.items() <= link["merged_codes"].items()
    head = json.loads((folder / "metrics" / "headline.json").read_text())
    assert head["synthetic_demo"] is False and head["years"] == [2021, 2022]
    assert 125 <= head["n_trusts"] <= 133 and head["ci_low"] < head["estimate"] < head["ci_high"]


def test_acquire_local_missing_folder_is_clear(tmp_path):
    from conftest import run_pipeline_in

    with pytest.raises(LinkageError, match="data.local_dir .* is not a folder"):
        run_pipeline_in(tmp_path, {"source": "local", "local_dir": str(tmp_path / "nowhere")})
