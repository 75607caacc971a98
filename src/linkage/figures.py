"""Figures and display tables shared by the notebooks (matplotlib; seaborn for one box plot)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from .vocab import FAMILY_ORDER


def plot_comparison(run: Any, ax: plt.Axes | None = None) -> plt.Axes:
    """Exposure coefficient with its CI across model families (headline spec).

    The cross-sectional ('between') design is the classic literature design;
    the within-trust designs compare a trust with itself over time.
    """
    comp = run.comparison
    term = run.headline["term"]
    rows = comp[comp["term"] == term].copy()
    rows["order"] = rows["model"].map({m: i for i, m in enumerate(FAMILY_ORDER)}).fillna(99)
    rows = rows.sort_values("order")
    labels = [f"{lab} ({eff})" if isinstance(eff, str) and eff not in ("", "nan") else str(lab)
              for lab, eff in zip(rows["model_label"], rows["effect"], strict=True)]
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.55 * len(rows) + 1.5))
    y = range(len(rows))
    head = rows["model"] == run.headline["family"]
    ax.errorbar(rows["estimate"], list(y), xerr=[rows["estimate"] - rows["ci_low"], rows["ci_high"] - rows["estimate"]],
                fmt="none", ecolor="#555555", capsize=3)
    ax.scatter(rows["estimate"], list(y), c=["#c0392b" if h else "#2c3e50" for h in head], zorder=3)
    ax.axvline(0, color="grey", lw=1, ls="--")
    ax.set_yticks(list(y), labels)
    ax.invert_yaxis()
    ax.set_xlabel(f"Change in {run.headline['dependent']} per 1-unit higher {run.headline['exposure']} "
                  f"({int((1 - run.headline['alpha']) * 100)}% CI)")
    ax.set_title("Same question, different designs (red: headline)")
    return ax


def direction_table(run: Any) -> pd.DataFrame:
    """Forward, reverse and placebo specifications side by side (headline family, term of interest)."""
    from .report import of_interest

    res = run.results[run.results["model"] == run.headline["family"]]
    keep = ["spec", "direction", "lag", "term", "estimate", "ci_low", "ci_high", "p_value", "n_obs", "n_entities"]
    return of_interest(res)[keep].reset_index(drop=True)


def metrics_table(metrics: dict, prefix: str = "") -> pd.DataFrame:
    """A nested metrics dict as a two-column table (``key``, ``value``) for display."""
    rows: list[tuple[str, object]] = []

    def walk(d: dict, pre: str) -> None:
        for k, v in d.items():
            key = f"{pre}{k}"
            if isinstance(v, dict):
                walk(v, key + ".")
            else:
                rows.append((key, ", ".join(map(str, v)) if isinstance(v, list) else v))

    walk(metrics, prefix)
    return pd.DataFrame(rows, columns=["metric", "value"])


def link_summary(metrics: dict) -> str:
    """One plain-language paragraph on what the linkage kept and why (Markdown)."""
    rows = metrics.get("rows", {})
    head = metrics.get("headline", {})
    both = head.get("both_same_year", {})
    excl = metrics.get("excluded_by_reason_detail") or metrics.get("excluded_by_reason") or {}
    reasons = "; ".join(f"{k.replace('_', ' ')}: {v:,}" for k, v in sorted(excl.items(), key=lambda kv: -kv[1]))
    check = "they reconcile" if rows.get("reconciled") else "**they do not reconcile**"
    text = (
        f"**{rows.get('in', 0):,} input rows**: {rows.get('matched', 0):,} matched to a trust in the sample, "
        f"{rows.get('merged', 0):,} merged into a successor organisation, {rows.get('excluded', 0):,} excluded "
        f"with a reason ({check}). "
    )
    if reasons:
        text += f"Exclusions by reason - {reasons}. "
    text += (
        f"The panel holds **{metrics.get('n_trusts_panel', 0)} trusts** "
        f"({', '.join(str(t) for t in metrics.get('trust_types', []))}); "
        f"trusts with both {head.get('staff')} and {head.get('patient')} in the same survey year: "
        + (", ".join(f"{y}: {n}" for y, n in both.items()) or "none")
        + f" ({head.get('both_same_year_total', 0)} trust-years)."
    )
    unknown = metrics.get("unknown_codes") or []
    text += (f" Codes unknown to the organisation registry (listed in the audit, not dropped): {', '.join(map(str, unknown))}."
             if unknown else " Every organisation code was found in the registry.")
    return text


def measure_by_year(tidy: pd.DataFrame, measure: str, ax: plt.Axes | None = None) -> plt.Axes:
    """Box plot of one measure by survey year (one point per organisation), labelled from the catalogue."""
    import seaborn as sns

    from .catalogue import load_catalogue

    m = load_catalogue().measures.get(measure)
    label = m.label if m else measure
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    sns.boxplot(data=tidy[tidy["measure"] == measure], x="year", y="value", ax=ax, color="#7fa7c9")
    ax.set(ylabel=label, xlabel="Survey year", title=f"{label} by survey year (one point per organisation)")
    return ax


def save_figure(fig: plt.Figure, path: str | Path) -> str:
    """Save a stage's main figure as PNG at its declared path (``Stage.figure``) and return the path.

    The PNG carries no software or date stamp, so an unchanged figure gives unchanged bytes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight", metadata={"Software": None})
    return str(path)
