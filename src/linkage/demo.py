"""Synthetic demo data: clearly labelled, deterministic, in the publishers' layouts.

The demo lets anyone run the whole pipeline offline.  It does **not** ship
tables of numbers; it simulates organisations and writes raw files shaped like
the published ones, so the demo takes exactly the same reading code path as
real data:

* one NHS Staff Survey organisation workbook per staff year, in the 2019
  layout (``ST19-Organisation-Data-2019-Only``: a sheet per benchmarking group,
  a title row above the header of ``Acute``, weighted theme scores 0-10,
  question proportions 0-1, ``_n_`` bases, response rate, trailing summary rows);
* one CQC Adult Inpatient Survey benchmark file per patient year, in the 2022
  layout (``Trust_Scores`` with ``meanQx``/``meanSx`` and intervals,
  ``Trust_Respondents``, ``Key``, and two historical sheets with the same
  trusts' previous two years);
* NHS ODS-style organisation files: a headerless ``etr.csv``, successions
  (``old_code,new_code,date``) and trust types.

Data generating process (per acute trust *i*, year *t*)::

    stress_it    = mu_i + tau_t + e_it                      (latent % unwell from work stress)
    published_it = stress_it + sampling error, var p(1-p)/n (what the workbook shows, as 0-1, with its base n)
    overall_it   = alpha_i + gamma_t + beta * stress_it + u_it            (latent patient experience)
    published    = overall_it + sampling error, sd 2/sqrt(n)              (with the Q46 base n)

with ``alpha_i`` correlated with ``mu_i`` (so the cross-sectional slope is
steeper than the within-trust one), ``beta = data.demo.true_effect``.  The
effect is planted on the *latent* trust values and both published values carry
sampling error from the base n written in the files, as real survey results
do: a naive within-trust slope of the published values is attenuated by the
exposure's within reliability, and the model stage's errors-in-variables
correction (``docs/models.md``) is what targets ``beta``.

Everything is labelled SYNTHETIC: codes start with ``Z``, names end in
``(SYNTHETIC DEMO)`` and every file name contains ``DEMO-SYNTHETIC``.
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .params import DemoParams
from .paths import DEMO_TRUTH

SYNTHETIC = "SYNTHETIC DEMO"
MERGER_DATE = "2021-04-01"

#: NSS 2019 benchmarking-group sheets written by the demo: (sheet, trtype, trtname, title row?).
NSS_GROUPS = {
    "acute": ("Acute", 1, "Acute Trusts", True),
    "acute_specialist": ("Acute Specialist", 3, "Acute Specialist Trusts", False),
    "mental_health": ("MH LD", 4, "Mental Health / Learning Disability Trusts", False),
    "community": ("Community", 6, "Community Trusts", False),
    "ambulance": ("Ambulance", 7, "Ambulance Trusts", False),
    "ccg": ("CCGs", 8, "CCGs", False),
}
#: CQC primary inspection categories as in the ODS-derived trust types file.
CQC_CATEGORY = {
    "acute": "Acute hospital - NHS non-specialist",
    "acute_specialist": "Acute hospital - NHS specialist",
    "mental_health": "Mental health - community & residential - NHS",
    "community": "Community health - NHS & Independent",
    "ambulance": "Ambulance service",
}
NSS_THEMES = [
    "diversity", "sculture", "hwb", "managers", "qualapp", "qualcare",
    "morale", "engagement", "sebh", "seviol", "teamwork",
]
# A representative subset of the 2019 question columns (the layout, not data).
NSS_QUESTIONS = [
    "q1", "q2a", "q2b", "q2c", "q3a", "q3b", "q3c", "q4a", "q4g", "q5a", "q5h",
    "q9a", "q11a", "q11b", "q11c", "q11d", "q11e", "q12a", "q13a", "q18a", "q21a", "q21b",
    "q21c", "q21d", "q23a",
]
CQC_QUESTIONS = ["Q2", "Q4", "Q7", "Q12", "Q18", "Q24", "Q30", "Q36", "Q41", "Q45", "Q46", "Q47"]
CQC_SECTIONS = [f"S{i:02d}" for i in range(1, 12)]


def _code(prefix: str, i: int) -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRSTUVWXY"
    return prefix + alphabet[i // len(alphabet) % len(alphabet)] + alphabet[i % len(alphabet)]


def _year_effects(years, table: dict[int, float], slope: float = 0.0) -> dict[int, float]:
    return {y: table.get(y, slope * (y - 2019)) for y in years}


def simulate_organisations(spec: DemoParams) -> pd.DataFrame:
    """Organisations of the demo, with their latent trust-level effects.

    Returns one row per organisation code (predecessors of planted mergers and
    their successors included) with columns ``org_code, org_name, org_type,
    open_year, close_year, successor, mu, alpha`` and size parameters.
    """
    rng = np.random.default_rng([spec.seed, 1])
    rows: list[dict[str, Any]] = []
    n_spec = max(1, round(spec.n_acute * 0.12))
    for i in range(spec.n_acute):
        org_type = "acute_specialist" if i >= spec.n_acute - n_spec else "acute"
        rows.append({"org_code": _code("Z", i), "org_type": org_type})
    kinds = ["mental_health", "community", "ambulance", "ccg"]
    for j in range(spec.n_non_acute):
        kind = kinds[j % len(kinds)]
        # Non-acute codes are numbered after the acute ones (from 300 at the least, so the
        # default demo keeps its codes), which keeps every code unique up to n_acute = 400.
        code = f"{j:02d}Z" if kind == "ccg" else _code("Z", max(300, spec.n_acute) + j)
        rows.append({"org_code": code, "org_type": kind})
    orgs = pd.DataFrame(rows)
    n = len(orgs)
    orgs["mu"] = rng.normal(40.0, 5.0, n)  # trust-level stress, percent
    # Patient experience level, correlated with stress across trusts (confounding).
    orgs["alpha"] = 9.3 - 0.05 * (orgs["mu"] - 40.0) + rng.normal(0.0, 0.30, n)
    orgs["staff_size"] = np.exp(rng.normal(np.log(5500), 0.55, n)).round()
    orgs.loc[orgs["org_type"] == "ccg", "staff_size"] = rng.integers(25, 220, (orgs["org_type"] == "ccg").sum())
    orgs["response_rate"] = np.clip(rng.normal(0.47, 0.09, n), 0.2, 0.9)
    orgs["patients"] = rng.integers(280, 620, n)
    orgs["open_year"] = 1991
    orgs["close_year"] = pd.NA
    orgs["successor"] = pd.NA
    orgs["org_name"] = [
        f"Synthetic {t.replace('_', ' ').title()} {'CCG' if t == 'ccg' else 'Trust'} {c} ({SYNTHETIC})"
        for c, t in zip(orgs["org_code"], orgs["org_type"], strict=True)
    ]
    # Planted mergers: pairs of non-specialist acute trusts merge on 2021-04-01.
    acute_idx = orgs.index[orgs["org_type"] == "acute"].tolist()
    merged = []
    for m in range(spec.n_mergers):
        a, b = acute_idx[2 * m], acute_idx[2 * m + 1]
        new_code = _code("ZM", m)[0] + "M" + _code("Z", m)[2]
        wa, wb = orgs.at[a, "staff_size"], orgs.at[b, "staff_size"]
        successor = {
            "org_code": new_code,
            "org_type": "acute",
            "mu": (orgs.at[a, "mu"] * wa + orgs.at[b, "mu"] * wb) / (wa + wb),
            "alpha": (orgs.at[a, "alpha"] * wa + orgs.at[b, "alpha"] * wb) / (wa + wb),
            "staff_size": wa + wb,
            "response_rate": (orgs.at[a, "response_rate"] + orgs.at[b, "response_rate"]) / 2,
            "patients": max(orgs.at[a, "patients"], orgs.at[b, "patients"]),
            "open_year": 2021,
            "close_year": pd.NA,
            "successor": pd.NA,
            "org_name": f"Synthetic Merged Acute Trust {new_code} ({SYNTHETIC})",
        }
        for k in (a, b):
            orgs.at[k, "close_year"] = 2021
            orgs.at[k, "successor"] = new_code
        merged.append(successor)
    if merged:
        orgs = pd.concat([orgs, pd.DataFrame(merged)], ignore_index=True)
    return orgs


def _active(orgs: pd.DataFrame, year: int) -> pd.Series:
    closes = pd.to_numeric(orgs["close_year"], errors="coerce").fillna(9999)
    return (orgs["open_year"] <= year) & (year < closes)


def simulate_values(
    spec: DemoParams, orgs: pd.DataFrame | None = None, *, plant_on: str = "latent"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate published staff and patient values per organisation-year.

    Returns ``(staff, patient)`` wide frames keyed by ``org_code, year`` with
    values on the *canonical* scale (percent for staff proportions, 0-10 scores)
    and bases.  Patient rows exist only for acute and acute specialist trusts.
    ``plant_on='latent'`` (the demo) plants the effect on the latent stress value;
    ``'published'`` plants it on the published (noisy) value, the case in which a
    naive within estimator is unbiased (for tests of the estimators themselves).
    The staff frame keeps the latent value in column ``latent_stress`` (never written to files).
    """
    if plant_on not in ("latent", "published"):
        raise ValueError(f"plant_on must be 'latent' or 'published', got {plant_on!r}")
    orgs = simulate_organisations(spec) if orgs is None else orgs
    rng = np.random.default_rng([spec.seed, 2])
    tau = _year_effects(spec.staff_years, {2017: -1.0, 2018: -0.5, 2019: 0.0, 2020: 3.5, 2021: 6.0, 2022: 5.0, 2023: 3.0}, 0.5)
    gamma = _year_effects(spec.patient_years, {2018: 0.0, 2019: -0.05, 2020: 0.25, 2021: 0.10, 2022: -0.15, 2023: -0.10})

    staff_rows = []
    for year in spec.staff_years:
        act = orgs[_active(orgs, year)]
        n = len(act)
        responses = np.maximum(5, (act["staff_size"] * np.clip(act["response_rate"] + rng.normal(0, 0.03, n), 0.1, 0.95))).round()
        true_stress = act["mu"].to_numpy() + tau[year] + rng.normal(0.0, 2.5, n)
        p = np.clip(true_stress / 100, 0.01, 0.99)
        base = np.maximum(1, (responses * rng.uniform(0.96, 0.995, n)).round())
        published = np.clip(p + rng.normal(0, np.sqrt(p * (1 - p) / base)), 0.001, 0.999) * 100
        dev = true_stress - act["mu"].to_numpy() - tau[year]
        staff_rows.append(pd.DataFrame({
            "org_code": act["org_code"].to_numpy(),
            "year": year,
            "staff.stress": published,
            "staff.stress__n": base,
            "staff.hwb_action": np.clip(30 + 0.2 * (year - 2017) - 0.3 * dev + rng.normal(0, 4, n), 1, 99),
            "staff.recommend_care": np.clip(72 - 0.6 * (act["mu"].to_numpy() - 40) - 0.4 * dev + rng.normal(0, 3, n), 1, 99),
            "staff.engagement": np.clip(7.0 - 0.03 * (act["mu"].to_numpy() - 40) - 0.02 * dev + rng.normal(0, 0.12, n), 0, 10),
            "staff.hwb_theme": np.clip(6.0 - 0.04 * (true_stress - 40) + rng.normal(0, 0.12, n), 0, 10),
            "staff.morale": np.clip(6.1 - 0.03 * (true_stress - 40) + rng.normal(0, 0.12, n), 0, 10),
            "staff.respondents": responses,
            "staff.response_rate": np.clip(act["response_rate"].to_numpy() * 100 + rng.normal(0, 2, n), 5, 99),
            "distributed": (responses / np.clip(act["response_rate"].to_numpy(), 0.1, 1)).round(),
            "latent_stress": p * 100,
        }))
    staff = pd.concat(staff_rows, ignore_index=True)

    acute = orgs[orgs["org_type"].isin(["acute", "acute_specialist"])].set_index("org_code")
    pat_rows = []
    stress_lookup = staff.set_index(["org_code", "year"])["latent_stress" if plant_on == "latent" else "staff.stress"]
    for year in spec.patient_years:
        act = acute[_active(acute.reset_index(), year).to_numpy()]
        n = len(act)
        codes = act.index.to_numpy()
        if year in spec.staff_years:
            s = stress_lookup.reindex(pd.MultiIndex.from_arrays([codes, np.full(n, year)])).to_numpy()
        else:  # no staff survey that year: use the trust mean (no within variation)
            s = act["mu"].to_numpy()
        npat = np.maximum(50, (act["patients"].to_numpy() * rng.uniform(0.85, 1.1, n)).round())
        latent = act["alpha"].to_numpy() + gamma[year] + spec.true_effect * s + rng.normal(0, 0.10, n)
        n_overall = np.maximum(20, (npat * 0.97).round())  # the base n of Q46 (overall experience)
        overall = np.clip(latent + rng.normal(0, 2.0 / np.sqrt(n_overall)), 0, 10)
        respect = np.clip(9.0 + 0.5 * (latent - 8.0) + rng.normal(0, 0.08, n), 0, 10)
        frame = {"org_code": codes, "year": year, "n_tpat": npat,
                 "patient.ip_overall": overall, "patient.ip_respect_dignity": respect}
        for q in CQC_QUESTIONS:
            if q == "Q46":
                frame[f"mean{q}"] = overall
            elif q == "Q45":
                frame[f"mean{q}"] = respect
            else:
                frame[f"mean{q}"] = np.clip(7.5 + 0.7 * (latent - 8.0) + rng.normal(0, 0.4, n), 0, 10)
            frame[f"{q}_tres"] = np.maximum(20, (npat * rng.uniform(0.3, 0.99)).round())
        frame["Q46_tres"] = n_overall
        for s_ in CQC_SECTIONS:
            frame[f"mean{s_}"] = np.clip(7.8 + 0.8 * (latent - 8.0) + rng.normal(0, 0.3, n), 0, 10)
        pat_rows.append(pd.DataFrame(frame))
    patient = pd.concat(pat_rows, ignore_index=True)
    # A few trust-years are missing from the patient survey (e.g. a trust that did not
    # take part), so the linked panel is unbalanced and has gaps, as real panels do.
    missing = rng.random(len(patient)) < 0.015
    patient = patient[~missing].reset_index(drop=True)
    return staff, patient


def simulate_panel(
    seed: int = 0,
    n_trusts: int = 130,
    years: tuple[int, ...] | list[int] = (2019, 2020, 2021, 2022, 2023),
    true_effect: float = -0.03,
    plant_on: str = "latent",
) -> pd.DataFrame:
    """A linked demo panel in ``panel.parquet`` format, straight from the simulation.

    No files, no mergers: for fast model tests and coverage simulations.  Rows
    are acute trusts x ``years``; columns ``org_code, year, org_name,
    trust_type, staff.*, staff.*__n, patient.*, patient.*__n``.  ``plant_on``: see
    :func:`simulate_values` (the effect on the latent value by default, as in the demo files).
    """
    years = tuple(int(y) for y in years)
    spec = DemoParams(seed=seed, n_acute=n_trusts, n_non_acute=0, staff_years=list(years),
                    patient_years=list(years), true_effect=true_effect, n_mergers=0)
    orgs = simulate_organisations(spec)
    staff, patient = simulate_values(spec, orgs, plant_on=plant_on)
    pat = patient[["org_code", "year", "patient.ip_overall", "patient.ip_respect_dignity", "n_tpat", "Q46_tres"]].rename(
        columns={"Q46_tres": "patient.ip_overall__n"})
    pat["patient.ip_respect_dignity__n"] = pat.pop("n_tpat")
    keep = [c for c in staff.columns if c.startswith("staff.") or c in ("org_code", "year")]
    panel = staff[keep].merge(pat, on=["org_code", "year"], how="inner")
    for m in ("staff.hwb_action", "staff.recommend_care", "staff.engagement", "staff.hwb_theme", "staff.morale"):
        panel[f"{m}__n"] = panel["staff.stress__n"]
    meta = orgs.set_index("org_code")[["org_name", "org_type"]].rename(columns={"org_type": "trust_type"})
    panel = panel.join(meta, on="org_code")
    first = ["org_code", "year", "org_name", "trust_type"]
    return panel[first + [c for c in panel.columns if c not in first]].sort_values(first[:2]).reset_index(drop=True)


# --------------------------------------------------------------------------- writers
def _nss_frame(staff_year: pd.DataFrame, orgs: pd.DataFrame, kind: str, year: int, rng) -> pd.DataFrame:
    """One benchmarking group's sheet of the NSS workbook (``staff_year`` already joined to the organisations'
    names and types when it has an ``org_type`` column).  The random draws come in a fixed order."""
    sheet, trtype, trtname, _ = NSS_GROUPS[kind]
    sel = staff_year if "org_type" in staff_year else staff_year.merge(
        orgs[["org_code", "org_name", "org_type"]], on="org_code")
    sel = sel[sel["org_type"] == kind].sort_values("org_code")
    n = len(sel)
    out: dict[str, Any] = {
        "trust": sel["org_code"].to_numpy(),
        "trustname": sel["org_name"].to_numpy(),
        "trtype": float(trtype),
        "trtname": trtname,
        "sample_type": "Census",
        "org_mode": np.where(rng.random(n) < 0.6, "Online", "Mixed"),
        "responses": sel["staff.respondents"].to_numpy(),
        f"rr_{year}": sel["staff.response_rate"].to_numpy() / 100,
    }
    if kind == "acute":
        out["Distributed"] = sel["distributed"].to_numpy()
    theme_vals = {
        "hwb": sel["staff.hwb_theme"].to_numpy(),
        "engagement": sel["staff.engagement"].to_numpy(),
        "morale": sel["staff.morale"].to_numpy(),
    }
    for t in NSS_THEMES:
        out[f"theme_{t}_{year}"] = theme_vals.get(t, np.clip(rng.normal(7.0, 0.4, n), 0, 10))
    base = sel["staff.stress__n"].to_numpy()
    qvals = {
        "q11c": sel["staff.stress"].to_numpy() / 100,
        "q11a": sel["staff.hwb_action"].to_numpy() / 100,
        "q21d": sel["staff.recommend_care"].to_numpy() / 100,
    }
    qbases = {}
    for q in NSS_QUESTIONS:
        out[f"{q}_{year}"] = qvals.get(q, np.clip(rng.normal(0.6, 0.1, n), 0.01, 0.99))
        qbases[q] = base if q in qvals else np.maximum(1, (base * rng.uniform(0.9, 1.0, n)).round())
    for t in NSS_THEMES:
        out[f"theme_{t}_n_{year}"] = sel["staff.respondents"].to_numpy()
    for q in NSS_QUESTIONS:
        out[f"{q}_n_{year}"] = qbases[q]
    for c in [c for c in out if c.startswith("q")]:  # question columns hold numbers or text: object columns
        out[c] = np.asarray(out[c], dtype=float).astype(object)
    # Suppression: the publisher suppresses question results with fewer than 11 responses.
    for q in NSS_QUESTIONS:
        out[f"{q}_{year}"][np.asarray(qbases[q], dtype=float) < 11] = "*"
    return pd.DataFrame(out)


def write_nss_workbook(path: Path, year: int, staff: pd.DataFrame, orgs: pd.DataFrame, seed: int) -> Path:
    """Write one Staff Survey organisation workbook in the 2019 layout."""
    from openpyxl import Workbook

    rng = np.random.default_rng([seed, 3, year])
    sy = staff[staff["year"] == year]
    wb = Workbook(write_only=True)
    notes = wb.create_sheet("Notes")
    notes.append([f"National Staff Survey {year} - {SYNTHETIC} DATA (simulated, not published results)", ""])
    notes.append(["This sheet provides data for all organisations in the synthetic demo, split by benchmarking group.", ""])
    notes.append(["Key", ""])
    notes.append(["Variable Name", "Description"])
    notes.append(["trust", "Organisation Code"])
    notes.append(["q11c_20XX", "Proportion of staff selecting Yes out of those who answered the question for year 20XX"])
    groups = wb.create_sheet("Trust Benchmark Groups")
    groups.append([f"{NSS_GROUPS[k][0].upper()} ({SYNTHETIC})" for k in NSS_GROUPS])
    sy = sy.merge(orgs[["org_code", "org_name", "org_type"]], on="org_code")
    bulk: dict[str, str] = {}  # worksheet part -> its rows as XML, put in after openpyxl saves the workbook
    for kind in NSS_GROUPS:
        sheet, _, _, title = NSS_GROUPS[kind]
        frame = _nss_frame(sy, orgs, kind, year, rng)
        ws = wb.create_sheet(sheet)
        rows: list[list[Any]] = []
        if title:
            rows.append(["See summary responses and calculated rates at bottom of acute and combined worksheets"])
        rows.append(list(frame.columns))
        rows.extend(_sheet_rows(frame))
        if kind == "acute" and len(frame):
            resp = frame["responses"].astype(float)
            rows.append(["count:", float(len(frame)), None, None, None, None, float(resp.sum())])
            rows.append(["", float(len(frame)), None, None, None, None, float(resp.sum())])
        xml = _xlsx_rows_xml(rows)
        if xml is None:  # a value the bulk writer does not write as openpyxl would: openpyxl writes the rows
            for row in rows:
                ws.append(row)
        else:
            bulk[f"xl/worksheets/sheet{wb.worksheets.index(ws) + 1}.xml"] = xml  # openpyxl numbers parts so
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    _reproducible_zip(path, bulk)
    return path


#: Text the bulk sheet writer writes as openpyxl does: printable ASCII without XML specials, not a formula
#: or error code, no surrounding spaces (openpyxl would mark those ``xml:space``).
_PLAIN_TEXT = re.compile(r"[ !\"$%'()*+,\-./0-9:;?@A-Z\[\\\]^_`a-z{|}~]{0,32767}")


def _xlsx_cell(ref: str, v: Any) -> str | None:
    """One cell as openpyxl's write-only worksheet writes it, or None when the value is outside the bulk
    writer's plain cases (then openpyxl writes the sheet)."""
    t = type(v)
    if t is float or t is int:
        return f"<c r=\"{ref}\" t=\"n\"><v>{v:.16g}</v></c>" if math.isfinite(v) else None
    if t is str and _PLAIN_TEXT.fullmatch(v) and v == v.strip() and not v.startswith(("=", "#")):
        return f'<c r="{ref}" t="inlineStr"><is><t>{v}</t></is></c>' if v else f'<c r="{ref}" t="inlineStr"></c>'
    return None


def _xlsx_rows_xml(rows: list[list[Any]]) -> str | None:
    """The ``sheetData`` rows openpyxl (write-only mode, lxml) writes for ``rows`` (None cells left out), or None
    when some value is not a finite number or plain text, or a row is empty."""
    from openpyxl.utils import get_column_letter

    letters = [get_column_letter(j + 1) for j in range(max((len(r) for r in rows), default=0))]
    parts = []
    for i, row in enumerate(rows, 1):
        cells = [_xlsx_cell(f"{letters[j]}{i}", v) for j, v in enumerate(row) if v is not None]
        if not cells or None in cells:
            return None
        parts.append(f'<row r="{i}">' + "".join(cells) + "</row>")
    return "".join(parts)


def _sheet_rows(frame: pd.DataFrame) -> list[list[Any]]:
    """The frame's rows as lists of Python values (floats, text), a missing number as None, built column by
    column (what iterating ``itertuples`` and blanking NaN floats gives)."""
    cols = []
    for c in frame.columns:
        values = frame[c].tolist()
        cols.append([None if type(v) is float and v != v else v for v in values])
    return [list(r) for r in zip(*cols, strict=True)] if cols else []


#: Fixed timestamp written into demo files, so the same seed gives the same bytes
#: (and DVC sees an unchanged output when the demo is regenerated).
FIXED_STAMP = (2020, 1, 1, 0, 0, 0)


def _reproducible_zip(path: Path, sheet_rows: dict[str, str] | None = None) -> None:
    """Rewrite an .xlsx/.ods zip with fixed entry timestamps and document dates (and the rows of
    ``sheet_rows``, worksheet part -> ``sheetData`` XML, put into those empty worksheets)."""
    import zipfile

    with zipfile.ZipFile(path) as zf:
        entries = [(info, zf.read(info.filename)) for info in zf.infolist()]
    missing = sorted(set(sheet_rows or {}) - {info.filename for info, _ in entries})
    if missing:
        raise RuntimeError(f"{path}: no worksheet part {missing} to put rows in")
    iso = "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z".format(*FIXED_STAMP)
    with zipfile.ZipFile(path, "w") as out:
        for info, data in entries:
            if sheet_rows and info.filename in sheet_rows:
                if data.count(b"<sheetData></sheetData>") != 1:
                    raise RuntimeError(f"{path}: worksheet {info.filename} is not empty; cannot put its rows in")
                data = data.replace(b"<sheetData></sheetData>",
                                    b"<sheetData>" + sheet_rows[info.filename].encode("ascii") + b"</sheetData>")
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)", rb"\g<1>" + iso.encode() + rb"\g<2>", data)
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_STAMP)
            fixed.compress_type = info.compress_type
            fixed.external_attr = info.external_attr
            out.writestr(fixed, data)


def _cqc_trust_scores(py: pd.DataFrame, names: pd.Series) -> pd.DataFrame:
    cols: dict[str, Any] = {"TrustCode": py["org_code"].to_numpy(), "trustname": names.reindex(py["org_code"]).to_numpy(),
                            "n_tpat": py["n_tpat"].to_numpy()}
    for item in CQC_QUESTIONS + CQC_SECTIONS:
        mean = py[f"mean{item}"].to_numpy()
        n = py[f"{item}_tres"].to_numpy() if f"{item}_tres" in py else py["n_tpat"].to_numpy()
        se = 2.0 / np.sqrt(n)
        cols[f"mean{item}"] = mean
        for lvl, z in (("90", 1.645), ("95", 1.96), ("99", 3.09)):
            cols[f"ll{lvl}{item}"] = mean - z * se - 0.6
            cols[f"ul{lvl}{item}"] = mean + z * se + 0.6
        cols[f"band{item}"] = 4.0
        cols[f"{item}_Zfinal"] = (mean - mean.mean()) / (mean.std() or 1.0)
    return pd.DataFrame(cols)


def _cqc_historical(py: pd.DataFrame, names: pd.Series, year: int, suffix: str) -> pd.DataFrame:
    cols: dict[str, Any] = {"SurveyYear": float(year), "TrustCode": py["org_code"].to_numpy(),
                            "trustname": names.reindex(py["org_code"]).to_numpy(), f"n_tpat_{suffix}": py["n_tpat"].to_numpy()}
    for q in CQC_QUESTIONS:
        cols[f"{q}_mean_{suffix}"] = py[f"mean{q}"].to_numpy()
        cols[f"{q}_Base_unw"] = py[f"{q}_tres"].to_numpy()
        cols[f"{q}_sig"] = 0.0
    return pd.DataFrame(cols)


def _combine_for_successors(pat: pd.DataFrame, orgs: pd.DataFrame, codes_now: list[str]) -> pd.DataFrame:
    """Historical rows as a later file would show them: predecessors shown under successor codes."""
    succ = orgs.set_index("org_code")["successor"].dropna()
    p = pat.copy()
    p["org_code"] = p["org_code"].map(lambda c: succ.get(c, c))
    value_cols = [c for c in p.columns if c.startswith("mean")]
    w = p["n_tpat"].astype(float)
    key = p["org_code"]
    weighted = p[value_cols].mul(w, axis=0).groupby(key).sum()  # each column as its own groupby would sum it
    out = weighted.div(w.groupby(key).sum(), axis=0)
    counts = [c for c in p.columns if c.endswith("_tres")] + ["n_tpat"]
    out = pd.concat([out, p[counts].groupby(key).sum()], axis=1)
    out.index.name = "org_code"
    out = out.reset_index()
    return out[out["org_code"].isin(codes_now)]


def write_cqc_benchmark(path: Path, year: int, patient: pd.DataFrame, orgs: pd.DataFrame) -> Path:
    """Write one CQC Adult Inpatient benchmark file in the 2022 layout (.ods)."""
    names = orgs.set_index("org_code")["org_name"]
    py = patient[patient["year"] == year].sort_values("org_code")
    guidance = pd.DataFrame({0: [f"NHS Adult Inpatient Survey {year} - {SYNTHETIC} DATA",
                                 "Simulated benchmark file in the 2022 published layout; not real results."]})
    key_rows = [["Sheet", "Variable name", "Description and comments"],
                ["Trust_Respondents", "TrustCode", "Trust code"], ["", "trustname", "Trust name"],
                ["", "Qx_tres", "Number of respondents (per trust) for question x"],
                ["Trust_Scores", "TrustCode", "Trust code"], ["", "n_tpat", "Total number of respondents (per trust)"],
                ["", "meanQx", "Mean trust score for question x"], ["", "meanSx", "Mean trust score for section x"],
                [f"Historical_Comparisonsto{year - 1}", "Qx_mean_H", "Mean trust score for question x"],
                [f"Historical_Comparisonsto{year - 2}", "Qx_mean_H2", "Mean trust score for question x"]]
    key = pd.DataFrame(key_rows[1:], columns=key_rows[0])
    resp = pd.DataFrame({"TrustCode": py["org_code"].to_numpy(), "trustname": names.reindex(py["org_code"]).to_numpy(),
                         **{f"{q}_tres": py[f"{q}_tres"].to_numpy() for q in CQC_QUESTIONS},
                         "n_tpat": py["n_tpat"].to_numpy()})
    scores = _cqc_trust_scores(py, names)
    sheets = {"Guidance": guidance, "Key": key, "Trust_Respondents": resp, "Trust_Scores": scores}
    codes_now = py["org_code"].tolist()
    for back, suffix in ((1, "H"), (2, "H2")):
        prev = patient[patient["year"] == year - back]
        hist = _combine_for_successors(prev, orgs, codes_now)
        sheets[f"Historical_Comparisonsto{year - back}"] = _cqc_historical(hist, names, year - back, suffix)
    write_ods(path, {name: ([] if name == "Guidance" else [list(f.columns)]) + f.values.tolist()
                     for name, f in sheets.items()})
    return path


_ODS_EMPTY = "<table:table-cell/>"


def _ods_row(row: list[Any]) -> str:
    """One table row of ``content.xml``: each cell as :func:`_ods_cell` writes it (Python floats inline)."""
    out = ["<table:table-row>"]
    for v in row:
        if type(v) is float:
            if v != v:
                out.append(_ODS_EMPTY)
            else:
                r = repr(v)
                out.append(f'<table:table-cell office:value-type="float" office:value="{r}"><text:p>{r}</text:p>'
                           "</table:table-cell>")
        else:
            out.append(_ods_cell(v))
    out.append("</table:table-row>")
    return "".join(out)


def _ods_cell(value: Any) -> str:
    from xml.sax.saxutils import escape, quoteattr

    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "<table:table-cell/>"
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        v = repr(float(value))
        return f'<table:table-cell office:value-type="float" office:value="{v}"><text:p>{v}</text:p></table:table-cell>'
    text = str(value)
    return f'<table:table-cell office:value-type="string" office:string-value={quoteattr(text)}><text:p>{escape(text)}</text:p></table:table-cell>'


def write_ods(path: str | Path, sheets: dict[str, list[list[Any]]]) -> Path:
    """Write a minimal OpenDocument spreadsheet (one table per sheet, values only).

    pandas' ``odf`` writer takes several seconds per benchmark-sized file; the
    demo writes the XML directly (valid ODF 1.2, read by LibreOffice, odfpy and
    calamine alike).
    """
    import zipfile
    from xml.sax.saxutils import quoteattr

    ns = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"')
    parts = [f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns}><office:body><office:spreadsheet>']
    for name, rows in sheets.items():
        parts.append(f"<table:table table:name={quoteattr(name)}>")
        for row in rows:
            parts.append(_ods_row(row))
        parts.append("</table:table>")
    parts.append("</office:spreadsheet></office:body></office:document-content>")
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                '<manifest:file-entry manifest:full-path="/" manifest:version="1.2" '
                'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
                '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                "</manifest:manifest>")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(zipfile.ZipInfo("mimetype", date_time=FIXED_STAMP), "application/vnd.oasis.opendocument.spreadsheet",
                    compress_type=zipfile.ZIP_STORED)
        zf.writestr(zipfile.ZipInfo("META-INF/manifest.xml", date_time=FIXED_STAMP), manifest,
                    compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr(zipfile.ZipInfo("content.xml", date_time=FIXED_STAMP), "".join(parts),
                    compress_type=zipfile.ZIP_DEFLATED)
    return path


#: The seven NHS regions (2021 codes, ONS codes and names, as in the published regions file);
#: demo trusts are dealt to them in turn, two synthetic ICB codes per region.
NHS_REGIONS = [
    ("Y56", "E40000003", "London"), ("Y58", "E40000006", "South West"), ("Y59", "E40000005", "South East"),
    ("Y60", "E40000008", "Midlands"), ("Y61", "E40000007", "East of England"), ("Y62", "E40000010", "North West"),
    ("Y63", "E40000009", "North East and Yorkshire"),
]


def demo_regions(trusts: pd.DataFrame) -> dict[str, tuple[int, str]]:
    """Region index and ICB code of every demo trust (a merger's successor takes its first
    predecessor's); no region effect is planted in the values."""
    out: dict[str, tuple[int, str]] = {}
    for i, r in enumerate(trusts.itertuples(index=False)):
        k = i % len(NHS_REGIONS)
        out[r.org_code] = (k, f"QZ{'ABCDEFG'[k]}{(i // len(NHS_REGIONS)) % 2}")
    for r in trusts.dropna(subset=["successor"]).itertuples(index=False):
        out.setdefault(r.successor, out[r.org_code])
    return out


def write_regions_file(path: Path, trusts: pd.DataFrame, regions: dict[str, tuple[int, str]]) -> Path:
    """The trusts open in 2022 with their NHS region, in the layout of ODS ``trusts_2022_regions.csv``."""
    open_now = trusts[trusts["close_year"].isna()]
    rows = [{"nhs_trust22_code": r.org_code, "nhs_trust22_name": r.org_name,
             "nhs_region21_nhs_code": NHS_REGIONS[regions[r.org_code][0]][0],
             "nhs_region21_ons_code": NHS_REGIONS[regions[r.org_code][0]][1],
             "nhs_region21_name": NHS_REGIONS[regions[r.org_code][0]][2], "status": "open"}
            for r in open_now.itertuples(index=False)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def write_ods_files(folder: Path, orgs: pd.DataFrame) -> list[Path]:
    """Write ODS-style organisation files: headerless etr.csv, successions, trust types, regions."""
    folder.mkdir(parents=True, exist_ok=True)
    trusts = orgs[orgs["org_type"] != "ccg"]
    # One acute trust is deliberately missing from etr.csv: its survey rows must
    # surface in the linkage audit as an unknown code, not vanish.
    stable = trusts[(trusts["org_type"] == "acute") & trusts["successor"].isna() & (trusts["open_year"] < 2000)]
    unknown = stable["org_code"].iloc[-1]
    regions = demo_regions(trusts)
    etr = folder / "etr.csv"
    with etr.open("w", newline="") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_ALL)
        for r in trusts.itertuples(index=False):
            if r.org_code == unknown:
                continue
            close = "" if pd.isna(r.close_year) else f"{int(r.close_year)}0331"
            k, icb = regions[r.org_code]
            w.writerow([r.org_code, r.org_name.upper(), NHS_REGIONS[k][0], icb, "1 SYNTHETIC ROAD", "", "", "DEMOTOWN", "",
                        "ZZ1 1ZZ", f"{int(r.open_year)}0401", close, *[""] * 9, "0", "", "Z", "", "", ""])
    succ = folder / "trust_successions.csv"
    s = orgs.dropna(subset=["successor"])
    pd.DataFrame({"old_code": s["org_code"], "new_code": s["successor"], "date": MERGER_DATE}).to_csv(succ, index=False)
    types = folder / "trust_types_demo.csv"
    t = trusts[trusts["close_year"].isna() & (trusts["org_code"] != unknown)]
    pd.DataFrame({"trust_code": t["org_code"], "primary_category": t["org_type"].map(CQC_CATEGORY)}).to_csv(types, index=False)
    known = trusts[trusts["org_code"] != unknown]
    reg_file = write_regions_file(folder / "trusts_2022_regions_demo.csv", known, regions)
    return [etr, succ, types, reg_file]


def write_demo_files(out_dir: str | Path, spec: DemoParams | Any = None) -> dict[str, Any]:
    """Write the whole synthetic demo raw-data folder.

    Parameters
    ----------
    out_dir
        Folder to write into (``nss/``, ``cqc_inpatient/``, ``ods/`` subfolders).
    spec
        A :class:`DemoParams` or the ``data.demo`` params section.

    Returns
    -------
    dict
        Manifest: files written, the truth (planted effect) and the settings.
    """
    if spec is None:
        spec = DemoParams()
    elif not isinstance(spec, DemoParams):
        spec = DemoParams.model_validate(spec)
    out = Path(out_dir)
    orgs = simulate_organisations(spec)
    staff, patient = simulate_values(spec, orgs)
    files: list[Path] = []
    for year in spec.staff_years:
        yy = f"{year % 100:02d}"
        files.append(write_nss_workbook(out / "nss" / f"ST{yy}-Organisation-Data-{year}-Only-DEMO-SYNTHETIC.xlsx",
                                        year, staff, orgs, spec.seed))
    for year in spec.patient_years:
        files.append(write_cqc_benchmark(out / "cqc_inpatient" / f"Adult-Inpatient-Survey-{year}-DEMO-SYNTHETIC.ods",
                                         year, patient, orgs))
    files.extend(write_ods_files(out / "ods", orgs))
    readme = out / "README-DEMO-SYNTHETIC.md"
    readme.write_text(
        "# SYNTHETIC DEMO DATA\n\nEvery file in this folder was simulated by `linkage.demo` "
        f"(seed {spec.seed}). None of it is published NHS or CQC data. Layouts mimic the "
        "publishers' files so that the same readers apply.\n"
    )
    manifest = {
        "synthetic": True,
        "generated_by": "linkage.demo.write_demo_files",
        "settings": spec.model_dump(mode="json"),
        "truth": {"true_effect": spec.true_effect, "exposure": "staff.stress", "dependent": "patient.ip_overall",
                  "mergers": orgs.dropna(subset=["successor"])[["org_code", "successor"]].to_dict("records")},
        "files": [str(p.relative_to(out)) for p in files],
    }
    (out / DEMO_TRUTH.name).write_text(json.dumps(manifest, indent=2, default=str))
    return manifest
