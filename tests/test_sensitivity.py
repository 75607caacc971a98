"""Cinelli-Hazlett sensitivity of the headline: our absorbed-FE implementation against PySensemakr
on the same regression written with trust dummies (LSDV), where sensemakr's ``df_resid`` is the
right residual df by construction; and the sample against the model stage's headline estimate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest_models import make_panel

from linkage.models import fit_models
from linkage.models.sensitivity import fit_sensitivity
from linkage.params import ModelParams

smkr = pytest.importorskip("sensemakr", reason="PySensemakr is not installed (dev dependency)")
sm = pytest.importorskip("statsmodels.api")

TOL = 1e-6


def _params(**kw) -> ModelParams:
    base = {"families": ["twoway_fe", "entity_fe", "pooled"], "other_exposures": [], "lags": [0], "reverse": False,
            "placebo_leads": [], "adjust_contemporaneous": "no"}
    return ModelParams.model_validate({**base, **kw})


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return make_panel(seed=7, n_trusts=45, drop_share=0.1)


def _lsdv(panel: pd.DataFrame, m: ModelParams):
    """y on the exposure, covariates, trust dummies and year dummies, by statsmodels OLS."""
    df = panel.dropna(subset=[m.dependent, m.exposure, *m.covariates]).copy()
    x = df[[m.exposure, *m.covariates]].astype(float)
    names = {m.exposure: "d", **{c: f"c{i}" for i, c in enumerate(m.covariates)}}
    x = x.rename(columns=names)
    years = pd.get_dummies(df["year"], prefix="yr", drop_first=True, dtype=float)
    trusts = pd.get_dummies(df["org_code"], prefix="tr", drop_first=False, dtype=float)
    exog = pd.concat([x, years, trusts] if m.headline_family == "twoway_fe" else [x, trusts], axis=1)
    return sm.OLS(df[m.dependent].astype(float).to_numpy(), exog).fit(), list(years.columns), names


@pytest.mark.parametrize("covariates", [[], ["staff.engagement"]])
def test_matches_sensemakr_on_lsdv(panel, covariates):
    m = _params(covariates=covariates)
    res = fit_sensitivity(panel, m)
    assert res.status == "fitted", res.reason
    s = res.summary()
    fit, year_cols, names = _lsdv(panel, m)
    ref = smkr.sensitivity_stats(model=fit, treatment="d", q=1, alpha=m.alpha)
    assert s["dof"] == ref["dof"] == int(fit.df_resid)
    assert s["estimate"] == pytest.approx(ref["estimate"], abs=TOL)
    assert s["std_error"] == pytest.approx(ref["se"], abs=TOL)
    for ours, theirs in (("r2yd_x", "r2yd_x"), ("rv_q1", "rv_q"), ("rv_q1_alpha", "rv_qa")):
        assert s[ours] == pytest.approx(ref[theirs], abs=TOL), ours
    # a one-covariate group: PySensemakr 0.0.8 fails on a bare name (indexes a Series by position)
    bench = year_cols if not covariates else names[covariates[0]]
    assert s["benchmark"] == ("year effects" if not covariates else covariates[0])
    bounds = smkr.ovb_bounds(model=fit, treatment="d", benchmark_covariates=[bench] if not covariates else [[bench]],
                             kd=[1, 2, 3], alpha=m.alpha)
    ours = [b for b in s["bounds"] if b["admissible"]]
    assert len(ours) == len(bounds) > 0
    for b, (_, r) in zip(ours, bounds.iterrows(), strict=True):
        for k in ("r2dz_x", "r2yz_dx", "adjusted_estimate", "adjusted_se"):
            assert b[k] == pytest.approx(r[k], abs=TOL), (b["kd"], k)
        if b["r2yz_capped"]:  # the confounder explains all of the outcome: no t (sensemakr divides by 0)
            assert b["adjusted_t"] is None and b["adjusted_se"] == 0 and not np.isfinite(r["adjusted_t"])
        else:
            assert b["adjusted_t"] == pytest.approx(r["adjusted_t"], abs=TOL)
        assert b["ci_low"] == pytest.approx(r["adjusted_lower_CI"], abs=TOL)
        assert b["ci_high"] == pytest.approx(r["adjusted_upper_CI"], abs=TOL)


def test_sample_is_the_headline(panel):
    m = _params()
    head = fit_models(panel, m).headline
    s = fit_sensitivity(panel, m).summary()
    assert s["n_obs"] == head["n_obs"] and s["n_trusts"] == head["n_trusts"]
    assert s["estimate"] == pytest.approx(head["estimate"], abs=1e-10)


def test_entity_fe_lag_and_rows(panel):
    m = _params(headline_family="entity_fe", lag=1, lags=[0, 1])
    res = fit_sensitivity(panel, m)
    head = fit_models(panel, m).headline
    assert res.summary()["estimate"] == pytest.approx(head["estimate"], abs=1e-10)
    # no covariates and no year effects: nothing observed to benchmark against, said so
    assert res.summary()["benchmark"] is None and "benchmark" in res.reason
    rows = res.rows()
    assert list(rows["model"]) == ["sensitivity"] and (rows["role"] == "sensitivity").all()


def test_refuses_designs_it_does_not_cover(panel):
    res = fit_sensitivity(panel, _params(headline_family="random_effects", families=["random_effects"]))
    assert res.status == "skipped" and "random_effects" in res.reason
    assert res.rows().empty
    res = fit_sensitivity(panel, _params(weights="respondents"))
    assert res.status == "skipped" and "weighted" in res.reason


def test_robustness_value_reacts_to_a_stronger_effect():
    weak = fit_sensitivity(make_panel(seed=2, n_trusts=40, true_effect=-0.01), _params()).summary()
    strong = fit_sensitivity(make_panel(seed=2, n_trusts=40, true_effect=-0.08), _params()).summary()
    assert strong["rv_q1"] > weak["rv_q1"] > 0
    assert 0 <= strong["rv_q1_alpha"] < strong["rv_q1"] < 1
    assert np.isfinite(strong["r2yd_x"])


def test_every_result_row_has_a_positive_standard_error(panel):
    """A bound that uses up all of the outcome's residual variance has no SE: it gets no row (its words stay)."""
    for kw in ({}, {"headline_family": "entity_fe", "lag": 1, "lags": [0, 1]}):
        res = fit_sensitivity(panel, _params(**kw))
        if res.status != "fitted":
            continue
        rows = res.rows()
        assert rows["std_error"].gt(0).all() and rows["estimate"].notna().all()
