"""Trust context onto the panel: resolve catchment trusts to panel codes, merge, audit every row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputFileError
from ._read import (
    ContextFile,
    ContextFiles,
    catchment_table,
    numbers,
    read_context_folder,
    weighted,
)

PREFIX = "context."
AUDIT_COLUMNS = ["file", "row", "trust_code", "area_code", "share", "fate", "mapped_to", "reason"]
#: Scores given a decile among acute trusts (1 = the most deprived tenth).
DECILE_OF = ("imd2019_score", "imd2025_score")


@dataclass
class ContextResult:
    """The panel with ``context.*`` columns, the audit of every context row, the per-trust table and metrics."""

    panel: pd.DataFrame
    audit: pd.DataFrame
    trusts: pd.DataFrame
    metrics: dict[str, Any]
    labels: dict[str, str] = field(default_factory=dict)


def deciles(values: pd.Series) -> pd.Series:
    """Decile of each value among those given, 1 = highest (most deprived) tenth, 10 = lowest."""
    v = values.dropna()
    rank = v.rank(ascending=False, method="min")
    return (np.floor((rank - 1) * 10 / len(v)) + 1).astype(int).reindex(values.index).astype("Int64")


def _resolve_codes(codes: list[str], panel_codes: set[str], resolve: Callable[[str], str | None]) -> dict[str, str]:
    out = {}
    for c in codes:
        target = c if c in panel_codes else (resolve(c) or c)
        out[c] = target
    return out


def catchment_values(files: ContextFiles) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """Per catchment trust, every area-score value (share-weighted); the catchment rows with how each was scored."""
    catch = catchment_table(files.catchment[0])
    how = pd.Series("", index=catch.index)
    parts, labels = [], {}
    for cf in files.areas:
        vals, h = weighted(catch, cf)
        parts.append(vals)
        how = how.where(how == "", how + "; ") + h
        labels.update({PREFIX + v.name: v.label for v in cf.layout.values})
    per_trust = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=catch["trust_code"].unique())
    return per_trust, catch.assign(how=how.to_numpy()), labels


def _combine(per_trust: pd.DataFrame, target: dict[str, str]) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Catchment trusts that became one panel trust: equal-weight mean (populations are not in the file)."""
    mapped = per_trust.assign(org_code=[target[c] for c in per_trust.index])
    groups = mapped.groupby("org_code").apply(lambda g: sorted(g.index), include_groups=False).to_dict()
    return mapped.groupby("org_code").mean(), {k: v for k, v in groups.items() if len(v) > 1}


def _catchment_audit(catch: pd.DataFrame, target: dict[str, str], panel_codes: set[str],
                     combined: dict[str, list[str]]) -> pd.DataFrame:
    to = catch["trust_code"].map(target)
    in_panel = to.isin(panel_codes)
    reason = catch["how"].astype(str)
    succ = to != catch["trust_code"]
    reason = reason.where(~succ, reason + "; trust " + catch["trust_code"] + " is now " + to)
    comb = to.map(lambda t: ", ".join(combined.get(t, [])))
    reason = reason.where(comb == "", reason + "; catchments of " + comb + " averaged with equal weight")
    reason = reason.where(in_panel, reason + "; trust not in the panel")
    return pd.DataFrame({"file": catch["file"], "row": catch["row"], "trust_code": catch["trust_code"],
                         "area_code": catch["area_code"], "share": catch["share"],
                         "fate": np.where(in_panel, "used", "not_in_panel"), "mapped_to": to, "reason": reason})


def _no_catchment_rows(panel: pd.DataFrame, with_catchment: set[str], what: str) -> pd.DataFrame:
    orgs = panel.drop_duplicates("org_code").sort_values("org_code")
    orgs = orgs[~orgs["org_code"].isin(with_catchment)]
    types = orgs["trust_type"].astype(str) if "trust_type" in orgs else pd.Series("", index=orgs.index)
    return pd.DataFrame({"file": "", "row": pd.array([pd.NA] * len(orgs), dtype="Int64"),
                         "trust_code": orgs["org_code"].astype(str), "area_code": "", "share": np.nan,
                         "fate": "no_catchment", "mapped_to": orgs["org_code"].astype(str),
                         "reason": "panel trust (" + types + f") has no catchment in {what}; its context is missing"})


def trust_values(cf: ContextFile, panel: pd.DataFrame, resolve: Callable[[str], str | None]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A trust(-year) context file: its values keyed by panel code (and year), and its audit rows."""
    c = cf.layout.columns
    codes = cf.rows[c["trust"]].str.upper()
    panel_codes = set(panel["org_code"].astype(str))
    target = _resolve_codes(sorted(set(codes)), panel_codes, resolve)
    keys = pd.DataFrame({"org_code": codes.map(target).to_numpy()})
    if "year" in c:
        keys["year"] = numbers(cf, c["year"], lo=1990, hi=2100).astype(int)
    vals = pd.DataFrame({PREFIX + v.name: numbers(cf, v.column, allow_blank=True) for v in cf.layout.values})
    table = pd.concat([keys, vals], axis=1)
    on = list(keys.columns)
    dup = table.duplicated(on)
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputFileError(f"{dict(table.loc[i, on])} appears twice (after trust successions)", file=cf.path,
                             row=int(cf.rows["row"].iloc[i]))
    present = set(map(tuple, panel[on].astype({"org_code": str}).itertuples(index=False)))
    hit = np.array([tuple(r) in present for r in keys.itertuples(index=False)])
    audit = pd.DataFrame({"file": cf.path.name, "row": cf.rows["row"].to_numpy(), "trust_code": codes.to_numpy(),
                          "area_code": "", "share": np.nan, "fate": np.where(hit, "used", "not_in_panel"),
                          "mapped_to": keys["org_code"].to_numpy(),
                          "reason": np.where(hit, cf.layout.title, "no panel row for this trust" +
                                             (" and year" if "year" in c else ""))})
    return table, audit


def attach_context(panel: pd.DataFrame, folder: str | Path | None,
                   resolve: Callable[[str], str | None] = lambda c: None) -> ContextResult:
    """Add ``context.*`` columns to ``panel`` from the context files in ``folder``.

    Long because it is the one place where the three families meet the panel, in order: catchment
    values per trust (with the 2023 successors), deciles among all catchment trusts, the merge on
    the panel's codes (``resolve`` maps a 2022 code to its panel successor), trust(-year) values,
    then the audit rows of every catchment and value row and of panel trusts without a catchment.

    Parameters
    ----------
    panel
        The linked panel (``org_code``, ``year``, ``trust_type``, ...).
    folder
        The context folder (``data/raw/context``); ``None`` or absent: the panel unchanged, empty audit.
    resolve
        Code -> panel code of its successor (e.g. ``lambda c: registry.resolve(c).target``).
    """
    if folder is None or not Path(folder).is_dir():
        return ContextResult(panel, pd.DataFrame(columns=AUDIT_COLUMNS), pd.DataFrame(), {"context_files": 0})
    files = read_context_folder(folder)
    panel_codes = set(panel["org_code"].astype(str))
    out, audits, labels = panel.copy(), [], {}
    trusts = pd.DataFrame(index=pd.Index([], name="org_code"))
    if files.catchment:
        per_trust, catch, labels = catchment_values(files)
        target = _resolve_codes(list(per_trust.index), panel_codes, resolve)
        trusts, combined = _combine(per_trust, target)
        trusts.columns = [PREFIX + c for c in trusts.columns]
        for name in DECILE_OF:
            if PREFIX + name in trusts:
                trusts[PREFIX + name.replace("_score", "_decile")] = deciles(trusts[PREFIX + name])
        out = out.merge(trusts, left_on="org_code", right_index=True, how="left")
        audits += [_catchment_audit(catch, target, panel_codes, combined),
                   _no_catchment_rows(panel, set(trusts.index), files.catchment[0].path.name)]
    for cf in files.trust_values:
        table, audit = trust_values(cf, panel, resolve)
        labels.update({PREFIX + v.name: v.label for v in cf.layout.values})
        out = out.merge(table, on=[c for c in ("org_code", "year") if c in table.columns], how="left")
        audits.append(audit)
    audit = pd.concat(audits, ignore_index=True)[AUDIT_COLUMNS] if audits else pd.DataFrame(columns=AUDIT_COLUMNS)
    return ContextResult(out, audit, trusts, context_metrics(out, audit, files), labels)


def context_metrics(panel: pd.DataFrame, audit: pd.DataFrame, files: ContextFiles) -> dict[str, Any]:
    """Counts for ``metrics/linkage.json``: rows by fate, trusts carrying both IMD scores, trusts without catchment."""
    orgs = panel.drop_duplicates("org_code")
    both = [c for c in (PREFIX + "imd2019_score", PREFIX + "imd2025_score") if c in orgs]
    n_both = int(orgs[both].notna().all(axis=1).sum()) if len(both) == 2 else 0
    fates = audit["fate"].value_counts().sort_index()
    return {"context_files": len(files.catchment) + len(files.areas) + len(files.trust_values),
            "context_rows_by_fate": {str(k): int(v) for k, v in fates.items()},
            "context_trusts_with_both_imd": n_both,
            "context_trusts_without_catchment": sorted(audit.loc[audit["fate"] == "no_catchment", "trust_code"].tolist())}
