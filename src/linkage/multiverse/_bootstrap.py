"""Wild cluster bootstrap by trust, vectorised over draws and specifications.

Each specification is bootstrapped in its partialled-out form (Frisch-Waugh-
Lovell): the exposure ``x`` and the dependent ``y`` after the family's
transformation, with trust clusters g.  Everything a draw needs is in three
cluster sums per specification, ``a_g = sum x e`` (unrestricted residuals
``e``), ``b_g = sum x y`` and ``h_g = sum x^2``, so for a matrix ``V`` of
draws (draws x trusts):

* WCU (unrestricted): ``y* = x b + e v``; ``b* - b = V a / Sxx``;
* WCR (restricted, null ``beta = beta0``): ``y* = x beta0 + (y - x beta0) v``;
  ``b* - beta0 = V (b - beta0 h) / Sxx``;

and the clustered score of trust g in the bootstrap fit is ``v_g s_g - h_g (b* - b_ref)``,
so the bootstrap variance is three matrix products, no loop over draws.
"""

from __future__ import annotations

import numpy as np

WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])


def draw_weights(kind: str, n_draws: int, n_clusters: int, seed: int) -> np.ndarray:
    """(n_draws, n_clusters) wild bootstrap weights: Rademacher (+-1) or Webb's six-point distribution.

    Parameters
    ----------
    kind : {'rademacher', 'webb'}
        Distribution.
    n_draws, n_clusters : int
        Shape.
    seed : int
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    ndarray
    """
    rng = np.random.default_rng(seed)
    if kind == "rademacher":
        return rng.integers(0, 2, size=(n_draws, n_clusters)) * 2.0 - 1.0
    if kind == "webb":
        return WEBB[rng.integers(0, 6, size=(n_draws, n_clusters))]
    raise ValueError(f"unknown wild bootstrap weights {kind!r}; use 'rademacher' or 'webb'")


def boot_t(v: np.ndarray, s: np.ndarray, h: np.ndarray, sxx: np.ndarray, factor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap deviations ``d* = V s / Sxx`` and their t statistics with re-estimated clustered SEs.

    Parameters
    ----------
    v : ndarray
        (B, G) draws.
    s : ndarray
        (G, S) cluster sums of x times the residual the bootstrap resamples.
    h : ndarray
        (G, S) cluster sums of x squared.
    sxx : ndarray
        (S,) sum of x squared.
    factor : ndarray
        (S,) small-sample factor of the clustered variance.

    Returns
    -------
    d, t : ndarray
        (B, S) deviations from the reference value and their t statistics.
    """
    d = (v @ s) / sxx
    meat = (v**2) @ (s**2) - 2.0 * d * (v @ (s * h)) + d**2 * (h**2).sum(0)
    se = np.sqrt(np.maximum(meat, 0.0) * factor) / sxx
    with np.errstate(divide="ignore", invalid="ignore"):
        return d, d / se


def _p_at(v, est, se, b, h, sxx, factor, beta0):
    """WCR p-values of the nulls ``beta = beta0`` (one per specification)."""
    _, t = boot_t(v, b - beta0 * h, h, sxx, factor)
    t0 = (est - beta0) / se
    return (np.abs(t) >= np.abs(t0) - 1e-12).mean(0)


def _invert(v, est, se, b, h, sxx, factor, alpha, side: float, iters: int = 40) -> np.ndarray:
    """Endpoint of the WCR interval on one side (-1 lower, +1 upper) by bisection on the p-value."""
    inside = est.copy()
    outside = est + side * 8.0 * se
    for _ in range(3):  # widen where the far end is not yet rejected
        far = _p_at(v, est, se, b, h, sxx, factor, outside) > alpha
        if not far.any():
            break
        outside = np.where(far, est + side * 2.0 * np.abs(outside - est), outside)
    far = _p_at(v, est, se, b, h, sxx, factor, outside) > alpha
    for _ in range(iters):
        mid = 0.5 * (inside + outside)
        keep = _p_at(v, est, se, b, h, sxx, factor, mid) > alpha
        inside = np.where(keep, mid, inside)
        outside = np.where(keep, outside, mid)
    return np.where(far, np.nan, 0.5 * (inside + outside))


def wild_cluster_bootstrap(
    est: np.ndarray, se: np.ndarray, a: np.ndarray, h: np.ndarray, b: np.ndarray, sxx: np.ndarray,
    factor: np.ndarray, v: np.ndarray, kind: str, alpha: float,
) -> dict[str, np.ndarray]:
    """p-values and intervals of several specifications from one matrix of draws.

    Parameters
    ----------
    est, se : ndarray
        (S,) estimates and analytic clustered standard errors (with ``factor`` applied).
    a, h, b : ndarray
        (G, S) cluster sums (see module docstring).
    sxx, factor : ndarray
        (S,) regressor sum of squares and small-sample factor of the clustered variance.
    v : ndarray
        (B, G) draws from :func:`draw_weights`.
    kind : {'wcr', 'wcu'}
        Restricted (null imposed; interval by test inversion) or unrestricted (percentile-t interval).
    alpha : float
        Two-sided level.

    Returns
    -------
    dict
        ``p_value``, ``ci_low``, ``ci_high``, ``t_draws`` ((B, S) bootstrap t statistics of the
        test of zero for WCR, of the deviation from the estimate for WCU).
    """
    if kind == "wcu":
        _, t = boot_t(v, a, h, sxx, factor)
        t_obs = est / se
        p = (np.abs(t) >= np.abs(t_obs) - 1e-12).mean(0)
        q_lo, q_hi = np.quantile(t, [alpha / 2, 1 - alpha / 2], axis=0)
        return {"p_value": p, "ci_low": est - q_hi * se, "ci_high": est - q_lo * se, "t_draws": t}
    if kind == "wcr":
        _, t = boot_t(v, b, h, sxx, factor)
        p = (np.abs(t) >= np.abs(est / se) - 1e-12).mean(0)
        low = _invert(v, est, se, b, h, sxx, factor, alpha, -1.0)
        high = _invert(v, est, se, b, h, sxx, factor, alpha, +1.0)
        return {"p_value": p, "ci_low": low, "ci_high": high, "t_draws": t}
    raise ValueError(f"unknown wild bootstrap kind {kind!r}; use 'wcr' or 'wcu'")
