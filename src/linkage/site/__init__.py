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

They are loaded on first use: a stage runner renders its step page with
:mod:`linkage.site.page` alone, so it neither loads nor depends on the site builder.
"""

from __future__ import annotations

from ..lazy import lazy_getattr

_LAZY = {"build_site": ".build", "render_step_page": ".page", "stable_outputs": ".steps"}

__all__ = list(_LAZY)


__getattr__ = lazy_getattr(__name__, _LAZY)
