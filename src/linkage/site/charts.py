"""The summary's figures as PNG files, byte-identical for identical inputs.

Matplotlib writes no timestamp into PNG files, but it does write its version
as ``Software``; :data:`PNG_METADATA` drops it so that a figure changes only
when what it shows changes. Every figure comes back with its alt text and
caption (units, N, source), and every PNG carries its axis titles as a text
chunk (``Axis titles``) so that a reader's check can confirm each chart has them.
Figures are drawn with seaborn on matplotlib; both are imported only when a
figure is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .design import design_of, sources_read
from .findings import Finding, quoted, unit_words
from .inputs import SiteInputs
from .words import fixed, nice, places_for

PNG_METADATA = {"Software": None}
BLUE, GREY, DARK = "#005EB8", "#768692", "#231f20"


def _sources(inputs: SiteInputs) -> str:
    """The sources of the headline measures, named from the catalogue entries that read them (not assumed)."""
    return f"{sources_read(inputs.headline, inputs.catalogue)}, linked by trust and year"


@dataclass
class Figure:
    """A figure file with what a page needs to show it accessibly."""

    path: str
    alt: str
    caption: str


def _style() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", font="DejaVu Sans", rc={
        "font.size": 11, "axes.spines.top": False, "axes.spines.right": False, "svg.hashsalt": "linkage",
        "figure.dpi": 100, "axes.titlesize": 12, "axes.labelsize": 11, "grid.color": "#E8EDEE"})


def axis_titles(fig) -> str:
    """The axis titles of every panel of ``fig`` (``x: ...; y: ...`` per panel, panels separated by ``|``)."""
    return " | ".join(f"x: {_title(ax, 'x')}; y: {_title(ax, 'y')}" for ax in fig.axes if ax.get_visible())


def _title(ax, which: str) -> str:
    """An axis's title, or for a small-multiples panel sharing that axis the title of the panel that shows it."""
    own = ax.get_xlabel() if which == "x" else ax.get_ylabel()
    if own:
        return own
    shared = ax.get_shared_x_axes() if which == "x" else ax.get_shared_y_axes()
    for other in shared.get_siblings(ax):
        text = other.get_xlabel() if which == "x" else other.get_ylabel()
        if text:
            return text
    return ""


def save_png(fig, path: Path) -> None:
    """Save ``fig`` as PNG without software or time metadata, with its axis titles as text, then close it."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100, bbox_inches="tight",
                metadata={**PNG_METADATA, "Axis titles": axis_titles(fig)})
    plt.close(fig)


def findings_figure(inputs: SiteInputs, findings: list[Finding], out: Path, rel: str) -> Figure | None:
    """Dots with intervals, one row per result with the first measure coming from staff (same units)."""
    rows = [f for f in findings if f.group in ("headline", "timing", "placebo")]
    if not rows:
        return None
    _style()
    import matplotlib.pyplot as plt

    h = inputs.headline
    step = rows[0].per_step["step"]
    yu = unit_words(inputs, h["dependent"])
    import textwrap

    import pandas as pd
    import seaborn as sns
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7.5, 0.62 * len(rows) + 1.9))
    frame = pd.DataFrame({"row": range(len(rows)), "estimate": [f.per_step["estimate"] for f in rows],
                          "interval": ["Excludes zero" if f.clear else "Includes zero" for f in rows]})
    for i, f in enumerate(rows):
        ps = f.per_step
        ax.plot([ps["ci_low"], ps["ci_high"]], [i, i], color=BLUE if f.clear else GREY, lw=2.5, solid_capstyle="butt")
    sns.scatterplot(data=frame, x="estimate", y="row", hue="interval", style="interval", ax=ax, s=80, zorder=3,
                    palette={"Excludes zero": BLUE, "Includes zero": GREY},
                    markers={"Excludes zero": "o", "Includes zero": "D"}, edgecolor="white", linewidth=1.2,
                    hue_order=["Excludes zero", "Includes zero"], style_order=["Excludes zero", "Includes zero"])
    ax.axvline(0, color=DARK, lw=1, ls="--")
    ax.set_yticks(range(len(rows)), [textwrap.fill(("! " if f.warning else "") + f.title, 34) for f in rows])
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
    ax.grid(axis="y", visible=False)
    xu = unit_words(inputs, h["exposure"], step)
    ax.set_xlabel(textwrap.fill(f"Difference in {inputs.label(h['dependent'])}, {yu}, per {nice(step, 1)} {xu} "
                                f"higher {inputs.label(h['exposure'])}", 70))
    ax.set_ylabel("Result (model or check)")
    ax.legend(title="Interval", frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.5 / len(rows)),
              ncol=2)
    save_png(fig, out)
    places = places_for(rows[0].per_step["ci_low"], rows[0].per_step["ci_high"])
    alt = (f"Dot chart of {len(rows)} estimates with their intervals, in {yu} of {inputs.label(h['dependent'])} per "
           f"{nice(step, 1)} {xu} higher {inputs.label(h['exposure'])}: " + "; ".join(
               f"{f.title}: {fixed(f.per_step['estimate'], places)} (interval {fixed(f.per_step['ci_low'], places)} "
               f"to {fixed(f.per_step['ci_high'], places)}{', excludes zero' if f.clear else ', includes zero'})"
               for f in rows) + ".")
    usual = " than usual for the trust" if design_of(inputs).within else ""
    caption = (f"Estimates per {nice(step, 1)} {xu} higher {quoted(inputs, h['exposure'])}{usual}, in "
               f"{yu} of {quoted(inputs, h['dependent'])}; lines are {int(round(100 * (1 - h.get('alpha', 0.05))))}% "
               f"intervals; blue circles exclude zero, grey diamonds do not; '!' marks a result with a warning "
               f"in the text. N = {h['n_trusts']} trusts, {h['n_obs']} trust-years (headline). Source: {_sources(inputs)}.")
    return Figure(rel, alt, caption)


def coverage_figure(inputs: SiteInputs, out: Path, rel: str) -> Figure | None:
    """Trusts in the panel per survey year with the headline staff and patient measures."""
    h = inputs.headline
    panel = inputs.panel
    x, y = h.get("exposure"), h.get("dependent")
    if x not in panel or y not in panel:
        return None
    _style()
    import matplotlib.pyplot as plt

    years = sorted(panel["year"].unique())
    counts = {k: [int(panel.loc[panel["year"] == yr, col].notna().sum()) for yr in years]
              for k, col in (("staff", x), ("patient", y))}
    import pandas as pd
    import seaborn as sns
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(8, 3.4))
    frame = pd.DataFrame([{"year": str(yr), "measure": inputs.label(col), "trusts": counts[k][i]}
                          for k, col in (("staff", x), ("patient", y)) for i, yr in enumerate(years)])
    sns.barplot(data=frame, x="year", y="trusts", hue="measure", ax=ax, palette=[BLUE, GREY], saturation=1)
    for bar in ax.containers[1] if len(ax.containers) > 1 else []:
        bar.set_hatch("//")
        bar.set_edgecolor("white")
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True, steps=[1, 2, 2.5, 5, 10]))
    ax.grid(axis="x", visible=False)
    ax.set_ylabel("Trusts with a value (number)")
    ax.set_xlabel("Survey year")
    ax.legend(title=None, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=1)
    save_png(fig, out)
    who = "patients" if design_of(inputs).patient_experience else quoted(inputs, y)
    alt = ("Bar chart of the number of trusts with a value in each survey year: " + "; ".join(
        f"{yr}: {s} for staff, {p} for {who}" for yr, s, p in zip(years, counts["staff"], counts["patient"], strict=True))
        + ".")
    caption = (f"Trusts in the panel with a value of {quoted(inputs, x)} (blue) and of {quoted(inputs, y)} (grey, "
               f"hatched) by survey year. N = {panel['org_code'].nunique()} trusts. Source: {_sources(inputs)}.")
    return Figure(rel, alt, caption)
