"""The summary's figures as PNG files, byte-identical for identical inputs.

Matplotlib writes no timestamp into PNG files, but it does write its version
as ``Software``; :data:`PNG_METADATA` drops it so that a figure changes only
when what it shows changes. Every figure comes back with its alt text and
caption (units, N, source), and every PNG carries its axis titles as a text
chunk (``Axis titles``) so that a reader's check can confirm each chart has them.
Figures are drawn with matplotlib alone, imported only when a figure is drawn,
in the site's own light-grid theme (:data:`THEME`: the look the step figures get
from seaborn's ``whitegrid``, without importing seaborn and the scipy it loads).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .design import design_of, sources_read
from .findings import Finding, quoted, unit_words
from .inputs import SiteInputs
from .words import fixed, nice, places_for

PNG_METADATA = {"Software": None}
#: Inches of margin around the drawn content of a saved figure (matplotlib's ``savefig.pad_inches`` default).
TIGHT_PAD = 0.1
FIGURE_CACHE_SIZE = 64
"""Pictures the figure cache keeps (least recently used dropped first)."""
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


#: The summary figures' matplotlib settings: white panels with a light grid under the data, no top or right
#: spine, no tick marks, grey frame and dark grey text, DejaVu Sans at 11 points, bars with white edges.
THEME = {
    "font.family": ["DejaVu Sans"], "font.size": 11.0, "axes.titlesize": 12.0, "axes.labelsize": 11.0,
    "xtick.labelsize": 11.0, "ytick.labelsize": 11.0, "legend.fontsize": 11.0, "legend.title_fontsize": 12.0,
    "axes.grid": True, "axes.axisbelow": True, "grid.color": "#E8EDEE", "grid.linewidth": 1.0,
    "axes.edgecolor": ".8", "axes.linewidth": 1.25, "axes.spines.top": False, "axes.spines.right": False,
    "axes.labelcolor": ".15", "text.color": ".15", "xtick.color": ".15", "ytick.color": ".15",
    "xtick.bottom": False, "ytick.left": False, "xtick.major.size": 6.0, "ytick.major.size": 6.0,
    "xtick.major.width": 1.25, "ytick.major.width": 1.25, "xtick.minor.size": 4.0, "ytick.minor.size": 4.0,
    "xtick.minor.width": 1.0, "ytick.minor.width": 1.0, "lines.solid_capstyle": "round",
    "patch.edgecolor": "w", "patch.force_edgecolor": True, "figure.dpi": 100, "svg.hashsalt": "linkage",
}


def _style() -> None:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams.update(THEME)


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


def cached_png(spec: dict[str, Any], draw: Callable[[dict[str, Any], Path], None], path: Path, *code: str) -> None:
    """Write at ``path`` the PNG that ``draw(spec, path)`` writes, copied from the figure cache when the same
    ``spec`` was drawn before by the same code.

    ``spec`` must hold everything ``draw`` draws (plain JSON data: values, texts, sizes), so it decides
    the picture together with the drawing code (``code``: the source files of ``draw`` and of what it
    calls beyond this module, whose own source always counts), the theme as matplotlib applies it
    (every rcParam after :func:`_style`) and matplotlib's version and default font file.  A PNG drawn
    from them is the same bytes every time (no software or time metadata), so a copy is exactly what
    a new drawing would write.  The cache (:data:`~linkage.paths.FIGURE_CACHE`, not a DVC output)
    keeps the :data:`FIGURE_CACHE_SIZE` most recently used pictures.
    """
    import hashlib
    import json
    import shutil

    import matplotlib
    from matplotlib import font_manager

    from ..paths import FIGURE_CACHE

    _style()
    sources = sorted({__file__, *code})
    theme = {k: str(v) for k, v in sorted(matplotlib.rcParams.items())}
    blob = json.dumps([spec, theme, matplotlib.__version__, font_manager.findfont(matplotlib.rcParams["font.family"][0]),
                       [hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in sources]], sort_keys=True, default=str)
    key = hashlib.sha256(blob.encode()).hexdigest()
    hit = FIGURE_CACHE / f"{key}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    if hit.is_file():
        shutil.copyfile(hit, path)
        hit.touch()
        return
    draw(spec, path)
    try:
        FIGURE_CACHE.mkdir(parents=True, exist_ok=True)
        staged = hit.with_name(f"{key}.{os.getpid()}.tmp")
        shutil.copyfile(path, staged)
        os.replace(staged, hit)
        kept = sorted(FIGURE_CACHE.glob("*.png"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[FIGURE_CACHE_SIZE:]:
            old.unlink(missing_ok=True)
    except OSError:  # a cache that cannot be written only means drawing again next time
        pass


def save_png(fig, path: Path) -> None:
    """Save ``fig`` as PNG without software or time metadata, with its axis titles as text, then close it.

    The saved area is the figure's tight box padded by 0.1 inch, as ``bbox_inches="tight"`` saves it, but the
    figure is drawn once: matplotlib's "tight" first runs a whole draw (with painting switched off) only to
    place what it then measures, and a layout engine's work is done there too. Here the layout engine (if the
    figure has one) is run once by itself and switched off, and the box is measured without that draw, so the
    one draw that paints the PNG is the only one.
    """
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100, bbox_inches=tight_box(fig, 100),
                metadata={**PNG_METADATA, "Axis titles": axis_titles(fig)})
    plt.close(fig)


def tight_box(fig, dpi: float):
    """The area ``bbox_inches="tight"`` would save at ``dpi`` (the drawn content plus 0.1 inch), measured without a draw.

    The figure is set to ``dpi`` (text is measured at the resolution it is saved at); its layout
    engine, if any, is run once here and then switched off, as matplotlib's own tight saving does.
    """
    fig.set_dpi(dpi)
    engine = fig.get_layout_engine()
    if engine is not None:
        engine.execute(fig)  # constrained layout places the panels; a placeholder (after tight_layout) does nothing
        fig.set_layout_engine(None)
    return fig.get_tightbbox(fig.canvas.get_renderer()).padded(TIGHT_PAD)


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

    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7.5, 0.62 * len(rows) + 1.9))
    for i, f in enumerate(rows):
        ps = f.per_step
        ax.plot([ps["ci_low"], ps["ci_high"]], [i, i], color=BLUE if f.clear else GREY, lw=2.5, solid_capstyle="butt")
    for label, clear, colour, marker in (("Excludes zero", True, BLUE, "o"), ("Includes zero", False, GREY, "D")):
        at = [i for i, f in enumerate(rows) if f.clear == clear]
        if at:  # the key names only the kinds of interval the chart shows
            ax.scatter([rows[i].per_step["estimate"] for i in at], at, s=80, zorder=3, color=colour, marker=marker,
                       edgecolors="white", linewidths=1.2, label=label)
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


def draw_coverage(spec: dict[str, Any], out: Path) -> None:
    """Draw :func:`coverage_figure`'s bars (years, counts per measure, legend labels) as PNG at ``out``."""
    _style()
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(8, 3.4))
    at = range(len(spec["years"]))  # one slot per year, the two measures side by side in it
    ax.bar([i - 0.2 for i in at], spec["counts"]["staff"], width=0.4, color=BLUE, label=spec["labels"][0])
    ax.bar([i + 0.2 for i in at], spec["counts"]["patient"], width=0.4, color=GREY, hatch="//", label=spec["labels"][1])
    ax.set_xticks(list(at), spec["years"])
    ax.set_xlim(-0.5, len(spec["years"]) - 0.5)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True, steps=[1, 2, 2.5, 5, 10]))
    ax.grid(axis="x", visible=False)
    ax.set_ylabel("Trusts with a value (number)")
    ax.set_xlabel("Survey year")
    ax.legend(title=None, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=1)
    save_png(fig, out)


def coverage_figure(inputs: SiteInputs, out: Path, rel: str) -> Figure | None:
    """Trusts in the panel per survey year with the headline staff and patient measures."""
    h = inputs.headline
    panel = inputs.panel
    x, y = h.get("exposure"), h.get("dependent")
    if x not in panel or y not in panel:
        return None
    years = sorted(panel["year"].unique())
    counts = {k: [int(panel.loc[panel["year"] == yr, col].notna().sum()) for yr in years]
              for k, col in (("staff", x), ("patient", y))}
    spec = {"years": [str(yr) for yr in years], "counts": counts, "labels": [inputs.label(x), inputs.label(y)]}
    cached_png(spec, draw_coverage, out)
    who = "patients" if design_of(inputs).patient_experience else quoted(inputs, y)
    alt = ("Bar chart of the number of trusts with a value in each survey year: " + "; ".join(
        f"{yr}: {s} for staff, {p} for {who}" for yr, s, p in zip(years, counts["staff"], counts["patient"], strict=True))
        + ".")
    caption = (f"Trusts in the panel with a value of {quoted(inputs, x)} (blue) and of {quoted(inputs, y)} (grey, "
               f"hatched) by survey year. N = {panel['org_code'].nunique()} trusts. Source: {_sources(inputs)}.")
    return Figure(rel, alt, caption)
