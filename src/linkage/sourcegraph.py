"""The package's import graph and the package data each module reads, from the source text.

One reader of the source serves three users: ``tests/test_layers.py`` (imports point
down the layers, no cycles), ``tools/build_dvc.py`` (each stage's code dependencies in
``dvc.yaml`` are the import closure of what the stage runs) and the provenance of the
pages (the source version of a step is the last commit touching those same files).

Imports are read with :mod:`ast` from every ``import``/``from`` statement, including
those inside functions, so a lazy import is a dependency too.  A module reads a
package data file when its source names it: a string constant equal to the name of
a data folder (``"catalogue"``, ``"orgdata"``, ``"templates"``: the whole folder) or of
a data file in one (``"sources.yaml"``: that file).  A test checks that every data
file of the package is read by some module, so a new file cannot go unnoticed.

This module is part of the foundation: it imports nothing from the package.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
"""``src/linkage``: the package whose source is read."""
PACKAGE = PACKAGE_DIR.name
_SKIP_DIRS = {"__pycache__"}
_RELATIVE = re.compile(r"\.+[A-Za-z_][A-Za-z0-9_.]*")


def module_name(path: Path, src: Path = PACKAGE_DIR) -> str:
    """The dotted module name of a source file of the package (``linkage.stages.link``)."""
    parts = list(path.relative_to(src.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def module_file(mod: str, src: Path = PACKAGE_DIR) -> Path:
    """The source file of module ``mod``."""
    rel = Path(*mod.split(".")[1:])
    single = (src / rel).with_suffix(".py")
    return single if single.exists() else src / rel / "__init__.py"


def _exists(mod: str, src: Path) -> bool:
    rel = Path(*mod.split(".")[1:])
    return (src / rel).with_suffix(".py").exists() or (src / rel / "__init__.py").exists()


def _owner(mod: str, src: Path) -> str:
    """The module that defines ``mod`` (a dotted name may end in an attribute of a module)."""
    while mod.count(".") and not _exists(mod, src):
        mod = mod.rsplit(".", 1)[0]
    return mod


@dataclass(frozen=True)
class _Facts:
    """What one walk of a module's syntax tree finds: its import statements and its string constants."""

    imports: tuple[ast.Import | ast.ImportFrom, ...]
    strings: frozenset[str]
    uses_import_module: bool


def _facts(tree: ast.AST) -> _Facts:
    imports, strings, dynamic = [], set(), False
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(node)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            strings.add(node.value)
        elif (isinstance(node, ast.Attribute) and node.attr == "import_module") or (
                isinstance(node, ast.Name) and node.id == "lazy_getattr"):  # linkage.lazy's table of relative names
            dynamic = True
    return _Facts(tuple(imports), frozenset(strings), dynamic)


def _version(path: Path) -> tuple[int, int, int]:
    """What changes when a file is edited: its inode, modification time and size."""
    st = path.stat()
    return st.st_ino, st.st_mtime_ns, st.st_size


@cache
def _file_facts(path: Path, version: tuple[int, int, int]) -> _Facts:
    """Facts of one source file, parsed once per version of the file (``version`` is part of the key)."""
    return _facts(ast.parse(path.read_text()))


def _facts_of(path: Path) -> _Facts:
    return _file_facts(path.resolve(), _version(path))


def imports_in(tree: ast.AST, package: str, src: Path = PACKAGE_DIR) -> set[str]:
    """Modules of the package imported anywhere in ``tree``; ``package`` resolves relative imports."""
    return _imports(_facts(tree), package, src)


def _imports(facts: _Facts, package: str, src: Path) -> set[str]:
    found: set[str] = set()
    for node in facts.imports:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == PACKAGE}
            continue
        if node.level:
            base = package.split(".")
            base = base[: len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        if target.split(".")[0] != PACKAGE:
            continue
        for alias in node.names:  # `from . import x` / `from .pkg import mod` may name submodules
            sub = f"{target}.{alias.name}"
            found.add(sub if _exists(sub, src) else target)
    found |= _lazy_imports(facts, package, src)
    return {_owner(m, src) for m in found}


def _lazy_imports(facts: _Facts, package: str, src: Path) -> set[str]:
    """Modules named for ``importlib.import_module(name, __name__)`` in a module using it (directly or
    through :func:`linkage.lazy.lazy_getattr`): relative names such as ``"._run"`` written as string
    constants (a package's lazy ``__getattr__`` table)."""
    if not facts.uses_import_module:
        return set()
    found = set()
    for value in facts.strings:
        if _RELATIVE.fullmatch(value):
            level = len(value) - len(value.lstrip("."))
            base = package.split(".")
            mod = ".".join(base[: len(base) - (level - 1)] + [value[level:]])
            if _exists(mod, src):
                found.add(mod)
    return found


def imports_of(path: Path, src: Path = PACKAGE_DIR) -> set[str]:
    """Modules of the package imported by the source file ``path`` (absolute names)."""
    mod = module_name(path, src)
    package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    return _imports(_facts_of(path), package, src)


def lazy_imports_of(path: Path, src: Path = PACKAGE_DIR) -> set[str]:
    """The modules a package's ``__init__`` loads only on attribute access (its ``import_module`` table).

    Importing a submodule (``linkage.site.page``) runs the parent's ``__init__`` but never its
    ``__getattr__``, so those modules are loaded only when the package itself is imported by name.
    """
    if path.name != "__init__.py":
        return set()
    package = module_name(path, src)
    facts = _facts_of(path)
    eager = _imports(_Facts(facts.imports, frozenset(), False), package, src)
    return {_owner(m, src) for m in _lazy_imports(facts, package, src)} - eager


def source_files(src: Path = PACKAGE_DIR) -> list[Path]:
    """Every ``.py`` file of the package, sorted."""
    return sorted(p for p in src.rglob("*.py") if not _SKIP_DIRS & set(p.parts))


def graph(src: Path = PACKAGE_DIR) -> dict[str, set[str]]:
    """Module -> the package modules it imports (itself excluded)."""
    files = source_files(src)
    versions = tuple((p, _version(p)) for p in files)
    return {mod: set(deps) for mod, deps in _graph(src, versions).items()}


@cache
def _graph(src: Path, versions: tuple[tuple[Path, tuple[int, int, int]], ...]) -> dict[str, frozenset[str]]:
    """The graph of one version of the package's files (``versions``: each file with :func:`_version`)."""
    return {module_name(p, src): frozenset(imports_of(p, src) - {module_name(p, src)}) for p, _ in versions}


def notebook_imports(path: Path, src: Path = PACKAGE_DIR) -> set[str]:
    """Package modules imported by the code cells of a notebook (magics and shell lines skipped)."""
    cells = json.loads(path.read_text())["cells"]
    found: set[str] = set()
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        text = "".join(cell.get("source", ""))
        lines = [line for line in text.splitlines() if not line.lstrip().startswith(("%", "!"))]
        found |= imports_in(ast.parse("\n".join(lines)), PACKAGE, src)
    return found


def closure(roots: set[str], src: Path = PACKAGE_DIR) -> set[str]:
    """``roots`` and every package module they import, directly or not.

    Importing ``a.b.c`` runs the ``__init__`` of ``a`` and ``a.b`` first, so parent packages are included.
    A parent package reached only that way contributes its eager imports, not the modules its
    ``__getattr__`` would load (:func:`lazy_imports_of`); a package imported by name contributes both.
    """
    g = graph(src)
    seen: set[str] = set()
    as_parent: set[str] = set()
    todo = [(m, False) for m in roots]
    while todo:
        mod, parent_only = todo.pop()
        if mod in seen and not (mod in as_parent and not parent_only):
            continue
        seen.add(mod)
        (as_parent.add if parent_only else as_parent.discard)(mod)
        parts = mod.split(".")
        todo += [(".".join(parts[:i]), True) for i in range(1, len(parts))]
        deps = g.get(mod, set())
        if parent_only:
            deps = deps - lazy_imports_of(module_file(mod, src), src)
        todo += [(d, False) for d in sorted(deps)]
    return seen


def data_files(src: Path = PACKAGE_DIR) -> list[Path]:
    """Every package data file (non-Python files inside the package), sorted."""
    return sorted(p for p in src.rglob("*") if p.is_file() and p.suffix not in {".py", ".pyc"}
                  and not _SKIP_DIRS & set(p.parts))


def data_read_by(path: Path, src: Path = PACKAGE_DIR, files: list[Path] | None = None) -> set[Path]:
    """Package data files the source file ``path`` names (a whole data folder, or single files).

    ``files`` is :func:`data_files` of ``src`` when the caller has it already.
    """
    names = _facts_of(path).strings
    out: set[Path] = set()
    for f in data_files(src) if files is None else files:
        folder = f.parent
        if f.name in names or (folder != src and folder.name in names and folder.parent in (path.parent, src)):
            out.add(f)
    return out


@cache
def _stage_code(roots: tuple[str, ...], notebook: str | None, root: Path,
                versions: tuple[tuple[Path, tuple[int, int, int]], ...]) -> tuple[str, ...]:
    """The closure's files for one version of the package and notebook (``versions``, as in :func:`_graph`)."""
    src = root / "src" / PACKAGE
    mods = set(roots)
    if notebook is not None:
        mods |= notebook_imports(root / notebook, src)
    files = {module_file(m, src) for m in closure(mods, src)}
    every = data_files(src)
    data = {d for f in files for d in data_read_by(f, src, every)}
    return tuple(sorted(p.relative_to(root).as_posix() for p in files | data))


def stage_code(stage_module: str, notebook: str | None = None, *, command: tuple[str, ...] = (),
               root: str | Path | None = None) -> tuple[str, ...]:
    """The source files a stage's results depend on, relative to the project root, sorted.

    Parameters
    ----------
    stage_module
        The stage's module (``linkage.stages.link``).
    notebook
        The stage's notebook relative to the root (its imports count), or ``None``.
    command
        Further modules the stage's command runs (the runner).
    root
        The project root (default: the one holding this package's ``src`` folder).

    Returns
    -------
    tuple of str
        The import closure's module files plus the package data files they name.
    """
    base = Path(root).resolve() if root is not None else PACKAGE_DIR.parents[1]
    files = [*source_files(base / "src" / PACKAGE), *data_files(base / "src" / PACKAGE)]
    if notebook is not None:
        files.append(base / notebook)
    return _stage_code((stage_module, *command), notebook, base, tuple((p, _version(p)) for p in files))


def stage_sources(name: str, root: str | Path | None = None) -> tuple[str, ...]:
    """Every source path DVC stage ``name`` depends on: its notebook and its derived code dependencies.

    With ``Stage.code_of`` (the report shows every step's source version) the code and notebooks of
    those stages too.  ``tools/build_dvc.py`` writes exactly these into ``dvc.yaml``.
    """
    from .paths import COMMAND_MODULES, NOTEBOOKS, STAGES

    stage = STAGES[name]
    own = [stage, *(STAGES[n] for n in stage.code_of)]
    notebooks = [f"{NOTEBOOKS.as_posix()}/{s.notebook}.ipynb" for s in own if s.notebook]
    files = {f for s in own for f in stage_code(s.module, f"{NOTEBOOKS.as_posix()}/{s.notebook}.ipynb"
                                                 if s.notebook else None, command=COMMAND_MODULES, root=root)}
    return tuple(dict.fromkeys(notebooks + sorted(files)))
