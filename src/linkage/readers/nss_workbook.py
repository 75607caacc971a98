"""NHS Staff Survey organisation workbook: one sheet per benchmarking group.

Layout knowledge (sheet names to skip, header tokens, column patterns) comes
from a ``family: nss_workbook`` entry of ``layouts.yaml``; this module only
knows the shape "a header row somewhere near the top, organisations below it,
then summary rows".
"""

from __future__ import annotations

import re
from typing import Any

from ..catalogue import Catalogue
from ..errors import InputFileError
from .common import (
    Collector,
    ReadResult,
    Workbook,
    cell_text,
    check_duplicate_orgs,
    find_header_row,
    header_index,
    normalise_decimal_commas,
    require_column,
    summary_row_label,
)


def probe(wb: Workbook, layout: dict[str, Any]) -> str | None:
    """None if ``wb`` has this layout, else a sentence saying what differs."""
    tokens = layout["header"]["tokens"]
    n = layout["header"].get("search_rows", 15)
    pattern = re.compile(layout["value_pattern"])
    skip = set(layout.get("skip_sheets", []))
    for sheet in wb.sheet_names:
        if sheet in skip:
            continue
        rows = wb.rows(sheet)
        i = find_header_row(rows, tokens, n)
        if i is not None and any(pattern.match(cell_text(c)) for c in rows[i]):
            return None
    return (
        f"no sheet has a header row holding {tokens} and year-suffixed value columns "
        f"(e.g. 'q11c_2019') in its first {n} rows; sheets are {wb.sheet_names}"
    )


def _value_columns(cols: dict[str, int], pattern: re.Pattern[str]) -> list[tuple[str, str, int]]:
    out = []
    for name in cols:
        m = pattern.match(name)
        if m:
            out.append((name, m.group("code"), int(m.group("year"))))
    return out


def _data_sheets(wb: Workbook, layout: dict[str, Any]) -> tuple[list[tuple[str, int, dict[str, int]]], int]:
    """The benchmarking-group sheets ``(sheet, header index, columns)`` and the file's own year (pass 1)."""
    file = wb.path.name
    tokens = layout["header"]["tokens"]
    search = layout["header"].get("search_rows", 15)
    pattern = re.compile(layout["value_pattern"])
    skip = set(layout.get("skip_sheets", []))
    sheets: list[tuple[str, int, dict[str, int]]] = []
    years: set[int] = set()
    for sheet in wb.sheet_names:
        if sheet in skip:
            continue
        rows = wb.rows(sheet)
        hi = find_header_row(rows, tokens, search)
        if hi is None:
            looks_like_data = any(pattern.match(cell_text(c)) for r in rows[:search] for c in r)
            if looks_like_data:
                raise InputFileError(
                    f"sheet has year-suffixed value columns but no header row holding {tokens} "
                    f"in its first {search} rows (was the organisation code column renamed?)",
                    file=file,
                    sheet=sheet,
                )
            continue  # a non-data sheet (chart, notes) not listed in skip_sheets
        cols = header_index(rows[hi], file=file, sheet=sheet, row=hi + 1)
        vcols = _value_columns(cols, pattern)
        if not vcols:
            raise InputFileError(
                f"header row {hi + 1} has {tokens} but no year-suffixed value columns like 'q11c_2019'",
                file=file,
                sheet=sheet,
                row=hi + 1,
            )
        years |= {y for _, _, y in vcols}
        sheets.append((sheet, hi, cols))
    if not sheets:
        raise InputFileError(f"no benchmarking-group sheets found; sheets are {wb.sheet_names}", file=file)
    return sheets, max(years)


def _sheet_targets(
    cols: dict[str, int], *, file: str, sheet: str, hrow: int, layout: dict[str, Any], catalogue: Catalogue,
    file_year: int,
) -> list[tuple[str, str, str, int, int, int | None]]:
    """``(measure, scale, column, j, year, base_j)`` of every catalogue measure in one sheet.

    Every catalogue code of the layout must be present for the file's own year.
    """
    lid, cols_spec = layout["id"], layout["columns"]
    pattern = re.compile(layout["value_pattern"])
    base_tpl = layout.get("base_template")
    resp_name = cols_spec.get("respondents")
    targets: list[tuple[str, str, str, int, int, int | None]] = []
    for name, code, year in _value_columns(cols, pattern):
        hit = catalogue.lookup(lid, code, year)
        if hit is None:
            continue
        m, s = hit
        base_j = None
        if s.base:
            base_j = cols.get(s.base, cols.get(f"{s.base}_{year}"))
        elif base_tpl:
            base_j = cols.get(base_tpl.format(code=code, year=year))
        targets.append((m.name, s.scale, name, cols[name], year, base_j))
    if resp_name:
        hit = catalogue.lookup(lid, resp_name, file_year)
        if hit is not None:
            require_column(cols, resp_name, what="respondents", file=file, sheet=sheet, row=hrow)
            targets.append((hit[0].name, hit[1].scale, resp_name, cols[resp_name], file_year, None))
    for code, entries in catalogue.sources_for(lid).items():
        if code == resp_name or not any(s.applies_to(file_year) for _, s in entries):
            continue
        require_column(cols, f"{code}_{file_year}", what=f"{entries[0][0].name} for {file_year}", file=file,
                       sheet=sheet, row=hrow)
    return targets


def _not_an_org(col: Collector, r: list[Any], rown: int, *, sheet: str, code_j: int, name_j: int,
                layout: dict[str, Any], file_year: int) -> bool:
    """Quarantine a summary row or a repeated header row; True if the row is not an organisation."""
    cols_spec = layout["columns"]
    summary = {s.lower() for s in layout.get("summary_codes", [])}
    raw_code = r[code_j] if code_j < len(r) else None
    code = cell_text(raw_code).upper()
    label = summary_row_label(raw_code, r[name_j] if name_j < len(r) else None)
    if code == "" or code.lower() in summary or cell_text(raw_code).lower() in summary or label:
        col.quarantine_cell(
            sheet=sheet, row=rown, org_code=None, year=file_year, column=cols_spec["org_code"],
            raw=cell_text(raw_code),
            reason="summary_row: not an organisation ("
            + ("blank code" if code == "" else f"{label or cell_text(raw_code)!r}") + ")",
        )
        return True
    if code.lower() in {t.lower() for t in layout["header"]["tokens"]}:
        col.quarantine_cell(
            sheet=sheet, row=rown, org_code=None, year=file_year, column=cols_spec["org_code"],
            raw=cell_text(raw_code), reason="repeated_header_row",
        )
        return True
    return False


def read(wb: Workbook, layout: dict[str, Any], catalogue: Catalogue) -> ReadResult:
    """Read every benchmarking-group sheet of a Staff Survey organisation workbook.

    Parameters
    ----------
    wb
        The opened workbook.
    layout
        The ``layouts.yaml`` entry (family ``nss_workbook``).
    catalogue
        Maps the publisher's codes to canonical measures.

    Returns
    -------
    ReadResult
        Before sub-code roll-up (done by :func:`linkage.readers.read_file`).
    """
    file = wb.path.name
    cols_spec = layout["columns"]
    marks = {m.lower() for m in layout.get("suppression_marks", [])} | set(layout.get("suppression_marks", []))
    col = Collector(file)
    seen: dict = {}
    sheets, file_year = _data_sheets(wb, layout)
    for sheet, hi, cols in sheets:
        for key in ("org_code", "org_name"):
            require_column(cols, cols_spec[key], what=key, file=file, sheet=sheet, row=hi + 1)
        code_j, name_j = cols[cols_spec["org_code"]], cols[cols_spec["org_name"]]
        group_j = cols.get(cols_spec.get("benchmark_group", ""), None)
        targets = _sheet_targets(cols, file=file, sheet=sheet, hrow=hi + 1, layout=layout, catalogue=catalogue,
                                 file_year=file_year)
        rows = wb.rows(sheet)
        value_js = sorted({t[3] for t in targets} | {t[5] for t in targets if t[5] is not None})
        normalise_decimal_commas(rows[hi + 1:], file=file, sheet=sheet, columns=value_js)  # "45,6" read as 45.6
        for i in range(hi + 1, len(rows)):
            r, rown = rows[i], i + 1
            if not any(cell_text(c) for c in r):
                continue  # an empty row
            if _not_an_org(col, r, rown, sheet=sheet, code_j=code_j, name_j=name_j, layout=layout,
                           file_year=file_year):
                continue
            code = cell_text(r[code_j]).upper()
            signature = tuple(r[j] if j < len(r) else None for _, _, _, j, _, _ in targets)
            if check_duplicate_orgs(seen, org_code=code, year=file_year, sheet=sheet, row=rown, signature=signature,
                                    collector=col, column=cols_spec["org_code"]):
                continue
            group = r[group_j] if group_j is not None and group_j < len(r) else sheet
            col.org(org_code=code, year=file_year, org_name=r[name_j] if name_j < len(r) else None,
                    benchmark_group=group, org_kind=catalogue.org_kind(cell_text(group), code))
            for measure, scale, cname, j, year, base_j in targets:
                col.value(sheet=sheet, row=rown, org_code=code, year=year, measure=measure, scale=scale,
                          column=cname, raw=r[j] if j < len(r) else None,
                          base_raw=r[base_j] if base_j is not None and base_j < len(r) else None, marks=marks)
    tidy, quarantine, orgs = col.frames()
    return ReadResult(
        tidy=tidy, quarantine=quarantine, rollups=None, orgs=orgs, layout=layout["id"], kind=layout["kind"],
        file_year=file_year,
    )
