"""A package's names loaded on first use: the module ``__getattr__`` of its lazy table (PEP 562).

A package whose ``__init__`` re-exports names from heavy submodules (scipy, the
estimation code, the site builder) declares ``_LAZY = {name: "._submodule"}`` and
``__getattr__ = lazy_getattr(__name__, _LAZY)``: importing one of its submodules,
or the package for another name, then loads nothing else.  The relative names
are written as string constants in the package's ``__init__``, where
:mod:`linkage.sourcegraph` reads them (a stage's code fingerprint includes a
module the package loads when it is imported by name).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, table: Mapping[str, str]) -> Callable[[str], Any]:
    """The ``__getattr__`` of ``package``: ``table[name]`` is the relative submodule defining ``name``.

    A loaded name is stored on the package, so it is looked up only once; any
    other name raises the usual ``AttributeError``.
    """

    def __getattr__(name: str) -> Any:
        if name in table:
            value = getattr(importlib.import_module(table[name], package), name)
            setattr(sys.modules[package], name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
