"""Tables in step reports for people: plain column names, formatted numbers, a cue when a table scrolls.

The step notebooks display pandas tables with the program's own column names
(``n_specs``, ``boot_kind``, ``p_value``) and raw floats (``8.242497e-01``).
When a step report is rendered, every header and index cell that is such a
name is replaced by words, and every number is printed with the precision a
reader needs (p-values to three decimals or "< 0.001", others to four
significant figures, whole numbers from 10,000 with thousands separators). The notebook itself
keeps the raw table for researchers.
"""

from __future__ import annotations

import math
import re

from ..vocab import FAMILY_TEXT
from .words import p_number

#: Column and row names used by the pipeline's tables, in words. Names not listed are turned into words
#: mechanically (underscores to spaces, known abbreviations spelt out), so a new column never shows raw.
FIELD_TEXT: dict[str, str] = {
    "n_specs": "specifications", "n_fitted": "fitted", "n_unsupported": "not fitted (unsupported)",
    "n_significant": "significant", "n_significant_dominant": "significant in the dominant direction",
    "null_mean_significant": "significant expected with no association (mean)",
    "null_mean_significant_dominant": "significant in the dominant direction expected with no association",
    "p_median": "p-value of the median estimate", "p_significant": "p-value of the number significant",
    "p_significant_dominant": "p-value of the number significant in the dominant direction",
    "median_estimate": "median estimate", "dominant_sign": "dominant direction", "draws": "permutation draws",
    "boot_kind": "bootstrap", "boot_weights": "bootstrap weights", "p_value_boot": "bootstrap p-value",
    "p_value": "p-value", "p_bh": "p-value (Benjamini-Hochberg)", "p_romano_wolf": "p-value (Romano-Wolf)",
    "ci_low": "interval from", "ci_high": "interval to", "std_error": "standard error", "estimate": "estimate",
    "estimate_std": "estimate (SD per SD)", "estimate_oriented": "estimate (oriented)",
    "n_obs": "trust-years", "n_entities": "trusts", "n_trusts": "trusts", "n_years": "years",
    "spec_id": "specification", "spec": "specification", "family": "design", "lag": "timing (years)",
    "sample_kind": "sample", "cov_type": "standard errors", "small_sample": "small-sample convention",
    "org_code": "organisation code", "org_name": "organisation", "org_kind": "kind of organisation",
    "trust_type": "trust type", "source_file": "file", "source_code": "code in file", "base_n": "answered (n)",
    "mapped_to": "mapped to", "merged_from": "combined from", "raw": "unadjusted",
    "romano_wolf": "Romano-Wolf", "bh": "Benjamini-Hochberg", "wcr": "restricted (WCR)",
    "wcu": "unrestricted (WCU)", "rademacher": "Rademacher", "webb": "Webb",
    "n_distinct": "distinct estimates", "n_duplicates": "repeats (counted once)",
    "share_significant": "share significant", "share_positive": "share above zero",
    "share_significant_bh": "share significant (Benjamini-Hochberg)",
    "share_significant_romano_wolf": "share significant (Romano-Wolf)",
    "share_significant_positive": "share significant, above zero", "share_significant_negative": "share significant, below zero",
    "median_estimate_within_std": "median estimate (within-trust SD per SD)", "joint_p": "joint test p-value",
    "duplicate_of": "same estimate as specification",
}
_WORDS = {"n": "number of", "p": "p", "ci": "interval", "sd": "SD", "se": "SE", "id": "id", "mde": "MDE"}
_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")
_NUMBER = re.compile(r"^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$", re.IGNORECASE)
_QUOTED = re.compile(r"'([a-z][a-z0-9_]*\.[a-z0-9_]+)'")
_P_HEAD = re.compile(r"\bp-value|^p\b", re.IGNORECASE)
_SHARE_HEAD = re.compile(r"^share\b", re.IGNORECASE)


def plain_name(text: str) -> str:
    """A program name in words (``n_specs`` -> ``specifications``); other text unchanged."""
    t = text.strip()
    if t in FIELD_TEXT:
        return FIELD_TEXT[t]
    if _NAME.match(t):
        return " ".join(_WORDS.get(w, w) for w in t.split("_"))
    return text


def plain_number(text: str, p_value: bool = False, share: bool = False) -> str:
    """A raw number in print form: ``8.242497e-01`` -> ``0.8242``; as a p-value ``0.824`` or ``< 0.001``; as a share
    ``10.8%``."""
    t = text.strip()
    if not _NUMBER.match(t):
        return text
    x = float(t)
    if not math.isfinite(x):
        return text
    if p_value and 0 <= x <= 1:
        return p_number(x)
    if share and 0 <= x <= 1:
        return f"{100 * x:.1f}%"
    if x == int(x) and "e" not in t.lower() and "." not in t:
        return t if abs(x) < 10_000 else f"{int(x):,}"  # years and small counts as they are
    if x == 0:
        return "0"
    if abs(x) < 1e-4:
        return f"{x:.1e}"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    import numpy as np

    return np.format_float_positional(x, precision=4, unique=False, fractional=False, trim="-")


def _words(text: str, labels: dict[str, str]) -> str:
    """A cell's text with design codes, measure names and program names in words."""
    t = text.strip()
    if t in FAMILY_TEXT:
        return FAMILY_TEXT[t]
    if t in labels:
        return labels[t]
    text = _QUOTED.sub(lambda m: f"“{labels[m.group(1)]}”" if m.group(1) in labels else m.group(0), text)
    return plain_name(text)


def humanise_tables(soup) -> None:
    """Rewrite every table in ``soup`` (BeautifulSoup) in place: plain names, formatted numbers."""
    from ..catalogue import load_catalogue

    labels = {name: m.label for name, m in load_catalogue().measures.items()}
    for table in soup.find_all("table"):
        for th in table.select("thead th"):
            if th.string is not None:
                th.string.replace_with(_words(str(th.string), labels))
        p_cols = _p_columns(table)  # from the headers in words ("p-value")
        share_cols = _p_columns(table, _SHARE_HEAD)  # "share significant" and the like: per cent
        for tr in table.find_all("tr"):
            if tr.parent is not None and tr.parent.name == "thead":
                continue
            col = 0
            for cell in tr.find_all(["td", "th"], recursive=False):
                if cell.string is not None:
                    text = plain_number(str(cell.string), col in p_cols or (cell.name == "td" and _row_is_p(tr)),
                                        share=col in share_cols)
                    cell.string.replace_with(_words(text, labels))
                col += int(cell.get("colspan", 1))


def _p_columns(table, head: re.Pattern = _P_HEAD) -> set[int]:
    """Column positions whose header says they hold p-values, or what ``head`` matches (last header row)."""
    rows = table.find("thead").find_all("tr") if table.find("thead") else []
    if not rows:
        return set()
    out, col = set(), 0
    for cell in rows[-1].find_all(["th", "td"], recursive=False):
        if head.search(cell.get_text(" ", strip=True)):
            out.add(col)
        col += int(cell.get("colspan", 1))
    return out


def _row_is_p(tr) -> bool:
    """Whether a row's own header says it holds p-values (transposed tables such as the joint test)."""
    th = tr.find("th")
    return bool(th is not None and _P_HEAD.search(th.get_text(" ", strip=True)))
