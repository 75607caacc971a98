"""The headline specifications and their wild cluster bootstrap table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..params.multiverse import MultiverseParams
from ._bootstrap import draw_weights, wild_cluster_bootstrap
from ._engine import Scores

BOOT_COLUMNS = [
    "spec_id", "boot_weights", "boot_kind", "draws", "estimate", "std_error", "p_value", "ci_low", "ci_high",
    "p_value_boot", "ci_low_boot", "ci_high_boot",
]


def headline_rows(table: pd.DataFrame, params: MultiverseParams) -> np.ndarray:
    """Positions of the headline specifications: headline family, forward, sample all, unweighted, clustered by trust, unmoderated."""
    forward = table["direction"] == "forward" if "direction" in table else True
    if "moderator" in table:
        forward = forward & (table["moderator"] == "none")
    sel = forward & (
        (table["family"] == params.headline_family) & (table["sample"] == "all") & (table["weights"] == "none")
        & (table["cov_type"] == "clustered_entity") & (table["status"] == "ok")
    )
    return np.flatnonzero(sel.to_numpy())[: params.bootstrap_specs]


def headline_bootstrap(table: pd.DataFrame, scores: Scores, params: MultiverseParams,
                       rows: np.ndarray | None = None) -> pd.DataFrame:
    """Wild cluster bootstrap (each weight distribution x WCR/WCU) of the headline specifications."""
    rows = headline_rows(table, params) if rows is None else rows
    if len(rows) == 0:
        return pd.DataFrame(columns=BOOT_COLUMNS)
    est = table["estimate"].to_numpy(dtype=float)[rows]
    se = table["std_error"].to_numpy(dtype=float)[rows]
    factor = table["cov_factor"].to_numpy(dtype=float)[rows]
    sub = scores.subset(rows)
    parts = []
    for i, wkind in enumerate(params.bootstrap_weights):
        v = draw_weights(wkind, params.bootstrap_draws, scores.a.shape[1], params.seed + 1 + i)
        for kind in params.bootstrap_kinds:
            r = wild_cluster_bootstrap(est, se, sub["a"], sub["h"], sub["b"], sub["sxx"], factor, v, kind,
                                       params.alpha, sub["qy"], sub["qx"])
            part = table.iloc[rows][["spec_id", "estimate", "std_error", "p_value", "ci_low", "ci_high"]].copy()
            part["boot_weights"], part["boot_kind"], part["draws"] = wkind, kind, params.bootstrap_draws
            part["p_value_boot"], part["ci_low_boot"], part["ci_high_boot"] = r["p_value"], r["ci_low"], r["ci_high"]
            parts.append(part)
    out = pd.concat(parts, ignore_index=True)[BOOT_COLUMNS]
    return out.sort_values(["boot_weights", "boot_kind", "spec_id"], kind="mergesort", ignore_index=True)
