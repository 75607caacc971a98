"""The six families on one estimation sample, batched over its (dependent, exposure) pairs.

Every family is reduced, by the Frisch-Waugh-Lovell theorem, to one regressor:
the exposure and the dependent are residualised on everything else the family
puts in the model (constant, trust effects, year effects, Mundlak means,
quasi-demeaned nuisance columns of random effects), once for all pairs that
share the sample.  The slope, the residuals and the cluster score sums of the
regressor of interest are then exact for the full model.  Weighted fits scale
every row by the square root of its weight (normalised to mean one, as
linearmodels does) before the projection.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..estimation import group_demean, group_means, run_starts
from ..vocab import attach_fitters


@dataclass
class Block:
    """Rows shared by several specifications, sorted by trust then year.

    Attributes
    ----------
    ent : ndarray
        (n,) trust codes of the whole panel (0..G_all-1), non-decreasing.
    tim : ndarray
        (n,) position of the row's year among :attr:`years`.
    years : ndarray
        Sorted distinct years of the block.
    w : ndarray or None
        (n,) weights normalised to mean one.
    Y, X : ndarray
        (n, p) dependent and exposure, one column per pair.
    """

    ent: np.ndarray
    tim: np.ndarray
    years: np.ndarray
    w: np.ndarray | None
    Y: np.ndarray
    X: np.ndarray

    @property
    def n(self) -> int:
        """Rows of the block."""
        return len(self.ent)


@dataclass
class FamilyFit:
    """Residualised regressor and dependent of every pair, with the counts the conventions need.

    Attributes
    ----------
    rx, ry : ndarray
        (m, p) exposure and dependent after the family's transformation and sqrt(weight) scaling.
    cl : ndarray
        (m,) trust code of each transformed row (non-decreasing).
    n_obs : int
        Rows of the regression as fitted (differences for first differences).
    k_cols : int
        Columns linearmodels would report (constant, exposure, year dummies, Mundlak mean).
    entity_effects, time_effects : int
        Absorbed trust and year effects (levels less one), as :mod:`linkage.estimation.conventions` counts them.
    g_entity, g_time : int
        Trusts and years in the fitted rows.
    reason : str
        Why no pair can be fitted ('' if they can).
    extras : dict
        ``pair_reason`` (per-pair reasons) and variance components for random effects.
    q : ndarray or None
        Orthonormal basis of the nuisance columns still to be projected out of a bootstrap
        draw after the transformation: (m, k) shared by every pair, (m, k, p) one per pair
        (random effects), or None when the transformation alone is the whole projection
        (trust effects only).  Trust effects never need a column here: a residual that
        sums to zero within each trust still does after multiplying it by one weight per
        trust.
    """

    rx: np.ndarray
    ry: np.ndarray
    cl: np.ndarray
    n_obs: int
    k_cols: int
    entity_effects: int
    time_effects: int
    g_entity: int
    g_time: int
    reason: str = ""
    extras: dict = field(default_factory=dict)
    q: np.ndarray | None = None


def basis(nuis: np.ndarray) -> np.ndarray:
    """Orthonormal basis (by SVD) of the column space of ``nuis``: (n, rank)."""
    if nuis.shape[1] == 0:
        return np.zeros((nuis.shape[0], 0))
    u, s, _ = np.linalg.svd(nuis, full_matrices=False)
    if s[0] == 0:
        return np.zeros((nuis.shape[0], 0))
    return u[:, s > s[0] * max(nuis.shape) * 1e-12]


def residualize(z: np.ndarray, nuis: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
    """Residuals of the columns of ``z`` on the columns of ``nuis``, its rank, and its orthonormal basis."""
    q = basis(nuis)
    return z - q @ (q.T @ z), q.shape[1], q


def year_dummies(tim: np.ndarray, n_years: int) -> np.ndarray:
    """Indicators of the years after the first (n, n_years - 1)."""
    return (tim[:, None] == np.arange(1, n_years)[None, :]).astype(float)


def _root(w: np.ndarray | None, n: int) -> np.ndarray:
    return np.ones(n) if w is None else np.sqrt(w)


def _demeaned(b: Block, z: np.ndarray) -> np.ndarray:
    """sqrt(w) * (z - trust mean of z)."""
    return _root(b.w, b.n)[:, None] * group_demean(z, b.ent, b.w)


def fit_within(b: Block, time_effects: bool) -> FamilyFit:
    """Trust fixed effects; with ``time_effects`` also year fixed effects (``twoway_fe``)."""
    starts = run_starts(b.ent)
    g, t = len(starts), len(b.years)
    zd = _demeaned(b, np.hstack([b.Y, b.X]))
    rank, q = 0, None
    if time_effects:
        dd = _demeaned(b, year_dummies(b.tim, t))
        zd, rank, q = residualize(zd, dd)
    p = b.Y.shape[1]
    reason = ""
    if time_effects and rank < t - 1:
        reason = f"year effects not separable from trust effects ({rank} of {t - 1} identified)"
    return FamilyFit(zd[:, p:], zd[:, :p], b.ent, b.n, 2, g - 1, (t - 1) if time_effects else 0, g, t, reason, q=q)


def fit_pooled(b: Block, time_effects: bool) -> FamilyFit:
    """Pooled OLS with a constant and (if ``time_effects``) year dummies."""
    t = len(b.years)
    sw = _root(b.w, b.n)
    nuis = np.ones((b.n, 1))
    if time_effects:
        nuis = np.hstack([nuis, year_dummies(b.tim, t)])
    z, rank, q = residualize(sw[:, None] * np.hstack([b.Y, b.X]), sw[:, None] * nuis)
    p = b.Y.shape[1]
    g = len(run_starts(b.ent))
    reason = "" if rank == nuis.shape[1] else f"constant and year dummies collinear (rank {rank} of {nuis.shape[1]})"
    return FamilyFit(z[:, p:], z[:, :p], b.ent, b.n, 1 + nuis.shape[1], 0, 0, g, t, reason, q=q)


def fit_first_difference(b: Block, time_effects: bool) -> FamilyFit:
    """First differences of consecutive years of the block (linearmodels ``FirstDifferenceOLS``)."""
    t = len(b.years)
    later = np.flatnonzero((b.ent[1:] == b.ent[:-1]) & (b.tim[1:] - b.tim[:-1] == 1)) + 1
    p = b.Y.shape[1]
    k_cols = 1 + (t - 1 if time_effects else 0)
    if len(later) == 0:
        return FamilyFit(np.zeros((0, p)), np.zeros((0, p)), later, 0, k_cols, 0, 0, 0, 0,
                         "no trust has two consecutive years in the sample")
    dz = np.hstack([b.Y, b.X])[later] - np.hstack([b.Y, b.X])[later - 1]
    if b.w is None:
        sw = np.ones(len(later))
    else:
        wd = 1.0 / (1.0 / b.w[later] + 1.0 / b.w[later - 1])
        sw = np.sqrt(wd / wd.mean())
    reason, rank, q = "", 0, None
    z = sw[:, None] * dz
    if time_effects:
        dd = year_dummies(b.tim, t)
        z, rank, q = residualize(z, sw[:, None] * (dd[later] - dd[later - 1]))
        if rank < t - 1:
            reason = f"differenced year dummies collinear ({rank} of {t - 1} identified): a year has no consecutive-year pair"
    cl = b.ent[later]
    g_t = len(np.unique(b.tim[later]))
    return FamilyFit(z[:, p:], z[:, :p], cl, len(later), k_cols, 0, 0, len(run_starts(cl)), g_t, reason, q=q)


def _between_ssr(ybar: np.ndarray, xbar: np.ndarray, dbar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Residual sum of squares and rank of the between regression of ybar on [1, dbar, xbar], per pair."""
    nuis = np.hstack([np.ones((len(ybar), 1)), dbar])
    r, rank0, _ = residualize(np.hstack([ybar, xbar]), nuis)
    p = ybar.shape[1]
    ry, rx = r[:, :p], r[:, p:]
    sxx = (rx**2).sum(0)
    scale = ((xbar - xbar.mean(0)) ** 2).sum(0)
    adds = sxx > np.maximum(scale, 1e-300) * 1e-20
    ssr = (ry**2).sum(0) - np.where(adds, (rx * ry).sum(0) ** 2 / np.where(adds, sxx, 1.0), 0.0)
    return ssr, rank0 + adds.astype(int)


def _partial_batched(nuis: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Residuals of z[:, j] on nuis[:, :, j] for every pair j (normal equations, batched)."""
    gram = np.einsum("nqp,nrp->pqr", nuis, nuis)
    cross = np.einsum("nqp,np->pq", nuis, z)
    coef = np.linalg.solve(gram, cross[:, :, None])[:, :, 0]
    return z - np.einsum("nqp,pq->np", nuis, coef)


def fit_random_effects(b: Block, time_effects: bool, mundlak: bool = False) -> FamilyFit:
    """Random effects (Swamy-Arora, as linearmodels ``RandomEffects``), optionally with Mundlak means.

    The variance components come from the within regression (the two-way or
    one-way fixed-effects residuals) and the between regression of trust means
    on a constant, the means of the year dummies and of the exposure; the
    harmonic mean of the trusts' year counts stands for T in unbalanced panels.
    """
    starts = run_starts(b.ent)
    g, t = len(starts), len(b.years)
    counts = np.diff(np.r_[starts, b.n])
    p = b.Y.shape[1]
    dum = year_dummies(b.tim, t) if time_effects else np.zeros((b.n, 0))
    within = fit_within(b, time_effects)
    sxx_w = (within.rx**2).sum(0)
    beta_w = (within.rx * within.ry).sum(0) / np.where(sxx_w > 0, sxx_w, 1.0)
    ssr_w = ((within.ry - beta_w * within.rx) ** 2).sum(0)
    rank_d = t - 1 if time_effects else 0
    df_within = b.n - g - (rank_d + 1)
    means = group_means(np.hstack([b.Y, b.X, dum]), starts, b.w)
    ybar, xbar, dbar = means[:, :p], means[:, p:2 * p], means[:, 2 * p:]
    ssr_b, rank_b = _between_ssr(ybar, xbar, dbar)
    df_between = g - rank_b
    reasons = np.full(p, "", dtype=object)
    if df_within <= 0:
        reasons[:] = f"within regression has no residual degrees of freedom ({b.n} rows, {g} trusts)"
    reasons[(df_between <= 0) & (reasons == "")] = f"between regression has no residual degrees of freedom ({g} trusts)"
    with np.errstate(divide="ignore", invalid="ignore"):
        s2e = ssr_w / df_within
        t_bar = g / (1.0 / counts).sum()
        s2u = np.maximum(0.0, ssr_b / df_between - s2e / t_bar)
        theta = 1.0 - np.sqrt(s2e[None, :] / (counts[:, None] * s2u[None, :] + s2e[None, :]))
    theta = np.nan_to_num(theta)
    th = np.repeat(theta, counts, axis=0)
    sw = _root(b.w, b.n)
    rows = np.repeat(np.arange(g), counts)
    wy = sw[:, None] * (b.Y - th * ybar[rows])
    wx = sw[:, None] * (b.X - th * xbar[rows])
    cols = [(sw[:, None] * (1.0 - th))[:, None, :]]
    if time_effects:
        cols.append(sw[:, None, None] * (dum[:, :, None] - th[:, None, :] * dbar[rows][:, :, None]))
    if mundlak:
        cols.append((sw[:, None] * (1.0 - th) * xbar[rows])[:, None, :])
    nuis = np.concatenate(cols, axis=1)
    rx, ry = _partial_batched(nuis, wx), _partial_batched(nuis, wy)
    k_cols = 1 + nuis.shape[1]
    fit = FamilyFit(rx, ry, b.ent, b.n, k_cols, 0, 0, g, t, within.reason, q=_pair_bases(nuis))
    fit.extras = {"pair_reason": reasons, "sigma2_effects": s2u, "sigma2_eps": s2e, "theta": theta}
    return fit


def _pair_bases(nuis: np.ndarray) -> np.ndarray:
    """(n, q, p) orthonormal bases of the nuisance columns of every pair (batched SVD; dropped directions zeroed)."""
    u, s, _ = np.linalg.svd(np.moveaxis(nuis, 2, 0), full_matrices=False)
    keep = s > s[:, :1] * max(nuis.shape[:2]) * 1e-12
    return np.moveaxis(u * keep[:, None, :], 0, 2)


def _partial(a: np.ndarray, b: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Columns of ``a`` less their projection on the matching columns of ``b`` (none where b is negligible)."""
    bb = (b**2).sum(0)
    keep = bb > scale * 1e-18
    return a - b * np.where(keep, (a * b).sum(0) / np.where(keep, bb, 1.0), 0.0)


def moderated_fits(both: FamilyFit, p: int, ent: np.ndarray, z: np.ndarray) -> tuple[FamilyFit, FamilyFit]:
    """Main effect and interaction fits of exposure + exposure x centred moderator, from one family fit.

    ``both`` is the family's fit of a block whose exposures are [x_1..x_p, x_1 z..x_p z] (and
    dependents [y, y]).  As the family's transformation T is linear and the same for every
    column (``curve_moderator`` in its registry entry), T(x (z - c)) = T(x z) - c T(x) for the
    centre c = the unweighted mean of z over the trusts in the fitted rows (each trust once, its
    mean z over the block's rows; first differences: trusts with a consecutive pair).  By
    Frisch-Waugh-Lovell, the main effect (the association at z = c) is the slope of y on
    T(x) after partialling T(x (z - c)) out of both, and the interaction the slope on T(x (z - c))
    after partialling T(x) out.  The partialled-out regressor joins the nuisance basis ``q`` (one
    per pair) so the bootstrap draws stay exact refits of the two-regressor model.
    """
    zbar = group_means(z[:, None], run_starts(ent), None)[:, 0]
    trusts = np.unique(ent)
    fitted = np.unique(both.cl)
    centre = float(zbar[np.searchsorted(trusts, fitted)].mean()) if len(fitted) else float("nan")
    rx, ry = both.rx[:, :p], both.ry[:, :p]
    rz = both.rx[:, p:] - (centre if np.isfinite(centre) else 0.0) * rx
    sx, sz = (rx**2).sum(0), (rz**2).sum(0)
    scale = np.maximum(sx + sz, 1e-300)
    main_x, main_y = _partial(rx, rz, scale), _partial(ry, rz, scale)
    int_x, int_y = _partial(rz, rx, scale), _partial(ry, rx, scale)
    qs = []
    for r in (rz, rx):
        norm = np.sqrt((r**2).sum(0))
        unit = np.where(norm > np.sqrt(scale) * 1e-9, r / np.where(norm > 0, norm, 1.0), 0.0)
        if both.q is None or both.q.shape[1] == 0:
            qs.append(unit[:, None, :])
        else:
            qs.append(np.concatenate([np.repeat(both.q[:, :, None], p, axis=2), unit[:, None, :]], axis=1))
    pair = both.extras.get("pair_reason")
    sd = float(zbar[np.searchsorted(trusts, fitted)].std(ddof=1)) if len(fitted) > 1 else float("nan")
    extras = {"centre": centre, "sd": sd, **({"pair_reason": pair[:p]} if pair is not None else {})}
    common = dict(cl=both.cl, n_obs=both.n_obs, k_cols=both.k_cols + 1, entity_effects=both.entity_effects,
                  time_effects=both.time_effects, g_entity=both.g_entity, g_time=both.g_time, reason=both.reason)
    return (FamilyFit(main_x, main_y, extras=dict(extras), q=qs[0], **common),
            FamilyFit(int_x, int_y, extras=dict(extras), q=qs[1], **common))


#: The batched fitter of each built-in curve family, ``(block, time_effects) -> FamilyFit``,
#: attached to its entry in the family registry (:mod:`linkage.vocab`).
BATCH_FITTERS = {
    "entity_fe": lambda b, te: fit_within(b, False),
    "twoway_fe": lambda b, te: fit_within(b, True),
    "pooled": fit_pooled,
    "first_difference": fit_first_difference,
    "random_effects": lambda b, te: fit_random_effects(b, te, mundlak=False),
    "mundlak": lambda b, te: fit_random_effects(b, te, mundlak=True),
}
for _name, _fitter in BATCH_FITTERS.items():
    attach_fitters(_name, batch=_fitter)
