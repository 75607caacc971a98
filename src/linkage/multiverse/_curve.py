"""The pre-specified inferential curve, its falsification checks, and duplicate specifications.

Specifications are split by ``role`` (see :func:`~._specs.spec_roles`): the inferential
curve (within-trust designs at the pre-specified non-negative lags) is the only one whose
joint test is read as evidence; placebo leads and reverse models are falsification checks
with the same summary; the rest is exploratory.  Within a role, specifications that give
the same estimate of the same measure pair, lag, weighting and covariance (e.g. a
leave-one-year-out sample that drops a year without data, or two-way FE and first
differences on two years) are one estimand: the later ones get ``duplicate_of`` and are
counted once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._inference import benjamini_hochberg, joint_test, romano_wolf

ROLES = ("inferential", "placebo", "reverse", "exploratory")
DUPLICATE_KEY = ["direction", "role", "dependent", "exposure", "lag", "weights", "cov_type", "moderator"]


def mark_duplicates(table: pd.DataFrame, rel: float = 1e-9) -> pd.Series:
    """``duplicate_of``: spec_id of the first identical specification (same key, same estimate), else <NA>.

    Two fitted specifications are identical when they share :data:`DUPLICATE_KEY` and their
    estimates differ by at most ``rel`` times the larger standard error (chains of such
    neighbours form one group; the smallest spec_id stands for it).
    """
    out = pd.Series(pd.NA, index=table.index, dtype="Int64")
    ok = table[table["status"] == "ok"]
    gid = ok.groupby([k for k in DUPLICATE_KEY if k in ok], sort=False).ngroup().to_numpy()
    keep = gid >= 0  # rows with a missing key value are in no group (as groupby drops them)
    if not keep.any():
        return out
    est = ok["estimate"].to_numpy(float)[keep]
    se = ok["std_error"].to_numpy(float)[keep]
    sid = ok["spec_id"].to_numpy()[keep]
    gid, index = gid[keep], ok.index[keep]
    # by group, then by estimate; ties keep table order (a stable sort, as a per-group mergesort would)
    order = np.lexsort((est, gid))
    est, se, sid, gid, index = est[order], se[order], sid[order], gid[order], index[order]
    gap = np.abs(np.diff(est)) > rel * np.maximum(se[1:], se[:-1])
    new = np.r_[True, (gid[1:] != gid[:-1]) | gap]
    starts = np.flatnonzero(new)
    first = np.repeat(np.minimum.reduceat(sid, starts), np.diff(np.r_[starts, len(sid)]))
    dup = first != sid
    out.loc[index[dup]] = first[dup]
    return out


def role_summary(table: pd.DataFrame, mask: np.ndarray, d_null: np.ndarray, t_null: np.ndarray,
                 alpha: float) -> dict[str, Any]:
    """Counts, shares (all on the same base: distinct fitted specifications), adjusted p and the joint test.

    Parameters
    ----------
    table : pandas.DataFrame
        Specification table with ``status``, ``duplicate_of``, ``estimate_oriented``, ``p_value``,
        ``df``, ``orientation`` and ``estimate_within_std``; ``p_bh_role`` and ``p_romano_wolf_role``
        are filled in place for the rows summarised.
    mask : ndarray
        Rows of the role (any status).
    d_null, t_null : ndarray
        (B, n_ok) null draws of the fitted rows, columns in table order of the fitted rows.

    Returns
    -------
    dict
    """
    ok = (table["status"] == "ok").to_numpy()
    distinct = mask & ok & table["duplicate_of"].isna().to_numpy()
    out: dict[str, Any] = {"n_specs": int(mask.sum()), "n_fitted": int((mask & ok).sum()),
                           "n_distinct": int(distinct.sum()), "n_duplicates": int((mask & ok).sum() - distinct.sum())}
    if not distinct.any():
        return out
    cols = np.flatnonzero(distinct[ok])
    sub = table.loc[distinct]
    p = sub["p_value"].to_numpy(float)
    o = sub["orientation"].to_numpy(float)
    est = sub["estimate_oriented"].to_numpy(float)
    se = sub["std_error"].to_numpy(float)
    table.loc[distinct, "p_bh_role"] = benjamini_hochberg(p)
    table.loc[distinct, "p_romano_wolf_role"] = romano_wolf(est / se, t_null[:, cols] * o)
    joint = joint_test(est, p, sub["df"].to_numpy(float), d_null[:, cols] * o, t_null[:, cols] * o, alpha)
    sig = p < alpha
    out.update({
        "share_positive": float((est > 0).mean()),
        "share_significant": float(sig.mean()),
        "share_significant_positive": float((sig & (est > 0)).mean()),
        "share_significant_negative": float((sig & (est < 0)).mean()),
        "share_significant_bh": float((table.loc[distinct, "p_bh_role"] < alpha).mean()),
        "share_significant_romano_wolf": float((table.loc[distinct, "p_romano_wolf_role"] < alpha).mean()),
        "median_estimate_within_std": float(np.nanmedian(sub["estimate_within_std"].to_numpy(float))),
        "n_significant": joint["n_significant"],
        "null_mean_significant": joint["null_mean_significant"],
        "joint_p": joint["p_significant"],
        "joint_p_median": joint["p_median"],
        "joint_p_dominant": joint["p_significant_dominant"],
        "dominant_sign": joint["dominant_sign"],
        "draws": joint["draws"],
    })
    return out


def curve_summaries(table: pd.DataFrame, d_null: np.ndarray, t_null: np.ndarray, params) -> dict[str, Any]:
    """``inferential`` and ``falsification`` (``placebo``, ``reverse``) summaries, and ``exploratory``."""
    table["p_bh_role"] = np.nan
    table["p_romano_wolf_role"] = np.nan
    role = table["role"].to_numpy()
    s = {r: role_summary(table, role == r, d_null, t_null, params.alpha) for r in ROLES}
    fams = [f for f in params.families if f in params.inferential_families]
    lags = sorted(k for k in params.lags if k in params.inferential_lags)
    s["inferential"].update({"designs": fams, "lags": lags})
    s["placebo"].update({"designs": fams, "lags": sorted(k for k in params.lags if k < 0)})
    s["reverse"].update({"designs": fams if params.falsification_reverse else [],
                         "lags": [k for k in lags if k > 0] if params.falsification_reverse else []})
    return {"inferential": s["inferential"], "falsification": {"placebo": s["placebo"], "reverse": s["reverse"]},
            "exploratory": s["exploratory"], "moderated": moderated_summary(table, params)}


def moderated_summary(table: pd.DataFrame, params) -> dict[str, Any]:
    """How many forward specifications add a moderator, how many were fitted, and the spread of the interaction.

    Over the distinct fitted moderated specifications: the median and the 10th / 90th percentiles
    of ``interaction_within_std`` (the change in ``estimate_within_std`` per trust-level SD of the
    moderator), and how many interactions are significant at ``alpha`` in either direction;
    ``n_inferential`` counts the fitted ones in the inferential role.
    """
    mods = [m for m in params.moderators if m != "none"]
    out: dict[str, Any] = {"moderators": mods, "inferential_moderators": [m for m in params.inferential_moderators
                                                                           if m != "none" and m in mods]}
    if "moderator" not in table or "interaction_within_std" not in table:
        return {**out, "n_specs": 0, "n_fitted": 0}
    fwd = (table["direction"] == "forward") if "direction" in table else pd.Series(True, index=table.index)
    rows = table[fwd & (table["moderator"] != "none")]
    ok = rows[rows["status"] == "ok"]
    distinct = ok[ok["duplicate_of"].isna()]
    out.update({"n_specs": int(len(rows)), "n_fitted": int(len(ok)), "n_distinct": int(len(distinct)),
                "n_inferential": int((ok["role"] == "inferential").sum())})
    reasons = rows.loc[rows["status"] != "ok", "reason"].value_counts()
    out["unsupported_reasons"] = {str(k): int(v) for k, v in sorted(reasons.items())}
    if len(distinct):
        v = distinct["interaction_within_std"].to_numpy(float)
        out.update({
            "interaction_within_std_median": float(np.nanmedian(v)),
            "interaction_within_std_p10": float(np.nanpercentile(v, 10)),
            "interaction_within_std_p90": float(np.nanpercentile(v, 90)),
            "n_interaction_significant": int((distinct["interaction_p_value"] < params.alpha).sum()),
        })
    return out
