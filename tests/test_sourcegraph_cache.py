"""The source reader parses each file once per version of it, and never answers from a stale parse.

:mod:`linkage.sourcegraph` caches what it reads from a file by the file's inode, modification time
and size (every step page and notebook asks for the same import closure, which used to cost minutes
per report stage). These tests edit a small package in a temporary folder between calls and check
that the answers follow the edits, and that an unchanged file is not parsed again.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

from linkage import sourcegraph
from linkage.sourcegraph import data_read_by, graph, imports_of


def _package(tmp_path: Path) -> Path:
    src = tmp_path / "src" / "linkage"
    (src / "data").mkdir(parents=True)
    (src / "__init__.py").write_text("")
    (src / "a.py").write_text("from . import b\n")
    (src / "b.py").write_text("X = 1\n")
    (src / "c.py").write_text("Y = 2\n")
    (src / "data" / "table.csv").write_text("k,v\n")
    return src


def _touch_later(path: Path, text: str) -> None:
    """Rewrite ``path`` and move its modification time on, as an editor saving it later would."""
    before = path.stat().st_mtime_ns
    path.write_text(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


def test_an_edited_import_is_seen(tmp_path):
    src = _package(tmp_path)
    assert graph(src)["linkage.a"] == {"linkage.b"}
    _touch_later(src / "a.py", "from . import c\nimport linkage.b\n")
    assert graph(src)["linkage.a"] == {"linkage.b", "linkage.c"}
    assert imports_of(src / "a.py", src) == {"linkage.b", "linkage.c"}


def test_an_edited_data_file_name_is_seen(tmp_path):
    src = _package(tmp_path)
    data = src / "data" / "table.csv"
    assert data_read_by(src / "b.py", src) == set()
    _touch_later(src / "b.py", 'NAME = "table.csv"\n')
    assert data_read_by(src / "b.py", src) == {data}


def test_an_unchanged_file_is_parsed_once(tmp_path, monkeypatch):
    src = _package(tmp_path)
    parsed: list[str] = []
    real_parse = ast.parse

    def counting_parse(text, *args, **kwargs):
        parsed.append(text)
        return real_parse(text, *args, **kwargs)

    monkeypatch.setattr(sourcegraph.ast, "parse", counting_parse)
    first = graph(src)
    n = len(parsed)
    assert n == 4  # __init__, a, b, c
    assert graph(src) == first and data_read_by(src / "a.py", src) == set()
    assert len(parsed) == n
    _touch_later(src / "c.py", "from .b import X\n")
    assert graph(src)["linkage.c"] == {"linkage.b"}
    assert len(parsed) == n + 1  # only the edited file again
