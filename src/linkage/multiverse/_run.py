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
from ._engine import Scores, fit_specs
from ._headline import BOOT_COLUMNS, headline_bootstrap, headline_rows
from ._inference import benjamini_hochberg, joint_test, null_t_draws, romano_wolf
from ._specs import enumerate_specs


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
    """

    table: pd.DataFrame
    bootstrap: pd.DataFrame
    joint: dict[str, Any]
    scores: Scores
    notes: list[str] = field(default_factory=list)


def curve_inference(table: pd.DataFrame, scores: Scores, params: MultiverseParams) -> dict[str, Any]:
    """Add ``p_bh`` and ``p_romano_wolf`` to ``table`` (in place) and return the joint test."""
    ok = (table["status"] == "ok").to_numpy()
    table["p_bh"] = benjamini_hochberg(np.where(ok, table["p_value"].to_numpy(dtype=float), np.nan))
    table["p_romano_wolf"] = np.nan
    if not ok.any():
        return {"n_specs": 0}
    est = table["estimate"].to_numpy(dtype=float)[ok]
    se = table["std_error"].to_numpy(dtype=float)[ok]
    v = draw_weights(params.bootstrap_weights[0] if params.bootstrap_weights else "rademacher",
                     params.bootstrap_draws, scores.a.shape[1], params.seed)
    d_null, t_null = null_t_draws(v, scores.a[ok].T, scores.sxx[ok], se)
    table.loc[ok, "p_romano_wolf"] = romano_wolf(est / se, t_null)
    o = table["orientation"].to_numpy(dtype=float)[ok] if "orientation" in table else np.ones(len(est))
    return joint_test(est * o, table["p_value"].to_numpy(dtype=float)[ok], table["df"].to_numpy(dtype=float)[ok],
                      d_null * o, t_null * o, params.alpha)


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
    specs = enumerate_specs(panel, params, merged)
    if params.scheduler:
        from ._distributed import fit_distributed

        table, scores = fit_distributed(panel, specs, params, merged)
    else:
        table, scores = fit_specs(panel, specs, params, merged)
    table["orientation"] = orientation(table, higher_is_better)
    table["estimate_oriented"] = table["estimate"] * table["orientation"]
    table["estimate_std"] = table["estimate_oriented"] * table["sd_exposure"] / table["sd_dependent"]
    joint = curve_inference(table, scores, params)
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
        "Romano-Wolf and the joint test use a wild cluster score bootstrap by trust over all fitted "
        f"specifications ({params.bootstrap_draws} draws; transformation and random-effects weights held fixed)",
    ]
    return MultiverseRun(table=table, bootstrap=boot, joint=joint, scores=scores, notes=notes)
