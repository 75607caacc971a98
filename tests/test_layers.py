"""The import structure: dependencies point one way and there are no import cycles.

Layers, lowest first (a module may import its own layer or lower ones only):

0. foundation - errors, vocab, paths, files, contract, catalogue, params, sourcegraph
1. domain     - readers, registry, link, models, demo, download, acquire, ingest, report, figures, provenance,
                and any new domain package
2. stages     - linkage.stages.*, linkage.notebook (what notebooks call)
3. entry      - linkage.cli, linkage.runner

Imports are read from the source (every ``import``/``from`` statement, also those
inside functions) by :mod:`linkage.sourcegraph`, the same reader that derives each
stage's code dependencies in ``dvc.yaml``, so a lazy import cannot hide an upward dependency.
"""

from __future__ import annotations

import pytest

from linkage.sourcegraph import graph

FOUNDATION = {"linkage", "linkage.errors", "linkage.vocab", "linkage.paths", "linkage.files", "linkage.contract",
              "linkage.catalogue", "linkage.params", "linkage.sourcegraph"}
STAGES = {"linkage.stages", "linkage.notebook"}
ENTRY = {"linkage.cli", "linkage.runner", "linkage.__main__"}


def layer(mod: str) -> int:
    def within(group: set[str]) -> bool:
        return any(mod == g or (g != "linkage" and mod.startswith(g + ".")) for g in group)

    if within(ENTRY):
        return 3
    if within(STAGES):
        return 2
    if within(FOUNDATION):
        return 0
    return 1


def test_dependencies_point_down_the_layers():
    upward = sorted(f"{m} (layer {layer(m)}) imports {d} (layer {layer(d)})"
                    for m, deps in graph().items() for d in deps
                    if layer(d) > layer(m) and d != "linkage")
    assert upward == []


def test_no_import_cycles_between_modules():
    g = graph()
    # a package's __init__ re-exporting its own modules is not a cycle between files of different concerns
    edges = {m: {d for d in deps if not (m.startswith(d + ".") and d in g)} for m, deps in g.items()}
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []


@pytest.mark.parametrize(("mod", "expected"), [("linkage.params.model", 0), ("linkage.models._fit", 1),
                                               ("linkage.stages.link", 2), ("linkage.cli", 3)])
def test_layer_table_classifies_modules(mod, expected):
    assert layer(mod) == expected
