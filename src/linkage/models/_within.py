"""Within-trust transformations and design checks (numpy, no model library)."""

from __future__ import annotations

import numpy as np

from ..errors import LinkageDataError


def group_demean(z: np.ndarray, codes: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Subtract (weighted) group means from each column of ``z``.

    Parameters
    ----------
    z : ndarray
        (n,) or (n, p) array.
    codes : ndarray
        (n,) integer group codes 0..G-1.
    weights : ndarray, optional
        (n,) non-negative weights.

    Returns
    -------
    ndarray
        Same shape as ``z``.
    """
    z2 = z.reshape(len(z), -1).astype(float)
    w = np.ones(len(z2)) if weights is None else np.asarray(weights, dtype=float)
    g = int(codes.max()) + 1
    sw = np.bincount(codes, weights=w, minlength=g)
    out = np.empty_like(z2)
    for j in range(z2.shape[1]):
        means = np.bincount(codes, weights=w * z2[:, j], minlength=g) / sw
        out[:, j] = z2[:, j] - means[codes]
    return out.reshape(z.shape)


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
    cur = z.reshape(len(z), -1).astype(float)
    scale = max(float(np.abs(cur).max()), 1.0)
    for _ in range(max_iter):
        nxt = group_demean(group_demean(cur, entity, weights), time, weights)
        if np.abs(nxt - cur).max() <= tol * scale:
            cur = nxt
            break
        cur = nxt
    return cur.reshape(z.shape)


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
    n_groups = len(np.unique(entity))
    dof = len(x) - n_groups
    sd = float(np.sqrt(ss_w / dof)) if dof > 0 else float("nan")
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
