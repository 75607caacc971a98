"""Wild cluster bootstrap by trust, exact for the full regression, vectorised over draws and specifications.

Each specification is fitted in its partialled-out form (Frisch-Waugh-Lovell):
the exposure ``x~ = M x`` and the dependent ``y~ = M y`` after the family's
transformation, with trust clusters g.  A bootstrap draw builds
``y* = yhat + (r * v)`` (restricted or unrestricted fitted values plus the
resampled residual ``r`` times one weight per trust) and refits the *whole*
regression, nuisance columns included.  Its slope is ``b* = x~' y* / Sxx``, so
``b* - b_ref = V a / Sxx`` with ``a_g = sum_g x~ r``; its residuals are
``M (r * v) - x~ (b* - b_ref)``.  The annihilator does not commute with the
trust weights when the nuisance columns are not nested in trusts (year effects,
a constant, random-effects columns), so ``M (r * v)`` is kept exact:

* the trust demeaning leaves ``r * v`` unchanged (``r`` sums to zero within each
  trust and ``v`` is constant there);
* the remaining projection is ``Q Q'`` with ``Q`` an orthonormal basis of the
  nuisance columns after the demeaning, and ``Q' (r * v) = V qr`` with
  ``qr_g = sum_g Q r`` (K numbers per trust).

The bootstrap score of trust g is therefore
``v_g a_g - qx_g . (V qr) - h_g (b* - b_ref)`` with ``qx_g = sum_g Q x~`` and
``h_g = sum_g x~^2``: linear in the draws, computed for all draws at once with
matrix products (no per-draw regression), and equal to the dummy-variable refit
of every draw (tested to 1e-10).  The clustered variance of each draw uses the
same small-sample factor as the original fit, whose n, K and G do not change.
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


def _chunks(n_specs: int, n_draws: int, n_clusters: int, cells: float = 4e6):
    """Slices of specifications small enough that (specs x draws x trusts) stays about ``cells`` numbers."""
    step = max(1, int(cells // max(1, n_draws * n_clusters)))
    return [slice(i, min(i + step, n_specs)) for i in range(0, n_specs, step)]


def draw_scores(v: np.ndarray, s: np.ndarray, h: np.ndarray, sxx: np.ndarray, qs: np.ndarray,
                qx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Deviations ``b* - b_ref`` and trust scores of every draw's full refit, for one resampled residual.

    Parameters
    ----------
    v : ndarray
        (B, G) draws.
    s : ndarray
        (G, S) trust sums of x~ times the resampled residual.
    h : ndarray
        (G, S) trust sums of x~ squared.
    sxx : ndarray
        (S,) sum of x~ squared.
    qs, qx : ndarray
        (G, S, K) trust sums of the nuisance basis Q times the residual and times x~.

    Returns
    -------
    d : ndarray
        (B, S) deviations.
    u : ndarray
        (S, B, G) trust scores of the bootstrap fits (they sum to zero over trusts).
    """
    n_g, n_s, k = qs.shape
    d = (v @ s) / sxx
    u = v[None, :, :] * s.T[:, None, :] - h.T[:, None, :] * d.T[:, :, None]
    if k:
        vq = (v @ qs.reshape(n_g, n_s * k)).reshape(len(v), n_s, k)
        u -= np.matmul(np.moveaxis(vq, 1, 0), np.moveaxis(qx, 0, 2))
    return d, u


def _meat(v: np.ndarray, s: np.ndarray, h: np.ndarray, sxx: np.ndarray, qs: np.ndarray,
          qx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Deviations and clustered meat sum_g u_g^2 of :func:`draw_scores`, without forming the (S, B, G) scores.

    With z = V qs (the draws' projection on the nuisance basis), u_g = v_g s_g - qx_g . z - h_g d,
    so sum_g u_g^2 expands into products of (B, S) and (B, S, K) arrays only:
    V^2 s^2 - 2 z . V(s qx) + z' (qx'qx) z - 2 d V(s h) + 2 d z . (h'qx) + d^2 h'h.
    """
    n_g, n_s, k = qs.shape
    d = (v @ s) / sxx
    meat = (v**2) @ (s**2) - 2.0 * d * (v @ (s * h)) + d**2 * (h**2).sum(0)
    if k:
        z = (v @ qs.reshape(n_g, n_s * k)).reshape(len(v), n_s, k)
        vsq = (v @ (s[:, :, None] * qx).reshape(n_g, n_s * k)).reshape(len(v), n_s, k)
        gram = np.matmul(qx.transpose(1, 2, 0), qx.transpose(1, 0, 2))  # (S, K, K) = sum_g qx_g qx_g'
        hq = np.einsum("gs,gsk->sk", h, qx)
        zg = np.einsum("bsk,skl->bsl", z, gram)
        # pairwise einsum contractions: a sum over the short last axis is several times slower
        meat += (-2.0 * np.einsum("bsk,bsk->bs", z, vsq) + np.einsum("bsl,bsl->bs", zg, z)
                 + 2.0 * d * np.einsum("bsk,sk->bs", z, hq))
    return d, meat


def _by_rank(qs: np.ndarray, qx: np.ndarray) -> list[tuple[np.ndarray, int]]:
    """Specifications grouped by how many leading basis columns they use (the rest are zero padding).

    Rows of the score arrays are zero-padded to the curve's widest basis; dropping the padding
    per group leaves every sum unchanged and saves the work of the zero columns.
    """
    if qs.shape[2] == 0:
        return [(np.arange(qs.shape[1]), 0)]
    used = (qs != 0).any(axis=0) | (qx != 0).any(axis=0)  # (S, K)
    k = np.where(used.any(1), used.shape[1] - np.argmax(used[:, ::-1], axis=1), 0)
    return [(np.flatnonzero(k == r), int(r)) for r in np.unique(k)]


def _no_basis(s: np.ndarray) -> np.ndarray:
    return np.zeros(s.shape + (0,))


def boot_t(v: np.ndarray, s: np.ndarray, h: np.ndarray, sxx: np.ndarray, factor: np.ndarray,
           qs: np.ndarray | None = None, qx: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
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
    qs, qx : ndarray, optional
        (G, S, K) trust sums of the nuisance basis times the residual and times x (see the
        module docstring); omitted, no nuisance column is left to project (trust effects only).

    Returns
    -------
    d, t : ndarray
        (B, S) deviations from the reference value and their t statistics.
    """
    qs = _no_basis(s) if qs is None else qs
    qx = _no_basis(s) if qx is None else qx
    d = np.empty((len(v), s.shape[1]))
    meat = np.empty_like(d)
    for cols, k in _by_rank(qs, qx):
        for c in _chunks(len(cols), len(v), max(1, k), 8e6):
            j = cols[c]
            d[:, j], meat[:, j] = _meat(v, s[:, j], h[:, j], sxx[j], qs[:, j, :k], qx[:, j, :k])
    se = np.sqrt(np.maximum(meat, 0.0) * factor) / sxx
    with np.errstate(divide="ignore", invalid="ignore"):
        return d, d / se


class _Restricted:
    """WCR bootstrap t statistics as a function of the null value beta0, from products computed once.

    The restricted residual is ``y~ - x~ beta0``, so every trust sum is linear in beta0
    (``b - beta0 h`` and ``qy - beta0 qx``) and each draw's trust scores are
    ``u1 - beta0 u2`` (:func:`draw_scores` of ``y~`` and of ``x~``).  The clustered meat is
    then ``m11 - 2 beta0 m12 + beta0^2 m22``: testing a new beta0 costs elementwise operations only.
    """

    def __init__(self, v, est, se, b, h, sxx, factor, qy=None, qx=None):
        qy = _no_basis(b) if qy is None else qy
        qx = _no_basis(b) if qx is None else qx
        shape = (len(v), b.shape[1])
        self.d1, self.d2 = np.empty(shape), np.empty(shape)
        self.m11, self.m12, self.m22 = np.empty(shape), np.empty(shape), np.empty(shape)
        for c in _chunks(b.shape[1], len(v), b.shape[0], 2e6):
            self.d1[:, c], u1 = draw_scores(v, b[:, c], h[:, c], sxx[c], qy[:, c], qx[:, c])
            self.d2[:, c], u2 = draw_scores(v, h[:, c], h[:, c], sxx[c], qx[:, c], qx[:, c])
            self.m11[:, c], self.m12[:, c], self.m22[:, c] = ((u1**2).sum(2).T, (u1 * u2).sum(2).T,
                                                              (u2**2).sum(2).T)
        self.est, self.se, self.sxx, self.factor = est, se, sxx, factor

    def t(self, beta0: np.ndarray) -> np.ndarray:
        """(B, S) bootstrap t statistics of the nulls ``beta = beta0``."""
        d = self.d1 - beta0 * self.d2
        meat = self.m11 - 2 * beta0 * self.m12 + beta0**2 * self.m22
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
    factor: np.ndarray, v: np.ndarray, kind: str, alpha: float, qy: np.ndarray | None = None,
    qx: np.ndarray | None = None,
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
    qy, qx : ndarray, optional
        (G, S, K) trust sums of the nuisance basis times y~ and times x~ (:class:`~._engine.Scores`);
        omitted, the fits have no nuisance column beyond trust effects.

    Returns
    -------
    dict
        ``p_value``, ``ci_low``, ``ci_high``, ``t_draws`` ((B, S) bootstrap t statistics of the
        test of zero for WCR, of the deviation from the estimate for WCU).
    """
    if kind == "wcu":
        qa = None if qy is None else qy - est[None, :, None] * qx
        _, t = boot_t(v, a, h, sxx, factor, qa, qx)
        t_obs = est / se
        p = (np.abs(t) >= np.abs(t_obs) - 1e-12).mean(0)
        q_lo, q_hi = np.quantile(t, [alpha / 2, 1 - alpha / 2], axis=0)
        return {"p_value": p, "ci_low": est - q_hi * se, "ci_high": est - q_lo * se, "t_draws": t}
    if kind == "wcr":
        r = _Restricted(v, est, se, b, h, sxx, factor, qy, qx)
        zero = np.zeros_like(est)
        return {"p_value": r.p(zero), "ci_low": _invert(r, alpha, -1.0), "ci_high": _invert(r, alpha, +1.0),
                "t_draws": r.t(zero)}
    raise ValueError(f"unknown wild bootstrap kind {kind!r}; use 'wcr' or 'wcu'")
