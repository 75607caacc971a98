"""Each stage's code dependencies in dvc.yaml are derived from what it imports, and DVC acts on them.

References independent of the derivation (:mod:`linkage.sourcegraph`): the modules Python
actually loads when a stage module, the runner and its notebook's import lines are imported
(in a fresh interpreter per stage) must all be DVC dependencies of that stage; and in a
temporary DVC project with the same code dependencies, editing a module or a package data
file makes ``dvc status`` name exactly the stages that depend on it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from linkage.paths import STAGES
from linkage.sourcegraph import data_files, data_read_by, source_files

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "linkage"
DVC = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]

_LOADED = """
import json, re, sys
exec(sys.argv[1])
print(json.dumps(sorted(m.__file__ for m in list(sys.modules.values())
                        if getattr(m, "__file__", None) and "/src/linkage/" in m.__file__)))
"""


def _loaded_modules(stage) -> set[str]:
    lines = [f"import linkage.stages.{stage.name}", "import linkage.runner"]
    if stage.notebook:
        nb = json.loads((REPO / "notebooks" / f"{stage.notebook}.ipynb").read_text())
        code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        lines += [m.group(0) for m in re.finditer(r"^(from linkage[\w.]* import [^\n(]+|import linkage[\w.]*)$",
                                                  code, re.M)]
    out = subprocess.run([sys.executable, "-c", _LOADED, "\n".join(lines)], capture_output=True, text=True,
                         check=True, cwd=REPO, timeout=300)
    return {Path(f).resolve().relative_to(REPO).as_posix() for f in json.loads(out.stdout)}


@pytest.mark.parametrize("name", list(STAGES))
def test_every_module_a_stage_loads_is_a_dvc_dependency(name):
    loaded = _loaded_modules(STAGES[name])
    assert "src/linkage/paths.py" in loaded  # the reference really saw the package
    missing = sorted(loaded - set(DVC[name]["deps"]))
    assert missing == [], f"stage {name} loads {missing} but dvc.yaml does not list them: run tools/build_dvc.py"


def test_the_drift_of_the_hand_kept_lists_is_gone():
    """The deps issue 15 found missing from the hand-kept lists."""
    deps = {n: set(s["deps"]) for n, s in DVC.items()}
    assert {"src/linkage/combine.py", "src/linkage/catalogue.py", "src/linkage/catalogue/measures.yaml"} <= deps["link"]
    for n in ("ingest_staff", "ingest_patient"):
        assert {"src/linkage/names.py", "src/linkage/contract.py", "src/linkage/combine.py"} <= deps[n]
    assert "src/linkage/catalogue.py" in deps["multiverse"]
    assert {"src/linkage/orgdata/ods_overrides.csv", "src/linkage/orgdata/type_overrides.csv"} <= deps["link"]
    assert any(d.startswith("src/linkage/site/templates/") for d in deps["report"])
    assert "src/linkage/mappings/nss_2021_2024_extract.yaml" in deps["ingest_staff"]
    assert not any(d in ("src/linkage", "src/linkage/readers") for n in deps for d in deps[n])  # files, not folders


def test_every_package_data_file_is_read_by_some_module():
    read = set().union(*(data_read_by(p) for p in source_files()))
    assert set(data_files()) - read == set()


def _code_only_project(dest: Path) -> None:
    """A DVC project whose stages have dvc.yaml's code dependencies only (and a no-op command)."""
    shutil.copytree(SRC, dest / "src" / "linkage", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "notebooks", dest / "notebooks")
    stages = {n: {"cmd": "true", "deps": [d for d in s["deps"] if d.startswith(("src/", "notebooks/"))]}
              for n, s in DVC.items()}
    (dest / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    for cmd in (["dvc", "init", "-q"], ["dvc", "repro", "-q"]):
        subprocess.run([str(Path(sys.executable).parent / cmd[0]), *cmd[1:]], cwd=dest, check=True, env=env,
                       capture_output=True, timeout=600)


def _status(dest: Path) -> set[str]:
    out = subprocess.run([str(Path(sys.executable).parent / "dvc"), "status", "--json"], cwd=dest, check=True,
                         capture_output=True, text=True, timeout=300, env={**os.environ, "DVC_NO_ANALYTICS": "1"})
    return set(json.loads(out.stdout or "{}"))


@pytest.mark.slow
@pytest.mark.parametrize("rel", ["src/linkage/combine.py", "src/linkage/catalogue/measures.yaml"])
def test_editing_a_module_makes_dvc_status_name_the_stages_that_read_it(tmp_path, rel):
    _code_only_project(tmp_path)
    assert _status(tmp_path) == set()
    with open(tmp_path / rel, "a") as f:
        f.write("\n# edited\n")
    expect = {n for n, s in DVC.items() if rel in s["deps"]}
    assert {"link"} <= expect
    assert _status(tmp_path) == expect
