"""Stage ``report``: the report site (index, summary, trust pages, methods) from the earlier stages' outputs."""

from __future__ import annotations

from typing import Any

from ..params import Params
from ..paths import REPORTS, STAGES
from ..site import build_site

STAGE = STAGES["report"]


def run(params: Params) -> dict[str, Any]:
    """Build the site into ``reports/``; return the summary's answers and figures for the notebook to show.

    The step reports (``reports/NN_name.html``) are written by each stage's
    runner; this stage writes the pages declared in ``STAGE.outs`` and the
    summary figure ``STAGE.figure``.
    """
    return build_site(params, ".", REPORTS, render_steps=False)
