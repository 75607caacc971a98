"""The summary page's answers: what was found, how big, how sure, for whom, and what it cannot show."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .design import Design, design_of
from .findings import Finding, all_findings, direction_words, quoted, unit_words, within_sd
from .inputs import SiteInputs
from .words import (
    and_list,
    fixed,
    interval,
    interval_places,
    nice,
    p_text,
    signed,
    year_list,
    years_text,
)


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


def _comparing(d: Design) -> str:
    """How the design compares, as the opening of a sentence."""
    if d.family == "first_difference":
        return "Comparing each trust's changes from one survey year to the next"
    if d.within:
        return "Comparing each trust with itself over time"
    if d.trust_effects == "mixed":
        return "Pooling differences within trusts over time with differences between trusts"
    if d.family == "between":
        return "Comparing trusts' averages with each other"
    return "Comparing all trust-years with each other"


def _found(inputs: SiteInputs, head: Finding) -> str:
    d = design_of(inputs)
    x, y = d.exposure.quoted, d.outcome.quoted
    if not head.clear:
        return f"No clear link. {_comparing(d)}, higher or lower {x} did not clearly go with different {y}."
    est = head.per_step["estimate"]
    direction = ("lower" if est < 0 else "higher") + direction_words(inputs, d.outcome.name, est, 6)
    lag = int(inputs.headline.get("lag", 0))
    if d.within:
        subject = f"Years in which a trust had higher {x} than usual"
        then = "were years with" if lag == 0 else f"were followed {years_text(lag)} later by"
    elif d.family == "between":
        subject, then = f"Trusts with higher {x} on average", "had on average"
    else:
        subject = f"Trust-years with higher {x}"
        then = "had" if lag == 0 else f"were followed {years_text(lag)} later by"
    return f"{subject} {then} {direction} {y}."


def _others_clear(findings: list[Finding]) -> str:
    """A pointer to the checks whose interval excludes no difference, with their warning status."""
    if not [f for f in findings if f.group != "headline"]:
        return ""
    clear = [f for f in findings if f.clear and f.group != "headline" and f.is_check]
    if not clear:
        return " None of the other results below shows a clear link either."
    parts = [f"{f.title[:1].lower() + f.title[1:]}{' (with a warning)' if f.warning else ''}" for f in clear]
    one = len(clear) == 1
    return (f" {'One other result' if one else 'Some other results'} below {'does' if one else 'do'} "
            f"show a link: {and_list(parts)}; read {'it' if one else 'them'} with the caveats given there.")


def _size(inputs: SiteInputs, head: Finding) -> str:
    d = design_of(inputs)
    ps = head.per_step
    places = interval_places(ps["ci_low"], ps["ci_high"])
    yu = d.outcome.unit_words()
    sd_y = within_sd(inputs.panel, d.outcome.name)
    text = (f"A rise of {nice(ps['step'], 1)} {d.exposure.unit_words(ps['step'])} in {d.exposure.quoted} (about a "
            f"typical year-to-year change within a trust) went with {signed(ps['estimate'], places, yu)}"
            f"{direction_words(inputs, d.outcome.name, ps['estimate'], places)} on {d.outcome.quoted}.")
    if sd_y == sd_y:
        text += (f" For scale, that measure typically moves by about {nice(sd_y, 1)} {yu} from one year to the next "
                 "within a trust.")
    return text


def half_power_fraction(alpha: float, power: float) -> float:
    """The share of the minimum detectable effect that a two-sided test detects half the time.

    The MDE is ``(z(1 - alpha/2) + z(power)) * se``; an effect of ``z(1 - alpha/2) * se``
    sits at the critical value, where power is one half (normal approximation). The quantiles
    come from the standard library, so the summary does not import scipy for two numbers.
    """
    from statistics import NormalDist

    q = NormalDist().inv_cdf(1 - alpha / 2)
    return q / (q + NormalDist().inv_cdf(power))


def _mde_text(inputs: SiteInputs, head: Finding, places: int) -> str:
    """What the panel could detect: power at the minimum detectable effect and at about 0.7 of it."""
    h, d = inputs.headline, design_of(inputs)
    mde = h.get("mde")
    if not mde:
        return ""
    step = head.per_step["step"]
    mde_step = float(mde) * step
    power = int(round(100 * float(h.get("power", 0.8))))
    half = half_power_fraction(float(h.get("alpha", 0.05)), float(h.get("power", 0.8)))
    per = f"per {nice(step, 1)} {d.exposure.unit_words(step)}"
    return (f" With this panel and design, a link of about {fixed(mde_step, places)} {d.outcome.unit_words()} {per} "
            f"would be found {power}% of the time; one about {fixed(half * mde_step, places)} "
            f"({nice(half, 1)} times that size) only about half the time.")


def _equivalence_text(inputs: SiteInputs, head: Finding, places: int) -> str:
    """The equivalence test's verdict, per the same typical change as the other sentences.

    Omitted when the model stage did not report one: "cannot be ruled out" is
    never said without the test.
    """
    eq = inputs.headline.get("equivalence")
    d = design_of(inputs)
    if not isinstance(eq, dict) or eq.get("verdict") not in ("ruled_out", "not_ruled_out"):
        return ""
    per_unit = eq.get("sesoi_per_unit", eq.get("bound_high"))
    if per_unit is None:
        return ""
    step = head.per_step["step"]
    bound = float(per_unit) * step
    yu = d.outcome.unit_words()
    size = f"{fixed(bound, places)} {yu} per {nice(step, 1)} {d.exposure.unit_words(step)}"
    spec = ""
    if eq.get("sesoi") is not None and eq.get("typical_change"):
        change = float(eq["typical_change"])
        spec = (f" (the smallest effect of interest, model.sesoi: {nice(float(eq['sesoi']), 2)} "
                f"{d.outcome.unit_words(float(eq['sesoi']))} per within-trust standard deviation of "
                f"{nice(change, 2)} {d.exposure.unit_words(change)})")
    test = f"equivalence test{' on the corrected estimate' if eq.get('based_on') == 'corrected' else ''}"
    p = f", {test}, {p_text(float(eq['p_value']))}" if eq.get("p_value") is not None else f", {test}"
    if eq["verdict"] == "ruled_out":
        return f" A link larger than {size}{spec}, in either direction, is ruled out{p}."
    lo, hi = _tested_interval(inputs, head)
    if lo > bound or hi < -bound:
        return (f" The whole interval lies beyond {size}{spec}: the link is larger than the smallest effect of "
                f"interest{p}.")
    return f" A link as large as {size}{spec} cannot be ruled out: the interval reaches beyond it{p}."


def _tested_interval(inputs: SiteInputs, head: Finding) -> tuple[float, float]:
    """The interval the equivalence test used (corrected or naive), per typical change."""
    h, step = inputs.headline, head.per_step["step"]
    if (h.get("equivalence") or {}).get("based_on") == "corrected" and h.get("ci_low_corrected") is not None:
        return float(h["ci_low_corrected"]) * step, float(h["ci_high_corrected"]) * step
    return head.per_step["ci_low"], head.per_step["ci_high"]


def _sure(inputs: SiteInputs, head: Finding) -> str:
    h = inputs.headline
    ps = head.per_step
    places = interval_places(ps["ci_low"], ps["ci_high"])
    yu = unit_words(inputs, h["dependent"])
    level = int(round(100 * (1 - float(h.get("alpha", 0.05)))))
    text = (f"The {level}% interval runs from {interval(ps['ci_low'], ps['ci_high'], places, yu)}"
            f"{'; it does not include zero' if head.clear else '; it includes zero (no link)'}.")
    return text + _mde_text(inputs, head, places) + _equivalence_text(inputs, head, places)


def _measurement(inputs: SiteInputs, head: Finding) -> str:
    """The exposure's within-trust reliability and the estimate corrected for its sampling error, if reported."""
    h, d = inputs.headline, design_of(inputs)
    rel = h.get("exposure_reliability")
    text = ""
    if rel is not None and rel == rel:
        rel = float(rel)
        text = (f"{d.exposure.quoted} is a survey estimate: of its year-to-year changes within a trust, about "
                f"{100 * rel:.0f}% is real change and about {100 * (1 - rel):.0f}% sampling noise from the number "
                f"who answered (within-trust reliability {rel:.2f}, on a 0 to 1 scale). Noise in the measure that comes "
                "first pulls the estimate towards zero.")
    keys = ("estimate_corrected", "ci_low_corrected", "ci_high_corrected")
    if all(h.get(k) is not None for k in keys):
        step = head.per_step["step"]
        est, lo, hi = (float(h[k]) * step for k in keys)
        places = max(interval_places(lo, hi), interval_places(head.per_step["ci_low"], head.per_step["ci_high"]))
        yu = d.outcome.unit_words()
        corr = h.get("correction") or {}
        how = f" ({corr['method']}; see the methods page)" if corr.get("method") else ""
        text += (f" Corrected for that noise{how}, the link per {nice(step, 1)} {d.exposure.unit_words(step)} is "
                 f"{signed(est, places, yu)} (interval: {interval(lo, hi, places, yu)}), against "
                 f"{signed(head.per_step['estimate'], places, yu)} uncorrected.")
    elif text and not d.within:
        text += (" The estimate is not corrected for that noise: the correction is defined only for within-trust "
                 "designs (trust fixed effects, first differences).")
    elif text and (h.get("correction") or {}).get("why"):
        text += f" The estimate is not corrected for that noise: {h['correction']['why'].rstrip('.')}."
    return text.strip()


def _coverage(inputs: SiteInputs) -> str:
    h, d = inputs.headline, design_of(inputs)
    data = "synthetic (demo) trusts" if inputs.demo else "NHS trusts in England"
    sample = d.sample_text()
    return (f"{h['n_trusts']} {data}{f' ({sample})' if sample else ''}, {h['n_obs']} trust-years, years "
            f"{year_list(h.get('years', []))}. The model {d.comparison()}; {d.weights_text(inputs.label)}.")


def _between(inputs: SiteInputs, head: Finding) -> str:
    res = inputs.results
    h, d = inputs.headline, design_of(inputs)
    row = res[(res["model"] == "between") & (res["term"] == h["term"])]
    if row.empty or not d.within:
        return ""
    r = row.iloc[0]
    step = head.per_step["step"]
    lo, hi, est = (float(r[k]) * step for k in ("ci_low", "ci_high", "estimate"))
    places = interval_places(lo, hi)
    yu = d.outcome.unit_words()
    agree = head.per_step["ci_low"] <= est <= head.per_step["ci_high"]
    noise = (f"or that sampling noise in {d.exposure.quoted} pulls the within-trust estimate towards zero more than "
             "the comparison of trusts' averages (noise is a larger share of year-to-year changes than of lasting "
             "differences)")
    return (f"Comparing different trusts with each other instead (the cross-sectional design of older studies), "
            f"trusts with {nice(step, 1)} {d.exposure.unit_words(step)} more {d.exposure.quoted} on average "
            f"had {signed(est, places, yu)} {d.outcome.quoted} (interval: {interval(lo, hi, places, yu)}). "
            + ("The two designs agree within their uncertainty." if agree else
               "The two designs differ by more than their uncertainty. That may mean that lasting differences "
               f"between trusts (their case mix, places and histories) lie behind the cross-sectional link, {noise}; "
               "these data cannot tell the two readings apart."))


def cannot_show(inputs: SiteInputs) -> str:
    """What the design cannot show, naming the measures and the design's own weak points."""
    d = design_of(inputs)
    x, y = d.exposure.quoted, d.outcome.quoted
    movers = ("things that change within a trust over time (new leadership, pressure on beds, local events) can "
              "move both" if d.within else
              "lasting differences between trusts (their case mix, places and histories) and things that change "
              "over time can both move the two measures, and this design does not take lasting differences out")
    if d.exposure.people == "staff" and "NHS Staff Survey" in d.exposure.source:
        staff = "the staff who answered the NHS Staff Survey"
    else:
        staff = f"the staff whose answers make up {x}" if d.exposure.people == "staff" else f"those behind {x}"
    if d.outcome.people == "patients":
        whom = f"the ones who cared for the patients who answered the {d.outcome.source}"
    else:
        whom = f"the ones whose work {y} reflects"
    return (f"It is an association, not a cause: it does not show that changing {x} would change {y}, and {movers}. "
            f"It is about trusts, not people: trust-level figures cannot show that {staff} are {whom}.")


def answers(inputs: SiteInputs, findings: list[Finding] | None = None) -> Answers:
    """Assemble the summary's answers from the site inputs (``findings``: :func:`all_findings` if already made)."""
    h = inputs.headline
    d = design_of(inputs)
    found = all_findings(inputs) if findings is None else findings
    head = _headline(found)
    lag = int(h.get("lag", 0))
    when = "in the same year" if lag == 0 else f"{years_text(lag)} later"
    if d.within:
        question = (f"When a trust's {d.exposure.quoted} is higher than usual for it, is {d.outcome.quoted} {when} "
                    "different?")
    elif d.family == "between":
        question = f"Do trusts with higher {d.exposure.quoted} on average have different {d.outcome.quoted}?"
    else:
        question = f"Do trust-years with higher {d.exposure.quoted} have different {d.outcome.quoted} {when}?"
    points: list[tuple[str, str]] = []
    if head is not None:
        found_text = _found(inputs, head) + _others_clear(found) + (f" Warning: {head.warning}." if head.warning else "")
        points += [("What was found", found_text), ("How big", _size(inputs, head)),
                   ("How sure", _sure(inputs, head))]
        if measurement := _measurement(inputs, head):
            points.append(("Measurement error", measurement))
    points.append(("Which trusts and years", _coverage(inputs)))
    if head is not None and (between := _between(inputs, head)):
        points.append(("Compared with the classic design", between))
    points.append(("What it cannot show", cannot_show(inputs)))
    if inputs.demo and "true_effect" in h:
        points.append(("Demo check", _demo_check(inputs, d)))
    return Answers(question=question, points=points, findings=[f for f in found if f.group != "headline"])


def _demo_check(inputs: SiteInputs, d: Design) -> str:
    """Whether the interval covers the planted effect, naming which interval (corrected or not)."""
    h = inputs.headline
    covers = "covers" if h.get("covers_true_effect") else "does NOT cover"
    text = (f"The synthetic data were built with a known effect of {h['true_effect']} {d.outcome.unit_words()} per "
            f"{d.exposure.unit_words(1)}")
    if h.get("covers_true_effect_interval") == "corrected":
        naive = "covers" if h.get("covers_true_effect_naive") else "does not cover"
        return (f"{text}; the measurement-error corrected interval {covers} it (the uncorrected interval {naive} it). "
                "One demo run is one draw: a 95% interval misses the truth in about one run in twenty.")
    return f"{text}; the interval {covers} it."


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


#: Scales whose sampling variance the model stage knows from the base n (binomial; assumed respondent SD).
RELIABILITY_SCALES = ("percent", "score10")
_RELIABILITY = re.compile(r"^(?P<m>[a-z]+\.[a-z0-9_]+)(?: \(the exposure\))?: within-trust reliability (?P<r>[0-9.]+)")


def reliability_words(inputs: SiteInputs, warning: str) -> str | None:
    """A model-stage reliability warning in words for its measure's role, or None to leave it out.

    Reliability from the base n is only meaningful on a scale whose sampling
    variance is known (a percentage, a 0-10 score); for any other scale the
    warning is dropped rather than shown on the wrong scale.  Noise in the
    measure that comes first attenuates the estimate; noise in the dependent
    only widens the interval.
    """
    hit = _RELIABILITY.match(warning)
    if hit is None:
        return warning
    m = inputs.measure(hit["m"])
    if m is None or m.unit not in RELIABILITY_SCALES:
        return None
    rel = float(hit["r"])
    head = (f"{quoted(inputs, m.name)}: within-trust reliability {rel:.2f} (0 to 1: the share of its year-to-year "
            "changes within a trust that is not sampling noise)")
    if m.name == inputs.headline.get("dependent"):
        return head + "; noise in the dependent measure widens the intervals but does not pull the estimate towards zero."
    return head + "; noise in a regressor pulls its within-trust estimate towards zero."


def warnings_in_words(inputs: SiteInputs) -> list[str]:
    """The model stage's caveats that a reader needs (short panel, dropped years, reliability)."""
    keep = ("Short panel", "dropped for missing", "reliability")
    out = []
    for w in inputs.notes.get("warnings") or []:
        if any(k in w for k in keep) and not w.startswith("Skipped"):
            if (w := reliability_words(inputs, w)) is None:
                continue
            for m in inputs.catalogue.measures:
                w = w.replace(f"{m} missing", f"{quoted(inputs, m)} missing").replace(f"{m}:", f"{quoted(inputs, m)}:")
            out.append(w.replace("([", "(").replace("])", ")"))
    return out


def summary_context(inputs: SiteInputs, findings: list[Finding] | None = None) -> dict[str, Any]:
    """Template context of ``summary.html`` (figures are added by the site builder; ``findings`` as for :func:`answers`)."""
    d = design_of(inputs)
    checks = ("If staff wellbeing affected patients' experience, staff results from an earlier year should go with "
              "later patient results, patient results should not predict later staff results as strongly, and staff "
              "results from a later year (a placebo check) should show nothing." if d.patient_experience else
              f"If {d.exposure.quoted} affected {d.outcome.quoted}, its earlier values should go with later "
              f"{d.outcome.quoted}, and its values from a later year (a placebo check) should show nothing.")
    return {"answers": answers(inputs, findings), "not_estimable": not_estimable(inputs),
            "model_warnings": warnings_in_words(inputs), "checks_intro": checks}


def _timing(d: Design) -> str:
    """When the two measures were collected, as far as the sources say."""
    if "NHS Staff Survey" in d.exposure.source and "CQC Adult Inpatient Survey" in d.outcome.source:
        return ("Survey timing: Staff Survey fieldwork runs from September to December; the Inpatient Survey samples "
                "patients discharged in November. 'The same year' therefore means roughly the same months.")
    sources = and_list(dict.fromkeys((d.exposure.source, d.outcome.source)))
    return (f"Timing: 'the same year' means the same year value in the files read ({sources}); check that the two "
            "measures cover comparable periods.")


def caveats(inputs: SiteInputs) -> list[str]:
    """What to bear in mind: series breaks of the headline measures, the model's warnings, timing, measurement."""
    h, d = inputs.headline, design_of(inputs)
    out = []
    for name in (h.get("exposure"), h.get("dependent")):
        m = inputs.measure(str(name))
        for b in (m.series_breaks if m else []):
            across = "values either side are treated as comparable" if b.comparable_across else \
                "earlier years are not compared with later ones"
            out.append(f"Series break in {quoted(inputs, m.name)} in {b.year}: {b.note.rstrip('.')} ({across}).")
    out += warnings_in_words(inputs)
    out.append(_timing(d))
    if d.exposure.is_survey:
        weaker = "within-trust links" if d.within else "links"
        out.append(f"Measurement: {d.exposure.quoted} is a survey estimate. Chance variation in it tends to make "
                   f"{weaker} look weaker than they are.")
    return out
