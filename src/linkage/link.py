"""Stage ``link``: trust identity, time alignment and the linkage audit.

(Owned by the linkage work, issue #4.)
"""

from __future__ import annotations

from pydantic import Field

from .params import Section


class LinkParams(Section):
    reference_date: str = Field("2024-04-01", description="Organisations are mapped to their successor as of this date (ISO date).")
