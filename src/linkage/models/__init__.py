"""Panel models of patient experience on staff wellbeing (the domain code of the ``model`` stage).

The public interface is :func:`fit_models` (returns a :class:`ModelRun`),
:func:`plain_language` and the params section :class:`ModelParams`.  Methods and
conventions: ``docs/models.md``.

The estimation code (linearmodels, statsmodels, scipy) is imported on first
use of those names, so importing the package (e.g. for ``ModelParams``) stays fast.
Vocabulary (families, covariance and convention labels) lives in :mod:`linkage.vocab`.
"""

from __future__ import annotations

from ..lazy import lazy_getattr
from ..params import ModelParams

_LAZY = {
    "scaling": "..estimation",
    "FamilyModel": "._fit",
    "family_model": "._fit",
    "RESULT_COLUMNS": "._run",
    "ModelRun": "._run",
    "fit_models": "._run",
    "plain_language": "._run",
    "correction_table": "._run",
    "family_label": "._run",
}

__all__ = ["ModelParams", *_LAZY]


__getattr__ = lazy_getattr(__name__, _LAZY)
