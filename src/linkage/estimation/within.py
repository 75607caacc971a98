"""Within-trust transformations and the rank check of a transformed design (numpy only), written once.

Both the model stage (one specification at a time, on a frame indexed by trust and year) and the
curve (many (dependent, exposure) pairs at once, on rows sorted by trust then year) use these.
Rows sorted by group are handled with run sums (``np.add.reduceat``); unsorted codes are sorted
first (stable) and the result put back in the input order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import LinkageDataError


def codes_of(index: pd.MultiIndex) -> tuple[np.ndarray, np.ndarray]:
    """Integer trust and year codes (0..G-1, 0..T-1, in sorted order) of a (trust, year) index."""
    ent = pd.factorize(index.get_level_values(0), sort=True)[0]
    tim = pd.factorize(index.get_level_values(1), sort=True)[0]
    return ent, tim


def run_starts(codes: np.ndarray) -> np.ndarray:
    """Start positions of the runs of equal values in a sorted code array."""
    codes = np.asarray(codes)
    if len(codes) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])


def group_means(z: np.ndarray, starts: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """(Weighted) means of the rows of ``z`` (n, p) over each run starting at ``starts``: (runs, p)."""
    if w is None:
        counts = np.diff(np.r_[starts, len(z)])
        return np.add.reduceat(z, starts, axis=0) / counts[:, None]
    return np.add.reduceat(z * w[:, None], starts, axis=0) / np.add.reduceat(w, starts)[:, None]


def group_demean(z: np.ndarray, codes: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Subtract (weighted) group means from each column of ``z``.

    Parameters
    ----------
    z : ndarray
        (n,) or (n, p) array.
    codes : ndarray
        (n,) integer group codes (any order).
    weights : ndarray, optional
        (n,) non-negative weights.

    Returns
    -------
    ndarray
        Same shape as ``z``.
    """
    z2 = np.asarray(z, dtype=float).reshape(len(z), -1)
    if len(z2) == 0:
        return z2.reshape(np.shape(z)).copy()
    codes = np.asarray(codes)
    w = None if weights is None else np.asarray(weights, dtype=float)
    order = None
    if (codes[1:] < codes[:-1]).any():
        order = np.argsort(codes, kind="stable")
        z2, codes = z2[order], codes[order]
        w = None if w is None else w[order]
    starts = run_starts(codes)
    counts = np.diff(np.r_[starts, len(codes)])
    dev = z2 - np.repeat(group_means(z2, starts, w), counts, axis=0)
    if order is not None:
        back = np.empty_like(dev)
        back[order] = dev
        dev = back
    return dev.reshape(np.shape(z))


def twoway_demean(
    z: np.ndarray,
    entity: np.ndarray,
    time: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    tol: float = 1e-13,
    max_iter: int = 10_000,
) -> np.ndarray:
    """Residuals of ``z`` on trust and year dummies, by alternating projections.

    Exact in one pass for balanced panels; iterates to ``tol`` (relative) otherwise.

    Parameters
    ----------
    z : ndarray
        (n,) or (n, p) array.
    entity, time : ndarray
        (n,) integer codes.
    weights : ndarray, optional
        (n,) weights.
    tol : float
        Convergence tolerance on the largest change relative to the scale of ``z``.
    max_iter : int
        Iteration cap.

    Returns
    -------
    ndarray
    """
    cur = np.asarray(z, dtype=float).reshape(len(z), -1)
    scale = max(float(np.abs(cur).max()), 1.0) if cur.size else 1.0
    for _ in range(max_iter):
        nxt = group_demean(group_demean(cur, entity, weights), time, weights)
        if np.abs(nxt - cur).max(initial=0.0) <= tol * scale:
            cur = nxt
            break
        cur = nxt
    return cur.reshape(np.shape(z))


def within_sd(z: np.ndarray, ent: np.ndarray) -> np.ndarray:
    """SD of the columns of ``z`` (n, p) around each trust's own mean (trusts with one row contribute nothing).

    Degrees of freedom: rows less trusts, so it estimates the typical year-to-year variation
    of a trust around its mean (NaN when there are no more rows than trusts).
    """
    dev = group_demean(z, ent)
    dof = len(ent) - len(np.unique(ent))
    return np.sqrt((dev**2).sum(0) / dof) if dof > 0 else np.full(np.shape(z)[1:], np.nan)


def within_stats(x: np.ndarray, entity: np.ndarray) -> tuple[float, float]:
    """Within-trust SD and the share of the total sum of squares that is within trusts.

    Parameters
    ----------
    x : ndarray
        (n,) values.
    entity : ndarray
        (n,) integer trust codes.

    Returns
    -------
    within_sd : float
        ``sqrt(sum((x - trust mean)^2) / (n - N))``: SD of a trust's deviations from its
        own mean (N trusts; NaN if n == N).
    within_share : float
        ``sum((x - trust mean)^2) / sum((x - grand mean)^2)``.
    """
    dev = group_demean(x, entity)
    ss_w = float(dev @ dev)
    ss_t = float(((x - x.mean()) ** 2).sum())
    sd = float(within_sd(np.asarray(x, float)[:, None], entity)[0])
    share = ss_w / ss_t if ss_t > 0 else float("nan")
    return sd, share


def _rank(z: np.ndarray) -> int:
    if z.shape[1] == 0:
        return 0
    s = np.linalg.svd(z, compute_uv=False)
    return int((s > s.max() * max(z.shape) * 1e-12).sum()) if s.max() > 0 else 0


def check_full_rank(z: np.ndarray, names: list[str], z_orig: np.ndarray, context: str) -> None:
    """Raise :class:`LinkageDataError` naming the regressors that are collinear.

    Parameters
    ----------
    z : ndarray
        (n, p) transformed regressors as the model uses them.
    names : list of str
        Column names.
    z_orig : ndarray
        (n, p) regressors before the transformation; their column norms set the
        scale, so a column that the transformation reduces to rounding error is
        detected as having no variation.
    context : str
        Model description for the message.
    """
    norms = np.sqrt((z_orig**2).sum(0))
    norms[norms == 0] = 1.0
    zs = z / norms
    col_norm = np.sqrt((zs**2).sum(0))
    flat = [names[j] for j in range(len(names)) if col_norm[j] < 1e-9]
    if flat:
        raise LinkageDataError(
            f"{context}: regressor(s) {flat} have no variation left after the model's transformation "
            "(constant within trusts for fixed-effects/difference models, or constant overall); "
            "they cannot be estimated"
        )
    full = _rank(zs)
    if full < zs.shape[1]:
        culprits = [
            names[j] for j in range(len(names)) if _rank(np.delete(zs, j, axis=1)) == full
        ]
        raise LinkageDataError(
            f"{context}: collinear regressors; {culprits} are exact linear combinations of each other "
            "(or of the constant, the year effects or the trust effects); drop one of them"
        )
