"""Enumerate the specifications of the curve, with a reason for each one the panel cannot support."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from ..errors import LinkageDataError
from ..params.multiverse import MultiverseParams
from ..vocab import MODERATOR_COLUMN, family_entry

SPEC_COLUMNS = [
    "spec_id", "dependent", "exposure", "family", "lag", "sample", "sample_kind", "weights", "cov_type",
    "moderator", "direction", "role", "status", "reason",
]
"""Choice columns of the specification table (results are added beside them)."""

DATA_KEY = ["dependent", "exposure", "lag", "sample", "weights", "moderator"]
"""Choices that fix the estimation sample (and its columns); specifications sharing them share its rows."""


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


def _prior_reason(row: tuple, panel: pd.DataFrame, merged: set[str] | None, present: dict[str, int]) -> str:
    """Why a specification cannot be fitted, judged from the panel's columns alone ('' if it can be tried).

    ``present`` counts the non-missing values of each panel column (computed once per curve).
    """
    dependent, exposure, _family, _lag, _sample, kind, weights = row
    cols = present
    for m, role in ((dependent, "dependent"), (exposure, "exposure")):
        if m not in cols:
            return f"{role} {m!r} is not a column of the panel"
        if present[m] == 0:
            return f"{role} {m!r} is missing in every row of the panel"
    if weights == "respondents" and f"{dependent}__n" not in cols:
        return f"weights 'respondents' need the base column '{dependent}__n', which the panel lacks"
    if kind == "no_merged" and merged is None:
        return "no merger information (give multiverse.panel_long, the long panel with its merged_from column)"
    if kind == "no_specialist" and "trust_type" not in cols:
        return "the panel has no trust_type column"
    if kind in ("most_deprived_half", "least_deprived_half") and present.get("context.imd2019_score", 0) == 0:
        return "the panel has no catchment deprivation (context.imd2019_score; give data.context_dir)"
    return ""


def _moderator_reason(family: str, moderator: str, panel: pd.DataFrame) -> str:
    """Why a moderated specification cannot be fitted ('' if it can be tried, or if it is not moderated)."""
    if moderator == "none":
        return ""
    col = MODERATOR_COLUMN[moderator]
    if col not in panel.columns or panel[col].notna().sum() == 0:
        return (f"moderator {moderator!r} needs the catchment deprivation column {col!r}, which the panel lacks "
                "(give data.context_dir)")
    if "curve_moderator" not in family_entry(family).supports:
        return (f"family {family!r} cannot take the moderator {moderator!r}: its transformation depends on the "
                "exposure, so an exposure x moderator column cannot be transformed with it")
    return ""


def enumerate_specs(panel: pd.DataFrame, params: MultiverseParams, merged: set[str] | None = None,
                    direction: str = "forward") -> pd.DataFrame:
    """Every combination of the choices in ``params``, one row each.

    Parameters
    ----------
    panel : pandas.DataFrame
        Wide linked panel (``org_code``, ``year``, measure columns, ``<m>__n`` bases, ``trust_type``).
    params : MultiverseParams
        The choices.
    merged : set of str, optional
        Trust codes formed by a merger (``None``: unknown, so ``no_merged`` is unsupported).
    direction : {'forward', 'reverse'}
        ``forward``: patient measures regressed on staff measures at t - k (the curve);
        ``reverse``: staff measures regressed on patient measures at t - k, for the inferential
        families and positive inferential lags only (falsification checks; see
        :func:`enumerate_all`).

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
        params.weights, params.cov_types, params.moderators,
    )
    if direction == "reverse":
        grid = itertools.product(
            params.staff_measures, params.patient_measures, [f for f in params.families if f in params.inferential_families],
            [k for k in params.lags if k > 0 and k in params.inferential_lags], samples, params.weights, params.cov_types,
            [m for m in params.moderators if m in params.inferential_moderators],
        )
    rows = [(d, x, f, k, s, kind, w, c, m, direction) for d, x, f, k, (s, kind), w, c, m in grid]
    specs = pd.DataFrame(rows, columns=["dependent", "exposure", "family", "lag", "sample", "sample_kind", "weights",
                                        "cov_type", "moderator", "direction"])
    specs["role"] = spec_roles(specs, params)
    specs.insert(0, "spec_id", np.arange(len(specs)))
    cols = ["dependent", "exposure", "family", "lag", "sample", "sample_kind", "weights"]
    keys = specs[cols].drop_duplicates(["dependent", "exposure", "sample_kind", "weights"])
    present = {str(c): int(n) for c, n in panel.notna().sum().items()}
    keys["reason"] = [_prior_reason(tuple(k), panel, merged, present) for k in keys.itertuples(index=False)]
    specs = specs.merge(keys[["dependent", "exposure", "sample_kind", "weights", "reason"]], how="left",
                        on=["dependent", "exposure", "sample_kind", "weights"], sort=False)
    mods = specs[["family", "moderator"]].drop_duplicates()
    why = {(f, m): _moderator_reason(f, m, panel) for f, m in mods.itertuples(index=False)}
    extra = np.array([why[fm] for fm in zip(specs["family"], specs["moderator"], strict=True)], dtype=object)
    specs["reason"] = np.where(specs["reason"] == "", extra, specs["reason"])
    specs["status"] = np.where(specs["reason"] == "", "pending", "unsupported")
    return specs[SPEC_COLUMNS]


def enumerate_all(panel: pd.DataFrame, params: MultiverseParams, merged: set[str] | None = None) -> pd.DataFrame:
    """The forward curve and, if ``falsification_reverse``, its reverse models after it (spec_id continues)."""
    specs = enumerate_specs(panel, params, merged)
    if not params.falsification_reverse:
        return specs
    back = enumerate_specs(panel, params, merged, direction="reverse")
    back["spec_id"] += len(specs)
    return pd.concat([specs, back], ignore_index=True)


def spec_roles(specs: pd.DataFrame, params: MultiverseParams) -> np.ndarray:
    """Role of each specification in the inference: inferential, placebo, reverse or exploratory.

    ``inferential``: forward, an inferential family at an inferential lag (the pre-specified
    evidence); ``placebo``: forward, an inferential family at a negative lag (staff measured
    after patients); ``reverse``: patient measure earlier predicting the staff measure later;
    ``exploratory``: everything else (designs that mix between-trust differences in, lags
    not pre-specified, moderator choices not in ``inferential_moderators``), shown in the curve
    but never counted as evidence.
    """
    within = specs["family"].isin(list(params.inferential_families)).to_numpy()
    if "moderator" in specs:
        within = within & specs["moderator"].isin(list(params.inferential_moderators)).to_numpy()
    lag = specs["lag"].to_numpy()
    forward = (specs["direction"] == "forward").to_numpy()
    role = np.full(len(specs), "exploratory", dtype=object)
    role[forward & within & np.isin(lag, list(params.inferential_lags))] = "inferential"
    role[forward & within & (lag < 0)] = "placebo"
    role[~forward] = "reverse"
    return role


def merged_trusts(panel_long: pd.DataFrame) -> set[str]:
    """Trust codes whose values combine several predecessor organisations (``merged_from`` not empty)."""
    if "merged_from" not in panel_long.columns or "org_code" not in panel_long.columns:
        raise LinkageDataError(
            f"long panel lacks org_code/merged_from (columns: {list(panel_long.columns)}); "
            "expected data/processed/panel_long.parquet from the link stage"
        )
    flag = panel_long["merged_from"].fillna("").astype(str).str.len() > 0
    return set(panel_long.loc[flag, "org_code"].astype(str))
