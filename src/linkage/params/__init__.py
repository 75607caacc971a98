"""Typed schema for ``params.yaml``: the single source of analysis choices.

One section per pipeline stage, each in its own module of this package, all
composed statically into :class:`Params`, the object every stage receives.
Every field carries a description; ``linkage params-doc`` prints them.

Validation runs in two passes, both before any stage touches an output (the
``params`` stage of ``dvc.yaml`` runs ``linkage validate-params`` first):

1. the schema: unknown keys or sections at any level, wrong types and values
   out of range, each named by its dotted key with the value given and what is
   allowed;
2. cross-checks between sections (:func:`cross_check`): measure names must be
   in the catalogue and kept by the ingest section that provides them, and
   choices must not contradict each other.

This package is part of the foundation layer: it imports only the vocabulary,
the errors and the measure catalogue.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError

from ..errors import ParamsError
from ._base import KeyProblem, Section
from .data import DataParams, DemoParams
from .link import LinkParams
from .model import ModelParams
from .multiverse import MultiverseParams
from .report import ReportParams
from .sources import PatientParams, StaffParams

__all__ = [
    "DataParams", "DemoParams", "LinkParams", "ModelParams", "MultiverseParams", "Params", "PatientParams", "ReportParams",
    "Section", "StaffParams", "describe", "load_params", "render_yaml", "validate_params",
]


class Params(Section):
    """The whole of ``params.yaml``: one typed section per stage."""

    data: DataParams = Field(default_factory=DataParams, description="Raw data acquisition (stage: acquire).")
    staff: StaffParams = Field(default_factory=StaffParams, description="Staff Survey ingestion (stage: ingest_staff).")
    patient: PatientParams = Field(default_factory=PatientParams, description="Patient experience ingestion (stage: ingest_patient).")
    link: LinkParams = Field(default_factory=LinkParams, description="Trust identity and linkage (stage: link).")
    model: ModelParams = Field(default_factory=ModelParams, description="Panel models (stage: model).")
    multiverse: MultiverseParams = Field(default_factory=MultiverseParams, description="Specification curve, multiple testing and wild cluster bootstrap (stage: multiverse).")
    report: ReportParams = Field(default_factory=ReportParams, description="Rendered report (stage: report).")


SECTIONS: tuple[str, ...] = tuple(Params.model_fields)


# --------------------------------------------------------------------------- validation
def dotted(loc: tuple[Any, ...]) -> str:
    """A pydantic location as the key a user writes: ``model.lags[0]``, ``link.series_start.patient.*``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _location(e: dict[str, Any]) -> tuple[Any, ...]:
    """pydantic's location, extended by the key a :class:`KeyProblem` names; internal tags dropped."""
    loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and (p.startswith("function-") or p in {"str", "int"})))
    err = (e.get("ctx") or {}).get("error")
    if isinstance(err, KeyProblem):
        loc += err.where
    return loc


def _format_error(e: dict[str, Any]) -> str:
    loc = _location(e)
    key = dotted(loc)
    given = e.get("input")
    msg = e["msg"]
    err = (e.get("ctx") or {}).get("error")
    if isinstance(err, KeyProblem):
        given = _value_at(given, err.where)
        msg = str(err)
    elif e["type"] == "value_error":
        msg = msg.removeprefix("Value error, ")
    if e["type"] == "extra_forbidden":
        parent = e["loc"][:-1]
        model: Any = Params
        for part in parent:
            field = getattr(model, "model_fields", {}).get(str(part))
            model = field.annotation if field is not None else None
        allowed = sorted(getattr(model, "model_fields", {}) or [])
        msg = "unknown key (check spelling)" + (f"; allowed keys here: {', '.join(allowed)}" if allowed else "")
    elif e["type"] == "literal_error":
        msg = f"not allowed; allowed values are {e.get('ctx', {}).get('expected', '')}"
    elif e["type"] == "list_type":
        msg = "expected a YAML list, e.g. [a, b] (on the command line: -S 'section.key=[a,b]')"
    elif e["type"] == "dict_type":
        msg = "expected a YAML mapping, e.g. {key: value}"
    elif e["type"] in ("int_type", "float_type", "bool_type", "string_type", "int_from_float"):
        msg += " (write the value without quotes, and whole numbers without a decimal point)" if isinstance(given, (str, float)) else ""
    return f"  - {key}: {msg} (given: {given!r})"


def _value_at(value: Any, where: tuple[Any, ...]) -> Any:
    """The part of a validated section's input that a :class:`KeyProblem` names."""
    for part in where:
        try:
            value = value[part] if isinstance(value, (dict, list, tuple)) else getattr(value, str(part))
        except (KeyError, IndexError, TypeError, AttributeError):
            return value
    return value


def cross_check(params: Params) -> list[str]:
    """Contradictions between sections and unknown measure names, as message lines."""
    from ..catalogue import load_catalogue, set_project_measures
    from ..errors import LinkageError

    try:  # the packaged measures plus the project's own (data.measures_file)
        cat = load_catalogue(measures_file=params.data.project_measures())
    except LinkageError as err:
        return [f"  - data.measures_file: {err}"]
    set_project_measures(params.data.project_measures())
    known = set(cat.measures)
    kept = {"staff": set(params.staff.measures), "patient": set(params.patient.measures)}
    problems: list[str] = []

    def check(key: str, names: list[str], *, kinds: tuple[str, ...] = ("staff", "patient"), kept_only: bool = True) -> None:
        for name in names:
            if name not in known:
                allowed = sorted(m for m in known if m.split(".")[0] in kinds)
                problems.append(f"  - {key}: unknown measure (given: {name!r}); the catalogue has {allowed}")
                continue
            kind = cat.measures[name].side  # outcome measures travel with the patient side
            if kind not in kinds:
                problems.append(f"  - {key}: {name!r} is a {kind} measure; expected one of kind {' or '.join(kinds)}")
            elif kept_only and name not in kept[kind]:
                problems.append(f"  - {key}: {name!r} is not kept by {kind}.measures, so the panel will not have it "
                                f"(add it to {kind}.measures)")

    for section in ("staff", "patient"):
        for name in getattr(params, section).measures:
            if name not in known or cat.measures[name].side != section:
                allowed = sorted(m for m in known if cat.measures[m].side == section)
                problems.append(f"  - {section}.measures: unknown {section} measure (given: {name!r}); the catalogue has {allowed}")
    m = params.model
    check("model.dependent", [m.dependent])
    check("model.exposure", [m.exposure])
    check("model.covariates", list(m.covariates))
    # measures the model lists as optional extras are skipped with a reason when the panel lacks them
    check("model.other_exposures", list(m.other_exposures), kept_only=False)
    check("model.reliability_measures", list(m.reliability_measures or []), kept_only=False)
    check("model.percent_measures", list(m.percent_measures or []), kept_only=False)
    if m.weights not in (None, "respondents"):
        base = m.weights[:-3] if m.weights.endswith("__n") else m.weights
        if base not in known:
            problems.append(f"  - model.weights: not allowed (given: {m.weights!r}); allowed values are null, "
                            "'respondents', a declared measure or '<measure>__n'")
        else:
            check("model.weights", [base])
    # the curve lists a specification whose measure the panel lacks as unsupported, with the reason
    check("multiverse.staff_measures", list(params.multiverse.staff_measures), kinds=("staff",), kept_only=False)
    check("multiverse.patient_measures", list(params.multiverse.patient_measures), kinds=("patient",), kept_only=False)
    check("link.headline_staff", [params.link.headline_staff], kinds=("staff",))
    check("link.headline_patient", [params.link.headline_patient], kinds=("patient",))
    if m.dk_bandwidth is not None and m.cov_type != "driscoll_kraay":
        problems.append(f"  - model.dk_bandwidth: set to {m.dk_bandwidth} but model.cov_type is {m.cov_type!r}; "
                        "the bandwidth applies only to driscoll_kraay (set it to null)")
    return problems


def validate_params(raw: dict[str, Any] | None, *, source: str = "params") -> Params:
    """Validate a params mapping: schema first, then :func:`cross_check`.

    Raises
    ------
    ParamsError
        One line per problem, naming the dotted key, the value given and what is allowed.
    """
    try:
        params = Params.model_validate(raw or {})
    except ValidationError as err:
        lines = [_format_error(e) for e in err.errors()]
        raise ParamsError(f"{source}: {len(lines)} invalid parameter(s)\n" + "\n".join(lines)) from None
    problems = cross_check(params)
    if problems:
        raise ParamsError(f"{source}: {len(problems)} invalid parameter(s)\n" + "\n".join(problems))
    return params


def read_raw(path: str | Path = "params.yaml") -> dict[str, Any]:
    """The parsed YAML of ``path`` (not validated), with file-level errors.

    Parsed as DVC parses it (ruamel.yaml, YAML 1.2: ``yes`` is text, not true),
    and refused where DVC refuses it: an empty file, a key or section given
    twice (named with both lines), a top level that is not a mapping.
    """
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path}: file not found (run from the project root, or pass --params)")
    if path.is_dir():
        raise ParamsError(f"{path}: is a folder, not a params file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ParamsError(f"{path}: not UTF-8 text") from None
    raw = parse_yaml(text, str(path))
    if raw is None:
        raise ParamsError(f"{path}: the file is empty; it must hold the params sections (see `linkage params-doc`)")
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: top level must be a mapping of sections, got {type(raw).__name__}")
    return raw


def parse_yaml(text: str, source: str) -> Any:
    """YAML text as plain Python data, refusing duplicate keys with their line numbers."""
    from ruamel.yaml import YAML
    from ruamel.yaml.constructor import DuplicateKeyError
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe").load(text)  # ruamel's C parser (ruamel.yaml.clib), as DVC's own loads use it
    except DuplicateKeyError as err:
        first, again = err.context_mark, err.problem_mark
        key = str(err.problem).split('"')[1] if '"' in str(err.problem) else str(err.problem)
        raise ParamsError(f"{source}: key {key!r} is given twice (line {first.line + 1} and line {again.line + 1}); "
                          "keep one") from None
    except YAMLError as err:
        raise ParamsError(f"{source}: not valid YAML: {' '.join(str(err).split())}") from None


def load_params(path: str | Path = "params.yaml", *, overrides: dict[str, dict[str, Any]] | None = None) -> Params:
    """Read and validate ``params.yaml``; ``overrides`` replaces keys section by section.

    Parameters
    ----------
    path
        The params file.
    overrides
        ``{section: {key: value}}`` laid over the file before validation (what a
        notebook was given by papermill, or a test's variant).
    """
    raw = read_raw(path)
    source = str(path)
    if overrides:
        raw = dict(raw)
        for section, values in overrides.items():
            raw[section] = {**(raw.get(section) or {}), **values}
        source += " + " + ", ".join(f"{s} overrides" for s in overrides)
    return validate_params(raw, source=source)


# --------------------------------------------------------------------------- documentation
def describe(model: type[BaseModel] = Params, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """Rows of (dotted key, type, default, description) for documentation."""
    rows: list[tuple[str, str, str, str]] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            rows.append((key, "section", "", field.description or ""))
            rows.extend(describe(ann, prefix=f"{key}."))
            continue
        default = field.get_default(call_default_factory=True)
        tname = getattr(ann, "__name__", None) or str(ann).replace("typing.", "")
        rows.append((key, tname, repr(default), field.description or ""))
    return rows


def descriptions() -> dict[str, str]:
    """Dotted key -> description, for reports that echo parameters."""
    return {key: desc for key, _, _, desc in describe()}


def defaults() -> dict[str, Any]:
    """The schema defaults as plain JSON-able data."""
    return Params().model_dump(mode="json")


def require_all_described() -> list[str]:
    """Keys that lack a description (a test asserts this list is empty)."""
    return [key for key, _, _, desc in describe() if not desc.strip()]


def render_yaml(params: Params | None = None) -> str:
    """``params.yaml`` text for ``params`` (default: schema defaults), each key commented."""
    params = params or Params()
    lines = ["# Analysis parameters: the single source of choices for every stage.",
             "# Validated by `linkage validate-params` (schema: src/linkage/params/); `linkage params-doc` lists them.",
             "# Lists are YAML lists and mappings YAML mappings: dvc exp run -S 'model.lags=[0,1,2]'."]

    def emit(model: BaseModel, indent: int) -> None:
        for name, field in type(model).model_fields.items():
            value = getattr(model, name)
            pad = " " * indent
            if isinstance(value, BaseModel):
                lines.append("")
                lines.append(f"{pad}# {field.description}" if field.description else "")
                lines.append(f"{pad}{name}:")
                emit(value, indent + 2)
                continue
            if field.description:
                lines.append(f"{pad}# {field.description}")
            plain = model.model_dump(mode="json", include={name})
            flow = None if isinstance(plain[name], (list, dict)) else False  # collections inline: [a, b]
            text = yaml.safe_dump(plain, default_flow_style=flow, width=10_000, sort_keys=False).strip()
            lines.append(f"{pad}{text}")

    emit(params, 0)
    return "\n".join(lines) + "\n"
