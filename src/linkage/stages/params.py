"""Stage ``params``: validate the whole of params.yaml before any other stage runs."""

from __future__ import annotations

from pathlib import Path

from ..params import Params
from ..paths import STAGES

STAGE = STAGES["params"]


def run(params: Params) -> Path:
    """Write the stamp the other stages depend on (its content never changes, so they do not re-run).

    Validation itself happened when ``params`` was loaded; reaching here means it passed.
    """
    out = STAGE.path("checked")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("params.yaml is valid\n")
    return out
