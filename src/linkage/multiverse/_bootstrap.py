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


class _Restricted:
    """WCR bootstrap t statistics as a function of the null value beta0, from products computed once.

    With ``s = b - beta0 h`` every product of :func:`boot_t` is a polynomial in beta0:
    ``V s = V b - beta0 V h``, ``V^2 s^2 = V^2 b^2 - 2 beta0 V^2 (b h) + beta0^2 V^2 h^2`` and
    ``V (s h) = V (b h) - beta0 V h^2``, so testing a new beta0 costs elementwise operations only.
    """

    def __init__(self, v, est, se, b, h, sxx, factor):
        v2 = v**2
        self.vb, self.vh = v @ b, v @ h
        self.v2b2, self.v2bh, self.v2h2 = v2 @ (b**2), v2 @ (b * h), v2 @ (h**2)
        self.vbh, self.vh2 = v @ (b * h), v @ (h**2)
        self.h2 = (h**2).sum(0)
        self.est, self.se, self.sxx, self.factor = est, se, sxx, factor

    def t(self, beta0: np.ndarray) -> np.ndarray:
        """(B, S) bootstrap t statistics of the nulls ``beta = beta0``."""
        d = (self.vb - beta0 * self.vh) / self.sxx
        meat = (self.v2b2 - 2 * beta0 * self.v2bh + beta0**2 * self.v2h2
                - 2.0 * d * (self.vbh - beta0 * self.vh2) + d**2 * self.h2)
        se = np.sqrt(np.maximum(meat, 0.0) * self.factor) / self.sxx
        with np.errstate(divide="ignore", invalid="ignore"):
            return d / se

    def p(self, beta0: np.ndarray) -> np.ndarray:
        """WCR p-values of the nulls ``beta = beta0`` (one per specification)."""
        t0 = (self.est - beta0) / self.se
        return (np.abs(self.t(beta0)) >= np.abs(t0) - 1e-12).mean(0)


def _invert(r: _Restricted, alpha: float, side: float, iters: int = 40) -> np.ndarray:
    """Endpoint of the WCR interval on one side (-1 lower, +1 upper) by bisection on the p-value."""
    inside = r.est.copy()
    outside = r.est + side * 8.0 * r.se
    for _ in range(4):  # widen where the far end is not yet rejected
        far = r.p(outside) > alpha
        if not far.any():
            break
        outside = np.where(far, r.est + side * 2.0 * np.abs(outside - r.est), outside)
    for _ in range(iters):
        mid = 0.5 * (inside + outside)
        keep = r.p(mid) > alpha
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
        r = _Restricted(v, est, se, b, h, sxx, factor)
        zero = np.zeros_like(est)
        return {"p_value": r.p(zero), "ci_low": _invert(r, alpha, -1.0), "ci_high": _invert(r, alpha, +1.0),
                "t_draws": r.t(zero)}
    raise ValueError(f"unknown wild bootstrap kind {kind!r}; use 'wcr' or 'wcu'")
