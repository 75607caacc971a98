"""The base of every params section: unknown keys are errors, types are strict, values are frozen.

Also the small vocabulary the section modules share to name a bad value by its
dotted key: :class:`KeyProblem` (raised by a validator to point below its own
level, e.g. ``model.lags[0]`` rather than ``model``) and bounded element types.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .roundtrip import restore_fields

#: Calendar years a survey year may take (the Staff Survey began in 2003).
YEAR_MIN, YEAR_MAX = 2000, 2100
Year = Annotated[int, Field(ge=YEAR_MIN, le=YEAR_MAX)]
"""A survey year: a whole number between YEAR_MIN and YEAR_MAX."""


class KeyProblem(ValueError):
    """A validator's complaint about one key below the validated level.

    ``where`` is the path under the model being validated, e.g. ``("lags", 0)``;
    the params package appends it to pydantic's location, so the message names
    ``model.lags[0]`` rather than the whole section.
    """

    def __init__(self, where: str | Sequence[str | int], message: str) -> None:
        super().__init__(message)
        self.where: tuple[str | int, ...] = (where,) if isinstance(where, str) else tuple(where)


def refuse_repeats(key: str | None, values: Sequence[Any]) -> None:
    """Raise :class:`KeyProblem` naming the first repeated element of list ``key`` (None: the validated field)."""
    seen: set[Any] = set()
    for i, v in enumerate(values):
        if v in seen:
            raise KeyProblem((i,) if key is None else (key, i), f"repeats {v!r}, already listed; list each choice once")
        seen.add(v)


def refuse_empty(key: str, values: Sequence[Any]) -> None:
    """Raise :class:`KeyProblem` when list ``key`` is empty."""
    if not values:
        raise KeyProblem(key, "is empty; list at least one choice")


class Section(BaseModel):
    """Base for all params sections.

    * Unknown keys are errors, never silently ignored.
    * Types are strict: no ``true`` for a number, no ``"3"`` for 3, no ``8.0`` for
      a whole number, no infinite or NaN floats (every number also has bounds).
    * Values are the native YAML types of ``params.yaml``: lists are YAML lists
      (``lags: [0, 1]``) and mappings YAML mappings (``split_assign: {RW6: RM3}``),
      so ``dvc exp run -S 'model.lags=[0,1,2]'`` works as DVC documents it.
    * Instances are immutable: a stage cannot change the choices it was given.
    * An allowed string value that YAML 1.1 reads as a bool, null or number (``no`` after
      ``dvc exp run -S`` drops its quotes) is mapped back to that string (:mod:`.roundtrip`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _undo_yaml11_coercions(cls, data: Any) -> Any:
        return restore_fields(cls, data)
