"""Organisation names -> ODS codes, through the registry's names (``etr.csv``).

Some published files (NHS England's inpatient model outputs, hand-made
spreadsheets) name trusts but give no code.  :class:`NameIndex` matches such
names to ODS codes after a normalisation that ignores what varies between
publishers and not between organisations:

* case, punctuation and repeated spaces;
* ``&`` versus ``and``, and a leading ``The``;
* the suffixes ``NHS Foundation Trust``, ``NHS Trust``, ``Foundation Trust``,
  ``NHS FT``, ``FT``.

Every name gets one :class:`NameMatch`: ``matched`` (exactly one code has that
normalised name), ``ambiguous`` (several codes do) or ``unmatched`` (none),
with the nearest candidates for the last two, so a reader can audit each row;
an empty name is ``blank`` (not a name at all: a reader skips the row).

Renamed trusts are found through their other names: the names the ODS history
gives (the regions file's 2022 names, ``trusts_*regions*.csv``, beside
``etr.csv``) and the user's alias file (``data.name_aliases``, copied by acquire
into the registry folder as ``name_aliases.csv``; columns ``name,org_code``).

Public functions
----------------
normalise_name(text) -> str
NameIndex.from_frame(df) / NameIndex.from_ods(path) -> NameIndex
NameIndex.match(name) -> NameMatch
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .errors import InputFileError

_SUFFIXES = re.compile(
    r"\s+(nhs\s+foundation\s+trust|nhs\s+trust|foundation\s+trust|nhs\s+ft|nhs\s+f\s*t|ft|nhs)$"
)
MATCH_STATUSES = ("matched", "ambiguous", "unmatched", "blank")
ALIAS_COLUMNS = ("name", "org_code")
_CODE = re.compile(r"^[A-Z0-9]{3,5}$")


def normalise_name(text: object) -> str:
    """The comparable form of an organisation name.

    Examples
    --------
    >>> normalise_name("The Newcastle upon Tyne Hospitals NHS Foundation Trust")
    'newcastle upon tyne hospitals'
    >>> normalise_name("Guy's & St Thomas' NHS FT")
    'guys and st thomas'
    """
    if text is None or (isinstance(text, float) and pd.isna(text)):
        return ""
    s = str(text).lower().replace("&", " and ")
    s = re.sub(r"['\u2019`]", "", s)  # apostrophes join: guy's -> guys
    s = re.sub(r"[^a-z0-9]+", " ", s).strip()
    s = re.sub(r"^the\s+", "", s)
    prev = None
    while prev != s:  # "... NHS Foundation Trust" and a trailing "NHS" both go
        prev = s
        s = _SUFFIXES.sub("", s).strip()
    return s


@dataclass(frozen=True)
class NameMatch:
    """The fate of one name: status, the code if matched, and the nearest candidates."""

    name: str
    status: str
    org_code: str | None
    candidates: tuple[tuple[str, str], ...] = ()

    def candidates_text(self) -> str:
        """``"Name A (RXX); Name B (RYY)"`` for audits and messages."""
        return "; ".join(f"{n} ({c})" for c, n in self.candidates)


@dataclass
class NameIndex:
    """Normalised organisation names of the registry, for matching names to ODS codes.

    Attributes
    ----------
    by_key
        Normalised name -> codes having it.
    names
        Code -> the registry's own name.
    source
        Where the names came from (for messages).
    """

    by_key: dict[str, set[str]]
    names: dict[str, str]
    source: str = ""
    digest: str = field(default="")

    @classmethod
    def from_frame(cls, df: pd.DataFrame, *, source: str = "table") -> NameIndex:
        """Build from a table with columns ``code`` and ``name`` (e.g. :func:`linkage.registry.read_etr`)."""
        by_key: dict[str, set[str]] = {}
        names: dict[str, str] = {}
        for code, name in zip(df["code"].astype(str), df["name"].astype(str), strict=True):
            key = normalise_name(name)
            if key:
                by_key.setdefault(key, set()).add(code)
                names[code] = name
        h = hashlib.sha256("\n".join(f"{c}\t{n}" for c, n in sorted(names.items())).encode()).hexdigest()
        return cls(by_key=by_key, names=names, source=source, digest=h[:16])

    def with_aliases(self, aliases: dict[str, str], source: str) -> NameIndex:
        """A copy that also matches each alias name to its code (``{name: code}``)."""
        by_key = {k: set(v) for k, v in self.by_key.items()}
        for name, code in sorted(aliases.items()):
            key = normalise_name(name)
            if key:
                by_key.setdefault(key, set()).add(code)
        names = dict(self.names)
        for name, code in sorted(aliases.items()):
            names.setdefault(code, name)
        extra = "\n".join(f"{n}\t{c}" for n, c in sorted(aliases.items()))
        h = hashlib.sha256((self.digest + "\n" + extra).encode()).hexdigest()
        return NameIndex(by_key=by_key, names=names, source=f"{self.source} + {source}", digest=h[:16])

    @classmethod
    def from_ods(cls, path: str | Path) -> NameIndex:
        """Build from ``etr.csv`` or a folder holding it (searched recursively).

        Beside ``etr.csv``, the regions file's 2022 names and ``name_aliases*.csv`` are added as aliases.
        """
        from .registry import read_etr

        p = Path(path)
        if p.is_dir():
            found = sorted(p.rglob("etr.csv"))
            if not found:
                raise InputFileError(
                    "no etr.csv (the ODS trust list) here, so names cannot be matched to ODS codes; "
                    "put etr.csv in this folder", file=p,
                )
            p = found[0]
        index = cls.from_frame(read_etr(p), source=str(p))
        for regions in sorted(p.parent.glob("trusts_*regions*.csv")):
            index = index.with_aliases(region_names(regions), regions.name)
        for alias_file in sorted(p.parent.glob("name_aliases*.csv")):
            index = index.with_aliases(read_aliases(alias_file), alias_file.name)
        return index

    def nearest(self, key: str, n: int = 3) -> tuple[tuple[str, str], ...]:
        """The ``n`` registry names closest to normalised ``key``, as ``(code, name)``."""
        close = difflib.get_close_matches(key, list(self.by_key), n=n, cutoff=0.5)
        return tuple((c, self.names[c]) for k in close for c in sorted(self.by_key[k]))[:n]

    def match(self, name: object) -> NameMatch:
        """Match one organisation name (see module docstring for the rules)."""
        text = "" if name is None or (isinstance(name, float) and pd.isna(name)) else str(name).strip()
        key = normalise_name(text)
        if not key:
            return NameMatch(text, "blank", None)
        codes = sorted(self.by_key.get(key, ()))
        if len(codes) == 1:
            return NameMatch(text, "matched", codes[0])
        if codes:
            return NameMatch(text, "ambiguous", None, tuple((c, self.names[c]) for c in codes))
        return NameMatch(text, "unmatched", None, self.nearest(key))


def region_names(path: str | Path) -> dict[str, str]:
    """``{2022 name: code}`` from the ODS regions file (empty if it lacks the name columns)."""
    reg = pd.read_csv(path, dtype=str, keep_default_na=False)
    if not {"nhs_trust22_code", "nhs_trust22_name"} <= set(reg.columns):
        return {}
    return {n: c.strip().upper() for c, n in zip(reg["nhs_trust22_code"], reg["nhs_trust22_name"], strict=True)
            if n.strip() and c.strip()}


def read_aliases(path: str | Path) -> dict[str, str]:
    """``{name: code}`` from a user's alias CSV (columns ``name,org_code``); blank rows are skipped.

    Raises
    ------
    InputFileError
        Missing columns, a code that is not an ODS code, or one name given two codes - naming the row.
    """
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputFileError(f"not a readable CSV ({err})", file=path) from None
    missing = [c for c in ALIAS_COLUMNS if c not in df.columns]
    if missing:
        raise InputFileError(f"alias file needs columns {list(ALIAS_COLUMNS)}; missing {missing}, has {list(df.columns)}",
                             file=path)
    out: dict[str, str] = {}
    for i, (name, code) in enumerate(zip(df["name"], df["org_code"], strict=True), start=2):
        name, code = name.strip(), code.strip().upper()
        if not name and not code:
            continue
        if not name or not _CODE.fullmatch(code):
            raise InputFileError(f"row {i}: expected a name and an ODS code (3-5 letters or digits), "
                                 f"got name {name!r}, org_code {code!r}", file=path)
        if out.get(name, code) != code:
            raise InputFileError(f"row {i}: name {name!r} is given two codes ({out[name]}, {code})", file=path)
        out[name] = code
    return out
