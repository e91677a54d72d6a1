"""Test side of a two-sandbox test run (stdlib only; runs as the sandbox's main program).

Runs the trusted tests (``tests.py``) with every name the program defines bound to a proxy: a
call, attribute, item, ``len``/``iter``/``bool`` on a proxy is a request to the program's sandbox
(fd ``argv[1]``), answered with plain data or another proxy (fd ``argv[2]``). Builtins and modules
are this process's own (a program cannot redefine ``sorted`` or ``math.isclose`` for the tests),
and comparisons happen here, on plain values, so the program never sees an expected value. The
whole module runs as written, in order; what counts as a test is ``_rs_plan`` (``_testplan.py``).
The report is one line, prefixed by ``argv[3]``, on stdout.
"""

import ast
import builtins
import json
import os
import sys

import _rs_codec as codec
import _rs_plan as plan

req = os.fdopen(int(sys.argv[1]), "w", encoding="utf-8")
resp = os.fdopen(int(sys.argv[2]), "r", encoding="utf-8")
MARKER = sys.argv[3]
CONFIG = json.loads(sys.argv[4])
MAX_LINE = 64 * 1024 * 1024
_CONTROL_FLOW = (StopIteration, StopAsyncIteration)
_IMPORT_DENY = frozenset({"antigravity", "this", "idlelib", "turtledemo", "turtle", "tkinter", "venv", "ensurepip",
                          "pydoc", "webbrowser", "unittest", "doctest", "pdb", "code", "runpy", "site", "test",
                          "lib2to3", "pip", "sitecustomize", "usercustomize", "__phello__", "__hello__"})


_broken = [None]  # "lost" / "tampered" once the channel broke: a test that swallowed it still fails


class ChannelLost(BaseException):
    """The program's sandbox closed the channel (it exited, crashed or was killed)."""

    def __init__(self, *args):
        super().__init__(*args)
        _broken[0] = _broken[0] or "lost"


class Tampered(BaseException):
    """The program wrote something on the channel that this harness never asked for."""

    def __init__(self, *args):
        super().__init__(*args)
        _broken[0] = _broken[0] or "tampered"


def _read():
    try:
        line = resp.readline(MAX_LINE)
    except UnicodeDecodeError:  # the server only ever writes ASCII JSON
        raise Tampered("reply is not UTF-8") from None
    if not line:
        raise ChannelLost("the program closed the channel")
    if not line.endswith("\n"):
        raise Tampered("oversized or truncated reply")
    try:
        return codec.loads(line)
    except (ValueError, TypeError, RecursionError, MemoryError):
        raise Tampered("reply is not plain JSON") from None


_CONTAINERS = (list, dict, set, tuple)


def _same_kind(d, s):
    """Whether the tests' value ``d`` and the program's plain value ``s`` are the same container."""
    return any(isinstance(d, base) and type(s) is base for base in _CONTAINERS)


def _sync(dst, src, depth=0):
    """Change the tests' argument ``dst`` in place to the program's ``src`` (a plain value of its
    base type), keeping the identity of inner containers where the shape allows. Only what a
    callee can change in Python changes: a tuple's own items never do."""
    if depth > codec.MAX_DEPTH + 2 or not _same_kind(dst, src):
        raise Tampered("malformed argument update")
    if isinstance(dst, list):
        if len(dst) != len(src):
            dst[:] = src
            return
        for i, s in enumerate(src):
            if _same_kind(dst[i], s):
                _sync(dst[i], s, depth + 1)
            else:
                dst[i] = s
    elif isinstance(dst, dict):
        for k in [k for k in dst if k not in src]:
            del dst[k]
        for k, s in src.items():
            if k in dst and _same_kind(dst[k], s):
                _sync(dst[k], s, depth + 1)
            else:
                dst[k] = s
    elif isinstance(dst, set):
        dst.clear()
        dst.update(src)
    else:  # a tuple: only its containers can have changed
        if len(dst) != len(src):
            raise Tampered("malformed argument update")
        for d, s in zip(dst, src):
            if _same_kind(d, s):
                _sync(d, s, depth + 1)


def _apply_mutations(out, sent):
    """Apply a call reply's ``mut`` (see ``_rpc_server.mutations``) to the arguments ``sent``."""
    mut = out.pop("mut", None)
    if mut is None:
        return
    if sent is None or not isinstance(mut, list):
        raise Tampered("argument update for a request that was not a call")
    args, kwargs = sent
    try:
        for key, value in mut:
            if type(key) is int and 0 <= key < len(args):
                dst = args[key]
            elif type(key) is str and key in kwargs:
                dst = kwargs[key]
            else:
                raise Tampered("argument update for an argument that was not sent")
            _sync(dst, codec.decode(value))
    except (ValueError, TypeError, RecursionError):
        raise Tampered("malformed argument update") from None


def rpc(msg, sent=None):
    try:
        req.write(codec.dumps(msg) + "\n")
        req.flush()
    except (BrokenPipeError, OSError):
        raise ChannelLost("the program closed the channel") from None
    out = _read()
    if not isinstance(out, dict):
        raise Tampered("reply is not an object")
    _apply_mutations(out, sent)
    try:
        if "v" in out:
            return codec.decode(out["v"])
        if "ref" in out:
            return Remote(int(out["ref"]), str(out.get("type", "?"))[:50])
        name, text = out["err"]
    except (KeyError, ValueError, TypeError, RecursionError):
        raise Tampered("malformed reply") from None
    cls = getattr(builtins, str(name), None)
    # The program's exceptions are rebuilt as the builtin class they name, but never one that
    # steers the tests' own control flow: a StopIteration raised by the program would end a
    # map()/filter() inside all()/any() early (PEP 479 turns it into RuntimeError for the same
    # reason).
    if not (isinstance(cls, type) and issubclass(cls, Exception)) or issubclass(cls, _CONTROL_FLOW):
        cls = RuntimeError
    try:
        exc = cls(str(text))
    except Exception:  # noqa: BLE001 - e.g. UnicodeDecodeError wants 5 args
        exc = RuntimeError(f"{name}: {text}")
    exc._rs_remote = True
    raise exc


def _arg(x):
    if isinstance(x, Remote):
        return {"ref": object.__getattribute__(x, "_ref")}
    try:
        return {"v": codec.encode(x)}
    except codec.Unencodable:
        raise TypeError(f"cannot pass a {type(x).__name__} to the program (plain data only)") from None


class Remote:
    __slots__ = ("_ref", "_type")

    def __init__(self, ref, typ):
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_type", typ)

    def __call__(self, *args, **kwargs):
        return rpc({"op": "call", "ref": self._ref, "args": [_arg(a) for a in args],
                    "kwargs": {str(k): _arg(v) for k, v in kwargs.items()}}, sent=(args, kwargs))

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return rpc({"op": "getattr", "ref": self._ref, "name": name})

    def __getitem__(self, key):
        return rpc({"op": "getitem", "ref": self._ref, "key": _arg(key)["v"]})

    def __iter__(self):
        return iter(rpc({"op": "list", "ref": self._ref}))

    def __len__(self):
        return rpc({"op": "len", "ref": self._ref})

    def __bool__(self):
        return rpc({"op": "bool", "ref": self._ref})

    def __str__(self):
        return rpc({"op": "str", "ref": self._ref})

    def __repr__(self):
        return f"<program {self._type}>"


def report(obj):
    sys.stdout.write("\n" + MARKER + json.dumps(obj) + "\n")
    sys.stdout.flush()


def classify(exc):
    if isinstance(exc, AssertionError) and not getattr(exc, "_rs_remote", False):
        return "wrong_answer"
    return "runtime_error"


def _bind_names(names):
    """The tests' namespace: a proxy for each name the program says it defines. The names come
    from the program, so only plain identifiers count: never a dunder (``__builtins__`` would
    hand the tests' builtins to the program), a keyword or a builtin; a module is this
    process's own stdlib module of that name, or nothing."""
    import keyword

    if not isinstance(names, dict):
        raise Tampered("the program's name list is not an object")
    ns = {}
    for name, kind in names.items():
        if (not isinstance(name, str) or not name.isidentifier() or name.startswith("__")
                or keyword.iskeyword(name) or hasattr(builtins, name)):
            continue
        if isinstance(kind, str) and kind.startswith("module:"):
            module = kind[7:]
            parts = module.split(".")
            # a stdlib module the tests may use as the program did (math, collections.abc), never
            # one whose import does work (venv.__main__ builds a venv, unittest runs tests.py)
            if (parts[0] in sys.stdlib_module_names and parts[0] not in _IMPORT_DENY
                    and "__main__" not in parts and all(p.isidentifier() for p in parts)):
                try:
                    ns[name] = __import__(module, fromlist=["_"])
                except Exception:  # noqa: BLE001 - not importable here
                    pass
            continue
        try:
            ns[name] = rpc({"op": "get", "name": name})
        except (ChannelLost, Tampered):
            raise
        except Exception:  # noqa: BLE001
            pass
    # `from solution import f` / `import solution` (suites written against a solution.py file)
    # get the same proxies: before round 3 an honest program failed such a suite
    solution = type(sys)("solution")
    solution.__dict__.update(ns)
    sys.modules["solution"] = solution
    ns["__name__"] = "__main__"  # a script's `if __name__ == "__main__":` block runs
    ns["__builtins__"] = builtins  # this process's own, whatever the program sent
    return ns


def _outcome_recorder(unittest):
    """A unittest result that keeps one of TEST_OUTCOMES per test (and per failed subtest), in
    order; a skipped test is ``not_run``, so a suite never passes on what it did not run."""

    class OutcomeRecorder(unittest.TestResult):
        def __init__(self):
            super().__init__()
            self.outcomes = []

        def addSuccess(self, test):
            self.outcomes.append(_broken[0] or "passed")

        def addFailure(self, test, err):
            self.outcomes.append(_broken[0] or classify(err[1]))

        def addError(self, test, err):
            self.outcomes.append(_broken[0] or classify(err[1]))

        def addSkip(self, test, reason):
            self.outcomes.append("not_run")

        def addExpectedFailure(self, test, err):
            self.outcomes.append(_broken[0] or "passed")

        def addUnexpectedSuccess(self, test):
            self.outcomes.append("wrong_answer")

        def addSubTest(self, test, subtest, err):
            if err is not None:
                self.outcomes.append(_broken[0] or classify(err[1]))

    return OutcomeRecorder()


def _run_unit(fn):
    """Run one unit: its outcome, and whether the module must stop here (lost, tampered, exit)."""
    try:
        fn()
        return _broken[0] or "passed", _broken[0]
    except ChannelLost:
        return "lost", "lost"
    except Tampered:
        return "tampered", "tampered"
    except SystemExit as exc:  # the tests ended the module: later tests never ran
        ok = exc.code in (None, 0)
        return ("passed" if ok else "wrong_answer"), "not_run"
    except Exception as exc:  # noqa: BLE001 - the test's verdict
        return _broken[0] or classify(exc), _broken[0]


def _run_pytest_method(cls, name):
    """One method of a pytest-style test class, as pytest runs it: a fresh instance, with the
    class's ``setup_method`` / ``teardown_method`` around it."""
    inst = cls()
    method = getattr(inst, name)
    if hasattr(inst, "setup_method"):
        inst.setup_method(method)
    try:
        method()
    finally:
        if hasattr(inst, "teardown_method"):
            inst.teardown_method(method)


def main():
    try:
        with open("tests.py", encoding="utf-8", errors="surrogatepass") as fh:
            source = fh.read()
        tree = ast.parse(source, "tests.py")
        the_plan = plan.plan(source, CONFIG.get("entry_point"))
    except (OSError, SyntaxError, ValueError) as exc:
        report({"ev": "harness_error", "reason": f"tests.py: {type(exc).__name__}: {exc}"[:500]})
        return
    unittest = None
    if the_plan["testcase"] or "unittest" in source:
        import unittest

        unittest.main = lambda *a, **k: None  # the harness runs the cases itself, after the module
    try:
        first = _read()
    except (ChannelLost, Tampered) as exc:
        report({"ev": "lost" if isinstance(exc, ChannelLost) else "tampered", "reason": str(exc)})
        return
    ev = first.get("ev") if isinstance(first, dict) else None
    if ev != "ready":
        report({"ev": ev if ev in ("compile_error", "exited", "load_error") else "tampered",
                "reason": str(first)[:500]})
        return
    try:
        ns = _bind_names(first.get("names", {}))
    except ChannelLost as exc:
        report({"ev": "lost", "reason": str(exc)})
        return
    except Tampered as exc:
        report({"ev": "tampered", "reason": str(exc)})
        return
    # The tests run as the real __main__ module, as `python tests.py` would: doctest.testmod()
    # and friends read sys.modules["__main__"], which was this harness (no examples: 0 failed;
    # red-team round 3 found a wrong solution passing `assert doctest.testmod().failed == 0`)
    main_module = type(sys)("__main__")
    main_module.__dict__.update(ns)
    ns = main_module.__dict__
    sys.modules["__main__"] = main_module

    results, stop = [], None
    for is_test, index in the_plan["statements"]:
        if stop is not None:
            if is_test:
                results.append(stop)
            continue
        code = compile(ast.Module(body=[tree.body[index]], type_ignores=[]), "tests.py", "exec")
        outcome, stop = _run_unit(lambda: exec(code, ns))
        if is_test or outcome != "passed":  # a setup statement that raised is a failed test too
            results.append(outcome)
    extra = []
    if the_plan["check"]:
        call = compile(f"check({CONFIG['entry_point']})", "tests.py", "exec")
        extra.append(lambda: exec(call, ns))
    for name in the_plan["pytest"]:
        extra.append(lambda name=name: ns[name]())
    for cname, methods in the_plan["pytest_classes"]:
        for m in methods:
            extra.append(lambda cname=cname, m=m: _run_pytest_method(ns[cname], m))
    for fn in extra:
        if stop is not None:
            results.append(stop)
            continue
        outcome, stop = _run_unit(fn)
        results.append(outcome)
    names = list(the_plan["testcase"])
    if unittest is not None:  # a TestCase class the plan could not see (made in a block, by type())
        names += [k for k, v in list(ns.items()) if k not in names and isinstance(v, type)
                  and issubclass(v, unittest.TestCase) and v.__module__ == "__main__"]
    for name in names:
        cls = ns.get(name)
        if stop is not None or unittest is None or not (isinstance(cls, type) and issubclass(cls, unittest.TestCase)):
            results.append(stop or "runtime_error")
            continue
        result = _outcome_recorder(unittest)
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(cls)
        outcome, stop = _run_unit(lambda: suite.run(result))
        results.extend(result.outcomes)
        if outcome != "passed" or not result.outcomes:  # the suite itself broke, or ran no test
            results.append(outcome if outcome != "passed" else "not_run")
    report({"ev": "done", "results": results})

try:
    main()
except BaseException as exc:  # noqa: BLE001 - whatever broke here came in on the program's channel
    report({"ev": "tampered", "reason": f"the harness failed on the program's data: {type(exc).__name__}"})
