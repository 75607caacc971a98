"""The summary's figures as PNG files, byte-identical for identical inputs.

Matplotlib writes no timestamp into PNG files, but it does write its version
as ``Software``; :data:`PNG_METADATA` drops it so that a figure changes only
when what it shows changes. Every figure comes back with its alt text and
caption (units, N, source).
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
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.family": "DejaVu Sans", "font.size": 11, "axes.spines.top": False,
                         "axes.spines.right": False, "svg.hashsalt": "linkage", "figure.dpi": 100})


def save_png(fig, path: Path) -> None:
    """Save ``fig`` as PNG without software or time metadata, then close it."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100, bbox_inches="tight", metadata=PNG_METADATA)
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

    fig, ax = plt.subplots(figsize=(7.5, 0.62 * len(rows) + 1.6))
    for i, f in enumerate(rows):
        ps = f.per_step
        colour = BLUE if f.clear else GREY
        ax.plot([ps["ci_low"], ps["ci_high"]], [i, i], color=colour, lw=2.5, solid_capstyle="butt")
        ax.plot([ps["estimate"]], [i], "o", ms=8, color=colour, mfc=colour if f.clear else "white", mew=2)
    ax.axvline(0, color=DARK, lw=1, ls="--")
    ax.set_yticks(range(len(rows)), [textwrap.fill(("! " if f.warning else "") + f.title, 34) for f in rows])
    ax.invert_yaxis()
    xu = unit_words(inputs, h["exposure"], step)
    ax.set_xlabel(textwrap.fill(f"Difference in {inputs.label(h['dependent'])}, {yu}, per {nice(step, 1)} {xu} "
                                f"higher {inputs.label(h['exposure'])}", 70))
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
               f"intervals; filled blue dots exclude zero, hollow grey dots do not; '!' marks a result with a warning "
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
    fig, ax = plt.subplots(figsize=(8, 3.2))
    width = 0.38
    pos = range(len(years))
    ax.bar([p - width / 2 for p in pos], counts["staff"], width, color=BLUE, label=inputs.label(x))
    ax.bar([p + width / 2 for p in pos], counts["patient"], width, color=GREY, hatch="//", edgecolor="white",
           label=inputs.label(y))
    ax.set_xticks(list(pos), [str(v) for v in years])
    ax.set_ylabel("Trusts with a value (number)")
    ax.set_xlabel("Survey year")
    ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=1)
    save_png(fig, out)
    who = "patients" if design_of(inputs).patient_experience else quoted(inputs, y)
    alt = ("Bar chart of the number of trusts with a value in each survey year: " + "; ".join(
        f"{yr}: {s} for staff, {p} for {who}" for yr, s, p in zip(years, counts["staff"], counts["patient"], strict=True))
        + ".")
    caption = (f"Trusts in the panel with a value of {quoted(inputs, x)} (blue) and of {quoted(inputs, y)} (grey, "
               f"hatched) by survey year. N = {panel['org_code'].nunique()} trusts. Source: {_sources(inputs)}.")
    return Figure(rel, alt, caption)
