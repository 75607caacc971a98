"""Stage ``ingest_staff``: the staff survey files of the raw folder -> tidy contract (``staff`` section)."""

from __future__ import annotations

from ..ingest import IngestResult
from ..params import Params
from ..paths import STAGES
from ._ingest import run_ingest

STAGE = STAGES["ingest_staff"]


def run(params: Params) -> IngestResult:
    """Read, harmonise and select the staff measures; write tidy, quarantine, roll-ups, orgs, audit, metrics."""
    return run_ingest(STAGE, "staff", params.staff)
