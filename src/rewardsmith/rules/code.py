"""Code rules: extract a program from a completion, run it against tests in the sandbox, grade.

Presets (registered on import): ``code`` (+1 when every test passes, -1 otherwise; the seed's
rule) and ``code-partial`` (reward = fraction of tests passed). Labels: ``passed``,
``wrong_answer``, ``runtime_error``, ``timeout``, ``compile_error``, ``no_code``,
``harness_tampered`` (plus ``error`` when the harness itself failed: unscored).

The program is the last fenced block of the requested language (``python``, ``py``,
``python3``; else the last untagged block), else the ``<answer>`` content. Each row's ``tests``
field (JSON text or an object) is one of::

    [{"input": "1 2\\n", "output": "3\\n"}, ...]            # stdin/stdout cases
    {"test_cases": [{"input": ..., "output": ...}], "normalize": "tokens"}   # open-r1 style
    {"inputs": ["1 2\\n"], "outputs": ["3\\n"]}              # APPS stdin/stdout
    {"fn_name": "add", "inputs": [[1, 2]], "outputs": [3]}  # APPS call-based
    {"asserts": "assert add(1, 2) == 3\\n..."}              # assert-style (or a list of lines)
    {"test_list": ["assert add(1, 2) == 3"], "test_setup_code": ""}   # MBPP
    {"test": "def check(candidate): ...", "entry_point": "add"}   # HumanEval
    "assert add(1, 2) == 3"                                 # plain text: assert-style

stdin/stdout: every case runs in a fresh sandbox; the program's stdout is compared line by line
with the expected output after the declared ``normalize`` (``lines``: trailing spaces and
trailing blank lines dropped, the default; ``exact``; ``tokens``: whitespace-split tokens per line;
``float``: tokens, numbers equal within 1e-6 relative/absolute); a missing or extra line fails.
Assert-style: ``sandbox.testing.run_tests`` (program and tests in two sandboxes; the verdict comes
from the tests' side only). The test module runs whole, as written; what counts as a test is
``sandbox._testplan`` (asserts in loops and helpers, ``__main__`` blocks, ``def test_*()``,
``unittest.TestCase``); a module that did not run to its end never passes, and one whose tests
cannot run is an ``error``. Score = passed / total.
"""

from __future__ import annotations

import json
import math
import re
import time
from decimal import Decimal, DecimalException, InvalidOperation
from typing import Any, Mapping

from rewardsmith.rules.checks import AnswerCheck, CheckResult, register_check
from rewardsmith.rules.presets import register_preset
from rewardsmith.rules.ruleset import RuleSet

__all__ = ["CodeCheck", "CodeRuleSet", "code_rules", "extract_code", "parse_tests", "compare_output", "CODE_LABELS",
           "NORMALIZE_MODES"]

CODE_LABELS = ("passed", "wrong_answer", "runtime_error", "timeout", "compile_error", "no_code",
               "harness_tampered")
NORMALIZE_MODES = ("lines", "exact", "tokens", "float")
_LANG_ALIASES = {"python": ("python", "py", "python3", "py3")}
_LANG = re.compile(r"[\w+#.-]*")  # anchored at one position per opening fence: linear
# worst first: the label of a failed completion is its worst test outcome
_SEVERITY = ("harness_tampered", "compile_error", "timeout", "runtime_error", "wrong_answer")


def _fence(line: str) -> tuple[str, int, str] | None:
    """``(char, length, rest)`` when ``line`` starts (after spaces/tabs) a run of >= 3 backticks
    or tildes, else None."""
    body = line.lstrip(" \t")
    if not body or body[0] not in "`~":
        return None
    n = len(body) - len(body.lstrip(body[0]))
    return (body[0], n, body[n:]) if n >= 3 else None


def _fenced_blocks(text: str) -> list[tuple[str, str]]:
    """``(language, code)`` of each complete fenced block, in order (CommonMark's rules: a block
    closes at a line holding only a fence of its character at least as long; an unclosed block
    runs to the end and is dropped as truncated). One pass over the lines: linear time (the
    backreference regex this replaces took 10 s on 60 KB of repeated fences)."""
    blocks = []
    opened = None  # (char, length, language, first line index)
    lines = text.split("\n")
    for i, line in enumerate(lines):
        f = _fence(line)
        if opened is None:
            if f is not None:
                lang = _LANG.match(f[2].lstrip(" \t")).group(0)
                opened = (f[0], f[1], lang, i + 1)
        elif f is not None and f[0] == opened[0] and f[1] >= opened[1] and not f[2].strip(" \t\r"):
            body = lines[opened[3]:i]
            blocks.append((opened[2], "\n".join(body) + "\n" if body else ""))
            opened = None
    return blocks


def _answer_content(text: str) -> str | None:
    """The content of the last complete ``<answer>...</answer>`` (two ``str.rfind``: linear)."""
    end = text.rfind("</answer>")
    if end == -1:
        return None
    start = text.rfind("<answer>", 0, end)
    return None if start == -1 else text[start + len("<answer>"):end]


def extract_code(text: str, language: str = "python") -> str | None:
    """The last fenced block tagged ``language`` (or an alias); else the last untagged block;
    else the ``<answer>`` content (its own fences stripped). None when there is no code.
    Linear in ``len(text)`` (tested on 1 MB of repeated fences and open tags)."""
    aliases = _LANG_ALIASES.get(language.lower(), (language.lower(),))
    tagged, untagged = [], []
    for lang, code in _fenced_blocks(text):
        lang = lang.lower()
        (tagged if lang in aliases else untagged if not lang else []).append(code)
    if tagged:
        return tagged[-1]
    if untagged:
        return untagged[-1]
    inner = _answer_content(text)
    if inner is not None:
        blocks = _fenced_blocks(inner)
        code = blocks[-1][1] if blocks else inner
        return code if code.strip() else None
    return None


def parse_tests(tests: Any, entry_point: str | None = None) -> dict[str, Any]:
    """Normalize a ``tests`` field to ``{"kind": "io", "cases": [(in, out)], "normalize": m}`` or
    ``{"kind": "asserts", "source": str, "entry_point": str | None, "n": int}``."""
    if isinstance(tests, (bytes, bytearray)):
        tests = tests.decode("utf-8", errors="replace")
    if isinstance(tests, str):
        try:
            tests = json.loads(tests)
        except ValueError:
            return _asserts(tests, entry_point)
        if isinstance(tests, str):
            return _asserts(tests, entry_point)
    normalize = "lines"
    if isinstance(tests, Mapping):
        normalize = tests.get("normalize", normalize)
        entry_point = tests.get("entry_point", entry_point)
        if "test_cases" in tests:
            tests = tests["test_cases"]
        elif "fn_name" in tests:
            return _call_based(tests)
        elif "inputs" in tests and "outputs" in tests:
            ins, outs = tests["inputs"], tests["outputs"]
            if not (isinstance(ins, list) and isinstance(outs, list) and len(ins) == len(outs)):
                raise ValueError("tests: 'inputs' and 'outputs' must be lists of equal length")
            tests = [{"input": i, "output": o} for i, o in zip(ins, outs)]
        elif "asserts" in tests:
            src = tests["asserts"]
            return _asserts("\n".join(src) if isinstance(src, list) else src, entry_point)
        elif "test_list" in tests:  # MBPP
            setup = [tests.get("test_setup_code") or "", *(tests.get("test_imports") or [])]
            lines = tests["test_list"] if isinstance(tests["test_list"], list) else [tests["test_list"]]
            return _asserts("\n".join([*[x for x in setup if x], *lines]), entry_point)
        elif "test" in tests:
            return _asserts(tests["test"], entry_point)
        else:
            raise ValueError(
                "tests: expected keys test_cases, inputs/outputs, fn_name, asserts, test_list or test; "
                f"got {sorted(tests)}"
            )
    if normalize not in NORMALIZE_MODES:
        raise ValueError(f"tests.normalize: {normalize!r}; expected one of {NORMALIZE_MODES}")
    if not isinstance(tests, list) or not tests:
        raise ValueError(f"tests: expected a non-empty list of {{input, output}} cases, got {type(tests).__name__}")
    cases = []
    for i, c in enumerate(tests):
        if not isinstance(c, Mapping) or "input" not in c or "output" not in c:
            raise ValueError(f"tests[{i}]: expected an object with 'input' and 'output'")
        inp, out = c["input"], c["output"]
        inp = "\n".join(inp) if isinstance(inp, list) else inp
        out = "\n".join(out) if isinstance(out, list) else out
        if not isinstance(inp, str) or not isinstance(out, str):
            raise ValueError(f"tests[{i}]: 'input' and 'output' must be strings")
        cases.append((inp, out))
    return {"kind": "io", "cases": cases, "normalize": normalize}


def _asserts(source: Any, entry_point: str | None) -> dict[str, Any]:
    """An assert-style suite: the whole module runs; ``n`` is its tests (``sandbox._testplan``)."""
    from rewardsmith.sandbox._testplan import TestPlanError, plan

    if not isinstance(source, str) or not source.strip():
        raise ValueError("tests: expected assert-style test source (a non-empty string)")
    # Python cannot compile a lone surrogate; in a string literal its escape is the same value
    source = source.encode("utf-8", "backslashreplace").decode("utf-8")
    try:
        n = plan(source, entry_point)["n"]
    except SyntaxError as exc:
        raise ValueError(f"tests: the test source does not parse: {exc}") from None
    except TestPlanError as exc:
        raise ValueError(str(exc)) from None
    return {"kind": "asserts", "source": source, "entry_point": entry_point, "n": n}


def _call_based(tests: Mapping[str, Any]) -> dict[str, Any]:
    fn, ins, outs = tests["fn_name"], tests.get("inputs"), tests.get("outputs")
    if not (isinstance(fn, str) and fn.isidentifier()):
        raise ValueError(f"tests.fn_name: expected a Python identifier, got {fn!r}")
    if not (isinstance(ins, list) and isinstance(outs, list) and len(ins) == len(outs) and ins):
        raise ValueError("tests: call-based 'inputs' and 'outputs' must be non-empty lists of equal length")
    # APPS compares a tuple as a list and accepts an expected value wrapped in a one-item list.
    lines = ["def _rs_apps_eq(got, exp):",
             "    got = list(got) if isinstance(got, tuple) else got",
             "    return got == exp or (isinstance(exp, list) and len(exp) == 1 and got == exp[0])"]
    for args, out in zip(ins, outs):
        args = args if isinstance(args, list) else [args]
        lines.append(f"assert _rs_apps_eq({fn}(*{args!r}), {out!r})")
    return {"kind": "asserts", "source": "\n".join(lines) + "\n", "entry_point": None, "n": len(ins)}


def _norm_lines(text: str, mode: str) -> list:
    text = text.replace("\r\n", "\n")
    if mode == "exact":
        return text.split("\n")
    lines = [ln.rstrip() for ln in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    if mode in ("tokens", "float"):
        return [ln.split() for ln in lines]
    return lines


_CHECK_MARGIN_S = 1.5  # a sandbox's start and teardown, under load, beyond its own timeout
_MIN_CASE_S = 0.2  # no case starts with less time than this
_INT_TOKEN = re.compile(r"[+-]?[0-9]+")


def _float_eq(a: str, b: str) -> bool:
    """Token ``a`` (the program's) equals ``b`` (expected) as a number: within 1e-6 relative or
    absolute, and when ``b`` is an integer, ``a``'s nearest integer must be exactly ``b`` (so
    ``1000000.0`` or ``1e6`` is not ``1000001``, while ``2.9999999`` is ``3``). Integers are read
    as ``Decimal``: exact at any length (``int()`` raised on a 5,000-digit token, an unscored row)."""
    if a == b:
        return True
    if _INT_TOKEN.fullmatch(b):
        try:
            got, want = Decimal(a), Decimal(b)
            if not got.is_finite():
                return False
            tol = max(Decimal("1e-6"), Decimal("1e-6") * abs(want))
            return got.to_integral_value() == want and abs(got - want) <= tol
        except (InvalidOperation, DecimalException, ValueError):
            return False
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-6)


def compare_output(got: str, expected: str, normalize: str = "lines") -> bool:
    """Whether every line of ``got`` equals the matching line of ``expected`` after
    ``normalize`` (one of NORMALIZE_MODES); missing or extra lines make it False."""
    if normalize not in NORMALIZE_MODES:
        raise ValueError(f"normalize: {normalize!r}; expected one of {NORMALIZE_MODES}")
    a, b = _norm_lines(got, normalize), _norm_lines(expected, normalize)
    if len(a) != len(b):
        return False
    if normalize != "float":
        return a == b
    return all(len(x) == len(y) and all(_float_eq(s, t) for s, t in zip(x, y)) for x, y in zip(a, b))


def _io_outcome(res, expected: str, normalize: str) -> str:
    if res.compile_error:
        return "compile_error"
    if res.status == "timeout":
        return "timeout"
    if res.status == "ok":
        return "passed" if compare_output(res.stdout, expected, normalize) else "wrong_answer"
    if res.status == "output_limit":
        return "wrong_answer"
    return "runtime_error"  # error, memory, killed


class CodeCheck(AnswerCheck):
    """``answer.compare: code``: grade the completion's program against the row's ``tests``.

    ``answer.options``: ``language`` (python), ``timeout`` (seconds per test run, 5),
    ``memory_mb`` (512), ``stop_on_failure`` (stop at the first failing stdin/stdout case; the
    rest count as failed), ``normalize`` (default for stdin/stdout cases: lines).
    """

    needs_answer = False

    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        opts = dict(getattr(spec, "options", {}) or {})
        self.language = str(opts.get("language", "python"))
        self.timeout = float(opts.get("timeout", 5.0))
        self.memory_mb = int(opts.get("memory_mb", 512))
        self.stop_on_failure = bool(opts.get("stop_on_failure", False))
        self.normalize = opts.get("normalize")
        if self.language != "python":
            raise ValueError(f"answer.options.language: {self.language!r}; only 'python' runs in the sandbox")
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            raise ValueError(f"answer.options.timeout: {self.timeout!r}; expected a positive number of seconds")
        if self.normalize is not None and self.normalize not in NORMALIZE_MODES:
            raise ValueError(f"answer.options.normalize: {self.normalize!r}; expected one of {NORMALIZE_MODES}")

    def __call__(self, pred, gold, *, text, fields, timeout) -> CheckResult:
        if "tests" not in fields or fields["tests"] is None:
            return CheckResult(None, "error", "row has no 'tests' field", path="code")
        try:
            tests = parse_tests(fields["tests"], fields.get("entry_point"))
        except ValueError as exc:
            return CheckResult(None, "error", str(exc), path="code")
        code = extract_code(text, self.language)
        if code is None or not code.strip():
            return CheckResult(False, "no_code", "no code block or <answer> found", score=0.0, path="extract")
        # The whole check ends within the verifier's timeout (the engine's hard limit is never
        # less): a slow program's remaining cases count as timeouts, a scored failure. Before
        # red-team round 3, 8 cases of `time.sleep` under code-partial ran past it and the row
        # went unscored (NaN).
        deadline = time.monotonic() + timeout if isinstance(timeout, (int, float)) and 0 < timeout < math.inf else None
        if tests["kind"] == "io":
            return self._io(code, tests, deadline)
        return self._asserts(code, tests, deadline)

    def _io(self, code: str, tests: dict, deadline: float | None = None) -> CheckResult:
        from rewardsmith import sandbox

        normalize = self.normalize if tests["normalize"] == "lines" and self.normalize else tests["normalize"]
        outcomes: list[str] = []
        containment = None
        for inp, out in tests["cases"]:
            limit = self.timeout
            if deadline is not None:
                limit = min(limit, deadline - time.monotonic() - _CHECK_MARGIN_S)
                if limit < _MIN_CASE_S:
                    break
            res = sandbox.run(code, stdin=inp, timeout=limit, memory_mb=self.memory_mb,
                              max_output=max(1_000_000, 2 * len(out.encode()) + 4096))
            containment = res.containment.get("mode")
            outcomes.append(_io_outcome(res, out, normalize))
            if outcomes[-1] == "compile_error" or (self.stop_on_failure and outcomes[-1] != "passed"):
                break
        rest = len(tests["cases"]) - len(outcomes)
        stopped = outcomes and (outcomes[-1] == "compile_error" or (self.stop_on_failure and outcomes[-1] != "passed"))
        outcomes += ["not_run" if stopped else "timeout"] * rest  # out of time: the program's doing
        return _verdict(outcomes, path="stdin_stdout", details={"sandbox": containment})

    def _asserts(self, code: str, tests: dict, deadline: float | None = None) -> CheckResult:
        from rewardsmith.sandbox.testing import run_tests

        budget = min(self.timeout * max(tests["n"], 1), self.timeout + 30.0)
        if deadline is not None:  # the tests' sandbox gets 2 s more than the program's
            budget = max(min(budget, deadline - time.monotonic() - _CHECK_MARGIN_S - 2.0), _MIN_CASE_S)
        tr = run_tests(code, tests["source"], entry_point=tests["entry_point"], timeout=budget,
                       memory_mb=self.memory_mb)
        details = {"sandbox": tr.program.containment.get("mode"), "event": tr.event}
        n = tests["n"]
        if tr.event == "harness_error":
            return CheckResult(None, "error", tr.reason, path="asserts", details=details)
        if tr.event == "compile_error":
            return _verdict(["compile_error"] * n, "asserts", details, tr.reason)
        if tr.event == "load_error":
            return _verdict(["runtime_error"] * n, "asserts", details, tr.reason)
        if tr.event == "exited":  # sys.exit while loading: nothing for the tests to call
            return _verdict(["harness_tampered"] * n, "asserts", details, "the program exited before the tests")
        lost = _lost_label(tr.program)
        if tr.event in ("lost", "tampered", "timeout"):
            label = {"tampered": "harness_tampered", "timeout": "timeout"}.get(tr.event, lost)
            return _verdict([label] * n, "asserts", details, tr.reason)
        outcomes = [lost if r == "lost" else "harness_tampered" if r == "tampered" else r for r in tr.results]
        outcomes += ["not_run"] * (n - len(outcomes))
        return _verdict(outcomes, "asserts", details)


def _lost_label(prog) -> str:
    """Why the program's channel closed: its sandbox status says."""
    if prog.status == "timeout":
        return "timeout"
    if prog.status in ("error", "memory", "killed", "output_limit"):
        return "runtime_error"
    return "harness_tampered"  # it exited cleanly in the middle of the tests (os._exit, closed fds)


def _verdict(outcomes: list[str], path: str, details: dict, reason: str = "") -> CheckResult:
    n = len(outcomes)
    passed = sum(o == "passed" for o in outcomes)
    details = {**details, "tests": n, "passed": passed, "outcomes": outcomes[:100]}
    if n and passed == n:
        return CheckResult(True, "passed", f"{passed}/{n} tests passed", score=1.0, path=path, details=details)
    failed = [o for o in outcomes if o != "passed"]
    label = next((s for s in _SEVERITY if s in failed), "wrong_answer")
    why = reason or f"{passed}/{n} tests passed; first failure: {failed[0]}"
    return CheckResult(False, label, why, score=passed / n if n else 0.0, path=path, details=details)


class CodeRuleSet(RuleSet):
    """A RuleSet whose failing tier takes the code verdict's label (wrong_answer, timeout, ...)."""

    _FAIL = "failed"

    @property
    def labels(self) -> tuple[str, ...]:
        return CODE_LABELS + ("error",)

    def evaluate(self, text, gold, fields, timeout):
        reward, label, details, comps = super().evaluate(text, gold, fields, timeout)
        verdict = details.get("verdict") or {}
        if label == self._FAIL and verdict.get("label") in CODE_LABELS:
            label = verdict["label"]
            details["label"] = label
        return reward, label, details, comps


def code_rules(partial: bool = False, **options: Any) -> CodeRuleSet:
    """The ``code`` (or, ``partial=True``, ``code-partial``) rule set with ``answer.options``
    overridden (``timeout``, ``memory_mb``, ``stop_on_failure``, ``normalize``)."""
    spec = _code_spec(partial)
    unknown = sorted(set(options) - {"language", "timeout", "memory_mb", "stop_on_failure", "normalize"})
    if unknown:
        raise ValueError(f"options: unknown {unknown}; expected language, timeout, memory_mb, stop_on_failure, normalize")
    spec["answer"]["options"].update(options)
    return CodeRuleSet(spec)


def _code_spec(partial: bool) -> dict[str, Any]:
    fail = {"when": {}, "reward": 1.0 if partial else -1.0, "label": CodeRuleSet._FAIL}
    if partial:
        fail["scale_by"] = "correct"
    return {
        "name": "code-partial" if partial else "code",
        "description": ("fraction of tests passed" if partial else "+1 when every test passes, -1 otherwise")
        + " (program from the last fenced block or <answer>, run in the sandbox)",
        "format": {"kind": "none"},
        "answer": {"extract": "none", "compare": "code", "timeout": 60.0,
                   "options": {"language": "python", "timeout": 5.0, "memory_mb": 512,
                               "stop_on_failure": not partial}},
        "tiers": [{"when": {"correct": True}, "reward": 1.0, "label": "passed"}, fail],
        "policy": {"on_timeout": "nan", "on_error": "nan"},
        "sample_timeout": 300.0,
    }


register_check("code", CodeCheck)
register_preset("code", lambda: code_rules(partial=False))
register_preset("code-partial", lambda: code_rules(partial=True))
