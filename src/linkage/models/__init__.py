"""Stage ``model``: panel models of patient experience on staff wellbeing.

The public interface is :func:`fit_models` (returns a :class:`ModelRun`),
:func:`plain_language` and the params section :class:`ModelParams`.  Methods and
conventions: ``docs/models.md``.

The estimation code (linearmodels, statsmodels, scipy) is imported on first
use, so validating ``params.yaml`` - the first step of every DVC stage - stays fast.
"""

from __future__ import annotations

from typing import Any

from ..params import ModelParams
from ..vocab import FAMILIES as ALL_FAMILIES

_LAZY = {
    "CONVENTION_TEXT": "._cov",
    "scaling": "._cov",
    "RESULT_COLUMNS": "._run",
    "ModelRun": "._run",
    "fit_models": "._run",
    "plain_language": "._run",
}

__all__ = ["ALL_FAMILIES", "ModelParams", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
