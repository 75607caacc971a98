"""The whole curve: enumerate, fit, adjust across the curve, bootstrap the headline specifications."""

from __future__ import annotations

__all__ = ["BOOT_COLUMNS", "MultiverseRun", "curve_inference", "headline_bootstrap", "headline_rows", "orientation",
           "run_multiverse"]

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..params.multiverse import MultiverseParams
from ._bootstrap import draw_weights
from ._curve import curve_summaries, mark_duplicates
from ._engine import Scores, fit_specs
from ._headline import BOOT_COLUMNS, headline_bootstrap, headline_rows
from ._inference import benjamini_hochberg, joint_test, null_t_draws, romano_wolf
from ._specs import enumerate_all


@dataclass
class MultiverseRun:
    """Result of :func:`run_multiverse`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per specification: choices, ``estimate, std_error, ci_low, ci_high, p_value,
        n_obs, n_entities``, ``p_bh`` (Benjamini-Hochberg), ``p_romano_wolf``, ``headline``,
        ``status`` and ``reason``; ``estimate_oriented`` (positive = better staff wellbeing with
        better patient experience) and ``estimate_std`` (oriented, in SDs of the dependent per SD of
        the exposure in the estimation sample, comparable across measures).
    bootstrap : pandas.DataFrame
        Headline specifications x bootstrap weights x kind (:data:`BOOT_COLUMNS`).
    joint : dict
        Joint test of the curve (:func:`~linkage.multiverse._inference.joint_test`).
    scores : Scores
        Cluster sums of every specification.
    notes : list of str
        Caveats to print with the tables.
    curves : dict
        ``inferential``, ``falsification`` (``placebo``, ``reverse``) and ``exploratory`` summaries
        (:func:`~linkage.multiverse._curve.curve_summaries`), each over its distinct specifications.
    reverse : pandas.DataFrame
        The reverse models (patient measure earlier, staff measure later; ``direction`` reverse), with
        the same columns as ``table``; falsification checks only, so kept out of ``table`` and the
        figure.  Their adjusted p-values are among themselves.  ``scores`` rows follow ``spec_id``
        over both tables (forward first).
    """

    table: pd.DataFrame
    bootstrap: pd.DataFrame
    joint: dict[str, Any]
    scores: Scores
    notes: list[str] = field(default_factory=list)
    curves: dict[str, Any] = field(default_factory=dict)
    reverse: pd.DataFrame = field(default_factory=pd.DataFrame)

    def all_specs(self) -> pd.DataFrame:
        """Forward and reverse specifications in one table, in ``spec_id`` order (what the stage writes)."""
        return pd.concat([self.table, self.reverse], ignore_index=True) if len(self.reverse) else self.table


def curve_draws(table: pd.DataFrame, scores: Scores, params: MultiverseParams) -> tuple[np.ndarray, np.ndarray]:
    """Studentised null draws (B, n_fitted) of every fitted specification, in table order.

    Restricted wild cluster bootstrap under beta = 0 for every specification at once (one
    weight per trust and draw, shared, so the dependence between specifications is kept),
    each draw a full refit with its clustered SE re-estimated (:func:`null_t_draws`).
    """
    ok = (table["status"] == "ok").to_numpy()
    rows = np.flatnonzero(ok)
    v = draw_weights(params.bootstrap_weights[0] if params.bootstrap_weights else "rademacher",
                     params.bootstrap_draws, scores.a.shape[1], params.seed)
    sub = scores.subset(rows)
    return null_t_draws(v, sub["b"], sub["sxx"], table["std_error"].to_numpy(float)[rows], sub["h"], sub["qy"],
                        sub["qx"], table["cov_factor"].to_numpy(float)[rows])


def curve_inference(table: pd.DataFrame, scores: Scores, params: MultiverseParams) -> dict[str, Any]:
    """Add ``p_bh``, ``p_romano_wolf``, ``duplicate_of`` and the per-role adjusted p-values to ``table``.

    ``p_bh`` and ``p_romano_wolf`` adjust over every fitted forward specification (the whole
    curve, duplicates included; reverse models among themselves); ``p_bh_role`` and ``p_romano_wolf_role`` over the distinct
    specifications of each role.  Returns the joint test of the whole forward curve, with the
    ``inferential``, ``falsification`` and ``exploratory`` summaries under ``curves``.
    """
    ok = (table["status"] == "ok").to_numpy()
    forward = (table["direction"] == "forward").to_numpy() if "direction" in table else np.ones(len(table), bool)
    if "role" not in table:
        table["role"] = "exploratory"
    pv = table["p_value"].to_numpy(dtype=float)
    table["p_bh"] = benjamini_hochberg(np.where(ok & forward, pv, np.nan))
    table.loc[~forward, "p_bh"] = benjamini_hochberg(np.where(ok & ~forward, pv, np.nan))[~forward]
    table["p_romano_wolf"] = np.nan
    table["duplicate_of"] = mark_duplicates(table)
    if "estimate_within_std" not in table:
        table["estimate_within_std"] = np.nan
    if not ok.any():
        return {"n_specs": 0, "curves": curve_summaries(table, np.zeros((1, 0)), np.zeros((1, 0)), params)}
    d_null, t_null = curve_draws(table, scores, params)
    fw = forward[ok]
    est = table["estimate"].to_numpy(dtype=float)[ok]
    se = table["std_error"].to_numpy(dtype=float)[ok]
    table.loc[ok & forward, "p_romano_wolf"] = romano_wolf((est / se)[fw], t_null[:, fw])
    if (~fw).any():
        table.loc[ok & ~forward, "p_romano_wolf"] = romano_wolf((est / se)[~fw], t_null[:, ~fw])
    o = table["orientation"].to_numpy(dtype=float)[ok] if "orientation" in table else np.ones(len(est))
    joint = joint_test((est * o)[fw], table["p_value"].to_numpy(dtype=float)[ok][fw],
                       table["df"].to_numpy(dtype=float)[ok][fw], (d_null * o)[:, fw], (t_null * o)[:, fw], params.alpha)
    joint["curves"] = curve_summaries(table, d_null, t_null, params)
    return joint


def orientation(table: pd.DataFrame, higher_is_better: dict[str, bool | None] | None) -> np.ndarray:
    """+1 where a higher staff value and a higher patient value are both better (or both worse), else -1.

    Multiplying an estimate by it gives the *oriented* estimate: positive means better staff
    wellbeing goes with better patient experience, whatever the direction each measure is coded in.
    Measures without a known direction count as higher-is-better.
    """
    hib = higher_is_better or {}
    good = lambda m: hib.get(m) is not False  # noqa: E731
    staff = table["exposure"].map(good).to_numpy(dtype=bool)
    patient = table["dependent"].map(good).to_numpy(dtype=bool)
    return np.where(staff == patient, 1.0, -1.0)


def run_multiverse(panel: pd.DataFrame, params: MultiverseParams, merged: set[str] | None = None,
                   higher_is_better: dict[str, bool | None] | None = None) -> MultiverseRun:
    """Enumerate and fit the curve, adjust across it and bootstrap its headline specifications.

    Runs in-process, or on the dask.distributed cluster at ``params.scheduler`` if one is given.

    Parameters
    ----------
    panel : pandas.DataFrame
        Wide linked panel.
    params : MultiverseParams
        Choices and conventions.
    merged : set of str, optional
        Trust codes formed by a merger (``None``: no_merged specifications are unsupported).
    higher_is_better : dict, optional
        Measure -> whether a higher value is better (the measure catalogue's ``higher_is_better``),
        for the ``orientation`` and ``estimate_oriented`` columns and the direction of the joint test.

    Returns
    -------
    MultiverseRun
    """
    specs = enumerate_all(panel, params, merged)
    if params.scheduler:
        from ._distributed import fit_distributed

        table, scores = fit_distributed(panel, specs, params, merged)
    else:
        table, scores = fit_specs(panel, specs, params, merged)
    table["orientation"] = orientation(table, higher_is_better)
    table["estimate_oriented"] = table["estimate"] * table["orientation"]
    table["estimate_std"] = table["estimate_oriented"] * table["sd_exposure"] / table["sd_dependent"]
    table["estimate_within_std"] = (table["estimate_oriented"] * table["sd_exposure_within"]
                                    / table["sd_dependent_within"])
    table["interaction_within_std"] = (table["interaction_estimate"] * table["orientation"] * table["moderator_sd"]
                                       * table["sd_exposure_within"] / table["sd_dependent_within"])
    joint = curve_inference(table, scores, params)
    curves = joint.pop("curves")
    rows = headline_rows(table, params)
    table["headline"] = False
    table.loc[table.index[rows], "headline"] = True
    if params.scheduler:
        from ._distributed import bootstrap_distributed

        boot = bootstrap_distributed(table, scores, params, rows)
    else:
        boot = headline_bootstrap(table, scores, params, rows)
    notes = [
        f"{int((table['status'] == 'ok').sum()):,} of {len(table):,} specifications fitted; "
        f"{int((table['status'] != 'ok').sum()):,} listed as unsupported with the reason",
        "Romano-Wolf and the joint tests use a restricted wild cluster bootstrap by trust (null of no effect, "
        f"{params.bootstrap_draws} draws shared by every specification), each draw a full refit with its clustered "
        "SE re-estimated (random-effects weights held at their sample values)",
    ]
    forward = (table["direction"] == "forward").to_numpy()
    return MultiverseRun(table=table[forward].reset_index(drop=True), bootstrap=boot, joint=joint, scores=scores,
                         notes=notes, curves=curves, reverse=table[~forward].reset_index(drop=True))
