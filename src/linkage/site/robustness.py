"""Words for the multilevel model and the sensitivity analysis (``model_notes.json`` keys
``multilevel`` and ``sensitivity``): the robustness sentence under the headline, the variance
shares, and what each assumes on the methods page. Every number comes from the fit."""

from __future__ import annotations

from typing import Any

from .design import design_of
from .words import and_list, nice

LEVEL = {"region": ("NHS region", "NHS regions"), "icb": ("integrated care board", "integrated care boards")}


def _pct(x: float) -> str:
    return f"{nice(100 * x, 2)}%"


def _bound_text(s: dict[str, Any], kd_max: dict[str, Any] | None) -> str:
    bench = "the year effects" if s.get("benchmark_kind") == "year_effects" else f"“{s.get('benchmark')}”"
    base = (f"For comparison, {bench} explain {_pct(s['r2dxj_x'])} of the residual variance of the exposure and "
            f"{_pct(s['r2yxj_dx'])} of the outcome's.")
    if kd_max is None:
        return base
    k = nice(kd_max["kd"], 2)
    if not kd_max["admissible"]:
        return f"{base} A confounder {k} times as strong is impossible (it would explain all of the exposure)."
    moved = "would no longer be distinguishable from zero" if kd_max["crosses_zero"] else "would still exclude zero"
    return (f"{base} A confounder {k} times as strong as {bench} (with both) would move the estimate to "
            f"{nice(kd_max['adjusted_estimate'], 2)} (interval {nice(kd_max['ci_low'], 2)} to "
            f"{nice(kd_max['ci_high'], 2)}), which {moved}.")


def robustness_sentence(inputs: Any) -> str:
    """The E-value style sentence for the headline, or why there is none."""
    s = (inputs.notes or {}).get("sensitivity") or {}
    if s.get("status") != "fitted":
        return f"No sensitivity analysis: {s['reason']}." if s.get("reason") else ""
    d = design_of(inputs)
    x, y = d.exposure, d.outcome
    lead = (f"An unmeasured confounder would have to explain at least {_pct(s['rv_q1'])} of the residual variance "
            f"of both {x.quoted} and {y.quoted} (after {s['absorbed']}) to bring the headline estimate to zero, and "
            f"{_pct(s['rv_q1_alpha'])} of both to make it indistinguishable from zero at the "
            f"{nice(100 * (1 - s['alpha']), 2)}% level (Cinelli and Hazlett's robustness values, on the classical "
            f"OLS t of the same regression; the exposure explains {_pct(s['r2yd_x'])} of the outcome's residual variance).")
    if s.get("benchmark") is None:
        return f"{lead} There is no observed covariate or year effect to compare a confounder with."
    bounds = s.get("bounds", [])
    return f"{lead} {_bound_text(s, max(bounds, key=lambda b: b['kd']) if bounds else None)}"


def multilevel_sentence(inputs: Any) -> str:
    """The multilevel variance shares and within/between associations, or why the model was not fitted."""
    m = (inputs.notes or {}).get("multilevel") or {}
    if m.get("status") != "fitted":
        return f"No multilevel model: {m['reason']}." if m.get("reason") else ""
    one, many = LEVEL[m["level"]]
    sh = m["share"]
    boundary = (f" The {one} variance is at zero: the {m['n_groups']} {many} differ no more than their trusts "
                "would by chance." if m["level"] in m.get("boundary", []) else "")
    return (f"In a multilevel model of {m['n_obs']} trust-years in {m['n_trusts']} trusts in {m['n_groups']} {many}, "
            f"{_pct(sh[m['level']])} of the variance of the outcome left after the fixed terms lies between {many}, "
            f"{_pct(sh['trust'])} between trusts within them and {_pct(sh['residual'])} between years within a trust."
            f"{boundary} Its within-trust association is {nice(m['within'], 2)} (SE {nice(m['within_se'], 2)}) "
            f"per unit of the exposure and the association between trusts' averages {nice(m['between'], 2)} "
            f"(SE {nice(m['between_se'], 2)}); both are associations, not effects.")


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
    s = notes.get("sensitivity") or {}
    if s.get("status") == "fitted":
        bench = ("the year effects as one group" if s.get("benchmark_kind") == "year_effects"
                 else f"the strongest covariate ({s['benchmark']})" if s.get("benchmark") else "nothing observed")
        out.append(
            "Sensitivity to an unmeasured confounder (Cinelli and Hazlett 2020, checked against PySensemakr): the "
            f"headline regression with {s['absorbed']} absorbed ({s['dof']} residual degrees of freedom: "
            "observations minus trusts minus regressors), the classical OLS t statistic, and bounds for a confounder "
            f"{and_list(nice(b['kd'], 2) for b in s['bounds'])} times as related to the exposure and the outcome as {bench}. It assumes a single linear "
            "confounder and says how strong it would have to be, not whether one exists.")
    elif s.get("reason"):
        out.append(f"No sensitivity analysis: {s['reason']}.")
    return out
