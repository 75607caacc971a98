"""Deprivation as a sample choice of the specification curve (issue 16): most / least deprived half."""

from __future__ import annotations

import numpy as np
import pytest
from conftest_multiverse import mv_panel, mv_params

from linkage.multiverse import run_multiverse
from linkage.params import Params


def _with_context(panel, seed=5):
    rng = np.random.default_rng(seed)
    codes = sorted(panel["org_code"].unique())
    score = dict(zip(codes, rng.gamma(6, 3.6, len(codes)), strict=True))
    out = panel.assign(**{"context.imd2019_score": panel["org_code"].map(score)})
    out.loc[out["org_code"] == codes[0], "context.imd2019_score"] = np.nan  # a trust without a catchment
    return out


def test_deprivation_samples_only_when_declared():
    assert "most_deprived_half" not in Params().multiverse.samples
    assert "least_deprived_half" not in Params().multiverse.samples


def test_halves_match_pyfixest_on_the_split_panel():
    pf = pytest.importorskip("pyfixest")
    panel = _with_context(mv_panel())
    p = mv_params(samples=["all", "most_deprived_half", "least_deprived_half"], families=["twoway_fe"], lags=[0],
                  weights=["none"], cov_types=["clustered_entity"], staff_measures=["staff.stress"], bootstrap_specs=0)
    table = run_multiverse(panel, p).table.set_index("sample")
    per = panel.groupby("org_code")["context.imd2019_score"].first().dropna()
    for sample, codes in (("most_deprived_half", per.index[per > per.median()]),
                          ("least_deprived_half", per.index[per <= per.median()])):
        part = panel[panel["org_code"].isin(codes)].dropna(subset=["staff.stress", "patient.ip_overall"])
        ref = pf.feols("Q('patient.ip_overall') ~ Q('staff.stress') | org_code + year", data=part,
                       vcov={"CRV1": "org_code"}, fixef_tol=1e-12)
        assert table.loc[sample, "status"] == "ok"
        assert table.loc[sample, "estimate"] == pytest.approx(float(ref.coef().iloc[0]), abs=1e-8)
        assert table.loc[sample, "n_obs"] == len(part)


def test_halves_unsupported_without_context():
    p = mv_params(samples=["all", "most_deprived_half"], families=["twoway_fe"], lags=[0], weights=["none"],
                  cov_types=["clustered_entity"], staff_measures=["staff.stress"], bootstrap_specs=0)
    table = run_multiverse(mv_panel(), p).table.set_index("sample")
    assert table.loc["most_deprived_half", "status"] == "unsupported"
    assert "context.imd2019_score" in table.loc["most_deprived_half", "reason"]
