"""Tail probabilities and quantiles of the normal and Student t distributions, from ``scipy.special``.

``scipy.stats`` builds every one of its ~100 distribution objects when it is
imported (about 0.7 s of a stage's start-up); the curve needs only four
functions of two of them.  These are the special functions ``scipy.stats``
itself evaluates for ``norm`` and ``t`` (``ndtr``/``ndtri``, ``stdtr``/``stdtrit``),
so the numbers are the same; they broadcast over arrays like the ``stats``
methods.  Arguments outside a distribution's domain (a df that is not
positive, a probability outside [0, 1]) give NaN, as ``scipy.stats`` does;
``tests/test_distributions.py`` holds them equal to ``scipy.stats`` on grids.
"""

from __future__ import annotations

import numpy as np
from scipy import special


def norm_sf(x):
    """Upper tail ``P(Z > x)`` of the standard normal."""
    return special.ndtr(-np.asarray(x, dtype=float))


def norm_ppf(q):
    """Quantile of the standard normal at probability ``q``."""
    return special.ndtri(np.asarray(q, dtype=float))


def t_sf(x, df):
    """Upper tail ``P(T > x)`` of Student's t with ``df`` degrees of freedom (NaN where ``df <= 0``)."""
    df = np.asarray(df, dtype=float)
    return np.where(df > 0, special.stdtr(np.where(df > 0, df, 1.0), -np.asarray(x, dtype=float)), np.nan)


def t_ppf(q, df):
    """Quantile of Student's t with ``df`` degrees of freedom at probability ``q`` (NaN where ``df <= 0``).

    ``q = 0`` is minus infinity (``stdtrit`` alone gives plus infinity there).
    """
    df, q = np.asarray(df, dtype=float), np.asarray(q, dtype=float)
    quantile = np.where(q == 0, -np.inf, special.stdtrit(np.where(df > 0, df, 1.0), q))
    return np.where(df > 0, quantile, np.nan)
