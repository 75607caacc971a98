"""Cross-checks of every model family against independent implementations.

linearmodels (inside ``linkage.models``) is checked against statsmodels OLS on
dummy-variable (LSDV), trust-mean, differenced or quasi-demeaned designs, and
against hand-rolled sandwiches, to 1e-8 on coefficients and 1e-6 (relative) on
standard errors.  The mapping between conventions is spelled out in each test
and in docs/models.md.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from conftest_models import make_panel
from linearmodels import PanelOLS

from linkage.errors import LinkageDataError
from linkage.models import ModelParams, fit_models
from linkage.models._data import Spec, build_frame
from linkage.models._fit import fit_family

COEF_TOL = 1e-8
SE_RTOL = 1e-6

Y, X, C = "patient.ip_overall", "staff.stress", "staff.engagement"


def _frame(panel, covariates=(), weights=False):
    spec = Spec("t", "forward", 0, Y, X, tuple(covariates))
    return build_frame(panel, spec, f"{Y}__n" if weights else None)


def _dummies(values, prefix, drop_first=True):
    return pd.get_dummies(pd.Series(values), prefix=prefix, drop_first=drop_first, dtype=float).to_numpy()


def _lsdv(frame, terms, *, time=True, weights=None):
    d = frame.data
    ent = d.index.get_level_values(0).to_numpy()
    yr = d.index.get_level_values(1).to_numpy()
    parts = [np.ones((len(d), 1)), d[terms].to_numpy(), _dummies(ent, "e")]
    if time:
        parts.append(_dummies(yr, "t"))
    Z = np.hstack(parts)
    if weights is None:
        mod = sm.OLS(d["y"].to_numpy(), Z)
    else:
        mod = sm.WLS(d["y"].to_numpy(), Z, weights=weights)
    return mod, Z, ent, yr


def _assert_se(ours, theirs):
    np.testing.assert_allclose(ours, theirs, rtol=SE_RTOL, atol=0)


def _assert_coef(ours, theirs):
    assert np.max(np.abs(np.asarray(ours) - np.asarray(theirs))) < COEF_TOL


@pytest.fixture(scope="module", params=["synthetic", "demo", "real"])
def unbalanced(request):
    """Cross-check panels: a small synthetic one, the linked demo panel, the linked real panel.

    The demo and real panels come out of the pipeline's own ingest and link
    stages (conftest ``demo_pipeline`` / ``real_pipeline``); the real one skips
    with a visible reason when ../shared/data/real is absent.
    """
    if request.param == "synthetic":
        return make_panel(seed=3, n_trusts=60, drop_share=0.08)
    run = request.getfixturevalue(f"{request.param}_pipeline")
    return run["link"].panel


def _covariate(panel):
    """A second regressor with data in the panel's years (the real panel has no engagement score after 2019)."""
    for c in (C, "staff.burnout"):
        flat = panel.reset_index() if "org_code" not in panel.columns else panel
        if c in flat and flat[["org_code", Y, X, c]].dropna().groupby("org_code").size().gt(1).sum() > 10:
            return c
    raise AssertionError("no covariate with within-trust data")


@pytest.fixture(scope="module")
def balanced():
    return make_panel(seed=4, n_trusts=50)


# ----------------------------------------------------------------------------- FE / TWFE
@pytest.mark.parametrize("family", ["twoway_fe", "entity_fe"])
@pytest.mark.parametrize("convention", ["cr1", "none"])
def test_fe_clustered_matches_statsmodels_lsdv(unbalanced, family, convention):
    frame = _frame(unbalanced, [_covariate(unbalanced)])
    terms = frame.terms
    time = family == "twoway_fe"
    fit = fit_family(family, frame, cov_type="clustered_entity", small_sample=convention)
    mod, Z, ent, yr = _lsdv(frame, terms, time=time)
    raw = mod.fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(ent)[0], "use_correction": False})
    _assert_coef(fit.params[terms], raw.params[1 : 1 + len(terms)])
    n, G, T = len(Z), len(set(ent)), len(set(yr))
    # cr1: K = slopes + constant + year effects (trust effects are nested in trust clusters)
    K = len(terms) + 1 + (T - 1 if time else 0)
    c = G / (G - 1) * (n - 1) / (n - K) if convention == "cr1" else 1.0
    _assert_se(np.sqrt(np.diag(fit.cov.loc[terms, terms])), raw.bse[1 : 1 + len(terms)] * np.sqrt(c))
    if convention == "cr1":
        # statsmodels' default correction counts all LSDV columns (k = Z.shape[1]):
        # cr1 SE = statsmodels SE * sqrt((n - k_lsdv) / (n - K))
        corr = mod.fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(ent)[0]})
        _assert_se(
            np.sqrt(np.diag(fit.cov.loc[terms, terms])),
            corr.bse[1 : 1 + len(terms)] * np.sqrt((n - Z.shape[1]) / (n - K)),
        )
        assert fit.scale.df == G - 1


def test_twfe_unadjusted_and_robust_match_statsmodels(unbalanced):
    frame = _frame(unbalanced, [_covariate(unbalanced)])
    terms = frame.terms
    mod, Z, ent, yr = _lsdv(frame, terms)
    k = len(terms)
    # cr1 with unadjusted/robust counts every absorbed effect: K = k_lsdv, so the
    # classical covariance is statsmodels' nonrobust one and robust is HC1.
    un = fit_family("twoway_fe", frame, cov_type="unadjusted", small_sample="cr1")
    _assert_se(np.sqrt(np.diag(un.cov.loc[terms, terms])), mod.fit().bse[1 : 1 + k])
    rb = fit_family("twoway_fe", frame, cov_type="robust", small_sample="cr1")
    _assert_se(np.sqrt(np.diag(rb.cov.loc[terms, terms])), mod.fit(cov_type="HC1").bse[1 : 1 + k])
    assert rb.scale.k == Z.shape[1]


def _within_x_and_resid(frame, terms):
    """FWL by statsmodels: regress each regressor and y on the dummies (independent of linkage)."""
    d = frame.data
    ent = d.index.get_level_values(0).to_numpy()
    yr = d.index.get_level_values(1).to_numpy()
    D = np.hstack([np.ones((len(d), 1)), _dummies(ent, "e"), _dummies(yr, "t")])
    xt = np.column_stack([sm.OLS(d[t].to_numpy(), D).fit().resid for t in terms])
    yt = sm.OLS(d["y"].to_numpy(), D).fit().resid
    b = np.linalg.lstsq(xt, yt, rcond=None)[0]
    return xt, yt - xt @ b, b, ent, yr


def _meat(xe, groups):
    s = pd.DataFrame(xe).groupby(groups).sum().to_numpy()
    return s.T @ s


def test_twfe_twoway_clustered_matches_hand_rolled(unbalanced):
    frame = _frame(unbalanced, [_covariate(unbalanced)])
    terms = frame.terms
    fit = fit_family("twoway_fe", frame, cov_type="clustered_twoway", small_sample="cr1")
    xt, e, b, ent, yr = _within_x_and_resid(frame, terms)
    _assert_coef(fit.params[terms], b)
    xe = xt * e[:, None]
    meat = _meat(xe, ent) + _meat(xe, yr) - xe.T @ xe  # trust-year intersection: one obs each
    bread = np.linalg.inv(xt.T @ xt)
    v = bread @ meat @ bread
    n, g = len(e), min(len(set(ent)), len(set(yr)))
    c = g / (g - 1) * (n - 1) / (n - (len(terms) + 1))
    vals, vecs = np.linalg.eigh(v * c)
    v_psd = (vecs * np.clip(vals, 0, None)) @ vecs.T
    _assert_se(np.sqrt(np.diag(fit.cov.loc[terms, terms])), np.sqrt(np.diag(v_psd)))


def test_twfe_driscoll_kraay_matches_hand_rolled(unbalanced):
    frame = _frame(unbalanced, [_covariate(unbalanced)])
    terms = frame.terms
    n_years = frame.data.index.get_level_values(1).nunique()
    if n_years < 3:
        # the real panel has two years: period score sums are identically zero, so refuse clearly
        with pytest.raises(LinkageDataError, match="Driscoll-Kraay standard errors need at least 3 years"):
            fit_family("twoway_fe", frame, cov_type="driscoll_kraay", small_sample="cr1")
        return
    bw = min(2, n_years - 1)
    fit = fit_family("twoway_fe", frame, cov_type="driscoll_kraay", small_sample="cr1", dk_bandwidth=bw)
    xt, e, b, ent, yr = _within_x_and_resid(frame, terms)
    xi = pd.DataFrame(xt * e[:, None]).groupby(yr).sum().sort_index().to_numpy()
    S = xi.T @ xi
    for j in range(1, bw + 1):
        g = xi[j:].T @ xi[:-j]
        S += (1 - j / (bw + 1)) * (g + g.T)
    bread = np.linalg.inv(xt.T @ xt)
    n = len(e)
    T = len(set(yr))
    K = len(terms) + 1 + (len(set(ent)) - 1) + (T - 1)
    v = bread @ S @ bread * n / (n - K)
    _assert_se(np.sqrt(np.diag(fit.cov.loc[terms, terms])), np.sqrt(np.diag(v)))
    assert fit.scale.df == T - 1


def test_twfe_weighted_matches_statsmodels_wls(unbalanced):
    frame = _frame(unbalanced, [_covariate(unbalanced)], weights=True)
    terms = frame.terms
    fit = fit_family("twoway_fe", frame, cov_type="clustered_entity", small_sample="cr1")
    mod, Z, ent, yr = _lsdv(frame, terms, weights=frame.data["w"].to_numpy())
    raw = mod.fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(ent)[0], "use_correction": False})
    _assert_coef(fit.params[terms], raw.params[1 : 1 + len(terms)])
    n, G, T = len(Z), len(set(ent)), len(set(yr))
    c = G / (G - 1) * (n - 1) / (n - (len(terms) + T))
    _assert_se(np.sqrt(np.diag(fit.cov.loc[terms, terms])), raw.bse[1 : 1 + len(terms)] * np.sqrt(c))


def test_linearmodels_convention_reproduces_linearmodels_defaults(unbalanced):
    """small_sample='linearmodels' equals PanelOLS.fit(debiased=True, auto_df=True)."""
    frame = _frame(unbalanced, [_covariate(unbalanced)])
    d = frame.data
    exog = pd.concat([pd.Series(1.0, index=d.index, name="const"), d[frame.terms]], axis=1)
    for family, kw in (("entity_fe", {"entity_effects": True}), ("twoway_fe", {"entity_effects": True, "time_effects": True})):
        for cov_type, lm_kw in (
            ("clustered_entity", {"cov_type": "clustered", "cluster_entity": True, "group_debias": False}),
            ("clustered_twoway", {"cov_type": "clustered", "cluster_entity": True, "cluster_time": True, "group_debias": False}),
            ("robust", {"cov_type": "robust"}),
        ):
            ours = fit_family(family, frame, cov_type=cov_type, small_sample="linearmodels")
            ref = PanelOLS(d["y"], exog, **kw).fit(debiased=True, auto_df=True, **lm_kw)
            cov = ours.cov.loc[frame.terms, frame.terms].to_numpy()
            if cov_type == "clustered_twoway" and np.linalg.eigvalsh(ref.cov.to_numpy()).min() < 0:
                continue  # we clip a non-PSD two-way covariance; linearmodels does not
            _assert_se(np.sqrt(np.diag(cov)), ref.std_errors[frame.terms].to_numpy())
            assert ours.scale.df == ref.df_resid


# ----------------------------------------------------------------------------- other families
def test_pooled_matches_statsmodels(unbalanced):
    frame = _frame(unbalanced, [_covariate(unbalanced)])
    d, terms = frame.data, frame.terms
    fit = fit_family("pooled", frame, cov_type="clustered_entity", small_sample="cr1")
    yr = d.index.get_level_values(1).to_numpy()
    Z = np.hstack([np.ones((len(d), 1)), d[terms].to_numpy(), _dummies(yr, "t")])
    ent = pd.factorize(d.index.get_level_values(0))[0]
    ref = sm.OLS(d["y"].to_numpy(), Z).fit(cov_type="cluster", cov_kwds={"groups": ent})
    _assert_coef(fit.params.to_numpy(), ref.params)  # same column order: const, terms, years
    _assert_se(np.sqrt(np.diag(fit.cov)), ref.bse)  # cr1 == statsmodels' default correction here


def test_between_matches_statsmodels_on_means(unbalanced):
    frame = _frame(unbalanced, [_covariate(unbalanced)])
    d, terms = frame.data, frame.terms
    fit = fit_family("between", frame, cov_type="clustered_entity", small_sample="cr1")
    means = d[["y", *terms]].groupby(level=0).mean()
    ref = sm.OLS(means["y"].to_numpy(), sm.add_constant(means[terms].to_numpy())).fit(cov_type="HC1")
    _assert_coef(fit.params.to_numpy(), ref.params)
    _assert_se(np.sqrt(np.diag(fit.cov)), ref.bse)
    assert fit.cov_type == "robust" and fit.n_obs == len(means)


def test_first_difference_matches_statsmodels(unbalanced):
    frame = _frame(unbalanced, [_covariate(unbalanced)])
    d, terms = frame.data, frame.terms
    fit = fit_family("first_difference", frame, cov_type="clustered_entity", small_sample="cr1")
    yrs = sorted(d.index.get_level_values(1).unique())
    lev = d[["y", *terms]].copy()
    for y in yrs[1:]:
        lev[f"year={y}"] = (d.index.get_level_values(1) == y).astype(float)
    full = lev.reindex(pd.MultiIndex.from_product([d.index.get_level_values(0).unique(), yrs]))
    diff = full.groupby(level=0).diff().dropna()
    cols = [*terms, *[f"year={y}" for y in yrs[1:]]]
    ent = pd.factorize(diff.index.get_level_values(0))[0]
    ref = sm.OLS(diff["y"].to_numpy(), diff[cols].to_numpy()).fit(cov_type="cluster", cov_kwds={"groups": ent})
    _assert_coef(fit.params[cols].to_numpy(), ref.params)
    _assert_se(np.sqrt(np.diag(fit.cov.loc[cols, cols])), ref.bse)
    assert fit.n_obs == len(diff)


def _swamy_arora_theta(d, terms_all):
    """Variance components as linearmodels computes them (unbalanced: harmonic-mean T)."""
    ent = d.index.get_level_values(0)
    y = d["y"]
    X = d[terms_all]
    yw = y - y.groupby(ent).transform("mean")
    Xw = X - X.groupby(ent).transform("mean")
    varying = [c for c in terms_all if (Xw[c].abs() > 1e-10).any()]
    bw = np.linalg.lstsq(Xw[varying].to_numpy(), yw.to_numpy(), rcond=None)[0]
    ew = yw.to_numpy() - Xw[varying].to_numpy() @ bw
    n, N = len(d), ent.nunique()
    s2e = ew @ ew / (n - N - np.linalg.matrix_rank(Xw[varying].to_numpy()))
    ym, Xm = y.groupby(ent).mean(), X.groupby(ent).mean()
    bb = np.linalg.lstsq(Xm.to_numpy(), ym.to_numpy(), rcond=None)[0]
    eb = ym.to_numpy() - Xm.to_numpy() @ bb
    Ti = ent.value_counts().reindex(ym.index).to_numpy()
    tbar = N / (1 / Ti).sum()
    s2u = max(0.0, eb @ eb / (N - np.linalg.matrix_rank(Xm.to_numpy())) - s2e / tbar)
    theta = 1 - np.sqrt(s2e / (Ti * s2u + s2e))
    return pd.Series(theta, index=ym.index), s2e, s2u


@pytest.mark.parametrize("family", ["random_effects", "mundlak"])
def test_random_effects_and_mundlak_match_hand_rolled_quasi_demeaning(unbalanced, family):
    frame = _frame(unbalanced, [_covariate(unbalanced)])
    d, _terms = frame.data, frame.terms
    fit = fit_family(family, frame, cov_type="clustered_entity", small_sample="cr1")
    cols = list(fit.params.index)
    from linkage.models._fit import design

    X = design(family, frame, True)
    assert list(X.columns) == cols
    theta, s2e, s2u = _swamy_arora_theta(d.assign(**{c: X[c] for c in cols}), cols)
    assert abs(s2e - fit.extras["sigma2_eps"]) < 1e-10 and abs(s2u - fit.extras["sigma2_effects"]) < 1e-10
    ent = d.index.get_level_values(0)
    th = theta.reindex(ent).to_numpy()
    yq = d["y"].to_numpy() - th * d["y"].groupby(ent).transform("mean").to_numpy()
    Xq = X.to_numpy() - th[:, None] * X.groupby(ent).transform("mean").to_numpy()
    ref = sm.OLS(yq, Xq).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(ent)[0]})
    _assert_coef(fit.params.to_numpy(), ref.params)
    _assert_se(np.sqrt(np.diag(fit.cov)), ref.bse)


def test_mundlak_within_equals_twoway_fe_in_balanced_panel(balanced):
    run = fit_models(balanced, ModelParams(families=["twoway_fe", "mundlak", "between"], reverse=False, placebo_leads=[], lags=[0]))
    c = run.comparison.set_index(["model", "effect"])
    assert abs(c.loc[("mundlak", "within"), "estimate"] - c.loc[("twoway_fe", "within"), "estimate"]) < COEF_TOL
    assert abs(c.loc[("mundlak", "between"), "estimate"] - c.loc[("between", "between"), "estimate"]) < 1e-7


def test_fit_models_headline_is_the_crosschecked_twfe(unbalanced):
    run = fit_models(unbalanced, ModelParams(reverse=False, placebo_leads=[], lags=[0]))
    frame = _frame(unbalanced)
    mod, Z, ent, yr = _lsdv(frame, frame.terms)
    raw = mod.fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(ent)[0], "use_correction": False})
    n, G, T = len(Z), len(set(ent)), len(set(yr))
    se = raw.bse[1] * np.sqrt(G / (G - 1) * (n - 1) / (n - (1 + 1 + T - 1)))
    assert abs(run.headline["estimate"] - raw.params[1]) < COEF_TOL
    assert abs(run.headline["std_error"] / se - 1) < SE_RTOL
    from scipy import stats

    q = stats.t.ppf(0.975, G - 1)
    assert abs(run.headline["ci_low"] - (raw.params[1] - q * se)) < 1e-8
    assert run.headline["n_obs"] == n and run.headline["n_trusts"] == G
