"""The summary's deprivation section and each trust page's deprivation sentence (issue 16).

Reads ``data/processed/context_models.json`` (the model stage's deprivation analyses,
:mod:`linkage.context_models`), ``data/processed/context_audit.csv`` and the panel's
``context.*`` columns. Every number comes from those files; nothing is a cause.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..paths import STAGES
from .charts import BLUE, DARK, GREY, Figure, _style, cached_png, save_png
from .design import sources_read
from .findings import quoted, unit_words
from .inputs import SiteInputs
from .words import bare_label, fixed, level_units, nice, p_text, places_for

MODERATOR = "context.imd2019_score"
FIGURE_NAME = "summary_deprivation.png"
#: A trust page warns when the trust is in the most deprived third and its median patient base is in the
#: lowest fifth of panel trusts.
LOW_BASE_QUANTILE = 0.2
CONTEXT_SOURCE = ("OHID acute trust catchment populations (2022 trusts) and MHCLG English Indices of "
                  "Deprivation 2019 and 2025, local authority summaries")


@dataclass
class Deprivation:
    """What the summary's deprivation section shows (``available`` False: the reason only)."""

    available: bool
    reason: str = ""
    coverage: str = ""
    gradients: list[str] = field(default_factory=list)
    within: list[str] = field(default_factory=list)
    thirds: list[dict[str, str]] = field(default_factory=list)
    bases: list[str] = field(default_factory=list)
    warned: list[tuple[str, str]] = field(default_factory=list)
    cannot: list[str] = field(default_factory=list)
    figure: Figure | None = None


def load_context(root: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """The deprivation analyses and the context audit (empty when the run has none)."""
    rep = STAGES["report"]
    jpath, apath = root / rep.path("context_models"), root / rep.path("context_audit")
    models = json.loads(jpath.read_text()) if jpath.exists() else {}
    audit = pd.read_csv(apath) if apath.exists() and apath.stat().st_size > 1 else pd.DataFrame()
    return models, audit


def _ci(r: dict[str, Any], places: int) -> str:
    return f"{fixed(r['ci_low'], places)} to {fixed(r['ci_high'], places)}"


def _level(cm: dict[str, Any]) -> int:
    return int(round(100 * (1 - cm.get("alpha", 0.05))))


def _worse(inputs: SiteInputs, measure: str, est: float) -> str:
    m = inputs.measure(measure)
    hib = getattr(m, "higher_is_better", None)
    if hib is None or est == 0:
        return ""
    return " (worse)" if (est < 0) == bool(hib) else " (better)"


def gradient_sentences(inputs: SiteInputs, cm: dict[str, Any]) -> list[str]:
    """Between-trust gradients of the dependent and the exposure on catchment deprivation, in words."""
    out = []
    for g in cm["gradients"]:
        m = g["measure"]
        if "slope_per_sd" not in g:
            out.append(f"{quoted(inputs, m)}: not estimated ({g.get('reason', 'too few trusts')}).")
            continue
        p = places_for(g["ci_low"], g["ci_high"])
        clear = g["ci_low"] > 0 or g["ci_high"] < 0
        word = "higher" if g["slope_per_sd"] > 0 else "lower"
        out.append(
            f"{quoted(inputs, m)}: trusts whose catchment is one standard deviation ({nice(g['d_sd'], 2)} points of "
            f"the IMD 2019 score) more deprived have on average a {fixed(abs(g['slope_per_sd']), p)} "
            f"{unit_words(inputs, m, g['slope_per_sd'])} {word} value{_worse(inputs, m, g['slope_per_sd'])} "
            f"({_level(cm)}% interval {_ci({'ci_low': g['ci_low'], 'ci_high': g['ci_high']}, p)}; "
            f"{g['n_trusts']} trusts, their means over the panel years){'' if clear else '; the interval includes zero'}.")
    return out


def within_sentences(inputs: SiteInputs, cm: dict[str, Any]) -> list[str]:
    """The exposure x deprivation interaction and the difference between thirds, with its MDE."""
    it, y, x = cm["interaction"], cm["dependent"], cm["exposure"]
    if not it.get("ok"):
        return [f"The interaction model could not be fitted: {it.get('reason', 'no data')}."]
    b, bi = it["terms"]["x"], it["terms"]["xd"]
    p, pb = places_for(bi["ci_low"], bi["ci_high"]), places_for(b["ci_low"], b["ci_high"])
    yu, xu = unit_words(inputs, y), unit_words(inputs, x, 1)
    lag = f" {cm['lag']} year(s) earlier" if cm["lag"] else " in the same year"
    out = [f"Design: {cm['design']}; {quoted(inputs, x)}{lag} and {quoted(inputs, y)}, with their product with catchment "
           f"deprivation (IMD 2019 score, centred at the trusts' mean {nice(it['d_mean'], 3)} and divided by their "
           f"standard deviation {nice(it['d_sd'], 2)}). {it['n_trusts']} trusts, {it['n_obs']} trust-years.",
           f"At average deprivation, a trust's year with 1 {xu} higher {quoted(inputs, x)} than usual for it goes with "
           f"{fixed(b['estimate'], pb)} {yu} ({_level(cm)}% interval {_ci(b, pb)}). For a trust one standard deviation more "
           f"deprived, this association differs by {fixed(bi['estimate'], p)} {yu} per {xu} (interval {_ci(bi, p)}, "
           f"{p_text(bi['p_value'])}); the smallest difference these data would detect with "
           f"{int(round(100 * cm['power']))}% power is {nice(bi['mde'], 2)} {yu} per {xu} in either direction."]
    d = cm.get("difference") or {}
    if d:
        pd_ = places_for(d["ci_low"], d["ci_high"])
        out.append(f"Fitted separately in each third of trusts by deprivation, the most deprived third's association minus "
                   f"the least deprived third's is {fixed(d['estimate'], pd_)} {yu} per {xu} (interval {_ci(d, pd_)}); a "
                   f"difference smaller than {nice(d['mde'], 2)} {yu} per {xu} (the MDE) would probably go unseen, so "
                   f"{'an interval including zero is not evidence that the link is the same everywhere' if d['ci_low'] <= 0 <= d['ci_high'] else 'the thirds differ beyond sampling noise, as an association'}.")
    return out


def third_rows(cm: dict[str, Any]) -> list[dict[str, str]]:
    """Table rows: each third's IMD range, trusts, trust-years and its within estimate with interval."""
    rows = []
    bases = {b["third"]: b for b in cm.get("bases", [])}
    for t in cm.get("thirds", []):
        b = bases.get(t["third"], {})
        est = (f"{fixed(t['estimate'], places_for(t['ci_low'], t['ci_high']))} "
               f"({_ci(t, places_for(t['ci_low'], t['ci_high']))})") if "estimate" in t else t.get("reason", "")
        rows.append({"name": t["name"], "range": f"{nice(t['d_min'], 3)} to {nice(t['d_max'], 3)}",
                     "trusts": str(t["n_trusts"]), "obs": str(t["n_obs"]), "estimate": est,
                     "median_n": nice(b["median_n"], 3) if "median_n" in b else "–",
                     "reliability": fixed(b["reliability"], 2) if pd.notna(b.get("reliability")) else "–"})
    return rows


def warned_trusts(inputs: SiteInputs, cm: dict[str, Any]) -> list[tuple[str, str]]:
    """(code, name) of trusts in the most deprived third whose median patient base is in the lowest fifth."""
    panel, y = inputs.panel, cm.get("dependent", "")
    ncol = f"{y}__n"
    if ncol not in panel or MODERATOR not in panel:
        return []
    per = panel.groupby("org_code").agg(n=(ncol, "median"), d=(MODERATOR, "first"),
                                        name=("org_name", "last")).dropna(subset=["n", "d"])
    if len(per) < 6:
        return []
    most = per["d"].rank(method="first") > 2 * len(per) / 3
    low = per["n"] <= per["n"].quantile(LOW_BASE_QUANTILE)
    return [(str(c), str(r["name"])) for c, r in per[most & low].sort_index().iterrows()]


def base_sentences(inputs: SiteInputs, cm: dict[str, Any], warned: list[tuple[str, str]]) -> list[str]:
    """Respondents and reliability of the dependent by third, and which trust pages warn."""
    y = cm["dependent"]
    parts = [f"the {b['name']} a median of {nice(b['median_n'], 3)} respondents per trust-year (fewest "
             f"{nice(b['min_n'], 3)}), reliability {fixed(b['reliability'], 2)}" for b in cm.get("bases", [])
             if "median_n" in b]
    if not parts:
        return [f"The panel has no respondent counts for {quoted(inputs, y)}, so this cannot be answered."]
    out = [f"Respondents behind {quoted(inputs, y)}: " + "; ".join(parts) + ". Reliability is the share of the "
           "differences between trusts in one year that is not sampling noise (from the respondent counts; 1 would mean no sampling noise at all)."]
    if warned:
        out.append(f"{len(warned)} trust(s) in the most deprived third have a median base in the lowest fifth of "
                   "panel trusts; their pages say so.")
    else:
        out.append("No trust in the most deprived third has a median base in the lowest fifth of panel trusts, so no "
                   "trust page warns about it.")
    return out


CANNOT = [
    "Whether patients from the poorest neighbourhoods get worse care within the same trust: the surveys are "
    "published per trust, not by patients' home area, so every number here describes trusts, not people.",
    "Who did not answer: response rates by deprivation are not published, so 'least heard' is read only from "
    "respondent counts per trust.",
    "Change in catchments: the catchments are those of 2022 and are held fixed over the panel's years, and a "
    "local authority's average score hides the spread of its neighbourhoods.",
    "Cause: gradients compare different trusts, and the interaction is a difference in within-trust associations; "
    "neither says that deprivation, or staff wellbeing, changes patient experience.",
]


def placeholder(out: Path) -> None:
    """The declared figure file when there is nothing to plot: a small image saying so."""
    _style()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 0.6))
    ax.axis("off")
    ax.text(0.5, 0.5, "No trust context in this run", ha="center", va="center", color=DARK)
    save_png(fig, out)


def _level_units(inputs: SiteInputs, measure: str) -> str:
    m = inputs.measure(measure)
    return level_units(m.unit, m.kind) if m else "units"


def draw_deprivation(spec: dict[str, Any], out: Path) -> None:
    """Draw :func:`deprivation_figure`'s panels (trust means, fitted line, y title per panel) as PNG at ``out``."""
    _style()
    import matplotlib.pyplot as plt

    panels = spec["panels"]
    # constrained layout leaves room for each panel's own y title, however long the measure's label
    fig, axes = plt.subplots(1, len(panels), figsize=(5.6 * len(panels), 4.2), squeeze=False, layout="constrained")
    for ax, g in zip(axes[0], panels, strict=True):
        ax.plot(g["x"], g["y"], "o", ms=4, color=GREY, alpha=0.7)
        ax.plot(*g["line"], color=BLUE, lw=2)
        ax.set_xlabel("Catchment deprivation\n(IMD 2019 score, higher = more deprived)")
        ax.set_ylabel(g["ylabel"], color=DARK)
    save_png(fig, out)


def deprivation_figure(inputs: SiteInputs, cm: dict[str, Any], out: Path, rel: str) -> Figure | None:
    """Two panels: each trust's mean dependent and exposure against its catchment deprivation, with the OLS line."""
    ms = [g for g in cm.get("gradients", []) if "slope_per_sd" in g]
    if not ms or MODERATOR not in inputs.panel:
        placeholder(out)
        return None
    import numpy as np

    d = inputs.panel.groupby("org_code")[MODERATOR].first()
    panels = []
    for g in ms:
        tm = pd.concat([inputs.panel.groupby("org_code")[g["measure"]].mean(), d], axis=1).dropna()
        xs = np.linspace(tm[MODERATOR].min(), tm[MODERATOR].max(), 2)
        line = g["mean"] + g["slope_per_sd"] * (xs - tm[MODERATOR].mean()) / g["d_sd"]
        panels.append({"x": [float(v) for v in tm[MODERATOR]], "y": [float(v) for v in tm[g["measure"]]],
                       "line": [[float(v) for v in xs], [float(v) for v in line]],
                       "ylabel": textwrap.fill(f"{bare_label(inputs.label(g['measure']))} (trust mean, "
                                               f"{_level_units(inputs, g['measure'])})", 34)})
    cached_png({"panels": panels}, draw_deprivation, out, __file__)
    alt = ("Scatter plots of trust means against catchment deprivation: " + "; ".join(
        f"{inputs.label(g['measure'])}, {g['n_trusts']} trusts, fitted slope {nice(g['slope_per_sd'], 2)} per standard "
        f"deviation of deprivation (interval {nice(g['ci_low'], 2)} to {nice(g['ci_high'], 2)})" for g in ms) + ".")
    caption = ("Each dot is a trust: its mean over the panel years against the share-weighted IMD 2019 score of its "
               "catchment; the blue line is the least-squares fit (between trusts, an association). N = "
               f"{ms[0]['n_trusts']} trusts. Sources: {sources_read(inputs.headline, inputs.catalogue)}; {CONTEXT_SOURCE}.")
    return Figure(rel, alt, caption)


def coverage_sentence(cm: dict[str, Any], audit: pd.DataFrame, demo: bool = False) -> str:
    """How many panel trusts carry the scores, the successor mapping, and the trusts without a catchment."""
    none = audit[audit["fate"] == "no_catchment"]["trust_code"].astype(str).tolist() if len(audit) else []
    n_succ = int(audit["reason"].astype(str).str.contains("successor").sum()) if len(audit) else 0
    text = (f"Catchment deprivation is the share-weighted mean of the scores of the local authorities a trust's patients "
            f"live in. {cm['n_trusts_with_context']} of the {cm['n_trusts_panel']} panel trusts have it. For IMD 2025 "
            f"(2024 authorities), {n_succ} catchment rows of authorities abolished in the 2023 reorganisations "
            "(Cumbria, North Yorkshire, Somerset) are scored by their successor authority.")
    if none:
        n_spec = int(audit.loc[audit["fate"] == "no_catchment", "reason"].astype(str).str.contains("specialist").sum())
        text += (f" {len(none)} panel trust(s) have no published catchment ({n_spec} of them specialist trusts) and "
                 f"are left out of this section: {', '.join(none)}.")
    if demo:
        text += (" On this synthetic demo, catchment deprivation was planted to go with a lower patient-experience level "
                 "between trusts, and no exposure x deprivation interaction was planted.")
    return text


def deprivation_section(inputs: SiteInputs, out: Path) -> Deprivation:
    """The whole section for the summary (figure written to ``out/figures``)."""
    cm, audit = load_context(inputs.root)
    if not cm.get("available"):
        placeholder(out / "figures" / FIGURE_NAME)
        return Deprivation(False, reason=cm.get("reason", "this run has no trust context"))
    warned = warned_trusts(inputs, cm)
    fig = deprivation_figure(inputs, cm, out / "figures" / FIGURE_NAME, f"figures/{FIGURE_NAME}")
    return Deprivation(True, coverage=coverage_sentence(cm, audit, inputs.demo), gradients=gradient_sentences(inputs, cm),
                       within=within_sentences(inputs, cm), thirds=third_rows(cm),
                       bases=base_sentences(inputs, cm, warned), warned=warned, cannot=CANNOT, figure=fig)


def _decile_word(d: Any) -> str:
    return "–" if pd.isna(d) else str(int(d))


def trust_sentence(inputs: SiteInputs, code: str, n_acute: int, warned: set[str], row: Any = None) -> str:
    """One sentence for a trust page: its catchment deciles (both vintages) and what they mean for its peers.

    ``row`` is the trust's last panel row (a Series or a dict of its columns) when the caller has it (else it
    is looked up).
    """
    panel = inputs.panel
    if "context.imd2019_decile" not in panel:
        return ""
    if row is None:
        row = panel[panel["org_code"] == code].iloc[-1]
    d19, d25 = row.get("context.imd2019_decile"), row.get("context.imd2025_decile")
    if pd.isna(d19) and pd.isna(d25):
        return ("No catchment population is published for this trust (specialist trusts have none), so the deprivation "
                "of the people it serves is not known here.")
    d = d19 if not pd.isna(d19) else d25
    where = ("a more deprived population than most trusts do" if int(d) <= 3 else
             "a less deprived population than most trusts do" if int(d) >= 8 else
             "a population near the middle in deprivation")
    gap = (": part of any gap between it and its peers may reflect who it serves" if int(d) <= 3 or int(d) >= 8
           else "")
    text = (f"Its catchment (the local authorities its patients live in, weighted by their share) is in decile "
            f"{_decile_word(d19)} of 10 on the IMD 2019 and decile {_decile_word(d25)} on the IMD 2025, where 1 is the "
            f"most deprived tenth of the {n_acute} acute trusts (as now constituted) with a published catchment. It "
            f"serves {where}; the comparison with its peers below does not allow for that{gap}.")
    if code in warned:
        text += (" Its patient results rest on fewer respondents than those of four in five panel trusts, and it is in "
                 "the most deprived third: read its patient results with their wider ranges in mind.")
    return text


def trust_sentences(inputs: SiteInputs) -> dict[str, str]:
    """The deprivation sentence of every panel trust (empty when the run has no context)."""
    cm, audit = load_context(inputs.root)
    if not cm.get("available") or "context.imd2019_decile" not in inputs.panel:
        return {}
    n_acute = int(audit.loc[audit["file"].notna() & audit["area_code"].notna(), "mapped_to"].nunique()) if len(audit) else 0
    warned = {c for c, _ in warned_trusts(inputs, cm)}
    cols = [c for c in ("context.imd2019_decile", "context.imd2025_decile") if c in inputs.panel]
    last = inputs.panel.drop_duplicates("org_code", keep="last").set_index("org_code")[cols]  # each trust's last row
    rows = last.to_dict("index")  # plain dicts: one lookup per trust without a Series each
    return {str(c): trust_sentence(inputs, str(c), n_acute, warned, rows[c])
            for c in sorted(inputs.panel["org_code"].unique())}


def methods_paragraphs(inputs: SiteInputs) -> list[str]:
    """The methods page's account of the trust context (none when the run has none)."""
    cm, audit = load_context(inputs.root)
    if not len(audit):
        return []
    fates = audit["fate"].value_counts().to_dict()
    n_succ = int(audit["reason"].astype(str).str.contains("successor").sum())
    text = ("Trust context (catchment deprivation): each trust's value is the share-weighted mean of the local "
            "authority scores of its catchment (OHID catchments of 2022 trusts, on 2021 authorities). IMD 2019 is "
            "joined on the same codes; IMD 2025 is published on 2024 authorities, so each of the 17 authorities "
            "abolished in the 2023 reorganisations of Cumbria, North Yorkshire and Somerset is scored by its successor "
            f"(packaged src/linkage/context/ltla_successors_2023.csv; {n_succ} catchment rows). A trust with any "
            "area left unscored gets no value rather than a partial mean; catchment trusts that later merged are "
            "averaged with equal weight. Every context row is in data/processed/context_audit.csv: "
            + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(fates.items())) + ".")
    out = [text]
    if cm.get("available"):
        out.append(f"Deprivation models: {cm['design']}; the exposure x deprivation term uses the IMD 2019 score "
                   "centred at the trusts' mean and divided by their standard deviation; the thirds are fitted "
                   "separately and their difference's standard error assumes independence (disjoint trusts).")
    return out
