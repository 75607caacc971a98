"""Stage ``report``: the plain-language summary with provenance."""

from __future__ import annotations

from pydantic import Field

from .params import Section


class ReportParams(Section):
    title: str = Field("Does staff wellbeing predict patient experience?", description="Title of the rendered summary report.")
