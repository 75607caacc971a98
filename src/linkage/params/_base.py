"""The base of every params section: unknown keys are errors, values are frozen."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Base for all params sections.

    * Unknown keys are errors, never silently ignored.
    * Values are the native YAML types of ``params.yaml``: lists are YAML lists
      (``lags: [0, 1]``) and mappings YAML mappings (``split_assign: {RW6: RM3}``),
      so ``dvc exp run -S 'model.lags=[0,1,2]'`` works as DVC documents it.
    * Instances are immutable: a stage cannot change the choices it was given.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
