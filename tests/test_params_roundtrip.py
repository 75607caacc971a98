"""Every allowed string value survives DVC's own ``dvc exp run -S`` rewrite of params.yaml.

DVC applies ``-S`` through Hydra and writes params.yaml back without quotes; params.yaml
is then read as YAML 1.1, where ``no`` is false.  Each allowed value of every field with a
fixed set of string values (also inside lists) is written through
:func:`dvc.utils.hydra.apply_overrides` - the function ``dvc exp run -S`` calls - read
back as the pipeline reads it and validated.
"""

from __future__ import annotations

import shutil
import typing
from pathlib import Path
from typing import Literal

import pytest
import yaml
from pydantic import BaseModel

from linkage.params import Params, Section
from linkage.params.roundtrip import allowed_strings, restore

REPO = Path(__file__).resolve().parents[1]


def _choice_fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, tuple[str, ...], bool]]:
    """(dotted key, allowed strings, is a list) for every field whose values are a fixed set of strings."""
    out = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += _choice_fields(ann, f"{prefix}{name}.")
            continue
        if typing.get_origin(ann) is list and allowed_strings(typing.get_args(ann)[0]):
            out.append((f"{prefix}{name}", allowed_strings(typing.get_args(ann)[0]), True))
        elif allowed_strings(ann):
            out.append((f"{prefix}{name}", allowed_strings(ann), False))
    return out


CASES = [(key, value, is_list) for key, allowed, is_list in _choice_fields(Params) for value in allowed]


def test_the_schema_has_choice_fields_including_a_yaml11_trap():
    keys = {k for k, _, _ in CASES}
    assert {"model.adjust_contemporaneous", "link.successors", "data.source", "multiverse.families"} <= keys
    assert ("model.adjust_contemporaneous", "no", False) in CASES


@pytest.mark.parametrize(("key", "value", "is_list"), CASES, ids=[f"{k}={v}" for k, v, _ in CASES])
def test_every_allowed_value_survives_dvc_set_param(tmp_path, key, value, is_list):
    from dvc.utils.hydra import apply_overrides

    target = tmp_path / "params.yaml"
    shutil.copyfile(REPO / "params.yaml", target)
    expect: typing.Any = value
    if is_list:  # the value added to the list in params.yaml (other fields may require the ones there)
        current: typing.Any = yaml.safe_load(target.read_text())
        for part in key.split("."):
            current = current[part]
        expect = list(current) + ([value] if value not in current else [])
    apply_overrides(target, [f"{key}=[{','.join(expect)}]" if is_list else f"{key}={value}"])
    raw = yaml.safe_load(target.read_text())  # as the pipeline reads it (YAML 1.1)
    got: typing.Any = Params.model_validate(raw)
    for part in key.split("."):
        got = getattr(got, part)
    assert got == expect


class _Trap(Section):
    choice: Literal["no", "on", "null", "1.5", "017", "plain"] = "plain"
    many: list[Literal["no", "yes"]] = []
    maybe: Literal["no", "other"] | None = None


@pytest.mark.parametrize("text", ["no", "on", "null", "1.5", "017", "plain"])
def test_rule_maps_only_yaml11_readings_of_allowed_strings(text):
    assert yaml.safe_load(f"choice: {text}")["choice"] != text or text == "plain"  # each is a YAML 1.1 trap
    assert _Trap.model_validate(yaml.safe_load(f"choice: {text}")).choice == text
    assert _Trap.model_validate(yaml.safe_load("many: [no, yes]")).many == ["no", "yes"]
    assert _Trap.model_validate(yaml.safe_load("maybe: no")).maybe == "no"
    assert _Trap.model_validate(yaml.safe_load("maybe: null")).maybe is None  # None itself is allowed


def test_rule_converts_nothing_else():
    with pytest.raises(ValueError):
        _Trap.model_validate({"choice": 12})  # no allowed string reads as 12
    assert restore(True, ("yes", "true")) is True  # two allowed strings read as true: ambiguous, left to refuse
    assert restore(False, ("no", "off")) is False
    assert restore(False, ("respondents", "equal")) is False
    assert restore("no", ("no",)) == "no"
