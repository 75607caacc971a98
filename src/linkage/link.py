"""Stage ``link``: trust identity, time alignment and the linkage audit.

:func:`run_link` takes the harmonised tidy staff and patient tables, the
organisations table of the readers and a :class:`~linkage.registry.Registry`,
and returns a :class:`LinkResult`:

``panel``
    wide, one row per (trust, panel year) of trusts in the sample: ``org_code,
    year, org_name, trust_type`` then ``<measure>`` and ``<measure>__n`` per
    canonical measure.
``panel_long``
    the same values long, with provenance (``source_file, source_code,
    merged_from``, the source year and the weighting used).
``audit``
    one row per *input* row (tidy rows and roll-up rows): ``source_file,
    source_code, org_code, year, measure, fate, reason, mapped_to`` (+
    ``source, source_sheet, panel_year, detail, counterpart``).
``balance``
    trusts x panel years: which sources each trust-year has, and gaps.
``metrics``
    counts for ``metrics/linkage.json``.

Every input row gets exactly one fate, and ``rows in = matched + merged +
excluded`` is checked before returning (:func:`check_reconciliation`).  The
rules are documented in ``docs/linkage.md``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .catalogue import CatalogueError, load_catalogue
from .combine import combine
from .errors import LinkageDataError, LinkageError
from .params import LinkParams
from .registry import Registry, Resolution
from .vocab import FATES

AUDIT_COLUMNS: list[str] = [
    "source_file",
    "source_code",
    "org_code",
    "year",
    "measure",
    "fate",
    "reason",
    "mapped_to",
    "source",
    "source_sheet",
    "panel_year",
    "detail",
    "counterpart",
]
PANEL_LONG_COLUMNS: list[str] = [
    "org_code",
    "year",
    "measure",
    "value",
    "base_n",
    "source",
    "source_year",
    "source_file",
    "source_code",
    "merged_from",
    "n_inputs",
    "weighting",
    "before_series_start",
]
ID_COLUMNS: list[str] = ["org_code", "year", "org_name", "trust_type"]


@dataclass
class LinkResult:
    """Outputs of :func:`run_link` (see the module docstring)."""

    panel: pd.DataFrame
    panel_long: pd.DataFrame
    audit: pd.DataFrame
    balance: pd.DataFrame
    metrics: dict[str, Any] = field(default_factory=dict)


def build_registry_for(ods_dir: str | Path, params: LinkParams) -> Registry:
    """Build the registry with the reference date and overrides from ``params``."""
    from .registry import build_registry

    return build_registry(
        ods_dir,
        reference_date=params.reference_date,
        overrides=params.overrides,
        type_overrides=params.type_overrides,
    )


# ---------------------------------------------------------------------- helpers
def make_series_start(params: LinkParams, catalogue: Any = None) -> Callable[[str], int | None]:
    """First comparable year per measure: exact params > catalogue > params patterns.

    Parameters
    ----------
    params
        Link parameters (``series_start``).
    catalogue
        A :class:`linkage.catalogue.Catalogue` (``comparable_from(name)``), or
        ``None`` to load the packaged one (a catalogue that cannot be loaded
        raises :class:`~linkage.catalogue.CatalogueError`).  A measure the
        catalogue does not know falls through to the ``params`` patterns.
    """
    cat = catalogue if catalogue is not None else load_catalogue()
    exact = {k: v for k, v in params.series_start.items() if not k.endswith("*")}
    patterns = sorted(
        ((k[:-1], v) for k, v in params.series_start.items() if k.endswith("*")),
        key=lambda kv: -len(kv[0]),
    )

    def start(measure: str) -> int | None:
        if measure in exact:
            return exact[measure]
        try:
            return cat.comparable_from(measure)
        except CatalogueError:  # measure unknown to the catalogue
            pass
        for prefix, year in patterns:
            if measure.startswith(prefix):
                return year
        return None

    return start


def _series_start_lookup(
    series_start: Callable[[str], int | None] | Mapping[str, int] | None,
    params: LinkParams,
    catalogue: Any,
) -> Callable[[str], int | None]:
    """The ``series_start`` argument of :func:`run_link` as a function of the measure."""
    if series_start is None:
        return make_series_start(params, catalogue)
    if callable(series_start):
        return series_start
    return dict(series_start).get


def _combine_rule(measure: str, catalogue: Any) -> str:
    """The catalogue's roll-up rule of ``measure``; for a measure it does not know,
    ``sum`` for ``*respondents`` and ``weighted_mean`` otherwise."""
    try:
        return catalogue.measure(measure).rollup
    except CatalogueError:  # measure unknown to the catalogue
        return "sum" if measure.endswith("respondents") else "weighted_mean"


def _survey_date(year: int, source: str, params: LinkParams) -> date:
    md = params.survey_dates.get(source, "01-01")  # type: ignore[call-overload]
    return date(int(year), int(md[:2]), int(md[3:]))


def _prepare(df: pd.DataFrame | None, source: str) -> pd.DataFrame:
    """One source's tidy table in the columns the linkage uses, codes upper case."""
    cols = ["org_code", "year", "measure", "value", "base_n", "source_file", "source_code"]
    if df is None or len(df) == 0:
        out = pd.DataFrame({c: pd.Series(dtype=object) for c in cols + ["source_sheet"]})
    else:
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise LinkageDataError(
                f"{source} table lacks contract columns {missing}; has {list(df.columns)}"
            )
        out = df.copy()
        if "source_sheet" not in out.columns:
            out["source_sheet"] = None
        out = out[cols + ["source_sheet"] + (["into"] if "into" in out.columns else [])]
        n_na = int(pd.to_numeric(out["value"], errors="coerce").isna().sum())
        if n_na:
            raise LinkageDataError(
                f"{source} table has {n_na} rows with a missing value; suppressed cells belong in "
                f"the reader's quarantine, not the tidy table"
            )
    out = out.astype(
        {
            "org_code": object,
            "measure": object,
            "source_file": object,
            "source_code": object,
            "source_sheet": object,
        }
    )
    out["org_code"] = out["org_code"].map(lambda c: str(c).strip().upper())
    out["year"] = (
        pd.to_numeric(out["year"]).astype("int64") if len(out) else pd.Series(dtype="int64")
    )
    out["value"] = pd.to_numeric(out["value"]).astype(float)
    out["base_n"] = pd.to_numeric(out["base_n"]).astype(float)
    out["source"] = source
    return out.reset_index(drop=True)


class _SurveyOrgs(NamedTuple):
    """What the readers' organisations table says about each code."""

    kind_by_year: dict[tuple[str, int], str]
    kind_by_code: dict[str, str]
    names: dict[str, str]


def _org_kinds(orgs: pd.DataFrame | None) -> _SurveyOrgs:
    """Organisation kind per (code, year) and per code, and the survey name per code."""
    by_year: dict[tuple[str, int], str] = {}
    by_code: dict[str, str] = {}
    names: dict[str, str] = {}
    if orgs is None or len(orgs) == 0:
        return _SurveyOrgs(by_year, by_code, names)
    o = orgs.copy()
    o["org_code"] = o["org_code"].astype(object).map(lambda c: str(c).strip().upper())
    o = o.sort_values("year")
    for r in o.itertuples(index=False):
        kind = None if pd.isna(r.org_kind) else str(r.org_kind)
        if kind is None:
            continue
        by_year[(r.org_code, int(r.year))] = kind
        # any year saying non-trust marks the code non-trust unless a year says trust
        if by_code.get(r.org_code) != "trust":
            by_code[r.org_code] = kind
        if "org_name" in o.columns and isinstance(r.org_name, str) and r.org_name.strip():
            names[r.org_code] = r.org_name.strip()
    return _SurveyOrgs(by_year, by_code, names)


# ---------------------------------------------------------------------- row fates
@dataclass
class RowFates:
    """The fate of every input row, as four aligned arrays (one entry per row).

    ``fate`` is ``""`` while a row is open, then ``excluded``, ``matched`` or
    ``merged``; ``reason``, ``mapped_to`` and ``detail`` are the audit columns
    of the same names.  :meth:`exclude` only changes open rows, so the first
    step that excludes a row gives it its reason.
    """

    fate: np.ndarray
    reason: np.ndarray
    mapped_to: np.ndarray
    detail: np.ndarray

    @classmethod
    def open_rows(cls, n: int) -> RowFates:
        """``n`` rows, all open (empty strings everywhere)."""

        def blank() -> np.ndarray:
            return np.array([""] * n, dtype=object)

        return cls(fate=blank(), reason=blank(), mapped_to=blank(), detail=blank())

    @property
    def is_open(self) -> np.ndarray:
        """Rows no step has given a fate yet."""
        return self.fate == ""

    def exclude(
        self, mask: np.ndarray, reason: str | np.ndarray, detail: str | np.ndarray = ""
    ) -> None:
        """Exclude the open rows in ``mask`` with ``reason`` (and ``detail``).

        ``reason`` and ``detail`` are one string for all rows or an array with
        one entry per row; an empty ``detail`` string leaves the detail as is.
        """
        sel = mask & self.is_open
        self.fate[sel] = "excluded"
        self.reason[sel] = reason if isinstance(reason, str) else reason[sel]
        if isinstance(detail, str):
            if detail:
                self.detail[sel] = detail
        else:
            self.detail[sel] = detail[sel]


@dataclass(frozen=True)
class _Rows:
    """The tidy rows of both sources (``table``) and their key columns as arrays."""

    table: pd.DataFrame
    code: np.ndarray
    year: np.ndarray
    source: np.ndarray
    measure: np.ndarray

    @classmethod
    def of(cls, staff: pd.DataFrame | None, patient: pd.DataFrame | None) -> _Rows:
        t = pd.concat([_prepare(staff, "staff"), _prepare(patient, "patient")], ignore_index=True)
        return cls(
            table=t,
            code=t["org_code"].to_numpy(),
            year=t["year"].to_numpy(),
            source=t["source"].to_numpy(),
            measure=t["measure"].to_numpy(),
        )

    def __len__(self) -> int:
        return len(self.table)


def _per_row(values: Any) -> np.ndarray:
    return np.array(list(values), dtype=object)


# ---------------------------------------------------------------------- linking steps
def exclude_duplicates(rows: _Rows, fates: RowFates, params: LinkParams) -> None:
    """Step 1: rows repeating an earlier row's (source, code, year, measure) from another file.

    With ``duplicate_rule: fail`` any repeat raises :class:`LinkageDataError`
    naming an example; with ``first`` the later rows are excluded as
    ``duplicate`` (detail: the file that gave the kept row).
    """
    key = ["source", "org_code", "year", "measure"]
    t = rows.table
    dup_later = t.duplicated(key, keep="first").to_numpy()
    if not dup_later.any():
        return
    if params.duplicate_rule == "fail":
        d = t[t.duplicated(key, keep=False)]
        ex = d.iloc[0]
        files = sorted(
            d[
                (d["org_code"] == ex["org_code"])
                & (d["year"] == ex["year"])
                & (d["measure"] == ex["measure"])
            ]["source_file"].unique()
        )
        raise LinkageDataError(
            f"{int(dup_later.sum())} rows repeat an (organisation, year, measure) already given by another "
            f"file of the same source, e.g. {ex['org_code']} {ex['year']} {ex['measure']} in {files}: "
            f"remove one file from the input or set link.duplicate_rule to first"
        )
    first_file = t.groupby(key)["source_file"].transform("first").to_numpy()
    fates.exclude(dup_later, "duplicate", _per_row(f"also in {f}" for f in first_file))


def exclude_non_trust_kinds(rows: _Rows, fates: RowFates, survey: _SurveyOrgs) -> None:
    """Step 2: rows of codes the readers typed as something other than a trust: ``not_a_trust``.

    The kind of the row's year is used, else the code's kind in any year.
    """
    kinds = _per_row(
        survey.kind_by_year.get((c, int(y)), survey.kind_by_code.get(c))
        for c, y in zip(rows.code, rows.year, strict=True)
    )
    non_trust = np.array([k is not None and k != "trust" for k in kinds])
    fates.exclude(non_trust, "not_a_trust", _per_row(f"org_kind {k}" for k in kinds))


def exclude_unknown_codes(rows: _Rows, fates: RowFates, res: Mapping[str, Resolution]) -> None:
    """Step 3: rows of codes the registry does not know: ``unknown_code``."""
    status = _per_row(res[c].status for c in rows.code)
    fates.exclude(
        status == "unknown",
        "unknown_code",
        "not in etr.csv, the successions (as predecessor or successor), the trust types or the overrides",
    )


def choose_split_successors(
    rows: _Rows,
    fates: RowFates,
    res: Mapping[str, Resolution],
    registry: Registry,
    params: LinkParams,
) -> dict[str, tuple[str | None, str]]:
    """Step 4a: the successor chosen for each split code of the open rows.

    ``link.split_assign`` comes first (reason ``split_assigned``; a successor
    that is not one of the split's raises).  For the other split codes,
    ``split_rule: fail`` raises naming every split, ``largest_successor``
    picks the candidate with the largest median base over all input rows
    (reason ``split_largest_successor``) and ``drop`` chooses none.

    Returns
    -------
    dict
        split code -> (successor, reason).
    """
    open_split = fates.is_open & (_per_row(res[c].status for c in rows.code) == "split")
    split_choice: dict[str, tuple[str | None, str]] = {}
    unresolved = []
    for c in sorted(set(pd.unique(rows.code[open_split]))):
        r = res[c]
        chosen = params.split_assign.get(c) or params.split_assign.get(r.split_code or "")
        if not chosen:
            unresolved.append(c)
            continue
        final = registry.resolve(chosen)
        tgt = final.target if final.status in ("self", "succession") else None
        allowed = set(r.candidates) | {n for n, _ in registry.successors(r.split_code or "")}
        if tgt is None or (chosen not in allowed and tgt not in allowed):
            raise LinkageDataError(
                f"link.split_assign maps {c} to {chosen}, which is not one of its successors "
                f"[{', '.join(r.candidates)}]: fix link.split_assign"
            )
        split_choice[c] = (tgt, "split_assigned")
    if unresolved and params.split_rule == "fail":
        parts = []
        for c in unresolved:
            r = res[c]
            n = int(((rows.code == c) & fates.is_open).sum())
            parts.append(
                f"{r.split_code} into [{', '.join(r.candidates)}] on {r.split_date} ({n} rows of {c})"
            )
        raise LinkageDataError(
            f"{len(unresolved)} code(s) split into several successors: split of "
            + "; ".join(parts)
            + ": set link.split_rule to largest_successor or drop, or assign a successor in "
            "link.split_assign"
        )
    if unresolved and params.split_rule == "largest_successor":
        med = rows.table.groupby("org_code")["base_n"].median()
        for c in unresolved:
            cands = list(res[c].candidates)
            sizes = {
                k: (float(med.get(k)) if k in med.index and not pd.isna(med.get(k)) else -1.0)
                for k in cands
            }
            best = sorted(cands, key=lambda k: (-sizes[k], k))[0]
            split_choice[c] = (best, "split_largest_successor")
    return split_choice


def exclude_dropped_splits(
    rows: _Rows,
    fates: RowFates,
    res: Mapping[str, Resolution],
    split_choice: Mapping[str, tuple[str | None, str]],
) -> None:
    """Step 4b: rows of split codes with no chosen successor: ``split_dropped``."""
    dropped = np.array([res[c].status == "split" and c not in split_choice for c in rows.code])
    fates.exclude(dropped, "split_dropped", _per_row(res[c].detail for c in rows.code))


def successor_targets(
    rows: _Rows,
    res: Mapping[str, Resolution],
    split_choice: Mapping[str, tuple[str | None, str]],
) -> np.ndarray:
    """The code each row maps to: the chosen split successor, else the registry's
    target as of the reference date (``""`` for unknown codes and dropped splits)."""
    return _per_row(
        split_choice[c][0] if c in split_choice else (res[c].target or "") for c in rows.code
    )


def exclude_closed(
    rows: _Rows,
    fates: RowFates,
    target: np.ndarray,
    survey_date: np.ndarray,
    registry: Registry,
    params: LinkParams,
) -> None:
    """Step 5: rows whose target trust had closed: ``closed``.

    A row is closed when its survey date is after the target's close date,
    or, with ``closed_rule: exclude``, when the target closed on or before
    the reference date.  With ``successors: as_published`` the file's own
    labels rule: a study that publishes a value under a code for a year is
    kept even when the registry dates that code's succession earlier (the
    succession dates of the ODS history are not closures of the published
    series, and a study's year may be a financial year).
    """
    closed = np.zeros(len(rows), dtype=bool)
    if params.successors == "as_published" and params.closed_rule == "keep":
        return
    detail = np.array([""] * len(rows), dtype=object)
    for i in np.flatnonzero(fates.is_open):
        cd = registry.close_date(target[i])
        if cd is None:
            continue
        if survey_date[i] > cd:
            closed[i] = True
            detail[i] = f"{target[i]} closed {cd}; survey dated {survey_date[i]}"
        elif params.closed_rule == "exclude" and cd <= registry.reference_date:
            closed[i] = True
            detail[i] = f"{target[i]} closed {cd} (closed_rule exclude)"
    fates.exclude(closed, "closed", detail)


def exclude_by_trust_type(
    fates: RowFates, target: np.ndarray, registry: Registry, params: LinkParams
) -> None:
    """Step 6: rows by the registry type of the target (the successor, not the input code).

    A target that is not a trust gives ``not_a_trust``; a known organisation without a type
    (e.g. one listed only in the successions) gives ``type_unknown``, its detail naming the code
    and the fix; a type outside ``link.trust_types`` gives ``type_not_in_sample:<type>``.  With
    ``link.restrict_trust_types: false`` (a study's own sample) nothing is excluded here.
    """
    if not params.restrict_trust_types:
        return
    # one registry lookup and one message per distinct target code, then one dict look-up per row
    codes = set(target)
    kind = {t: registry.trust_type(t) if t else "non_trust" for t in codes}
    ttype = _per_row(kind[t] for t in target)
    not_trust = {t: f"{t} is not a trust in the registry" for t in codes}
    fates.exclude(ttype == "non_trust", "not_a_trust", _per_row(not_trust[t] for t in target))
    untyped = (ttype == "unknown") & ("unknown" not in params.trust_types)
    no_type = {t: f"{t} is a known organisation ({registry.listed_in(t)}) without a trust type: add a row "
                  f"'{t},<type>,<note>,<source>' to your type overrides file (link.type_overrides; it adds to the "
                  "packaged one), or set link.restrict_trust_types: false to keep every organisation the files give"
               for t in codes}
    fates.exclude(untyped, "type_unknown", _per_row(no_type[t] for t in target))
    out_of_sample = ~np.isin(ttype, list(params.trust_types))
    fates.exclude(out_of_sample, _per_row(f"type_not_in_sample:{t}" for t in ttype))


def exclude_series_breaks(
    rows: _Rows, fates: RowFates, starts: Mapping[str, int | None], params: LinkParams
) -> None:
    """Step 7: rows whose source year is before their measure's first comparable year.

    Excluded as ``series_break`` when ``link.respect_series_breaks`` is on;
    otherwise kept (``panel_long.before_series_start`` flags them).
    """
    if not params.respect_series_breaks:
        return
    before = np.array(
        [
            starts[m] is not None and y < starts[m]
            for m, y in zip(rows.measure, rows.year, strict=True)
        ]
    )
    fates.exclude(
        before,
        "series_break",
        _per_row(f"{m} comparable from {starts[m]}" for m in rows.measure),
    )


def exclude_superseded(
    rows: _Rows,
    fates: RowFates,
    res: Mapping[str, Resolution],
    target: np.ndarray,
    survey_date: np.ndarray,
) -> None:
    """Step 8: predecessor rows surveyed on or after the predecessor ceased, when the
    successor itself reports the same source, year and measure: ``superseded_by_successor``."""
    alive = fates.is_open
    own = alive & (rows.code == target)
    own_keys = set(
        zip(rows.source[own], target[own], rows.year[own], rows.measure[own], strict=True)
    )
    superseded = np.zeros(len(rows), dtype=bool)
    for i in np.flatnonzero(alive & (rows.code != target)):
        ceased = res[rows.code[i]].ceased
        if (
            ceased is not None
            and survey_date[i] >= ceased
            and (rows.source[i], target[i], rows.year[i], rows.measure[i]) in own_keys
        ):
            superseded[i] = True
    fates.exclude(
        superseded,
        "superseded_by_successor",
        _per_row(
            f"{c} ceased {res[c].ceased}; {t} reports that year"
            for c, t in zip(rows.code, target, strict=True)
        ),
    )


def panel_years(rows: _Rows, params: LinkParams) -> np.ndarray:
    """Step 9a: the panel year of each row (staff rows shifted by ``link.staff_lag``)."""
    return np.where(rows.source == "staff", rows.year + params.staff_lag, rows.year)


def counterparts(
    rows: _Rows, fates: RowFates, target: np.ndarray, panel_year: np.ndarray
) -> np.ndarray:
    """Step 9b: whether the other source has an open row for the row's target and panel year."""
    alive = fates.is_open
    staff = alive & (rows.source == "staff")
    patient = alive & (rows.source == "patient")
    staff_ty = set(zip(target[staff], panel_year[staff], strict=True))
    pat_ty = set(zip(target[patient], panel_year[patient], strict=True))
    return np.array(
        [
            ((t, py) in pat_ty) if s == "staff" else ((t, py) in staff_ty)
            for t, py, s in zip(target, panel_year, rows.source, strict=True)
        ]
    )


def exclude_no_counterpart(
    rows: _Rows,
    fates: RowFates,
    panel_year: np.ndarray,
    counterpart: np.ndarray,
    params: LinkParams,
) -> None:
    """Step 9c: with ``link.require_counterpart``, open rows without a counterpart:
    ``no_counterpart_that_year``."""
    if not params.require_counterpart:
        return
    fates.exclude(
        fates.is_open & ~counterpart,
        "no_counterpart_that_year",
        _per_row(
            f"no {'patient' if s == 'staff' else 'staff'} values for panel year {py}"
            for s, py in zip(rows.source, panel_year, strict=True)
        ),
    )


# reasons whose rows have no meaningful target code (audit ``mapped_to`` is blank)
_UNMAPPED_REASONS = ["not_a_trust", "unknown_code", "split_dropped", "duplicate"]


def record_survivors(
    rows: _Rows,
    fates: RowFates,
    res: Mapping[str, Resolution],
    split_choice: Mapping[str, tuple[str | None, str]],
    target: np.ndarray,
) -> None:
    """Step 10: open rows become ``matched`` (code is its own target) or ``merged``.

    A merged row's reason is the split choice (``split_assigned`` or
    ``split_largest_successor``), ``split_assigned`` for a split assigned in
    ``ods_overrides.csv``, else ``succession``.  ``mapped_to`` is the target
    for every row except exclusions in :data:`_UNMAPPED_REASONS`.
    """
    alive = fates.is_open
    fates.fate[alive & (rows.code == target)] = "matched"
    merged = alive & (rows.code != target)
    fates.fate[merged] = "merged"
    for i in np.flatnonzero(merged):
        c = rows.code[i]
        if c in split_choice:
            fates.reason[i] = split_choice[c][1]
            fates.detail[i] = f"{res[c].detail}; assigned {split_choice[c][0]}"
        elif res[c].assigned_by == "override":
            fates.reason[i] = "split_assigned"
            fates.detail[i] = f"{res[c].detail}; assigned {res[c].target} (ods_overrides.csv)"
        else:
            fates.reason[i] = "succession"
            fates.detail[i] = res[c].detail
    excluded = fates.fate == "excluded"
    fates.mapped_to[~excluded] = target[~excluded]
    fates.mapped_to[excluded] = np.where(
        np.isin(fates.reason[excluded], _UNMAPPED_REASONS), "", target[excluded]
    )


def audit_table(
    rows: _Rows, fates: RowFates, panel_year: np.ndarray, counterpart: np.ndarray
) -> pd.DataFrame:
    """The audit of the tidy rows: one row per input row, columns :data:`AUDIT_COLUMNS`."""
    t = rows.table
    return pd.DataFrame(
        {
            "source_file": t["source_file"].to_numpy(),
            "source_code": t["source_code"].to_numpy(),
            "org_code": rows.code,
            "year": rows.year,
            "measure": rows.measure,
            "fate": fates.fate,
            "reason": fates.reason,
            "mapped_to": fates.mapped_to,
            "source": rows.source,
            "source_sheet": t["source_sheet"].to_numpy(),
            "panel_year": panel_year,
            "detail": fates.detail,
            "counterpart": counterpart,
        }
    )


def combine_survivors(
    rows: _Rows,
    fates: RowFates,
    target: np.ndarray,
    panel_year: np.ndarray,
    starts: Mapping[str, int | None],
    catalogue: Any,
    params: LinkParams,
) -> pd.DataFrame:
    """Step 11: ``panel_long``, one row per (target, panel year, source, measure).

    The matched and merged rows of each group are combined with
    :func:`combine` by the measure's catalogue rule and ``link.merge_weight``.
    Groups are numbered once over whole columns (in sorted key order, rows in
    input order within a group); a group of one row is its row, and only the
    groups of several rows (mergers) call :func:`combine` one by one.
    """
    survived = np.isin(fates.fate, ["matched", "merged"])
    keep = rows.table[survived]
    keys = pd.DataFrame({"target": target[survived], "panel_year": panel_year[survived],
                         "source": keep["source"].to_numpy(), "measure": keep["measure"].to_numpy()})
    gid = keys.groupby(list(keys.columns), sort=True).ngroup().to_numpy()
    placed = gid >= 0  # a row with a missing key belongs to no group (as groupby drops it)
    if not placed.any():
        return pd.DataFrame([], columns=PANEL_LONG_COLUMNS).astype(_PANEL_LONG_DTYPES)
    order = np.flatnonzero(placed)[np.argsort(gid[placed], kind="stable")]
    bounds = np.r_[0, np.flatnonzero(np.diff(gid[order])) + 1, len(order)]
    first, size = order[bounds[:-1]], np.diff(bounds)
    col = {c: keep[c].to_numpy() for c in ("org_code", "year", "value", "base_n")}
    col["source_file"] = keep["source_file"].astype(str).to_numpy()
    col["source_code"] = keep["source_code"].astype(str).to_numpy()
    tgt, meas = keys["target"].to_numpy()[first], keys["measure"].to_numpy()[first]
    out = {
        "org_code": tgt, "year": keys["panel_year"].to_numpy()[first], "measure": meas,
        "value": col["value"][first].astype(float), "base_n": col["base_n"][first].astype(float),
        "source": keys["source"].to_numpy()[first], "source_year": col["year"][first],
        "source_file": col["source_file"][first].copy(), "source_code": col["source_code"][first].copy(),
        "merged_from": np.where(col["org_code"][first] == tgt, "", col["org_code"][first]).astype(object),
        "n_inputs": size, "weighting": np.full(len(first), "single", dtype=object),
    }
    for k in np.flatnonzero(size > 1):
        _combine_group(out, k, order[bounds[k]:bounds[k + 1]], col,
                       _combine_rule(str(meas[k]), catalogue), params.merge_weight)
    start = np.array([starts[m] for m in meas], dtype=object)
    out["before_series_start"] = np.array(
        [s is not None and y < s for s, y in zip(start, out["source_year"], strict=True)], dtype=bool)
    return pd.DataFrame(out, columns=PANEL_LONG_COLUMNS).astype(_PANEL_LONG_DTYPES)


_PANEL_LONG_DTYPES = {"year": "int64", "source_year": "int64", "n_inputs": "int64", "value": float, "base_n": float}


def _combine_group(out: dict[str, np.ndarray], k: int, idx: np.ndarray, col: Mapping[str, np.ndarray],
                   rule: str, weight: str) -> None:
    """Group ``k`` of several input rows (positions ``idx``, in input order): its combined value,
    base and weighting, and its files, codes and input organisations joined in sorted order."""
    value, base, weighting = combine(col["value"][idx], col["base_n"][idx], rule=rule, weight=weight)
    out["value"][k], out["base_n"][k], out["weighting"][k] = value, base, weighting
    out["source_file"][k] = ";".join(sorted(set(col["source_file"][idx])))
    out["source_code"][k] = ";".join(sorted(set(col["source_code"][idx])))
    in_codes = sorted(set(col["org_code"][idx]))
    out["merged_from"][k] = "" if in_codes == [out["org_code"][k]] else ";".join(in_codes)


# ---------------------------------------------------------------------- run_link
def run_link(
    staff: pd.DataFrame | None,
    patient: pd.DataFrame | None,
    orgs: pd.DataFrame | None,
    registry: Registry,
    params: LinkParams | None = None,
    *,
    rollups: pd.DataFrame | None = None,
    series_start: Callable[[str], int | None] | Mapping[str, int] | None = None,
    catalogue: Any = None,
) -> LinkResult:
    """Link staff and patient tidy tables by trust and year, with a full audit.

    The steps run in this order over a :class:`RowFates` record; a row's first
    exclusion decides its reason: duplicates, organisation kind, unknown
    codes, splits, closures, trust type, series breaks, superseded
    predecessor rows, alignment and counterparts, survivors (matched or
    merged), the combine into ``panel_long``, then the roll-up rows, and the
    reconciliation check.  (The function is over 80 lines only because of this
    docstring; its body is the list of steps.)

    Parameters
    ----------
    staff, patient
        Tidy contract tables (values harmonised to canonical units; measures
        named ``staff.*`` / ``patient.*``).  Either may be empty or ``None``.
    orgs
        ``org_code, year, org_name, benchmark_group, org_kind, source_file``
        from the readers (staff and patient concatenated).  ``org_kind`` other
        than ``trust`` excludes the code's rows as ``not_a_trust``.
    registry
        From :func:`linkage.registry.build_registry`.
    params
        ``params.link``; defaults if ``None``.
    rollups
        Tidy rows of sub-codes the reader rolled up, with column ``into``;
        they are audited as ``merged`` into the fate of their parent row.
    series_start
        First comparable year per measure, as a callable or a mapping;
        overrides the catalogue and ``params.series_start``.
    catalogue
        A loaded measure catalogue (for ``comparable_from`` and the combine
        rule per measure); ``None`` loads the packaged one.

    Returns
    -------
    LinkResult

    Raises
    ------
    LinkageDataError
        Unresolved splits with ``split_rule: fail``, cross-file duplicates
        with ``duplicate_rule: fail``, malformed inputs, or a failed
        reconciliation.
    """
    params = params or LinkParams()
    cat = catalogue if catalogue is not None else load_catalogue()
    start_of = _series_start_lookup(series_start, params, cat)
    rows = _Rows.of(staff, patient)
    survey = _org_kinds(orgs)
    res: dict[str, Resolution] = {c: registry.resolve(c) for c in pd.unique(rows.code)}
    if params.successors == "as_published":  # a study's own sample: every known code stands for itself
        res = {c: r if r.status == "unknown" else Resolution(code=c, status="self", target=c, chain=(c,))
               for c, r in res.items()}
    survey_date = _per_row(
        _survey_date(y, s, params) for y, s in zip(rows.year, rows.source, strict=True)
    )
    starts = {m: start_of(m) for m in pd.unique(rows.measure)}
    fates = RowFates.open_rows(len(rows))

    exclude_duplicates(rows, fates, params)
    exclude_non_trust_kinds(rows, fates, survey)
    exclude_unknown_codes(rows, fates, res)
    split_choice = choose_split_successors(rows, fates, res, registry, params)
    exclude_dropped_splits(rows, fates, res, split_choice)
    target = successor_targets(rows, res, split_choice)
    exclude_closed(rows, fates, target, survey_date, registry, params)
    exclude_by_trust_type(fates, target, registry, params)
    exclude_series_breaks(rows, fates, starts, params)
    exclude_superseded(rows, fates, res, target, survey_date)
    panel_year = panel_years(rows, params)
    counterpart = counterparts(rows, fates, target, panel_year)
    exclude_no_counterpart(rows, fates, panel_year, counterpart, params)
    record_survivors(rows, fates, res, split_choice, target)

    audit = audit_table(rows, fates, panel_year, counterpart)
    panel_long = combine_survivors(rows, fates, target, panel_year, starts, cat, params)
    n_rollups = 0 if rollups is None else len(rollups)
    if n_rollups:
        audit = pd.concat([audit, _audit_rollups(rollups, audit)], ignore_index=True)
    check_reconciliation(audit, n_in=len(rows) + n_rollups)

    return _link_result(audit, panel_long, survey.names, registry, params)


def _link_result(
    audit: pd.DataFrame,
    panel_long: pd.DataFrame,
    survey_names: Mapping[str, str],
    registry: Registry,
    params: LinkParams,
) -> LinkResult:
    """The wide panel (names from the surveys, else the registry), balance and metrics."""
    targets = panel_long["org_code"].unique()
    names = {t: survey_names.get(t) or registry.name(t) or "" for t in targets}
    panel = make_panel(panel_long, names, {t: registry.trust_type(t) for t in targets},
                       {t: registry.region(t) for t in targets})
    metrics = link_metrics(audit, panel_long, params, registry)
    metrics["regions"] = region_metrics(panel)
    return LinkResult(
        panel=panel,
        panel_long=panel_long,
        audit=audit,
        balance=make_balance(panel_long, panel),
        metrics=metrics,
    )


#: Region columns added to the wide panel after ``trust_type`` (from :meth:`Registry.region`).
REGION_PANEL_COLUMNS = {"region": "region_code", "region_name": "region_name", "icb": "icb_code"}


def region_metrics(panel: pd.DataFrame) -> dict[str, Any]:
    """Regions and ICBs of the panel's trusts, and the trusts the ODS files give no region
    (``metrics/linkage.json`` key ``regions``; the multilevel model refuses without enough regions)."""
    if "region" not in panel.columns:
        return {"n_regions": 0, "n_icbs": 0, "without_region": [], "without_icb": []}
    per = panel.drop_duplicates("org_code")
    return {
        "n_regions": int(per.loc[per["region"] != "", "region"].nunique()),
        "n_icbs": int(per.loc[per["icb"] != "", "icb"].nunique()),
        "without_region": sorted(per.loc[per["region"] == "", "org_code"].astype(str)),
        "without_icb": sorted(per.loc[per["icb"] == "", "org_code"].astype(str)),
    }


def _audit_rollups(rollups: pd.DataFrame, audit: pd.DataFrame) -> pd.DataFrame:
    """Step 12: audit rows for the sub-code rows the reader rolled up (``rollups``).

    Each takes the fate of its parent row in ``audit`` (``merged`` with reason
    ``rollup``, or the parent's exclusion); a sub-code row whose parent row is
    missing is excluded as ``rollup_target_missing``.
    """
    if "into" not in rollups.columns:
        raise LinkageDataError(f"rollups table lacks column 'into'; has {list(rollups.columns)}")
    r = rollups.copy()
    r["into"] = r["into"].astype(object).map(lambda c: str(c).strip().upper())
    r["org_code"] = r["org_code"].astype(object).map(lambda c: str(c).strip().upper())
    r["year"] = pd.to_numeric(r["year"]).astype("int64")
    parent = audit.drop_duplicates(["org_code", "year", "measure", "source_file"]).set_index(
        ["org_code", "year", "measure", "source_file"]
    )
    out = []
    for row in r.itertuples(index=False):
        k = (row.into, int(row.year), row.measure, row.source_file)
        src = "staff" if str(row.measure).startswith("staff.") else "patient"
        base = {
            "source_file": row.source_file,
            "source_code": row.source_code,
            "org_code": row.org_code,
            "year": int(row.year),
            "measure": row.measure,
            "source": src,
            "source_sheet": getattr(row, "source_sheet", None),
        }
        if k not in parent.index:
            out.append(
                {
                    **base,
                    "fate": "excluded",
                    "reason": "rollup_target_missing",
                    "mapped_to": "",
                    "panel_year": int(row.year),
                    "detail": f"no {row.into} row for {row.measure} {row.year} in {row.source_file}",
                    "counterpart": False,
                }
            )
            continue
        p = parent.loc[k]
        if p["fate"] == "excluded":
            out.append(
                {
                    **base,
                    "fate": "excluded",
                    "reason": p["reason"],
                    "mapped_to": p["mapped_to"],
                    "panel_year": int(p["panel_year"]),
                    "detail": f"rolled up into {row.into}, which is excluded: {p['detail']}".rstrip(
                        ": "
                    ),
                    "counterpart": bool(p["counterpart"]),
                }
            )
        else:
            out.append(
                {
                    **base,
                    "fate": "merged",
                    "reason": "rollup",
                    "mapped_to": p["mapped_to"],
                    "panel_year": int(p["panel_year"]),
                    "detail": f"rolled up into {row.into} by the reader"
                    + (f", then {p['detail']}" if p["detail"] else ""),
                    "counterpart": bool(p["counterpart"]),
                }
            )
    return pd.DataFrame(out, columns=AUDIT_COLUMNS)


def check_reconciliation(audit: pd.DataFrame, *, n_in: int) -> dict[str, int]:
    """Check ``rows in = matched + merged + excluded`` and that every row has a fate.

    Parameters
    ----------
    audit
        The audit table.
    n_in
        Number of input rows (tidy rows of both sources plus roll-up rows).

    Returns
    -------
    dict
        Counts per fate and ``in``.

    Raises
    ------
    LinkageError
        If the identity fails, a fate is not one of :data:`FATES`, or an
        excluded row has no reason.
    """
    counts = {f: int((audit["fate"] == f).sum()) for f in FATES}
    bad = audit[~audit["fate"].isin(FATES)]
    if len(bad):
        raise LinkageError(
            f"{len(bad)} audit rows have no valid fate (e.g. {bad.iloc[0].to_dict()})"
        )
    no_reason = audit[
        (audit["fate"] == "excluded") & (audit["reason"].astype(str).str.strip() == "")
    ]
    if len(no_reason):
        raise LinkageError(f"{len(no_reason)} excluded audit rows have no reason")
    total = sum(counts.values())
    if total != n_in or len(audit) != n_in:
        raise LinkageError(
            f"linkage audit does not reconcile: {n_in} rows in, but matched {counts['matched']} + "
            f"merged {counts['merged']} + excluded {counts['excluded']} = {total}"
        )
    return {"in": n_in, **counts}


# ---------------------------------------------------------------------- outputs
def _measure_order(measures: list[str]) -> list[str]:
    return sorted(measures, key=lambda m: (0 if m.startswith("staff.") else 1, m))


def make_panel(
    panel_long: pd.DataFrame, names: Mapping[str, str], types: Mapping[str, str],
    regions: Mapping[str, Mapping[str, str]] | None = None,
) -> pd.DataFrame:
    """Wide panel from ``panel_long``: ``org_code, year, org_name, trust_type, <m>, <m>__n``;
    with ``regions`` (code -> :meth:`Registry.region`) also ``region, region_name, icb`` after
    ``trust_type`` (empty text where the ODS files give none)."""
    if panel_long.empty:
        return pd.DataFrame(
            {c: pd.Series(dtype="int64" if c == "year" else object) for c in ID_COLUMNS}
        )
    vals = panel_long.pivot(index=["org_code", "year"], columns="measure", values="value")
    ns = panel_long.pivot(index=["org_code", "year"], columns="measure", values="base_n")
    cols: dict[str, pd.Series] = {}
    for m in _measure_order(list(vals.columns)):
        cols[m] = vals[m]
        cols[f"{m}__n"] = ns[m]
    wide = pd.DataFrame(cols, index=vals.index).reset_index()
    wide.insert(2, "org_name", wide["org_code"].map(lambda c: names.get(c, "")))
    wide.insert(3, "trust_type", wide["org_code"].map(lambda c: types.get(c, "unknown")))
    if regions is not None:
        for i, (col, key) in enumerate(REGION_PANEL_COLUMNS.items()):
            wide.insert(4 + i, col, wide["org_code"].map(lambda c, k=key: regions.get(c, {}).get(k, "")))
    wide.columns.name = None
    return wide.sort_values(["org_code", "year"]).reset_index(drop=True)


def make_balance(panel_long: pd.DataFrame, panel: pd.DataFrame) -> pd.DataFrame:
    """Trusts x panel years: ``both``, ``staff``, ``patient`` or ``none`` per year, and gaps.

    Returns
    -------
    DataFrame
        ``org_code, org_name, trust_type, <year>... , n_years_both,
        first_year, last_year, gaps`` (``gaps``: years between the first and
        last year with no values, comma separated).
    """
    if panel_long.empty:
        return pd.DataFrame(
            columns=[
                "org_code",
                "org_name",
                "trust_type",
                "n_years_both",
                "first_year",
                "last_year",
                "gaps",
            ]
        )
    has = panel_long.groupby(["org_code", "year", "source"]).size().unstack("source", fill_value=0)
    for s in ("staff", "patient"):
        if s not in has.columns:
            has[s] = 0
    state = np.where(
        (has["staff"] > 0) & (has["patient"] > 0),
        "both",
        np.where(has["staff"] > 0, "staff", "patient"),
    )
    st = pd.Series(state, index=has.index).unstack("year", fill_value="none")
    years = sorted(st.columns)
    st = st[years]
    st.columns = [str(y) for y in years]
    ids = panel.drop_duplicates("org_code").set_index("org_code")[["org_name", "trust_type"]]
    out = ids.join(st, how="right")
    present = (st != "none").to_numpy()  # every trust has at least one year (it is in panel_long)
    out["n_years_both"] = (st == "both").sum(axis=1)
    yrs, labels = np.array(years, dtype="int64"), np.array(st.columns, dtype=object)
    first = present.argmax(axis=1)
    last = present.shape[1] - 1 - present[:, ::-1].argmax(axis=1)
    out["first_year"], out["last_year"] = yrs[first], yrs[last]
    span = np.arange(present.shape[1])
    gap = ~present & (span >= first[:, None]) & (span <= last[:, None])
    out["gaps"] = [",".join(labels[row]) for row in gap]
    return out.reset_index().rename(columns={"index": "org_code"})


def _per_year(df: pd.DataFrame, col: str = "year") -> dict[str, int]:
    return {str(int(y)): int(n) for y, n in df.groupby(col)["org_code"].nunique().items()}


def _year_counts(pairs: list[tuple[str, int]]) -> dict[str, int]:
    """Number of (trust, year) pairs per year, by year."""
    out: dict[str, int] = {}
    for _, y in pairs:
        out[str(int(y))] = out.get(str(int(y)), 0) + 1
    return dict(sorted(out.items()))


def _headline_pairs(
    panel_long: pd.DataFrame, params: LinkParams
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """Trust-years with both headline measures in the same source year, and trust-years
    with the patient headline whose trust has the staff headline the year before."""
    pl = panel_long

    def trust_years(measure: str) -> set[tuple[str, int]]:
        sel = pl["measure"] == measure
        return set(zip(pl.loc[sel, "org_code"], pl.loc[sel, "source_year"], strict=True))

    s_ty, p_ty = trust_years(params.headline_staff), trust_years(params.headline_patient)
    both = sorted(ty for ty in p_ty if ty in s_ty)
    lag1 = sorted((c, y) for c, y in p_ty if (c, y - 1) in s_ty)
    return both, lag1


def _exclusion_counts(
    audit: pd.DataFrame,
) -> tuple[dict[str, int], dict[str, int], dict[str, dict[str, int]]]:
    """Excluded rows by reason (before any ``:``), by full reason, and by source and reason."""
    ex = audit[audit["fate"] == "excluded"]
    reasons = ex["reason"].astype(str).str.split(":").str[0]
    by_reason = {k: int(v) for k, v in reasons.value_counts().sort_index().items()}
    by_reason_full = {k: int(v) for k, v in ex["reason"].value_counts().sort_index().items()}
    by_src_reason: dict[str, dict[str, int]] = {}
    for (s, r), n in ex.groupby(["source", "reason"]).size().items():
        by_src_reason.setdefault(str(s), {})[str(r)] = int(n)
    return by_reason, by_reason_full, by_src_reason


def link_metrics(
    audit: pd.DataFrame, panel_long: pd.DataFrame, params: LinkParams, registry: Registry
) -> dict[str, Any]:
    """Counts for ``metrics/linkage.json`` (see docs/linkage.md for each key)."""
    pl = panel_long
    by_src = {s: _per_year(pl[pl["source"] == s], "source_year") for s in ("staff", "patient")}
    hs, hp = params.headline_staff, params.headline_patient
    both, lag1 = _headline_pairs(pl, params)
    by_reason, by_reason_full, by_src_reason = _exclusion_counts(audit)
    merged = audit[audit["fate"] == "merged"]
    return {
        "reference_date": registry.reference_date.isoformat(),
        "staff_lag": params.staff_lag,
        "merge_weight": params.merge_weight,
        "split_rule": params.split_rule,
        "trust_types": list(params.trust_types),
        "rows": {
            "in": len(audit),
            **{f: int((audit["fate"] == f).sum()) for f in FATES},
            "reconciled": True,
        },
        "rows_by_source": {
            str(s): {f: int((g["fate"] == f).sum()) for f in FATES}
            for s, g in audit.groupby("source")
        },
        "n_trusts_by_source_year": by_src,
        # published codes (before successor mapping) whose rows reached the panel: a
        # merger after the survey year makes this larger than n_trusts_by_source_year
        "n_input_codes_by_source_year": {
            str(s): {
                str(int(y)): int(n) for y, n in g.groupby("year")["org_code"].nunique().items()
            }
            for s, g in audit[audit["fate"] != "excluded"].groupby("source")
        },
        "n_trusts_by_measure_year": {
            m: _per_year(pl[pl["measure"] == m], "source_year") for m in (hs, hp)
        },
        "n_trust_years_panel": int(pl[["org_code", "year"]].drop_duplicates().shape[0]),
        "n_trusts_panel": int(pl["org_code"].nunique()),
        "headline": {
            "staff": hs,
            "patient": hp,
            "both_same_year": _year_counts(both),
            "both_same_year_total": len(both),
            "lag1_staff_to_patient": _year_counts(lag1),
            "lag1_total": len(lag1),
        },
        "excluded_by_reason": by_reason,
        "excluded_by_reason_detail": by_reason_full,
        "excluded_by_source_reason": by_src_reason,
        "unknown_codes": sorted(
            audit.loc[audit["reason"] == "unknown_code", "org_code"].astype(str).unique()
        ),
        "merged_codes": {
            str(c): sorted(g["mapped_to"].astype(str).unique())[0]
            for c, g in merged.groupby("org_code")
        },
        "weighting": {str(k): int(v) for k, v in pl["weighting"].value_counts().items()},
        # flat alias (trusts with both headline measures per year)
        "trusts_both_by_year": _year_counts(both),
    }


# ---------------------------------------------------------------------- notebook helpers
def audit_summary(audit: pd.DataFrame) -> pd.DataFrame:
    """Counts of audit rows by source, year, fate and reason (for the link notebook).

    Parameters
    ----------
    audit
        ``LinkResult.audit`` or the saved ``linkage_audit.csv``.

    Returns
    -------
    DataFrame
        ``source, year, fate, reason, rows, orgs`` sorted, plus a ``TOTAL`` row
        per source whose ``rows`` equals that source's input rows.
    """
    a = audit.copy()
    a["reason"] = a["reason"].fillna("").astype(str)
    if "source" not in a.columns:
        a["source"] = a["source_file"]
    g = (
        a.groupby(["source", "year", "fate", "reason"], dropna=False)
        .agg(rows=("org_code", "size"), orgs=("org_code", "nunique"))
        .reset_index()
    )
    totals = (
        a.groupby("source")
        .agg(rows=("org_code", "size"), orgs=("org_code", "nunique"))
        .reset_index()
    )
    totals["year"] = pd.NA
    totals["fate"] = "TOTAL"
    totals["reason"] = ""
    out = pd.concat([g, totals[g.columns]], ignore_index=True)
    out["_t"] = out["fate"].eq("TOTAL")
    return (
        out.sort_values(["source", "_t", "year", "fate", "reason"])
        .drop(columns="_t")
        .reset_index(drop=True)
    )


def fate_table(audit: pd.DataFrame) -> pd.DataFrame:
    """Rows per source and year by fate, with the reconciliation columns ``in`` and ``ok``."""
    t = audit.groupby(["source", "year", "fate"]).size().unstack("fate", fill_value=0)
    for f in FATES:
        if f not in t.columns:
            t[f] = 0
    t = t[list(FATES)]
    t["in"] = audit.groupby(["source", "year"]).size()
    t["ok"] = t["in"] == t[list(FATES)].sum(axis=1)
    return t.reset_index()


def balance_long(balance: pd.DataFrame) -> pd.DataFrame:
    """``org_code, year, status`` from :func:`make_balance` output (figure data)."""
    ycols = [c for c in balance.columns if re.fullmatch(r"\d{4}", str(c))]
    out = balance.melt(id_vars=["org_code"], value_vars=ycols, var_name="year", value_name="status")
    out["year"] = out["year"].astype(int)
    return out.sort_values(["org_code", "year"]).reset_index(drop=True)


def plot_balance(balance: pd.DataFrame | LinkResult, ax: Any = None) -> Any:
    """Heat map of the panel's balance (trusts x years, coloured by sources present).

    Parameters
    ----------
    balance
        ``LinkResult.balance`` (or the whole :class:`LinkResult`).
    ax
        Matplotlib Axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    if isinstance(balance, LinkResult):
        balance = balance.balance
    from matplotlib.colors import ListedColormap

    states = ["none", "staff", "patient", "both"]
    ycols = [c for c in balance.columns if re.fullmatch(r"\d{4}", str(c))]
    b = balance.sort_values(["n_years_both", "org_code"], ascending=[False, True])
    mat = b[ycols].apply(lambda col: col.map(states.index)).to_numpy(dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.0 + 0.6 * len(ycols), max(3.0, 0.04 * len(b))))
    cmap = ListedColormap(["#f0f0f0", "#9ecae1", "#fdae6b", "#31a354"])
    ax.imshow(mat, aspect="auto", interpolation="nearest", cmap=cmap, vmin=-0.5, vmax=3.5)
    ax.set_xticks(range(len(ycols)), ycols)
    ax.set_yticks([])
    ax.set_ylabel(f"{len(b)} trusts")
    ax.set_title("Panel balance: sources present per trust-year")
    from matplotlib.patches import Patch

    ax.legend(
        handles=[Patch(color=cmap(i), label=s) for i, s in enumerate(states)],
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
    )
    return ax
