"""Sections ``staff`` and ``patient`` (stages ``ingest_staff`` and ``ingest_patient``)."""

from __future__ import annotations

from pydantic import Field, field_validator

from ._base import Section, Year, refuse_repeats


class _IngestSection(Section):
    """What the two ingest sections share: at least one measure to keep."""

    @field_validator("measures", check_fields=False)
    @classmethod
    def _not_empty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("at least one measure is required")
        refuse_repeats(None, v)
        return v

    @field_validator("years", check_fields=False)
    @classmethod
    def _distinct_years(cls, v: list[int]) -> list[int]:
        refuse_repeats(None, v)
        return v


class StaffParams(_IngestSection):
    measures: list[str] = Field(
        default_factory=lambda: [
            "staff.stress", "staff.burnout", "staff.emotional_exhaustion", "staff.hwb_action",
            "staff.hwb_theme", "staff.engagement", "staff.morale", "staff.recommend_care",
            "staff.enough_staff", "staff.respondents", "staff.response_rate",
        ],
        description="Canonical staff measures to keep (names from src/linkage/catalogue/measures.yaml or the project's data.measures_file).",
    )
    years: list[Year] = Field(
        default_factory=list,
        description="Staff Survey years to keep; empty keeps every year found.",
    )


class PatientParams(_IngestSection):
    measures: list[str] = Field(
        default_factory=lambda: ["patient.ip_overall", "patient.ip_respect_dignity", "patient.ip_respondents"],
        description="Patient experience measures, and other trust-year outcomes (role outcome, e.g. outcome.hsmr from data.measures_file), to keep (names from the measure catalogue).",
    )
    years: list[Year] = Field(
        default_factory=list,
        description="Patient survey years to keep; empty keeps every year found.",
    )
