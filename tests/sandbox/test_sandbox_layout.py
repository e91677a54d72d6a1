"""The sandbox package's layout: its public API stays importable and its modules import one way."""

from __future__ import annotations

import ast
from pathlib import Path

import rewardsmith.sandbox as sb

PKG = Path(sb.__file__).parent


def _imports_within_package() -> dict[str, set[str]]:
    """module -> the package's modules it imports (``from rewardsmith.sandbox[.x] import ...``)."""
    modules = {p.stem for p in PKG.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in PKG.glob("*.py"):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and node.module
                    and node.module.startswith("rewardsmith.sandbox")):
                continue
            sub = node.module[len("rewardsmith.sandbox"):].lstrip(".").split(".")[0]
            if sub:
                deps.add(sub)
            else:  # from rewardsmith.sandbox import x: a module, or a name of the package's API
                deps.update(a.name if a.name in modules else "__init__" for a in node.names)
        graph[path.stem] = deps - {path.stem}
    return graph


def test_public_api_is_exported():
    for name in sb.__all__:
        assert getattr(sb, name) is not None
    assert callable(sb.run) and callable(sb.detect_mode)  # not shadowed by a submodule of that name


def test_package_modules_import_one_way():
    """The state module imports nothing of the package and the front door re-exports one_run
    (import circles, here and everywhere, are tests/test_package_layout.py's)."""
    graph = _imports_within_package()
    assert graph["state"] == set() and "one_run" in graph["__init__"]


def test_no_module_over_500_lines():
    for path in PKG.glob("*.py"):
        lines = path.read_text().splitlines()
        assert len(lines) <= 500, f"{path.name}: {len(lines)} lines"
