"""Stage ``acquire``: fill the raw folder from ``data.source`` (demo, local or official)."""

from __future__ import annotations

from typing import Any

from ..acquire import acquire
from ..params import Params
from ..paths import STAGES

STAGE = STAGES["acquire"]


def run(params: Params) -> dict[str, Any]:
    """Write the raw files and ``manifest.json``; returns the manifest."""
    return acquire(params.data, raw_dir=STAGE.path("raw"))
