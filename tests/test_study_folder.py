"""docs/mappings.md's worked study, end to end: a study folder of only the study's files, through `dvc repro`.

The project holds a mapping and a measures file; the study folder holds one extract CSV
(acute trusts, 2012-2019, three staff indices, a lower-is-better mortality ratio, a weight
computed from two columns); the organisation registry lives in its own folder outside both
(``data.registry_dir``), and two of the trusts were dissolved in 2013 and 2014, so the registry
knows them only as predecessors in its successions file.  No overrides file, no registry
copied into the study folder.  The pooled weighted regression must equal statsmodels WLS on
the same rows to 1e-6 with the study's own n; a second `dvc repro` runs nothing but the
``params`` check, and editing the study's file re-runs acquire.  All data is synthetic.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from studykit import STUDY_MAPPING, STUDY_SECTIONS, project_copy, study_extract
from studykit import STUDY_MEASURES_NO_BREAK as STUDY_MEASURES
from test_registry import _etr_row

XS = ["staff.idx_wellbeing", "staff.idx_engagement", "staff.idx_teamwork", "outcome.hsmr_prev"]
CURRENT = [f"R{c}{d}" for c in "ABCDEFGHJK" for d in "12"]
DISSOLVED = {"RQ1": ("RA1", "2013-04-01", 2012), "RQ2": ("RB1", "2014-10-01", 2013)}
"""Code -> (successor, date dissolved, last study year)."""


def write_registry(folder: Path) -> None:
    """An ODS registry of 20 current acute trusts; the dissolved two appear only as predecessors."""
    folder.mkdir(parents=True)
    with open(folder / "etr.csv", "w", newline="") as f:
        csv.writer(f, quoting=csv.QUOTE_ALL).writerows(
            [_etr_row(c, f"TRUST {c} NHS TRUST", "19940401") for c in CURRENT])
    pd.DataFrame([(old, new, when) for old, (new, when, _) in DISSOLVED.items()],
                 columns=["old_code", "new_code", "date"]).to_csv(folder / "trust_successions.csv", index=False)
    pd.DataFrame({"trust_code": CURRENT, "primary_category": "Acute hospital - NHS non-specialist"}).to_csv(
        folder / "trust_types_2022.csv", index=False)


@pytest.mark.slow
def test_study_folder_reproduces_weighted_regression_through_dvc_repro(tmp_path):
    import statsmodels.api as sm

    proj = tmp_path / "proj"
    project_copy(proj)
    write_registry(tmp_path / "registry")
    (proj / "study").mkdir()
    last = {c: 2019 for c in CURRENT} | {c: y for c, (_, _, y) in DISSOLVED.items()}
    df = study_extract({c: range(2012, final + 1) for c, final in sorted(last.items())}, seed=11)
    df.to_csv(proj / "study" / "study_extract.csv", index=False)
    (proj / "mappings").mkdir(exist_ok=True)
    (proj / "mappings" / "study.yaml").write_text(STUDY_MAPPING)
    (proj / "measures.yaml").write_text(STUDY_MEASURES)
    raw = yaml.safe_load((proj / "params.yaml").read_text())
    raw["data"].update({"source": "local", "local_dir": "study", "registry_dir": "../registry"})
    for name, values in STUDY_SECTIONS.items():
        raw[name].update(values)
    (proj / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    assert sorted(p.name for p in (proj / "study").iterdir()) == ["study_extract.csv"]
    env = {**os.environ, "PYTHONPATH": str(proj / "src"), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}

    def repro(*targets: str) -> str:
        out = subprocess.run(["dvc", "repro", *targets], cwd=proj, env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        return out.stdout

    repro()
    audit = pd.read_csv(proj / "data/processed/linkage_audit.csv")
    assert (audit["fate"] == "matched").all(), audit[audit["fate"] != "matched"].head()
    panel = pd.read_parquet(proj / "data/processed/panel.parquet")
    assert len(panel) == len(df) and set(DISSOLVED) <= set(panel["org_code"])
    res = pd.read_csv(proj / "data/processed/model_results.csv")
    spec = res.loc[res["headline"].astype(str) == "True", "spec_name"].iloc[0]
    got = res[(res["model"] == "pooled") & (res["spec_name"] == spec)].set_index("term")
    assert int(got["n_obs"].iloc[0]) == len(df)
    d = panel.sort_values(["org_code", "year"])
    fit = sm.WLS(d["outcome.hsmr"], sm.add_constant(d[XS]), weights=d["outcome.study_weight"]).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(d["org_code"])[0]})
    for x in XS:
        assert got.loc[x, "estimate"] == pytest.approx(fit.params[x], abs=1e-6)
        assert got.loc[x, "std_error"] == pytest.approx(fit.bse[x], abs=1e-6)
    again = repro()
    assert "Running stage" not in again.replace("Running stage 'params'", ""), again
    df.assign(hsmr=df["hsmr"] + 0.001).to_csv(proj / "study" / "study_extract.csv", index=False)
    assert "Running stage 'acquire'" in repro("acquire")  # the edit is seen (only up to acquire: the rest is slow)
