"""Stages ``ingest_staff`` and ``ingest_patient``: raw published files -> tidy contract."""

from __future__ import annotations

from pydantic import Field

from .params import Section


class StaffParams(Section):
    measures: list[str] = Field(
        default_factory=lambda: ["staff.stress", "staff.burnout", "staff.emotional_exhaustion", "staff.hwb_action", "staff.engagement", "staff.recommend_care"],
        description="Canonical staff measures to keep (names from the measure catalogue).",
    )


class PatientParams(Section):
    measures: list[str] = Field(
        default_factory=lambda: ["patient.ip_overall", "patient.ip_respect_dignity"],
        description="Canonical patient experience measures to keep (names from the measure catalogue).",
    )
