"""What a trusted test module runs, and what counts as one test (stdlib only).

Shared by the rules (``rules.code`` counts tests and rejects suites it cannot run) and the tests'
sandbox (``_rpc_client`` runs the plan; copied in as ``_rs_plan.py``). The whole module runs as
written, every top-level statement in order, with ``__name__ == "__main__"`` (so a script's
``if __name__ == "__main__":`` block runs too). Tests, in order:

* each top-level statement that asserts: it contains an ``assert``, or calls ``check`` or a
  function of the module that (directly or through another) asserts or fails a ``unittest`` check
  (a top-level ``for`` / ``if`` / ``with`` / ``try`` of asserts is one test);
* then ``check(<entry_point>)`` when the module defines ``check`` but never calls it (HumanEval);
* then each top-level ``def test_*()`` the module never calls (pytest style; it must take no
  arguments: fixtures are not supported), then each ``test*`` method of each top-level
  ``class Test*:`` that is not a ``TestCase`` (a fresh instance per method, with its
  ``setup_method`` / ``teardown_method``);
* then each ``test*`` method of each ``unittest.TestCase`` subclass the module defines
  (``unittest.main()`` in the module is a no-op; the harness runs the cases itself).

Every other statement is setup; a setup statement that raises counts as one more failed test, so
a module that did not run to its end never passes. A module with no test is rejected.
"""

import ast

__all__ = ["TestPlanError", "plan"]


class TestPlanError(ValueError):
    """The tests cannot be run as a suite (no test, a pytest fixture, check() without entry)."""


def _calls(node):
    """Names called anywhere under ``node`` (``f(...)`` only)."""
    return {n.func.id for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


def _asserts_directly(node):
    """Whether ``node`` contains an ``assert`` or a ``self.assert*`` / ``self.fail`` call."""
    for n in ast.walk(node):
        if isinstance(n, ast.Assert):
            return True
        if (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                and (n.func.attr.startswith("assert") or n.func.attr == "fail")):
            return True
    return False


def _yields(func):
    """Whether ``func`` itself is a generator (a ``yield`` outside nested functions and classes)."""
    stack = list(ast.iter_child_nodes(func))
    while stack:
        n = stack.pop()
        if isinstance(n, (ast.Yield, ast.YieldFrom)):
            return True
        if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(n))
    return False


def _testcase_classes(tree):
    """Top-level classes whose bases name ``TestCase`` (``unittest.TestCase`` or imported), or
    another such class of the module (red-team round 3: ``class T(Base)`` with ``Base`` a
    ``TestCase`` was never run, and a wrong solution passed on ``Base``'s tests alone)."""
    classes = [s for s in tree.body if isinstance(s, ast.ClassDef)]
    found = set()
    changed = True
    while changed:
        changed = False
        for c in classes:
            if c.name in found:
                continue
            for b in c.bases:
                name = b.attr if isinstance(b, ast.Attribute) else b.id if isinstance(b, ast.Name) else ""
                if name.endswith("TestCase") or name in found:
                    found.add(c.name)
                    changed = True
                    break
    return [c for c in classes if c.name in found]


def plan(source, entry_point=None):
    """``{"statements": [(is_test, index)], "check": bool, "pytest": [names], "testcase": [names],
    "n": tests known before running}`` for the module ``source``; TestPlanError when it cannot run."""
    tree = ast.parse(source, "tests.py")
    funcs = {s.name: s for s in tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))}
    # functions that assert, directly or through a function of the module they call
    asserting = {name for name, f in funcs.items() if _asserts_directly(f)}
    changed = True
    while changed:
        changed = False
        for name, f in funcs.items():
            if name not in asserting and _calls(f) & asserting:
                asserting.add(name)
                changed = True
    for name in sorted(asserting):
        f = funcs[name]
        if isinstance(f, ast.AsyncFunctionDef) or _yields(f):
            raise TestPlanError(f"tests: {name}() asserts but is a generator or async: calling it would "
                                "run none of its asserts")
    asserting.add("check")
    statements = []
    for i, s in enumerate(tree.body):
        if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)):
            statements.append((False, i))
            continue
        statements.append((_asserts_directly(s) or bool(_calls(s) & asserting), i))
    called = set()
    for s in tree.body:
        if not isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)):
            called |= _calls(s)
    for name, f in funcs.items():  # a test_* called only from another function still runs once
        called |= {c for c in _calls(f) if c != name}
    run_check = "check" in funcs and "check" not in called
    if run_check and not entry_point:
        raise TestPlanError("tests: define check(candidate) but never call it, and the row has no "
                            "entry_point to call it with")
    pytest_names = []
    for name, f in funcs.items():
        if name.startswith("test") and name not in called:
            a = f.args
            required = len(a.posonlyargs) + len(a.args) - len(a.defaults) + sum(
                d is None for d in a.kw_defaults)
            if required:
                raise TestPlanError(f"tests: {name}() takes arguments (pytest fixtures or parametrize); "
                                    "expected test functions that take none")
            if isinstance(f, ast.AsyncFunctionDef):
                raise TestPlanError(f"tests: {name}() is async; expected plain test functions")
            pytest_names.append(name)
    cases = _testcase_classes(tree)
    n_methods = sum(1 for c in cases for s in c.body
                    if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and s.name.startswith("test"))
    # pytest-style classes (``class TestX:`` with ``def test_*(self)``): red-team round 3 found
    # them never run, so a wrong solution passed on the module's other asserts
    case_names = {c.name for c in cases}
    pytest_classes = []
    for c in tree.body:
        if not isinstance(c, ast.ClassDef) or c.name in case_names or not c.name.startswith("Test"):
            continue
        methods = []
        for f in c.body:
            if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and f.name.startswith("test"):
                a = f.args
                required = len(a.posonlyargs) + len(a.args) - len(a.defaults) + sum(d is None for d in a.kw_defaults)
                if required > 1 or isinstance(f, ast.AsyncFunctionDef):
                    raise TestPlanError(f"tests: {c.name}.{f.name}() takes arguments or is async (pytest "
                                        "fixtures or parametrize); expected plain test methods")
                methods.append(f.name)
        if methods:
            pytest_classes.append([c.name, methods])
    n = (sum(t for t, _ in statements) + int(run_check) + len(pytest_names) + n_methods
         + sum(len(m) for _, m in pytest_classes))
    if n == 0:
        raise TestPlanError("tests: no test to run (no assert, no check(candidate) with an entry_point, "
                            "no test_* function, no unittest.TestCase)")
    return {"statements": statements, "check": run_check, "pytest": pytest_names,
            "pytest_classes": pytest_classes, "testcase": [c.name for c in cases], "n": n}
