"""Stage ``link``: trust identity, time alignment and the linkage audit.

(Owned by the linkage work, issue #4.)

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

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

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
def _catalogue_lookup() -> Any:
    try:
        from .catalogue import load_catalogue

        return load_catalogue()
    except Exception:  # catalogue absent or unreadable: params fallbacks apply
        return None


def make_series_start(params: LinkParams, catalogue: Any = None) -> Callable[[str], int | None]:
    """First comparable year per measure: exact params > catalogue > params patterns.

    Parameters
    ----------
    params
        Link parameters (``series_start``).
    catalogue
        A :class:`linkage.catalogue.Catalogue` (``comparable_from(name)``), or
        ``None`` to use the packaged one if it loads.
    """
    cat = catalogue if catalogue is not None else _catalogue_lookup()
    exact = {k: v for k, v in params.series_start.items() if not k.endswith("*")}
    patterns = sorted(
        ((k[:-1], v) for k, v in params.series_start.items() if k.endswith("*")),
        key=lambda kv: -len(kv[0]),
    )

    def start(measure: str) -> int | None:
        if measure in exact:
            return exact[measure]
        if cat is not None:
            try:
                return cat.comparable_from(measure)
            except Exception:  # measure unknown to the catalogue
                pass
        for prefix, year in patterns:
            if measure.startswith(prefix):
                return year
        return None

    return start


def _default_combine_rule(measure: str, catalogue: Any = None) -> str:
    if catalogue is not None:
        try:
            return catalogue.measure(measure).rollup
        except Exception:
            pass
    return "sum" if measure.endswith("respondents") else "weighted_mean"


def combine(
    values: np.ndarray, bases: np.ndarray, *, rule: str, weight: str
) -> tuple[float, float, str]:
    """Combine the values of several organisations into one.

    Parameters
    ----------
    values, bases
        Values and their bases (respondents; NaN if unknown).
    rule
        ``weighted_mean`` (most measures), ``sum`` (counts) or ``ratio``
        (rates whose base is the numerator, e.g. response rate = respondents /
        surveyed: total respondents / total surveyed).
    weight
        ``respondents`` or ``equal`` (for ``weighted_mean`` and ``ratio``).

    Returns
    -------
    value, base, weighting
        ``weighting`` says what was done: ``single``, ``respondents``,
        ``equal``, ``sum``, ``ratio`` or ``equal_fallback_missing_base`` (a base
        was missing or zero, so an unweighted mean was used).
    """
    values = np.asarray(values, dtype=float)
    bases = np.asarray(bases, dtype=float)
    base_sum = float(bases.sum()) if not np.isnan(bases).any() else math.nan
    if len(values) == 1:
        return float(values[0]), float(bases[0]), "single"
    if rule == "sum":
        return float(values.sum()), base_sum, "sum"
    bad_base = np.isnan(bases).any() or (bases <= 0).any()
    if weight == "equal":
        return float(values.mean()), base_sum, "equal"
    if bad_base:
        return float(values.mean()), base_sum, "equal_fallback_missing_base"
    if rule == "ratio":
        if (values <= 0).any():
            return float(values.mean()), base_sum, "equal_fallback_missing_base"
        return float(bases.sum() / (bases / values).sum()), base_sum, "ratio"
    return float((values * bases).sum() / bases.sum()), base_sum, "respondents"


def _survey_date(year: int, source: str, params: LinkParams) -> date:
    md = params.survey_dates.get(source, "01-01")  # type: ignore[call-overload]
    return date(int(year), int(md[:2]), int(md[3:]))


def _prepare(df: pd.DataFrame | None, source: str) -> pd.DataFrame:
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


def _org_kinds(
    orgs: pd.DataFrame | None,
) -> tuple[dict[tuple[str, int], str], dict[str, str], dict[str, str]]:
    by_year: dict[tuple[str, int], str] = {}
    by_code: dict[str, str] = {}
    names: dict[str, str] = {}
    if orgs is None or len(orgs) == 0:
        return by_year, by_code, names
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
    return by_year, by_code, names


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
        rule per measure); ``None`` loads the packaged one if available.

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
    cat = catalogue if catalogue is not None else _catalogue_lookup()
    if series_start is None:
        start_of = make_series_start(params, cat)
    elif callable(series_start):
        start_of = series_start
    else:
        mapping = dict(series_start)
        start_of = mapping.get

    rows = pd.concat([_prepare(staff, "staff"), _prepare(patient, "patient")], ignore_index=True)
    n_in_tidy = len(rows)
    kind_by_year, kind_by_code, survey_names = _org_kinds(orgs)

    fate = np.array([""] * n_in_tidy, dtype=object)
    reason = np.array([""] * n_in_tidy, dtype=object)
    detail = np.array([""] * n_in_tidy, dtype=object)
    mapped = np.array([""] * n_in_tidy, dtype=object)

    def exclude(mask: np.ndarray, why: str | np.ndarray, more: str | np.ndarray = "") -> None:
        sel = mask & (fate == "")
        fate[sel] = "excluded"
        reason[sel] = why if isinstance(why, str) else why[sel]
        if isinstance(more, str):
            if more:
                detail[sel] = more
        else:
            detail[sel] = more[sel]

    # 1. duplicates across source files
    key = ["source", "org_code", "year", "measure"]
    dup_later = rows.duplicated(key, keep="first").to_numpy()
    if dup_later.any():
        if params.duplicate_rule == "fail":
            d = rows[rows.duplicated(key, keep=False)]
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
        first_file = rows.groupby(key)["source_file"].transform("first").to_numpy()
        exclude(
            dup_later, "duplicate", np.array([f"also in {f}" for f in first_file], dtype=object)
        )

    # 2. organisation kind from the readers
    codes = rows["org_code"].to_numpy()
    years = rows["year"].to_numpy()
    kinds = np.array(
        [
            kind_by_year.get((c, int(y)), kind_by_code.get(c))
            for c, y in zip(codes, years, strict=True)
        ],
        dtype=object,
    )
    non_trust = np.array([k is not None and k != "trust" for k in kinds])
    exclude(non_trust, "not_a_trust", np.array([f"org_kind {k}" for k in kinds], dtype=object))

    # 3. registry resolution
    res: dict[str, Resolution] = {c: registry.resolve(c) for c in pd.unique(codes)}
    if params.successors == "as_published":  # a study's own sample: every known code stands for itself
        res = {c: r if r.status == "unknown" else Resolution(code=c, status="self", target=c, chain=(c,))
               for c, r in res.items()}
    status = np.array([res[c].status for c in codes], dtype=object)
    exclude(
        status == "unknown",
        "unknown_code",
        "not in etr.csv, the successions, the trust types or the overrides",
    )

    # 4. splits
    split_codes = sorted({c for c in pd.unique(codes[(fate == "") & (status == "split")])})
    split_choice: dict[str, tuple[str | None, str]] = {}
    unresolved = []
    for c in split_codes:
        r = res[c]
        chosen = params.split_assign.get(c) or params.split_assign.get(r.split_code or "")
        if chosen:
            final = registry.resolve(chosen)
            tgt = final.target if final.status in ("self", "succession") else None
            allowed = set(r.candidates) | {n for n, _ in registry.successors(r.split_code or "")}
            if tgt is None or (chosen not in allowed and tgt not in allowed):
                raise LinkageDataError(
                    f"link.split_assign maps {c} to {chosen}, which is not one of its successors "
                    f"[{', '.join(r.candidates)}]: fix link.split_assign"
                )
            split_choice[c] = (tgt, "split_assigned")
        else:
            unresolved.append(c)
    if unresolved and params.split_rule == "fail":
        parts = []
        for c in unresolved:
            r = res[c]
            n = int(((codes == c) & (fate == "")).sum())
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
        med = rows.groupby("org_code")["base_n"].median()
        for c in unresolved:
            cands = list(res[c].candidates)
            sizes = {
                k: (float(med.get(k)) if k in med.index and not pd.isna(med.get(k)) else -1.0)
                for k in cands
            }
            best = sorted(cands, key=lambda k: (-sizes[k], k))[0]
            split_choice[c] = (best, "split_largest_successor")
    split_dropped = np.array(
        [s == "split" and c not in split_choice for c, s in zip(codes, status, strict=True)]
    )
    exclude(split_dropped, "split_dropped", np.array([res[c].detail for c in codes], dtype=object))

    target = np.array(
        [split_choice[c][0] if c in split_choice else (res[c].target or "") for c in codes],
        dtype=object,
    )
    mapped[fate != "excluded"] = target[fate != "excluded"]

    # 5. closures
    sources = rows["source"].to_numpy()
    survey_d = np.array(
        [_survey_date(y, s, params) for y, s in zip(years, sources, strict=True)], dtype=object
    )
    closed = np.zeros(n_in_tidy, dtype=bool)
    closed_detail = np.array([""] * n_in_tidy, dtype=object)
    for i in np.flatnonzero(fate == ""):
        cd = registry.close_date(target[i])
        if cd is None:
            continue
        if survey_d[i] > cd:
            closed[i] = True
            closed_detail[i] = f"{target[i]} closed {cd}; survey dated {survey_d[i]}"
        elif params.closed_rule == "exclude" and cd <= registry.reference_date:
            closed[i] = True
            closed_detail[i] = f"{target[i]} closed {cd} (closed_rule exclude)"
    exclude(closed, "closed", closed_detail)

    # 6. trust type (of the successor)
    ttype = np.array([registry.trust_type(t) if t else "non_trust" for t in target], dtype=object)
    if params.restrict_trust_types:
        exclude(
            ttype == "non_trust",
            "not_a_trust",
            np.array([f"{t} is not a trust in the registry" for t in target], dtype=object),
        )
        out_of_sample = ~np.isin(ttype, list(params.trust_types))
        exclude(out_of_sample, np.array([f"type_not_in_sample:{t}" for t in ttype], dtype=object))

    # 7. series breaks (source year)
    measures = rows["measure"].to_numpy()
    starts = {m: start_of(m) for m in pd.unique(measures)}
    before = np.array(
        [starts[m] is not None and y < starts[m] for m, y in zip(measures, years, strict=True)]
    )
    if params.respect_series_breaks:
        exclude(
            before,
            "series_break",
            np.array([f"{m} comparable from {starts[m]}" for m in measures], dtype=object),
        )

    # 8. predecessor rows dated after the succession when the successor reports too
    alive = fate == ""
    own = alive & (codes == target)
    own_keys = set(zip(sources[own], target[own], years[own], measures[own], strict=True))
    superseded = np.zeros(n_in_tidy, dtype=bool)
    for i in np.flatnonzero(alive & (codes != target)):
        ceased = res[codes[i]].ceased
        if (
            ceased is not None
            and survey_d[i] >= ceased
            and (sources[i], target[i], years[i], measures[i]) in own_keys
        ):
            superseded[i] = True
    exclude(
        superseded,
        "superseded_by_successor",
        np.array(
            [
                f"{c} ceased {res[c].ceased}; {t} reports that year"
                for c, t in zip(codes, target, strict=True)
            ],
            dtype=object,
        ),
    )

    # 9. alignment and counterparts
    panel_year = np.where(sources == "staff", years + params.staff_lag, years)
    alive = fate == ""
    staff_ty = set(
        zip(
            target[alive & (sources == "staff")],
            panel_year[alive & (sources == "staff")],
            strict=True,
        )
    )
    pat_ty = set(
        zip(
            target[alive & (sources == "patient")],
            panel_year[alive & (sources == "patient")],
            strict=True,
        )
    )
    counterpart = np.array(
        [
            ((t, py) in pat_ty) if s == "staff" else ((t, py) in staff_ty)
            for t, py, s in zip(target, panel_year, sources, strict=True)
        ]
    )
    if params.require_counterpart:
        exclude(
            alive & ~counterpart,
            "no_counterpart_that_year",
            np.array(
                [
                    f"no {'patient' if s == 'staff' else 'staff'} values for panel year {py}"
                    for s, py in zip(sources, panel_year, strict=True)
                ],
                dtype=object,
            ),
        )

    # 10. survivors
    alive = fate == ""
    fate[alive & (codes == target)] = "matched"
    merged_mask = alive & (codes != target)
    fate[merged_mask] = "merged"
    for i in np.flatnonzero(merged_mask):
        c = codes[i]
        if c in split_choice:
            reason[i] = split_choice[c][1]
            detail[i] = f"{res[c].detail}; assigned {split_choice[c][0]}"
        elif res[c].assigned_by == "override":
            reason[i] = "split_assigned"
            detail[i] = f"{res[c].detail}; assigned {res[c].target} (ods_overrides.csv)"
        else:
            reason[i] = "succession"
            detail[i] = res[c].detail
    mapped[fate == "excluded"] = np.where(
        np.isin(
            reason[fate == "excluded"],
            ["not_a_trust", "unknown_code", "split_dropped", "duplicate"],
        ),
        "",
        target[fate == "excluded"],
    )

    audit = pd.DataFrame(
        {
            "source_file": rows["source_file"].to_numpy(),
            "source_code": rows["source_code"].to_numpy(),
            "org_code": codes,
            "year": years,
            "measure": measures,
            "fate": fate,
            "reason": reason,
            "mapped_to": mapped,
            "source": sources,
            "source_sheet": rows["source_sheet"].to_numpy(),
            "panel_year": panel_year,
            "detail": detail,
            "counterpart": counterpart,
        }
    )

    # 11. combine survivors into panel_long
    keep = rows[np.isin(fate, ["matched", "merged"])].copy()
    keep["target"] = target[np.isin(fate, ["matched", "merged"])]
    keep["panel_year"] = panel_year[np.isin(fate, ["matched", "merged"])]
    long_rows = []
    for (tgt, py, src, meas), g in keep.groupby(
        ["target", "panel_year", "source", "measure"], sort=True
    ):
        rule = _default_combine_rule(str(meas), cat)
        value, base, weighting = combine(
            g["value"].to_numpy(), g["base_n"].to_numpy(), rule=rule, weight=params.merge_weight
        )
        in_codes = sorted(g["org_code"].unique())
        sy = int(g["year"].iloc[0])
        long_rows.append(
            {
                "org_code": tgt,
                "year": int(py),
                "measure": meas,
                "value": value,
                "base_n": base,
                "source": src,
                "source_year": sy,
                "source_file": ";".join(sorted(g["source_file"].astype(str).unique())),
                "source_code": ";".join(sorted(g["source_code"].astype(str).unique())),
                "merged_from": "" if in_codes == [tgt] else ";".join(in_codes),
                "n_inputs": len(g),
                "weighting": weighting,
                "before_series_start": bool(starts[meas] is not None and sy < starts[meas]),
            }
        )
    panel_long = pd.DataFrame(long_rows, columns=PANEL_LONG_COLUMNS)
    panel_long = panel_long.astype(
        {
            "year": "int64",
            "source_year": "int64",
            "n_inputs": "int64",
            "value": float,
            "base_n": float,
        }
    )

    # 12. roll-up rows (e.g. Isle of Wight sub-codes)
    if rollups is not None and len(rollups):
        audit = pd.concat([audit, _audit_rollups(rollups, audit, params)], ignore_index=True)

    check_reconciliation(audit, n_in=n_in_tidy + (0 if rollups is None else len(rollups)))

    names = {}
    for t in panel_long["org_code"].unique():
        names[t] = survey_names.get(t) or registry.name(t) or ""
    panel = make_panel(
        panel_long, names, {t: registry.trust_type(t) for t in panel_long["org_code"].unique()}
    )
    balance = make_balance(panel_long, panel)
    metrics = link_metrics(audit, panel_long, params, registry)
    return LinkResult(
        panel=panel, panel_long=panel_long, audit=audit, balance=balance, metrics=metrics
    )


def _audit_rollups(rollups: pd.DataFrame, audit: pd.DataFrame, params: LinkParams) -> pd.DataFrame:
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
    panel_long: pd.DataFrame, names: Mapping[str, str], types: Mapping[str, str]
) -> pd.DataFrame:
    """Wide panel from ``panel_long``: ``org_code, year, org_name, trust_type, <m>, <m>__n``."""
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
    present = st != "none"
    out["n_years_both"] = (st == "both").sum(axis=1)
    out["first_year"] = present.apply(lambda r: int(r[r].index[0]), axis=1)
    out["last_year"] = present.apply(lambda r: int(r[r].index[-1]), axis=1)
    out["gaps"] = [
        ",".join(y for y in st.columns if first <= int(y) <= last and st.at[code, y] == "none")
        for code, first, last in zip(out.index, out["first_year"], out["last_year"], strict=True)
    ]
    return out.reset_index().rename(columns={"index": "org_code"})


def _per_year(df: pd.DataFrame, col: str = "year") -> dict[str, int]:
    return {str(int(y)): int(n) for y, n in df.groupby(col)["org_code"].nunique().items()}


def link_metrics(
    audit: pd.DataFrame, panel_long: pd.DataFrame, params: LinkParams, registry: Registry
) -> dict[str, Any]:
    """Counts for ``metrics/linkage.json`` (see docs/linkage.md for each key)."""
    pl = panel_long
    by_src = {s: _per_year(pl[pl["source"] == s], "source_year") for s in ("staff", "patient")}
    hs, hp = params.headline_staff, params.headline_patient
    s_ty = set(
        zip(
            pl.loc[pl["measure"] == hs, "org_code"],
            pl.loc[pl["measure"] == hs, "source_year"],
            strict=True,
        )
    )
    p_ty = set(
        zip(
            pl.loc[pl["measure"] == hp, "org_code"],
            pl.loc[pl["measure"] == hp, "source_year"],
            strict=True,
        )
    )
    both = sorted(ty for ty in p_ty if ty in s_ty)
    lag1 = sorted((c, y) for c, y in p_ty if (c, y - 1) in s_ty)

    def count(pairs: list[tuple[str, int]]) -> dict[str, int]:
        out: dict[str, int] = {}
        for _, y in pairs:
            out[str(int(y))] = out.get(str(int(y)), 0) + 1
        return dict(sorted(out.items()))

    ex = audit[audit["fate"] == "excluded"]
    reasons = ex["reason"].astype(str).str.split(":").str[0]
    by_reason = {k: int(v) for k, v in reasons.value_counts().sort_index().items()}
    by_reason_full = {k: int(v) for k, v in ex["reason"].value_counts().sort_index().items()}
    by_src_reason: dict[str, dict[str, int]] = {}
    for (s, r), n in ex.groupby(["source", "reason"]).size().items():
        by_src_reason.setdefault(str(s), {})[str(r)] = int(n)
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
            str(s): {str(int(y)): int(n) for y, n in g.groupby("year")["org_code"].nunique().items()}
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
            "both_same_year": count(both),
            "both_same_year_total": len(both),
            "lag1_staff_to_patient": count(lag1),
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
        # flat alias read by linkage.report (trusts with both headline measures per year)
        "trusts_both_by_year": count(both),
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


def run_stage(params: Any) -> LinkResult:
    """Run the ``link`` stage with the full params object (used by ``notebooks/03_link.ipynb``).

    Delegates to :func:`linkage.pipeline.link_stage`, which reads the ingest
    outputs, builds the registry, calls :func:`run_link` and writes the outputs.
    """
    from .pipeline import link_stage

    return link_stage(params)


def save_link_outputs(
    result: LinkResult,
    processed_dir: str | Path = "data/processed",
    metrics_path: str | Path = "metrics/linkage.json",
) -> dict[str, Path]:
    """Write ``panel.parquet``, ``panel_long.parquet``, ``linkage_audit.csv``, ``linkage_balance.csv`` and the metrics JSON.

    Returns
    -------
    dict
        Name -> path written.
    """
    d = Path(processed_dir)
    d.mkdir(parents=True, exist_ok=True)
    m = Path(metrics_path)
    m.parent.mkdir(parents=True, exist_ok=True)
    paths = {
        "panel": d / "panel.parquet",
        "panel_long": d / "panel_long.parquet",
        "audit": d / "linkage_audit.csv",
        "balance": d / "linkage_balance.csv",
        "metrics": m,
    }
    result.panel.to_parquet(paths["panel"], index=False)
    result.panel_long.to_parquet(paths["panel_long"], index=False)
    result.audit.to_csv(paths["audit"], index=False)
    result.balance.to_csv(paths["balance"], index=False)
    m.write_text(json.dumps(result.metrics, indent=2, sort_keys=True) + "\n")
    return paths
