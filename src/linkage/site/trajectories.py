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

from .charts import DARK, GREY, Figure, _style, cached_png, save_png
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

    What is drawn is worked out first (:func:`trajectory_spec`), then drawn (:func:`draw_trajectories`),
    or copied from the figure cache when exactly that was drawn before (:func:`~linkage.site.charts.cached_png`):
    an experiment that changes only the models redraws nothing here.
    """
    h = inputs.headline or {}
    spec = trajectory_spec(inputs)
    if spec is None:
        return None
    cached_png(spec, draw_trajectories, out, __file__)
    x, y, ttype, codes, n_type, years = (spec["meta"][k] for k in ("x", "y", "type", "codes", "n_type", "years"))
    cut = spec["meta"]["cut"]
    peers = TRUST_TYPE_TEXT.get(ttype, f"{ttype} trusts")
    alt = (f"Small multiples for {len(codes)} {peers}: for each trust, {inputs.label(x)} (top row) and "
           f"{inputs.label(y)} (bottom row) by survey year, {years[0]} to {years[-1]}.")
    caption = (f"{len(codes)} of the {n_type} {peers} with both measures in at least two years, chosen to span the "
               f"range of their mean {inputs.label(x)} (left lowest, right highest; not a ranking). Top row: "
               f"{inputs.label(x)} ({_units(inputs, x)}); bottom row: {inputs.label(y)} "
               f"({_units(inputs, y)}); each row on one scale. {_design_note(inputs)}A gap in a line is a year without a published value"
               f"{' or a ' + BREAK_NAME + ' across which values are not comparable' if cut else ''}. "
               f"Sources: {sources_read(h, inputs.catalogue)}.")
    return Figure(rel, alt, caption)


def trajectory_spec(inputs: SiteInputs) -> dict[str, Any] | None:
    """Everything the small multiples draw, as plain data: per trust its name and, per row, the line
    segments, marker and break lines; the axis and key texts; the size and margins.  ``meta`` holds what
    the caption needs.  None when no trust has both headline measures in two years."""
    h = inputs.headline or {}
    x, y = h.get("exposure"), h.get("dependent")
    panel = inputs.panel
    if not x or not y or x not in panel or y not in panel or "trust_type" not in panel:
        return None
    ttype, codes, n_type = chosen_trusts(panel, x, y)
    if not codes:
        return None
    years = sorted(int(v) for v in panel["year"].dropna().unique())
    breaks = {m: _breaks(inputs, m, years[0], years[-1]) for m in (x, y)}
    cut = {m: {yr for yr, comparable, _ in b if not comparable} for m, b in breaks.items()}
    names = panel.dropna(subset=["org_name"]).groupby("org_code")["org_name"].last()
    columns = []
    for code in codes:
        g = panel[panel["org_code"] == code].set_index("year").reindex(years)
        rows = [{"marker": marker, "breaks": [yr - 0.5 for yr, _c, _r in breaks[measure]],
                 "segments": [[[int(v) for v in xs], [float(v) for v in vs]]
                              for xs, vs in _segments(years, g[measure].tolist(), cut[measure])]}
                for measure, marker in ((x, "o"), (y, "s"))]
        columns.append({"title": short_name(names.get(code, code)), "rows": rows})
    key = [{"marker": "o", "ls": None, "colour": "dark", "label": f"top row, staff: {_bare(inputs, x)}"},
           {"marker": "s", "ls": None, "colour": "dark", "label": f"bottom row, patients: {_bare(inputs, y)}"}]
    key += [{"marker": None, "ls": "--", "colour": "grey", "label": textwrap.fill(f"{BREAK_NAME} ({yr}), {r}", 120)}
            for m in (x, y) for yr, _c, r in breaks[m]]
    size = [1.6 * len(codes) + 1.6, 5.4]
    return {"size": size, "columns": columns, "years": [years[0], years[-1]],
            "ylabels": [_row_label(inputs, x), _row_label(inputs, y)], "xlabel": "Survey year", "key": key,
            "margins": grid_margins(len(codes), *size),
            "meta": {"x": x, "y": y, "type": ttype, "codes": codes, "n_type": n_type, "years": years,
                     "cut": sorted({yr for c in cut.values() for yr in c})}}


def draw_trajectories(spec: dict[str, Any], out: Path) -> None:
    """Draw :func:`trajectory_spec`'s small multiples and save them as PNG at ``out``."""
    _style()
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    colour = {"dark": DARK, "grey": GREY}
    cols = spec["columns"]
    fig, axes = plt.subplots(2, len(cols), figsize=tuple(spec["size"]), sharex=True, sharey="row", squeeze=False)
    first, last = spec["years"]
    for c, column in enumerate(cols):
        for r, row in enumerate(column["rows"]):
            ax = axes[r][c]
            for xs, vs in row["segments"]:
                ax.plot(xs, vs, color=DARK, lw=1.6, marker=row["marker"], ms=4.5)
            for at in row["breaks"]:  # each row marks its own measure's breaks
                ax.axvline(at, color=GREY, ls="--", lw=1)
            ax.tick_params(labelsize=9)
        axes[0][c].set_title(column["title"], fontsize=9)
        axes[1][c].set_xticks([first, last], [str(first), str(last)])
    axes[0][0].set_ylabel(spec["ylabels"][0], fontsize=10)
    axes[1][0].set_ylabel(spec["ylabels"][1], fontsize=10)
    axes[1][0].set_xlabel(spec["xlabel"], fontsize=10)
    handles = [Line2D([], [], color=colour[k["colour"]], label=k["label"],
                      **{p: k[p] for p in ("marker", "ls") if k[p]}) for k in spec["key"]]
    n_lines = sum(k["label"].count("\n") + 1 for k in spec["key"])
    fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, -0.03 - 0.05 * n_lines),
               frameon=False, fontsize=9, ncol=1)
    fig.subplots_adjust(**spec["margins"])
    save_png(fig, out)


def _design_note(inputs: SiteInputs) -> str:
    """What these lines mean for the headline model, from the design actually fitted."""
    if design_of(inputs).within:
        return "The headline design compares each trust with itself over these years. "
    return ("The headline design does not take out each trust's lasting level: it also compares trusts with "
            "one another. ")


def figure_for(inputs: SiteInputs, out: Path) -> Any:
    """The figure written to ``out/figures`` (the summary's hook)."""
    return trajectory_figure(inputs, out / "figures" / FIGURE_NAME, f"figures/{FIGURE_NAME}")
