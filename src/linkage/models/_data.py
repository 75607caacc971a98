"""Model frames: checks on the linked panel, calendar-year lags and leads, missing values."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import LinkageDataError

ID_COLUMNS = ("org_code", "year")


def measure_columns(panel: pd.DataFrame) -> list[str]:
    """Value columns of canonical measures (dotted names, not the ``__n`` base columns).

    Parameters
    ----------
    panel : pandas.DataFrame
        Wide linked panel.

    Returns
    -------
    list of str
        Column names such as ``staff.stress``, in panel order.
    """
    return [c for c in panel.columns if "." in str(c) and not str(c).endswith("__n")]


def check_panel(panel: pd.DataFrame, measures: list[str], *, weight_column: str | None = None) -> None:
    """Raise :class:`LinkageDataError` if the panel cannot support models of ``measures``.

    Parameters
    ----------
    panel : pandas.DataFrame
        Wide linked panel with ``org_code`` and ``year``.
    measures : list of str
        Measure columns the models need.
    weight_column : str, optional
        Base-n column used as weights, if any.

    Raises
    ------
    LinkageDataError
        Naming a missing identifier column, a missing measure column (listing the
        measure columns that are available), an all-missing measure, duplicate
        trust-years, or a panel with one trust or one year.
    """
    for col in ID_COLUMNS:
        if col not in panel.columns:
            raise LinkageDataError(f"panel has no {col!r} column; columns are {list(panel.columns)}")
    available = measure_columns(panel)
    for m in measures:
        if m not in panel.columns:
            raise LinkageDataError(
                f"measure {m!r} is not a column of the panel; available measure columns: "
                f"{', '.join(available) if available else '(none)'}"
            )
        values = pd.to_numeric(panel[m], errors="coerce")
        if values.notna().sum() == 0:
            raise LinkageDataError(f"measure {m!r} is missing (NaN) in every row of the panel")
    if weight_column is not None:
        if weight_column not in panel.columns:
            raise LinkageDataError(
                f"the weights need the panel column {weight_column!r}, which the panel lacks (model.weights)"
            )
        w = pd.to_numeric(panel[weight_column], errors="coerce")
        if (w < 0).any():
            raise LinkageDataError(f"weight column {weight_column!r} has negative values")
    dup = panel.duplicated(list(ID_COLUMNS))
    if dup.any():
        first = panel.loc[dup, list(ID_COLUMNS)].iloc[0].tolist()
        raise LinkageDataError(
            f"panel has {int(dup.sum())} duplicate (org_code, year) rows, e.g. {first}; expected one row per trust-year"
        )
    n_trusts = panel["org_code"].nunique()
    n_years = panel["year"].nunique()
    if n_trusts < 2:
        raise LinkageDataError(f"panel has {n_trusts} trust(s); panel models need at least two trusts")
    if n_years < 2:
        years = sorted(panel["year"].unique().tolist())
        raise LinkageDataError(
            f"panel has a single year ({years}); within-trust models need at least two years per trust"
        )


@dataclass(frozen=True)
class Spec:
    """One model specification: which measure predicts which, at what lag.

    Attributes
    ----------
    name : str
        Short label, e.g. ``forward_lag0``.
    direction : {'forward', 'reverse', 'placebo', 'lagged_dependent'}
        forward: staff at t-k -> patient at t; reverse: patient at t-k -> staff at t;
        placebo: staff at t+k -> patient at t; lagged_dependent: forward with y(t-1).
    lag : int
        k; negative for placebo leads.
    y : str
        Dependent measure (at t).
    x : str
        Regressor measure of interest (shifted by ``lag``).
    covariates : tuple of str
        Other measures at t.
    lagged_dependent : bool
        Add the dependent at t-1 as a regressor.
    """

    name: str
    direction: str
    lag: int
    y: str
    x: str
    covariates: tuple[str, ...] = ()
    lagged_dependent: bool = False

    @property
    def x_term(self) -> str:
        """Name of the regressor of interest in tables (``L1.staff.stress``, ``F1.staff.stress``)."""
        return shifted_name(self.x, self.lag)

    @property
    def label(self) -> str:
        """Readable description, e.g. ``patient.ip_overall(t) ~ staff.stress(t-1)``."""
        k = self.lag
        when = "t" if k == 0 else (f"t-{k}" if k > 0 else f"t+{-k}")
        extra = f" + {self.y}(t-1)" if self.lagged_dependent else ""
        cov = "".join(f" + {c}(t)" for c in self.covariates)
        return f"{self.y}(t) ~ {self.x}({when}){extra}{cov}"


def shifted_name(measure: str, lag: int) -> str:
    """Term name of ``measure`` at t-lag (``L1.`` prefix) or t+|lag| (``F1.`` prefix)."""
    if lag == 0:
        return measure
    return f"L{lag}.{measure}" if lag > 0 else f"F{-lag}.{measure}"


@dataclass
class ModelFrame:
    """Estimation sample of one specification.

    Attributes
    ----------
    data : pandas.DataFrame
        Indexed by (org_code, year); column ``y``, the regressor terms, and ``w`` if weighted.
    terms : list of str
        Regressor names in order: the term of interest first.
    n_candidate : int
        Trust-years in the panel before missing values were dropped.
    dropped : dict
        Rows dropped, by the first reason met (in the order of the keys).
    """

    data: pd.DataFrame
    terms: list[str]
    n_candidate: int
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def n_dropped(self) -> int:
        """Total trust-years dropped for missing values."""
        return int(sum(self.dropped.values()))

    def dropped_text(self) -> str:
        """``'patient.ip_overall missing: 3; L1.staff.stress missing: 130'`` (only non-zero)."""
        parts = [f"{k} missing: {v}" for k, v in self.dropped.items() if v]
        return "; ".join(parts) if parts else "none"


def _shift(panel: pd.DataFrame, measure: str, lag: int) -> pd.Series:
    """Value of ``measure`` at calendar year t-lag for every panel row (NaN if absent)."""
    src = panel[["org_code", "year", measure]].copy()
    src["year"] = src["year"] + lag
    src = src.set_index(["org_code", "year"])[measure]
    keys = pd.MultiIndex.from_arrays([panel["org_code"], panel["year"]])
    return pd.Series(src.reindex(keys).to_numpy(dtype=float), index=panel.index)


def build_frame(panel: pd.DataFrame, spec: Spec, weight_column: str | None = None) -> ModelFrame:
    """Assemble the estimation sample of ``spec`` from the wide panel.

    Lags and leads are by calendar year within a trust (``year - k``), so a trust
    with a gap year has no lagged value for the year after the gap.  Rows with a
    missing dependent, regressor or weight are dropped and counted.

    Parameters
    ----------
    panel : pandas.DataFrame
        Wide linked panel (checked by :func:`check_panel`).
    spec : Spec
        The specification.
    weight_column : str, optional
        Base-n column to use as weights.

    Returns
    -------
    ModelFrame
    """
    cols: dict[str, pd.Series] = {"y": pd.to_numeric(panel[spec.y], errors="coerce").astype(float)}
    terms = [spec.x_term]
    cols[spec.x_term] = _shift(panel, spec.x, spec.lag) if spec.lag else panel[spec.x].astype(float)
    if spec.lagged_dependent:
        name = shifted_name(spec.y, 1)
        cols[name] = _shift(panel, spec.y, 1)
        terms.append(name)
    for c in spec.covariates:
        cols[c] = pd.to_numeric(panel[c], errors="coerce").astype(float)
        terms.append(c)
    if weight_column is not None:
        cols["w"] = pd.to_numeric(panel[weight_column], errors="coerce").astype(float)
    df = pd.DataFrame(cols)
    df.index = pd.MultiIndex.from_arrays(
        [panel["org_code"].astype(str).to_numpy(), panel["year"].astype(int).to_numpy()],
        names=["org_code", "year"],
    )
    keep = np.ones(len(df), dtype=bool)
    dropped: dict[str, int] = {}
    labels = {"y": spec.y, "w": f"weight {weight_column}"}
    for col in df.columns:
        bad = ~np.isfinite(df[col].to_numpy()) & keep
        if col == "w":
            bad |= (df[col].to_numpy() <= 0) & keep
        dropped[labels.get(col, col)] = int(bad.sum())
        keep &= ~bad
    data = df.loc[keep].sort_index()
    return ModelFrame(data=data, terms=terms, n_candidate=len(df), dropped=dropped)
