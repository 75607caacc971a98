"""Stage ``model``: panel models of patient experience on staff wellbeing.

(Owned by the modelling work, issue #5.)  The public interface is
:func:`fit_models` (returns a :class:`ModelRun`), :func:`plain_language` and the
params section :class:`ModelParams`.  Methods and conventions: ``docs/models.md``.
"""

from __future__ import annotations

from ._cov import CONVENTION_TEXT, scaling
from ._params import ALL_FAMILIES, ModelParams
from ._run import RESULT_COLUMNS, ModelRun, fit_models, plain_language

__all__ = [
    "ALL_FAMILIES",
    "CONVENTION_TEXT",
    "RESULT_COLUMNS",
    "ModelParams",
    "ModelRun",
    "fit_models",
    "plain_language",
    "scaling",
]
