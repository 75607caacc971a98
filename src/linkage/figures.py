"""Figures and display tables shared by the notebooks (plain matplotlib/seaborn)."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

FAMILY_ORDER = ["between", "pooled", "random_effects", "mundlak", "entity_fe", "twoway_fe", "first_difference"]


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
    """Forward, reverse and placebo specifications side by side (headline family)."""
    res = run.results
    sub = res[(res["model"] == run.headline["family"]) & res["term"].astype(str).str.contains(
        run.params.exposure.split(".")[-1] + "|" + run.params.dependent.split(".")[-1], regex=True)]
    keep = ["spec", "direction", "lag", "term", "estimate", "ci_low", "ci_high", "p_value", "n_obs", "n_entities"]
    sub = sub[sub["term"].astype(str).map(lambda t: not t.startswith("year"))]
    return sub[keep].reset_index(drop=True)


def plot_balance(balance: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Trusts per year with staff, patient and both measures."""
    b = balance.copy()
    if "year" in b.columns:
        b = b.set_index("year")
    num = b.select_dtypes("number")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.5))
    num.plot(kind="bar", ax=ax, width=0.8)
    ax.set(xlabel="Survey year", ylabel="Trusts", title="Trusts with data, by survey year")
    ax.legend(loc="upper left", bbox_to_anchor=(1, 1), frameon=False)
    return ax


def save_figure(fig: plt.Figure, name: str, folder: str = "reports/figures") -> str:
    """Save a notebook's main figure as PNG (a DVC plot output) and return its path."""
    from pathlib import Path

    path = Path(folder) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return str(path)
