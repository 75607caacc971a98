"""Inference across the curve: Benjamini-Hochberg, Romano-Wolf, and the joint test of Simonsohn et al."""

from __future__ import annotations

import numpy as np

from ..estimation.distributions import norm_ppf, t_ppf
from ._bootstrap import boot_t


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), NaN kept as NaN.

    Parameters
    ----------
    p : ndarray
        Raw p-values.

    Returns
    -------
    ndarray
        ``min(1, min_{j >= i} p_(j) m / j)`` in the original order, m = number of finite p-values.
    """
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="mergesort")]
    scaled = p[order] * m / np.arange(1, m + 1)
    out[order] = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    return out


def null_t_draws(v: np.ndarray, a: np.ndarray, sxx: np.ndarray, se: np.ndarray, h: np.ndarray | None = None,
                 qs: np.ndarray | None = None, qx: np.ndarray | None = None,
                 factor: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Wild cluster bootstrap draws of every specification at once, sharing one weight per trust and draw.

    Parameters
    ----------
    v : ndarray
        (B, G) draws, one weight per trust.
    a : ndarray
        (G, S) cluster sums of regressor x the resampled residual.  For the curve this is the
        restricted residual under beta = 0, i.e. the transformed dependent (``Scores.b``): each
        draw is then a full refit of data generated with no effect in any specification.
    sxx, se : ndarray
        (S,) regressor sums of squares and analytic standard errors.
    h, qs, qx, factor : ndarray, optional
        Trust sums of x squared (G, S), of the nuisance basis times the residual and times x
        (G, S, K), and the small-sample factor (S,).  Given (the curve does), every draw's
        clustered SE is re-estimated (:func:`~._bootstrap.boot_t`, exact full refit); omitted,
        the analytic ``se`` is held fixed (a score bootstrap, kept for comparison only: its
        null tails are too thin).

    Returns
    -------
    d, t : ndarray
        (B, S) bootstrap estimates ``b* - b_ref`` and their t statistics: draws from the joint
        distribution of the estimates under the null, with the dependence between
        specifications kept.
    """
    if h is None:
        d = (v @ a) / sxx
        return d, d / se
    return boot_t(v, a, h, sxx, np.ones(len(sxx)) if factor is None else factor, qs, qx)


def romano_wolf(t_obs: np.ndarray, t_null: np.ndarray) -> np.ndarray:
    """Romano-Wolf step-down adjusted p-values (family-wise error rate) from null draws.

    Parameters
    ----------
    t_obs : ndarray
        (S,) observed t statistics.
    t_null : ndarray
        (B, S) t statistics drawn under the null (e.g. from :func:`null_t_draws`).

    Returns
    -------
    ndarray
        (S,) adjusted p-values: for the k-th largest |t|, the share of draws whose largest
        |t*| among the specifications not yet rejected reaches it, made monotone.
    """
    order = np.argsort(-np.abs(t_obs), kind="mergesort")
    absn = np.abs(t_null[:, order])
    tail_max = np.maximum.accumulate(absn[:, ::-1], axis=1)[:, ::-1]
    raw = (tail_max >= np.abs(t_obs[order])[None, :]).mean(0)
    adj = np.maximum.accumulate(raw)
    out = np.empty_like(adj)
    out[order] = adj
    return out


def joint_test(est: np.ndarray, p: np.ndarray, df: np.ndarray, d_null: np.ndarray, t_null: np.ndarray,
               alpha: float) -> dict[str, float]:
    """Simonsohn, Simmons and Nelson (2020) inferential specification curve.

    Three statistics of the observed curve are compared with their distribution over
    draws under the null (``d_null``, ``t_null`` from :func:`null_t_draws`): the median
    estimate, the number of specifications significant at ``alpha`` (either sign), and the
    number significant in the dominant direction (the sign of the median estimate).

    Returns
    -------
    dict
        Observed values, their null means and the share of null draws at least as extreme
        (the joint-test p-values).
    """
    crit = np.where(np.isfinite(df), t_ppf(1 - alpha / 2, np.where(np.isfinite(df), df, 1.0)),
                    norm_ppf(1 - alpha / 2))
    sign = 1.0 if np.median(est) >= 0 else -1.0
    sig_obs = p < alpha
    n_sig = int(sig_obs.sum())
    n_dir = int((sig_obs & (np.sign(est) == sign)).sum())
    sig_null = np.abs(t_null) > crit
    n_sig_null = sig_null.sum(1)
    n_dir_null = (sig_null & (np.sign(t_null) == sign)).sum(1)
    med_null = np.median(d_null, axis=1)
    med = float(np.median(est))
    return {
        "n_specs": int(len(est)),
        "median_estimate": med,
        "p_median": float((np.abs(med_null) >= abs(med)).mean()),
        "n_significant": n_sig,
        "null_mean_significant": float(n_sig_null.mean()),
        "p_significant": float((n_sig_null >= n_sig).mean()),
        "dominant_sign": "negative" if sign < 0 else "positive",
        "n_significant_dominant": n_dir,
        "null_mean_significant_dominant": float(n_dir_null.mean()),
        "p_significant_dominant": float((n_dir_null >= n_dir).mean()),
        "draws": int(len(t_null)),
    }
