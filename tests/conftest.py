"""Shared fixtures.

Real published files live outside the repository (``$LINKAGE_REAL_DATA`` or
``<repo>/../shared/data/real``); tests that need them skip with a visible
reason when the folder is absent.  Small synthetic files in the publishers'
layouts are built in ``tmp_path`` by the ``make_*`` fixtures.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
# One reader cache for every test, also for pipelines run in temporary folders.
os.environ.setdefault("LINKAGE_READER_CACHE", str(REPO / "data" / "cache"))


def _real_dir() -> Path:
    env = os.environ.get("LINKAGE_REAL_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data" / "real"


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """Folder of real published files, or skip (naming where it was looked for)."""
    d = _real_dir()
    if not d.is_dir():
        pytest.skip(f"real data folder not found at {d} (set LINKAGE_REAL_DATA to run real-data tests)")
    return d


def _real_file(real_data_dir: Path, rel: str) -> Path:
    p = real_data_dir / rel
    if not p.is_file():
        pytest.skip(f"real file {p} not present")
    return p


@pytest.fixture(scope="session")
def nss2019_path(real_data_dir: Path) -> Path:
    return _real_file(real_data_dir, "nss/ST19-Organisation-Data-2019-Only-v1f.xlsx")


@pytest.fixture(scope="session")
def cqc2022_path(real_data_dir: Path) -> Path:
    return _real_file(real_data_dir, "cqc_inpatient/Adult-Inpatient-Survey-2022.ods")


@pytest.fixture(scope="session")
def extract_path(real_data_dir: Path) -> Path:
    return _real_file(real_data_dir, "nss/nss_2021_2024_trust_wellbeing_extract.csv")


# --------------------------------------------------------------------------- builders
NSS_CODES = ["theme_hwb", "theme_engagement", "theme_morale", "q11a", "q11c", "q21d"]


def nss_sheet_rows(year: int, orgs: list[dict], *, title: bool = False, summary: bool = True) -> list[list]:
    """Rows of one benchmarking-group sheet in the 2019 NSS layout."""
    header = ["trust", "trustname", "trtype", "trtname", "responses", f"rr_{year}"]
    header += [f"{c}_{year}" for c in NSS_CODES] + [f"{c}_n_{year}" for c in NSS_CODES]
    rows = [["A title row above the header"]] if title else []
    rows.append(header)
    for o in orgs:
        row = [o["code"], o.get("name", o["code"] + " NHS Trust"), 1, o.get("group", "Acute Trusts"),
               o.get("responses", 500), o.get("rr", 0.5)]
        row += [o.get(c, 0.4 if c.startswith("q") else 6.0) for c in NSS_CODES]
        row += [o.get(c + "_n", 400) for c in NSS_CODES]
        rows.append(row)
    if summary:
        rows.append(["count:", len(orgs), None, None, sum(o.get("responses", 500) for o in orgs)])
        rows.append([None, len(orgs), None, None, 1234])
    return rows


def write_sheets(path: Path, sheets: dict[str, list[list]]) -> Path:
    """Write raw rows (no pandas header) to .xlsx (openpyxl) or .ods (odf)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = "odf" if path.suffix == ".ods" else "openpyxl"
    with pd.ExcelWriter(path, engine=engine) as xw:
        for name, rows in sheets.items():
            width = max((len(r) for r in rows), default=0)
            padded = [list(r) + [None] * (width - len(r)) for r in rows]
            pd.DataFrame(padded).to_excel(xw, sheet_name=name, header=False, index=False)
    return path


@pytest.fixture
def make_nss_workbook() -> Callable[..., Path]:
    """Build a small NSS 2019-layout workbook: ``make_nss_workbook(path, year, {sheet: [org dicts]})``."""

    def make(path: Path, year: int = 2019, sheets: dict[str, list[dict]] | None = None, **kw) -> Path:
        sheets = sheets or {"Acute": [{"code": "RAA"}, {"code": "RBB"}]}
        out = {"Notes": [["National Staff Survey"], ["q11c_20XX", "Proportion ..."]]}
        for i, (name, orgs) in enumerate(sheets.items()):
            out[name] = nss_sheet_rows(year, orgs, title=(i == 0), **kw)
        return write_sheets(path, out)

    return make


def cqc_sheets(year: int, orgs: list[dict], history: dict[int, list[dict]] | None = None) -> dict[str, list[list]]:
    """Sheets of a CQC inpatient benchmark file in the 2022 layout."""
    sheets: dict[str, list[list]] = {
        "Guidance": [[f"NHS Adult Inpatient Survey {year}"], ["Introduction"]],
        "Key": [["Sheet", "Variable name", "Description and comments"],
                ["Trust_Scores", "meanQx", "Mean trust score for question x"]],
        "Trust_Respondents": [["TrustCode", "trustname", "Q45_tres", "Q46_tres", "n_tpat"]]
        + [[o["code"], o["code"] + " name", o.get("n", 300) - 5, o.get("n", 300) - 10, o.get("n", 300)] for o in orgs],
        "Trust_Scores": [["TrustCode", "trustname", "n_tpat", "meanQ45", "meanQ46"] + [f"meanS{k:02d}" for k in range(1, 12)]]
        + [[o["code"], o["code"] + " name", o.get("n", 300), o.get("Q45", 9.0), o.get("Q46", 8.0)]
           + [o.get(f"S{k:02d}", 7.0 + k / 10) for k in range(1, 12)] for o in orgs],
    }
    for i, (hy, horgs) in enumerate(sorted((history or {}).items(), reverse=True)):
        sfx = "H" if i == 0 else f"H{i + 1}"
        sheets[f"Historical_Comparisonsto{hy}"] = [
            ["SurveyYear", "TrustCode", "trustname", f"n_tpat_{sfx}", f"Q45_mean_{sfx}", "Q45_Base_unw",
             f"Q46_mean_{sfx}", "Q46_Base_unw"]
        ] + [[hy, o["code"], o["code"] + " name", o.get("n", 280), o.get("Q45", 8.9), 270, o.get("Q46", 7.9), 260]
             for o in horgs]
    return sheets


@pytest.fixture
def make_cqc_file() -> Callable[..., Path]:
    """Build a small CQC 2022-layout file: ``make_cqc_file(path, year, orgs, history={year: orgs})``."""

    def make(path: Path, year: int, orgs: list[dict], history: dict[int, list[dict]] | None = None) -> Path:
        return write_sheets(path, cqc_sheets(year, orgs, history))

    return make


# --------------------------------------------------------------------------- whole pipeline
def run_pipeline_in(folder: Path, data: dict, *, model: bool = True, sections: dict | None = None) -> dict:
    """Run acquire -> ingest -> link (-> model) in ``folder`` with the committed params.

    ``data`` overrides keys of the ``data`` section, ``sections`` keys of any
    other section (``{"model": {"weights": ...}}``).

    The same stage functions the notebooks call, without papermill, so tests can
    check the pipeline's outputs on the demo and on the real files.
    """
    import contextlib

    import yaml

    from linkage.params import load_params
    from linkage.stages import module

    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["data"].update(data)
    for key in ("mappings_dir", "measures_file"):  # the project's own files, unless the test brings its own
        if key not in data:
            raw["data"][key] = str(REPO / raw["data"][key])
    for name, values in (sections or {}).items():
        raw[name].update(values)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "params.yaml").write_text(yaml.safe_dump(raw))
    out: dict = {"folder": folder}
    with contextlib.chdir(folder):
        params = load_params("params.yaml")
        out["manifest"] = module("acquire").run(params)
        for kind in ("staff", "patient"):
            out[kind] = module(f"ingest_{kind}").run(params)
        out["link"] = module("link").run(params)
        if model:
            out["model"] = module("model").run(params)
    out["params"] = params
    return out


@pytest.fixture(scope="session")
def demo_pipeline(tmp_path_factory) -> dict:
    """The main job (default params, synthetic demo) run in a temporary folder."""
    return run_pipeline_in(tmp_path_factory.mktemp("demo_run"), {"source": "demo"})


@pytest.fixture(scope="session")
def real_pipeline(tmp_path_factory, real_data_dir) -> dict:
    """The pipeline on the real published files (data.source = local)."""
    return run_pipeline_in(tmp_path_factory.mktemp("real_run"), {"source": "local", "local_dir": str(real_data_dir)})


@pytest.fixture(autouse=True)
def _no_project_measures_leak():
    """Validating params registers the project's measures file for the process; reset it after each test."""
    yield
    from linkage.catalogue import set_project_measures

    set_project_measures(None)


@pytest.fixture(scope="session")
def small_site(tmp_path_factory) -> dict:
    """A reduced demo run with its report site built in ``<folder>/reports`` (see tests/sitekit.py)."""
    from sitekit import build_small_site

    return build_small_site(tmp_path_factory.mktemp("site_run"))
