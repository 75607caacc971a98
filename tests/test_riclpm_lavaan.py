"""The RI-CLPM against lavaan (R) on the demo panel: paths to 1e-4, their SEs to 1e-3, fit indices.

The lavaan syntax is written here from the wave list (Hamaker et al. 2015 / Mulder and Hamaker 2021
layout), independently of the code under test; lavaan fits with ``missing = "ml"`` (FIML), estimator ML,
observed information.  Skips, saying why, when Rscript or lavaan is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from linkage.models.riclpm import fit_riclpm, wide_data
from linkage.models.riclpm._ml import fit
from linkage.models.riclpm._result import fit_indices, wald


def _lavaan_available() -> str:
    if shutil.which("Rscript") is None:
        return "Rscript is not installed"
    ok = subprocess.run(["Rscript", "-e", "library(lavaan)"], capture_output=True, text=True)
    return "" if ok.returncode == 0 else "the R package lavaan is not installed"


WHY = _lavaan_available()
needs_lavaan = pytest.mark.skipif(bool(WHY), reason=f"lavaan cross-check skipped: {WHY}")


def lavaan_syntax(n_waves: int, equal_paths: bool) -> str:
    """RI-CLPM in lavaan syntax for columns x1..xT, y1..yT (labels shared over waves when ``equal_paths``)."""
    waves = range(1, n_waves + 1)
    lines = ["RIx =~ " + " + ".join(f"1*x{t}" for t in waves), "RIy =~ " + " + ".join(f"1*y{t}" for t in waves)]
    lines += [f"wx{t} =~ 1*x{t}\nwy{t} =~ 1*y{t}" for t in waves]
    for t in waves:
        if t > 1:
            tag = "" if equal_paths else str(t)
            lines.append(f"wx{t} ~ ax{tag}*wx{t - 1} + byx{tag}*wy{t - 1}")
            lines.append(f"wy{t} ~ ay{tag}*wy{t - 1} + bxy{tag}*wx{t - 1}")
        lines.append(f"wx{t} ~~ wy{t}")
        lines.append(f"x{t} ~~ 0*x{t}\ny{t} ~~ 0*y{t}")
    lines += ["RIx ~~ RIy", "RIx ~~ 0*wx1 + 0*wy1", "RIy ~~ 0*wx1 + 0*wy1"]
    return "\n".join(lines)


R_SCRIPT = r"""
library(lavaan)
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
model <- paste(readLines(args[2]), collapse = "\n")
f <- lavaan(model, data = d, missing = "ml", estimator = "ML", meanstructure = TRUE,
            int.ov.free = TRUE, auto.var = TRUE, information = "observed")
pe <- parameterEstimates(f)
pe <- pe[pe$op %in% c("~", "~~") & pe$se > 0, c("lhs", "op", "rhs", "est", "se")]
fm <- fitMeasures(f, c("chisq", "df", "cfi", "rmsea", "srmr", "logl"))
cross <- sort(unique(grep("^b(xy|yx)", parTable(f)$label, value = TRUE)))
wald <- lavTestWald(f, constraints = paste(cross, "== 0", collapse = "\n"))$stat
write.csv(pe, args[3], row.names = FALSE)
writeLines(sprintf("%.12f", c(fm, wald)), args[4])
"""


def run_lavaan(tmp_path, data: np.ndarray, equal_paths: bool) -> tuple[pd.DataFrame, dict[str, float]]:
    t_ = data.shape[1] // 2
    cols = [f"x{t}" for t in range(1, t_ + 1)] + [f"y{t}" for t in range(1, t_ + 1)]
    pd.DataFrame(data, columns=cols).to_csv(tmp_path / "panel.csv", index=False, na_rep="NA")
    (tmp_path / "model.lav").write_text(lavaan_syntax(t_, equal_paths))
    (tmp_path / "fit.R").write_text(R_SCRIPT)
    out = subprocess.run(["Rscript", str(tmp_path / "fit.R"), str(tmp_path / "panel.csv"), str(tmp_path / "model.lav"),
                          str(tmp_path / "pe.csv"), str(tmp_path / "fm.txt")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    values = [float(v) for v in (tmp_path / "fm.txt").read_text().split()]
    return pd.read_csv(tmp_path / "pe.csv"), dict(zip(["chisq", "df", "cfi", "rmsea", "srmr", "logl", "wald"], values, strict=True))


def lavaan_name(row: pd.Series, t_: int, equal_paths: bool) -> str:
    """Our parameter name for a lavaan row (regression or (co)variance of the latent parts)."""
    lhs, rhs = str(row["lhs"]), str(row["rhs"])
    if row["op"] == "~":
        t = int(lhs[2:]) - 1
        stem = {("wx", "wx"): "ar_x", ("wy", "wy"): "ar_y", ("wy", "wx"): "cl_xy", ("wx", "wy"): "cl_yx"}[(lhs[:2], rhs[:2])]
        return stem if equal_paths else f"{stem}[{t}]"
    if lhs.startswith("RI"):
        return {("RIx", "RIx"): "var_ri_x", ("RIy", "RIy"): "var_ri_y", ("RIx", "RIy"): "cov_ri"}[(lhs, rhs)]
    t = int(lhs[2:]) - 1
    kind = "var" if lhs == rhs else "cov"
    if t == 0:
        return {"var": f"var_w{lhs[1]}1", "cov": "cov_w1"}[kind]
    return f"var_u[{t}]_{lhs[1]}" if kind == "var" else f"cov_u[{t}]"


@pytest.fixture(scope="module")
def demo_data(demo_pipeline) -> tuple[np.ndarray, tuple[int, ...]]:
    panel = pd.read_parquet(demo_pipeline["folder"] / "data" / "processed" / "panel.parquet")
    m = demo_pipeline["params"].model
    res = fit_riclpm(panel, m)
    assert res.status == "fitted", res.reason
    assert len(res.waves.years) >= m.riclpm_min_waves
    data, _ = wide_data(panel, m.exposure, m.dependent, res.waves.years)
    return data, res.waves.years


@needs_lavaan
@pytest.mark.slow
@pytest.mark.parametrize("equal_paths", [True, False])
def test_riclpm_equals_lavaan_on_demo(tmp_path, demo_data, equal_paths):
    data, _years = demo_data
    t_ = data.shape[1] // 2
    ours = fit(data, equal_paths=equal_paths)
    assert ours.converged, ours.message
    se = dict(zip(ours.layout.names, np.sqrt(np.diag(ours.vcov)), strict=True))
    est = dict(zip(ours.layout.names, ours.theta, strict=True))
    pe, fm = run_lavaan(tmp_path, data, equal_paths)
    seen = set()
    for _, row in pe.iterrows():
        name = lavaan_name(row, t_, equal_paths)
        seen.add(name)
        tol = 1e-4 if row["op"] == "~" else 1e-4 * max(1.0, abs(row["est"]))
        assert est[name] == pytest.approx(row["est"], abs=tol), name
        assert se[name] == pytest.approx(row["se"], abs=1e-3 * max(1.0, abs(row["se"]))), name
    assert seen == {n for n in ours.layout.names if not n.startswith("mean_")}
    idx = fit_indices(ours, data)
    assert ours.loglik == pytest.approx(fm["logl"], abs=1e-4)
    assert idx["df"] == int(fm["df"])
    assert idx["chisq"] == pytest.approx(fm["chisq"], abs=1e-3)
    for key in ("cfi", "rmsea", "srmr"):
        assert idx[key] == pytest.approx(fm[key], abs=1e-4), key
    assert wald(ours, ("cl_xy", "cl_yx"))["chisq"] == pytest.approx(fm["wald"], rel=1e-3)


def test_model_stage_writes_riclpm(demo_pipeline):
    """The model stage writes the RI-CLPM rows into model_results.csv and its summary into metrics/riclpm.json."""
    folder = demo_pipeline["folder"]
    summary = json.loads((folder / "metrics" / "riclpm.json").read_text())
    res = pd.read_csv(folder / "data" / "processed" / "model_results.csv")
    rows = res[res["model"].astype(str).str.startswith("riclpm_")]
    assert summary["status"] == "fitted"
    assert set(rows["model"]) == {"riclpm_crosslag_staff_to_patient", "riclpm_crosslag_patient_to_staff",
                                  "riclpm_autoregression_staff", "riclpm_autoregression_patient"}
    by_key = {p["key"]: p for p in summary["paths"]}
    for r in rows.itertuples():
        assert r.estimate == pytest.approx(by_key[r.model.removeprefix("riclpm_")]["estimate"], rel=1e-8)
        assert r.n_entities == summary["n_trusts"] and r.n_periods == len(summary["waves"])
    assert summary["wald"]["crosslags_joint"]["df"] == 2
