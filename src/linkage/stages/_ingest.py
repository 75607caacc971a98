"""What the two ingest stages share: read every file of a kind, write the declared outputs."""

from __future__ import annotations

from ..files import write_json, write_table
from ..ingest import IngestResult, ingest
from ..params import DataParams, PatientParams, StaffParams
from ..paths import READER_CACHE, Stage
from ..vocab import Kind


def run_ingest(stage: Stage, kind: Kind, section: StaffParams | PatientParams, data: DataParams) -> IngestResult:
    """Read the raw folder into the tidy contract (with the project's own mappings and measures) and write the outputs."""
    result = ingest(kind, stage.path("raw"), section, cache_dir=READER_CACHE,
                    mapping_dir=data.project_mappings(), measures_file=data.project_measures(),
                    max_uncompressed_mb=data.max_uncompressed_mb)
    for role in ("tidy", "quarantine", "rollups", "orgs", "audit"):
        write_table(getattr(result, role), stage.path(role))
    write_json(stage.path("metrics"), result.metrics)
    return result
