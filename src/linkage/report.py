"""Stage ``report``: the plain-language summary, figures first, with full provenance.

The report reads only the small outputs of earlier stages (metrics JSON, the
tidy model results and the linkage audit), so it re-renders in seconds and a
reviewer can trace every number to a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .params import ReportParams
from .vocab import COV_PLAIN, UNIT_TEXT

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Report:
    title_block: str
    findings: str
    coverage: pd.DataFrame
    caveats: str
    headline: dict[str, Any]
    results: pd.DataFrame


def _fmt(x: Any, d: int) -> str:
    try:
        return f"{float(x):.{d}f}"
    except (TypeError, ValueError):
        return "n/a"


def _p(p: Any) -> str:
    try:
        p = float(p)
    except (TypeError, ValueError):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _row(results: Any, model: str, spec_name: str | None = None, term: str | None = None) -> Any:
    r = results[results["model"] == model]
    if spec_name is not None:
        r = r[r["spec_name"] == spec_name]
    if term is not None:
        r = r[r["term"] == term]
    return r.iloc[0] if len(r) else None


def of_interest(results: Any, head: dict[str, Any] | None = None) -> Any:
    """Rows of each specification's regressor of interest (not controls or year effects).

    That is the (shifted) measure the specification is about - ``L1.staff.stress``,
    ``F1.staff.stress``, ``L1.patient.ip_overall`` - and Mundlak's contextual
    ``mean(...)`` row of it.
    """
    if results.empty:
        return results
    reg = results["regressor"].astype(str)
    term = results["term"].astype(str)
    return results[(term == reg) | (term == "mean(" + reg + ")")]


def build(
    rp: ReportParams,
    *,
    headline: dict[str, Any],
    linkage: dict[str, Any],
    ingest: dict[str, dict[str, Any]],
    results: pd.DataFrame,
    notes: dict[str, Any],
) -> Report:
    """Assemble the report's text and tables from the outputs of the earlier stages.

    Parameters
    ----------
    rp
        The ``report`` params section.
    headline, linkage, ingest
        ``metrics/headline.json``, ``metrics/linkage.json`` and the two
        ``metrics/ingest_<kind>.json`` (by kind).
    results, notes
        ``model_results.csv`` and ``model_notes.json`` of the model stage.
    """
    import pandas as pd

    from .catalogue import load_catalogue

    d = rp.decimals
    head, link, ing = headline, linkage, ingest
    cat = load_catalogue()
    dep, exp = cat.measures.get(head["dependent"]), cat.measures.get(head["exposure"])
    dep_label = dep.label if dep else head["dependent"]
    exp_label = exp.label if exp else head["exposure"]
    demo = bool(head.get("synthetic_demo"))

    banner = ("> **SYNTHETIC DEMO DATA.** Every number in this report comes from simulated trusts with a planted "
              "effect; it says nothing about the NHS.\n\n" if demo else "")
    title_block = f"# {rp.title}\n\n{banner}_{rp.audience_note}_"

    est, lo, hi = head["estimate"], head["ci_low"], head["ci_high"]
    per_sd = head.get("estimate_per_within_sd")
    years = head.get("years", [])
    lag = head.get("lag", 0)
    unit = UNIT_TEXT.get(exp.unit, "unit") if exp else "unit"
    dep_unit = UNIT_TEXT.get(dep.unit, "unit") if dep else "unit"
    level = int((1 - head.get("alpha", 0.05)) * 100)
    when = "in the same survey year" if lag == 0 else f"{lag} year(s) later"
    direction = "lower" if est < 0 else "higher"
    sig = lo > 0 or hi < 0
    findings = [
        f"- **The question.** Within the same trust over time, are years with higher *{exp_label}* followed "
        f"{when} by different *{dep_label}*, beyond what is fixed about each trust and common to each year?",
        f"- **The answer in this data.** Each {unit} higher {exp_label} goes with {_fmt(abs(est), d)} {dep_unit}s "
        f"{direction} {dep_label} ({level}% CI {_fmt(lo, d)} to {_fmt(hi, d)}; p = {_p(head['p_value'])}). "
        + ("The interval excludes zero." if sig else "The interval includes zero: no clear within-trust association."),
    ]
    between = _row(results, "between", term=head["term"])
    if between is not None:
        findings.append(
            f"- **Compared with the classic design.** Comparing *different* trusts with each other (trust averages, "
            f"the cross-sectional design of older studies) gives {_fmt(between['estimate'], d)} "
            f"({level}% CI {_fmt(between['ci_low'], d)} to {_fmt(between['ci_high'], d)}). "
            + ("A gap between the two means that fixed differences between trusts drive much of the cross-sectional correlation."
               if not (lo <= between["estimate"] <= hi) else "The two designs agree within the uncertainty.")
        )
    others = of_interest(results)
    others = others[(others["spec_name"].astype(str).str.startswith("exposure_")) & (others["model"] == head["family"])]
    if len(others):
        parts = []
        for _, r in others.iterrows():
            m = cat.measures.get(str(r["regressor"]))
            parts.append(f"{m.label if m else r['regressor']}: {_fmt(r['estimate'], d)} [{_fmt(r['ci_low'], d)}, "
                         f"{_fmt(r['ci_high'], d)}] ({int(r['n_entities'])} trusts, {int(r['n_obs'])} trust-years)")
        findings.append("- **Other wellbeing measures** (same design, one model each; not adjusted for testing several): "
                        + "; ".join(parts) + ".")
    directions = []
    for _, r in of_interest(results)[lambda d: (d["model"] == head["family"]) & ~d["spec_name"].astype(str).str.startswith("exposure_")].iterrows():
        if r["direction"] == "forward" and r.get("headline") is True:
            continue
        if r["direction"] in ("reverse", "placebo") or (r["direction"] == "forward" and int(r["lag"]) != lag):
            directions.append(f"{r['spec']}: **{r['term']}** {_fmt(r['estimate'], d)} [{_fmt(r['ci_low'], d)}, {_fmt(r['ci_high'], d)}]")
    if directions:
        findings.append("- **Timing and direction** (same design; reverse rows are in the staff measure's units): "
                        + "; ".join(directions[:8]) + ". Placebo leads (future staff 'predicting' past patients) "
                        "should be near zero. Rows with '+ ...(t)' also hold the same measure at year t: in short panels "
                        "with trust effects an unadjusted lag or lead picks up part of any same-year association.")
    findings += [
        f"- **In people's terms.** A one standard deviation change *within a trust* in {exp_label} goes with "
        f"{_fmt(per_sd, d)} {dep_unit}s of {dep_label}; {_fmt(100 * float(head.get('within_share', float('nan'))), 0)}% of "
        f"the variation in {exp_label} is within trusts over time.",
        f"- **How much data.** {head['n_trusts']} trusts, {head['n_obs']} trust-years, survey years "
        f"{', '.join(str(y) for y in years)} (two-way fixed effects; {COV_PLAIN.get(head.get('cov_type'), head.get('cov_type'))}, "
        f"small-sample convention {head.get('small_sample')}).",
        f"- **What could be detected.** With this panel the smallest effect detectable with "
        f"{int(100 * head.get('power', 0.8))}% power is about {_fmt(head.get('mde'), d)} {dep_unit}s per {unit}.",
    ]
    if demo and "true_effect" in head:
        findings.append(f"- **Demo check.** The planted effect is {head['true_effect']}; the interval "
                        f"{'covers' if head.get('covers_true_effect') else 'does NOT cover'} it.")
    if notes.get("skipped"):
        items = [str(x).split(": ", 1)[-1] for x in notes["skipped"]]
        findings.append("- **Not estimable with these data** (listed, not hidden): "
                        + "; ".join(i if len(i) < 170 else i[:167] + "..." for i in items) + ".")
    findings.append("- **Not causal.** This is an association within trusts over time. It survives the fixed "
                    "differences between trusts, but not every confounder that changes within a trust.")

    cov_rows = []
    for kind, m in ing.items():
        for y, n in (m.get("organisations_by_year") or {}).items():
            label = "staff survey organisations (all kinds)" if kind == "staff" else "inpatient survey trusts"
            cov_rows.append({"source": label, "year": int(y), "organisations": n})
    coverage = pd.DataFrame(cov_rows)
    if len(coverage):
        coverage = coverage.pivot_table(index="year", columns="source", values="organisations", aggfunc="sum").fillna(0).astype(int)
    if link.get("trusts_both_by_year"):
        both = pd.Series(link["trusts_both_by_year"], name="trusts in the panel with both")
        both.index = both.index.astype(int)
        coverage = coverage.join(both, how="outer") if len(coverage) else both.to_frame()
    if len(coverage):
        coverage = coverage.fillna(0).astype(int)
        coverage.index.name = "survey year"

    caveats = [
        "- **Series breaks.** The Staff Survey was redesigned in 2021 (People Promise themes); the Inpatient "
        "Survey changed method in 2020. Comparisons across a break are excluded (see the link step).",
        "- **Short panel.** Few years per trust make within-trust estimates imprecise and make models with a "
        "lagged dependent variable biased (Nickell bias).",
        "- **Measurement.** Trust scores are survey estimates; sampling error in staff measures attenuates "
        "associations towards zero (see the reliability table in the model step).",
        "- **Survey years.** Staff Survey fieldwork runs September-December; the Inpatient Survey samples "
        "November discharges. 'Same year' therefore means roughly the same months.",
    ]
    if not demo:
        caveats.append("- **Real data.** Published files only; organisation mergers are combined with "
                       "respondent-weighted means, and every excluded row is in data/processed/linkage_audit.csv.")
    return Report(title_block, "\n".join(findings), coverage, "\n".join(caveats), head, results)


def headline_figure(rep: Report) -> Any:
    """Estimates with CIs, one panel per kind of question, each on its own x-axis.

    Forward and placebo rows are in patient units per unit of the exposure;
    reverse rows in staff units per patient unit; other wellbeing measures are
    shown per within-trust SD of each measure, so that different scales compare.
    """
    import matplotlib.pyplot as plt
    import pandas as pd

    r = of_interest(rep.results)
    other = r["spec_name"].astype(str).str.startswith("exposure_")
    head_exposure = r[~other & (r["spec_name"] == r.loc[r["headline"].astype(bool), "spec_name"].iloc[0])] \
        if r["headline"].astype(bool).any() else r.iloc[0:0]
    per_sd = pd.concat([head_exposure[head_exposure["model"] == rep.headline["family"]], r[other]])
    sd = per_sd["within_sd"].astype(float)
    per_sd = per_sd.assign(estimate=per_sd["estimate"] * sd, ci_low=per_sd["ci_low"] * sd, ci_high=per_sd["ci_high"] * sd)
    panels = [(t, rows) for t, rows in (
        ("Staff measure -> patient experience (all designs)", r[~other & (r["direction"] == "forward")]),
        ("Each wellbeing measure, per within-trust SD (headline design)", per_sd if other.any() else per_sd.iloc[0:0]),
        ("Reverse: patient experience -> staff measure", r[r["direction"] == "reverse"]),
        ("Placebo: future staff measure -> past patient experience", r[r["direction"] == "placebo"]),
    ) if len(rows)]
    heights = [max(1.2, 0.42 * len(p) + 0.8) for _, p in panels]
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, sum(heights)), gridspec_kw={"height_ratios": heights},
                             squeeze=False)
    for ax, (title, rows) in zip(axes[:, 0], panels, strict=True):
        rows = rows.drop_duplicates(["model_label", "spec", "effect"])
        labels = [f"{m} | {s_}" + (f" ({e})" if e in ("within", "between", "contextual") and "Mundlak" in str(m) else "")
                  for m, s_, e in zip(rows["model_label"], rows["spec"], rows["effect"], strict=True)]
        y = list(range(len(rows)))
        head = rows["headline"].astype(bool).to_numpy()
        ax.errorbar(rows["estimate"], y, xerr=[rows["estimate"] - rows["ci_low"], rows["ci_high"] - rows["estimate"]],
                    fmt="none", ecolor="#7f8c8d", capsize=3)
        ax.scatter(rows["estimate"], y, c=["#c0392b" if h else "#2c3e50" for h in head], zorder=3)
        ax.axvline(0, color="grey", ls="--", lw=1)
        ax.set_yticks(y, labels)
        ax.invert_yaxis()
        ax.set_title(title, loc="left", fontsize=11)
    axes[-1, 0].set_xlabel("Estimate with confidence interval (red: headline)")
    fig.tight_layout()
    return axes[0, 0]
