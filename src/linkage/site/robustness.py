"""Words for the multilevel model and the sensitivity analysis (``model_notes.json`` keys
``multilevel`` and ``sensitivity``): the robustness sentence under the headline, the variance
shares, and what each assumes on the methods page. Every number comes from the fit."""

from __future__ import annotations

from typing import Any

import numpy as np

from .design import design_of
from .words import and_list, nice

LEVEL = {"region": ("NHS region", "NHS regions"), "icb": ("integrated care board", "integrated care boards")}


def _num(x: float) -> str:
    """Two significant figures, or one when that would need more than three decimals."""
    text = nice(x, 2)
    return nice(x, 1) if "." in text and len(text.split(".")[1]) > 3 else text


def _pct(x: float) -> str:
    return "under 0.1%" if 0 < x < 0.001 else f"{nice(100 * x, 2)}%"


def _bound_text(s: dict[str, Any], bnd: dict[str, Any] | None) -> str:
    bench = "the year effects" if s.get("benchmark_kind") == "year_effects" else f"“{s.get('benchmark')}”"
    base = (f"For comparison, {bench} explain {_pct(s['r2dxj_x'])} of the residual variance of the exposure and "
            f"{_pct(s['r2yxj_dx'])} of the outcome's.")
    if bnd is None:
        return base
    k = "as strong" if bnd["kd"] == 1 else f"{bnd['kd']:g} times as strong"
    if not bnd["admissible"]:
        return f"{base} A confounder {k} as {bench} is impossible (it would explain all of the exposure)."
    if np.sign(bnd["adjusted_estimate"]) != np.sign(s["estimate"]):
        moved = "would reverse its sign"
    else:
        moved = "would no longer be distinguishable from zero" if bnd["crosses_zero"] else "would still exclude zero"
    if bnd.get("r2yz_capped"):
        return (f"{base} A confounder {k} as {bench} would explain all of the outcome's residual "
                f"variance and move the estimate to {_num(bnd['adjusted_estimate'])}, which {moved}.")
    return (f"{base} A confounder {k} as {bench} (with both) would move the estimate to "
            f"{_num(bnd['adjusted_estimate'])} (interval {_num(bnd['ci_low'])} to "
            f"{_num(bnd['ci_high'])}), which {moved}.")


def robustness_sentence(inputs: Any) -> str:
    """The E-value style sentence for the headline, or why there is none."""
    s = (inputs.notes or {}).get("sensitivity") or {}
    if s.get("status") != "fitted":
        return f"No sensitivity analysis: {s['reason']}." if s.get("reason") else ""
    d = design_of(inputs)
    x, y = d.exposure, d.outcome
    level = f"{nice(100 * (1 - s['alpha']), 2)}% level"
    if s["rv_q1_alpha"] > 0:
        second = f"and {_pct(s['rv_q1_alpha'])} of both to make it indistinguishable from zero at the {level}"
    else:  # RV_q,alpha is 0 when the interval already includes zero: no confounder is needed for that
        second = f"and the estimate is already indistinguishable from zero at the {level} without any confounder"
    lead = (f"An unmeasured confounder would have to explain at least {_pct(s['rv_q1'])} of the residual variance "
            f"of both {x.quoted} and {y.quoted} (after {s['absorbed']}) to bring the headline estimate to zero, "
            f"{second} (Cinelli and Hazlett's robustness values, on the classical OLS t of the same regression; "
            f"the exposure explains {_pct(s['r2yd_x'])} of the outcome's residual variance).")
    if s.get("benchmark") is None:
        return f"{lead} There is no observed covariate or year effect to compare a confounder with."
    bounds = s.get("bounds", [])
    return f"{lead} {_bound_text(s, min(bounds, key=lambda b: b['kd']) if bounds else None)}"


def multilevel_sentence(inputs: Any) -> str:
    """The multilevel variance shares and within/between associations, or why the model was not fitted."""
    m = (inputs.notes or {}).get("multilevel") or {}
    if m.get("status") != "fitted":
        return f"No multilevel model: {m['reason']}." if m.get("reason") else ""
    one, many = LEVEL[m["level"]]
    sh = m["share"]
    d = design_of(inputs)
    per = f"per {d.exposure.unit_words(1)} of {d.exposure.quoted}, in {d.outcome.unit_words()} of {d.outcome.quoted},"
    boundary = (f" The {one} variance is at zero: the {m['n_groups']} {many} differ no more than their trusts "
                "would by chance." if m["level"] in m.get("boundary", []) else "")
    return (f"In a multilevel model of {m['n_obs']} trust-years in {m['n_trusts']} trusts in {m['n_groups']} {many}, "
            f"{_pct(sh[m['level']])} of the variance of the outcome left after the fixed terms lies between {many}, "
            f"{_pct(sh['trust'])} between trusts within them and {_pct(sh['residual'])} between years within a trust."
            f"{boundary} Its within-trust association is {_num(m['within'])} {per} and the "
            f"association between trusts' averages {_num(m['between'])}; both are associations, not effects.")


def robustness_methods(inputs: Any) -> list[str]:
    """What the multilevel model and the sensitivity analysis assume, for the methods page."""
    notes = inputs.notes or {}
    out = []
    m = notes.get("multilevel") or {}
    if m.get("status") == "fitted":
        one, many = LEVEL[m["level"]]
        slope = " and a random slope of the within-trust deviation by trust" if m["random_slope"] else ""
        out.append(
            f"Multilevel model ({m['method'].upper()}, statsmodels MixedLM, checked against R lme4): random intercepts "
            f"for the {one} and for the trust within it{slope}, the exposure split into each trust's mean and the "
            "year's deviation from it (the within-between or hybrid model), and year effects. It assumes the "
            f"random intercepts are normal and unrelated to the regressors given the trust means, and with "
            f"{m['n_groups']} {many} their variance is imprecise; standard errors are model-based.")
    elif m.get("reason"):
        out.append(f"Multilevel model not fitted: {m['reason']}.")
    r = notes.get("region_cluster") or {}
    if r.get("status") == "fitted":
        out.append(
            f"Clustering by NHS region: the headline regression with cluster-robust standard errors by region "
            f"({r['n_regions']} clusters, CR1 scaling, t with {r['n_regions'] - 1} df) and a restricted wild cluster "
            f"bootstrap by region ({r['reps']} draws of Webb's six-point weights, null imposed, interval by test "
            "inversion). It allows any correlation within a region, none between regions.")
    s = notes.get("sensitivity") or {}
    if s.get("status") == "fitted":
        bench = ("the year effects as one group" if s.get("benchmark_kind") == "year_effects"
                 else f"the strongest covariate ({s['benchmark']})" if s.get("benchmark") else "nothing observed")
        out.append(
            "Sensitivity to an unmeasured confounder (Cinelli and Hazlett 2020, checked against PySensemakr): the "
            f"headline regression with {s['absorbed']} absorbed ({s['dof']} residual degrees of freedom: "
            "observations minus trusts minus regressors), the classical OLS t statistic, and bounds for a confounder "
            f"{and_list(format(b['kd'], 'g') for b in s['bounds'])} times as related to the exposure and the outcome as {bench}. It assumes a single linear "
            "confounder and says how strong it would have to be, not whether one exists.")
    elif s.get("reason"):
        out.append(f"No sensitivity analysis: {s['reason']}.")
    return out


def region_sentence(inputs: Any) -> str:
    """The headline's p-value clustered by region, with the wild bootstrap's when regions are few."""
    r = (inputs.notes or {}).get("region_cluster") or {}
    if r.get("status") != "fitted":
        return ""
    def p_text(p: float) -> str:
        return "p < 0.001" if p < 0.001 else f"p = {_num(p)}"

    boot = (f"the wild cluster bootstrap by region gives {p_text(r['boot_p_value'])} (interval "
            f"{_num(r['boot_ci_low'])} to {_num(r['boot_ci_high'])}, {r['reps']} draws)")
    analytic = f"standard errors clustered by region give {p_text(r['p_value'])} on t with {r['n_regions'] - 1} df"
    if r["few_clusters"]:
        return (f"Allowing for correlation within the {r['n_regions']} NHS regions: {boot}; with so few regions "
                f"this is the one to read ({analytic}, which over-rejects with few clusters).")
    return f"Allowing for correlation within the {r['n_regions']} NHS regions: {analytic}; {boot}."
