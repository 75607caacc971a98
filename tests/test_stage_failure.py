"""A stage that cannot run fails loudly, early and in one paragraph (never a papermill traceback)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def _kernel_installed() -> bool:
    from jupyter_client.kernelspec import KernelSpecManager

    return "linkage" in KernelSpecManager().find_kernel_specs()


def _project(tmp_path: Path) -> Path:
    """A folder that looks like the project root to the runner (params.yaml, dvc.yaml, notebooks/)."""
    for name in ("params.yaml", "dvc.yaml"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "notebooks", tmp_path / "notebooks")
    return tmp_path


def _linkage(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "linkage.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_invalid_params_stop_a_stage_before_it_writes_anything(tmp_path):
    root = _project(tmp_path)
    raw = yaml.safe_load((root / "params.yaml").read_text())
    raw["model"]["cov_type"] = "sandwich"
    (root / "params.yaml").write_text(yaml.safe_dump(raw))
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    proc = _linkage(["stage", "model"], root)
    assert proc.returncode == 2
    assert "model.cov_type" in proc.stderr and "sandwich" in proc.stderr and "clustered_entity" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before


@pytest.mark.slow
def test_a_failing_cell_ends_the_stage_in_one_paragraph(tmp_path):
    if not _kernel_installed():
        pytest.skip("Jupyter kernel 'linkage' not registered (run `linkage setup-kernel`)")
    root = _project(tmp_path)  # no data/processed/panel.parquet: the model stage's first read fails
    proc = _linkage(["stage", "model"], root)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip().splitlines()[-1]
    assert err.startswith("linkage stage: error: stage model failed in notebooks/04_model.ipynb")
    assert "data/processed/panel.parquet not found" in err and "reports/04_model.ipynb" in err
    assert "Traceback" not in proc.stderr
    assert not (root / "data" / "processed" / "model_results.csv").exists()


@pytest.mark.slow
def test_bad_injected_parameter_fails_the_notebook_before_any_output(tmp_path):
    """Run by papermill directly (as a researcher might), a bad value still fails at the params cell."""
    if not _kernel_installed():
        pytest.skip("Jupyter kernel 'linkage' not registered (run `linkage setup-kernel`)")
    root = _project(tmp_path)
    out = tmp_path / "out.ipynb"
    proc = subprocess.run(
        [sys.executable, "-m", "papermill", str(root / "notebooks" / "04_model.ipynb"), str(out),
         "-k", "linkage", "--cwd", str(root), "-p", "params_file", "params.yaml", "-p", "cov_type", "sandwich"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode != 0
    text = out.read_text()
    assert "model.cov_type" in text and "sandwich" in text and "clustered_entity" in text
    assert not (root / "data" / "processed" / "model_results.csv").exists()
