"""The base of every params section: unknown keys are errors, values are frozen."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from .roundtrip import restore_fields


class Section(BaseModel):
    """Base for all params sections.

    * Unknown keys are errors, never silently ignored.
    * Values are the native YAML types of ``params.yaml``: lists are YAML lists
      (``lags: [0, 1]``) and mappings YAML mappings (``split_assign: {RW6: RM3}``),
      so ``dvc exp run -S 'model.lags=[0,1,2]'`` works as DVC documents it.
    * Instances are immutable: a stage cannot change the choices it was given.
    * An allowed string value that YAML 1.1 reads as a bool, null or number (``no`` after
      ``dvc exp run -S`` drops its quotes) is mapped back to that string (:mod:`.roundtrip`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _undo_yaml11_coercions(cls, data: Any) -> Any:
        return restore_fields(cls, data)
