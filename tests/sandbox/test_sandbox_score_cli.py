"""Real solutions to classic problems pass, wrong ones fail, through ``rewardsmith score``."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rewardsmith.cli import app


def block(code: str) -> str:
    return f"<think>plan</think>\n```python\n{code}```\n"


FIZZ_OUT = "\n".join("FizzBuzz" if i % 15 == 0 else "Fizz" if i % 3 == 0 else "Buzz" if i % 5 == 0 else str(i)
                     for i in range(1, 16)) + "\n"
PROBLEMS = {
    "a_plus_b": (
        [{"input": "1 2\n", "output": "3\n"}, {"input": "1000000000000 1\n", "output": "1000000000001\n"}],
        "a, b = map(int, input().split())\nprint(a + b)\n",
        "a, b = map(int, input().split())\nprint(a + b + (a > 10**6))\n",
    ),
    "fizzbuzz": (
        [{"input": "15\n", "output": FIZZ_OUT}, {"input": "3\n", "output": "1\n2\nFizz\n"}],
        "n = int(input())\nfor i in range(1, n + 1):\n"
        "    print('FizzBuzz' if i % 15 == 0 else 'Fizz' if i % 3 == 0 else 'Buzz' if i % 5 == 0 else i)\n",
        "n = int(input())\nfor i in range(1, n + 1):\n"
        "    print('Fizz' if i % 3 == 0 else 'Buzz' if i % 5 == 0 else i)\n",
    ),
    "max_subarray": (
        {"test_cases": [{"input": "5\n-2 1 -3 4 -1\n", "output": "4\n"},
                        {"input": "9\n-2 1 -3 4 -1 2 1 -5 4\n", "output": "6\n"},
                        {"input": "3\n-3 -1 -2\n", "output": "-1\n"}], "normalize": "tokens"},
        "input()\nxs = list(map(int, input().split()))\nbest = cur = xs[0]\nfor x in xs[1:]:\n"
        "    cur = max(x, cur + x)\n    best = max(best, cur)\nprint(best)\n",
        "input()\nxs = list(map(int, input().split()))\nprint(max(0, sum(x for x in xs if x > 0)))\n",
    ),
    "reverse_words": (
        {"asserts": ["assert reverse_words('hello world') == 'world hello'",
                     "assert reverse_words('a') == 'a'", "assert reverse_words('') == ''"]},
        "def reverse_words(s):\n    return ' '.join(reversed(s.split()))\n",
        "def reverse_words(s):\n    return s[::-1]\n",
    ),
    "fibonacci": (
        {"fn_name": "fib", "inputs": [[0], [1], [10], [50]], "outputs": [0, 1, 55, 12586269025]},
        "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
        "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",  # right but exponential: timeout
    ),
    "is_prime": (
        {"test": "def check(candidate):\n    assert candidate(2)\n    assert not candidate(1)\n"
                 "    assert candidate(97)\n    assert not candidate(91)\n", "entry_point": "is_prime"},
        "def is_prime(n):\n    if n < 2:\n        return False\n    i = 2\n    while i * i <= n:\n"
        "        if n % i == 0:\n            return False\n        i += 1\n    return True\n",
        "def is_prime(n):\n    return n % 2 == 1\n",
    ),
}
WRONG_LABEL = {"fibonacci": "timeout"}


@pytest.mark.slow
def test_score_cli_grades_classic_problems(tmp_path):
    rows = []
    for name, (tests, good, bad) in PROBLEMS.items():
        for kind, code in (("good", good), ("bad", bad)):
            rows.append({"prompt": name, "completion": block(code), "tests": json.dumps(tests), "kind": kind})
    rows.append({"prompt": "a_plus_b", "completion": "I would add them.", "tests": json.dumps(PROBLEMS["a_plus_b"][0]),
                 "kind": "none"})
    src = tmp_path / "rollouts.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "scored.jsonl"
    result = CliRunner().invoke(app, ["score", "--rules", "code", "-i", str(src), "-o", str(out), "--workers", "2"])
    assert result.exit_code == 0, result.output
    scored = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(scored) == len(rows)
    for r in scored:
        if r["kind"] == "good":
            assert (r["label"], r["reward"]) == ("passed", 1.0), r["prompt"]
        elif r["kind"] == "bad":
            assert r["reward"] == -1.0, r["prompt"]
            assert r["label"] == WRONG_LABEL.get(r["prompt"], "wrong_answer"), (r["prompt"], r["label"])
        else:
            assert (r["label"], r["reward"]) == ("no_code", -1.0)
    assert "passed" in result.output  # the label table


def test_score_cli_partial_credit(tmp_path):
    tests = PROBLEMS["reverse_words"][0]
    half = "def reverse_words(s):\n    return s\n"  # right for 'a' and ''
    src = tmp_path / "r.jsonl"
    src.write_text(json.dumps({"completion": block(half), "tests": tests}) + "\n")
    out = tmp_path / "o.jsonl"
    result = CliRunner().invoke(app, ["score", "--rules", "code-partial", "-i", str(src), "-o", str(out),
                                      "--workers", "0"])
    assert result.exit_code == 0, result.output
    row = json.loads(out.read_text())
    assert row["label"] == "wrong_answer" and abs(row["reward"] - 2 / 3) < 1e-9
