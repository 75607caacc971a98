"""Panel models of patient experience on staff wellbeing (the domain code of the ``model`` stage).

The public interface is :func:`fit_models` (returns a :class:`ModelRun`),
:func:`plain_language` and the params section :class:`ModelParams`.  Methods and
conventions: ``docs/models.md``.

The estimation code (linearmodels, statsmodels, scipy) is imported on first
use of those names, so importing the package (e.g. for ``ModelParams``) stays fast.
Vocabulary (families, covariance and convention labels) lives in :mod:`linkage.vocab`.
"""

from __future__ import annotations

from typing import Any

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


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
