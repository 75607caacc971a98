"""The specification curve in plain words, from its summary metrics (``metrics/multiverse.json``)."""

from __future__ import annotations

from typing import Any


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _p_text(p: float, draws: int) -> str:
    """``p = 0.012``, or ``p < 0.001`` when no draw was as extreme."""
    return f"p < {1 / (draws + 1):.3f}" if p == 0 else f"p = {p:.3f}"


def describe_curve(s: dict[str, Any]) -> str:
    """What share of specifications agree in sign and significance, and what the adjusted p-values say.

    Parameters
    ----------
    s
        The multiverse stage's summary metrics: counts, shares, ``alpha`` and ``joint_test``.
    """
    if not s.get("n_fitted"):
        return f"None of the {s.get('n_specs', 0):,} specifications could be fitted; the table lists why."
    j = s["joint_test"]
    better = s["share_better_with_better"] >= 0.5
    way = "better staff wellbeing with better" if better else "better staff wellbeing with worse"
    agree = s["share_better_with_better"] if better else 1 - s["share_better_with_better"]
    agree_sig = s["share_significant_better"] if better else s["share_significant_worse"]
    return (
        f"We fitted {s['n_fitted']:,} reasonable ways of asking the question (different staff and patient "
        f"measures, designs, timings, samples and weightings; {s['n_unsupported']:,} more could not be fitted on "
        f"this panel and are listed with the reason). {_pct(agree)} of them associate {way} patient experience, "
        f"and {_pct(agree_sig)} do so with a p-value below {s['alpha']:g}. Because so many tests were run, some "
        f"would be significant by chance: after adjusting for the number of tests, {_pct(s['share_significant_bh'])} "
        f"of all specifications remain significant when controlling the false discovery rate (Benjamini-Hochberg) "
        f"and {_pct(s['share_significant_romano_wolf'])} when controlling the chance of any false positive "
        f"(Romano-Wolf). If there were no association at all, about {j['null_mean_significant']:.0f} "
        f"specifications would be significant by chance; {j['n_significant']:,} are (joint test "
        f"{_p_text(j['p_significant'], j['draws'])}, {j['draws']} bootstrap draws). These are associations, "
        "not evidence that one causes the other."
    )
