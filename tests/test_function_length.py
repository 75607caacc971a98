"""No function in src/linkage runs over 80 lines of code without saying why in its docstring.

Lines are counted from the signature to the last statement, without the
docstring.  A function may be longer when its docstring carries a sentence
starting "Long because" (for example a table of cases that reads best in one place).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "linkage"
LIMIT = 80


def code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    length = node.end_lineno - node.lineno + 1
    doc = node.body[0] if node.body and isinstance(node.body[0], ast.Expr) else None
    if doc is not None and isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str):
        length -= doc.end_lineno - doc.lineno + 1
    return length


def long_functions() -> list[str]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = code_lines(node)
                reason = "long because" in (ast.get_docstring(node) or "").lower()
                if n > LIMIT and not reason:
                    out.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({n} lines)")
    return out


def test_no_long_function_without_a_reason():
    assert long_functions() == []


def test_the_counter_skips_the_docstring():
    tree = ast.parse('def f():\n    """Doc.\n\n    More.\n    """\n    return 1\n')
    assert code_lines(tree.body[0]) == 2
