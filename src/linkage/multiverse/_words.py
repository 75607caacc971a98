"""The specification curve in plain words, from its summary metrics (``metrics/multiverse.json``)."""

from __future__ import annotations

from typing import Any, NamedTuple

from ..vocab import FAMILY_SHORT


class Terms(NamedTuple):
    """How the curve's second measure is named: patient experience (the default) or another outcome."""

    outcome: str = "patient experience"
    measure: str = "patient measure"
    second: str = "patients"


DEFAULT_TERMS = Terms()


def curve_terms(catalogue: Any, measures: list[str]) -> Terms:
    """The words for the curve's dependent measures, from their role in the measure catalogue.

    Patient-experience measures keep the default words; any other outcome (a mortality
    ratio from the project's measures file, say) is named by its label, or as "the outcome"
    when the curve has several, and never as patients.
    """
    found = [catalogue.measures[m] for m in measures if catalogue is not None and m in catalogue.measures]
    if not found or all(m.kind == "patient" for m in found):
        return Terms()
    label = found[0].label if len(found) == 1 else "the outcome"
    return Terms(outcome=label, measure="outcome measure", second="the outcome")


def _pct(x: float) -> str:
    return "under 1%" if 0 < x < 0.005 else f"{100 * x:.0f}%"


def _p_text(p: float, draws: int) -> str:
    """``p = 0.012``, or ``p < 0.001`` when no draw was as extreme."""
    return f"p < {1 / (draws + 1):.3f}" if p == 0 else f"p = {p:.3f}"


FAMILY_WORDS = FAMILY_SHORT
"""Family names in running text (from the family registry, :mod:`linkage.vocab`)."""


def _list(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _lags(lags: list[int], t: Terms) -> str:
    named = ["the same year" if k == 0 else f"staff surveyed {k} year{'s' if k > 1 else ''} before {t.second}"
             if k > 0 else f"staff surveyed {-k} year{'s' if k < -1 else ''} after {t.second}" for k in lags]
    return _list(named) if named else "no timing"


def _counts(c: dict[str, Any], alpha: float) -> str:
    """'k of n (x%) are significant at alpha, in either direction, where about e would be by chance (joint p)'."""
    return (f"{c['n_significant']:,} of {c['n_distinct']:,} ({_pct(c['share_significant'])}) are significant at "
            f"{alpha:g} in either direction, where about {c['null_mean_significant']:.1f} would be by chance if there "
            f"were no association (joint test {_p_text(c['joint_p'], c['draws'])})")


def describe_inferential(s: dict[str, Any], t: Terms = DEFAULT_TERMS) -> str:
    """What the pre-specified inferential curve finds, on its distinct specifications only."""
    c = s["inferential"]
    alpha = s["alpha"]
    designs = _list([FAMILY_WORDS.get(f, f) for f in c.get("designs", [])]) if c.get("designs") else "no design"
    head = (f"The evidence we pre-specified is the within-trust curve: {designs}, with {_lags(c.get('lags', []), t)}, "
            "which compare each trust with itself over time")
    if not c.get("n_distinct"):
        return head + f"; none of its {c.get('n_specs', 0):,} specifications could be fitted on this panel."
    dup = (f" After counting identical specifications once ({c['n_duplicates']:,} "
           f"give{'s' if c['n_duplicates'] == 1 else ''} exactly the same estimate as another),") if c.get("n_duplicates") else ""
    pos = c["share_significant_positive"]
    neg = c["share_significant_negative"]
    verdict = ("more than chance alone would give" if c["joint_p"] < alpha
               else "not clearly more than chance alone would give")
    return (
        f"{head}.{dup} {_counts(c, alpha)}: {verdict}. On the same base, "
        f"{_pct(pos)} are significant with better staff wellbeing going with better {t.outcome} and "
        f"{_pct(neg)} with worse; after adjusting for the number of tests, {_pct(c['share_significant_bh'])} remain "
        f"significant controlling the false discovery rate (Benjamini-Hochberg) and "
        f"{_pct(c['share_significant_romano_wolf'])} controlling the chance of any false positive (Romano-Wolf). "
        f"The median estimate is {c['median_estimate_within_std']:+.2f} within-trust standard deviations of the "
        f"{t.measure} per within-trust standard deviation of the staff measure (above zero: better with better)."
    )


def describe_falsification(s: dict[str, Any], t: Terms = DEFAULT_TERMS) -> str:
    """Placebo leads and reverse models, in the same terms as the inferential curve ('' if neither was fitted)."""
    f = s.get("falsification") or {}
    parts = []
    for key, what in (("placebo", f"placebo leads (the same designs with staff surveyed after {t.second}, which "
                                  "should find nothing)"),
                      ("reverse", f"reverse models ({t.outcome} in an earlier year predicting staff results "
                                  "later)")):
        c = f.get(key) or {}
        if c.get("n_distinct"):
            parts.append(f"of the {what}, {_counts(c, s['alpha'])}")
    if not parts:
        return ""
    text = "As checks, not evidence: " + "; ".join(parts) + "."
    placebo = f.get("placebo") or {}
    if placebo.get("n_distinct") and placebo["joint_p"] < s["alpha"]:
        text += (" The placebo leads find more than chance would, so the within-trust associations may reflect "
                 f"shared trends or other influences on both measures rather than a link from staff to {t.second}.")
    return text


def describe_moderated(s: dict[str, Any], t: Terms = DEFAULT_TERMS) -> str:
    """How many specifications add exposure x catchment deprivation, and how the interaction spreads ('' if none do)."""
    c = s.get("moderated") or {}
    if not c.get("n_specs"):
        return ""
    role = ("counted in the pre-specified curve where its design and timing are" if c.get("inferential_moderators")
            else "shown as exploratory, not counted as evidence")
    head = (f"{c['n_specs']:,} specifications add the staff measure x catchment deprivation (IMD 2019, centred on the "
            f"mean of the trusts fitted), so their estimate is the association at average deprivation; {c['n_fitted']:,} "
            f"could be fitted ({role})")
    if not c.get("n_distinct"):
        why = "; ".join(c.get("unsupported_reasons") or {}) or "see the table"
        return f"{head}. None could be fitted: {why}."
    return (f"{head}. Over the {c['n_distinct']:,} distinct fitted ones (every design and timing, placebo leads "
            f"included), per standard deviation of catchment deprivation between trusts the within-trust association "
            f"changes by a median of {c['interaction_within_std_median']:+.2f} within-trust standard deviations "
            f"(10th to 90th percentile {c['interaction_within_std_p10']:+.2f} to {c['interaction_within_std_p90']:+.2f}; "
            f"above zero: the association leans more towards better staff wellbeing with better {t.outcome} where "
            f"catchments are more deprived); {c['n_interaction_significant']:,} of {c['n_distinct']:,} interactions are "
            f"significant at {s['alpha']:g}, before any adjustment for the number of tests.")


def describe_curve(s: dict[str, Any], t: Terms = DEFAULT_TERMS) -> str:
    """What the pre-specified inferential curve finds, its falsification checks, and the size of the whole curve.

    Parameters
    ----------
    s
        The multiverse stage's summary metrics (``metrics/multiverse.json``): counts, ``alpha``,
        ``inferential`` and ``falsification``.  Every share in a sentence has the same base
        (the distinct fitted specifications of that curve, significance in either direction).
    """
    if not s.get("n_fitted"):
        return f"None of the {s.get('n_specs', 0):,} specifications could be fitted; the table lists why."
    whole = (
        f"We fitted {s['n_fitted']:,} reasonable ways of asking the question (different staff and {t.measure}s, "
        f"designs, timings, samples and weightings; {s['n_unsupported']:,} more could not be fitted on this panel and "
        "are listed with the reason)."
    )
    if "inferential" not in s:
        return whole + " These are associations, not evidence that one causes the other."
    explore = ""
    if (s.get("exploratory") or {}).get("n_fitted"):
        explore = (f" The other {s['exploratory']['n_fitted']:,} fitted specifications (designs or timings not "
                   "pre-specified, such as pooled and random-effects models, which mix differences between trusts in) "
                   "are shown in the curve but not counted as evidence.")
    falsify = describe_falsification(s, t)
    moderated = describe_moderated(s, t)
    return " ".join(x for x in (whole, describe_inferential(s, t), falsify) if x) + explore + (
        f" {moderated}" if moderated else "") + (
        " These are associations, not evidence that one causes the other.")
