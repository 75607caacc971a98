"""Stage ``ingest_patient``: the patient survey files of the raw folder -> tidy contract (``patient`` section)."""

from __future__ import annotations

from ..ingest import IngestResult
from ..params import Params
from ..paths import STAGES
from ._ingest import run_ingest

STAGE = STAGES["ingest_patient"]


def run(params: Params) -> IngestResult:
    """Read, harmonise and select the patient measures; write tidy, quarantine, roll-ups, orgs, audit, metrics."""
    return run_ingest(STAGE, "patient", params.patient)
