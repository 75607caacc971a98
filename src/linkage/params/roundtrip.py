"""Allowed string values that survive ``dvc exp run -S``: YAML 1.1 coercions mapped back.

``dvc exp run -S model.adjust_contemporaneous=no`` rewrites params.yaml without quotes
(``adjust_contemporaneous: no``), and params.yaml is read as YAML 1.1, where ``no`` is the
boolean false, ``on`` true, ``~`` null and ``1e3`` a number.  The rule, applied before
validation to every field whose allowed values are a fixed set of strings (a ``Literal``,
also inside lists, as mapping keys or beside ``None``):

    a value that is exactly what YAML 1.1 reads one allowed string as, and is not itself
    allowed, is that allowed string.

So ``False`` for a field allowing ``"no"`` becomes ``"no"``; ``False`` for a field allowing
no such string is still refused (strict types), and nothing else is ever converted.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import yaml


@dataclass(frozen=True)
class Choices:
    """``Annotated`` metadata of a string field whose allowed values come from a registry that can grow
    (the model families): ``names()`` gives them at the time of validation."""

    names: Callable[[], tuple[str, ...]]


def allowed_strings(annotation: Any) -> tuple[str, ...]:
    """The strings a ``Literal`` annotation (possibly ``Optional``) allows; empty for anything else."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return tuple(a for a in typing.get_args(annotation) if isinstance(a, str))
    if origin is typing.Annotated:
        extra = [m for m in annotation.__metadata__ if isinstance(m, Choices)]
        return tuple(extra[0].names()) if extra else allowed_strings(typing.get_args(annotation)[0])
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return tuple(s for arg in typing.get_args(annotation) for s in allowed_strings(arg))
    return ()


def _yaml11(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def restore(value: Any, allowed: tuple[str, ...]) -> Any:
    """``value`` mapped back to the one allowed string YAML 1.1 reads as it (else unchanged)."""
    if isinstance(value, str) or not allowed or value in allowed:
        return value
    hits = [a for a in allowed if type(_yaml11(a)) is type(value) and _yaml11(a) == value]
    return hits[0] if len(hits) == 1 else value


def restore_value(annotation: Any, value: Any) -> Any:
    """Apply :func:`restore` through lists, tuples and mapping keys/values of ``annotation``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (list, tuple, set, frozenset) and args and isinstance(value, list):
        return [restore_value(args[0], v) for v in value]
    if origin is dict and len(args) == 2 and isinstance(value, dict):
        return {restore_value(args[0], k): restore_value(args[1], v) for k, v in value.items()}
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        for arg in args:
            if typing.get_origin(arg) in (list, dict) and isinstance(value, (list, dict)):
                return restore_value(arg, value)
    if origin is typing.Annotated:
        return restore_value(args[0], value)
    return restore(value, allowed_strings(annotation))


def restore_fields(model: Any, data: Any) -> Any:
    """``data`` (the raw mapping of a params section) with YAML 1.1 coercions of allowed strings undone."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for name, field in model.model_fields.items():
        if name in out:
            out[name] = restore_value(field.annotation, out[name])
    return out
