"""A new model family is one registry entry: accepted by params, fitted by the model stage and the curve,
and described by the site - without editing any of the workbench's files.

The fixture family ``trend_fe`` (trust fixed effects plus a straight-line year trend shared by all trusts)
lives entirely in this module: its one-specification fitter (a ``FamilyModel`` for linearmodels'
``PanelOLS``), its batched curve fitter (trust demeaning then the trend projected out, for every
(dependent, exposure) pair at once) and its words.  Its estimates are checked against a regression on
explicit trust dummies solved by numpy, and against pyfixest when it is installed.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest_models import make_panel
from conftest_multiverse import mv_params
from linearmodels import PanelOLS

from linkage.errors import ParamsError
from linkage.estimation import codes_of, group_demean, run_starts
from linkage.models import FamilyModel, ModelParams, fit_models
from linkage.multiverse import FamilyFit, enumerate_specs, fit_specs, residualize, spec_frame
from linkage.params import validate_params
from linkage.vocab import (
    FAMILY_ORDER,
    FAMILY_TEXT,
    FamilyEntry,
    family_names,
    register_family,
    unregister_family,
)

NAME = "trend_fe"
PROSE = ("compares each trust with itself in other years, net of a straight-line trend shared by all trusts, so "
         "lasting differences between trusts are taken out")


def _trend_column(frame) -> pd.DataFrame:
    years = frame.data.index.get_level_values("year").to_numpy(dtype=float)
    return pd.DataFrame({"trend": years - years.min()}, index=frame.data.index)


def _within(exog: pd.DataFrame, w, where: str):
    keep = [c for c in exog.columns if c != "const"]
    z = exog[keep].to_numpy(dtype=float)
    return group_demean(z, codes_of(exog.index)[0], w), z, keep


def _batch(b, time_effects: bool) -> FamilyFit:
    sw = np.ones(b.n) if b.w is None else np.sqrt(b.w)
    trend = (b.years[b.tim] - b.years.min()).astype(float)[:, None]
    z = sw[:, None] * group_demean(np.hstack([b.Y, b.X]), b.ent, b.w)
    z, rank, q = residualize(z, sw[:, None] * group_demean(trend, b.ent, b.w))
    p, g = b.Y.shape[1], len(run_starts(b.ent))
    # columns as linearmodels reports them: constant, exposure, trend; the trust effects absorbed
    return FamilyFit(z[:, p:], z[:, :p], b.ent, b.n, 3, g - 1, 0, g, len(b.years),
                     "" if rank == 1 else "the trend is constant within every trust", q=q)


ENTRY = FamilyEntry(
    name=NAME, label="trust fixed effects + linear trend", effect="within", design=PROSE, year_effects="never",
    supports=frozenset({"lags", "reverse", "placebo", "weights", "covariates", "curve"}), default=False,
    fit=FamilyModel(NAME, PanelOLS, _within, estimator_args={"entity_effects": True},
                    fit_args={"auto_df": False, "count_effects": False}, absorbs_entity=True,
                    extra_design=_trend_column),
    batch=_batch,
)


@pytest.fixture(scope="module")
def registered():
    assert NAME not in family_names()
    register_family(ENTRY)
    yield ENTRY
    unregister_family(NAME)
    assert NAME not in family_names() and NAME not in FAMILY_TEXT


@pytest.fixture(scope="module")
def panel():
    return make_panel(seed=4, n_trusts=40, drop_share=0.1)


def _dummy_fit(frame: pd.DataFrame, weighted: bool):
    """Slope, CR1 SE (K = constant, exposure, trend) and n of y on x, trend and trust dummies (numpy)."""
    trust = frame.index.get_level_values(0).to_numpy()
    year = frame.index.get_level_values(1).to_numpy(dtype=float)
    dummies = (trust[:, None] == np.unique(trust)[None, :]).astype(float)
    design = np.column_stack([frame["x"], year - year.min(), dummies])
    w = frame["w"].to_numpy(dtype=float) if weighted else np.ones(len(frame))
    sw = np.sqrt(w / w.mean())
    xs, ys = design * sw[:, None], frame["y"].to_numpy() * sw
    coef = np.linalg.lstsq(xs, ys, rcond=None)[0]
    resid = ys - xs @ coef
    bread = np.linalg.pinv(xs.T @ xs)
    groups = np.unique(trust)
    scores = np.array([(xs[trust == g] * resid[trust == g, None]).sum(0) for g in groups])
    v = bread @ scores.T @ scores @ bread
    n, g = len(ys), len(groups)
    factor = g / (g - 1) * (n - 1) / (n - 3)
    return coef[0], float(np.sqrt(v[0, 0] * factor)), n


def test_an_unregistered_family_is_refused_by_dotted_key():
    for section, key in (("model", "families"), ("multiverse", "families"), ("model", "headline_family")):
        value = [NAME] if key == "families" else NAME
        with pytest.raises(ParamsError, match=rf"{section}\.{key}(\[0\])?: not a"):
            validate_params({section: {key: value}})


def test_registered_family_is_accepted_by_params_and_listed(registered):
    p = validate_params({"model": {"families": ["twoway_fe", NAME], "headline_family": NAME},
                         "multiverse": {"families": ["twoway_fe", NAME], "inferential_families": [NAME]}})
    assert p.model.headline_family == NAME and NAME in p.multiverse.families
    assert NAME not in validate_params({}).model.families  # not a default: the default runs are unchanged
    assert FAMILY_TEXT[NAME] == registered.label and list(FAMILY_ORDER)[-1] == NAME


def test_model_stage_fits_it_and_equals_the_dummy_regression(registered, panel):
    params = ModelParams(families=["twoway_fe", NAME], headline_family=NAME, reverse=False, placebo_leads=[],
                         lags=[0], other_exposures=[])
    run = fit_models(panel, params)
    row = run.results[(run.results["model"] == NAME) & (run.results["term"] == params.exposure)
                      & (run.results["headline"].astype(str).str.lower() == "true")]
    assert len(row) == 1
    frame = panel.set_index(["org_code", "year"]).sort_index()[[params.dependent, params.exposure]].dropna()
    frame = frame.rename(columns={params.dependent: "y", params.exposure: "x"})
    est, se, n = _dummy_fit(frame.assign(w=1.0), weighted=False)
    assert float(row["estimate"].iloc[0]) == pytest.approx(est, abs=1e-10)
    assert float(row["std_error"].iloc[0]) == pytest.approx(se, rel=1e-8)
    assert int(row["n_obs"].iloc[0]) == n
    assert run.headline["family"] == NAME


def test_curve_fits_it_and_equals_the_dummy_regression(registered, panel):
    params = mv_params(families=["twoway_fe", NAME], inferential_families=[NAME], headline_family=NAME,
                       samples=["all", "balanced"], lags=[0, 1], falsification_reverse=False)
    table, _ = fit_specs(panel, enumerate_specs(panel, params), params)
    mine = table[(table["family"] == NAME) & (table["status"] == "ok")]
    assert len(mine) >= 8 and set(mine["weights"]) == {"none", "respondents"}
    for _, spec in mine.iterrows():
        est, se, n = _dummy_fit(spec_frame(panel, spec), weighted=spec["weights"] == "respondents")
        assert spec["estimate"] == pytest.approx(est, abs=1e-10), spec.to_dict()
        assert spec["std_error"] == pytest.approx(se, rel=1e-8), spec.to_dict()
        assert spec["n_obs"] == n


def test_curve_estimate_equals_pyfixest(registered, panel):
    pf = pytest.importorskip("pyfixest", reason="pyfixest not installed (dev dependency)")
    params = mv_params(families=[NAME], inferential_families=[NAME], headline_family=NAME, samples=["all"],
                       weights=["none"], lags=[0], falsification_reverse=False, bootstrap_specs=0)
    table, _ = fit_specs(panel, enumerate_specs(panel, params), params)
    spec = table[(table["status"] == "ok")].iloc[0]
    frame = spec_frame(panel, spec).reset_index()
    frame["trend"] = frame["year"] - frame["year"].min()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols("y ~ x + trend | org_code", data=frame, vcov={"CRV1": "org_code"})
    assert spec["estimate"] == pytest.approx(float(fit.coef()["x"]), abs=1e-8)


def test_site_describes_it_from_its_entry(registered, panel):
    from linkage.catalogue import load_catalogue
    from linkage.params import Params
    from linkage.site.build import methods_text, model_label
    from linkage.site.design import design_of
    from linkage.site.inputs import SiteInputs

    params = Params().model_copy(update={"model": ModelParams(
        families=[NAME], headline_family=NAME, reverse=False, placebo_leads=[], lags=[0], other_exposures=[])})
    run = fit_models(panel, params.model)
    inputs = SiteInputs(root=panel.attrs.get("root", "."), panel=panel, results=run.results.copy(),
                        headline=dict(run.headline), notes={"warnings": run.warnings, "skipped": run.skipped},
                        linkage={}, ingest={}, manifest={"source": "local"}, catalogue=load_catalogue(),
                        params=params)
    d = design_of(inputs)
    assert d.within and d.year_effects is False
    assert PROSE in d.comparison()
    assert model_label(d) == ENTRY.label
    text = " ".join(methods_text(inputs))
    assert f"The headline model ({ENTRY.label}) {PROSE}" in text
