"""Section ``report`` (stage ``report``): the rendered summary."""

from __future__ import annotations

from pydantic import Field

from ._base import Section


class ReportParams(Section):
    title: str = Field("Does staff wellbeing predict patient experience?", description="Title of the rendered summary report.")
    audience_note: str = Field(
        "Written for policy analysts; the step-by-step notebooks (reports/01-04) hold the detail for researchers and reviewers.",
        description="One sentence under the title saying who the report is for.",
    )
    decimals: int = Field(3, ge=1, le=6, description="Decimal places for estimates in the report text.")
