"""Prompt sources for the trainer: procedural arithmetic (built in) and reasoning-gym data sets.

A task draws ``Problem(prompt, answer)`` batches from a ``numpy.random.Generator`` (so a run's
prompts follow its seed and resume exactly). Grading is never the task's job: completions are
scored by a rule set (``rewardsmith.rules``), which is how reasoning-gym items are graded too, by
our verifiers rather than reasoning-gym's own scorers (``game_of_life_halting`` scores any answer
1.0; ``countdown`` evaluates the model's text).

Arithmetic: ``"47+38="`` -> ``"<think>58</think><answer>85</answer>"``. The scratchpad holds the
answer's digits least significant first, the order in which a left-to-right model can carry.

Chat models read a problem in words (``Problem.question``: ``"What is 47 plus 38?"``) inside
``chat_messages``: a system prompt that states the format and, in ``system+example``, one worked
example turn. Measured on the untrained smollm2-135m (64 samples of <= 64 tokens, 8 two-digit
sums, temperature 1; see docs/experiments/smollm2-135m.md for the table): the instruction in the
user turn or in a system prompt alone gave almost no well-formed completion; the system prompt
plus one worked example gave a mixed start, where GRPO has a signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = ["Problem", "Task", "ArithmeticTask", "ReasoningGymTask", "make_task", "MALFORMED_KINDS",
           "PROMPT_STYLES", "SYSTEM_PROMPT", "chat_messages"]


@dataclass(frozen=True)
class Problem:
    prompt: str  # the bare text the tiny model reads ("52+13=")
    answer: str
    question: str = ""  # the problem in words, for chat models ("" = use prompt)


# How a problem becomes a chat model's prompt (GRPOConfig.prompt_style); "bare" is the tiny model's.
PROMPT_STYLES = ("bare", "user", "system", "system+example")

SYSTEM_PROMPT = ("You are a careful assistant. First think step by step inside <think></think>. "
                 "Then give only the final answer inside <answer></answer>.")
FORMAT_INSTRUCTION = "Think inside <think></think>, then give only the final answer inside <answer></answer>."
EXAMPLE_TURN = ({"role": "user", "content": "What is 12 plus 7?"},
                {"role": "assistant", "content": "<think>12 plus 7 is 19.</think><answer>19</answer>"})


def chat_messages(question: str, style: str = "system+example") -> list[dict]:
    """The chat turns for ``question``:

    - ``user``: one user turn, the question then the format instruction;
    - ``system``: a system prompt stating the format, then the question;
    - ``system+example``: the same plus one worked example exchange before the question.
    """
    if style == "user":
        return [{"role": "user", "content": f"{question}\n{FORMAT_INSTRUCTION}"}]
    msgs = [{"role": "system", "content": SYSTEM_PROMPT}]
    if style == "system+example":
        msgs += [dict(m) for m in EXAMPLE_TURN]
    elif style != "system":
        raise ValueError(f"prompt_style: expected one of {list(PROMPT_STYLES[1:])} for a chat model, got {style!r}")
    return msgs + [{"role": "user", "content": question}]


class Task(Protocol):
    name: str

    def sample(self, rng: np.random.Generator, n: int) -> list[Problem]: ...


# The malformed targets mixed into the warm start: each breaks the seed-tiered format one way.
MALFORMED_KINDS = ("no_think", "no_answer_tag", "unclosed_think", "bare", "unclosed_answer")


@dataclass(frozen=True)
class ArithmeticTask:
    """``a+b`` / ``a-b`` with ``digits``-digit operands (``a >= b`` for ``-``, so answers are >= 0)."""

    digits: int = 2
    ops: str = "+-"

    @property
    def name(self) -> str:
        return f"arithmetic(digits={self.digits}, ops={self.ops})"

    def sample(self, rng: np.random.Generator, n: int) -> list[Problem]:
        lo, hi = 10 ** (self.digits - 1), 10**self.digits
        a = rng.integers(lo, hi, size=n)
        b = rng.integers(lo, hi, size=n)
        op = rng.integers(0, len(self.ops), size=n)
        out = []
        for x, y, k in zip(a.tolist(), b.tolist(), op.tolist()):
            o = self.ops[k]
            if o == "-" and x < y:
                x, y = y, x
            words = f"What is {x} {'plus' if o == '+' else 'minus'} {y}?"
            out.append(Problem(f"{x}{o}{y}=", str(x + y if o == "+" else x - y), words))
        return out

    @staticmethod
    def target(problem: Problem, kind: str = "good", answer: str | None = None) -> str:
        """The completion text for ``problem`` in format ``kind`` ("good" or a MALFORMED_KINDS)."""
        ans = problem.answer if answer is None else answer
        think = ans[::-1]
        return {
            "good": f"<think>{think}</think><answer>{ans}</answer>",
            "no_think": f"<answer>{ans}</answer>",
            "no_answer_tag": f"<think>{think}</think>{ans}",
            "unclosed_think": f"<think>{think}<answer>{ans}</answer>",
            "bare": ans,
            "unclosed_answer": f"<think>{think}</think><answer>{ans}",
        }[kind]

    def sft_batch(
        self, rng: np.random.Generator, n: int, good_frac: float, wrong_frac: float
    ) -> list[tuple[str, str]]:
        """``n`` (prompt, target) pairs: ``good_frac`` well formed, the rest malformed (one of
        MALFORMED_KINDS each); ``wrong_frac`` of all targets carry a near-miss wrong answer (one
        digit off by one), so the warm-started policy starts like the seed's stage 1."""
        probs = self.sample(rng, n)
        good = rng.random(n) < good_frac
        wrong = rng.random(n) < wrong_frac
        kinds = rng.integers(0, len(MALFORMED_KINDS), size=n)
        pos = rng.random(n)
        sign = rng.integers(0, 2, size=n)
        out = []
        for i, p in enumerate(probs):
            ans = p.answer
            if wrong[i]:
                j = int(pos[i] * len(ans))
                d = (int(ans[j]) + (1 if sign[i] else 9)) % 10
                if j == 0 and d == 0 and len(ans) > 1:
                    d = 1 if ans[0] != "1" else 2
                ans = ans[:j] + str(d) + ans[j + 1 :]
            kind = "good" if good[i] else MALFORMED_KINDS[int(kinds[i])]
            out.append((p.prompt, self.target(p, kind, ans)))
        return out


class ReasoningGymTask:
    """Items of a reasoning-gym procedural data set (``rg:NAME``), drawn with the run's rng.

    Only reasoning-gym's generators are used; rewards come from the run's rule set.
    """

    instruction = (
        "\nThink inside <think></think>, then give only the final answer inside <answer></answer>.\n"
    )

    def __init__(self, name: str, size: int = 1000, seed: int = 0) -> None:
        try:
            import reasoning_gym
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ValueError(
                f"task: 'rg:{name}' needs reasoning-gym (pip install 'rewardsmith[train]')"
            ) from exc
        try:
            self._data = reasoning_gym.create_dataset(name, size=size, seed=seed)
        except Exception as exc:
            raise ValueError(f"task: reasoning-gym has no usable data set {name!r} ({exc})") from None
        self.name = f"rg:{name}"
        self._size = size
        self._cache: dict[int, Problem] = {}

    def sample(self, rng: np.random.Generator, n: int) -> list[Problem]:
        out = []
        for i in rng.integers(0, self._size, size=n).tolist():
            if i not in self._cache:
                item = self._data[i]
                q = str(item["question"])
                self._cache[i] = Problem(q + self.instruction, str(item["answer"]), q)
            out.append(self._cache[i])
        return out


def make_task(spec: str, digits: int = 2, ops: str = "+-", seed: int = 0) -> Task:
    """``"arithmetic"`` or ``"rg:NAME"`` -> a task object."""
    if spec == "arithmetic":
        return ArithmeticTask(digits=digits, ops=ops)
    if spec.startswith("rg:") and len(spec) > 3:
        return ReasoningGymTask(spec[3:], seed=seed)
    raise ValueError(f"task: expected 'arithmetic' or 'rg:NAME', got {spec!r}")
