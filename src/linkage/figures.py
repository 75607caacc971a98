"""Figures and display tables shared by the notebooks (matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
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


def of_interest(results: pd.DataFrame) -> pd.DataFrame:
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


def direction_table(run: Any) -> pd.DataFrame:
    """Forward, reverse and placebo specifications side by side (headline family, term of interest)."""
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
    from .catalogue import load_catalogue

    m = load_catalogue().measures.get(measure)
    label = m.label if m else measure
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    rows = tidy[(tidy["measure"] == measure) & tidy["value"].notna()]
    years = sorted(rows["year"].unique())
    ax.boxplot([rows.loc[rows["year"] == y, "value"].to_numpy() for y in years], tick_labels=[str(y) for y in years],
               patch_artist=True, boxprops={"facecolor": "#7fa7c9"}, medianprops={"color": "#003087"},
               flierprops={"markersize": 3})
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


def specification_curve(table: pd.DataFrame, alpha: float = 0.05, *, column: str = "estimate_std",
                        choices: tuple[str, ...] = ("family", "lag", "sample_kind", "weights", "exposure", "dependent"),
                        ) -> plt.Figure:
    """Specification curve: ordered estimates with intervals above an indicator panel of the choices.

    Parameters
    ----------
    table : pandas.DataFrame
        The multiverse specification table (fitted rows are used).
    alpha : float
        Significance level used to colour the estimates.
    column : str
        Estimate to order and plot: ``estimate_std`` (default: oriented so that positive = better staff
        wellbeing with better patient experience, in SDs of the patient measure per SD of the staff
        measure, so measures on different scales compare), ``estimate_oriented`` or ``estimate``;
        intervals are rescaled and oriented the same way.
    choices : tuple of str
        Choice columns shown as rows of the indicator panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    ok = table[table["status"] == "ok"].copy()
    sign = ok[column] / ok["estimate"].where(ok["estimate"] != 0, 1.0)
    lo, hi = ok["ci_low"] * sign, ok["ci_high"] * sign
    ok["lo"], ok["hi"] = lo.where(sign > 0, hi), hi.where(sign > 0, lo)
    ok = ok.sort_values(column, kind="mergesort").reset_index(drop=True)
    x = ok.index.to_numpy()
    rows = [(c, v) for c in choices for v in sorted(ok[c].astype(str).unique(), key=str)]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 4 + 0.16 * len(rows)), sharex=True,
                                      gridspec_kw={"height_ratios": [3, max(2, 0.16 * len(rows))]})
    sig = (ok["p_value"] < alpha).to_numpy()
    colour = pd.Series("#9e9e9e", index=ok.index).where(~sig, "#1f77b4").to_numpy()
    top.vlines(x, ok["lo"], ok["hi"], colors=colour, alpha=0.25, linewidth=0.6)
    top.scatter(x, ok[column], c=colour, s=4, zorder=3)
    head = ok["headline"].to_numpy(dtype=bool) if "headline" in ok else np.zeros(len(ok), bool)
    top.scatter(x[head], ok.loc[head, column], marker="v", color="#d62728", s=18, zorder=4, label="headline (bootstrapped)")
    top.axhline(0, color="black", linewidth=0.8)
    unit = "SD per SD, " if column == "estimate_std" else ""
    top.set_ylabel(f"estimate ({unit}+ = better staff\nwellbeing with better patient experience)")
    top.set_title(f"{len(ok):,} specifications ordered by estimate; blue: p < {alpha:g}, grey: not significant")
    top.legend(loc="upper left", fontsize=8)
    for i, (c, v) in enumerate(rows):
        hit = (ok[c].astype(str) == v).to_numpy()
        bottom.scatter(x[hit], np.full(hit.sum(), i), marker="|", s=12, color=np.asarray(colour)[hit], linewidths=0.5)
    bottom.set_yticks(range(len(rows)), [f"{c}: {v}" for c, v in rows], fontsize=7)
    bottom.set_ylim(len(rows) - 0.5, -0.5)
    bottom.set_xlabel("specification (ordered by estimate)")
    fig.tight_layout()
    return fig
