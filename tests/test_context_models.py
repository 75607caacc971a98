"""Deprivation models (issue 16) against pyfixest and statsmodels, on a panel with a planted interaction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from linkage.context_models import (
    gradients,
    interaction,
    model_frame,
    run_context_models,
    thirds_of,
    within_fit,
)
from linkage.params import ModelParams


def planted_panel(n_trusts: int = 90, years: tuple[int, ...] = (2018, 2019, 2020, 2021, 2022), seed: int = 7,
                  slope: float = -0.03, interaction_per_sd: float = -0.02) -> pd.DataFrame:
    """Unbalanced panel: y = a_i + g_t + (slope + b*dz_i) x + e, dz the standardised deprivation."""
    rng = np.random.default_rng(seed)
    d = rng.gamma(6, 3.6, n_trusts)
    dz = (d - d.mean()) / d.std(ddof=1)
    a = 8.5 - 0.1 * dz + rng.normal(0, 0.2, n_trusts)
    rows = []
    for i in range(n_trusts):
        for t, yr in enumerate(years):
            if rng.random() < 0.1:
                continue
            x = 40 + 3 * dz[i] + rng.normal(0, 4)
            y = a[i] + 0.05 * t + (slope + interaction_per_sd * dz[i]) * x + rng.normal(0, 0.15)
            rows.append({"org_code": f"T{i:03d}", "year": yr, "patient.ip_overall": y, "staff.stress": x,
                         "patient.ip_overall__n": float(rng.integers(150, 600)), "context.imd2019_score": d[i]})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return model_frame(planted_panel(), "patient.ip_overall", "staff.stress", "context.imd2019_score")


def test_interaction_matches_pyfixest(frame):
    pf = pytest.importorskip("pyfixest")
    ours = interaction(frame, 0.05, 0.8)
    f = frame.assign(xd=frame["x"] * (frame["d"] - ours["d_mean"]) / ours["d_sd"])
    ref = pf.feols("y ~ x + xd | org_code + year", data=f, vcov={"CRV1": "org_code"}, fixef_tol=1e-12)
    for term in ("x", "xd"):
        assert ours["terms"][term]["estimate"] == pytest.approx(ref.coef()[term], abs=1e-8)
        assert ours["terms"][term]["se"] == pytest.approx(ref.se()[term], rel=1e-8)
    # the planted interaction (-0.02 per SD) is inside the interval
    xd = ours["terms"]["xd"]
    assert xd["ci_low"] <= -0.02 <= xd["ci_high"] and xd["ci_high"] < 0


def test_third_fit_matches_pyfixest(frame):
    pf = pytest.importorskip("pyfixest")
    third = thirds_of(frame)
    part = frame[frame["org_code"].map(third) == 2]
    ours = within_fit(part, ["x"], 0.05, 0.8)["terms"]["x"]
    ref = pf.feols("y ~ x | org_code + year", data=part, vcov={"CRV1": "org_code"}, fixef_tol=1e-12)
    assert ours["estimate"] == pytest.approx(ref.coef()["x"], abs=1e-8)
    assert ours["se"] == pytest.approx(ref.se()["x"], rel=1e-8)
    assert third.value_counts().tolist() == [30, 30, 30]


def test_gradients_match_statsmodels_hc1():
    sm = pytest.importorskip("statsmodels.api")
    panel = planted_panel()
    g = gradients(panel, ["patient.ip_overall"], "context.imd2019_score", 0.05)[0]
    tm = panel.groupby("org_code").agg(y=("patient.ip_overall", "mean"), d=("context.imd2019_score", "first"))
    z = (tm["d"] - tm["d"].mean()) / tm["d"].std(ddof=1)
    ref = sm.OLS(tm["y"].to_numpy(), sm.add_constant(z.to_numpy())).fit(cov_type="HC1")
    assert g["slope_per_sd"] == pytest.approx(ref.params[1], abs=1e-10)
    assert g["se"] == pytest.approx(ref.bse[1], rel=1e-10)


def test_run_without_context_says_why():
    panel = planted_panel().drop(columns=["context.imd2019_score"])
    out = run_context_models(panel, ModelParams())
    assert out == {"available": False, "reason": "the panel has no context.imd2019_score values (no context files)"}


def test_no_planted_interaction_usually_covered():
    """With no planted interaction the difference between thirds is near zero relative to its MDE."""
    out = run_context_models(planted_panel(interaction_per_sd=0.0, seed=11), ModelParams())
    diff = out["difference"]
    assert diff["ci_low"] <= 0 <= diff["ci_high"]
    assert diff["mde"] == pytest.approx(2.8016 * diff["se"], rel=1e-3)
    assert [b["n_trusts"] for b in out["bases"]] == [30, 30, 30]
