"""The report site: ``reports/index.html``, the summary, one page per trust, methods, step reports.

Built from the pipeline's output files only (see :data:`inputs.INPUT_FILES`),
with no request leaving the machine: CSS is inline, figures are local PNG
files or inline SVG, the only script is the index's trust search. Pages are
byte-identical for identical inputs: no timestamps, no random ids, PNG files
without software metadata.

Public functions
----------------
build_site(params, root=".", out="reports") -> dict (``written``, ``answers``, ``figures``)
render_step_page(nb, stem, params, root=".", out="reports") -> Path
stable_outputs(nb) -> nb (pandas Styler ids made stable in an executed notebook)
"""

from __future__ import annotations

from .build import build_site, render_step_page
from .steps import stable_outputs

__all__ = ["build_site", "render_step_page", "stable_outputs"]
