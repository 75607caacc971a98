"""Trust context: catchment deprivation and other trust or trust-year context, as a source like the others.

Context files are CSVs recognised by their header through layouts (``layouts.yaml`` here, plus any
layout YAML placed beside the files; format in ``docs/context.md``). The acquire stage copies them
into ``data/raw/context/`` (:func:`copy_context`); the link stage adds their values to the panel as
``context.<name>`` columns and writes ``data/processed/context_audit.csv`` (:func:`attach_context`).
A catchment file plus area score files give share-weighted trust values; areas abolished in the
2023 reorganisations are scored by their successor (``ltla_successors_2023.csv``).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import LinkageError
from ..files import copy_folder
from ._attach import AUDIT_COLUMNS, PREFIX, ContextResult, attach_context, deciles
from ._layouts import PACKAGE_DIR, load_layouts, read_successors
from ._read import read_context_folder

SUCCESSORS_FILE = PACKAGE_DIR / "ltla_successors_2023.csv"
_KEEP_SUFFIXES = {".csv", ".yaml", ".yml"}

__all__ = ["AUDIT_COLUMNS", "PREFIX", "SUCCESSORS_FILE", "ContextResult", "attach_context", "copy_context",
           "deciles", "load_layouts", "read_context_folder", "read_successors"]


def copy_context(source: str | Path, dest: str | Path, *, named: str | None = None) -> list[Path]:
    """Copy the context files (CSV and layout YAML) of ``source`` into ``dest``; a missing folder is an error.

    ``named`` is the folder as the user wrote it (``data.context_dir``), for the messages.
    """
    source, dest = Path(source), Path(dest)
    named = named or str(source)
    if not source.is_dir():
        raise LinkageError(f"data.context_dir {named!r} is not a folder (looked at {source}). Point it at a folder of "
                           "context files (e.g. ../shared/data/context) or set it to null.")
    copied = copy_folder(source, dest, lambda p: p.suffix.lower() in _KEEP_SUFFIXES)
    if not copied:
        raise LinkageError(f"data.context_dir {named!r} holds no context files (CSV or layout YAML).")
    return copied
