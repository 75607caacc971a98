"""The one tidy contract passed between pipeline stages.

Every reader returns a long table with exactly one row per
(organisation, survey year, canonical measure, source file):

=============  ===========================================================
column         meaning
=============  ===========================================================
org_code       organisation code as published (ODS code, upper case)
year           survey year (int); Staff Survey fieldwork Sep-Dec of that
               year, Inpatient Survey = November discharges of that year
measure        canonical measure name from the catalogue, e.g. ``staff.stress``
value          value on the publisher's scale (float, NaN never appears: a
               suppressed cell is a quarantine row, not a NaN value)
base_n         number of respondents behind the value (float; NaN if the
               publisher gives none)
source_file    file name (not the full path) the value came from
source_code    the publisher's column / question / theme code, e.g. ``q11c_2019``
=============  ===========================================================

Readers additionally carry ``scale`` (``proportion`` 0-1, ``percent`` 0-100,
``score10`` 0-10, ``count``) and ``source_sheet``; they are dropped by
``linkage read`` output, which shows exactly :data:`TIDY_COLUMNS`.

The quarantine / audit table for rows that could not be used has
:data:`QUARANTINE_COLUMNS`.
"""

from __future__ import annotations

import pandas as pd

TIDY_COLUMNS: list[str] = [
    "org_code",
    "year",
    "measure",
    "value",
    "base_n",
    "source_file",
    "source_code",
]
EXTRA_COLUMNS: list[str] = ["scale", "source_sheet"]
QUARANTINE_COLUMNS: list[str] = [
    "source_file",
    "source_sheet",
    "row",
    "org_code",
    "year",
    "column",
    "raw_value",
    "reason",
]
from .vocab import SCALES  # noqa: E402,F401 - the scales are defined once, in vocab


def empty_tidy() -> pd.DataFrame:
    """An empty tidy frame with the right columns and dtypes."""
    return coerce_tidy(pd.DataFrame(columns=TIDY_COLUMNS + EXTRA_COLUMNS))


def empty_quarantine() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in QUARANTINE_COLUMNS})


def coerce_tidy(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with contract dtypes (does not validate content)."""
    out = df.copy()
    for col in TIDY_COLUMNS + EXTRA_COLUMNS:
        if col not in out.columns:
            out[col] = pd.NA
    out["org_code"] = out["org_code"].astype("string")
    out["year"] = pd.to_numeric(out["year"]).astype("Int64")
    out["measure"] = out["measure"].astype("string")
    out["value"] = pd.to_numeric(out["value"]).astype("float64")
    out["base_n"] = pd.to_numeric(out["base_n"]).astype("float64")
    for col in ("source_file", "source_code", "scale", "source_sheet"):
        out[col] = out[col].astype("string")
    extra = [c for c in out.columns if c not in TIDY_COLUMNS + EXTRA_COLUMNS]
    return out[TIDY_COLUMNS + EXTRA_COLUMNS + extra].reset_index(drop=True)


def validate_tidy(df: pd.DataFrame, *, what: str = "tidy table") -> pd.DataFrame:
    """Check the contract; raise ``ValueError`` naming the first problem."""
    missing = [c for c in TIDY_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{what} lacks contract columns {missing}; has {list(df.columns)}")
    if df["value"].isna().any():
        n = int(df["value"].isna().sum())
        raise ValueError(f"{what} has {n} rows with a missing value; suppressed cells belong in quarantine")
    key = ["org_code", "year", "measure", "source_file"]
    dup = df.duplicated(key, keep=False)
    if dup.any():
        first = df.loc[dup, key].iloc[0].to_dict()
        raise ValueError(f"{what} has {int(dup.sum())} rows duplicating key {key}, e.g. {first}")
    return df
