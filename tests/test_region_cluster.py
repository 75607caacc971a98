"""The headline clustered by NHS region: the analytic CR1 standard error against pyfixest, the
restricted wild cluster bootstrap against the wildboottest package with every Rademacher sign
vector enumerated (the p-value does not depend on the small-sample factor, which cancels)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from test_multilevel import _params, regional_panel

from linkage.models import fit_models
from linkage.models.region_cluster import fit_region_cluster


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return regional_panel(seed=9, n_regions=7, n_trusts=63)


def test_estimate_is_the_headline_and_se_matches_pyfixest(panel):
    pf = pytest.importorskip("pyfixest")
    m = _params()
    res = fit_region_cluster(panel, m)
    assert res.status == "fitted", res.reason
    s = res.summary()
    assert s["estimate"] == pytest.approx(fit_models(panel, m).headline["estimate"], abs=1e-10)
    df = panel.rename(columns={"patient.ip_overall": "y", "staff.stress": "x"})
    fit = pf.feols("y ~ x | org_code + year", data=df, vcov={"CRV1": "region"},
                   ssc=pf.ssc(k_adj=False, G_adj=True), fixef_tol=1e-12, fixef_maxiter=100_000)
    # pyfixest demeans by alternating projections; its default tolerance (1e-6 .. 1e-8) shows at 1e-8
    # G/(G-1) from pyfixest; (n-1)/(n-K) applied here with K = the slope + (T-1) year effects, the trust
    # effects being nested in the regions (reghdfe's count; pyfixest's "nonnested" counts all T year levels)
    n, k = s["n_obs"], 1 + (panel["year"].nunique() - 1)
    assert s["std_error"] == pytest.approx(float(fit.se()["x"]) * np.sqrt((n - 1) / (n - k)), rel=1e-8)
    assert s["n_regions"] == 7 and s["few_clusters"]
    rows = res.rows()
    assert list(rows["model"]) == ["region_cluster", "region_wild_bootstrap"]


def test_bootstrap_p_value_matches_wildboottest_enumeration(panel):
    wb = pytest.importorskip("wildboottest.wildboottest")
    sm = pytest.importorskip("statsmodels.api")
    m = _params()
    signs = np.array(list(itertools.product([-1.0, 1.0], repeat=7)))
    ours = fit_region_cluster(panel, m, v=signs).summary()
    df = panel.dropna(subset=["patient.ip_overall", "staff.stress"]).sort_values(["org_code", "year"])
    exog = pd.concat([df[["staff.stress"]].rename(columns={"staff.stress": "x"}),
                      pd.get_dummies(df["year"], prefix="yr", drop_first=True, dtype=float),
                      pd.get_dummies(df["org_code"], prefix="tr", dtype=float)], axis=1)
    model = sm.OLS(df["patient.ip_overall"].to_numpy(), exog)
    ref = wb.wildboottest(model, B=len(signs) + 1, cluster=pd.factorize(df["region"])[0], param="x",
                          weights_type="rademacher", impose_null=True, bootstrap_type="11", seed=1, show=False)
    p_ref = float(np.asarray(ref["p-value"]).ravel()[0])
    # wildboottest enumerates all 2^7 sign vectors when B > 2^G; ours was given the same 128. The draws
    # v = +1 and v = -1 reproduce the observed |t| exactly: we count them (|t*| >= |t|, the p-value of
    # a test that includes the data), wildboottest counts only |t*| > |t|
    assert ours["boot_p_value"] == pytest.approx(p_ref + 2 / len(signs), abs=1e-9)
    assert ours["boot_ci_low"] < ours["estimate"] < ours["boot_ci_high"]


def test_refused_without_regions():
    from conftest_models import make_panel

    res = fit_region_cluster(make_panel(seed=1), _params())
    assert res.status == "skipped" and "0 NHS regions" in res.reason
