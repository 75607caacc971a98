"""One weighted combine of several organisations' values into one value.

Used where values of several codes become one: the linkage merging a
predecessor's rows into its successor (:func:`linkage.link.run_link`) and the
readers rolling sub-codes up into their parent code
(:func:`linkage.readers.common.roll_up`).  Imports only numpy and pandas.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

RULES = ("weighted_mean", "sum", "ratio")
WEIGHTS = ("respondents", "equal")


def combine(
    values: Sequence[float] | np.ndarray | pd.Series,
    bases: Sequence[float] | np.ndarray | pd.Series,
    *,
    rule: str,
    weight: str = "respondents",
) -> tuple[float, float, str]:
    """Combine the values of several organisations into one.

    Parameters
    ----------
    values, bases
        Values and their bases (respondents; NaN if unknown), one per
        organisation.
    rule
        ``weighted_mean`` (most measures), ``sum`` (counts) or ``ratio``
        (rates whose base is the numerator, e.g. response rate = respondents /
        surveyed: total respondents / total surveyed).
    weight
        ``respondents`` or ``equal`` (for ``weighted_mean`` and ``ratio``).

    Returns
    -------
    value, base, weighting
        ``weighting`` says what was done: ``single``, ``respondents``,
        ``equal``, ``sum``, ``ratio`` or ``equal_fallback_missing_base``.

    Notes
    -----
    Missing and non-positive bases:

    * The combined ``base`` is the sum of the bases when every base is known,
      and NaN as soon as one is missing (NaN).  This holds for every rule and
      weighting, including the fallbacks below: the base counts respondents,
      which does not depend on how the values were weighted.
    * A single value is returned as it is, with its own base (``single``).
    * ``sum`` adds the values whatever the bases.
    * ``weighted_mean`` and ``ratio`` with ``weight="respondents"`` need every
      base known and positive; otherwise the unweighted mean of the values is
      used (``equal_fallback_missing_base``).  ``ratio`` also falls back when
      a value is zero or negative (the implied denominator base / value is
      undefined).
    """
    values = np.asarray(values, dtype=float)
    bases = np.asarray(bases, dtype=float)
    base_sum = float(bases.sum()) if not np.isnan(bases).any() else math.nan
    if len(values) == 1:
        return float(values[0]), float(bases[0]), "single"
    if rule == "sum":
        return float(values.sum()), base_sum, "sum"
    if weight == "equal":
        return float(values.mean()), base_sum, "equal"
    if np.isnan(bases).any() or (bases <= 0).any():
        return float(values.mean()), base_sum, "equal_fallback_missing_base"
    if rule == "ratio":
        if (values <= 0).any():
            return float(values.mean()), base_sum, "equal_fallback_missing_base"
        return float(bases.sum() / (bases / values).sum()), base_sum, "ratio"
    return float((values * bases).sum() / bases.sum()), base_sum, "respondents"
