"""The pre-specified inferential curve: roles, duplicates, within-trust units, its metrics and its words."""

from __future__ import annotations

import numpy as np
import pytest
from conftest_multiverse import mv_panel, mv_params

from linkage.errors import ParamsError
from linkage.multiverse import describe_curve, enumerate_all, run_multiverse
from linkage.params import validate_params
from linkage.stages.multiverse import summary_metrics

HIB = {"staff.stress": False, "staff.engagement": True, "patient.ip_overall": True}


def test_roles_follow_params_and_reverse_models_are_separate():
    panel = mv_panel(seed=4)
    params = mv_params(samples=["all"], lags=[0, 1, -1])
    specs = enumerate_all(panel, params)
    fwd = specs[specs["direction"] == "forward"]
    inferential = fwd["family"].isin(params.inferential_families) & fwd["lag"].isin(params.inferential_lags)
    assert (fwd.loc[inferential, "role"] == "inferential").all()
    assert (fwd.loc[fwd["family"].isin(params.inferential_families) & (fwd["lag"] < 0), "role"] == "placebo").all()
    assert (fwd.loc[~fwd["family"].isin(params.inferential_families), "role"] == "exploratory").all()
    rev = specs[specs["direction"] == "reverse"]
    assert set(rev["lag"]) == {1} and set(rev["dependent"]) == set(params.staff_measures)
    assert set(rev["family"]) == set(params.inferential_families) and (rev["role"] == "reverse").all()
    assert specs["spec_id"].tolist() == list(range(len(specs)))
    run = run_multiverse(panel, params, higher_is_better=HIB)
    assert (run.table["direction"] == "forward").all() and len(run.reverse) == len(rev)
    assert run.all_specs()["spec_id"].tolist() == list(range(len(specs)))


def test_two_years_two_way_fe_equals_first_differences_and_is_counted_once():
    panel = mv_panel(seed=5, n_trusts=30, drop_share=0.0)
    panel = panel[panel["year"].isin([2020, 2021])]
    params = mv_params(families=["twoway_fe", "first_difference"], samples=["all", "no_specialist"], lags=[0],
                       weights=["none"], inferential_families=["twoway_fe", "first_difference"],
                       falsification_reverse=False, bootstrap_specs=0)
    run = run_multiverse(panel, params, higher_is_better=HIB)
    t = run.table[run.table["status"] == "ok"]
    fd = t[t["family"] == "first_difference"].set_index(["exposure", "sample"])
    fe = t[t["family"] == "twoway_fe"].set_index(["exposure", "sample"])
    np.testing.assert_allclose(fd["estimate"], fe.loc[fd.index, "estimate"], rtol=1e-10)
    assert (fd["duplicate_of"].to_numpy() == fe.loc[fd.index, "spec_id"].to_numpy()).all()
    assert fe["duplicate_of"].isna().all()
    inf = run.curves["inferential"]
    assert inf["n_fitted"] == len(t) and inf["n_distinct"] == len(fe) and inf["n_duplicates"] == len(fd)
    assert t.loc[t["duplicate_of"].notna(), "p_bh_role"].isna().all()


def test_distinct_specs_differ_and_duplicates_are_not_merged_across_pairs():
    panel = mv_panel(seed=6)
    run = run_multiverse(panel, mv_params(bootstrap_specs=0), higher_is_better=HIB)
    t = run.table[run.table["status"] == "ok"]
    dup = t[t["duplicate_of"].notna()]
    first = t.set_index("spec_id").loc[dup["duplicate_of"].astype(int)]
    for col in ("dependent", "exposure", "lag", "weights", "cov_type", "role"):
        assert (first[col].to_numpy() == dup[col].to_numpy()).all()
    np.testing.assert_allclose(first["estimate"].to_numpy(), dup["estimate"].to_numpy(), rtol=1e-8, atol=1e-12)
    distinct = t[t["duplicate_of"].isna()]
    for _, grp in distinct.groupby(["role", "dependent", "exposure", "lag", "weights", "cov_type"]):
        est = np.sort(grp["estimate"].to_numpy())
        assert (np.diff(est) > 1e-9 * grp["std_error"].max()).all()


def test_within_trust_standardisation_matches_pandas():
    panel = mv_panel(seed=7)
    params = mv_params(families=["twoway_fe"], samples=["all"], weights=["none"], lags=[0], bootstrap_specs=0)
    run = run_multiverse(panel, params, higher_is_better=HIB)
    for _, spec in run.table[run.table["status"] == "ok"].iterrows():
        rows = panel.dropna(subset=[spec["dependent"], spec["exposure"]])
        sd = {}
        for col in (spec["dependent"], spec["exposure"]):
            dev = rows[col] - rows.groupby("org_code")[col].transform("mean")
            sd[col] = np.sqrt((dev**2).sum() / (len(rows) - rows["org_code"].nunique()))
        expected = spec["estimate_oriented"] * sd[spec["exposure"]] / sd[spec["dependent"]]
        assert spec["estimate_within_std"] == pytest.approx(expected, rel=1e-10)


def test_metrics_have_the_inferential_and_falsification_keys_on_one_base():
    panel = mv_panel(seed=8)
    params = mv_params(bootstrap_specs=0)
    run = run_multiverse(panel, params, higher_is_better=HIB)
    m = summary_metrics(run, params)
    need = {"designs", "n_specs", "n_distinct", "share_significant", "share_significant_bh", "joint_p"}
    assert need <= set(m["inferential"])
    assert need <= set(m["falsification"]["placebo"]) and need <= set(m["falsification"]["reverse"])
    assert m["inferential"]["designs"] == ["twoway_fe", "first_difference", "mundlak"]
    for c in (m["inferential"], m["falsification"]["placebo"], m["falsification"]["reverse"]):
        assert c["share_significant"] == pytest.approx(c["share_significant_positive"] + c["share_significant_negative"])
        assert c["n_significant"] == round(c["share_significant"] * c["n_distinct"])
    t = run.table
    distinct = t[(t["role"] == "inferential") & (t["status"] == "ok") & t["duplicate_of"].isna()]
    assert m["inferential"]["n_distinct"] == len(distinct)
    assert m["inferential"]["n_significant"] == int((distinct["p_value"] < params.alpha).sum())
    for key in ("n_specs", "n_fitted", "share_significant_bh"):  # read by CI
        assert key in m
    assert m["n_specs"] == len(t)


def test_curve_sentence_reports_the_inferential_curve_with_one_base():
    panel = mv_panel(seed=8)
    params = mv_params(bootstrap_specs=0)
    run = run_multiverse(panel, params, higher_is_better=HIB)
    m = summary_metrics(run, params)
    text = describe_curve(m)
    inf = m["inferential"]
    assert f"{inf['n_significant']:,} of {inf['n_distinct']:,}" in text
    assert "two-way fixed effects, first differences and Mundlak" in text
    assert "placebo leads" in text and "reverse models" in text
    assert "in either direction" in text and "not evidence that one causes the other" in text
    whole = m["joint_test"]
    assert f"{whole['n_significant']:,} are" not in text  # the whole curve's count is not read as evidence


def test_inferential_params_are_refused_by_dotted_key():
    with pytest.raises(ParamsError, match="multiverse.inferential_lags"):
        validate_params({"multiverse": {"inferential_lags": [-1]}})
    with pytest.raises(ParamsError, match="multiverse.inferential_families"):
        validate_params({"multiverse": {"inferential_families": ["between"]}})
    with pytest.raises(ParamsError, match="multiverse"):
        validate_params({"multiverse": {"inferential_families": []}})


def test_curve_words_name_the_outcome_not_patients_when_it_is_not_patient_experience():
    """A curve of a mortality ratio (a user's outcome) never speaks of patients or patient experience."""
    from types import SimpleNamespace

    from linkage.multiverse import curve_terms, describe_curve

    cat = SimpleNamespace(measures={
        "outcome.hsmr": SimpleNamespace(kind="outcome", label="mortality ratio"),
        "patient.ip_overall": SimpleNamespace(kind="patient", label="overall experience"),
    })
    counts = {"n_distinct": 5, "n_specs": 6, "n_duplicates": 1, "n_significant": 1, "share_significant": 0.2,
              "null_mean_significant": 0.25, "joint_p": 0.3, "draws": 999, "share_significant_positive": 0.1,
              "share_significant_negative": 0.1, "share_significant_bh": 0.0, "share_significant_romano_wolf": 0.0,
              "median_estimate_within_std": 0.01}
    s = {"n_fitted": 10, "n_specs": 12, "n_unsupported": 2, "alpha": 0.05,
         "inferential": {"designs": ["twoway_fe"], "lags": [0, 1], **counts},
         "falsification": {"placebo": counts, "reverse": counts}}
    text = describe_curve(s, curve_terms(cat, ["outcome.hsmr"]))
    assert "patient" not in text.lower()
    assert "better mortality ratio" in text and "before the outcome" in text
    default = describe_curve(s, curve_terms(cat, ["patient.ip_overall"]))
    assert "better patient experience" in default and "before patients" in default
