"""The summary page's answers: what was found, how big, how sure, for whom, and what it cannot show."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .findings import Finding, all_findings, quoted, unit_words, within_sd
from .inputs import SiteInputs
from .words import and_list, fixed, interval, interval_places, nice, signed, year_list, years_text

TRUST_TYPE_TEXT = {
    "acute": "acute trusts",
    "acute_specialist": "acute specialist trusts",
    "mental_health": "mental health trusts",
    "community": "community trusts",
    "ambulance": "ambulance trusts",
}


@dataclass
class Answers:
    """The summary's lead, one plain paragraph per question a policy analyst asks.

    Attributes
    ----------
    question : str
        The question the headline model answers, in words.
    points : list of (str, str)
        ``(heading, paragraph)`` pairs: what was found, how big, how sure,
        which trusts and years, compared with the classic design, what it
        cannot show.
    findings : list of Finding
        Every timing, reverse, placebo and other-measure result as a sentence.
    """

    question: str
    points: list[tuple[str, str]]
    findings: list[Finding] = field(default_factory=list)


def _headline(findings: list[Finding]) -> Finding | None:
    return next((f for f in findings if f.group == "headline"), None)


def _found(inputs: SiteInputs, head: Finding) -> str:
    x, y = inputs.headline["exposure"], inputs.headline["dependent"]
    if not head.clear:
        return (f"No clear link. Comparing each trust with itself over time, years with more or less "
                f"{quoted(inputs, x)} were not clearly years with different {quoted(inputs, y)}.")
    direction = "lower" if head.per_step["estimate"] < 0 else "higher"
    lag = int(inputs.headline.get("lag", 0))
    then = "were years with" if lag == 0 else f"were followed {years_text(lag)} later by"
    return f"Years in which a trust had higher {quoted(inputs, x)} than usual {then} {direction} {quoted(inputs, y)}."


def _others_clear(findings: list[Finding]) -> str:
    """A pointer to the checks whose interval excludes no difference, with their warning status."""
    clear = [f for f in findings if f.clear and f.group != "headline"]
    if not clear:
        return " None of the timing, reverse or placebo checks below shows a clear link either."
    parts = [f"{f.title.lower()}{' (with a warning)' if f.warning else ''}" for f in clear]
    return (f" {'One check' if len(clear) == 1 else 'Some checks'} below {'does' if len(clear) == 1 else 'do'} "
            f"show a link: {and_list(parts)}; read {'it' if len(clear) == 1 else 'them'} with the caveats given there.")


def _size(inputs: SiteInputs, head: Finding) -> str:
    x, y = inputs.headline["exposure"], inputs.headline["dependent"]
    ps = head.per_step
    places = interval_places(ps["ci_low"], ps["ci_high"])
    yu = unit_words(inputs, y)
    sd_y = within_sd(inputs.panel, y)
    text = (f"A rise of {nice(ps['step'], 1)} {unit_words(inputs, x, ps['step'])} in {quoted(inputs, x)} (about a "
            f"typical year-to-year change within a trust) went with {signed(ps['estimate'], places, yu)} on "
            f"{quoted(inputs, y)}.")
    if sd_y == sd_y:
        text += (f" For scale, that score typically moves by about {nice(sd_y, 1)} {yu} from one year to the next "
                 "within a trust.")
    return text


def _sure(inputs: SiteInputs, head: Finding) -> str:
    h = inputs.headline
    ps = head.per_step
    places = interval_places(ps["ci_low"], ps["ci_high"])
    yu = unit_words(inputs, h["dependent"])
    level = int(round(100 * (1 - float(h.get("alpha", 0.05)))))
    text = (f"The {level}% interval runs from {interval(ps['ci_low'], ps['ci_high'], places, yu)}"
            f"{'; it excludes no difference' if head.clear else '; it includes no difference'}.")
    mde = h.get("mde")
    if mde:
        mde_step = float(mde) * ps["step"]
        text += (f" With this panel, a link smaller than about {fixed(mde_step, places)} {yu} per "
                 f"{nice(ps['step'], 1)} {unit_words(inputs, h['exposure'], ps['step'])} would usually go "
                 f"undetected ({int(100 * float(h.get('power', 0.8)))}% power), so smaller links cannot be ruled out.")
    return text


def _coverage(inputs: SiteInputs) -> str:
    h = inputs.headline
    types = and_list(TRUST_TYPE_TEXT.get(t, t) for t in inputs.linkage.get("trust_types", []))
    data = "synthetic (demo) trusts" if inputs.demo else "NHS trusts in England"
    return (f"{h['n_trusts']} {data} ({types or 'all types'}), {h['n_obs']} trust-years, survey years "
            f"{year_list(h.get('years', []))}. Each trust is compared with itself in other years, and what all "
            "trusts shared in a year (national events, survey changes) is taken out.")


def _between(inputs: SiteInputs, head: Finding) -> str:
    res = inputs.results
    h = inputs.headline
    row = res[(res["model"] == "between") & (res["term"] == h["term"])]
    if row.empty:
        return ""
    r = row.iloc[0]
    step = head.per_step["step"]
    lo, hi, est = (float(r[k]) * step for k in ("ci_low", "ci_high", "estimate"))
    places = interval_places(lo, hi)
    yu = unit_words(inputs, h["dependent"])
    agree = head.per_step["ci_low"] <= est <= head.per_step["ci_high"]
    return (f"Comparing different trusts with each other instead (the cross-sectional design of older studies), "
            f"trusts with {nice(step, 1)} {unit_words(inputs, h['exposure'], step)} more {quoted(inputs, h['exposure'])} "
            f"had {signed(est, places, yu)} {quoted(inputs, h['dependent'])} (interval: {interval(lo, hi, places, yu)}). "
            + ("The two designs agree within their uncertainty." if agree else
               "The gap between the two designs means that much of the difference between trusts reflects lasting "
               "differences between them (their patients, places and histories), not year-to-year changes."))


def cannot_show(inputs: SiteInputs) -> str:
    """What the design cannot show, naming the measures."""
    x, y = (quoted(inputs, inputs.headline[k]) for k in ("exposure", "dependent"))
    return (f"It is an association, not a cause: it does not show that changing {x} would change {y}, and things "
            "that change within a trust over time (new leadership, pressure on beds, local events) can move both. "
            "It is about trusts, not people: trust averages cannot show that the staff who answered the Staff "
            "Survey are the ones who cared for the patients who answered the Inpatient Survey.")


def answers(inputs: SiteInputs) -> Answers:
    """Assemble the summary's answers from the site inputs."""
    h = inputs.headline
    found = all_findings(inputs)
    head = _headline(found)
    lag = int(h.get("lag", 0))
    when = "in the same year" if lag == 0 else f"{years_text(lag)} later"
    question = (f"When a trust's {quoted(inputs, h['exposure'])} is higher than usual for it, is "
                f"{quoted(inputs, h['dependent'])} {when} different?")
    points: list[tuple[str, str]] = []
    if head is not None:
        found_text = _found(inputs, head) + _others_clear(found) + (f" Warning: {head.warning}." if head.warning else "")
        points += [("What was found", found_text), ("How big", _size(inputs, head)),
                   ("How sure", _sure(inputs, head))]
    points.append(("Which trusts and years", _coverage(inputs)))
    if head is not None and (between := _between(inputs, head)):
        points.append(("Compared with the classic design", between))
    points.append(("What it cannot show", cannot_show(inputs)))
    if inputs.demo and "true_effect" in h:
        covers = "covers" if h.get("covers_true_effect") else "does NOT cover"
        points.append(("Demo check", f"The synthetic data were built with a known effect of {h['true_effect']} "
                       f"{unit_words(inputs, h['dependent'])} per {unit_words(inputs, h['exposure'], 1)}; the "
                       f"interval {covers} it."))
    return Answers(question=question, points=points, findings=[f for f in found if f.group != "headline"])


def _plain_reason(inputs: SiteInputs, reason: str) -> str:
    """A skipped model's reason without code lists, measure names replaced by catalogue labels."""
    reason = reason.split(" (measures available", 1)[0].split("; dropped", 1)[0].split(" (min_obs", 1)[0]
    reason = reason.replace("([", "(").replace("])", ")")
    for m in sorted(inputs.catalogue.measures, key=len, reverse=True):
        reason = reason.replace(f"['{m}']", quoted(inputs, m)).replace(m, quoted(inputs, m))
    return reason


def not_estimable(inputs: SiteInputs) -> list[str]:
    """Models that could not be fitted, in words (catalogue labels, no formulae)."""
    out = []
    for item in inputs.notes.get("skipped") or []:
        text = str(item)
        spec = text.split("[", 1)[-1].split("]", 1)[0]
        reason = text.split("]: ", 1)[-1].removeprefix(spec + ": ")
        names = [m for m in inputs.catalogue.measures if f"{m}(" in spec]
        measures = and_list(quoted(inputs, m) for m in sorted(set(names), key=spec.find))
        timing = " (with a lag)" if "(t-" in spec else " (with a lead)" if "(t+" in spec else ""
        out.append(f"{measures or 'A model'}{timing}: {_plain_reason(inputs, reason)}.")
    return out


def warnings_in_words(inputs: SiteInputs) -> list[str]:
    """The model stage's caveats that a reader needs (short panel, dropped years, reliability)."""
    keep = ("Short panel", "dropped for missing", "reliability")
    out = []
    for w in inputs.notes.get("warnings") or []:
        if any(k in w for k in keep) and not w.startswith("Skipped"):
            for m in inputs.catalogue.measures:
                w = w.replace(f"{m} missing", f"{quoted(inputs, m)} missing").replace(f"{m}:", f"{quoted(inputs, m)}:")
            out.append(w.replace("([", "(").replace("])", ")"))
    return out


def summary_context(inputs: SiteInputs) -> dict[str, Any]:
    """Template context of ``summary.html`` (figures are added by the site builder)."""
    return {"answers": answers(inputs), "not_estimable": not_estimable(inputs),
            "model_warnings": warnings_in_words(inputs)}


def caveats(inputs: SiteInputs) -> list[str]:
    """What to bear in mind: series breaks of the headline measures, the model's warnings, survey timing."""
    h = inputs.headline
    out = []
    for name in (h.get("exposure"), h.get("dependent")):
        m = inputs.measure(str(name))
        for b in (m.series_breaks if m else []):
            across = "values either side are treated as comparable" if b.comparable_across else \
                "earlier years are not compared with later ones"
            out.append(f"Series break in {quoted(inputs, m.name)} in {b.year}: {b.note.rstrip('.')} ({across}).")
    out += warnings_in_words(inputs)
    out.append("Survey timing: Staff Survey fieldwork runs from September to December; the Inpatient Survey samples "
               "patients discharged in November. 'The same year' therefore means roughly the same months.")
    out.append("Measurement: trust results are survey estimates. Chance variation in the staff results tends to make "
               "within-trust links look weaker than they are.")
    return out
