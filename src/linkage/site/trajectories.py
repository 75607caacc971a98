"""Small multiples of trust trajectories: the headline exposure and outcome, year by year, for trusts of one type.

The figure shows, for a within-trust headline, what comparing each trust with
itself means on the data (the caption follows the fitted design): for a handful of trusts of the most common
type, one column per trust, the staff measure above and the patient measure
below, each row on one shared scale so trusts can be compared. Trusts are
chosen to span the range of the exposure's trust means (lowest to highest),
not ranked. Series breaks are drawn as one dashed line with one name and their
reason in the key; the line is not drawn across a break that is not comparable
or across a year with no value. Black lines and two marker shapes keep it
readable in greyscale. matplotlib is imported only when drawn.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd

from .charts import DARK, GREY, Figure, _style, save_png
from .design import TRUST_TYPE_TEXT, design_of, sources_read
from .inputs import SiteInputs
from .svg import BREAK_NAME
from .words import bare_label, level_units

#: Output file of the figure, relative to the site's ``figures`` folder.
FIGURE_NAME = "summary_trajectories.png"
#: Most trusts drawn (columns); more would not be readable at the page's width.
MAX_TRUSTS = 8
_SUFFIX = re.compile(r"\s+NHS(\s+FOUNDATION)?\s+TRUST$", re.IGNORECASE)
_NOTE = re.compile(r"\s*\([^)]*\)$")


def short_name(name: str) -> str:
    """A trust's name without the common suffix or a trailing note in brackets, title case if in capitals, 3 lines."""
    text = _NOTE.sub("", str(name).strip())
    text = _SUFFIX.sub("", text)
    if text.isupper():
        text = text.title().replace(" And ", " and ").replace(" Of ", " of ").replace("Nhs", "NHS")
    lines = textwrap.wrap(text, 18)
    return "\n".join(lines[:3]) + ("…" if len(lines) > 3 else "")


def chosen_trusts(panel: pd.DataFrame, x: str, y: str, k: int = MAX_TRUSTS) -> tuple[str, list[str], int]:
    """The most common trust type among trusts with both measures in at least two years, and up to ``k`` of them.

    Returns (trust type, trust codes ordered by their mean exposure, number of such trusts of that type). The
    trusts are evenly spaced along that order, so the figure spans the range rather than showing extremes.
    """
    both = panel.dropna(subset=[x, y])
    years = both.groupby("org_code")["year"].nunique()
    both = both[both["org_code"].isin(years[years >= 2].index)]
    if both.empty:
        return "", [], 0
    types = both.groupby("trust_type")["org_code"].nunique().sort_values(ascending=False, kind="stable")
    ttype = str(types.index[0])
    means = both[both["trust_type"] == ttype].groupby("org_code")[x].mean().sort_values(kind="stable")
    n = len(means)
    picks = sorted({round(i * (n - 1) / max(k - 1, 1)) for i in range(min(k, n))})
    return ttype, [str(means.index[i]) for i in picks], n


def _segments(years: list[int], values: list[float], cut: set[int]) -> list[tuple[list[int], list[float]]]:
    """Runs of consecutive years with values, split before every non-comparable break year."""
    runs: list[tuple[list[int], list[float]]] = []
    for yr, v in zip(years, values, strict=True):
        if pd.isna(v):
            continue
        if runs and yr - runs[-1][0][-1] == 1 and yr not in cut:
            runs[-1][0].append(yr)
            runs[-1][1].append(v)
        else:
            runs.append(([yr], [v]))
    return runs


def _breaks(inputs: SiteInputs, measure: str, lo: int, hi: int) -> list[tuple[int, bool, str]]:
    """Series breaks of ``measure`` inside the years shown: (year, comparable across, reason)."""
    return [(b.year, b.comparable_across, f"{_bare(inputs, measure)}: {b.note.rstrip('.')}")
            for b in sorted(inputs.measure(measure).series_breaks, key=lambda b: b.year) if lo < b.year <= hi]


def _bare(inputs: SiteInputs, measure: str) -> str:
    """The measure's label without its unit in brackets (the axis title gives the unit in words)."""
    return bare_label(inputs.label(measure))


def _units(inputs: SiteInputs, measure: str) -> str:
    m = inputs.measure(measure)
    return level_units(m.unit, m.kind) if m else "units"


def _row_label(inputs: SiteInputs, measure: str) -> str:
    return textwrap.fill(f"{_bare(inputs, measure)} ({_units(inputs, measure)})", 26)


#: The panel grid's margins and gaps in inches: room for the y titles (left), the last year's label (right),
#: the trust names (top) and the years with the x title (bottom); between columns the first and last years'
#: labels, between rows nothing (inner panels share their axes and show no tick labels). What reaches past
#: the figure's edge (a longer title, the key below) is still saved: the saved area is the drawn content's box.
GRID_INCHES = {"left": 0.9, "right": 0.27, "top": 0.52, "bottom": 0.62, "wgap": 0.38, "hgap": 0.18}


def grid_margins(n_cols: int, width: float, height: float, n_rows: int = 2) -> dict[str, float]:
    """``subplots_adjust`` arguments placing ``n_rows`` x ``n_cols`` panels with :data:`GRID_INCHES` around them.

    Fixed margins instead of ``tight_layout``, which measures every panel once more only to find the same gaps.
    """
    g = GRID_INCHES
    left, right, bottom, top = g["left"] / width, 1 - g["right"] / width, g["bottom"] / height, 1 - g["top"] / height
    panel_w = ((right - left) * width - (n_cols - 1) * g["wgap"]) / n_cols
    panel_h = ((top - bottom) * height - (n_rows - 1) * g["hgap"]) / n_rows
    return {"left": left, "right": right, "bottom": bottom, "top": top,
            "wspace": g["wgap"] / panel_w, "hspace": g["hgap"] / panel_h}


def trajectory_figure(inputs: SiteInputs, out: Path, rel: str) -> Figure | None:
    """The small-multiples figure at ``out`` (None when no trust has both headline measures in two years).

    Long because it draws and labels a grid of panels, the key and the caption in one place.
    """
    h = inputs.headline or {}
    x, y = h.get("exposure"), h.get("dependent")
    panel = inputs.panel
    if not x or not y or x not in panel or y not in panel or "trust_type" not in panel:
        return None
    ttype, codes, n_type = chosen_trusts(panel, x, y)
    if not codes:
        return None
    _style()
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    years = sorted(int(v) for v in panel["year"].dropna().unique())
    breaks = {m: _breaks(inputs, m, years[0], years[-1]) for m in (x, y)}
    cut = {m: {yr for yr, comparable, _ in b if not comparable} for m, b in breaks.items()}
    fig, axes = plt.subplots(2, len(codes), figsize=(1.6 * len(codes) + 1.6, 5.4), sharex=True, sharey="row",
                             squeeze=False)
    names = panel.dropna(subset=["org_name"]).groupby("org_code")["org_name"].last()
    for col, code in enumerate(codes):
        g = panel[panel["org_code"] == code].set_index("year").reindex(years)
        for row, (measure, marker) in enumerate(((x, "o"), (y, "s"))):
            ax = axes[row][col]
            for xs, vs in _segments(years, g[measure].tolist(), cut[measure]):
                ax.plot(xs, vs, color=DARK, lw=1.6, marker=marker, ms=4.5)
            for yr, _c, _r in breaks[measure]:  # each row marks its own measure's breaks
                ax.axvline(yr - 0.5, color=GREY, ls="--", lw=1)
            ax.tick_params(labelsize=9)
        axes[0][col].set_title(short_name(names.get(code, code)), fontsize=9)
        axes[1][col].set_xticks([years[0], years[-1]], [str(years[0]), str(years[-1])])
    axes[0][0].set_ylabel(_row_label(inputs, x), fontsize=10)
    axes[1][0].set_ylabel(_row_label(inputs, y), fontsize=10)
    axes[1][0].set_xlabel("Survey year", fontsize=10)
    handles = [Line2D([], [], color=DARK, marker="o", label=f"top row, staff: {_bare(inputs, x)}"),
               Line2D([], [], color=DARK, marker="s", label=f"bottom row, patients: {_bare(inputs, y)}")]
    handles += [Line2D([], [], color=GREY, ls="--", label=textwrap.fill(f"{BREAK_NAME} ({yr}), {r}", 120))
                for m in (x, y) for yr, _c, r in breaks[m]]
    n_lines = sum(h.get_label().count("\n") + 1 for h in handles)
    fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, -0.03 - 0.05 * n_lines),
               frameon=False, fontsize=9, ncol=1)
    fig.subplots_adjust(**grid_margins(len(codes), *fig.get_size_inches()))
    save_png(fig, out)
    peers = TRUST_TYPE_TEXT.get(ttype, f"{ttype} trusts")
    alt = (f"Small multiples for {len(codes)} {peers}: for each trust, {inputs.label(x)} (top row) and "
           f"{inputs.label(y)} (bottom row) by survey year, {years[0]} to {years[-1]}.")
    caption = (f"{len(codes)} of the {n_type} {peers} with both measures in at least two years, chosen to span the "
               f"range of their mean {inputs.label(x)} (left lowest, right highest; not a ranking). Top row: "
               f"{inputs.label(x)} ({_units(inputs, x)}); bottom row: {inputs.label(y)} "
               f"({_units(inputs, y)}); each row on one scale. {_design_note(inputs)}A gap in a line is a year without a published value"
               f"{' or a ' + BREAK_NAME + ' across which values are not comparable' if any(cut.values()) else ''}. "
               f"Sources: {sources_read(h, inputs.catalogue)}.")
    return Figure(rel, alt, caption)


def _design_note(inputs: SiteInputs) -> str:
    """What these lines mean for the headline model, from the design actually fitted."""
    if design_of(inputs).within:
        return "The headline design compares each trust with itself over these years. "
    return ("The headline design does not take out each trust's lasting level: it also compares trusts with "
            "one another. ")


def figure_for(inputs: SiteInputs, out: Path) -> Any:
    """The figure written to ``out/figures`` (the summary's hook)."""
    return trajectory_figure(inputs, out / "figures" / FIGURE_NAME, f"figures/{FIGURE_NAME}")
