"""Code fingerprints (``.linkage/code/<stage>.json``): written by the params stage, changed only by a real edit.

Each test works on a copy of the package and the notebooks in a temporary folder, so edits never
touch the clone.  The reference for "which stages read this file" is the import closure derived
by :mod:`linkage.sourcegraph` directly (what ``dvc.yaml`` used to list), not the fingerprint code.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from linkage import sourcegraph
from linkage.codeprint import read_sources, write_code_prints
from linkage.paths import STAGES, code_print

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "src" / "linkage", tmp_path / "src" / "linkage", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "notebooks", tmp_path / "notebooks")
    return tmp_path


def _texts(root: Path) -> dict[str, str]:
    return {n: (root / code_print(n)).read_text() for n in STAGES if n != "params"}


def test_fingerprints_list_the_derived_sources_with_their_hashes(tree):
    changed = write_code_prints(tree)
    assert set(changed) == set(STAGES) - {"params"}
    for name in changed:
        doc = json.loads((tree / code_print(name)).read_text())
        assert sorted(doc["files"]) == sorted(sourcegraph.stage_sources(name, tree))
        some = next(iter(doc["files"]))
        assert doc["files"][some] == _sha256(tree / some)


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_unchanged_tree_rewrites_nothing_and_parses_nothing(tree, monkeypatch):
    write_code_prints(tree)
    before = {n: (tree / code_print(n)).stat().st_mtime_ns for n in STAGES if n != "params"}

    def no_parse(*args, **kwargs):
        raise AssertionError("the closures were derived again for an unchanged tree")

    monkeypatch.setattr(sourcegraph, "stage_sources", no_parse)
    assert write_code_prints(tree) == {}
    assert {n: (tree / code_print(n)).stat().st_mtime_ns for n in before} == before


@pytest.mark.parametrize(("rel", "some"), [("src/linkage/combine.py", {"link", "report"}),
                                           ("src/linkage/catalogue/measures.yaml", {"acquire", "link", "model"}),
                                           ("src/linkage/site/summary.py", {"report"})])
def test_an_edit_changes_exactly_the_fingerprints_of_the_stages_that_read_the_file(tree, rel, some):
    write_code_prints(tree)
    expect = {n for n in STAGES if n != "params" and rel in sourcegraph.stage_sources(n, tree)}
    assert some <= expect
    if rel.endswith("summary.py"):
        assert expect == {"report"}  # a site edit no longer re-runs every stage
    before = _texts(tree)
    with open(tree / rel, "a") as f:
        f.write("\n# edited\n")
    for name in before:  # as DVC does before running the params stage
        (tree / code_print(name)).unlink()
    changed = write_code_prints(tree)
    assert set(changed) == expect
    assert all(files == [rel] for files in changed.values())
    assert {n for n, t in _texts(tree).items() if t != before[n]} == expect


def test_a_new_import_is_followed(tree):
    write_code_prints(tree)
    assert "src/linkage/site/summary.py" not in json.loads((tree / code_print("model")).read_text())["files"]
    with open(tree / "src/linkage/stages/model.py", "a") as f:
        f.write("\nfrom ..site import summary  # noqa\n")
    changed = write_code_prints(tree)
    assert "src/linkage/site/summary.py" in changed["model"] and "src/linkage/stages/model.py" in changed["model"]


def test_pages_read_the_paths_only_from_an_up_to_date_fingerprint(tree):
    write_code_prints(tree)
    assert read_sources("link", tree) == tuple(sourcegraph.stage_sources("link", tree))
    assert read_sources("link", tree, via="report") == read_sources("link", tree)
    assert read_sources("params", tree, via="report") == tuple(sourcegraph.stage_sources("params", tree))
    with open(tree / "src/linkage/link.py", "a") as f:  # edited after the params stage ran: stale
        f.write("\n# edited\n")
    assert read_sources("link", tree) is None
    (tree / code_print("model")).unlink()
    assert read_sources("model", tree) is None


def test_a_step_page_loads_no_site_builder():
    """The narrow step-page module: its closure holds none of the summary, trust or chart modules."""
    mods = sourcegraph.closure({"linkage.site.page"})
    assert "linkage.site" in mods and "linkage.site.build" not in mods
    assert not {m for m in mods if m.split(".")[-1] in ("summary", "trusts", "charts", "board")}
    assert "linkage.site.build" in sourcegraph.closure({"linkage.stages.report"})


def test_an_installed_copy_without_a_checkout_is_refused_by_name(tmp_path, monkeypatch):
    """A non-editable install (the package in site-packages, no src/ in the project) has no code to fingerprint."""
    from linkage import codeprint
    from linkage.errors import LinkageError

    installed = tmp_path / "venv" / "lib" / "python3.11" / "site-packages" / "linkage" / "codeprint.py"
    monkeypatch.setattr(codeprint, "__file__", str(installed))
    project = tmp_path / "project"
    project.mkdir()
    assert codeprint.code_root(project) is None
    with pytest.raises(LinkageError, match=r"site-packages/linkage, an installed copy.*pip install -e"):
        write_code_prints(project)
    assert not (project / ".linkage").exists()  # refused before anything is written
    # the same folder with its own checkout is fingerprinted as before
    shutil.copytree(REPO / "src" / "linkage", project / "src" / "linkage", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "notebooks", project / "notebooks")
    assert codeprint.code_root(project) == project.resolve()
