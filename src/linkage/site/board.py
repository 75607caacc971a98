"""The answer first: the key-findings box of the index and summary, and the one-page board summary.

The verdict sentence is the summary's own brief answer (:mod:`linkage.site.summary`);
this module only arranges it with the number, its interval, the sample and the
caveat that matters most, and says what that means for a trust board. Every
number comes from the headline metrics and the findings actually computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup, escape

from .counts import COUNTS_ANCHOR, Count, counts
from .findings import Finding, all_findings, quoted, unit_words
from .inputs import SiteInputs
from .summary import _found, _headline
from .words import interval, interval_places, nice, signed, year_list

#: Output file of the board summary, relative to the site folder.
BOARD_PAGE = "board.html"


@dataclass
class KeyFindings:
    """What the key-findings box says, each part derived from the fitted headline model.

    Attributes
    ----------
    verdict : str
        The summary's brief answer, one sentence.
    number : str
        The estimate per a typical within-trust change, with its interval, in the outcome's units.
    sample : str
        Trusts, trust-years and survey years of the headline model.
    caveat : str
        The caveat that matters most (the headline's own warning when there is one).
    corrected : str
        Which estimate ``number`` is (as fitted) and, beside it, the estimate corrected for the sampling error of
        the exposure's survey scores, when the headline reports one; empty otherwise.
    board : list of str
        What this means for a trust board, in plain sentences.
    counts : list of Count
        The "who is in this analysis" rows.
    """

    verdict: str
    number: str
    sample: str
    caveat: str
    corrected: str = ""
    board: list[str] = field(default_factory=list)
    counts: list[Count] = field(default_factory=list)


def _number(inputs: SiteInputs, head: Finding) -> str:
    h, ps = inputs.headline, head.per_step
    x, y = h["exposure"], h["dependent"]
    places = interval_places(ps["ci_low"], ps["ci_high"])
    yu = unit_words(inputs, y)
    level = int(round(100 * (1 - float(h.get("alpha", 0.05)))))
    return (f"Per {nice(ps['step'], 1)} {unit_words(inputs, x, ps['step'])} more {quoted(inputs, x)} than usual for "
            f"the trust (about a typical year-to-year change): {signed(ps['estimate'], places, yu)} "
            f"{quoted(inputs, y)} ({level}% interval {interval(ps['ci_low'], ps['ci_high'], places, yu)}).")


def _corrected(inputs: SiteInputs, head: Finding) -> str:
    """The measurement-error corrected estimate beside the fitted one, per the same typical change, in words."""
    h, ps = inputs.headline, head.per_step
    keys = ("estimate_corrected", "ci_low_corrected", "ci_high_corrected")
    if not all(h.get(k) is not None for k in keys):
        return ""
    est, lo, hi = (float(h[k]) * ps["step"] for k in keys)
    places = max(interval_places(lo, hi), interval_places(ps["ci_low"], ps["ci_high"]))
    yu, x = unit_words(inputs, h["dependent"]), quoted(inputs, h["exposure"])
    rel = h.get("exposure_reliability")
    noise = (f" (about {100 * (1 - float(rel)):.0f}% of its year-to-year changes within a trust are sampling noise)"
             if rel is not None and rel == rel else "")
    return Markup(f"{escape(signed(est, places, yu))} (interval {escape(interval(lo, hi, places, yu))}). "
                  f"<span class=\"why\">Each trust's {escape(x)} comes from a survey of some of its staff, so it "
                  f"carries sampling error{escape(noise)}; that error pulls the fitted estimate towards zero "
                  "(attenuation), and this estimate removes that pull.</span>")


def _caveat(inputs: SiteInputs, head: Finding) -> str:
    if head.warning:
        return head.warning.rstrip(".") + "."
    return ("This is an association between trust averages over time, not a cause: it does not show that changing "
            f"{quoted(inputs, inputs.headline['exposure'])} would change {quoted(inputs, inputs.headline['dependent'])}.")


def _board(inputs: SiteInputs, head: Finding) -> list[str]:
    h = inputs.headline
    x, y = quoted(inputs, h["exposure"]), quoted(inputs, h["dependent"])
    if head.clear:
        direction = "lower" if head.per_step["estimate"] < 0 else "higher"
        first = (f"In the trusts studied, years with more {x} than usual went with {direction} {y}. The two are "
                 "worth watching together in the same board report; the link is not proof that acting on one "
                 "moves the other.")
    else:
        first = (f"On this evidence, a trust's year-to-year changes in {x} do not tell you which way its {y} will "
                 "move. That is not evidence that staff wellbeing does not matter: smaller links than this panel "
                 "can detect cannot be ruled out.")
    return [first,
            "Your own trust's results, with their sampling-error ranges and trusts of the same type for comparison "
            "(not a ranking), are on its trust page.",
            "Changes to the surveys between years (series breaks) are marked on every trust chart, with their reason "
            "in the chart's key."]


def key_findings(inputs: SiteInputs, findings: list[Finding] | None = None) -> KeyFindings | None:
    """The key-findings box of the index, summary and board page (None when no headline model was fitted).

    ``findings`` are :func:`~linkage.site.findings.all_findings` of ``inputs`` when the caller already has them.
    """
    head = _headline(all_findings(inputs) if findings is None else findings)
    if head is None or not head.per_step:
        return None
    h = inputs.headline
    sample = (f"{int(h['n_trusts']):,} trusts, {int(h['n_obs']):,} trust-years, survey years "
              f"{year_list(h.get('years', []))}.")
    corrected, number = _corrected(inputs, head), _number(inputs, head)
    if corrected:  # say which estimate the number is; the corrected one has its own line
        number = number.rstrip(".") + ", as fitted (not corrected for measurement error)."
    return KeyFindings(verdict=_found(inputs, head), number=number, sample=sample,
                       caveat=_caveat(inputs, head), corrected=corrected,
                       board=_board(inputs, head), counts=counts(inputs))


__all__ = ["BOARD_PAGE", "COUNTS_ANCHOR", "KeyFindings", "key_findings"]
