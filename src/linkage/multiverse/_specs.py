"""Enumerate the specifications of the curve, with a reason for each one the panel cannot support."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from ..errors import LinkageDataError
from ..params.multiverse import MultiverseParams

SPEC_COLUMNS = [
    "spec_id", "dependent", "exposure", "family", "lag", "sample", "sample_kind", "weights", "cov_type",
    "status", "reason",
]
"""Choice columns of the specification table (results are added beside them)."""

DATA_KEY = ["dependent", "exposure", "lag", "sample", "weights"]
"""Choices that fix the estimation sample; specifications sharing them share its rows."""


def panel_years(panel: pd.DataFrame, measures: list[str]) -> list[int]:
    """Years in which any of ``measures`` (present in the panel) has a value."""
    cols = [m for m in measures if m in panel.columns]
    if not cols:
        return []
    has = panel[cols].notna().any(axis=1)
    return sorted(int(y) for y in panel.loc[has, "year"].unique())


def expand_samples(params: MultiverseParams, years: list[int]) -> list[tuple[str, str]]:
    """(sample label, sample kind) pairs; ``leave_one_year_out`` becomes ``leave_out_YYYY`` per year."""
    out: list[tuple[str, str]] = []
    for kind in params.samples:
        if kind == "leave_one_year_out":
            out.extend((f"leave_out_{y}", kind) for y in years)
        else:
            out.append((kind, kind))
    return out


def _prior_reason(row: tuple, panel: pd.DataFrame, merged: set[str] | None) -> str:
    """Why a specification cannot be fitted, judged from the panel's columns alone ('' if it can be tried)."""
    dependent, exposure, _family, _lag, _sample, kind, weights = row
    cols = set(panel.columns)
    for m, role in ((dependent, "dependent"), (exposure, "exposure")):
        if m not in cols:
            return f"{role} {m!r} is not a column of the panel"
        if panel[m].notna().sum() == 0:
            return f"{role} {m!r} is missing in every row of the panel"
    if weights == "respondents" and f"{dependent}__n" not in cols:
        return f"weights 'respondents' need the base column '{dependent}__n', which the panel lacks"
    if kind == "no_merged" and merged is None:
        return "no merger information (give multiverse.panel_long, the long panel with its merged_from column)"
    if kind == "no_specialist" and "trust_type" not in cols:
        return "the panel has no trust_type column"
    if kind in ("most_deprived_half", "least_deprived_half") and (
            "context.imd2019_score" not in cols or panel["context.imd2019_score"].notna().sum() == 0):
        return "the panel has no catchment deprivation (context.imd2019_score; give data.context_dir)"
    return ""


def enumerate_specs(panel: pd.DataFrame, params: MultiverseParams, merged: set[str] | None = None) -> pd.DataFrame:
    """Every combination of the choices in ``params``, one row each.

    Parameters
    ----------
    panel : pandas.DataFrame
        Wide linked panel (``org_code``, ``year``, measure columns, ``<m>__n`` bases, ``trust_type``).
    params : MultiverseParams
        The choices.
    merged : set of str, optional
        Trust codes formed by a merger (``None``: unknown, so ``no_merged`` is unsupported).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SPEC_COLUMNS`; ``status`` is ``'pending'`` or ``'unsupported'``
        (with ``reason``); the engine settles the pending ones.

    Raises
    ------
    LinkageDataError
        If the panel lacks ``org_code`` or ``year``.
    """
    for col in ("org_code", "year"):
        if col not in panel.columns:
            raise LinkageDataError(f"panel has no {col!r} column (columns: {list(panel.columns)}); expected the linked panel.parquet")
    years = panel_years(panel, list(params.patient_measures))
    samples = expand_samples(params, years)
    grid = itertools.product(
        params.patient_measures, params.staff_measures, params.families, params.lags, samples,
        params.weights, params.cov_types,
    )
    rows = [(d, x, f, k, s, kind, w, c) for d, x, f, k, (s, kind), w, c in grid]
    specs = pd.DataFrame(rows, columns=["dependent", "exposure", "family", "lag", "sample", "sample_kind", "weights", "cov_type"])
    specs.insert(0, "spec_id", np.arange(len(specs)))
    cols = ["dependent", "exposure", "family", "lag", "sample", "sample_kind", "weights"]
    keys = specs[cols].drop_duplicates(["dependent", "exposure", "sample_kind", "weights"])
    keys["reason"] = [_prior_reason(tuple(k), panel, merged) for k in keys.itertuples(index=False)]
    specs = specs.merge(keys[["dependent", "exposure", "sample_kind", "weights", "reason"]], how="left",
                        on=["dependent", "exposure", "sample_kind", "weights"], sort=False)
    specs["status"] = np.where(specs["reason"] == "", "pending", "unsupported")
    return specs[SPEC_COLUMNS]


def merged_trusts(panel_long: pd.DataFrame) -> set[str]:
    """Trust codes whose values combine several predecessor organisations (``merged_from`` not empty)."""
    if "merged_from" not in panel_long.columns or "org_code" not in panel_long.columns:
        raise LinkageDataError(
            f"long panel lacks org_code/merged_from (columns: {list(panel_long.columns)}); "
            "expected data/processed/panel_long.parquet from the link stage"
        )
    flag = panel_long["merged_from"].fillna("").astype(str).str.len() > 0
    return set(panel_long.loc[flag, "org_code"].astype(str))
