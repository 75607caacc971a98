"""CQC NHS Adult Inpatient Survey trust-level benchmark file (``.ods`` or ``.xlsx``).

The survey year's own sheet (``Trust_Scores``) gives question and section
means; ``Trust_Respondents`` gives per-question respondents (used as base_n);
``Historical_Comparisonsto<year>`` sheets restate earlier years in this file's
question numbering.  Names and patterns come from a ``family: cqc_benchmark``
entry of ``layouts.yaml``.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

import pandas as pd

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
    parse_number,
    require_column,
    summary_row_label,
)


def probe(wb: Workbook, layout: dict[str, Any]) -> str | None:
    """None if ``wb`` has this layout, else a sentence saying what differs."""
    main = layout["main_sheet"]
    if main not in wb.sheet_names:
        return f"no sheet named {main!r}; sheets are {wb.sheet_names}"
    rows = wb.rows(main)
    tokens = layout["header"]["tokens"]
    hi = find_header_row(rows, tokens, layout["header"].get("search_rows", 10))
    if hi is None:
        return f"sheet {main!r} has no header row holding {tokens}"
    pat = re.compile(layout["main_value_pattern"])
    if not any(pat.match(cell_text(c)) for c in rows[hi]):
        return f"sheet {main!r} has no question-mean columns matching {layout['main_value_pattern']!r}"
    return None


def _sheet_table(wb: Workbook, sheet: str, layout: dict[str, Any]) -> tuple[int, dict[str, int], list[list[Any]]]:
    rows = wb.rows(sheet)
    tokens = layout["header"]["tokens"]
    hi = find_header_row(rows, tokens, layout["header"].get("search_rows", 10))
    if hi is None:
        raise InputFileError(
            f"no header row holding {tokens} in the first {layout['header'].get('search_rows', 10)} rows",
            file=wb.path.name,
            sheet=sheet,
        )
    return hi, header_index(rows[hi], file=wb.path.name, sheet=sheet, row=hi + 1), rows


def _history_sheets(wb: Workbook, layout: dict[str, Any]) -> list[tuple[str, int]]:
    pat = re.compile(layout["history_sheet_pattern"])
    out = []
    for s in wb.sheet_names:
        m = pat.match(s)
        if m:
            out.append((s, int(m.group("year"))))
    return out


def _title_year(wb: Workbook, layout: dict[str, Any]) -> int | None:
    sheet = layout.get("title_sheet")
    if not sheet or sheet not in wb.sheet_names:
        return None
    pat = re.compile(layout["title_pattern"])
    for r in wb.rows(sheet)[:5]:
        for c in r:
            m = pat.search(cell_text(c))
            if m:
                return int(m.group("year"))
    return None


def file_year(wb: Workbook, layout: dict[str, Any], history_years: list[int]) -> int:
    """The survey year the file is about.

    Order: the title on the guidance sheet ("NHS Adult Inpatient Survey 2022");
    else one more than the latest historical year; else the only 4-digit year
    in the file name.  A title that contradicts the historical sheets is an
    error (the file would be mislabelled).
    """
    title = _title_year(wb, layout)
    hist = max(history_years) + 1 if history_years else None
    if title is not None and hist is not None and title <= max(history_years):
        raise InputFileError(
            f"title says survey year {title} but a historical sheet holds {max(history_years)}; "
            "cannot tell the file's own year",
            file=wb.path.name,
            sheet=layout.get("title_sheet"),
        )
    if title is not None:
        return title
    if hist is not None:
        return hist
    found = set(re.findall(r"(?<!\d)((?:19|20)\d{2})(?!\d)", wb.path.name))
    if len(found) == 1:
        return int(found.pop())
    raise InputFileError(
        "cannot tell the survey year: no title on the guidance sheet, no historical sheets, "
        "and no single 4-digit year in the file name",
        file=wb.path.name,
    )


def _key(wb: Workbook, layout: dict[str, Any]) -> pd.DataFrame:
    sheet = layout.get("key_sheet")
    if not sheet or sheet not in wb.sheet_names:
        return pd.DataFrame(columns=["sheet", "variable", "description"])
    out, current = [], None
    for i, r in enumerate(wb.rows(sheet)):
        cells = [cell_text(c) for c in r] + ["", "", ""]
        if i == 0 and cells[1].lower().startswith("variable"):
            continue
        current = cells[0] or current
        if cells[1]:
            out.append({"sheet": current, "variable": cells[1], "description": cells[2]})
    return pd.DataFrame(out, columns=["sheet", "variable", "description"]).drop_duplicates()


def _org_rows(col: Any, rows: list[list[Any]], header_row: int, code_j: int, *, sheet: str, year: int,
             column: str, value_cols: list[int], name_j: int | None = None):
    """Yield ``(index, row, org_code)`` for each organisation row below the header.

    Blank rows are skipped; a row without a code is quarantined as a summary
    row; a repeated organisation is handled by :func:`check_duplicate_orgs`
    (identical repeats quarantined, conflicting ones an error).
    """
    seen: dict = {}
    for i in range(header_row + 1, len(rows)):
        r = rows[i]
        if not any(cell_text(c) for c in r):
            continue
        code = cell_text(r[code_j] if code_j < len(r) else None).upper()
        label = summary_row_label(code, r[name_j] if name_j is not None and name_j < len(r) else None)
        if code == "" or label:
            col.quarantine_cell(sheet=sheet, row=i + 1, org_code=None, year=year, column=column, raw=code,
                                reason=f"summary_row: not an organisation ({label or 'blank code'!r})")
            continue
        sig = tuple(r[j] if j < len(r) else None for j in value_cols)
        if check_duplicate_orgs(seen, org_code=code, year=year, sheet=sheet, row=i + 1, signature=sig,
                                collector=col, column=column):
            continue
        yield i, r, code


def _history_targets(
    cols: dict[str, int], hyear: int, layout: dict[str, Any], catalogue: Catalogue
) -> list[tuple[str, str, str, int, int | None, str]]:
    """``(measure, scale, column, j, base_j, code)`` of the catalogue's measures in one historical sheet."""
    spec, lid = layout["columns"], layout["id"]
    hpat = re.compile(layout["history_value_pattern"])
    rpat = re.compile(spec.get("history_respondents_pattern", r"^$"))
    btpl = layout.get("history_base_template")
    out = []
    for cname, j in cols.items():
        m = hpat.match(cname)
        code = m.group("code") if m else (spec["respondents"] if rpat.match(cname) else None)
        hit = catalogue.lookup(lid, code, hyear) if code else None
        if hit:
            base_j = cols.get(btpl.format(code=code)) if (m and btpl) else None
            out.append((hit[0].name, hit[1].scale, cname, j, base_j, code))
    return out


def _audit_missing_history(col: Collector, sheet: str, hyear: int, cols: dict[str, int], found: set[str],
                           layout: dict[str, Any], catalogue: Catalogue) -> None:
    """Quarantine one ``missing_column`` row per catalogue measure absent from a historical sheet.

    A renamed or dropped column must not lose a year silently; when the sheet
    has none of the expected columns at all it is an error.
    """
    want = re.compile(layout.get("history_expected_codes", r"^$"))
    expected = {code: entries for code, entries in catalogue.sources_for(layout["id"]).items()
                if want.match(code) and any(s.applies_to(hyear) for _, s in entries)}
    missing = sorted(set(expected) - found)
    if missing and not (found & set(expected)):
        raise InputFileError(
            f"historical sheet for {hyear} has none of the expected value columns (e.g. "
            f"'{missing[0]}_mean_H'); columns are {list(cols)[:12]} (renamed? the {hyear} values would be lost)",
            file=col.file, sheet=sheet,
        )
    for code in missing:
        measure = expected[code][0][0].name
        close = difflib.get_close_matches(f"{code}_mean_H", list(cols), n=3, cutoff=0.6)
        col.quarantine_cell(
            sheet=sheet, row=None, org_code=None, year=hyear, column=f"{code}_mean_H*", raw=None,
            reason=f"missing_column: no column for {measure} (code {code}) in this sheet, so its {hyear} values "
            f"are lost" + (f"; similar columns: {close}" if close else ""),
        )


def _read_history(col: Collector, table: tuple, layout: dict[str, Any], catalogue: Catalogue,
                  marks: set[str]) -> None:
    """Read one ``Historical_Comparisonsto<year>`` sheet into ``col``."""
    sheet, hyear, hi, cols, rows = table
    spec = layout["columns"]
    require_column(cols, spec["org_code"], what="org_code", file=col.file, sheet=sheet, row=hi + 1)
    code_j = cols[spec["org_code"]]
    name_j = cols.get(spec.get("org_name", ""))
    htargets = _history_targets(cols, hyear, layout, catalogue)
    normalise_decimal_commas(rows[hi + 1:], file=col.file, sheet=sheet,  # "8,1" read as 8.1, as in a CSV
                             columns=sorted({t[3] for t in htargets} | {t[4] for t in htargets if t[4] is not None}))
    _audit_missing_history(col, sheet, hyear, cols, {t[5] for t in htargets}, layout, catalogue)
    for i, r, code in _org_rows(col, rows, hi, code_j, sheet=sheet, year=hyear, column=spec["org_code"],
                                value_cols=[t[3] for t in htargets], name_j=name_j):
        col.org(org_code=code, year=hyear, org_name=r[name_j] if name_j is not None and name_j < len(r) else None,
                benchmark_group=None, org_kind="trust")
        for measure, scale, cname, j, base_j, _ in htargets:
            col.value(sheet=sheet, row=i + 1, org_code=code, year=hyear, measure=measure, scale=scale,
                      column=cname, raw=r[j] if j < len(r) else None,
                      base_raw=r[base_j] if base_j is not None and base_j < len(r) else None, marks=marks)


def _history_table(wb: Workbook, layout: dict[str, Any], sheet: str, name_year: int) -> tuple:
    """A historical sheet's table, its SurveyYear cells checked against the year in the sheet's name."""
    spec = layout["columns"]
    hi, cols, rows = _sheet_table(wb, sheet, layout)
    ycol = spec.get("history_year")
    years = set()
    if ycol in cols:
        for r in rows[hi + 1 :]:
            v, why = parse_number(r[cols[ycol]] if cols[ycol] < len(r) else None, set())
            if why is None:
                years.add(int(v))
    if years and years != {name_year}:
        raise InputFileError(
            f"SurveyYear values {sorted(years)} do not match the sheet name's year {name_year}",
            file=wb.path.name, sheet=sheet, column=ycol,
        )
    return sheet, name_year, hi, cols, rows


def _respondents_by_question(wb: Workbook, layout: dict[str, Any]) -> dict[tuple[str, str], Any]:
    """``(org_code, column) -> cell`` of the per-question respondents sheet, if the layout has one."""
    per_q: dict[tuple[str, str], Any] = {}
    rsheet = layout.get("respondents_sheet")
    if rsheet and rsheet in wb.sheet_names:
        rhi, rcols, rrows = _sheet_table(wb, rsheet, layout)
        rc = rcols[layout["columns"]["org_code"]]
        for r in rrows[rhi + 1 :]:
            oc = cell_text(r[rc] if rc < len(r) else None).upper()
            for cname, j in rcols.items():
                if j < len(r):
                    per_q[(oc, cname)] = r[j]
    return per_q


def read(wb: Workbook, layout: dict[str, Any], catalogue: Catalogue) -> ReadResult:
    """Read a CQC inpatient benchmark file: the survey year and its historical sheets.

    Parameters
    ----------
    wb
        The opened workbook.
    layout
        The ``layouts.yaml`` entry (family ``cqc_benchmark``).
    catalogue
        Maps question / section codes to canonical measures.
    """
    file = wb.path.name
    lid = layout["id"]
    spec = layout["columns"]
    marks = {m.lower() for m in layout.get("suppression_marks", [])} | set(layout.get("suppression_marks", []))
    hist_sheets = _history_sheets(wb, layout)
    col = Collector(file)

    hist_tables = [_history_table(wb, layout, sheet, name_year) for sheet, name_year in hist_sheets]
    year = file_year(wb, layout, [y for _, y in hist_sheets])

    # ---- the survey year's own sheet
    main = layout["main_sheet"]
    hi, cols, rows = _sheet_table(wb, main, layout)
    for key in ("org_code", "respondents"):
        require_column(cols, spec[key], what=key, file=file, sheet=main, row=hi + 1)
    code_j, resp_j = cols[spec["org_code"]], cols[spec["respondents"]]
    name_j = cols.get(spec.get("org_name", ""))
    per_q = _respondents_by_question(wb, layout)
    vpat = re.compile(layout["main_value_pattern"])
    targets = []
    for cname, j in cols.items():
        m = vpat.match(cname)
        if not m:
            continue
        hit = catalogue.lookup(lid, m.group("code"), year)
        if hit:
            targets.append((hit[0].name, hit[1].scale, cname, j, m.group("code")))
    for code, entries in catalogue.sources_for(lid).items():
        if code == spec["respondents"] or not any(s.applies_to(year) for _, s in entries):
            continue
        if not any(t[4] == code for t in targets):
            require_column(cols, f"mean{code}", what=f"{entries[0][0].name} for {year}", file=file, sheet=main, row=hi + 1)
    resp_hit = catalogue.lookup(lid, spec["respondents"], year)
    normalise_decimal_commas(rows[hi + 1:], file=file, sheet=main, columns=sorted({t[3] for t in targets} | {resp_j}))
    tpl = layout.get("respondents_base_template")
    for i, r, code in _org_rows(col, rows, hi, code_j, sheet=main, year=year, column=spec["org_code"],
                                value_cols=[t[3] for t in targets], name_j=name_j):
        col.org(org_code=code, year=year, org_name=r[name_j] if name_j is not None and name_j < len(r) else None,
                benchmark_group=None, org_kind="trust")
        n_all = r[resp_j] if resp_j < len(r) else None
        for measure, scale, cname, j, qcode in targets:
            base = per_q.get((code, tpl.format(code=qcode))) if tpl else None
            if base is None or parse_number(base, marks)[1] is not None:
                base = n_all
            col.value(sheet=main, row=i + 1, org_code=code, year=year, measure=measure, scale=scale,
                      column=cname, raw=r[j] if j < len(r) else None, base_raw=base, marks=marks)
        if resp_hit:
            col.value(sheet=main, row=i + 1, org_code=code, year=year, measure=resp_hit[0].name,
                      scale=resp_hit[1].scale, column=spec["respondents"], raw=n_all, base_raw=None, marks=marks)

    # ---- historical sheets
    for table in hist_tables:
        _read_history(col, table, layout, catalogue, marks)
    tidy, quarantine, orgs = col.frames()
    return ReadResult(tidy=tidy, quarantine=quarantine, rollups=None, orgs=orgs, layout=lid,
                      kind=layout["kind"], file_year=year, key=_key(wb, layout))
