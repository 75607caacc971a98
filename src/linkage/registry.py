"""Organisation registry: NHS trust codes, successions, closures and trust types.

The registry answers, for any organisation code seen in a survey file:

* is it a known NHS trust code (:meth:`Registry.is_known`)?
* what is it *as of the reference date* (:meth:`Registry.resolve`): itself, a
  successor reached through a chain of mergers, or a split into several
  successors that needs an explicit rule;
* what kind of trust is it (:meth:`Registry.trust_type`): ``acute``,
  ``acute_specialist``, ``mental_health``, ``community``, ``ambulance``,
  ``unknown`` (a trust without a usable category) or ``non_trust``.

Sources (found in ``ods_dir`` by name):

``etr.csv``
    NHS ODS "all NHS trusts" file in the publisher's headerless standard layout:
    column 0 code, 1 name, 2 national grouping (region), 3 high-level health
    geography (ICB), 4-8 address lines, 9 postcode, 10 open date (YYYYMMDD),
    11 close date (YYYYMMDD or blank), then further ODS fields (27-29 columns).
``trust_successions.csv``
    ``old_code,new_code,date`` (ISO date), all organisation types, up to the
    file's last date.
``trust_types*.csv``
    ``trust_code,primary_category`` (CQC primary inspection category).
``trusts_*regions*.csv`` (optional)
    ``nhs_trust22_code,nhs_trust22_name,nhs_region21_nhs_code,...,nhs_region21_name,status``:
    names of 2022 trusts that are no longer in ``etr.csv``, and the NHS region of each
    2022 trust (code and name). A trust the file does not list takes the region code of
    its ``etr.csv`` row (column 2), named from the file when the code appears there;
    the ICB is always ``etr.csv`` column 3 (a code: the ODS files carry no ICB names).

Local data kept in the repository (``src/linkage/orgdata``):

``ods_overrides.csv``
    ``old_code,new_code,date,action,note,source``.  ``action`` is ``add`` (a
    succession missing from the ODS file, e.g. a 2023 merger), ``ignore``
    (drop a specific ODS succession row judged wrong) or ``split_assign`` (for
    a code with several successors, the one to use).  Every row documents its
    evidence.
``type_overrides.csv``
    ``trust_code,trust_type,note,source``: a trust type where the CQC category
    is blank or the trust is missing from the types file.

See ``docs/linkage.md`` for the rules and the evidence of every override.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import InputFileError, LinkageError
from .vocab import TRUST_TYPES

ORGDATA_DIR = Path(__file__).resolve().parent / "orgdata"
DEFAULT_ODS_OVERRIDES = ORGDATA_DIR / "ods_overrides.csv"
DEFAULT_TYPE_OVERRIDES = ORGDATA_DIR / "type_overrides.csv"

# CQC primary inspection category (lower case, prefix) -> trust type.
_CATEGORY_RULES: tuple[tuple[str, str], ...] = (
    ("acute hospital - nhs non-specialist", "acute"),
    ("acute hospital - nhs specialist", "acute_specialist"),
    ("mental health", "mental_health"),
    ("community health", "community"),
    ("ambulance", "ambulance"),
)

ETR_MIN_COLUMNS = 12
_CODE_RE = re.compile(r"^[A-Z0-9]{3,5}$")
OVERRIDE_COLUMNS = ["old_code", "new_code", "date", "action", "note", "source"]
OVERRIDE_ACTIONS = ("add", "ignore", "split_assign")
TYPE_OVERRIDE_COLUMNS = ["trust_code", "trust_type", "note", "source"]


class RegistryError(LinkageError):
    """The organisation files (or overrides) are inconsistent."""


def classify_category(category: str | None) -> str:
    """Map a CQC primary inspection category to a trust type.

    Parameters
    ----------
    category
        Text such as ``"Acute hospital - NHS non-specialist"``.  Blank or
        missing gives ``"unknown"``.

    Returns
    -------
    str
        One of :data:`TRUST_TYPES` except ``non_trust``.

    Raises
    ------
    ValueError
        For a non-blank category no rule recognises (the caller turns it into a
        :class:`RegistryError` naming the file).
    """
    if category is None or (isinstance(category, float) and pd.isna(category)):
        return "unknown"
    text = str(category).strip().lower()
    if not text:
        return "unknown"
    for prefix, kind in _CATEGORY_RULES:
        if text.startswith(prefix):
            return kind
    raise ValueError(f"unrecognised CQC primary category {category!r}")


@dataclass(frozen=True)
class Resolution:
    """Where one code ends up as of the registry's reference date.

    Attributes
    ----------
    code
        The code asked about.
    status
        ``self`` (no succession applies), ``succession`` (single successor,
        possibly through a chain), ``split`` (several successors; see
        ``candidates``) or ``unknown`` (not an NHS trust code the registry
        knows).
    target
        Final code for ``self``/``succession`` (the split-assigned code for a
        split with an override assignment), else ``None``.
    chain
        Codes visited, starting with ``code`` (for a split: up to the code that
        splits).
    ceased
        Date the input code itself stopped existing (first succession date),
        or ``None``.
    candidates
        For a split: the possible final codes (sorted).
    split_code, split_date
        For a split: the code that splits and the date.
    assigned_by
        For a split with an assignment: ``"override"`` (from
        ``ods_overrides.csv``); otherwise ``""``.
    """

    code: str
    status: str
    target: str | None
    chain: tuple[str, ...] = ()
    ceased: date | None = None
    candidates: tuple[str, ...] = ()
    split_code: str | None = None
    split_date: date | None = None
    assigned_by: str = ""

    @property
    def detail(self) -> str:
        """A short human-readable account, e.g. ``RA4->RH5 (2023-04-01)``."""
        if self.status == "split":
            return (
                f"{'->'.join(self.chain)} splits on {self.split_date} into "
                f"[{', '.join(self.candidates)}]"
            )
        if self.status == "succession":
            return f"{'->'.join(self.chain)} (from {self.ceased})"
        return ""


@dataclass
class Registry:
    """Organisation codes, their successors as of ``reference_date`` and types.

    Build with :func:`build_registry`.  Tables are plain DataFrames so a
    notebook can show them.

    Attributes
    ----------
    reference_date
        Successions dated on or before this date are applied.
    orgs
        One row per known trust code: ``code, name, open_date, close_date,
        primary_category, trust_type, type_source, in_etr, listed_in, region_code,
        region_name, region_source, icb_code`` (``region_source``: ``regions`` file,
        ``etr`` or ``""`` when neither gives a region).
    successions
        Applied successions: ``old_code, new_code, date, source, note``.
    pending
        Successions dated after ``reference_date`` (not applied, listed).
    anomalies
        Oddities found in the ODS files and how they were handled:
        ``kind, old_code, new_code, date, detail``.
    split_assignments
        ``old_code -> new_code`` from ``split_assign`` override rows.
    files
        The files read (name -> path).
    """

    reference_date: date
    orgs: pd.DataFrame
    successions: pd.DataFrame
    pending: pd.DataFrame
    anomalies: pd.DataFrame
    split_assignments: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    _succ: dict[str, list[tuple[str, date]]] = field(default_factory=dict, repr=False)
    _org_index: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    _cache: dict[str, Resolution] = field(default_factory=dict, repr=False)
    _pending_codes: set[str] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        succ: dict[str, list[tuple[str, date]]] = {}
        s = self.successions
        for old, new, when in zip(_values(s["old_code"]), _values(s["new_code"]), _values(s["date"]), strict=True):
            succ.setdefault(old, []).append((new, when))
        self._succ = succ
        self._org_index = _records_by_code(self.orgs)
        self._pending_codes = set(self.pending["old_code"]) if len(self.pending) else set()
        self._check_cycles()

    # ------------------------------------------------------------------ queries
    def is_known(self, code: str) -> bool:
        """True if ``code`` is a listed trust code or has a succession (applied or pending)."""
        code = str(code).strip().upper()
        return code in self._org_index or code in self._succ or code in self._pending_codes

    def resolve(self, code: str) -> Resolution:
        """Follow successions from ``code`` as of the reference date.

        Parameters
        ----------
        code
            Organisation code as published.

        Returns
        -------
        Resolution
            ``status`` tells whether the code maps to itself, to a successor,
            to several successors (split) or is unknown.
        """
        code = str(code).strip().upper()
        if code in self._cache:
            return self._cache[code]
        res = self._resolve(code)
        self._cache[code] = res
        return res

    def _resolve(self, code: str) -> Resolution:
        if not self.is_known(code):
            return Resolution(code=code, status="unknown", target=None, chain=(code,))
        chain = [code]
        ceased: date | None = None
        current = code
        while current in self._succ:
            nexts = self._succ[current]
            if ceased is None:
                ceased = min(d for _, d in nexts)
            if len(nexts) > 1:
                candidates = sorted({self.resolve(n).target or n for n, _ in nexts})
                split_date = min(d for _, d in nexts)
                assigned = self.split_assignments.get(current)
                if assigned is not None:
                    if assigned not in {n for n, _ in nexts} and assigned not in candidates:
                        raise RegistryError(
                            f"split_assign override maps {current} to {assigned}, which is not one "
                            f"of its successors {sorted(n for n, _ in nexts)}: fix "
                            f"src/linkage/orgdata/ods_overrides.csv"
                        )
                    final = self.resolve(assigned)
                    target = final.target if final.status != "split" else None
                    return Resolution(
                        code=code,
                        status="split" if target is None else "succession",
                        target=target,
                        chain=tuple(chain) + final.chain,
                        ceased=ceased,
                        candidates=tuple(candidates),
                        split_code=current,
                        split_date=split_date,
                        assigned_by="override",
                    )
                return Resolution(
                    code=code,
                    status="split",
                    target=None,
                    chain=tuple(chain),
                    ceased=ceased,
                    candidates=tuple(candidates),
                    split_code=current,
                    split_date=split_date,
                )
            current = nexts[0][0]
            chain.append(current)
        if len(chain) == 1:
            return Resolution(code=code, status="self", target=code, chain=(code,))
        return Resolution(
            code=code, status="succession", target=current, chain=tuple(chain), ceased=ceased
        )

    def successors(self, code: str) -> list[tuple[str, date]]:
        """Direct successors of ``code`` applied as of the reference date (``[(new_code, date)]``)."""
        return list(self._succ.get(str(code).strip().upper(), []))

    def trust_type(self, code: str) -> str:
        """Trust type of ``code`` itself (not of its successor); ``non_trust`` if unknown."""
        rec = self._org_index.get(str(code).strip().upper())
        if rec is None:
            return "non_trust"
        return rec["trust_type"]

    def listed_in(self, code: str) -> str:
        """Where the registry knows ``code`` from: ``etr``, ``types``, ``regions``, ``successions`` or ``""``."""
        rec = self._org_index.get(str(code).strip().upper())
        return "" if rec is None else str(rec.get("listed_in", ""))

    def region(self, code: str) -> dict[str, str]:
        """NHS region and ICB of ``code`` itself: ``region_code, region_name, region_source,
        icb_code`` (empty strings when the files give none)."""
        rec = self._org_index.get(str(code).strip().upper()) or {}
        return {k: str(rec.get(k) or "") for k in REGION_FIELDS}

    def name(self, code: str) -> str | None:
        """Registry name of ``code`` (ODS name, upper case as published) or ``None``."""
        rec = self._org_index.get(str(code).strip().upper())
        if rec is None or pd.isna(rec["name"]) or not rec["name"]:
            return None
        return rec["name"]

    def close_date(self, code: str) -> date | None:
        """Close date of ``code`` from ``etr.csv`` (``None`` if open or not listed)."""
        rec = self._org_index.get(str(code).strip().upper())
        if rec is None or rec["close_date"] is None or pd.isna(rec["close_date"]):
            return None
        return rec["close_date"]

    def open_trusts(
        self, on: date | str | None = None, types: list[str] | None = None
    ) -> pd.DataFrame:
        """Trusts from ``etr.csv`` open on a date (default: the reference date).

        Parameters
        ----------
        on
            The date; ``None`` means the reference date.
        types
            Keep only these trust types (``None``: all).
        """
        on = _as_date(on) if on is not None else self.reference_date
        o = self.orgs[self.orgs["in_etr"]]
        opened = o["open_date"].map(lambda d: d is not None and not pd.isna(d) and d <= on)
        not_closed = o["close_date"].map(lambda d: d is None or pd.isna(d) or d >= on)
        out = o[opened & not_closed]
        if types is not None:
            out = out[out["trust_type"].isin(types)]
        return out.reset_index(drop=True)

    # ----------------------------------------------------------------- checks
    def _check_cycles(self) -> None:
        state: dict[str, int] = {}
        for start in list(self._succ):
            if state.get(start) == 2:
                continue
            stack: list[tuple[str, int]] = [(start, 0)]
            path: list[str] = []
            while stack:
                node, idx = stack.pop()
                if idx == 0:
                    if state.get(node) == 1:
                        cyc = path[path.index(node) :] + [node]
                        raise RegistryError(
                            f"succession cycle {' -> '.join(cyc)} in the applied successions "
                            f"(reference date {self.reference_date}): add an 'ignore' row for one "
                            f"link to src/linkage/orgdata/ods_overrides.csv or move "
                            f"link.reference_date"
                        )
                    if state.get(node) == 2:
                        continue
                    state[node] = 1
                    path.append(node)
                nexts = self._succ.get(node, [])
                if idx < len(nexts):
                    stack.append((node, idx + 1))
                    stack.append((nexts[idx][0], 0))
                else:
                    state[node] = 2
                    path.pop()


# ---------------------------------------------------------------------- reading
def _as_date(value: Any) -> date:
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip())


def _parse_yyyymmdd(text: str, *, file: Path, row: int, column: str) -> date | None:
    text = str(text).strip()
    if not text:
        return None
    if not re.fullmatch(r"\d{8}", text):
        raise InputFileError(
            f"expected a YYYYMMDD date, got {text!r}", file=file, row=row, column=column
        )
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise InputFileError(
            f"not a valid date: {text!r}", file=file, row=row, column=column
        ) from None


def read_etr(path: str | Path) -> pd.DataFrame:
    """Read the ODS ``etr.csv`` (headerless standard layout).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    DataFrame
        ``code, name, region, icb, postcode, open_date, close_date`` (dates as
        :class:`datetime.date` or ``None``).

    Raises
    ------
    InputFileError
        If the file has a header row, too few columns, a malformed code or
        date, or duplicate codes.
    """
    path = Path(path)
    raw = pd.read_csv(path, header=None, dtype=str, keep_default_na=False)
    if raw.shape[1] < ETR_MIN_COLUMNS:
        raise InputFileError(
            f"expected the ODS standard layout with at least {ETR_MIN_COLUMNS} columns "
            f"(code, name, region, ICB, 5 address lines, postcode, open date, close date), "
            f"found {raw.shape[1]}",
            file=path,
        )
    first = str(raw.iat[0, 0])
    if not _CODE_RE.fullmatch(first.strip().upper()):
        raise InputFileError(
            f"first cell {first!r} is not an ODS code; etr.csv is published without a header row",
            file=path,
            row=1,
        )
    rows = []
    for i, r in enumerate(raw.itertuples(index=False), start=1):
        code = str(r[0]).strip().upper()
        if not _CODE_RE.fullmatch(code):
            raise InputFileError(
                f"malformed organisation code {r[0]!r}", file=path, row=i, column="1"
            )
        rows.append(
            {
                "code": code,
                "name": str(r[1]).strip(),
                "region": str(r[2]).strip(),
                "icb": str(r[3]).strip(),
                "postcode": str(r[9]).strip(),
                "open_date": _parse_yyyymmdd(r[10], file=path, row=i, column="11"),
                "close_date": _parse_yyyymmdd(r[11], file=path, row=i, column="12"),
            }
        )
    out = pd.DataFrame(rows)
    dup = out["code"].duplicated(keep=False)
    if dup.any():
        raise InputFileError(
            f"{int(dup.sum())} rows share codes {sorted(out.loc[dup, 'code'].unique())}", file=path
        )
    return out


def read_successions(path: str | Path) -> pd.DataFrame:
    """Read ``old_code,new_code,date`` successions (ISO dates)."""
    path = Path(path)
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ("old_code", "new_code", "date") if c not in df.columns]
    if missing:
        raise InputFileError(f"lacks columns {missing}; has {list(df.columns)}", file=path)
    df = df[["old_code", "new_code", "date"]].copy()
    df["old_code"] = df["old_code"].str.strip().str.upper()
    df["new_code"] = df["new_code"].str.strip().str.upper()
    try:
        df["date"] = pd.to_datetime(df["date"], format="%Y-%m-%d").dt.date
    except ValueError as err:
        raise InputFileError(
            f"date column is not ISO YYYY-MM-DD: {err}", file=path, column="date"
        ) from None
    return df


def read_overrides(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Read a successions overrides table (see module docstring)."""
    where = "overrides" if isinstance(source, pd.DataFrame) else str(source)
    df = (
        source.copy()
        if isinstance(source, pd.DataFrame)
        else pd.read_csv(source, dtype=str, keep_default_na=False)
    )
    missing = [c for c in ("old_code", "new_code", "date", "action") if c not in df.columns]
    if missing:
        raise InputFileError(f"lacks columns {missing}; expected {OVERRIDE_COLUMNS}", file=where)
    for c in ("note", "source"):
        if c not in df.columns:
            df[c] = ""
    df = df[OVERRIDE_COLUMNS].copy()
    df["old_code"] = df["old_code"].astype(str).str.strip().str.upper()
    df["new_code"] = df["new_code"].astype(str).str.strip().str.upper()
    df["action"] = df["action"].astype(str).str.strip()
    bad = sorted(set(df["action"]) - set(OVERRIDE_ACTIONS))
    if bad:
        raise InputFileError(
            f"unknown action(s) {bad}; allowed {list(OVERRIDE_ACTIONS)}",
            file=where,
            column="action",
        )
    try:
        df["date"] = [_as_date(d) for d in df["date"]]
    except ValueError as err:
        raise InputFileError(
            f"date is not ISO YYYY-MM-DD: {err}", file=where, column="date"
        ) from None
    undocumented = df[
        (df["note"].astype(str).str.strip() == "") | (df["source"].astype(str).str.strip() == "")
    ]
    if len(undocumented):
        raise InputFileError(
            f"{len(undocumented)} override row(s) lack a note or source "
            f"(e.g. {undocumented.iloc[0]['old_code']}->{undocumented.iloc[0]['new_code']}); "
            f"every override must document its evidence",
            file=where,
        )
    return df.reset_index(drop=True)


def read_type_overrides(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Read trust type overrides ``trust_code,trust_type,note,source``."""
    where = "type overrides" if isinstance(source, pd.DataFrame) else str(source)
    df = (
        source.copy()
        if isinstance(source, pd.DataFrame)
        else pd.read_csv(source, dtype=str, keep_default_na=False)
    )
    missing = [c for c in ("trust_code", "trust_type") if c not in df.columns]
    if missing:
        raise InputFileError(
            f"lacks columns {missing}; expected {TYPE_OVERRIDE_COLUMNS}", file=where
        )
    for c in ("note", "source"):
        if c not in df.columns:
            df[c] = ""
    df = df[TYPE_OVERRIDE_COLUMNS].copy()
    df["trust_code"] = df["trust_code"].astype(str).str.strip().str.upper()
    bad = sorted(set(df["trust_type"]) - set(TRUST_TYPES))
    if bad:
        raise InputFileError(
            f"unknown trust_type(s) {bad}; allowed {list(TRUST_TYPES)}",
            file=where,
            column="trust_type",
        )
    dup = df["trust_code"].duplicated(keep=False)
    if dup.any():
        raise InputFileError(
            f"codes listed twice: {sorted(df.loc[dup, 'trust_code'].unique())}", file=where
        )
    return df.reset_index(drop=True)


def _find(ods_dir: Path, patterns: list[str], what: str, required: bool = True) -> Path | None:
    for pat in patterns:
        hits = sorted(ods_dir.rglob(pat))
        if len(hits) > 1:
            raise InputFileError(
                f"{len(hits)} candidate {what} files {[h.name for h in hits]}: keep one, or pass "
                f"the file explicitly",
                file=ods_dir,
            )
        if hits:
            return hits[0]
    if required:
        raise InputFileError(f"no {what} file matching {patterns}", file=ods_dir)
    return None


def _resolve_override_arg(value: Any, default: Path) -> Any:
    if isinstance(value, str) and value == "default":
        return default
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    return value


def _override_rows(
    value: Any, default: Path, reader: Any, key: list[str]
) -> tuple[pd.DataFrame | None, str]:
    """The override rows to apply and where they came from.

    ``"default"``: the packaged file; ``None``/``""``: none; a DataFrame: exactly those rows
    (tests, notebooks); a user's file: the packaged rows *plus* the user's, a user row
    replacing a packaged row with the same ``key`` (so a user may add and correct, and never
    needs a full copy of the packaged file).
    """
    src = _resolve_override_arg(value, default)
    if src is None:
        return None, ""
    if isinstance(src, pd.DataFrame) or Path(src).resolve() == default.resolve():
        return reader(src), _source_name(src)
    packaged, user = reader(default), reader(src)
    mine = set(user[key].itertuples(index=False, name=None))
    keep = [k not in mine for k in packaged[key].itertuples(index=False, name=None)]
    rows = pd.concat([packaged[pd.Series(keep, index=packaged.index, dtype=bool)], user], ignore_index=True)
    return rows, f"{default} + {src}"


ANOMALY_COLUMNS = ["kind", "old_code", "new_code", "date", "detail"]


def _anomaly(kind: str, old: str, new: str, when: date | None, detail: str) -> dict[str, Any]:
    return {"kind": kind, "old_code": old, "new_code": new, "date": when, "detail": detail}


@dataclass(frozen=True)
class _OdsFiles:
    """The ODS files :func:`build_registry` reads (``regions`` is optional)."""

    etr: Path
    successions: Path
    types: Path
    regions: Path | None


def _locate_files(
    ods_dir: Path,
    etr_file: str | Path | None,
    successions_file: str | Path | None,
    types_file: str | Path | None,
) -> _OdsFiles:
    """The explicit files where given, else the one file in ``ods_dir`` matching each name."""
    return _OdsFiles(
        etr=Path(etr_file) if etr_file else _find(ods_dir, ["etr.csv"], "etr.csv"),
        successions=(
            Path(successions_file)
            if successions_file
            else _find(ods_dir, ["trust_successions*.csv", "*succ*.csv"], "successions")
        ),
        types=Path(types_file)
        if types_file
        else _find(ods_dir, ["trust_types*.csv"], "trust types"),
        regions=_find(ods_dir, ["trusts_*regions*.csv"], "trust regions", required=False),
    )


def _ods_successions(path: Path) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The ODS successions (``source`` ``ods``) without rows naming a code as its own successor.

    Returns the successions and one ``self_succession_ignored`` anomaly per dropped row.
    """
    succ = read_successions(path)
    succ["source"] = "ods"
    succ["note"] = ""
    self_rows = succ[succ["old_code"] == succ["new_code"]]
    anomalies = [
        _anomaly(
            "self_succession_ignored",
            r.old_code,
            r.new_code,
            r.date,
            "code listed as its own successor",
        )
        for r in self_rows.itertuples(index=False)
    ]
    return succ[succ["old_code"] != succ["new_code"]], anomalies


def _apply_overrides(
    succ: pd.DataFrame, ov: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, str], list[dict[str, Any]]]:
    """Apply the ``ods_overrides`` rows to the ODS successions.

    ``ignore`` rows remove their ODS succession (one that matches nothing
    raises :class:`RegistryError`); ``split_assign`` rows give the split
    assignments; ``add`` rows append successions (``source`` ``override``)
    unless the ODS file already has the pair, in which case the ODS row is
    kept and an ``override_already_in_ods`` anomaly noted.

    Returns
    -------
    successions, split_assignments, anomalies
    """
    anomalies: list[dict[str, Any]] = []
    split_assign: dict[str, str] = {}
    for r in ov.itertuples(index=False):
        if r.action == "ignore":
            hit = (succ["old_code"] == r.old_code) & (succ["new_code"] == r.new_code)
            if not hit.any():
                raise RegistryError(
                    f"ods_overrides 'ignore' row {r.old_code}->{r.new_code} matches no ODS "
                    f"succession: remove it from the overrides file"
                )
            succ = succ[~hit]
            anomalies.append(
                _anomaly("ignored_by_override", r.old_code, r.new_code, r.date, r.note)
            )
        elif r.action == "split_assign":
            split_assign[r.old_code] = r.new_code
    adds = ov[ov["action"] == "add"]
    have = set(zip(succ["old_code"], succ["new_code"], strict=True))
    pairs = list(zip(adds["old_code"], adds["new_code"], strict=True))
    anomalies += [
        _anomaly("override_already_in_ods", o, n, None, "kept the ODS row")
        for o, n in pairs
        if (o, n) in have
    ]
    new_pair = [(o, n) not in have for o, n in pairs]
    adds = adds[pd.Series(new_pair, index=adds.index, dtype=bool)]
    add_rows = adds[["old_code", "new_code", "date", "note"]].assign(source="override")
    succ = pd.concat([succ, add_rows[succ.columns]], ignore_index=True)
    return succ, split_assign, anomalies


def _keep_earliest_dates(succ: pd.DataFrame) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Successions sorted, keeping the earliest date of a pair listed with several dates.

    Returns the successions and one ``duplicate_pair_later_date_dropped``
    anomaly per dropped row.
    """
    succ = succ.sort_values(["old_code", "new_code", "date"]).reset_index(drop=True)
    dups = succ.duplicated(["old_code", "new_code"], keep="first")
    anomalies = [
        _anomaly(
            "duplicate_pair_later_date_dropped",
            r.old_code,
            r.new_code,
            r.date,
            "same pair listed with an earlier date; earliest kept",
        )
        for r in succ[dups].itertuples(index=False)
    ]
    return succ[~dups], anomalies


@dataclass(frozen=True)
class _TrustTypes:
    """Per code: the CQC primary category, the trust type and where the type came from."""

    category: dict[str, str]
    trust_type: dict[str, str]
    type_source: dict[str, str]


def _cqc_trust_types(types_path: Path) -> _TrustTypes:
    """Trust types from the CQC primary inspection categories (``type_source`` ``cqc_category``).

    Raises :class:`RegistryError` listing an example if a category is not recognised.
    """
    types = pd.read_csv(types_path, dtype=str, keep_default_na=False)
    if not {"trust_code", "primary_category"} <= set(types.columns):
        raise InputFileError(
            f"expected columns trust_code, primary_category; has {list(types.columns)}",
            file=types_path,
        )
    types["trust_code"] = types["trust_code"].str.strip().str.upper()
    cat = dict(zip(types["trust_code"], types["primary_category"], strict=True))
    unrecognised = {}
    tmap: dict[str, str] = {}
    for code, c in cat.items():
        try:
            tmap[code] = classify_category(c)
        except ValueError:
            unrecognised[code] = c
    if unrecognised:
        raise RegistryError(
            f"{len(unrecognised)} trust(s) in {types_path.name} have an unrecognised CQC primary "
            f"category, e.g. {next(iter(unrecognised.items()))}: add them to "
            f"src/linkage/orgdata/type_overrides.csv"
        )
    return _TrustTypes(
        category=cat, trust_type=tmap, type_source=dict.fromkeys(tmap, "cqc_category")
    )


def _trust_types(
    types_path: Path, type_overrides: str | Path | pd.DataFrame | None, files: dict[str, str]
) -> _TrustTypes:
    """Trust types from the CQC categories, then the ``type_overrides`` rows
    (``type_source`` ``override``; records the overrides file in ``files``)."""
    types = _cqc_trust_types(types_path)
    rows, where = _override_rows(type_overrides, DEFAULT_TYPE_OVERRIDES, read_type_overrides, ["trust_code"])
    if rows is not None:
        files["type_overrides"] = where
        for r in rows.itertuples(index=False):
            types.trust_type[r.trust_code] = r.trust_type
            types.type_source[r.trust_code] = "override"
    return types


def _region_names(regions_path: Path | None) -> dict[str, str] | None:
    """2022 trust names by code from the optional regions file (``None`` if there is no
    such file or it lacks the ``nhs_trust22_code``/``nhs_trust22_name`` columns)."""
    if regions_path is None:
        return None
    reg = pd.read_csv(regions_path, dtype=str, keep_default_na=False)
    if not {"nhs_trust22_code", "nhs_trust22_name"} <= set(reg.columns):
        return None
    return dict(zip(reg["nhs_trust22_code"].str.upper(), reg["nhs_trust22_name"], strict=True))


#: Region columns of ``Registry.orgs`` (and of the linked panel, see :func:`Registry.region`).
REGION_FIELDS = ("region_code", "region_name", "region_source", "icb_code")
_REGION_COLUMNS = ("nhs_trust22_code", "nhs_region21_nhs_code", "nhs_region21_name")


def _trust_regions(regions_path: Path | None) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """From the optional regions file: ``{trust code: (region code, region name)}`` and
    ``{region code: region name}`` (both empty without the file or its region columns)."""
    if regions_path is None:
        return {}, {}
    reg = pd.read_csv(regions_path, dtype=str, keep_default_na=False)
    if not set(_REGION_COLUMNS) <= set(reg.columns):
        return {}, {}
    codes = reg["nhs_trust22_code"].str.strip().str.upper()
    rcode = reg["nhs_region21_nhs_code"].str.strip().str.upper()
    rname = reg["nhs_region21_name"].str.strip()
    by_trust = {c: (rc, rn) for c, rc, rn in zip(codes, rcode, rname, strict=True) if c and rc}
    names = {rc: rn for rc, rn in zip(rcode, rname, strict=True) if rc and rn}
    return by_trust, names


def _region_of(code: str, etr_row: Mapping[str, Any] | None,
               regions: tuple[dict[str, tuple[str, str]], dict[str, str]]) -> dict[str, str]:
    """Region and ICB of one code: the regions file first, then ``etr.csv`` (see the module notes)."""
    by_trust, names = regions
    icb = str(etr_row["icb"]) if etr_row is not None else ""
    if code in by_trust:
        rc, rn = by_trust[code]
        return {"region_code": rc, "region_name": rn, "region_source": "regions", "icb_code": icb}
    rc = str(etr_row["region"]).upper() if etr_row is not None else ""
    return {"region_code": rc, "region_name": names.get(rc, ""), "region_source": "etr" if rc else "",
            "icb_code": icb}


def _succession_dates(succ: pd.DataFrame) -> tuple[dict[str, date], dict[str, date]]:
    """Per code, the earliest date it appears as a successor (opened) and as a predecessor (ceased)."""
    opened: dict[str, date] = {}
    ceased: dict[str, date] = {}
    for old, new, when in zip(_values(succ["old_code"]), _values(succ["new_code"]), _values(succ["date"]),
                              strict=True):
        if old not in ceased or when < ceased[old]:
            ceased[old] = when
        if new not in opened or when < opened[new]:
            opened[new] = when
    return opened, ceased


def _values(column: pd.Series) -> list[Any]:
    """A column as a list of plain Python values (NaN where missing), without pandas' per-cell iteration."""
    return column.to_numpy(dtype=object).tolist()


def _records_by_code(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """``{code: row as a dict}``, the records ``frame.to_dict("records")`` gives, built from whole columns."""
    cols = list(frame.columns)
    rows = zip(*(_values(frame[c]) for c in cols), strict=True)
    return {rec["code"]: rec for rec in (dict(zip(cols, vals, strict=True)) for vals in rows)}


def _org_table(etr: pd.DataFrame, types: _TrustTypes, names: Mapping[str, str],
               applied: pd.DataFrame | None = None,
               regions: tuple[dict[str, tuple[str, str]], dict[str, str]] = ({}, {})) -> pd.DataFrame:
    """``Registry.orgs``: one row per code in ``etr.csv``, the types file, the regions file or the
    applied successions.

    A code that ``etr.csv`` no longer lists (an organisation dissolved before the current file)
    is still a known organisation when the successions name it: its open date is when it first
    succeeded another, its close date when it was first succeeded (``listed_in`` says where it came from).
    """
    applied = applied if applied is not None else pd.DataFrame(columns=["old_code", "new_code", "date"])
    opened, ceased = _succession_dates(applied)
    by_code = _records_by_code(etr)
    rows = []
    for code in sorted(set(by_code) | set(types.trust_type) | set(names) | set(opened) | set(ceased)):
        rec = by_code.get(code)
        in_etr = rec is not None
        listed = ("etr" if in_etr else "types" if code in types.trust_type else "regions" if code in names
                  else "successions")
        rows.append(
            {
                "code": code,
                "name": rec["name"] if in_etr else names.get(code, ""),
                "open_date": rec["open_date"] if in_etr else opened.get(code),
                "close_date": rec["close_date"] if in_etr else ceased.get(code),
                "primary_category": types.category.get(code, ""),
                "trust_type": types.trust_type.get(code, "unknown"),
                "type_source": types.type_source.get(code, "none"),
                "in_etr": in_etr,
                "listed_in": listed,
                **_region_of(code, rec, regions),
            }
        )
    return pd.DataFrame(rows)


def _note_unused_split_assignments(reg: Registry) -> None:
    """Add a ``split_assign_unused`` anomaly for each assigned code with fewer than two
    applied successors (e.g. the split is dated after the reference date)."""
    for old, new in reg.split_assignments.items():
        n_succ = len(reg._succ.get(old, []))
        if n_succ < 2:
            reg.anomalies.loc[len(reg.anomalies)] = {
                "kind": "split_assign_unused",
                "old_code": old,
                "new_code": new,
                "date": None,
                "detail": f"{old} has {n_succ} successor(s) as of {reg.reference_date}; "
                "assignment not needed",
            }


def _source_name(source: Any) -> str:
    return "DataFrame" if isinstance(source, pd.DataFrame) else str(source)


def _successions(
    path: Path, overrides: str | Path | pd.DataFrame | None, files: dict[str, str]
) -> tuple[pd.DataFrame, dict[str, str], list[dict[str, Any]]]:
    """All successions, applied and pending: the ODS file's, then the overrides, then
    the earliest date of each pair (records the overrides file in ``files``).

    Returns
    -------
    successions, split_assignments, anomalies
    """
    succ, anomalies = _ods_successions(path)
    split_assign: dict[str, str] = {}
    ov, where = _override_rows(overrides, DEFAULT_ODS_OVERRIDES, read_overrides, ["old_code", "new_code", "action"])
    if ov is not None:
        files["ods_overrides"] = where
        succ, split_assign, ov_anomalies = _apply_overrides(succ, ov)
        anomalies += ov_anomalies
    succ, dup_anomalies = _keep_earliest_dates(succ)
    return succ, split_assign, anomalies + dup_anomalies


def build_registry(
    ods_dir: str | Path,
    *,
    reference_date: date | str,
    overrides: str | Path | pd.DataFrame | None = "default",
    type_overrides: str | Path | pd.DataFrame | None = "default",
    etr_file: str | Path | None = None,
    successions_file: str | Path | None = None,
    types_file: str | Path | None = None,
) -> Registry:
    """Build the organisation registry from the ODS files.

    Parameters
    ----------
    ods_dir
        Folder holding ``etr.csv``, ``trust_successions.csv``,
        ``trust_types*.csv`` and optionally ``trusts_*regions*.csv`` (found
        recursively by name).
    reference_date
        Successions dated on or before this date are applied; codes map to
        their successor as of this date.
    overrides
        Successions overrides: ``"default"`` for the packaged
        ``src/linkage/orgdata/ods_overrides.csv``; a path to a user's file, whose rows are
        added to the packaged ones (a row with the same old_code, new_code and action
        replaces the packaged one); a DataFrame, used as the whole table; or
        ``None``/``""`` for none.
    type_overrides
        Trust type overrides, same conventions (``type_overrides.csv``; a user's row
        replaces the packaged row of the same trust_code).
    etr_file, successions_file, types_file
        Explicit files instead of searching ``ods_dir``.

    Returns
    -------
    Registry

    Raises
    ------
    InputFileError
        A file is missing or not in the expected layout.
    RegistryError
        Cycles in the successions, an unrecognised CQC category, an override
        that contradicts the data.

    Notes
    -----
    Handling of odd ODS rows (listed in ``Registry.anomalies``, never silent):
    a code succeeding itself is ignored; the same ``old -> new`` pair listed
    with several dates keeps the earliest date; a pair listed in the overrides
    with ``action=add`` that the ODS file already has keeps the ODS date.
    """
    ref = _as_date(reference_date)
    paths = _locate_files(Path(ods_dir), etr_file, successions_file, types_file)
    files = {
        "etr": str(paths.etr),
        "successions": str(paths.successions),
        "types": str(paths.types),
    }
    etr = read_etr(paths.etr)

    succ, split_assign, anomalies = _successions(paths.successions, overrides, files)
    types = _trust_types(paths.types, type_overrides, files)
    names = _region_names(paths.regions)
    if names is not None:
        files["regions"] = str(paths.regions)

    reg = Registry(
        reference_date=ref,
        orgs=_org_table(etr, types, names or {}, succ[succ["date"] <= ref], _trust_regions(paths.regions)),
        successions=succ[succ["date"] <= ref].reset_index(drop=True),
        pending=succ[succ["date"] > ref].reset_index(drop=True),
        anomalies=pd.DataFrame(anomalies, columns=ANOMALY_COLUMNS),
        split_assignments=split_assign,
        files=files,
    )
    _note_unused_split_assignments(reg)
    return reg
