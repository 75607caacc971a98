"""Packages' lazy names (linkage.lazy): loaded on first use, cached, and seen by the source graph."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from linkage.sourcegraph import lazy_imports_of


def test_a_lazy_name_loads_its_submodule_only_when_asked_for():
    code = ("import sys, linkage.site as s\n"
            "assert 'linkage.site.build' not in sys.modules\n"
            "f = s.build_site\n"
            "assert 'linkage.site.build' in sys.modules and s.__dict__['build_site'] is f\n"
            "from linkage.site.build import build_site\n"
            "assert f is build_site\n"
            "try:\n    s.no_such_name\nexcept AttributeError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "module 'linkage.site' has no attribute 'no_such_name'"


@pytest.mark.parametrize("uses_helper", [True, False])
def test_the_source_graph_reads_a_lazy_table_only_where_it_is_used(tmp_path: Path, uses_helper: bool):
    src = tmp_path / "linkage"
    (src / "pkg").mkdir(parents=True)
    (src / "__init__.py").write_text("")
    (src / "lazy.py").write_text("def lazy_getattr(package, table): ...\n")
    (src / "pkg" / "_heavy.py").write_text("VALUE = 1\n")
    table = '_LAZY = {"VALUE": "._heavy"}\n'
    hook = "from ..lazy import lazy_getattr\n" + table + "__getattr__ = lazy_getattr(__name__, _LAZY)\n"
    (src / "pkg" / "__init__.py").write_text(hook if uses_helper else table)
    found = lazy_imports_of(src / "pkg" / "__init__.py", src)
    assert found == ({"linkage.pkg._heavy"} if uses_helper else set())
