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
with the nearest candidates for the last two, so a reader can audit each row.

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
MATCH_STATUSES = ("matched", "ambiguous", "unmatched")


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

    @classmethod
    def from_ods(cls, path: str | Path) -> NameIndex:
        """Build from ``etr.csv`` or a folder holding it (searched recursively)."""
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
        return cls.from_frame(read_etr(p), source=str(p))

    def nearest(self, key: str, n: int = 3) -> tuple[tuple[str, str], ...]:
        """The ``n`` registry names closest to normalised ``key``, as ``(code, name)``."""
        close = difflib.get_close_matches(key, list(self.by_key), n=n, cutoff=0.5)
        return tuple((c, self.names[c]) for k in close for c in sorted(self.by_key[k]))[:n]

    def match(self, name: object) -> NameMatch:
        """Match one organisation name (see module docstring for the rules)."""
        text = "" if name is None else str(name).strip()
        key = normalise_name(text)
        codes = sorted(self.by_key.get(key, ()))
        if len(codes) == 1:
            return NameMatch(text, "matched", codes[0])
        if codes:
            return NameMatch(text, "ambiguous", None, tuple((c, self.names[c]) for c in codes))
        return NameMatch(text, "unmatched", None, self.nearest(key))
