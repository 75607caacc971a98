"""Behaviour of linkage.models: params validation, degenerate panels, outputs, wording."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from conftest_models import make_panel

from linkage.errors import LinkageDataError, ParamsError
from linkage.models import RESULT_COLUMNS, ModelParams, fit_models, plain_language
from linkage.models._data import Spec, build_frame
from linkage.params import validate_params

Y, X = "patient.ip_overall", "staff.stress"
FAST = {"families": ["twoway_fe"], "reverse": False, "placebo_leads": [], "lags": [0]}


@pytest.fixture(scope="module")
def panel():
    return make_panel(seed=11, n_trusts=60)


@pytest.fixture(scope="module")
def run(panel):
    return fit_models(panel, ModelParams(covariates=["staff.engagement"], lagged_dependent=True))


# ----------------------------------------------------------------------------- params
@pytest.mark.parametrize(
    "key, value, allowed",
    [
        ("families", ["twoway_fe", "fixed"], "'pooled'"),
        ("headline_family", "ols", "'twoway_fe'"),
        ("cov_type", "cluster", "'clustered_entity'"),
        ("small_sample", "stata", "'cr1'"),
    ],
)
def test_bad_literal_names_key_value_and_allowed(key, value, allowed):
    with pytest.raises(ParamsError) as err:
        validate_params({"model": {key: value}})
    msg = str(err.value)
    assert f"model.{key}" in msg
    bad = value[-1] if isinstance(value, list) else value
    assert repr(bad) in msg
    assert allowed in msg and "allowed values" in msg


def test_weights_must_name_respondents_or_a_measure_column():
    with pytest.raises(ParamsError, match=r"model.weights: not allowed \(given: 'n'\); allowed values are null, 'respondents'"):
        validate_params({"model": {"weights": "n"}})
    assert validate_params({"model": {"weights": "patient.ip_overall__n"}}).model.weights == "patient.ip_overall__n"


def test_unknown_key_and_inconsistent_params_are_rejected():
    with pytest.raises(ParamsError, match="model.cluster"):
        validate_params({"model": {"cluster": "entity"}})
    with pytest.raises(ParamsError, match="headline_family 'between' is not in families"):
        validate_params({"model": {"families": ["twoway_fe"], "headline_family": "between"}})
    with pytest.raises(ParamsError, match="same measure"):
        validate_params({"model": {"exposure": Y}})


def test_every_model_field_is_described():
    for name, field in ModelParams.model_fields.items():
        assert field.description and field.description.strip(), name


# ----------------------------------------------------------------------------- outputs
def test_results_table_contract(run):
    res = run.results
    assert list(res.columns) == RESULT_COLUMNS
    assert not res[["estimate", "std_error", "ci_low", "ci_high", "p_value", "mde", "n_obs"]].isna().any().any()
    assert set(res["direction"]) == {"forward", "reverse", "placebo"}
    # cr1 is the label of clustered covariances; between falls back to robust, scaled n/(n-K)
    clustered = res["cov_type"].str.startswith("clustered")
    assert set(res.loc[clustered, "small_sample"]) == {"cr1"}
    assert set(res.loc[~clustered, "small_sample"]) == {"n/(n-K)"} and set(res.loc[~clustered, "model"]) == {"between"}
    assert res["headline"].sum() == 1
    assert (res["ci_low"] < res["estimate"]).all() and (res["estimate"] < res["ci_high"]).all()
    # lag 1 and placebo lead lose a year of observations
    lag1 = res[res["spec_name"] == "forward_lag1"].iloc[0]
    head = res[res["headline"]].iloc[0]
    assert lag1["term"] == "L1.staff.stress" and lag1["n_obs"] == head["n_obs"] - 60
    assert res[res["direction"] == "placebo"].iloc[0]["term"] == "F1.staff.stress"
    assert "L1.patient.ip_overall" in set(res[res["spec_name"].str.startswith("lagged")]["term"])


def test_headline_json_serialisable_and_consistent(run):
    h = run.headline
    json.dumps(h)
    for k in ("estimate", "ci_low", "ci_high", "p_value", "n_trusts", "n_obs", "n_years", "years", "family",
              "dependent", "exposure", "lag", "cov_type", "small_sample", "within_share",
              "estimate_per_within_sd", "mde"):
        assert k in h
    assert h["n_trusts"] == 60 and h["n_years"] == 5 and h["n_obs"] == 300
    assert h["ci_low"] < -0.03 < h["ci_high"]  # planted effect
    assert 0 < h["within_share"] < 1
    assert h["estimate_per_within_sd"] == pytest.approx(h["estimate"] * h["within_sd"])
    from scipy import stats

    q = stats.t.ppf(0.975, 59) + stats.t.ppf(0.8, 59)
    assert h["mde"] == pytest.approx(q * h["std_error"])


def test_comparison_has_all_families_and_mundlak_components(run):
    c = run.comparison
    assert set(c["model"]) == set(ModelParams().families)
    assert set(c[c["model"] == "mundlak"]["effect"]) == {"within", "between", "contextual"}


def test_family_table_has_one_entry_per_family():
    from linkage.models._fit import FAMILY_MODELS
    from linkage.vocab import FAMILIES

    assert list(FAMILY_MODELS) == list(FAMILIES)
    assert all(m.family == f for f, m in FAMILY_MODELS.items())


def test_within_share_and_sd_by_hand(panel, run):
    x = panel[X]
    dev = x - x.groupby(panel["org_code"]).transform("mean")
    share = (dev**2).sum() / ((x - x.mean()) ** 2).sum()
    sd = np.sqrt((dev**2).sum() / (len(x) - 60))
    assert run.headline["within_share"] == pytest.approx(share, rel=1e-10)
    assert run.headline["within_sd"] == pytest.approx(sd, rel=1e-10)


def test_hausman_and_mundlak_tests(run):
    hz = run.hausman
    assert hz["statistic"] > 0 and hz["df"] >= 1 and 0 <= hz["p_value"] <= 1
    assert "efficient" in hz["note"]
    assert 0 <= hz["mundlak_p_value"] <= 1
    # trust effects are correlated with stress in the simulation: both reject
    assert hz["p_value"] < 0.05 and hz["mundlak_p_value"] < 0.05


def test_hausman_non_positive_definite_difference_is_handled():
    from linkage.models._diagnostics import hausman

    b1 = pd.Series([1.0, 2.0], index=["a", "b"])
    b2 = pd.Series([0.5, 2.5], index=["a", "b"])
    v1 = pd.DataFrame([[1.0, 0], [0, 1.0]], index=["a", "b"], columns=["a", "b"])
    v2 = pd.DataFrame([[0.5, 0], [0, 2.0]], index=["a", "b"], columns=["a", "b"])
    out = hausman(b1, v1, b2, v2, ["a", "b"])
    assert out["df"] == 1 and out["statistic"] == pytest.approx(0.25 / 0.5)
    assert "not positive definite" in out["note"]
    out = hausman(b1, v2, b2, v1, ["a"])  # V_FE - V_RE < 0
    assert out["statistic"] is None and "not defined" in out["note"]


def test_reliability_formula(panel, run):
    rel = run.reliability.set_index("measure")
    assert rel.loc[X, "unit"] == "percent" and rel.loc[Y, "unit"] == "score"
    # by hand for staff.stress: per year var across trusts vs mean 100^2 p(1-p)/n
    p = panel[X] / 100
    sv = 1e4 * p * (1 - p) / panel[f"{X}__n"]
    by = pd.DataFrame({"y": panel["year"], "v": panel[X], "sv": sv}).groupby("y")
    r = ((by["v"].var() - by["sv"].mean()) / by["v"].var()).mean()
    assert rel.loc[X, "reliability"] == pytest.approx(r, rel=1e-10)
    assert rel.loc[X, "mean_n"] == pytest.approx(panel[f"{X}__n"].mean())
    assert 0 <= rel.loc[X, "within_reliability"] <= 1


def test_warnings_mention_nickell_and_notes(run):
    text = "\n".join(run.warnings)
    assert "Nickell" in text
    assert "between: one observation per trust" in text


def test_plain_language_states_n_years_ci_and_is_not_causal(run):
    text = plain_language(run)
    h = run.headline
    assert f"{h['n_trusts']} trusts" in text and f"{h['n_years']} years" in text and "95% CI" in text
    banned = r"\b(cause[sd]?|causal(ly)?|impact|leads? to|drives?|driven|because|effect of|improves?|reduces?|results? in)\b"
    bad = re.findall(banned, text.replace("not evidence that one measure changes the other", ""), flags=re.I)
    assert not bad, bad
    assert "cr1" in text


def test_convention_line_names_the_convention(panel):
    for conv in ("cr1", "linearmodels", "none"):
        r = fit_models(panel, ModelParams(small_sample=conv, **FAST))
        assert conv in r.convention and set(r.results["small_sample"]) == {conv}
    # cr1 clustered SEs exceed 'none' by exactly sqrt(G/(G-1)(n-1)/(n-K))
    a = fit_models(panel, ModelParams(small_sample="cr1", **FAST)).headline
    b = fit_models(panel, ModelParams(small_sample="none", **FAST)).headline
    n, G, K = 300, 60, 2 + 4
    assert a["std_error"] / b["std_error"] == pytest.approx(np.sqrt(G / (G - 1) * (n - 1) / (n - K)), rel=1e-12)


def test_every_cov_type_and_weights_run(panel):
    for cov in ("clustered_entity", "clustered_twoway", "driscoll_kraay", "robust", "unadjusted"):
        r = fit_models(panel, ModelParams(cov_type=cov, weights="respondents"))
        assert not r.results["std_error"].isna().any()
        assert r.headline["cov_type"] == cov and r.headline["weights"] == "respondents"


# ----------------------------------------------------------------------------- lags
def test_lags_are_by_calendar_year_across_gaps():
    panel = make_panel(seed=1, n_trusts=5, years=(2018, 2019, 2021))
    frame = build_frame(panel, Spec("l1", "forward", 1, Y, X))
    # only 2019 has a t-1 value (2018); 2021's t-1 (2020) is absent
    assert sorted(frame.data.index.get_level_values(1).unique()) == [2019]
    assert frame.dropped["L1.staff.stress"] == 10
    row = panel[(panel["org_code"] == "R000") & (panel["year"] == 2018)][X].item()
    assert frame.data.loc[("R000", 2019), "L1.staff.stress"] == row


def test_dropped_rows_are_counted(panel):
    p = panel.copy()
    p.loc[p.index[:7], Y] = np.nan
    r = fit_models(p, ModelParams(**FAST))
    assert r.headline["n_obs"] == 293 and r.headline["n_dropped"] == 7
    assert "patient.ip_overall missing: 7" in r.results["dropped_detail"].iloc[0]
    assert any("7 of 300 trust-years dropped" in w for w in r.warnings)


# ----------------------------------------------------------------------------- degenerate panels
def test_one_year_panel_raises(panel):
    with pytest.raises(LinkageDataError, match="single year"):
        fit_models(panel[panel["year"] == 2019], ModelParams(**FAST))


def test_one_trust_panel_raises(panel):
    with pytest.raises(LinkageDataError, match="1 trust"):
        fit_models(panel[panel["org_code"] == "R000"], ModelParams(**FAST))


def test_no_within_variation_raises(panel):
    p = panel.copy()
    p[X] = p.groupby("org_code")[X].transform("mean")
    with pytest.raises(LinkageDataError, match="no within-trust variation in 'staff.stress'"):
        fit_models(p, ModelParams(**FAST))


def test_collinear_covariate_raises(panel):
    p = panel.copy()
    p["staff.burnout"] = 2 * p[X] + 1
    with pytest.raises(LinkageDataError, match=r"collinear regressors.*staff.burnout"):
        fit_models(p, ModelParams(covariates=["staff.burnout"], **FAST))


def test_covariate_constant_within_trusts_raises(panel):
    p = panel.copy()
    p["staff.size"] = p.groupby("org_code")[X].transform("mean")
    with pytest.raises(LinkageDataError, match=r"staff.size.*no variation left"):
        fit_models(p, ModelParams(covariates=["staff.size"], **FAST))


def test_all_missing_measure_raises(panel):
    p = panel.copy()
    p[X] = np.nan
    with pytest.raises(LinkageDataError, match="'staff.stress' is missing \\(NaN\\) in every row"):
        fit_models(p, ModelParams(**FAST))


def test_missing_column_lists_available_measures(panel):
    with pytest.raises(LinkageDataError) as err:
        fit_models(panel, ModelParams(exposure="staff.burnout", **FAST))
    msg = str(err.value)
    assert "'staff.burnout' is not a column" in msg and "staff.stress" in msg and "patient.ip_overall" in msg
    assert "__n" not in msg


def test_too_few_observations_after_lags_raises(panel):
    two_years = panel[panel["year"].isin([2018, 2019])]
    with pytest.raises(LinkageDataError, match="after lags"):
        fit_models(two_years, ModelParams(lag=1, **{**FAST, "lags": [1]}))


def test_secondary_model_failure_is_skipped_with_a_warning(panel):
    two_years = panel[panel["year"].isin([2018, 2019])]
    r = fit_models(two_years, ModelParams(lags=[0, 1], placebo_leads=[1], families=["twoway_fe"]))
    assert r.skipped and any("t-1" in s for s in r.skipped)
    assert any(w.startswith("Skipped:") for w in r.warnings)
    assert not r.results.isna().any().any()


def test_duplicate_trust_years_raise(panel):
    with pytest.raises(LinkageDataError, match="duplicate"):
        fit_models(pd.concat([panel, panel.iloc[:1]]), ModelParams(**FAST))


def test_weighted_spec_without_its_base_column_is_skipped(panel):
    """A reverse model weighted by the staff base n is skipped, naming the column, when the panel lacks it."""
    # reverse models exist at lags >= 1 only (the same-year one would repeat the forward partial correlation)
    run = fit_models(panel.drop(columns=[f"{X}__n"]), ModelParams(families=["twoway_fe"], weights="respondents",
                                                                  placebo_leads=[], lags=[0, 1]))
    assert any(f"needs '{X}__n'" in s for s in run.skipped)
    assert not (run.results["direction"] == "reverse").any()
