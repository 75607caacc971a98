"""Equivalence: two one-sided tests (TOST) of the headline slope against a smallest effect of interest."""

from __future__ import annotations

from typing import Any

from scipy import stats


def tost(estimate: float, std_error: float, low: float, high: float, df: float | None) -> tuple[float, float, float]:
    """Two one-sided tests that the true slope lies inside ``(low, high)``.

    ``p_low`` tests H0: slope <= low against slope > low; ``p_high`` tests
    H0: slope >= high against slope < high; the TOST p-value is the larger one
    (Schuirmann 1987).  Student t with ``df`` degrees of freedom, normal if None.

    Returns
    -------
    (p_value, p_low, p_high)
    """
    dist = stats.norm if df is None else stats.t(df)
    p_low = float(dist.sf((estimate - low) / std_error))
    p_high = float(dist.cdf((estimate - high) / std_error))
    return max(p_low, p_high), p_low, p_high


def equivalence_block(
    *,
    estimate: float,
    std_error: float,
    df: float | None,
    sesoi: float,
    typical_change: float,
    alpha: float,
    based_on: str,
) -> dict[str, Any]:
    """The ``equivalence`` entry of ``metrics/headline.json``.

    Parameters
    ----------
    estimate, std_error, df
        The slope tested (outcome units per unit of the exposure) and its reference distribution.
    sesoi : float
        Smallest effect of interest, outcome units per typical within-trust change of the exposure.
    typical_change : float
        The typical within-trust change of the exposure (its within-trust SD).
    alpha : float
        Level of each one-sided test.
    based_on : str
        ``corrected`` or ``naive``: which slope was tested.

    Returns
    -------
    dict
        ``sesoi, sesoi_per_unit, typical_change, bound_low, bound_high, p_value, p_low,
        p_high, alpha, verdict ('ruled_out' | 'not_ruled_out'), based_on``.  A verdict
        'ruled_out' means a link as large as ``sesoi`` per typical change (either sign)
        is rejected at level alpha.
    """
    per_unit = sesoi / typical_change
    p, p_lo, p_hi = tost(estimate, std_error, -per_unit, per_unit, df)
    return {
        "sesoi": float(sesoi),
        "sesoi_per_unit": float(per_unit),
        "typical_change": float(typical_change),
        "bound_low": float(-per_unit),
        "bound_high": float(per_unit),
        "p_value": p,
        "p_low": p_lo,
        "p_high": p_hi,
        "alpha": float(alpha),
        "verdict": "ruled_out" if p < alpha else "not_ruled_out",
        "based_on": based_on,
    }
