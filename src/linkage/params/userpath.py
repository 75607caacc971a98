"""Parameters that name the user's own files and folders, and what the pipeline does with them.

A field typed ``Annotated[str, UserPath(...)]`` names a file or folder of the user's
(a mappings folder, a measures file, an overrides file, the local data folder...).
From that one marker, with no list kept by hand:

* :func:`user_paths` lists the paths that apply to a given params.yaml (a folder used only
  by one ``data.source`` is not listed for another; ``"default"`` or ``""`` name no file);
* :func:`check_user_paths` refuses, by dotted key, a path that does not exist or is the
  wrong kind (a file where a folder is needed, a folder of non-mapping files as the
  mappings folder) - the ``params`` stage runs it before any other stage writes anything;
* the ``params`` stage writes, per stage, a fingerprint of the files under the paths that
  stage reads (``linkage.stages.params``), which ``dvc.yaml`` lists as the stage's
  dependency: editing, adding or removing such a file re-runs exactly the stages that read it.

This keeps params out of ``dvc.yaml`` (no ``${...}`` templating), so DVC never parses
params.yaml before the workbench has validated it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

ALL_STAGES = "*"
"""``UserPath.stages`` value for a file every stage after ``acquire`` reads (the measures file)."""


@dataclass(frozen=True)
class UserPath:
    """Marks a params field as a path to the user's own file or folder.

    Attributes
    ----------
    kind
        ``"dir"`` or ``"file"``.
    stages
        Names of the DVC stages that read it (``("*",)``: every stage after ``acquire``).
    sources
        The ``data.source`` values it is used with (empty: all).
    unset
        Values that name no user file (e.g. ``"default"`` for the packaged file, ``""`` for none).
    absent_ok
        The schema default may be absent (then nothing is read); a value given explicitly must exist.
    suffixes
        For a file: the allowed suffixes; for a folder: the suffixes of the files it may hold
        directly (documentation files are always allowed). Empty: anything.
    """

    kind: Literal["dir", "file"]
    stages: tuple[str, ...]
    sources: tuple[str, ...] = ()
    unset: tuple[str, ...] = ()
    absent_ok: bool = False
    suffixes: tuple[str, ...] = ()

    def reads(self, stage: str) -> bool:
        """Whether stage ``stage`` reads this path."""
        return stage in self.stages or (ALL_STAGES in self.stages and stage not in ("params", "acquire"))


@dataclass(frozen=True)
class PathParam:
    """One user path that applies to a params file: its dotted key, value and marker."""

    key: str
    value: str
    marker: UserPath
    is_default: bool

    @property
    def path(self) -> Path:
        return Path(self.value)


_DOC_SUFFIXES = {".md", ".txt", ".rst"}


def _markers(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, UserPath, Any]]:
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            yield from _markers(ann, f"{prefix}{name}.")
            continue
        for meta in field.metadata:
            if isinstance(meta, UserPath):
                yield f"{prefix}{name}", meta, field.default


def path_fields(model: type[BaseModel]) -> list[tuple[str, UserPath]]:
    """Every field marked :class:`UserPath` in the schema ``model``: ``(dotted key, marker)``."""
    return [(key, marker) for key, marker, _ in _markers(model)]


def _value(params: BaseModel, key: str) -> Any:
    obj: Any = params
    for part in key.split("."):
        obj = getattr(obj, part)
    return obj


def user_paths(params: BaseModel, stage: str | None = None) -> list[PathParam]:
    """The user paths that apply to ``params`` (optionally: read by ``stage``), in schema order."""
    source = getattr(getattr(params, "data", None), "source", None)
    out = []
    for key, marker, default in _markers(type(params)):
        value = _value(params, key)
        if value is None or str(value) in marker.unset:
            continue
        if marker.sources and source not in marker.sources:
            continue
        if stage is not None and not marker.reads(stage):
            continue
        out.append(PathParam(key=key, value=str(value), marker=marker, is_default=value == default))
    return out


def path_problem(p: PathParam, root: Path) -> str | None:
    """Why the path of ``p`` cannot be used (``None``: it can)."""
    where = root / p.path
    m = p.marker
    if not where.exists() and not where.is_symlink():
        if p.is_default and m.absent_ok:
            return None
        what = "folder" if m.kind == "dir" else "file"
        return f"no such {what} (given: {p.value!r}, looked for {where.resolve()})"
    if m.kind == "dir" and not where.is_dir():
        return f"is a file, but a folder is needed (given: {p.value!r})"
    if m.kind == "file" and not where.is_file():
        return f"is a folder, but a file is needed (given: {p.value!r})"
    if m.kind == "file" and m.suffixes and where.suffix.lower() not in m.suffixes:
        return f"expected a {' or '.join(m.suffixes)} file (given: {p.value!r})"
    if m.kind == "dir" and m.suffixes:
        try:
            others = sorted(q.name for q in where.iterdir() if not q.name.startswith(".")
                            and (q.is_dir() or q.suffix.lower() not in set(m.suffixes) | _DOC_SUFFIXES))
        except OSError as err:
            return f"cannot be listed ({err.strerror}; given: {p.value!r})"
        if others:
            return (f"holds {len(others)} entr{'y' if len(others) == 1 else 'ies'} that are not "
                    f"{'/'.join(m.suffixes)} files (e.g. {others[0]!r}); point it at a folder of only those "
                    f"(given: {p.value!r})")
    return None


def check_user_paths(params: BaseModel, root: str | Path = ".") -> list[str]:
    """One message line per user path that does not exist or is the wrong kind, naming its dotted key."""
    root = Path(root)
    problems = []
    for p in user_paths(params):
        why = path_problem(p, root)
        if why:
            problems.append(f"  - {p.key}: {why}")
    return problems
