"""Section ``report`` (stage ``report``): the rendered summary and the report site."""

from __future__ import annotations

from pydantic import Field

from ._base import Section


class ReportParams(Section):
    title: str = Field("Does staff wellbeing predict patient experience?", description="Title of the rendered summary report.")
    audience_note: str = Field(
        "Written for policy analysts and trust boards; the step reports hold the detail for researchers and reviewers.",
        description="One sentence under the title saying who the report is for.",
    )
    decimals: int = Field(3, ge=1, le=6, description="Decimal places for estimates in the report text.")
    min_base_staff: int = Field(
        11, ge=1, le=10_000,
        description="Disclosure threshold of the Staff Survey: a trust's staff value based on fewer responses than this is never shown on the report site (the publisher suppresses results from fewer than 11 responses).",
    )
    min_base_patient: int = Field(
        30, ge=1, le=10_000,
        description="Disclosure threshold of the Inpatient Survey: a trust's patient score based on fewer respondents than this is never shown on the report site (CQC does not publish scores from fewer than 30 respondents).",
    )
    interval_level: float = Field(
        0.95, gt=0.5, lt=1.0,
        description="Coverage of the sampling-error intervals drawn around each trust's values on its trust page (from the value's base n).",
    )
