"""Code rules: extraction, output comparison, test formats, grading and harness tampering."""

from __future__ import annotations

import json
import os
import math

import pytest

from rewardsmith.rules import load_rules
from rewardsmith.rules.code import code_rules, compare_output, extract_code, parse_tests

IO_SUM = json.dumps([{"input": "1 2\n", "output": "3\n"}, {"input": "5 7\n", "output": "12\n"},
                     {"input": "-4 4\n", "output": "0\n"}])
SUM_OK = "a, b = map(int, input().split())\nprint(a + b)\n"
ADD_TESTS = {"asserts": ["assert add(1, 2) == 3", "assert add(-1, 1) == 0", "assert add(10, 5) == 15"]}


def fenced(code: str, lang: str = "python") -> str:
    return f"Let me solve it.\n```{lang}\n{code}```\nDone."


@pytest.fixture(scope="module")
def fast():
    return code_rules(timeout=1.5)


@pytest.fixture(scope="module")
def fast_partial():
    return code_rules(partial=True, timeout=1.5)


# ---------------------------------------------------------------- extraction and comparison
def test_extract_last_block_of_the_language():
    text = "```python\nx = 1\n```\ntext\n```js\nlet y\n```\n```py\nprint(2)\n```\n"
    assert extract_code(text) == "print(2)\n"
    assert extract_code("```\nprint(3)\n```") == "print(3)\n"
    assert extract_code("<think>hm</think><answer>print(4)</answer>") == "print(4)"
    assert extract_code("<answer>```python\nprint(5)\n```</answer>").strip() == "print(5)"
    assert extract_code("no code at all") is None
    assert extract_code("```python\nunterminated") is None


@pytest.mark.parametrize("got, expected, mode, equal", [
    ("3\n", "3", "lines", True),
    ("3  \n\n\n", "3\n", "lines", True),
    ("3\n4\n", "3\n", "lines", False),  # extra line
    ("3\n", "3\n4\n", "lines", False),  # missing line
    ("3\n", "3", "exact", False),
    ("1   2\n", "1 2\n", "tokens", True),
    ("1 2\n", "1\n2\n", "tokens", False),
    ("0.3333333\n", "0.333333333\n", "float", True),
    ("0.34\n", "0.33\n", "float", False),
    ("abc 1.0\n", "abc 1\n", "float", True),
])
def test_compare_output(got, expected, mode, equal):
    assert compare_output(got, expected, mode) is equal


def test_parse_tests_formats_and_errors():
    assert parse_tests(IO_SUM)["kind"] == "io"
    assert len(parse_tests({"inputs": ["1\n"], "outputs": ["1\n"]})["cases"]) == 1
    t = parse_tests({"test_cases": [{"input": "x", "output": "y"}], "normalize": "tokens"})
    assert t["normalize"] == "tokens"
    call = parse_tests({"fn_name": "add", "inputs": [[1, 2], [3, 4]], "outputs": [3, 7]})
    assert call["kind"] == "asserts" and call["n"] == 2 and "add(*[1, 2]), 3)" in call["source"]
    mbpp = parse_tests({"test_list": ["assert f(1) == 2", "assert f(2) == 3"], "test_setup_code": "import math"})
    assert mbpp["n"] == 2 and mbpp["source"].startswith("import math")
    assert parse_tests("assert f(1) == 2\nassert f(2) == 3")["n"] == 2
    he = parse_tests({"test": "def check(candidate):\n    assert candidate(1) == 2\n", "entry_point": "f"})
    assert he["n"] == 1 and he["entry_point"] == "f"
    with pytest.raises(ValueError, match="normalize"):
        parse_tests({"test_cases": [{"input": "", "output": ""}], "normalize": "fuzzy"})
    with pytest.raises(ValueError, match="no test to run"):
        parse_tests("x = 1")
    with pytest.raises(ValueError, match="expected keys"):
        parse_tests({"cases": []})
    with pytest.raises(ValueError, match="tests\\[0\\]"):
        parse_tests([{"input": "1"}])


def test_options_are_validated():
    with pytest.raises(ValueError, match="unknown"):
        code_rules(speed=3)
    with pytest.raises(ValueError, match="language"):
        code_rules(language="rust")


# ---------------------------------------------------------------- stdin/stdout grading
def test_presets_reward_and_labels():
    code, partial = load_rules("code"), load_rules("code-partial")
    assert code.labels[:7] == ("passed", "wrong_answer", "runtime_error", "timeout", "compile_error",
                               "no_code", "harness_tampered")
    out = code.score(fenced(SUM_OK), tests=IO_SUM)
    assert (out.reward, out.label) == (1.0, "passed")
    assert out.details["verdict"]["details"]["passed"] == 3
    assert partial.score(fenced(SUM_OK), tests=IO_SUM).reward == 1.0


@pytest.mark.parametrize("program, label", [
    ("a, b = map(int, input().split())\nprint(a * b)\n", "wrong_answer"),
    ("print(3)\n", "wrong_answer"),
    ("import sys\nsys.exit(0)\n", "wrong_answer"),  # exits 0 early: no output is no answer
    ("raise ValueError('boom')\n", "runtime_error"),
    ("def f(:\n", "compile_error"),
    ("while True:\n    pass\n", "timeout"),
    ("x = bytearray(10**10)\n", "runtime_error"),
    ("a, b = map(int, input().split())\nprint(a + b)\nprint('extra')\n", "wrong_answer"),
])
def test_io_failures_get_their_label(fast, program, label):
    out = fast.score(fenced(program), tests=IO_SUM)
    assert out.label == label, out.details
    assert out.reward == -1.0


def test_partial_credit_is_the_fraction_passed(fast_partial):
    program = "a, b = map(int, input().split())\nprint(a + b if a > 0 else 99)\n"
    out = fast_partial.score(fenced(program), tests=IO_SUM)
    assert out.label == "wrong_answer"
    assert math.isclose(out.reward, 2 / 3)
    assert fast_partial.score("nothing", tests=IO_SUM).reward == 0.0


def test_no_code_and_missing_tests(fast):
    assert fast.score("I think the answer is 3.", tests=IO_SUM).label == "no_code"
    out = fast.score(fenced(SUM_OK))
    assert out.label == "error" and math.isnan(out.reward)  # the row is broken, not the policy


def test_tokens_normalization_declared_in_tests(fast):
    tests = {"test_cases": [{"input": "3\n", "output": "1 2 3\n"}], "normalize": "tokens"}
    program = "n = int(input())\nprint('   '.join(str(i + 1) for i in range(n)) + '  ')\n"
    assert fast.score(fenced(program), tests=tests).label == "passed"
    tests["normalize"] = "exact"
    assert fast.score(fenced(program), tests=tests).label == "wrong_answer"


# ---------------------------------------------------------------- assert-style grading
def test_assert_tests_pass_and_fail(fast, fast_partial):
    assert fast.score(fenced("def add(a, b):\n    return a + b\n"), tests=ADD_TESTS).label == "passed"
    out = fast_partial.score(fenced("def add(a, b):\n    return 3 if a == 1 else a - b\n"), tests=ADD_TESTS)
    assert out.label == "wrong_answer" and math.isclose(out.reward, 1 / 3)
    out = fast.score(fenced("def add(a, b):\n    raise KeyError(a)\n"), tests=ADD_TESTS)
    assert out.label == "runtime_error"
    assert fast.score(fenced("def add(a, b) return 1\n"), tests=ADD_TESTS).label == "compile_error"
    assert fast.score(fenced("def add(a, b):\n    while True: pass\n"), tests=ADD_TESTS).label == "timeout"


def test_humaneval_and_call_based_and_classes(fast):
    he = {"test": "def check(candidate):\n    assert candidate([3, 1, 2]) == [1, 2, 3]\n"
                  "    assert candidate([]) == []\n", "entry_point": "sort_list"}
    assert fast.score(fenced("def sort_list(x):\n    return sorted(x)\n"), tests=he).label == "passed"
    assert fast.score(fenced("def sort_list(x):\n    return x\n"), tests=he).label == "wrong_answer"
    apps = {"fn_name": "fib", "inputs": [[1], [10], [20]], "outputs": [1, [55], 6765]}  # APPS wraps some
    fib = "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n"
    assert fast.score(fenced(fib), tests=apps).label == "passed"
    leet = {"asserts": "assert Solution().twoSum([2, 7, 11, 15], 9) == [0, 1]\n"
                       "assert sorted(Solution().twoSum([3, 2, 4], 6)) == [1, 2]\n"}
    two = ("class Solution:\n    def twoSum(self, nums, t):\n        seen = {}\n"
           "        for i, x in enumerate(nums):\n            if t - x in seen:\n"
           "                return [seen[t - x], i]\n            seen[x] = i\n")
    assert fast.score(fenced(two), tests=leet).label == "passed"
    pairs = {"fn_name": "divmod2", "inputs": [[7, 2]], "outputs": [[3, 1]]}  # a tuple equals APPS's list
    assert fast.score(fenced("def divmod2(a, b):\n    return a // b, a % b\n"), tests=pairs).label == "passed"
    mbpp = {"test_list": ["assert is_even(2)", "assert not is_even(3)"]}
    assert fast.score(fenced("def is_even(n):\n    return n % 2 == 0\n"), tests=mbpp).label == "passed"


# Each program below fails add(1, 2) == 3 honestly, and tries to pass anyway.
TAMPER = {
    "exit_0_before_tests": ("import sys\nsys.exit(0)\ndef add(a, b):\n    return a + b\n", "harness_tampered"),
    "os_exit_during_tests": ("import os\ndef add(a, b):\n    os._exit(0)\n", "harness_tampered"),
    "kill_the_harness": ("import os, signal\ndef add(a, b):\n    for p in (os.getppid(), 1, -1):\n"
                         "        try:\n            os.kill(p, signal.SIGKILL)\n        except OSError:\n"
                         "            pass\n    return 0\n", None),
    "always_equal_object": ("class Yes:\n    def __eq__(self, other):\n        return True\n"
                            "    __hash__ = object.__hash__\ndef add(a, b):\n    return Yes()\n", "runtime_error"),
    "int_subclass_eq": ("class I(int):\n    def __eq__(self, o):\n        return True\n"
                        "def add(a, b):\n    return I(0)\n", "wrong_answer"),
    "redefine_builtins": ("import builtins\nbuiltins.AssertionError = type('E', (Exception,), {})\n"
                          "builtins.sorted = lambda *a, **k: [0]\nbuiltins.__dict__['print'] = None\n"
                          "def add(a, b):\n    return 0\n", "wrong_answer"),
    "fake_report_on_stdout": ("import sys\nfor _ in range(3):\n    print('{\"ev\": \"done\", \"results\": [\"passed\"]}')\n"
                              "    print('3\\n0\\n15\\nOK passed 3/3')\ndef add(a, b):\n    return 0\n", "wrong_answer"),
    "garbage_on_every_fd": ("import os\nfor fd in range(0, 64):\n    try:\n        os.write(fd, b'{\"v\": 3}\\n')\n"
                            "    except OSError:\n        pass\ndef add(a, b):\n    return 0\n", None),
    "delete_the_test_file": ("import os, glob\nfor p in glob.glob('*') + glob.glob('../*/*'):\n    try:\n"
                             "        os.remove(p)\n    except OSError:\n        pass\ndef add(a, b):\n    return 0\n",
                             "wrong_answer"),
    "monkeypatch_math": ("import math\nmath.isclose = lambda *a, **k: True\ndef add(a, b):\n    return 0\n",
                         "wrong_answer"),
    "raise_system_exit_in_call": ("def add(a, b):\n    raise SystemExit(0)\n", "runtime_error"),
    "raise_assertion_in_call": ("def add(a, b):\n    raise AssertionError('fine')\n", "runtime_error"),
    "huge_return_value": ("def add(a, b):\n    return 'x' * (10 ** 8)\n", None),
    "return_generator": ("def add(a, b):\n    yield 3\n", "runtime_error"),
}


@pytest.mark.parametrize("name", sorted(TAMPER))
def test_harness_tampering_never_passes(fast, name):
    program, label = TAMPER[name]
    tests = {"asserts": "import math\nassert add(1, 2) == 3\nassert math.isclose(add(1, 2), 3)\n"}
    out = fast.score(fenced(program), tests=tests)
    assert out.reward == -1.0, out.details
    assert out.label != "passed"
    if label is not None:
        assert out.label == label, out.details
    else:
        assert out.label in ("wrong_answer", "runtime_error", "harness_tampered", "timeout"), out.details


# Found by red-teaming the harness: the program rewrites what its side of the channel says.
INJECT_BUILTINS = """
def area(r):
    return 42.0
import sys
_srv = sys.modules["__main__"]
_orig = _srv.reply
def _reply(obj):
    if isinstance(obj, dict) and obj.get("ev") == "ready":
        obj["names"]["__builtins__"] = "value"
        obj["names"]["import"] = "value"
        obj["names"]["tests"] = "module:tests"
    _orig(obj)
_srv.reply = _reply
class _Yes:
    def __call__(self, *a, **k): return True
    def __getattr__(self, name): return _Yes()
class _FakeBuiltins:
    def __getitem__(self, k):
        return (lambda *a, **kw: 0) if k in ("abs", "sorted", "len", "round") else _Yes()
globals()["__builtins__"] = _FakeBuiltins()
"""


@pytest.mark.parametrize("tests", [
    {"asserts": ["assert abs(area(2.0) - 12.566370614359172) < 1e-9"]},
    {"asserts": ["import math", "assert math.isclose(area(1.0), 3.14159, rel_tol=1e-3)"]},
    {"asserts": ["assert isinstance(area(1.0), int)", "assert sorted([area(1.0)]) == sorted([3.14])"]},
    {"test": "def check(candidate):\n    assert abs(candidate(1.0) - 3.14159) < 1e-3\n", "entry_point": "area"},
])
def test_program_cannot_hand_the_tests_its_builtins(fast, tests):
    out = fast.score(fenced(INJECT_BUILTINS), tests=tests)
    assert out.reward == -1.0 and out.label == "wrong_answer", out.details


@pytest.mark.parametrize("forged", [b'{"ev":"ready","names":5}\n', b"[" * 100000 + b"\n", b"\xff\xfe\xed\n",
                                    b'{"ev":"ready","names":{"add":"value"}}\n{"err": 7}\n'])
def test_forged_channel_lines_are_tampering_not_unscored(fast, forged):
    program = f"import os, sys\nos.write(int(sys.argv[2]), {forged!r})\ndef add(a, b):\n    return 0\n"
    out = fast.score(fenced(program), tests=ADD_TESTS)
    assert out.reward == -1.0 and out.label == "harness_tampered", (out.label, out.details)


def test_a_programs_stop_iteration_does_not_end_the_tests_loops(fast):
    tests = {"asserts": ["assert all(map(is_even, [2, 4, 6]))", "assert not any(map(is_even, [1, 3]))"]}
    out = fast.score(fenced("def is_even(n):\n    raise StopIteration\n"), tests=tests)
    assert out.reward == -1.0 and out.label == "runtime_error", out.details
    ok = fast.score(fenced("def is_even(n):\n    return n % 2 == 0\n"), tests=tests)
    assert ok.label == "passed", ok.details


def test_io_program_cannot_see_expected_output(fast):
    """The expected output never enters the program's sandbox: reading everything fails."""
    snoop = ("import os\nfor root, dirs, files in os.walk('/tmp'):\n    for f in files:\n"
             "        try:\n            print(open(os.path.join(root, f)).read())\n        except OSError:\n"
             "            pass\n")
    tests = [{"input": "", "output": "secret-expected-7731\n"}]
    out = fast.score(fenced(snoop), tests=tests)
    assert out.label == "wrong_answer"


def test_score_batch_in_worker_processes(fast):
    good, bad = fenced(SUM_OK), fenced("print(0)\n")
    batch = fast.score_batch([good, bad, good, "no code"], fields=[{"tests": IO_SUM}] * 4, workers=2)
    assert batch.labels == ["passed", "wrong_answer", "passed", "no_code"]
    assert batch.rewards.tolist() == [1.0, -1.0, 1.0, -1.0]


# Round 2 of red-teaming: each of these gave a wrong solution NaN (unscored) or unearned credit.
@pytest.mark.parametrize("program", [
    # a set whose ints share one hash: linear to encode, quadratic for the test side to decode
    "P = (1 << 61) - 1\nS = {P * k for k in range(1, 12001)}\ndef add(a, b):\n    return [S] * 20\n",
    # the program names a stdlib module whose import does work in the test sandbox
    "import types\nfake = types.ModuleType('venv.__main__')\ndef add(a, b):\n    return 0\n",
    "import types\nfake = types.ModuleType('unittest.__main__')\ndef add(a, b):\n    return 0\n",
])
def test_a_program_cannot_take_the_test_sandbox_down_into_an_unscored_row(fast, program):
    out = fast.score(fenced(program), tests={"asserts": ["assert add(1, 2) == 3"]})
    assert out.reward == -1.0 and out.label in ("timeout", "harness_tampered", "wrong_answer"), out.details


def test_a_deep_directory_tree_is_removed_and_scored(fast):
    import glob
    import tempfile

    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "rewardsmith-sandbox-*")))
    program = "import os\nfor i in range(1500):\n    os.mkdir('d'); os.chdir('d')\nprint(3)\n"
    out = fast.score(fenced(program), tests=[{"input": "1 2\n", "output": "4\n"}])
    assert out.reward == -1.0 and out.label == "wrong_answer", out.details
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "rewardsmith-sandbox-*"))) <= before


def test_a_program_defined_check_is_neither_run_nor_counted(fast, fast_partial):
    tests = {"asserts": ["assert add(1, 2) == 3", "assert add(2, 2) == 4"], "entry_point": "add"}
    wrong = "def add(a, b):\n    return 0\ndef check(c):\n    pass\n"
    assert fast_partial.score(fenced(wrong), tests=tests).reward == 0.0
    right = "def add(a, b):\n    return a + b\n"
    assert fast.score(fenced(right), tests=tests).label == "passed"  # no dummy check() needed


def test_float_normalization_compares_integers_exactly():
    assert not compare_output("1000001\n", "1000000\n", "float")
    assert compare_output("0.1000000001\n", "0.1\n", "float")


@pytest.mark.parametrize("got, expected, equal", [
    ("1000000.0", "1000001", False), ("1e6", "1000001", False), ("1000001.0", "1000001", True),  # R3-3
    ("2.9999999", "3", True), ("3.4", "3", False), ("1000000000000.000122", "1000000000000", True),
    ("1" * 5000, "7", False), ("1" * 5000, "1" * 4999 + "2", False), ("1" * 5000 + ".0", "1" * 5000, True),  # R3-4
    ("1e999999999", "5", False), ("nan", "5", False), ("inf", "5", False), ("-0", "0", True),
])
def test_float_tokens_against_an_integer_need_that_integer(got, expected, equal):
    # R3-3: a float-looking token ("1000000.0", "1e6") slipped past the integers-exactly rule and
    # was paid for 1000001; R3-4: int() raised on a 5,000-digit token, and the row went unscored
    assert compare_output(got + "\n", expected + "\n", "float") is equal


def test_a_huge_integer_output_is_a_wrong_answer_not_an_unscored_row(fast):
    tests = {"test_cases": [{"input": "", "output": "1000001\n"}], "normalize": "float"}
    for program in ("print('1' * 5000)\n", "print('1000000.0')\n"):
        out = fast.score(fenced(program), tests=tests)
        assert out.reward == -1.0 and out.label == "wrong_answer", (program, out.details)


# ---------------------------------------------------------------- issue 12: the whole test module runs
# Finding 1: the tester recorded only top-level asserts and check() calls; an assert in a loop, an
# if/with block or a helper was dropped, and `def f(x): return 2` scored +1. Each layout below has
# a wrong solution that must fail and a right one that must pass.
WRONG_F = "def f(x):\n    return 2\n"  # right only for f(1)
RIGHT_F = "def f(x):\n    return x + 1\n"
LAYOUTS = {
    "for_loop": "assert f(1) == 2\nfor i in range(5):\n    assert f(i) == i + 1\n",
    "while_loop": "i = 0\nwhile i < 5:\n    assert f(i) == i + 1\n    i += 1\n",
    "if_block": "if True:\n    assert f(3) == 4\n",
    "with_block": "import contextlib\nwith contextlib.suppress(KeyError):\n    assert f(3) == 4\n",
    "try_else": "try:\n    y = f(3)\nexcept KeyError:\n    y = None\nelse:\n    assert y == 4\n",
    "helper": "def _t():\n    assert f(3) == 4\n_t()\n",
    "nested_helper": "def _a(x):\n    assert f(x) == x + 1\ndef _b():\n    for x in (1, 5):\n        _a(x)\n_b()\n",
    "main_block": "def check_all():\n    assert f(7) == 8\nif __name__ == '__main__':\n    check_all()\n",
    "pytest_never_called": "def test_small():\n    assert f(1) == 2\ndef test_big():\n    assert f(9) == 10\n",
    "unittest_main": ("import unittest\nclass T(unittest.TestCase):\n    def test_one(self):\n"
                      "        self.assertEqual(f(1), 2)\n    def test_two(self):\n        self.assertEqual(f(4), 5)\n"
                      "if __name__ == '__main__':\n    unittest.main()\n"),
    "unittest_no_main": ("import unittest\nclass T(unittest.TestCase):\n    def test_two(self):\n"
                         "        self.assertTrue(f(4) == 5)\n"),
    "unittest_subtests": ("import unittest\nclass T(unittest.TestCase):\n    def test_all(self):\n"
                          "        for i in range(4):\n            with self.subTest(i=i):\n"
                          "                self.assertEqual(f(i), i + 1)\n"),
    "setup_assignment_raises": "x = [f(i) for i in range(3)]\nassert x[1] == 2\nassert x == [1, 2, 3]\n",
    "comprehension_all": "assert all(f(i) == i + 1 for i in range(4))\n",
    "check_called": "def check(candidate):\n    assert candidate(3) == 4\ncheck(f)\n",
    "check_entry_point": "def check(candidate):\n    for i in range(3):\n        assert candidate(i) == i + 1\n",
    "exit_zero_at_end": "import sys\nassert f(1) == 2\nfor i in range(3):\n    assert f(i) == i + 1\nsys.exit(0)\n",
    # red-team round 3 (R3-7): a TestCase subclass of the module's own TestCase, and one made in a
    # block, were never run; the wrong solution passed on the rest
    "unittest_subclass": ("import unittest\nclass Base(unittest.TestCase):\n    def test_small(self):\n"
                          "        self.assertEqual(f(1), 2)\nclass Big(Base):\n    def test_big(self):\n"
                          "        self.assertEqual(f(3), 4)\n"),
    "pytest_class": ("class TestF:\n    def setup_method(self, method):\n        self.k = 3\n"
                     "    def test_small(self):\n        assert f(1) == 2\n    def test_big(self):\n"
                     "        assert f(self.k) == 4\nassert f(1) == 2\n"),
    "doctest_testmod": ('def doc_f():\n    """\n    >>> f(3)\n    4\n    >>> f(1)\n    2\n    """\n'
                        "import doctest\nassert doctest.testmod().failed == 0\n"),  # R3-9
    "unittest_in_block": ("import unittest\nif True:\n    class T(unittest.TestCase):\n        def test_a(self):\n"
                          "            self.assertEqual(f(3), 4)\nassert f(1) == 2\n"),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_test_layout_fails_a_wrong_solution_and_passes_a_right_one(fast, layout):
    tests = {"asserts": LAYOUTS[layout], "entry_point": "f"}
    wrong = fast.score(fenced(WRONG_F), tests=tests)
    assert wrong.reward == -1.0 and wrong.label != "passed", (layout, wrong.details)
    right = fast.score(fenced(RIGHT_F), tests=tests)
    assert right.reward == 1.0 and right.label == "passed", (layout, right.details)


def test_a_wrong_solution_that_raises_in_setup_fails_and_partial_credit_counts_tests(fast_partial):
    tests = {"asserts": "x = f(0)\nassert f(1) == 2\nfor i in range(3):\n    assert f(i) == i + 1\n"}
    out = fast_partial.score(fenced("def f(x):\n    if x == 0:\n        raise KeyError(x)\n    return 2\n"),
                             tests=tests)
    # 2 tests + 1 failed setup statement: 1 of 3 passed
    assert out.label == "runtime_error" and math.isclose(out.reward, 1 / 3), out.details


def test_exit_in_the_middle_of_the_tests_never_pays(fast):
    tests = {"asserts": "import sys\nassert f(1) == 2\nsys.exit(0)\nassert f(5) == 6\n"}
    assert fast.score(fenced(RIGHT_F), tests=tests).label != "passed"  # a test never ran


@pytest.mark.parametrize("tests, match", [
    ("def test_x(tmp_path):\n    assert f(1) == 2\n", "takes arguments"),
    ("def check(candidate):\n    assert candidate(1) == 2\nassert f(1) == 2\n", "entry_point"),
    ("def helper():\n    assert f(1) == 2\n", "no test to run"),  # defined, never called, not test_*
    ("import unittest\n", "no test to run"),
    ("def test_g():\n    yield\n    assert f(1) == 2\n", "generator"),  # calling it runs no assert
    ("def _t():\n    yield\n    assert f(1) == 2\n_t()\n", "generator"),
    ("async def test_a():\n    assert f(1) == 2\n", "async"),
    ("class TestF:\n    def test_a(self, tmp_path):\n        assert f(1) == 2\n", "takes arguments"),
])
def test_a_suite_that_cannot_run_its_tests_is_an_error_not_a_pass(tests, match):
    with pytest.raises(ValueError, match=match):
        parse_tests({"asserts": tests})


# Finding 7: a lone surrogate crashed run_tests in a thread (KeyError 'program'): unscored (NaN).
def test_lone_surrogates_get_a_real_label(fast):
    tests = {"asserts": ["assert f(1) == '\\udc80'"]}
    ok = fast.score(fenced("def f(x):\n    return chr(0xDC80)\n"), tests=tests)
    assert ok.label == "passed", ok.details
    # the surrogate itself in the program's source: not valid UTF-8 source, a compile error
    bad = fast.score(fenced("def f(x):\n    return '\udc80'\n"), tests=tests)
    assert bad.label == "compile_error" and bad.reward == -1.0, bad.details
    # invalid UTF-8 written on the channel mid-test: tampering, never a crash
    raw_bytes = fast.score(fenced("import os, sys\ndef f(x):\n    os.write(int(sys.argv[2]), b'\\xff\\xfe\\n')\n"
                                  "    return chr(0xDC80)\n"), tests=tests)
    assert raw_bytes.label == "harness_tampered" and raw_bytes.reward == -1.0, raw_bytes.details
    # ...and in the tests' source (trusted): read back exactly as given
    raw = fast.score(fenced("def f(x):\n    return chr(0xDC80)\n"), tests={"asserts": "assert f(1) == '\udc80'\n"})
    assert raw.label == "passed", raw.details
    io = fast.score(fenced("import sys\nprint(len(sys.stdin.buffer.read()))\n"),
                    tests=[{"input": "\ud800", "output": "3\n"}])
    assert io.label == "passed", io.details


# Finding 4: extraction was a backreference regex, quadratic on repeated fences (10 s on 60 KB).
MB = 1_000_000


@pytest.mark.timeout(60)
@pytest.mark.parametrize("text", [
    "```\n" * (MB // 4),
    "```python\n" * (MB // 10),
    "```" * (MB // 3),
    "~~~\n```\n" * (MB // 8),
    "````python\n```\n" * (MB // 15),  # a long fence that never closes, short ones inside
    "<answer>" * (MB // 8),
    "<answer>" * (MB // 8) + "</answer>",
    "</answer>" * (MB // 9),
    "<answer>```python\n" * (MB // 18) + "</answer>",
], ids=["fences", "tagged_fences", "one_line_of_fences", "mixed_fences", "unclosed_long_fence", "open_tags",
        "open_tags_one_close", "close_tags", "answer_and_fences"])
def test_extract_code_is_linear_on_a_megabyte(text):
    import time

    t = time.perf_counter()
    extract_code(text)
    assert time.perf_counter() - t < 10.0  # quadratic would take hours; linear takes < 1 s


def test_extract_code_fence_rules():
    assert extract_code("````python\nx = '```'\n```\nstill = 1\n````\n") == "x = '```'\n```\nstill = 1\n"
    assert extract_code("```python\nA\n```\n```python\nB (truncated)") == "A\n"
    assert extract_code("~~~py\nprint(1)\n~~~\n") == "print(1)\n"
    assert extract_code("```python\r\nprint(1)\r\n```\r\n") == "print(1)\r\n"
    assert extract_code("<answer>a</answer> then <answer>print(2)</answer>") == "print(2)"


def test_a_skipped_unittest_counts_as_not_run(fast):
    tests = {"asserts": "import unittest\nclass T(unittest.TestCase):\n    @unittest.skip('later')\n"
                        "    def test_a(self):\n        self.assertEqual(f(9), 10)\n"
                        "    def test_b(self):\n        self.assertEqual(f(1), 2)\n"}
    out = fast.score(fenced(RIGHT_F), tests=tests)
    assert out.reward == -1.0 and out.details["verdict"]["details"]["outcomes"] == ["not_run", "passed"], out.details


# ---------------------------------------------------------------- red-team round 3
# Finding R3-1: the tests' arguments crossed as copies, so what a call did to them never came back.
# `def sorted_copy(a): a.sort(); return a` passed `assert a == [3, 1, 2]` (the input must not
# change), and an honest in-place `rotate(nums, k)` failed. Each call's reply now carries the new
# value of every plain argument it changed, and the tests update their own copy in place.
MUTATION_TESTS = {
    "must_not_change_input": ("a = [3, 1, 2]\nassert sorted_copy(a) == [1, 2, 3]\nassert a == [3, 1, 2]\n",
                              "def sorted_copy(a):\n    a.sort()\n    return a\n",
                              "def sorted_copy(a):\n    return sorted(a)\n"),
    "must_not_change_nested_kwarg": ("g = {'a': [1]}\nassert total(d=g) == 1\nassert g == {'a': [1]}\n",
                                     "def total(d):\n    s = sum(d['a'])\n    d['a'].clear()\n    return s\n",
                                     "def total(d):\n    return sum(d['a'])\n"),
    "must_not_change_when_raising": ("a = [1]\ntry:\n    pop_neg(a)\nexcept ValueError:\n    pass\nassert a == [1]\n",
                                     "def pop_neg(a):\n    a.pop()\n    raise ValueError\n",
                                     "def pop_neg(a):\n    raise ValueError\n"),
    "in_place_rotate": ("nums = [1, 2, 3, 4]\nrotate(nums, 1)\nassert nums == [4, 1, 2, 3]\n",
                        "def rotate(nums, k):\n    nums = nums[-k:] + nums[:-k]\n",
                        "def rotate(nums, k):\n    nums[:] = nums[-k:] + nums[:-k]\n"),
    "in_place_matrix": (
        "m = [[1, 2], [3, 4]]\nrow = m[0]\nturn(m)\nassert m == [[3, 1], [4, 2]] and row == [3, 1]\n",
        "def turn(m):\n    return [list(r) for r in zip(*m[::-1])]\n",
        "def turn(m):\n    t = [list(r) for r in zip(*m[::-1])]\n    for i, r in enumerate(t):\n        m[i][:] = r\n"),
    "in_place_dict_set_tuple": ("d, s, t = {'a': 1}, set(), ([1], 2)\nfill(d, s, t)\n"
                                "assert d == {'b': 2} and s == {5} and t == ([1, 9], 2)\n",
                                "def fill(d, s, t):\n    d['b'] = 2\n    s.add(5)\n    t[0].append(9)\n",
                                "def fill(d, s, t):\n    del d['a']\n    d['b'] = 2\n    s.add(5)\n    t[0].append(9)\n"),
}


@pytest.mark.parametrize("name", sorted(MUTATION_TESTS))
def test_what_a_call_does_to_its_arguments_reaches_the_tests(fast, name):
    tests, wrong, right = MUTATION_TESTS[name]
    out = fast.score(fenced(wrong), tests={"asserts": tests})
    assert out.reward == -1.0 and out.label == "wrong_answer", (name, out.details)
    out = fast.score(fenced(right), tests={"asserts": tests})
    assert out.reward == 1.0 and out.label == "passed", (name, out.details)


FORGED_MUTATION = """
import sys
_srv = sys.modules["__main__"]
_orig = _srv.reply
def _reply(obj):
    if isinstance(obj, dict) and ("v" in obj or "ref" in obj):
        obj["mut"] = {MUT}
    _orig(obj)
_srv.reply = _reply
def f(x=None):
    return 0
"""


@pytest.mark.parametrize("mut", ["[[5, [1]]]", "[['zz', [1]]]", "[[0, {'$tuple': [1]}]]", "7", "[[0]]",
                                 "[[0, {'$set': [1]}]]"])
def test_forged_argument_updates_are_tampering(fast, mut):
    tests = {"asserts": "a = [3]\nf(a)\nassert f is not None and len(a) == 1\nassert f() == 1\n"}
    out = fast.score(fenced(FORGED_MUTATION.replace("{MUT}", mut)), tests=tests)
    assert out.reward == -1.0 and out.label == "harness_tampered", (mut, out.details)


@pytest.mark.parametrize("tests", ["from solution import add\nassert add(1, 2) == 3\n",
                                   "import solution\nassert solution.add(1, 2) == 3\n",
                                   "from solution import *\nassert add(1, 2) == 3\n"])
def test_suites_that_import_the_solution_module_see_the_program(fast, tests):
    # R3-2: `from solution import add` raised ModuleNotFoundError in the tests' sandbox, so an
    # honest program failed; a wrong one must still fail
    assert fast.score(fenced("def add(a, b):\n    return a + b\n"), tests={"asserts": tests}).label == "passed"
    out = fast.score(fenced("def add(a, b):\n    return 0\n"), tests={"asserts": tests})
    assert out.reward == -1.0 and out.label == "wrong_answer", out.details


@pytest.mark.parametrize("partial, tests", [
    (True, json.dumps([{"input": "", "output": "1\n"}] * 8)),
    (False, {"asserts": "assert f(1) == 2\nassert f(2) == 3\nassert f(3) == 4\n"}),
])
def test_a_slow_program_is_scored_within_the_verifier_timeout(partial, tests):
    # R3-5: the check ignored the verifier's timeout: 8 sleeping stdin/stdout cases under
    # code-partial (or an assert suite's 11 s budget) ran past the batch's hard limit, and the
    # row went unscored (NaN) instead of failing
    import time

    rules = code_rules(partial=partial, timeout=3.0)
    sleeper = fenced("import time\ntime.sleep(60)\ndef f(x):\n    return x + 1\n")
    start = time.monotonic()
    batch = rules.score_batch([sleeper], fields=[{"tests": tests}], workers=1, timeout=6.0)
    assert batch.labels == ["timeout"]
    assert batch.rewards.tolist() == [0.0 if partial else -1.0]  # scored, not NaN
    assert time.monotonic() - start < 30.0
