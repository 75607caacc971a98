"""Stage ``report``: the plain-language summary from the outputs of the earlier stages."""

from __future__ import annotations

from ..files import read_json, read_table
from ..params import Params
from ..paths import STAGES
from ..report import Report, build

STAGE = STAGES["report"]


def run(params: Params) -> Report:
    """Read the metrics and model results and assemble the report's text and tables."""
    return build(
        params.report,
        headline=read_json(STAGE.path("headline")),
        linkage=read_json(STAGE.path("linkage")),
        ingest={k: read_json(STAGE.path(f"ingest_{k}")) for k in ("staff", "patient")},
        results=read_table(STAGE.path("results")),
        notes=read_json(STAGE.path("notes"), missing={}),
    )
