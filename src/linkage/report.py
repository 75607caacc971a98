"""Stage ``report``: the plain-language summary, figures first, with full provenance.

The report reads only the small outputs of earlier stages (metrics JSON, the
tidy model results and the linkage audit), so it re-renders in seconds and a
reviewer can trace every number to a file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from .params import Section

if TYPE_CHECKING:
    import matplotlib.pyplot as plt
    import pandas as pd


class ReportParams(Section):
    title: str = Field("Does staff wellbeing predict patient experience?", description="Title of the rendered summary report.")
    audience_note: str = Field(
        "Written for policy analysts; the step-by-step notebooks (reports/01-04) hold the detail for researchers and reviewers.",
        description="One sentence under the title saying who the report is for.",
    )
    decimals: int = Field(3, ge=1, le=6, description="Decimal places for estimates in the report text.")


@dataclass
class Report:
    title_block: str
    findings: str
    coverage: pd.DataFrame
    caveats: str
    headline: dict[str, Any]
    results: pd.DataFrame


def _load_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


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


def build(params: Any, root: str | Path = ".") -> Report:
    """Assemble the report's text and tables from the stage outputs."""
    import pandas as pd

    from .catalogue import load_catalogue

    root = Path(root)
    rp = params.report
    d = rp.decimals
    head = _load_json(root / "metrics/headline.json")
    link = _load_json(root / "metrics/linkage.json")
    ing = {k: _load_json(root / f"metrics/ingest_{k}.json") for k in ("staff", "patient")}
    results = pd.read_csv(root / "data/processed/model_results.csv")
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
    when = "in the same survey year" if lag == 0 else f"{lag} year(s) later"
    direction = "lower" if est < 0 else "higher"
    sig = lo > 0 or hi < 0
    findings = [
        f"- **The question.** Within the same trust over time, are years with higher *{exp_label}* followed "
        f"{when} by different *{dep_label}*, beyond what is fixed about each trust and common to each year?",
        f"- **The answer in this data.** Each 1-unit higher {exp_label} goes with {_fmt(abs(est), d)} {direction} "
        f"{dep_label} ({int((1 - head.get('alpha', 0.05)) * 100)}% CI {_fmt(lo, d)} to {_fmt(hi, d)}; p = {_p(head['p_value'])}). "
        + ("The interval excludes zero." if sig else "The interval includes zero: no clear association."),
        f"- **In people's terms.** A one standard deviation change *within a trust* in {exp_label} goes with "
        f"{_fmt(per_sd, d)} points of {dep_label}; {_fmt(100 * float(head.get('within_share', float('nan'))), 0)}% of "
        f"the variation in {exp_label} is within trusts over time.",
        f"- **How much data.** {head['n_trusts']} trusts, {head['n_obs']} trust-years, survey years "
        f"{', '.join(str(y) for y in years)} (two-way fixed effects; {head.get('cov_type', '')}).",
        f"- **What could be detected.** With this panel the smallest effect detectable with "
        f"{int(100 * head.get('power', 0.8))}% power is about {_fmt(head.get('mde'), d)} per unit.",
    ]
    if demo and "true_effect" in head:
        findings.append(f"- **Demo check.** The planted effect is {head['true_effect']}; the interval "
                        f"{'covers' if head.get('covers_true_effect') else 'does NOT cover'} it.")
    findings.append("- **Not causal.** This is an association within trusts over time. It survives the fixed "
                    "differences between trusts, but not every confounder that changes within a trust.")

    cov_rows = []
    for kind, m in ing.items():
        for y, n in (m.get("organisations_by_year") or {}).items():
            cov_rows.append({"source": kind, "year": int(y), "organisations": n})
    coverage = pd.DataFrame(cov_rows)
    if len(coverage):
        coverage = coverage.pivot_table(index="year", columns="source", values="organisations", aggfunc="sum").fillna(0).astype(int)
    if link.get("trusts_both_by_year"):
        both = pd.Series(link["trusts_both_by_year"], name="linked (both)")
        both.index = both.index.astype(int)
        coverage = coverage.join(both, how="outer") if len(coverage) else both.to_frame()

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


def headline_figure(rep: Report, ax: plt.Axes | None = None) -> plt.Axes:
    """Exposure estimate across model families and directions, with CIs."""
    import matplotlib.pyplot as plt

    r = rep.results
    term = rep.headline["term"]
    rows = r[(r["term"] == term) | ((r["direction"] != "forward") & ~r["term"].astype(str).str.startswith("year"))]
    rows = rows[rows["term"].astype(str) != "const"].copy()
    rows = rows[rows["term"].astype(str).str.contains("staff|patient", regex=True)]
    rows["label"] = rows["model_label"].astype(str) + " | " + rows["spec"].astype(str)
    rows = rows.drop_duplicates("label").head(16)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.45 * len(rows) + 1.5))
    y = list(range(len(rows)))
    ax.errorbar(rows["estimate"], y, xerr=[rows["estimate"] - rows["ci_low"], rows["ci_high"] - rows["estimate"]],
                fmt="o", color="#2c3e50", ecolor="#7f8c8d", capsize=3)
    ax.axvline(0, color="grey", ls="--", lw=1)
    ax.set_yticks(y, rows["label"])
    ax.invert_yaxis()
    ax.set_xlabel("Estimate with confidence interval")
    ax.set_title("Estimates by model and direction")
    return ax
