"""The house rules, checked: no import circle anywhere in the package (module-level and lazy imports
alike), imports flow one way (nothing imports the CLI; verify and advantages import nothing above
them), and no source file is over 500 lines unless its opening docstring says why."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "rewardsmith"
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    out = {}
    for p in PKG.rglob("*.py"):
        rel = p.relative_to(SRC).with_suffix("")
        out[".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)] = p
    return out


def _imports(name: str, path: Path, mods: dict[str, Path]) -> set[str]:
    """Project modules ``name`` imports anywhere in its source (``from pkg import sub`` counts as
    importing ``pkg.sub``, and ``pkg`` only when a name that is not a submodule is taken from it)."""
    pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    deps: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            deps.update(a.name for a in node.names if a.name in mods)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            subs = {f"{mod}.{a.name}" for a in node.names} & mods.keys()
            deps |= subs
            if mod in mods and len(subs) < len(node.names):
                deps.add(mod)
    deps.discard(name)
    return deps


GRAPH = {n: _imports(n, p, _modules()) for n, p in _modules().items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_planted_cycle():
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(g) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_in_the_package():
    assert _cycles(GRAPH) == []


@pytest.mark.parametrize("bottom", ["rewardsmith.verify", "rewardsmith.advantages"])
def test_bottom_layers_import_nothing_above_them(bottom):
    above = ("rewardsmith.cli", "rewardsmith.integrations", "rewardsmith.train", "rewardsmith.serve",
             "rewardsmith.graders", "rewardsmith.report", "rewardsmith.rules")
    bad = {m: sorted(d for d in deps if d.startswith(above))
           for m, deps in GRAPH.items() if m == bottom or m.startswith(bottom + ".")}
    assert {m: d for m, d in bad.items() if d} == {}


def test_nothing_imports_the_cli():
    bad = {m: sorted(d for d in deps if d.startswith("rewardsmith.cli"))
           for m, deps in GRAPH.items() if not m.startswith("rewardsmith.cli")}
    assert {m: d for m, d in bad.items() if d} == {}


def test_no_source_file_over_500_lines_without_a_reason():
    long = {}
    for name, path in _modules().items():
        n = len(path.read_text().splitlines())
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        if n > MAX_LINES and "500" not in doc:
            long[str(path.relative_to(SRC))] = n
    assert long == {}, f"over {MAX_LINES} lines with no reason in the opening docstring: {long}"
