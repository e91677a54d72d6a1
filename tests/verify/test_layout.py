"""The verifier's module layout: the old ``_normalize`` import path hands out the very objects of
the modules its code moved to, the modules import nothing above the verify layer, and each stays
under 500 lines (no circle anywhere: tests/test_package_layout.py)."""

import ast
import functools
import importlib
import pathlib

import pytest

import rewardsmith.verify
from rewardsmith.verify import _normalize

VERIFY = pathlib.Path(rewardsmith.verify.__file__).parent
MODULES = sorted(p.stem for p in VERIFY.glob("*.py") if p.stem != "__init__")


@functools.lru_cache(maxsize=None)
def _defined_at_top(module: str) -> set:
    tree = ast.parse((VERIFY / f"{module}.py").read_text())
    names = set()
    for st in tree.body:
        if isinstance(st, (ast.FunctionDef, ast.ClassDef)):
            names.add(st.name)
        elif isinstance(st, ast.Assign):
            names |= {t.id for t in st.targets if isinstance(t, ast.Name)}
    return names


def _top_level_imports(module: str) -> set:
    """Modules of ``rewardsmith`` imported when ``module`` is imported (lazy imports inside
    functions are not edges: they run after every module is loaded)."""
    tree = ast.parse((VERIFY / f"{module}.py").read_text())
    out = set()
    for st in tree.body:
        if isinstance(st, ast.ImportFrom) and st.module and st.module.startswith("rewardsmith"):
            if st.module == "rewardsmith.verify":
                out |= {f"rewardsmith.verify.{a.name}" for a in st.names}
            else:
                out.add(st.module)
        elif isinstance(st, ast.Import):
            out |= {a.name for a in st.names if a.name.startswith("rewardsmith")}
    return out


@pytest.mark.parametrize("name", _normalize.__all__ + ["_prepare", "_is_label", "rounds_to", "decimal_matches", "squash"])
def test_old_normalize_path_reexports_the_moved_object(name):
    homes = [m for m in MODULES if m != "_normalize" and name in _defined_at_top(m)]
    assert len(homes) == 1, f"{name} is defined in {homes}, expected exactly one module"
    assert getattr(_normalize, name) is getattr(importlib.import_module(f"rewardsmith.verify.{homes[0]}"), name)


def test_verify_modules_import_nothing_above_verify():
    """(Import circles, here and everywhere, are tests/test_package_layout.py's.)"""
    graph = {m: _top_level_imports(m) for m in MODULES}
    above = {m: sorted(d for d in deps if not d.startswith("rewardsmith.verify")) for m, deps in graph.items()}
    assert not any(above.values()), f"verify is the bottom layer, but imports {above}"


def test_verify_modules_stay_under_500_lines():
    sizes = {m: len((VERIFY / f"{m}.py").read_text().splitlines()) for m in MODULES}
    assert {m: n for m, n in sizes.items() if n > 500} == {}
