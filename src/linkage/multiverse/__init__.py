"""Specification curve ("multiverse") of the staff-patient association; see ``docs/multiverse.md``.

Domain layer: imports numpy, scipy, pandas and the foundation (``linkage.vocab``,
``linkage.errors``, ``linkage.params``) only.
"""

from ._engine import RESULT_COLUMNS, Scores, fit_specs, spec_frame
from ._specs import SPEC_COLUMNS, enumerate_specs, merged_trusts

__all__ = ["RESULT_COLUMNS", "SPEC_COLUMNS", "Scores", "enumerate_specs", "fit_specs", "merged_trusts", "spec_frame"]
