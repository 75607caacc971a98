"""Every model result of interest said as one plain sentence, with its caveats.

A :class:`Finding` is one estimate (same year, a lag, the reverse direction, a
placebo lead, another wellbeing measure) expressed per a typical within-trust
change of the measure that comes first, in the units of the catalogue, with the
survey years it pairs, the series breaks those years cross and, in the same
sentence, a warning when the result runs against the expected direction or may
be an artefact of the design.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from ..vocab import UNIT_TEXT
from .design import ROLE_PEOPLE, design_of
from .inputs import SiteInputs, _base_measure
from .words import (
    NUMBER_WORDS,
    and_list,
    fixed,
    interval,
    interval_places,
    lower_first,
    nice,
    signed,
    typical_step,
    year_list,
    years_text,
)


@dataclass
class Finding:
    """One result in words.

    Attributes
    ----------
    key : str
        The specification name in ``model_results.csv`` (``forward_lag1``, ...).
    group : str
        ``headline``, ``timing``, ``reverse``, ``placebo`` or ``other_measure``.
    title : str
        A short heading in plain words.
    sentence : str
        The result with its interval, data, pairing, breaks and any warning.
    warning : str
        The warning alone ('' if none); it is also part of ``sentence``.
    clear : bool
        Whether the interval excludes no difference.
    per_step : dict
        ``step`` (typical change of the first measure) and the estimate and
        interval per that step, in the second measure's units.
    is_check : bool
        False for the same-year model with the measures swapped: it is the
        same partial association as the same-year result, not a further check.
    """

    key: str
    group: str
    title: str
    sentence: str
    warning: str = ""
    clear: bool = False
    per_step: dict[str, float] = field(default_factory=dict)
    is_check: bool = True


def unit_words(inputs: SiteInputs, measure: str, n: float = 2) -> str:
    """The unit of ``measure`` in words, plural unless ``n`` is 1 (``percentage points``, ``points``)."""
    m = inputs.measure(measure)
    unit = UNIT_TEXT.get(m.unit, "unit") if m else "unit"
    return unit if abs(n) == 1 else unit + "s"


def quoted(inputs: SiteInputs, measure: str) -> str:
    """The catalogue label of ``measure`` in quotes, as used inside sentences."""
    return f"“{inputs.label(measure)}”"


def pairs_for(panel: pd.DataFrame, y: str, x: str, lag: int) -> list[tuple[int, int, int]]:
    """Survey years a specification pairs: ``(x year, y year, trusts with both)``.

    ``x`` is read at year ``t - lag`` and ``y`` at year ``t`` (a negative lag is a lead).
    """
    if y not in panel or x not in panel:
        return []
    org, year = panel["org_code"].to_numpy(), panel["year"].to_numpy()
    has_y, has_x = panel[y].notna().to_numpy(), panel[x].notna().to_numpy()
    with_x = set(zip(org[has_x].tolist(), year[has_x].tolist(), strict=True))
    n_by_year: dict[int, int] = {}
    for code, t in set(zip(org[has_y].tolist(), year[has_y].tolist(), strict=True)):  # each trust-year once
        if (code, t - lag) in with_x:
            n_by_year[t] = n_by_year.get(t, 0) + 1
    return [(int(t - lag), int(t), n) for t, n in sorted(n_by_year.items())]


def who(inputs: SiteInputs, measure: str) -> str:
    """Who or what a measure's values are, inside a sentence: ``staff``, ``patients`` or the quoted label."""
    m = inputs.measure(measure)
    people = ROLE_PEOPLE.get(m.kind, "") if m else ""
    return people or quoted(inputs, measure)


def pairing_text(pairs: list[tuple[int, int, int]], xs: str, ys: str, lag: int, surveyed: bool = True) -> str:
    """Which years are paired, in words (``xs``, ``ys``: who or what each measure is, from :func:`who`)."""
    if not pairs:
        return "No survey years could be paired."
    if lag == 0:
        how = "surveyed in the same year" if surveyed else "from the same year"
        return f"It compares {xs} and {ys} {how} ({year_list(p[1] for p in pairs)})."
    if len(pairs) <= 3:
        return "It pairs " + and_list(f"{s} {xs} with {t} {ys}" for s, t, _ in pairs) + "."
    gap = f"{years_text(lag)} {'later' if lag > 0 else 'earlier'}"
    return f"It pairs each year of {xs} from {pairs[0][0]} to {pairs[-1][0]} with {ys} {gap}."


def sample_steps(pairs: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
    """Consecutive outcome years of the paired sample: the changes a first-difference design compares."""
    years = [t for _, t, _ in pairs]
    return list(zip(years, years[1:], strict=False))


def compared_changes(row: pd.Series, pairs: list[tuple[int, int, int]]) -> list[tuple[int, int, int, int]]:
    """``(x from, x to, y from, y to)`` of every change compared that spans more than one year.

    From the model stage's ``changes`` column (``'2019->2021 vs 2020->2022; ...'``)
    when it reports one, else from consecutive outcome years of the paired sample.
    """
    text = row.get("changes")
    if isinstance(text, str) and "->" in text:
        out = []
        for part in text.split(";"):
            hit = re.fullmatch(r"\s*(-?\d+)->(-?\d+) vs (-?\d+)->(-?\d+)\s*", part)
            if hit:
                a, b, c, d = (int(v) for v in hit.groups())
                if d - c > 1:
                    out.append((a, b, c, d))
        return out
    lag = int(row["lag"])
    return [(a - lag, b - lag, a, b) for a, b in sample_steps(pairs) if b - a > 1]


def n_changes(row: pd.Series, pairs: list[tuple[int, int, int]]) -> int:
    """How many consecutive-year changes the sample has (from the model stage's ``changes``, else the pairs)."""
    text = row.get("changes")
    if isinstance(text, str) and "->" in text:
        return len([p for p in text.split(";") if "->" in p])
    return len(sample_steps(pairs))


def change_text(changes: list[tuple[int, int, int, int]], xs: str, ys: str) -> str:
    """The within-trust changes compared that span more than one year, named as such ('' if none)."""
    if not changes:
        return ""
    spans = and_list(f"the {a} to {b} change in {xs} with the {c} to {d} change in {ys}" for a, b, c, d in changes)
    n = max(d - c for _, _, c, d in changes)
    return (f" Within each trust it compares changes between consecutive years of the sample, including {spans}: "
            f"a {NUMBER_WORDS.get(n, n)}-year change, because a year in between is not in the sample.")


def breaks_text(inputs: SiteInputs, measure: str, years: list[int]) -> list[str]:
    """Series breaks of ``measure`` that the ``years`` used cross or start at, each as a clause."""
    m = inputs.measure(measure)
    if m is None or not years:
        return []
    lo, hi = min(years), max(years)
    out = []
    for b in m.series_breaks:
        note = b.note.rstrip(".")
        if lo < b.year <= hi:
            comparable = "the catalogue treats the values as comparable across it" if b.comparable_across \
                else "values either side are not directly comparable"
            out.append(f"it crosses the {b.year} break in {quoted(inputs, measure)} ({note}; {comparable})")
        elif b.year == lo and not b.comparable_across and "introduced" not in note.lower():
            out.append(f"its first {quoted(inputs, measure)} year, {b.year}, is the first after a break in that series ({note})")
    return out


def within_sd(panel: pd.DataFrame, measure: str) -> float:
    """Standard deviation of ``measure`` within trusts over the panel's years (trust means removed)."""
    if measure not in panel:
        return float("nan")
    v = panel[["org_code", measure]].dropna()
    v = v[v.groupby("org_code")[measure].transform("size") > 1]
    if v.empty:
        return float("nan")
    return float((v[measure] - v.groupby("org_code")[measure].transform("mean")).std())


def expected_sign(inputs: SiteInputs, x: str, y: str) -> int:
    """+1 if better ``x`` is expected with better ``y``, -1 if with worse, 0 if unknown."""
    mx, my = inputs.measure(x), inputs.measure(y)
    if mx is None or my is None or mx.higher_is_better is None or my.higher_is_better is None:
        return 0
    return 1 if mx.higher_is_better == my.higher_is_better else -1


def _results_of(inputs: SiteInputs, measure: str) -> str:
    """``staff results``, ``patient results`` or the quoted label, as the subject of a title."""
    m = inputs.measure(measure)
    people = {"staff": "Staff results", "patient": "Patient results"}.get(m.kind, "") if m else ""
    return people or quoted(inputs, measure)


def longest_change(row: pd.Series, pairs: list[tuple[int, int, int]]) -> int:
    """Years spanned by the longest within-trust change a result compares (0 when not a within design).

    The model stage's ``change_gap_years`` when it reports one, else the gaps
    between consecutive outcome years of the paired sample.
    """
    if not design_of_family_within(str(row.get("model", ""))):
        return 0
    gap = row.get("change_gap_years")
    if gap is not None and gap == gap:
        return int(gap)
    return max((b - a for a, b in sample_steps(pairs)), default=0)


def design_of_family_within(family: str) -> bool:
    """Whether ``family`` estimates from changes within trusts (its compared changes can span a missing year)."""
    from ..vocab import EFFECT_KIND

    return EFFECT_KIND.get(family) == "within"


def _title(row: pd.Series, inputs: SiteInputs, group: str, span: int = 0, every: bool = False) -> str:
    lag = int(row["lag"])
    adj = str(row["spec_name"]).endswith("_adj")
    hold = ", same-year value held fixed" if adj else ""
    x, y = _base_measure(str(row["regressor"])), str(row["dependent"])
    if group == "other_measure":
        return f"{inputs.label(row['regressor'])}, same design"
    xs, ys = _results_of(inputs, x), _results_of(inputs, y)
    if group == "placebo":
        return f"Placebo check: {lower_first(xs)} from {years_text(lag)} after {lower_first(ys)}{hold}"
    if group == "reverse" and lag == 0:
        return "Same-year association with the two measures swapped (not a check of which comes first)"
    if group == "reverse":
        return f"Reverse direction: {lower_first(xs)} from {years_text(lag)} before {lower_first(ys)}{hold}"
    if lag == 0:
        return f"{xs} and {lower_first(ys)} from the same year"
    if span > 1:
        return (f"Changes in {lower_first(xs)} against later changes in {lower_first(ys)}, "
                f"{'over' if every else 'some over'} {years_text(span)}{hold}")
    return f"{xs} from {years_text(lag)} before {lower_first(ys)}{hold}"


def classify(row: pd.Series, head_spec: str) -> str:
    """The group of a result row (see :class:`Finding`)."""
    if str(row["spec_name"]).startswith("exposure_"):
        return "other_measure"
    if row["direction"] in ("reverse", "placebo"):
        return str(row["direction"])
    return "headline" if row["spec_name"] == head_spec else "timing"


def _skipped_reason(inputs: SiteInputs, spec_label: str) -> str:
    for item in inputs.notes.get("skipped") or []:
        if spec_label in str(item):
            reason = str(item).rsplit(": ", 1)[-1]
            return reason.split(";")[0].replace("([", "(").replace("])", ")")
    return ""


def _adjusted_row(inputs: SiteInputs, row: pd.Series) -> pd.Series | None:
    res = inputs.results
    sub = res[(res["spec_name"] == f"{row['spec_name']}_adj") & (res["model"] == row["model"])
              & (res["term"] == row["regressor"])]
    return sub.iloc[0] if len(sub) else None


def design_warning(inputs: SiteInputs, row: pd.Series, group: str, clear: bool, level: int) -> str:
    """The warning that belongs in the same sentence as a result ('' if none).

    Three cases: a result against the expected direction; a placebo lead that
    is not null; an unadjusted lag or lead in a short panel with trust effects,
    which can carry part of any same-year association (its adjusted version
    missing or no longer clear).
    """
    x, y = _base_measure(str(row["regressor"])), str(row["dependent"])
    sign = expected_sign(inputs, x, y)
    est = float(row["estimate"])
    parts = []
    if clear and group == "placebo":
        parts.append("a placebo check should show no link, and this one does: that points to shared trends or an "
                     "artefact of the design, and weakens any reading of the timing results as one measure coming first")
    elif clear and sign and (est > 0) != (sign > 0):
        better = "better" if sign > 0 else "worse"
        parts.append(f"this runs against the expected direction (higher {quoted(inputs, x)} was expected to go with "
                     f"{better} {quoted(inputs, y)}), so read it as chance or an artefact, not as a real benefit")
    if clear and int(row["lag"]) != 0 and not str(row["spec_name"]).endswith("_adj"):
        adj = _adjusted_row(inputs, row)
        if adj is None:
            reason = _skipped_reason(inputs, f"{row['spec']} + ") or "it was not fitted"
            within = " with trust effects and few years per trust" if design_of(inputs, str(row["model"])).within else ""
            parts.append("the check that also holds the same-year value fixed could not be estimated "
                         f"({reason});{within} an unadjusted lag or lead can carry part of a same-year "
                         "association, so this is not evidence that one comes first")
        elif float(adj["ci_low"]) <= 0 <= float(adj["ci_high"]):
            parts.append("when the same-year value is also held fixed the link is no longer clear, so it may "
                         "carry part of a same-year association")
    return "; ".join(parts)


def higher_than(inputs: SiteInputs, family: str) -> tuple[str, str]:
    """``(subject, comparison)`` of a finding's sentence for the design fitted.

    Within-trust designs compare a trust with its own other years ("higher than
    usual for the trust"); pooled and random-effects designs compare trust-years
    with each other; the between design compares trusts' averages.
    """
    d = design_of(inputs, family)
    if d.within:
        return "In years when", " higher than usual for the trust"
    if family == "between":
        return "In trusts whose average", " higher"
    return "In trust-years where", " higher"


def direction_words(inputs: SiteInputs, y: str, est: float, places: int) -> str:
    """``' (worse, since for this measure higher is better)'`` after a rounded non-zero change of ``y``, else ''."""
    m = inputs.measure(y)
    if m is None or m.higher_is_better is None or float(fixed(abs(est), places).replace(",", "")) == 0:
        return ""
    better = "better" if (est > 0) == bool(m.higher_is_better) else "worse"
    return f" ({better}, since for this measure {'higher' if m.higher_is_better else 'lower'} is better)"


def describe(inputs: SiteInputs, row: pd.Series, group: str) -> Finding:
    """One result row as a :class:`Finding`.

    Parameters
    ----------
    inputs : SiteInputs
    row : pandas.Series
        A row of ``model_results.csv`` whose term is its specification's regressor.
    group : str
        From :func:`classify`.
    """
    x, y = _base_measure(str(row["regressor"])), str(row["dependent"])
    lag = int(row["lag"])
    level = int(round(100 * (1 - float(row["alpha"]))))
    step = typical_step(within_sd(inputs.panel, x))
    est, lo, hi = (float(row[k]) * step for k in ("estimate", "ci_low", "ci_high"))
    clear = lo > 0 or hi < 0
    places = interval_places(lo, hi)
    later = " in the same year" if lag == 0 else f" {years_text(lag)} {'later' if lag > 0 else 'earlier'}"
    yu = unit_words(inputs, y)
    subject, than = higher_than(inputs, str(row["model"]))
    text = (f"{subject} {quoted(inputs, x)} was {nice(step, 1)} {unit_words(inputs, x, step)}{than}, "
            f"{quoted(inputs, y)}{later} was {signed(est, places, yu)}{direction_words(inputs, y, est, places)} "
            f"({level}% interval: {interval(lo, hi, places, yu)}; {int(row['n_entities'])} trusts, "
            f"{int(row['n_obs'])} trust-years). ")
    text += ("The interval does not include zero. " if clear
             else "The interval includes zero: the data cannot tell a link from none. ")
    pairs = pairs_for(inputs.panel, y, x, lag)
    xs, ys = who(inputs, x), who(inputs, y)
    surveyed = all(inputs.measure(m) is not None and inputs.measure(m).kind in ROLE_PEOPLE for m in (x, y))
    text += pairing_text(pairs, xs, ys, lag, surveyed)
    span = longest_change(row, pairs)
    long = compared_changes(row, pairs) if span > 1 else []
    if span > 1:
        text = text.rstrip(".") + "." + change_text(long, xs, ys)
    breaks = breaks_text(inputs, x, [p[0] for p in pairs]) + breaks_text(inputs, y, [p[1] for p in pairs])
    if breaks:
        text = text.rstrip(".") + "; " + "; ".join(breaks) + "."
    if group == "reverse" and lag == 0:
        text += (" With both measures from the same year this is the same-year association as above with the roles "
                 "swapped, so it says nothing about which comes first.")
    warning = design_warning(inputs, row, group, clear, level)
    if warning:
        text += f" Warning: {warning}."
    return Finding(key=str(row["spec_name"]), group=group, title=_title(row, inputs, group, span, bool(long) and len(long) == n_changes(row, pairs)), sentence=text,
                   warning=warning, clear=clear,
                   per_step={"step": step, "estimate": est, "ci_low": lo, "ci_high": hi},
                   is_check=not (group == "reverse" and lag == 0))


def rows_of_interest(inputs: SiteInputs) -> pd.DataFrame:
    """Results of the headline family whose term is the specification's regressor, in a reading order."""
    res = inputs.results
    fam = inputs.headline.get("family")
    sub = res[(res["model"] == fam) & (res["term"].astype(str) == res["regressor"].astype(str))].copy()
    order = {"forward": 0, "reverse": 1, "placebo": 2}
    sub["_o"] = sub["direction"].map(order).fillna(3) + sub["spec_name"].astype(str).str.startswith("exposure_") * 10
    sub["_l"] = sub["lag"].abs()
    return sub.sort_values(["_o", "_l", "spec_name"], kind="stable").drop(columns=["_o", "_l"])


def all_findings(inputs: SiteInputs) -> list[Finding]:
    """Every same-year, timing, reverse, placebo and other-measure result, in reading order."""
    res = inputs.results
    head = res[res["headline"].astype(str).str.lower() == "true"]
    head_spec = str(head["spec_name"].iloc[0]) if len(head) else ""
    return [describe(inputs, r, classify(r, head_spec)) for _, r in rows_of_interest(inputs).iterrows()]
