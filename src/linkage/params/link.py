"""Section ``link`` (stage ``link``): trust identity, time alignment and the sample."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import Field, field_validator

from ..vocab import TrustType
from ._base import Section
from .userpath import UserPath


class LinkParams(Section):
    """Parameters of the ``link`` stage (trust identity, alignment, sample)."""

    reference_date: date = Field(
        date(2024, 4, 1),
        description="Organisations are mapped to their successor as of this date (ISO date); successions dated later are listed but not applied.",
    )
    merge_weight: Literal["respondents", "equal"] = Field(
        "respondents",
        description="How values of merged organisations combine: 'respondents' = base-weighted (respondent-weighted) mean; 'equal' = unweighted mean. Bases are summed either way; count measures are summed.",
    )
    split_rule: Literal["fail", "largest_successor", "drop"] = Field(
        "fail",
        description="What to do with rows of a code that split into several successors and has no assignment (ods_overrides.csv split_assign or link.split_assign): 'fail' stops naming the split; 'largest_successor' assigns to the successor with the largest median respondents in the input; 'drop' excludes the rows (audit reason split_dropped).",
    )
    split_assign: dict[str, str] = Field(
        default_factory=dict,
        description="Explicit successor for split codes, e.g. {RW6: RM3}; takes precedence over the overrides file and split_rule.",
    )
    trust_types: list[TrustType] = Field(
        default_factory=lambda: ["acute", "acute_specialist"],
        description="Trust types kept in the panel (sample restriction), judged on the successor as of the reference date; others are excluded with reason type_not_in_sample:<type>.",
    )
    successors: Literal["current", "as_published"] = Field(
        "current",
        description="'current' maps each organisation to its successor as of link.reference_date (mergers combined); 'as_published' keeps every organisation under the code it was published with (a study's own sample: no successor mapping, no merging).",
    )
    restrict_trust_types: bool = Field(
        True,
        description="If true, keep only organisations whose registry type (as of the reference date) is in link.trust_types; if false, keep every organisation the files give (a study's own sample), whatever its current type.",
    )
    staff_lag: int = Field(
        0,
        ge=0,
        le=5,
        description="Alignment: staff year t is linked to patient year t + staff_lag (0 = same survey year). The panel's year is the patient year; staff values sit at year - staff_lag (panel_long keeps source_year).",
    )
    respect_series_breaks: bool = Field(
        True,
        description="Exclude values from survey years before a measure's comparable_from year (measure catalogue, else link.series_start); reason series_break. If false they are kept and flagged before_series_start in panel_long.",
    )
    series_start: dict[str, int] = Field(
        default_factory=lambda: {"patient.*": 2020},
        description="First comparable year per measure name or 'prefix.*' pattern. Exact names override the measure catalogue; patterns apply to measures the catalogue does not know (default: no inpatient comparisons before 2020).",
    )
    survey_dates: dict[Literal["staff", "patient"], str] = Field(
        default_factory=lambda: {"staff": "09-01", "patient": "11-01"},
        description="Month-day (MM-DD) that dates survey year t for comparisons with succession and closure dates: Staff Survey fieldwork starts in September, the Inpatient Survey samples November discharges.",
    )
    closed_rule: Literal["keep", "exclude"] = Field(
        "keep",
        description="Organisations closed by the reference date without a successor: 'keep' their rows for years they were open; 'exclude' all their rows (reason closed). Rows dated after a closure are always excluded (reason closed).",
    )
    duplicate_rule: Literal["fail", "first"] = Field(
        "fail",
        description="Same organisation, year and measure from two source files of one source: 'fail' stops; 'first' keeps the first row in input order and excludes the others (reason duplicate).",
    )
    require_counterpart: bool = Field(
        False,
        description="If true, keep only trust-years (after alignment) that have values from both sources; other rows are excluded with reason no_counterpart_that_year. If false the audit column counterpart still says whether the other source has that trust-year.",
    )
    headline_staff: str = Field(
        "staff.stress",
        description="Staff measure used for the headline linkage counts in metrics/linkage.json.",
    )
    headline_patient: str = Field(
        "patient.ip_overall",
        description="Patient measure used for the headline linkage counts in metrics/linkage.json.",
    )
    overrides: Annotated[str, UserPath("file", ("link",), unset=("default", ""), suffixes=(".csv",))] = Field(
        "default",
        description="Successions overrides CSV: 'default' = the packaged src/linkage/orgdata/ods_overrides.csv; '' = none; or a path to your own file, whose rows are ADDED to the packaged ones (a row with the same old_code, new_code and action replaces the packaged one). Tracked by DVC for the link stage.",
    )
    type_overrides: Annotated[str, UserPath("file", ("link",), unset=("default", ""), suffixes=(".csv",))] = Field(
        "default",
        description="Trust type overrides CSV: 'default' = the packaged src/linkage/orgdata/type_overrides.csv; '' = none; or a path to your own file, whose rows are ADDED to the packaged ones (a row for the same trust_code replaces the packaged one). Tracked by DVC for the link stage.",
    )

    @field_validator("survey_dates")
    @classmethod
    def _month_day(cls, v: dict[str, str]) -> dict[str, str]:
        for k, md in v.items():
            if not re.fullmatch(r"\d{2}-\d{2}", md):
                raise ValueError(f"survey_dates.{k} must be MM-DD, got {md!r}")
            date(2000, int(md[:2]), int(md[3:]))
        return v
