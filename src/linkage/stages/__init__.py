"""One module per DVC stage, each with one entry point ``run(params)``.

A stage module reads the stage's declared inputs (:data:`linkage.paths.STAGES`),
calls the domain code and writes the declared outputs; its notebook calls
``run`` and draws the figures.  ``linkage stage NAME`` (:mod:`linkage.runner`)
is the DVC command of every stage.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..paths import STAGES


def module(name: str) -> Any:
    """The stage module of stage ``name``."""
    if name not in STAGES:
        raise KeyError(f"unknown stage {name!r}; stages are {', '.join(STAGES)}")
    return importlib.import_module(f"{__name__}.{name}")
