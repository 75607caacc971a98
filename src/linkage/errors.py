"""Exceptions that carry enough context to act on without a traceback.

Every error raised for bad *input* (a file, a sheet, a parameter) is a
:class:`LinkageError`.  The command-line interface prints ``str(err)`` and exits
non-zero; ``--debug`` shows the traceback.
"""

from __future__ import annotations

from pathlib import Path


class LinkageError(Exception):
    """Base class for user-facing errors of the workbench."""


class InputFileError(LinkageError):
    """A published or extract file cannot be read as expected.

    Parameters
    ----------
    message
        What was wrong and what was expected.
    file, sheet, column, row
        Location of the problem.  ``row`` is the 1-based row number as a person
        sees it in a spreadsheet program (header rows included).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        sheet: str | None = None,
        column: str | None = None,
        row: int | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.sheet = sheet
        self.column = column
        self.row = row
        self.detail = message
        where = []
        if self.file is not None:
            where.append(f"file {self.file!r}")
        if sheet is not None:
            where.append(f"sheet {sheet!r}")
        if column is not None:
            where.append(f"column {column!r}")
        if row is not None:
            where.append(f"row {row}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class UnknownLayoutError(InputFileError):
    """The file's contents match none of the layouts the catalogue knows."""


class ParamsError(LinkageError):
    """``params.yaml`` failed validation."""


class LinkageDataError(LinkageError):
    """The linked data cannot support the requested step (e.g. a model)."""
