"""Stage ``model``: panel models of patient experience on staff wellbeing."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..context_models import run_context_models
from ..files import read_json, read_table, write_json, write_table
from ..models import ModelRun, fit_models
from ..models.multilevel import fit_multilevel
from ..models.region_cluster import fit_region_cluster
from ..models.riclpm import fit_riclpm
from ..models.sensitivity import fit_sensitivity
from ..params import ModelParams, Params
from ..paths import DEMO_TRUTH, STAGES
from ..provenance import is_demo

STAGE = STAGES["model"]


def run(params: Params) -> ModelRun:
    """Fit the models on the panel; write results, notes, headline metrics and coefficient plot data."""
    panel = read_table(STAGE.path("panel"))
    run_ = fit_models(panel, params.model)
    multilevel, sensitivity = fit_multilevel(panel, params.model), fit_sensitivity(panel, params.model)
    region = fit_region_cluster(panel, params.model)
    write_json(STAGE.path("context"), run_context_models(panel, params.model))
    riclpm = fit_riclpm(panel, params.model)
    extra = [r for r in (multilevel.rows(), sensitivity.rows(), region.rows()) if not r.empty]
    results = riclpm.with_rows(run_.results)
    write_table(pd.concat([results, *extra], ignore_index=True) if extra else results, STAGE.path("results"))
    write_json(STAGE.path("riclpm"), riclpm.summary())
    write_json(STAGE.path("headline"), {**headline_metrics(run_, params.model),
                                        **beside_headline(multilevel.summary(), sensitivity.summary(),
                                                          region.summary())})
    write_json(STAGE.path("notes"), {"convention": run_.convention, "warnings": run_.warnings,
                                     "skipped": run_.skipped, "hausman": run_.hausman,
                                     "multilevel": multilevel.summary(), "sensitivity": sensitivity.summary(),
                                     "region_cluster": region.summary()})
    term = str(run_.headline.get("term", params.model.exposure))
    coef = run_.results[run_.results["term"] == term]
    coef = coef.assign(label=coef["model"] + " | " + coef["spec_name"].astype(str))
    write_table(coef[["label", "model", "spec_name", "direction", "lag", "estimate", "ci_low", "ci_high",
                      "p_value", "n_obs"]], STAGE.path("coefficients"))
    return run_


def beside_headline(multilevel: dict[str, Any], sensitivity: dict[str, Any],
                    region: dict[str, Any]) -> dict[str, Any]:
    """Small nested metrics of the multilevel model, the sensitivity analysis and the region-clustered
    headline (for ``dvc exp show``); the full summaries are in model_notes.json."""
    ml: dict[str, Any] = {"status": multilevel["status"]}
    if multilevel["status"] == "fitted":
        level = multilevel["level"]
        ml.update(within=multilevel["within"], between=multilevel["between"], groups=multilevel["n_groups"],
                  share={level: multilevel["share"][level], "trust": multilevel["share"]["trust"]})
    sens: dict[str, Any] = {"status": sensitivity["status"]}
    if sensitivity["status"] == "fitted":
        sens.update(rv=sensitivity["rv_q1"], rv_alpha=sensitivity["rv_q1_alpha"], r2yd=sensitivity["r2yd_x"])
    reg: dict[str, Any] = {"status": region["status"]}
    if region["status"] == "fitted":
        reg.update(se=region["std_error"], p=region["p_value"], p_boot=region["boot_p_value"], regions=region["n_regions"])
    return {"multilevel": ml, "sensitivity": sens, "region_cluster": reg}


def headline_metrics(run_: ModelRun, m: ModelParams) -> dict[str, Any]:
    """The headline estimate, with the planted truth and whether the interval covers it on the demo.

    ``covers_true_effect`` uses the measurement-error corrected interval when the run has one
    (``covers_true_effect_interval`` says which); ``covers_true_effect_naive`` is the naive interval's.
    """
    headline = dict(run_.headline)
    headline["synthetic_demo"] = is_demo()
    if headline["synthetic_demo"]:
        info = read_json(DEMO_TRUTH, missing={}).get("truth")
        if info and info["exposure"] == m.exposure and info["dependent"] == m.dependent and m.lag == 0:
            truth = float(info["true_effect"])
            headline["true_effect"] = truth
            # the demo plants its effect on latent values published with sampling error, so the naive
            # interval is attenuated; the check uses the measurement-error corrected interval when there is one
            naive = bool(headline["ci_low"] <= truth <= headline["ci_high"])
            if headline.get("ci_low_corrected") is not None:
                headline["covers_true_effect"] = bool(
                    headline["ci_low_corrected"] <= truth <= headline["ci_high_corrected"])
                headline["covers_true_effect_interval"] = "corrected"
            else:
                headline["covers_true_effect"] = naive
                headline["covers_true_effect_interval"] = "naive"
            headline["covers_true_effect_naive"] = naive
    return headline
