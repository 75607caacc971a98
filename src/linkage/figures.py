"""Figures and display tables shared by the notebooks (matplotlib)."""

from __future__ import annotations

import textwrap
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
    ax.set_xlabel(f"Change in {_label(run.headline['dependent'])} per 1-unit higher {_label(run.headline['exposure'])}"
                  f"\n(dot: estimate; bar: {int((1 - run.headline['alpha']) * 100)}% interval)")
    ax.set_ylabel("Model design")
    ax.set_title("Same question, different designs (red: headline)")
    return ax


def _label(measure: str) -> str:
    """Catalogue label of a measure (its name if unknown)."""
    from .catalogue import load_catalogue

    m = load_catalogue().measures.get(str(measure))
    return m.label if m else str(measure)


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
    from matplotlib.ticker import MaxNLocator

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    rows = tidy[(tidy["measure"] == measure) & tidy["value"].notna()]
    by_year = {int(y): g["value"].to_numpy(dtype=float) for y, g in rows.groupby("year", sort=True)}
    ax.boxplot(list(by_year.values()), positions=range(len(by_year)), widths=0.8, patch_artist=True,
               boxprops={"facecolor": "#89a6c3", "edgecolor": "#595959"},
               whiskerprops={"color": "#595959"}, capprops={"color": "#595959"},
               flierprops={"marker": "o", "markersize": 2.5, "markerfacecolor": "none", "markeredgecolor": "#595959"},
               medianprops={"color": "#003087", "linewidth": 2})
    ax.set_xticks(range(len(by_year)), [str(y) for y in by_year])
    ax.set_xlim(-0.5, len(by_year) - 0.5)
    ax.grid(axis="x", visible=False)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
    years = sorted(int(y) for y in rows["year"].unique())
    for b in (m.series_breaks if m else []):
        if years and years[0] < b.year <= years[-1]:
            pos = sum(y < b.year for y in years) - 0.5
            reason = textwrap.shorten(b.note.rstrip("."), 70, placeholder="...")
            ax.axvline(pos, color="#425563", ls="--", lw=1.2, label=f"series break ({b.year}): {reason}")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), frameon=False, fontsize=9)
    ax.set(ylabel=textwrap.fill(label, 34), xlabel="Survey year",
           title=textwrap.fill(f"{label} by survey year (one point per organisation)", 70))
    return ax


def save_figure(fig: plt.Figure, path: str | Path) -> str:
    """Save a stage's main figure as PNG at its declared path (``Stage.figure``) and return the path.

    The PNG carries no software or date stamp, so an unchanged figure gives unchanged bytes; it carries
    the figure's axis titles as a text chunk (``Axis titles``) for the report's reader checks.
    """
    from .site.charts import axis_titles, tight_box

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches=tight_box(fig, 110),  # the tight area, drawn once
                metadata={"Software": None, "Axis titles": axis_titles(fig)})
    return str(path)


def show_figure(fig: plt.Figure, path: str | Path) -> None:
    """Save a stage's figure (:func:`save_figure`), close it and display the saved PNG.

    The notebook shows the very file the stage wrote, drawn once: ``plt.show()``
    after saving would draw the figure again for the notebook's own copy.
    """
    from IPython.display import Image, display

    saved = save_figure(fig, path)
    plt.close(fig)
    display(Image(filename=saved))  # returns nothing, so the cell shows no path after the figure


#: Row groups of the specification curve's indicator panel, in words.
CHOICE_TEXT = {"family": "Design", "lag": "Timing", "sample_kind": "Sample", "weights": "Weights",
               "exposure": "Staff measure", "dependent": "Patient measure"}


def choice_words(choice: str, value: object) -> str:
    """One choice of a specification in words (``family: twoway_fe`` -> ``trust and year fixed effects``)."""
    from .catalogue import load_catalogue
    from .vocab import FAMILY_TEXT, SAMPLE_TEXT

    text = str(value)
    if choice == "family":
        return FAMILY_TEXT.get(text, text)
    if choice == "sample_kind":
        return SAMPLE_TEXT.get(text, text)
    if choice == "weights":
        return {"none": "unweighted", "respondents": "weighted by respondents"}.get(text, text)
    if choice == "lag":
        k = int(float(text))
        years = f"{abs(k)} year{'s' if abs(k) != 1 else ''}"
        return ("staff and patients, same year" if k == 0 else f"staff {years} before patients" if k > 0
                else f"staff {years} after patients (placebo)")
    if choice in ("exposure", "dependent"):
        m = load_catalogue().measures.get(text)
        return m.label if m else text
    return text


def _indicator_rows(ok: pd.DataFrame, choices: tuple[str, ...]) -> list[tuple[str, str]]:
    rows = []
    for c in choices:
        values = ok[c].unique()
        order = sorted(values, key=lambda v: (float(v) if c == "lag" else 0, str(v)))
        rows += [(c, str(v)) for v in order]
    return rows


def specification_curve(table: pd.DataFrame, alpha: float = 0.05, *, column: str = "estimate_std",
                        choices: tuple[str, ...] = ("family", "lag", "sample_kind", "weights", "exposure", "dependent"),
                        ) -> plt.Figure:
    """Specification curve: ordered estimates with intervals above an indicator panel of the choices, in words.

    Long because it draws both panels of one figure and their shared labels; drawn with matplotlib in the site's
    light-grid theme (``site.charts.THEME``).

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
        Choice columns shown as row groups of the indicator panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.ticker import MaxNLocator

    from .site.charts import THEME

    plt.rcParams.update(THEME)  # the site's light-grid look, as every step figure has it
    ok = table[table["status"] == "ok"].copy()
    sign = ok[column] / ok["estimate"].where(ok["estimate"] != 0, 1.0)
    lo, hi = ok["ci_low"] * sign, ok["ci_high"] * sign
    ok["lo"], ok["hi"] = lo.where(sign > 0, hi), hi.where(sign > 0, lo)
    ok = ok.sort_values(column, kind="mergesort").reset_index(drop=True)
    x = ok.index.to_numpy()
    rows = _indicator_rows(ok, choices)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 4.2 + 0.26 * len(rows)), sharex=True,
                                      gridspec_kw={"height_ratios": [3.2, max(2, 0.26 * len(rows))]})
    sig = (ok["p_value"] < alpha).to_numpy()
    names = {True: f"p < {alpha:g}", False: "not significant"}
    palette = {names[True]: "#003087", names[False]: "#AEB7BD"}
    from matplotlib.colors import to_rgba

    # one RGBA row per specification: matplotlib would otherwise parse a colour name per mark (~60,000)
    colour = np.where(sig[:, None], to_rgba(palette[names[True]]), to_rgba(palette[names[False]]))
    top.vlines(x, ok["lo"], ok["hi"], colors=colour, alpha=0.3, linewidth=0.6)
    y = ok[column].to_numpy()
    for test in (True, False):
        top.scatter(x[sig == test], y[sig == test], s=9, linewidth=0, color=palette[names[test]], zorder=3,
                    label=names[test])
    head = ok["headline"].to_numpy(dtype=bool) if "headline" in ok else np.zeros(len(ok), bool)
    if head.any():
        top.scatter(x[head], ok.loc[head, column], marker="v", color="#D5281B", s=30, zorder=4,
                    label="headline design (bootstrapped)")
    top.axhline(0, color="black", linewidth=0.8)
    top.yaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
    unit = "SD of patient measure per SD of staff measure" if column == "estimate_std" else "estimate"
    top.set_ylabel(f"Estimate ({unit};\nabove 0 = better staff wellbeing\nwith better patient experience)", fontsize=10)
    top.set_xlabel("")
    top.set_title(f"{len(ok):,} specifications, ordered from lowest to highest estimate", fontsize=12)
    top.legend(loc="upper left", fontsize=9, frameon=True, title=None)
    for i, (c, v) in enumerate(rows):
        hit = (ok[c].astype(str) == v).to_numpy()
        bottom.scatter(x[hit], np.full(hit.sum(), i), marker="|", s=40, color=colour[hit], linewidths=0.8)
    labels, previous = [], None
    for c, v in rows:
        labels.append(f"{CHOICE_TEXT.get(c, c)}: {choice_words(c, v)}" if c != previous else choice_words(c, v))
        previous = c
    bottom.set_yticks(range(len(rows)), labels, fontsize=9)
    for i in [k for k in range(1, len(rows)) if rows[k][0] != rows[k - 1][0]]:
        bottom.axhline(i - 0.5, color="#768692", linewidth=0.6)
    bottom.set_ylim(len(rows) - 0.5, -0.5)
    bottom.grid(axis="y", visible=False)
    bottom.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True, steps=[1, 2, 2.5, 5, 10]))
    bottom.set_ylabel("Choices made (one mark per specification)", fontsize=10)
    bottom.set_xlabel("Specification, ordered by estimate (rank)")
    fig.tight_layout()
    fig.align_ylabels([top, bottom])  # the top title beside the choice labels, not over them
    return fig


#: Reasons a specification was not fitted, as patterns (quoted names replaced by ``…``) and their words.
UNFITTED_TEXT = {
    "exposure … is not a column of the panel": "the staff measure is not in the linked panel",
    "dependent … is not a column of the panel": "the patient measure is not in the linked panel",
    "exposure … is missing in every row of the panel": "the staff measure has no value in the panel",
    "dependent … is missing in every row of the panel": "the patient measure has no value in the panel",
}


def unfitted_sentence(table: pd.DataFrame) -> str:
    """The specifications that were not fitted, grouped by reason, in one sentence (Markdown).

    Reasons that differ only in the measure they name are one group, with the measures listed by label.
    """
    import re

    bad = table[table["status"] != "ok"]
    if bad.empty:
        return f"All {len(table):,} specifications were fitted."
    groups: dict[str, list[int | set[str]]] = {}
    for reason, n in bad.groupby(bad["reason"].fillna("no reason given").astype(str)).size().items():
        names = set(re.findall(r"'([^']+)'", reason))
        key = re.sub(r"'[^']+'", "…", reason)
        entry = groups.setdefault(key, [0, set()])
        entry[0] += int(n)
        entry[1] |= names
    parts = []
    for key, (n, names) in sorted(groups.items(), key=lambda kv: (-kv[1][0], kv[0])):
        words = UNFITTED_TEXT.get(key, key.replace("…", "a measure"))
        labels = ", ".join(sorted(_label(m) for m in names if not m.endswith("__n")))
        parts.append(f"{n:,} because {words}" + (f" ({labels})" if labels and key in UNFITTED_TEXT else ""))
    return (f"**{len(bad):,} of {len(table):,} specifications were not fitted**, each for a reason listed in the "
            f"table below: " + "; ".join(parts) + ".")


def bootstrap_tables(bootstrap: pd.DataFrame, table: pd.DataFrame, draws: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The wild-bootstrap p-values of the headline specifications, printed by the one p-value rule.

    Returns the pivot (one column per weight distribution and bootstrap kind)
    and the long table. A bootstrap p-value with no draw as extreme as the
    estimate prints as "< 0.001 (none of 999 draws)", not as 0.
    """
    from .site.words import p_number

    b = bootstrap.merge(table[["spec_id", "exposure", "dependent", "lag"]], on="spec_id")
    b["p_value"] = [p_number(float(p)) for p in b["p_value"]]  # the analytic p-value, an index level of the pivot
    pivot = b.pivot_table(index=["exposure", "dependent", "lag", "estimate", "p_value", "ci_low", "ci_high"],
                          columns=["boot_weights", "boot_kind"], values="p_value_boot")
    pivot = pivot.map(lambda p: p_number(float(p), draws) if pd.notna(p) else "")
    long = b.round({c: 4 for c in ("estimate", "ci_low", "ci_high", "std_error") if c in b})
    long["p_value_boot"] = [p_number(float(p), draws) if pd.notna(p) else "" for p in b["p_value_boot"]]
    return pivot, long
