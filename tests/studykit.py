"""The worked study that several end-to-end tests share: its measures, mapping, model sections and extract.

A study's processed extract (acute trusts by financial year, a lower-is-better
hospital standardised mortality ratio, three staff indices as 1-5 means, a study
weight that is the product of beds and occupancy, and the ratio's previous-year
value as its own column), with a known linear relation of the outcome to the
indices.  All data is synthetic; ``docs/mappings.md`` walks through the same study.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

STUDY_MEASURES = """\
measures:
  outcome.hsmr:
    role: outcome
    scale: ratio
    label: Hospital standardised mortality ratio (observed / expected)
    higher_is_better: false
  outcome.hsmr_prev:
    role: outcome
    scale: ratio
    label: HSMR in the previous year
    higher_is_better: false
  outcome.study_weight:
    role: outcome
    scale: count
    label: Study weight (beds x occupancy)
    higher_is_better: null
  staff.idx_wellbeing:
    role: staff
    scale: mean1to5
    label: Wellbeing index (mean of 1-5 answers)
    higher_is_better: true
  staff.idx_engagement:
    role: staff
    scale: mean1to5
    label: Engagement index (mean of 1-5 answers)
    higher_is_better: true
  staff.idx_teamwork:
    role: staff
    scale: mean1to5
    label: Teamwork index (mean of 1-5 answers)
    higher_is_better: true
    comparable_from: 2015
"""

"""The study's measures; its teamwork index is comparable only from 2015 (a series break)."""

def measures_excerpt(*names: str) -> str:
    """A measures file holding only ``names`` of the study's measures, each as the study defines it."""
    import yaml

    entries = yaml.safe_load(STUDY_MEASURES)["measures"]
    return yaml.safe_dump({"measures": {n: entries[n] for n in names}}, sort_keys=False)


STUDY_MEASURES_NO_BREAK = STUDY_MEASURES.replace("    comparable_from: 2015\n", "")
"""The same measures without the teamwork series break."""

STUDY_MAPPING = """\
id: study_extract
description: A study's processed extract, one row per acute trust and year
match_columns: [trust_code, fin_year, hsmr, beds, occupancy]
columns: {org_code: trust_code, year: fin_year}
computed:
  weight: {product: [beds, occupancy]}
measures:
  outcome.hsmr: {value: hsmr, scale: ratio, base: weight}
  outcome.hsmr_prev: {value: hsmr_lag1, scale: ratio}
  outcome.study_weight: {value: weight, scale: count}
  staff.idx_wellbeing: {value: wellbeing, scale: mean1to5}
  staff.idx_engagement: {value: engagement, scale: mean1to5}
  staff.idx_teamwork: {value: teamwork, scale: mean1to5}
"""

STUDY_SECTIONS = {
    "staff": {"measures": ["staff.idx_wellbeing", "staff.idx_engagement", "staff.idx_teamwork"]},
    "patient": {"measures": ["outcome.hsmr", "outcome.hsmr_prev", "outcome.study_weight"]},
    "link": {"successors": "as_published", "restrict_trust_types": False,
             "headline_staff": "staff.idx_wellbeing", "headline_patient": "outcome.hsmr"},
    "model": {"dependent": "outcome.hsmr", "exposure": "staff.idx_wellbeing",
              "covariates": ["staff.idx_engagement", "staff.idx_teamwork", "outcome.hsmr_prev"],
              "families": ["pooled"], "headline_family": "pooled", "time_effects": False,
              "weights": "outcome.study_weight", "lags": [0], "reverse": False, "placebo_leads": [],
              "other_exposures": [], "adjust_contemporaneous": "no", "reliability_measures": None},
}



def acute_codes(ods: Path, n: int) -> list[str]:
    """The first ``n`` non-specialist acute trust codes of an ODS trust-types file."""
    types = pd.read_csv(Path(ods) / "trust_types_2022.csv")
    acute = types[types["primary_category"].str.contains("non-specialist", case=False)]["trust_code"]
    return sorted(acute)[:n]


def study_extract(years: Mapping[str, Iterable[int]], seed: int = 7) -> pd.DataFrame:
    """A study-shaped extract with the trusts and years of ``years`` (code -> its years)."""
    rng = np.random.default_rng(seed)
    rows = []
    for code, code_years in years.items():
        level = rng.normal(0, 0.05)
        prev = 1.0 + level + rng.normal(0, 0.03)
        for y in code_years:
            w, e, t = (np.clip(rng.normal(3.6, 0.15), 1, 5) for _ in range(3))
            hsmr = 1.0 + level - 0.08 * (w - 3.6) + 0.03 * (e - 3.6) + 0.4 * (prev - 1) + rng.normal(0, 0.03)
            rows.append({"trust_code": code, "fin_year": y, "hsmr": round(hsmr, 6), "hsmr_lag1": round(prev, 6),
                         "wellbeing": round(w, 6), "engagement": round(e, 6), "teamwork": round(t, 6),
                         "beds": int(rng.integers(200, 1500)), "occupancy": round(rng.uniform(0.7, 0.98), 4)})
            prev = hsmr
    return pd.DataFrame(rows)


def every_year(codes: Iterable[str], years: Iterable[int]) -> dict[str, list[int]]:
    """The same years for every trust (a balanced study)."""
    return {c: list(years) for c in codes}


def user_project(tmp_path, real_data_dir, files: dict[str, object], mapping: str, measures: str):
    """A local_dir with the real ODS files and the user's files; the user's mappings and measures."""
    local = tmp_path / "mydata"
    shutil.copytree(real_data_dir / "ods", local / "ods")
    for name, content in files.items():
        target = local / name
        if isinstance(content, pd.DataFrame):
            content.to_csv(target, index=False)
        elif isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    (tmp_path / "mappings").mkdir()
    for i, text in enumerate([mapping] if isinstance(mapping, str) else mapping):
        (tmp_path / "mappings" / f"m{i}.yaml").write_text(text)
    (tmp_path / "measures.yaml").write_text(measures)
    return {"source": "local", "local_dir": str(local), "mappings_dir": str(tmp_path / "mappings"),
            "measures_file": str(tmp_path / "measures.yaml")}



def project_copy(dest) -> None:
    """The project's files (tracked and new, not ignored) copied into ``dest``, a fresh git repository."""
    from conftest import REPO

    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    for rel in listed:
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)

