"""Deprivation as a moderator choice of the specification curve (issue 16).

The references build their own design from the panel: the estimation sample (dependent,
exposure and catchment deprivation present), the centre (mean over the sample's trusts of
their deprivation, each trust once) and the interaction column, none of it from the code
under test.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest_multiverse import mv_panel, mv_params, refit_draws

from linkage.errors import ParamsError
from linkage.multiverse import describe_curve, draw_weights, run_multiverse, wild_cluster_bootstrap
from linkage.params import Params, validate_params
from linkage.stages.multiverse import summary_metrics

IMD = "context.imd2019_score"
X, Y = "staff.stress", "patient.ip_overall"


def _with_context(panel: pd.DataFrame, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    codes = sorted(panel["org_code"].unique())
    score = dict(zip(codes, rng.gamma(6, 3.6, len(codes)), strict=True))
    out = panel.assign(**{IMD: panel["org_code"].map(score)})
    # the exposure's association with the dependent differs with deprivation, so the interaction is not ~0
    z = out[IMD] - out[IMD].mean()
    out[Y] = out[Y] + 0.004 * z * out[X]
    out.loc[out["org_code"] == codes[0], IMD] = np.nan  # a trust without a catchment (specialist)
    return out


def _one(table: pd.DataFrame, **choice) -> pd.Series:
    sel = np.ones(len(table), bool)
    for k, v in choice.items():
        sel &= (table[k] == v).to_numpy()
    assert sel.sum() == 1, choice
    return table[sel].iloc[0]


def _reference_frame(panel: pd.DataFrame) -> pd.DataFrame:
    """Sample and interaction column built here, independently of the engine."""
    d = panel.dropna(subset=[X, Y, IMD]).sort_values(["org_code", "year"]).copy()
    centre = d.groupby("org_code")[IMD].mean().mean()
    d["x"], d["y"] = d[X], d[Y]
    d["xz"] = d[X] * (d[IMD] - centre)
    return d


@pytest.fixture(scope="module")
def moderated():
    panel = _with_context(mv_panel(seed=7, n_trusts=40))
    p = mv_params(moderators=["none", "deprivation"], staff_measures=[X], weights=["none"], lags=[0, 1],
                  bootstrap_specs=0, bootstrap_draws=199)
    return panel, p, run_multiverse(panel, p)


def test_two_way_fe_moderated_spec_matches_panelols_and_pyfixest(moderated):
    panel, p, run = moderated
    s = _one(run.table, family="twoway_fe", sample="all", lag=0, moderator="deprivation")
    assert s["status"] == "ok"
    d = _reference_frame(panel)
    assert s["n_obs"] == len(d) and s["moderator_centre"] == pytest.approx(
        d.groupby("org_code")[IMD].mean().mean(), abs=1e-12)
    linearmodels = pytest.importorskip("linearmodels")
    lm = linearmodels.PanelOLS(d.set_index(["org_code", "year"])["y"], d.set_index(["org_code", "year"])[["x", "xz"]],
                               entity_effects=True, time_effects=True).fit(
        cov_type="clustered", cluster_entity=True, debiased=False, group_debias=False, auto_df=False,
        count_effects=False)  # the raw sandwich
    # cr1 recomputed here: G/(G-1) (n-1)/(n-K), K = constant, x, xz and the year effects (trusts nested in clusters)
    g, n, k = d["org_code"].nunique(), len(d), 3 + d["year"].nunique() - 1
    cr1 = np.sqrt(g / (g - 1) * (n - 1) / (n - k))
    assert s["estimate"] == pytest.approx(lm.params["x"], abs=1e-8)
    assert s["interaction_estimate"] == pytest.approx(lm.params["xz"], abs=1e-8)
    assert s["std_error"] == pytest.approx(lm.std_errors["x"] * cr1, abs=1e-8)
    assert s["interaction_std_error"] == pytest.approx(lm.std_errors["xz"] * cr1, abs=1e-8)
    pf = pytest.importorskip("pyfixest")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pf.feols("y ~ x + xz | org_code + year", data=d, vcov={"CRV1": "org_code"}, fixef_rm="none")
    coef, se = ref.coef(), ref.se()
    assert s["estimate"] == pytest.approx(float(coef["x"]), abs=1e-8)
    assert s["interaction_estimate"] == pytest.approx(float(coef["xz"]), abs=1e-8)
    assert s["std_error"] == pytest.approx(float(se["x"]), abs=1e-8)
    assert s["interaction_std_error"] == pytest.approx(float(se["xz"]), abs=1e-8)
    assert s["interaction_p_value"] == pytest.approx(float(ref.pvalue()["xz"]), abs=1e-8)
    # the moderation matters: the main effect is not the unmoderated estimate
    plain = _one(run.table, family="twoway_fe", sample="all", lag=0, moderator="none")
    assert abs(plain["estimate"] - s["estimate"]) > 1e-6


@pytest.mark.parametrize("family", ["pooled", "entity_fe", "first_difference"])
def test_other_families_match_a_dummy_variable_fit(moderated, family):
    """Main effect and interaction, with raw clustered SEs, against a literal least-squares fit."""
    panel, p, run = moderated
    s = _one(run.table, family=family, sample="all", lag=0, moderator="deprivation")
    assert s["status"] == "ok"
    d = _reference_frame(panel)
    trust, year = d["org_code"].to_numpy(), d["year"].to_numpy()
    years = np.unique(year)
    ydum = (year[:, None] == years[None, 1:]).astype(float)
    x, xz, y = d["x"].to_numpy(), d["xz"].to_numpy(), d["y"].to_numpy()
    if family == "first_difference":
        pos = np.searchsorted(years, year)
        later = np.flatnonzero((trust[1:] == trust[:-1]) & (pos[1:] - pos[:-1] == 1)) + 1
        # the centre is over the trusts that have a consecutive pair (the fitted regression's trusts)
        kept = np.unique(trust[later])
        centre = d[d["org_code"].isin(kept)].groupby("org_code")[IMD].mean().mean()
        xz = x * (d[IMD].to_numpy() - centre)
        diff = lambda v: v[later] - v[later - 1]  # noqa: E731
        design, yy, cl = np.column_stack([diff(x), diff(xz), diff(ydum)]), diff(y), trust[later]
    else:
        tdum = (trust[:, None] == np.unique(trust)[None, :]).astype(float)
        other = tdum if family == "entity_fe" else np.column_stack([np.ones(len(x)), ydum])
        design, yy, cl = np.column_stack([x, xz, other]), y, trust
    coef, *_ = np.linalg.lstsq(design, yy, rcond=None)
    e = yy - design @ coef
    bread = np.linalg.pinv(design.T @ design)
    scores = pd.DataFrame(design * e[:, None]).groupby(cl).sum().to_numpy()
    raw = np.sqrt(np.diag(bread @ scores.T @ scores @ bread))
    factor = s["cov_factor"]
    assert s["estimate"] == pytest.approx(coef[0], abs=1e-8)
    assert s["interaction_estimate"] == pytest.approx(coef[1], abs=1e-8)
    assert s["std_error"] == pytest.approx(raw[0] * np.sqrt(factor), abs=1e-8)
    assert s["interaction_std_error"] == pytest.approx(raw[1] * np.sqrt(factor), abs=1e-8)


@pytest.mark.parametrize("family", ["twoway_fe", "entity_fe", "pooled"])
@pytest.mark.parametrize("kind", ["wcr", "wcu"])
def test_bootstrap_draws_are_exact_refits_of_the_moderated_model(moderated, family, kind):
    """Each draw of the main effect equals a literal refit with the interaction among the other regressors."""
    panel, p, run = moderated
    s = _one(run.table, family=family, sample="all", lag=0, moderator="deprivation")
    row = int(np.flatnonzero((run.table["spec_id"] == s["spec_id"]).to_numpy())[0])
    d = _reference_frame(panel)
    trust, year = d["org_code"].to_numpy(), d["year"].to_numpy()
    tdum = (trust[:, None] == np.unique(trust)[None, :]).astype(float)
    ydum = (year[:, None] == np.unique(year)[None, 1:]).astype(float)
    other = {"twoway_fe": [tdum, ydum], "entity_fe": [tdum], "pooled": [np.ones((len(d), 1)), ydum]}[family]
    design = np.column_stack([d["x"], d["xz"], *other])
    v = draw_weights("rademacher", 99, len(run.scores.codes), seed=3)
    sub = run.scores.subset(np.array([row]))
    out = wild_cluster_bootstrap(np.array([s["estimate"]]), np.array([s["std_error"]]), sub["a"], sub["h"], sub["b"],
                                 sub["sxx"], np.array([s["cov_factor"]]), v, kind, 0.05, sub["qy"], sub["qx"])
    t_ref, t_obs = refit_draws(design, d["y"].to_numpy(), np.ones(len(d)), trust, run.scores.codes, v,
                               s["cov_factor"], kind)
    assert s["estimate"] / s["std_error"] == pytest.approx(t_obs, rel=1e-10)
    np.testing.assert_allclose(out["t_draws"][:, 0], t_ref, rtol=1e-9, atol=1e-9)


def test_families_that_cannot_take_it_are_listed_with_the_reason(moderated):
    _, _, run = moderated
    t = run.table
    for family in ("random_effects", "mundlak"):
        rows = t[(t["family"] == family) & (t["moderator"] == "deprivation")]
        assert len(rows) and (rows["status"] == "unsupported").all()
        rows = rows[rows["sample"] != "no_merged"]  # that sample's own reason (no merger information) comes first
        assert rows["reason"].str.contains("cannot take the moderator 'deprivation'").all()
        plain = t[(t["family"] == family) & (t["moderator"] == "none")]
        assert (plain["status"] == "ok").any()
    unmoderated = t[t["moderator"] == "none"]
    assert unmoderated["interaction_estimate"].isna().all() and unmoderated["moderator_centre"].isna().all()


def test_without_context_the_choice_is_skipped_with_a_visible_reason():
    panel = mv_panel(seed=7, n_trusts=40)
    p = mv_params(moderators=["none", "deprivation"], staff_measures=[X], weights=["none"], lags=[0],
                  samples=["all", "no_specialist", "balanced"], bootstrap_specs=0, bootstrap_draws=199)
    run = run_multiverse(panel, p)
    t = run.table
    mod = t[t["moderator"] == "deprivation"]
    assert len(mod) and (mod["status"] == "unsupported").all()
    assert mod["reason"].str.contains(IMD).all() and mod["reason"].str.contains("data.context_dir").all()
    assert (t.loc[t["moderator"] == "none", "status"] == "ok").any()
    m = summary_metrics(run, p)
    assert m["moderated"]["n_specs"] == len(mod) and m["moderated"]["n_fitted"] == 0
    text = describe_curve(m)
    assert f"{len(mod):,} specifications add the staff measure x catchment deprivation" in text
    assert "None could be fitted" in text and IMD in text


def test_moderated_specs_are_exploratory_unless_declared(moderated):
    panel, p, run = moderated
    t = run.table
    mod = t[t["moderator"] == "deprivation"]
    assert set(mod["role"]) == {"exploratory"}
    assert not (run.reverse["moderator"] == "deprivation").any()
    declared = p.model_copy(update={"inferential_moderators": ["none", "deprivation"]})
    run2 = run_multiverse(panel, declared)
    t2 = run2.table
    mod2 = t2[t2["moderator"] == "deprivation"]
    inferential = mod2["family"].isin(declared.inferential_families) & mod2["lag"].isin(declared.inferential_lags)
    assert (mod2.loc[inferential, "role"] == "inferential").all() and inferential.any()
    assert (mod2.loc[~inferential, "role"] == "exploratory").all()
    assert (run2.reverse["moderator"] == "deprivation").any()
    m = summary_metrics(run2, declared)["moderated"]
    assert m["n_inferential"] == int(((mod2["role"] == "inferential") & (mod2["status"] == "ok")).sum())


def test_words_report_the_count_and_the_interactions_spread(moderated):
    _, p, run = moderated
    m = summary_metrics(run, p)
    c = m["moderated"]
    t = run.table
    ok = t[(t["moderator"] == "deprivation") & (t["status"] == "ok") & t["duplicate_of"].isna()]
    assert c["n_fitted"] == int(((t["moderator"] == "deprivation") & (t["status"] == "ok")).sum()) > 0
    assert c["n_distinct"] == len(ok)
    assert c["interaction_within_std_median"] == pytest.approx(float(np.median(ok["interaction_within_std"])))
    assert c["n_interaction_significant"] == int((ok["interaction_p_value"] < p.alpha).sum())
    text = describe_curve(m)
    assert f"{c['n_fitted']:,} could be fitted (shown as exploratory" in text
    assert f"median of {c['interaction_within_std_median']:+.2f}" in text
    # interaction in within-SD units per trust-level SD of deprivation: recomputed from its parts
    r = ok.iloc[0]
    assert r["interaction_within_std"] == pytest.approx(
        r["interaction_estimate"] * r["orientation"] * r["moderator_sd"] * r["sd_exposure_within"]
        / r["sd_dependent_within"])


def test_default_curve_has_no_moderated_specs():
    m = Params().multiverse
    assert m.moderators == ["none"] and m.inferential_moderators == ["none"]


def test_moderator_params_are_refused_by_dotted_key():
    with pytest.raises(ParamsError, match="multiverse.moderators"):
        validate_params({"multiverse": {"moderators": ["income"]}})
    with pytest.raises(ParamsError, match="multiverse.moderators"):
        validate_params({"multiverse": {"moderators": ["none", "none"]}})
    with pytest.raises(ParamsError, match="multiverse.moderators"):
        validate_params({"multiverse": {"moderators": []}})
    with pytest.raises(ParamsError, match="multiverse.inferential_moderators"):
        validate_params({"multiverse": {"inferential_moderators": ["deprivation", "deprivation"]}})
    with pytest.raises(ParamsError, match="multiverse.inferential_moderators"):
        validate_params({"multiverse": {"inferential_moderators": ["imd"]}})
