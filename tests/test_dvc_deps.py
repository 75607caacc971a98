"""Each stage's code dependencies are derived from what it imports, and DVC acts on them.

A stage depends on its code fingerprint ``.linkage/code/<stage>.json`` (written by the
``params`` stage, :mod:`linkage.codeprint`), which lists its derived source files with their
hashes.  References independent of the derivation (:mod:`linkage.sourcegraph`): the modules
Python actually loads when a stage module, the runner and its notebook's import lines are
imported (in a fresh interpreter per stage) must all be in that stage's fingerprint; and in a
temporary DVC project with the same fingerprints, editing a module or a package data file
changes the fingerprints of exactly the stages that depend on it, and ``dvc status`` names them.
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

from linkage.codeprint import code_prints
from linkage.paths import STAGES, code_print
from linkage.sourcegraph import data_files, data_read_by, source_files

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "linkage"
DVC = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
PRINTS = code_prints(REPO)
"""Each stage's code fingerprint as the params stage writes it (derived now, not read from disk)."""


def _code_deps(name: str) -> set[str]:
    """Stage ``name``'s source files: those of its fingerprint, which its one code dependency stands for."""
    if name == "params":  # always run, so it has no code dependency; its version is shown by the report
        return set(PRINTS["report"]["sources"]["params"])
    assert str(code_print(name)) in DVC[name]["deps"]
    return set(PRINTS[name]["files"])

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
    missing = sorted(loaded - _code_deps(name))
    assert missing == [], f"stage {name} loads {missing} but its code fingerprint does not list them"
    if name == "params":
        assert DVC[name]["always_changed"] is True
        assert missing == [] and set(PRINTS["report"]["sources"]["params"]) <= set(PRINTS["report"]["files"])


def test_dvc_yaml_lists_no_source_file():
    """dvc.yaml lists one code fingerprint per stage, never the source files themselves."""
    for name, stage in DVC.items():
        assert not [d for d in stage.get("deps", []) if d.startswith(("src/", "notebooks/"))], name
    written = {next(iter(o)) if isinstance(o, dict) else o for o in DVC["params"]["outs"]}
    assert {str(code_print(n)) for n in STAGES if n != "params"} <= written


def test_a_step_page_does_not_depend_on_the_site_builder():
    """The runner renders step pages with linkage.site.page only: a summary or trust-page edit re-runs the report alone."""
    for name in ("ingest_staff", "ingest_patient", "link", "model", "multiverse"):
        files = set(PRINTS[name]["files"])
        assert "src/linkage/site/page.py" in files
        assert not files & {"src/linkage/site/build.py", "src/linkage/site/trusts.py", "src/linkage/site/summary.py"}
    assert "src/linkage/site/build.py" in PRINTS["report"]["files"]


def test_the_drift_of_the_hand_kept_lists_is_gone():
    """The deps issue 15 found missing from the hand-kept lists."""
    deps = {n: _code_deps(n) for n in DVC}
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
    """A DVC project with the pipeline's code fingerprints only: ``params`` writes them, every other stage
    depends on its one (and does nothing)."""
    shutil.copytree(SRC, dest / "src" / "linkage", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "notebooks", dest / "notebooks")
    write = f"{sys.executable} -c 'from linkage.codeprint import write_code_prints; write_code_prints()'"
    stages = {"params": {"cmd": write, "always_changed": True,
                         "outs": [{str(code_print(n)): {"cache": False}} for n in STAGES if n != "params"]}}
    stages |= {n: {"cmd": "true", "deps": [str(code_print(n))]} for n in STAGES if n != "params"}
    (dest / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    for cmd in (["dvc", "init", "-q"], ["dvc", "repro", "-q"]):
        subprocess.run([str(Path(sys.executable).parent / cmd[0]), *cmd[1:]], cwd=dest, check=True, env=env,
                       capture_output=True, timeout=600)


def _prints(dest: Path) -> dict[str, bytes]:
    return {n: (dest / code_print(n)).read_bytes() for n in STAGES if n != "params"}


def _status(dest: Path) -> set[str]:
    """Stages ``dvc status`` names, but ``params`` (always changed by design: it writes the fingerprints)."""
    out = subprocess.run([str(Path(sys.executable).parent / "dvc"), "status", "--json"], cwd=dest, check=True,
                         capture_output=True, text=True, timeout=300, env={**os.environ, "DVC_NO_ANALYTICS": "1"})
    return set(json.loads(out.stdout or "{}")) - {"params"}


def _rerun_params(dest: Path) -> None:
    subprocess.run([str(Path(sys.executable).parent / "dvc"), "repro", "-q", "-s", "params"], cwd=dest, check=True,
                   capture_output=True, timeout=300, env={**os.environ, "DVC_NO_ANALYTICS": "1"})


@pytest.mark.slow
@pytest.mark.parametrize("rel", ["src/linkage/combine.py", "src/linkage/catalogue/measures.yaml"])
def test_editing_a_module_makes_dvc_status_name_the_stages_that_read_it(tmp_path, rel):
    _code_only_project(tmp_path)
    _rerun_params(tmp_path)
    assert _status(tmp_path) == set()  # an unchanged tree: the fingerprints are not even touched
    before = _prints(tmp_path)
    with open(tmp_path / rel, "a") as f:
        f.write("\n# edited\n")
    _rerun_params(tmp_path)
    expect = {n for n, p in PRINTS.items() if rel in p["files"]}
    assert {"link"} <= expect
    changed = {n for n, text in _prints(tmp_path).items() if text != before[n]}
    assert changed == expect
    assert _status(tmp_path) == expect
