"""Typed schema for ``params.yaml``: the single source of analysis choices.

One section per pipeline stage.  Each section's model lives beside the stage
code that reads it and is composed here, so a stage and its parameters change
together.  Every field carries a description; ``linkage params-doc`` prints them.

Validation happens before any stage does work (``linkage validate-params`` is
the first command of every DVC stage); a bad value fails naming the dotted key,
the value given and what is allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import ParamsError


class Section(BaseModel):
    """Base for all params sections.

    * Unknown keys are errors, never silently ignored.
    * A list-valued key may be written as a comma-separated string
      (``families: pooled, twoway_fe``).  ``params.yaml`` uses that form for
      every list so that DVC can template it into ``papermill -p`` (DVC cannot
      interpolate YAML lists into a command); the schema turns it back into a
      typed list, so ``dvc exp run -S model.lags=0,1`` works too.
    * Likewise a mapping may be written as ``key:value`` pairs separated by
      commas (``series_start: patient.*:2020, staff.hwb_theme:2017``; ``=`` works
      too, but papermill cannot parse a parameters-cell line holding two ``=``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _split_comma_lists(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for name, field in cls.model_fields.items():
            value = out.get(name)
            if isinstance(value, str) and get_origin(field.annotation) is list:
                out[name] = [v.strip() for v in value.split(",") if v.strip()]
            elif isinstance(value, (int, float)) and get_origin(field.annotation) is list:
                out[name] = [value]
            elif isinstance(value, str) and get_origin(field.annotation) is dict:
                out[name] = _parse_pairs(value, name)
        return out


class DemoParams(Section):
    seed: int = Field(20241121, description="Random seed of the synthetic demo data; same seed, same files.")
    n_acute: int = Field(130, ge=10, le=400, description="Number of synthetic acute and acute specialist trusts.")
    n_non_acute: int = Field(25, ge=0, le=200, description="Number of synthetic non-acute organisations (mental health, community, ambulance, CCG-like).")
    staff_years: list[int] = Field(
        default_factory=lambda: [2017, 2018, 2019, 2020, 2021, 2022, 2023],
        description="Staff Survey years written as 2019-layout organisation workbooks.",
    )
    patient_years: list[int] = Field(
        default_factory=lambda: [2018, 2019, 2020, 2021, 2022, 2023],
        description="Inpatient Survey years written as 2022-layout benchmark files (each with two historical sheets).",
    )
    true_effect: float = Field(
        -0.03,
        description="Planted within-trust effect of staff stress (percentage points) on the inpatient overall rating (0-10 score) in the same year.",
    )
    n_mergers: int = Field(2, ge=0, le=10, description="Number of planted mergers of two synthetic acute trusts.")


class DataParams(Section):
    source: Literal["demo", "local", "official"] = Field(
        "demo",
        description="Where raw files come from: 'demo' writes synthetic files in the publishers' layouts; 'local' reads a folder of published files (data.local_dir); 'official' downloads the publishers' files listed in data.sources_file, verifying sha256.",
    )
    local_dir: str = Field(
        "../shared/data/real",
        description="Folder of published files used when data.source is 'local' (searched recursively for Staff Survey, CQC and ODS files).",
    )
    sources_file: str = Field(
        "default",
        description="YAML list of official download URLs and expected sha256, used when data.source is 'official'; 'default' is the packaged src/linkage/catalogue/sources.yaml.",
    )
    raw_dir: str = Field("data/raw", description="Where the acquire stage puts the raw files for ingestion (a DVC output: rebuilt on every acquire).")
    download_dir: str = Field(
        "data/downloads",
        description="Persistent folder (not a DVC output) where 'official' downloads are kept, sha256-checked, and where files can be placed by hand when offline; acquire copies it into data.raw_dir.",
    )
    mirror_url: str = Field(
        "",
        description="Optional base URL of a mirror holding the official files at <mirror_url>/<dest> (e.g. an internal file server); empty uses each file's own URL.",
    )
    demo: DemoParams = Field(default_factory=DemoParams, description="Settings of the synthetic demo data.")


def _parse_pairs(text: str, name: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        cut = min((i for i in (item.find(":"), item.find("=")) if i > 0), default=-1)
        if cut < 0:
            raise ValueError(f"{name}: expected 'key:value' pairs separated by commas, got {item!r} in {text!r}")
        key, value = item[:cut], item[cut + 1 :]
        out[key.strip()] = value.strip()
    return out


def _section_models() -> dict[str, type[BaseModel]]:
    # Imported lazily so each stage module can import this module freely.
    from .ingest import PatientParams, StaffParams
    from .link import LinkParams
    from .models import ModelParams
    from .report import ReportParams

    return {
        "staff": StaffParams,
        "patient": PatientParams,
        "link": LinkParams,
        "model": ModelParams,
        "report": ReportParams,
    }


def _build_params_model() -> type[BaseModel]:
    from pydantic import create_model

    fields: dict[str, Any] = {
        "data": (DataParams, Field(default_factory=DataParams, description="Raw data acquisition (stage: acquire)."))
    }
    descriptions = {
        "staff": "Staff Survey ingestion (stage: ingest_staff).",
        "patient": "Patient experience ingestion (stage: ingest_patient).",
        "link": "Trust identity and linkage (stage: link).",
        "model": "Panel models (stage: model).",
        "report": "Rendered report (stage: report).",
    }
    for name, model in _section_models().items():
        fields[name] = (model, Field(default_factory=model, description=descriptions[name]))
    return create_model("Params", __base__=Section, **fields)


_PARAMS_MODEL: type[BaseModel] | None = None


def params_model() -> type[BaseModel]:
    """The composed pydantic model of the whole ``params.yaml``."""
    global _PARAMS_MODEL
    if _PARAMS_MODEL is None:
        _PARAMS_MODEL = _build_params_model()
    return _PARAMS_MODEL


def _format_validation_error(err: ValidationError, source: str) -> str:
    lines = [f"{source}: {err.error_count()} invalid parameter(s)"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        given = e.get("input")
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check spelling; every key must be declared in the schema)"
        elif e["type"] == "literal_error":
            allowed = e.get("ctx", {}).get("expected", "")
            msg = f"not allowed; allowed values are {allowed}"
        lines.append(f"  - {key}: {msg} (given: {given!r})")
    return "\n".join(lines)


def validate_params(raw: dict[str, Any] | None, *, source: str = "params") -> BaseModel:
    """Validate a params mapping, raising :class:`ParamsError` with readable lines."""
    try:
        return params_model().model_validate(raw or {})
    except ValidationError as err:
        raise ParamsError(_format_validation_error(err, source)) from None


def load_params(path: str | Path = "params.yaml") -> Any:
    """Read and validate ``params.yaml``; returns the typed params object."""
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path}: file not found (run from the project root, or pass --params)")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: top level must be a mapping of sections, got {type(raw).__name__}")
    return validate_params(raw, source=str(path))


def describe(model: type[BaseModel] | None = None, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """Rows of (dotted key, type, default, description) for documentation."""
    model = model or params_model()
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


def require_all_described() -> list[str]:
    """Keys that lack a description (a test asserts this list is empty)."""
    return [key for key, _, _, desc in describe() if not desc.strip()]


def flat_value(value: Any) -> Any:
    """A params value as written in params.yaml: lists and mappings as comma strings."""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(flat_value(v)) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}:{flat_value(v)}" for k, v in value.items())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def render_yaml(params: BaseModel | None = None) -> str:
    """``params.yaml`` text for ``params`` (default: schema defaults), each key commented.

    Lists and mappings are written as comma-separated strings so DVC can template
    them into ``papermill`` commands (see :class:`Section`).
    """
    params = params or validate_params({})
    lines = ["# Analysis parameters: the single source of choices for every stage.",
             "# Validated by `linkage validate-params` (schema: src/linkage/params.py); `linkage params-doc` lists them.",
             "# Lists are comma-separated strings and mappings are key:value pairs, so DVC can pass them to notebooks."]

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
            lines.append(f"{pad}{yaml.safe_dump({name: flat_value(value)}, default_flow_style=False, width=1000).strip()}")

    emit(params, 0)
    return "\n".join(lines) + "\n"
