"""Measurement error in the exposure, equivalence (TOST) and what each timing design pairs.

References are independent of the code under test: linearmodels for the naive
slopes, statsmodels (OLS leverages, DescrStatsW.ttost_mean) for the moment
correction and the TOST p-values.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from conftest_models import make_panel
from linearmodels import FirstDifferenceOLS, PanelOLS
from statsmodels.stats.weightstats import DescrStatsW

from linkage.demo import simulate_panel
from linkage.errors import LinkageDataError
from linkage.models import fit_models
from linkage.models._data import Spec, build_frame
from linkage.models._eiv import corrected_slope
from linkage.models._equivalence import tost
from linkage.models._fit import fit_family
from linkage.models._run import _quantiles, exposure_variance
from linkage.params import ModelParams

SPEC = Spec("h", "forward", 0, "patient.ip_overall", "staff.stress")
FAST = {"families": ["twoway_fe"], "reverse": False, "placebo_leads": [], "lags": [0], "other_exposures": []}


def _variance(panel: pd.DataFrame, frame) -> np.ndarray:
    return exposure_variance(panel, SPEC, frame, ModelParams())[0]


@pytest.mark.parametrize("family", ["twoway_fe", "entity_fe", "first_difference"])
@pytest.mark.parametrize("weighted", [False, True])
def test_naive_slope_of_the_transformation_equals_linearmodels(family, weighted):
    panel = make_panel(seed=3, n_trusts=40, drop_share=0.15)
    frame = build_frame(panel, SPEC, "patient.ip_overall__n" if weighted else None)
    got = corrected_slope(family, frame, np.zeros(len(frame.data)), time_effects=True, small_sample="cr1")
    d = frame.data
    w = {"weights": d["w"]} if weighted else {}
    if family == "first_difference":
        exog = pd.concat([d[["staff.stress"]], pd.get_dummies(d.index.get_level_values(1), prefix="y",
                                                                drop_first=True, dtype=float).set_index(d.index)],
                         axis=1)
        ref = FirstDifferenceOLS(d["y"], exog, **w).fit()
    else:
        ref = PanelOLS(d["y"], d[["staff.stress"]], entity_effects=True, time_effects=family == "twoway_fe",
                       **w).fit()
    assert got.estimate_naive == pytest.approx(float(ref.params["staff.stress"]), rel=1e-9, abs=1e-12)
    # with no sampling noise the corrected slope is the naive one and its SE the trust-clustered cr1 SE
    assert got.estimate == pytest.approx(got.estimate_naive, rel=1e-12)
    naive = fit_family(family, frame, cov_type="clustered_entity", small_sample="cr1")
    assert got.std_error == pytest.approx(float(np.sqrt(naive.cov.loc["staff.stress", "staff.stress"])), rel=1e-8)
    assert got.df == naive.scale.df


def test_moment_correction_against_statsmodels_leverages():
    """b_c = x~'y~ / (x~'x~ - sum v_k (1 - h_kk)), residuals and leverages from a statsmodels dummy regression."""
    panel = simulate_panel(seed=4, n_trusts=60, years=(2019, 2020, 2021, 2022))
    panel = panel.drop(index=panel.index[::17]).reset_index(drop=True)  # unbalanced
    frame = build_frame(panel, SPEC)
    v = _variance(panel, frame)
    got = corrected_slope("twoway_fe", frame, v, time_effects=True, small_sample="cr1")
    d = frame.data.reset_index()
    dummies = pd.get_dummies(d[["org_code", "year"]].astype(str), drop_first=True, dtype=float)
    dmat = sm.add_constant(dummies)
    x_fit = sm.OLS(d["staff.stress"], dmat).fit()
    y_res = sm.OLS(d["y"], dmat).fit().resid
    lev = x_fit.get_influence().hat_matrix_diag
    noise = float(np.sum(v * (1 - lev)))
    sxx = float(x_fit.resid @ x_fit.resid)
    assert got.estimate == pytest.approx(float(x_fit.resid @ y_res) / (sxx - noise), rel=1e-9)
    assert got.reliability == pytest.approx(1 - noise / sxx, rel=1e-9)
    # the percent sampling variance from the base n, by hand
    p_ = panel.set_index(["org_code", "year"]).loc[frame.data.index]
    hand = 100**2 * (p_["staff.stress"] / 100) * (1 - p_["staff.stress"] / 100) / p_["staff.stress__n"]
    np.testing.assert_allclose(v, hand.to_numpy(), rtol=1e-12)


def test_exposure_variance_follows_the_lag():
    panel = simulate_panel(seed=5, n_trusts=30, years=(2019, 2020, 2021))
    spec = Spec("l1", "forward", 1, "patient.ip_overall", "staff.stress")
    frame = build_frame(panel, spec)
    v, formula = exposure_variance(panel, spec, frame, ModelParams())
    src = panel.set_index(["org_code", "year"])
    keys = [(o, y - 1) for o, y in frame.data.index]
    p_ = src.loc[keys, "staff.stress"].to_numpy() / 100
    np.testing.assert_allclose(v, 100**2 * p_ * (1 - p_) / src.loc[keys, "staff.stress__n"].to_numpy(), rtol=1e-12)
    assert "staff.stress__n" in formula and "percent" in formula


def test_headline_reports_reliability_correction_and_equivalence():
    panel = simulate_panel(seed=6, n_trusts=130)
    run = fit_models(panel, ModelParams(**FAST))
    h = run.headline
    json.dumps(h, allow_nan=False)
    for k in ("exposure_reliability", "estimate_corrected", "ci_low_corrected", "ci_high_corrected",
              "std_error_corrected"):
        assert isinstance(h[k], float) and np.isfinite(h[k]), k
    assert 0 < h["exposure_reliability"] < 1
    assert h["ci_low_corrected"] < h["estimate_corrected"] < h["ci_high_corrected"]
    # the correction divides out the attenuation: |corrected| > |naive| with the same sign
    assert abs(h["estimate_corrected"]) > abs(h["estimate"]) and np.sign(h["estimate_corrected"]) == np.sign(h["estimate"])
    assert h["correction"]["method"].startswith("errors-in-variables") and "SIMEX" in h["correction"]["why"]
    eq = h["equivalence"]
    assert eq["typical_change"] == h["within_sd"]
    assert eq["sesoi_per_unit"] == pytest.approx(0.05 / h["within_sd"])
    assert eq["bound_low"] == -eq["bound_high"] == pytest.approx(-eq["sesoi_per_unit"])
    assert eq["verdict"] in ("ruled_out", "not_ruled_out") and eq["based_on"] == "corrected"
    assert any("corrected for it" in line for line in [models_text(run)])


def models_text(run) -> str:
    from linkage.models import plain_language

    return plain_language(run)


def test_no_correction_for_a_design_that_uses_between_variation():
    panel = simulate_panel(seed=6, n_trusts=60)
    run = fit_models(panel, ModelParams(**{**FAST, "families": ["pooled"], "headline_family": "pooled"}))
    h = run.headline
    assert h["estimate_corrected"] is None and h["correction"]["method"] == "none"
    assert "within designs" in h["correction"]["why"] and h["equivalence"]["based_on"] == "naive"
    # the exposure's reliability is still reported, from the two-way FE design on the same sample
    twfe = fit_models(panel, ModelParams(**FAST)).headline
    assert h["exposure_reliability"] == pytest.approx(twfe["exposure_reliability"], rel=1e-12)
    assert h["correction"]["reliability_design"] == "trust and year fixed effects"


def test_low_reliability_warning_names_the_exposure_not_the_dependent():
    panel = simulate_panel(seed=7, n_trusts=130)
    noisy = panel.assign(**{"staff.stress__n": 500.0, "patient.ip_overall__n": 5.0})
    warns = fit_models(noisy, ModelParams(**FAST)).warnings
    rel = [w for w in warns if "reliability" in w]
    assert rel and all(w.startswith("staff.stress (the exposure)") for w in rel), rel
    assert not any(w.startswith("patient.ip_overall") and "reliability" in w for w in warns)


def test_tost_equals_statsmodels_ttost_mean():
    rng = np.random.default_rng(0)
    for shift in (0.0, 0.05, 0.3):
        x = rng.normal(shift, 1.0, 40)
        d = DescrStatsW(x)
        ref_p, lower, upper = d.ttost_mean(-0.4, 0.4)
        got_p, p_lo, p_hi = tost(float(d.mean), float(d.std_mean), -0.4, 0.4, df=len(x) - 1)
        assert got_p == pytest.approx(ref_p, rel=1e-10)
        assert p_lo == pytest.approx(lower[1], rel=1e-10) and p_hi == pytest.approx(upper[1], rel=1e-10)


def test_equivalence_verdict_follows_the_interval():
    """TOST at level alpha rejects exactly when the (1 - 2 alpha) interval lies inside the bounds."""
    panel = simulate_panel(seed=8, n_trusts=130, true_effect=0.0)
    for sesoi in (0.005, 0.05, 0.5):
        h = fit_models(panel, ModelParams(**FAST, sesoi=sesoi)).headline
        eq = h["equivalence"]
        q90 = _quantiles(h["n_trusts"] - 1.0, 0.10, 0.8)[0]
        lo, hi = h["estimate_corrected"] - q90 * h["std_error_corrected"], h["estimate_corrected"] + q90 * h["std_error_corrected"]
        inside = eq["bound_low"] < lo and hi < eq["bound_high"]
        assert (eq["verdict"] == "ruled_out") == inside, (sesoi, eq, lo, hi)
    with pytest.raises(ValueError):
        ModelParams(sesoi=0)


# --------------------------------------------------------------------------- timing designs
def _gap_panel():
    """Staff and patients in 2019, 2021, 2022, 2023 (no 2020 at all), as the real panel has for staff."""
    panel = simulate_panel(seed=9, n_trusts=80, years=(2019, 2020, 2021, 2022, 2023))
    return panel[panel["year"] != 2020].reset_index(drop=True)


def test_pairs_and_gaps_are_named_per_row():
    run = fit_models(_gap_panel(), ModelParams(families=["twoway_fe", "first_difference"], lags=[0, 1],
                                               placebo_leads=[], other_exposures=[]))
    res = run.results
    head = res[res["headline"]].iloc[0]
    assert head["pairs"] == "2019->2019; 2021->2021; 2022->2022; 2023->2023"
    assert head["pair_gap_years"] == 0 and head["change_gap_years"] == 2 and head["skipped_years"] == "2020"
    assert head["changes"] == "2019->2021 vs 2019->2021; 2021->2022 vs 2021->2022; 2022->2023 vs 2022->2023"
    assert "span up to 2 years" in head["timing"]
    fd = res[(res["model"] == "first_difference") & (res["spec_name"] == "forward_lag0")].iloc[0]
    assert fd["change_gap_years"] == 2
    lag1 = res[(res["spec_name"] == "forward_lag1") & (res["term"] == "L1.staff.stress")].iloc[0]
    # lag 1 by calendar year: 2019 staff has no 2020 patients, so 2021->2022 and 2022->2023 only, one-year changes
    assert lag1["pairs"] == "2021->2022; 2022->2023" and lag1["pair_gap_years"] == 1
    assert lag1["change_gap_years"] == 1 and lag1["skipped_years"] == ""
    assert run.headline["change_gap_years"] == 2 and run.headline["pairs"] == head["pairs"]


def test_real_like_lag_across_the_missing_year_is_a_two_year_change():
    """Staff 2019, 2021, 2022; patients 2020-2022: lag 1 pairs 2019->2020 and 2021->2022, i.e. two-year changes."""
    panel = simulate_panel(seed=10, n_trusts=80, years=(2019, 2020, 2021, 2022))
    panel.loc[panel["year"] == 2020, ["staff.stress", "staff.stress__n"]] = np.nan
    params = {"families": ["twoway_fe"], "lags": [0, 1], "placebo_leads": [], "other_exposures": [],
              "adjust_contemporaneous": "no", "reverse": False}
    res = fit_models(panel, ModelParams(**params)).results
    lag1 = res[res["spec_name"] == "forward_lag1"].iloc[0]
    assert lag1["pairs"] == "2019->2020; 2021->2022"
    assert lag1["changes"] == "2019->2021 vs 2020->2022" and lag1["change_gap_years"] == 2
    dropped = fit_models(panel, ModelParams(**params, skip_gaps="drop"))
    assert not dropped.results["spec_name"].str.startswith("forward_lag1").any()
    assert any("model.skip_gaps is 'drop'" in s and "2019->2021 vs 2020->2022" in s for s in dropped.skipped)


def test_drop_refuses_a_lagged_headline_across_a_gap_and_keeps_lag_zero():
    panel = simulate_panel(seed=10, n_trusts=80, years=(2019, 2020, 2021, 2022))
    panel.loc[panel["year"] == 2020, ["staff.stress", "staff.stress__n"]] = np.nan
    with pytest.raises(LinkageDataError, match="skip_gaps is 'drop'"):
        fit_models(panel, ModelParams(**{**FAST, "lag": 1, "lags": [1]}, skip_gaps="drop"))
    same_year = fit_models(_gap_panel(), ModelParams(**FAST, skip_gaps="drop"))
    assert same_year.headline["change_gap_years"] == 2
    with pytest.raises(ValueError):
        ModelParams(skip_gaps="ignore")


def test_no_same_year_reverse_model():
    run = fit_models(simulate_panel(seed=12, n_trusts=60), ModelParams(lags=[0, 1], families=["twoway_fe"]))
    names = set(run.results["spec_name"])
    assert "reverse_lag0" not in names and "reverse_lag1" in names
    assert set(run.results.loc[run.results["direction"] == "reverse", "role"]) == {"reverse_check"}
    assert set(run.results.loc[run.results["direction"] == "placebo", "role"]) == {"placebo_check"}


def test_labels_match_what_was_fitted():
    panel = make_panel(seed=1, n_trusts=40)
    run = fit_models(panel, ModelParams(families=["pooled", "twoway_fe", "first_difference"], time_effects=False,
                                        cov_type="unadjusted", lags=[0], reverse=False, placebo_leads=[],
                                        other_exposures=[]))
    labels = dict(zip(run.results["model"], run.results["model_label"], strict=False))
    assert labels["pooled"] == "pooled OLS" and labels["first_difference"] == "first differences"
    assert "cr1" not in set(run.results["small_sample"]) and set(run.results["small_sample"]) == {"n/(n-K)"}
    assert run.headline["small_sample"] == "n/(n-K)"
    with_years = fit_models(panel, ModelParams(families=["pooled", "twoway_fe"], lags=[0], reverse=False,
                                               placebo_leads=[], other_exposures=[]))
    assert "pooled OLS (+ year effects)" in set(with_years.results["model_label"])
    assert set(with_years.results["small_sample"]) == {"cr1"}


# --------------------------------------------------------------------------- simulation (slow)
def _replicate(seed: int, true: float) -> tuple[float, float, bool, bool]:
    panel = simulate_panel(seed=seed, n_trusts=130, true_effect=true)
    frame = build_frame(panel, SPEC)
    c = corrected_slope("twoway_fe", frame, _variance(panel, frame), time_effects=True, small_sample="cr1")
    fit = fit_family("twoway_fe", frame, cov_type="clustered_entity", small_sample="cr1")
    se = float(np.sqrt(fit.cov.loc["staff.stress", "staff.stress"]))
    q, qc = _quantiles(fit.scale.df, 0.05, 0.8)[0], _quantiles(c.df, 0.05, 0.8)[0]
    b = c.estimate_naive
    return (b, c.estimate, abs(b - true) <= q * se, abs(c.estimate - true) <= qc * c.std_error)


@pytest.mark.slow
def test_corrected_estimator_is_unbiased_where_naive_is_attenuated():
    true = -0.03
    reps = np.array([_replicate(seed, true)[:2] for seed in range(3000, 3060)])
    naive, corrected = reps[:, 0].mean(), reps[:, 1].mean()
    mc_se = reps[:, 1].std(ddof=1) / np.sqrt(len(reps))
    print(f"\nmean naive {naive:.5f}, mean corrected {corrected:.5f} (MC SE {mc_se:.5f}), truth {true}")
    assert abs(corrected - true) < 4 * mc_se
    assert true < naive and (naive - true) > 8 * mc_se  # attenuated towards zero, clearly
