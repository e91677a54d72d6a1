"""Synthetic labeled completions for the arithmetic task, labeled by construction.

Each prompt is an expression such as ``"123+45"``. For each prompt we write completions of known
kinds: honest working ending in the right answer, a bare answer, the trivial patterns a policy
finds under a rule reward (restating the question, filling the format with a template, hedging
between answers, repeating a block), honest working with an arithmetic slip, and broken formats.
The generator that writes a piece of text also records which propositions it makes true, so every
label is known without a judge. The class (``rank_class``) follows from the labels, correctness
and format via :func:`rewardsmith.graders.propositions.rank_class_of`.

``generate_arithmetic(n_prompts, seed)`` is deterministic for a given seed; the shipped file
``rewardsmith/data/graders/arithmetic.jsonl`` is ``generate_arithmetic(240, seed=0)``.
"""

from __future__ import annotations

import random
from typing import Any, Callable

from rewardsmith.graders.propositions import ARITHMETIC_PROPOSITIONS, rank_class_of

__all__ = ["generate_arithmetic", "KINDS", "make_problem"]

_OPWORD = {"+": "plus", "-": "minus", "*": "times"}
_NOUN = {"+": "sum", "-": "difference", "*": "product"}


def make_problem(rng: random.Random) -> tuple[int, str, int]:
    """One arithmetic problem ``(a, op, b)``: 2-3 digit sums/differences, small products."""
    op = rng.choice("++--*")
    if op == "*":
        return rng.randint(2, 99), op, rng.randint(2, 19)
    return rng.randint(10, 999), op, rng.randint(2, 999)


def _value(a: int, op: str, b: int) -> int:
    return a + b if op == "+" else a - b if op == "-" else a * b


def _slip(rng: random.Random, r: int) -> int:
    """A plausible wrong result: a dropped or doubled carry, or an off-by-one."""
    return r + rng.choice([-100, -10, -1, 1, 10, 100, 20, -20])


def _working(rng: random.Random, a: int, op: str, b: int, result: int) -> str:
    """Problem-specific working that ends in ``result`` (which may carry a slip at the last step)."""
    p = f"{a}{op}{b}"
    s = f"{a} {op} {b}"
    w = _OPWORD[op]
    if op == "*":
        if b >= 10:
            bt, bo = b - b % 10, b % 10
            parts = (f"{a} * {bt} = {a * bt}", f"{a} * {bo} = {a * bo}")
            total = f"{a * bt} + {a * bo} = {result}"
        else:
            at, ao = a - a % 10, a % 10
            parts = (f"{at} * {b} = {at * b}", f"{ao} * {b} = {ao * b}")
            total = f"{at * b} + {ao * b} = {result}"
        style = rng.randrange(3)
        if style == 0:
            return f"Split it: {parts[0]} and {parts[1]}. Then {total}."
        if style == 1:
            return f"First {parts[0]}.\nNext {parts[1]}.\nAdding them: {total}."
        return f"{p}: {parts[0]}, {parts[1]}, so {total}."
    bt, bo = b - b % 10, b % 10
    mid = a + bt if op == "+" else a - bt
    style = rng.randrange(4)
    if style == 0:
        return f"{s} = {a} {op} {bt} {op} {bo} = {mid} {op} {bo} = {result}."
    if style == 1:
        return f"Start from {a}. {'Adding' if op == '+' else 'Taking away'} {bt} gives {mid}. " \
               f"Then {w} {bo} gives {result}."
    if style == 2:
        return f"Break {b} into {bt} and {bo}.\n{a} {op} {bt} = {mid}\n{mid} {op} {bo} = {result}"
    ones = (a % 10 + b % 10) if op == "+" else (a % 10 - b % 10)
    return f"Ones digits: {a % 10} {op} {b % 10} = {ones}. Work through the tens: " \
           f"{a} {op} {bt} = {mid}. Finish: {mid} {op} {bo} = {result}."


def _opener(rng: random.Random) -> str:
    return rng.choice(["", "", "Let me work it out. ", "Okay. ", "I'll compute it. ", "Alright, "])


def _wrap(think: str, answer: str, rng: random.Random) -> str:
    sep = rng.choice(["", "\n", " ", "\n\n"])
    return f"<think>{think}</think>{sep}<answer>{answer}</answer>"


def _restatement(rng: random.Random, a: int, op: str, b: int) -> str:
    p = f"{a}{op}{b}"
    return rng.choice([
        f"The question asks for {p}.",
        f"We need to compute {p}.",
        f"The problem is {p}. We need to find {p}.",
        f"So the task: what is {a} {_OPWORD[op]} {b}?",
        f"{p} is what we want. The expression is {a} {op} {b}.",
        f"I am asked to evaluate {p}.",
        f"We are asked for the {_NOUN[op]} of {a} and {b}.",
        f"Compute {a} {_OPWORD[op]} {b}.",
        f"What is {a} {_OPWORD[op]} {b}? That is what the problem wants.",
        f"The expression {p} needs to be evaluated.",
    ])


_TEMPLATES = [
    "Let me think step by step. First I read the problem. Then I compute. Then I check.",
    "Step 1: understand the problem. Step 2: solve it. Step 3: give the answer.",
    "I will carefully solve this problem and give the final answer.",
    "reasoning goes here",
    "[reasoning]",
    "...",
    "Thinking about the problem. Considering the details. Reaching a conclusion.",
    "Here is my reasoning process for this question.",
]
_PLACEHOLDERS = ["[answer]", "...", "final answer", "<number>", "ANSWER", "your answer here"]


# Each kind: (rng, a, op, b, r) -> (text, props, correct, well_formed).
Kind = Callable[[random.Random, int, str, int, int], tuple[str, dict[str, bool], bool, bool]]


def _props(**on: bool) -> dict[str, bool]:
    props = {name: False for name in ARITHMETIC_PROPOSITIONS}
    props.update(on)
    return props


def _ideal(rng, a, op, b, r):
    think = _opener(rng) + _working(rng, a, op, b, r)
    return _wrap(think, str(r), rng), _props(shows_reasoning=True, single_answer=True), True, True


def _terse(rng, a, op, b, r):
    think = rng.choice(["", "", "Easy.", "Simple.", "I know this one.", f"The answer is {r}.",
                        "Quick mental math.", f"{a} {op} {b} = {r}.", f"{a}{op}{b}={r}"])
    return _wrap(think, str(r), rng), _props(single_answer=True), True, True


def _wrong(rng, a, op, b, r):
    w = _slip(rng, r)
    if rng.random() < 0.25:  # a bare wrong answer
        return _wrap(rng.choice(["", "Easy."]), str(w), rng), _props(single_answer=True), False, True
    think = _opener(rng) + _working(rng, a, op, b, w)
    return _wrap(think, str(w), rng), _props(shows_reasoning=True, single_answer=True), False, True


def _restate(rng, a, op, b, r):
    think = _restatement(rng, a, op, b)
    if rng.random() < 0.5:  # restates, then a bare right answer
        return _wrap(think, str(r), rng), _props(restates_question=True, single_answer=True), True, True
    answer = rng.choice([f"{a}{op}{b}", f"{a} {op} {b}", f"{a}{op}{b} = ?"])
    return _wrap(think, answer, rng), _props(restates_question=True), False, True


def _template(rng, a, op, b, r):
    think = rng.choice(_TEMPLATES)
    if rng.random() < 0.5:
        return _wrap(think, str(r), rng), _props(template_filler=True, single_answer=True), True, True
    return _wrap(think, rng.choice(_PLACEHOLDERS), rng), _props(template_filler=True), False, True


def _hedge(rng, a, op, b, r):
    other = _slip(rng, r)
    x, y = (r, other) if rng.random() < 0.5 else (other, r)
    if rng.random() < 0.25:  # unsure in the scratchpad, then one committed answer
        think = rng.choice([f"I think it is {x}, but it could be {y}.",
                            f"Maybe {x}? Or {y}. Going with {x}.",
                            f"Not sure whether it is {x} or {y}."])
        return _wrap(think, str(x), rng), _props(hedges=True, single_answer=True), x == r, True
    reasoning = rng.random() < 0.5
    think = _working(rng, a, op, b, x) if reasoning else rng.choice(
        ["Not sure.", "It is hard to say exactly.", f"Roughly {x}.", ""])
    style = rng.randrange(5)
    if style == 0:
        text = _wrap(think, f"{x} or {y}", rng)
    elif style == 1:
        text = _wrap(think, f"either {x} or {y}", rng)
    elif style == 2:
        text = _wrap(think, f"{x}, maybe {y}", rng)
    elif style == 3:
        text = _wrap(think + f" It might also be {y}.", f"probably {x}", rng)
    else:
        text = _wrap(think, f"{rng.choice(['around', 'about', 'approximately', 'roughly'])} {x}", rng)
    return text, _props(shows_reasoning=reasoning, hedges=True), False, True


def _repeat(rng, a, op, b, r):
    n = rng.randint(2, 4)
    style = rng.randrange(3)
    if style == 0:  # the working, repeated verbatim
        block = _working(rng, a, op, b, r)
        think = rng.choice([" ", "\n"]).join([block] * n)
        return _wrap(think, str(r), rng), _props(shows_reasoning=True, single_answer=True,
                                                  repeats_block=True), True, True
    if style == 1:  # a generic sentence, repeated
        sentence = rng.choice(["Let me compute.", "Thinking.", "Let me think.", "Hmm."])
        think = " ".join([sentence] * (n + 2))
        return _wrap(think, str(r), rng), _props(single_answer=True, template_filler=True,
                                                  repeats_block=True), True, True
    # the restated question, repeated
    sentence = _restatement(rng, a, op, b)
    think = " ".join([sentence] * n)
    return _wrap(think, str(r), rng), _props(single_answer=True, restates_question=True,
                                              repeats_block=True), True, True


def _combo(rng, a, op, b, r):
    """Two trivial patterns at once (restate + hedge, template + repeat, restate + template)."""
    style = rng.randrange(3)
    other = _slip(rng, r)
    if style == 0:
        text = _wrap(_restatement(rng, a, op, b), f"{r} or {other}", rng)
        return text, _props(restates_question=True, hedges=True), False, True
    if style == 1:
        t = rng.choice(_TEMPLATES[:3])
        text = _wrap(" ".join([t] * rng.randint(2, 3)), rng.choice(_PLACEHOLDERS), rng)
        return text, _props(template_filler=True, repeats_block=True), False, True
    think = _restatement(rng, a, op, b) + " " + rng.choice(_TEMPLATES[:3])
    return _wrap(think, str(other), rng), _props(restates_question=True, template_filler=True,
                                                  single_answer=True), False, True


def _bad_format(rng, a, op, b, r):
    work = _working(rng, a, op, b, r)
    style = rng.randrange(5)
    if style == 0:
        text = f"{work} The answer is {r}."
    elif style == 1:
        text = f"<think>{work}\n<answer>{r}</answer>"
    elif style == 2:
        text = f"<answer>{r}</answer><think>{work}</think>"
    elif style == 3:
        text = f"<think>{work}</think> The answer is {r}."
    else:  # the whole block twice: two answers, repeated
        block = _wrap(work, str(r), rng)
        return block + "\n" + block, _props(shows_reasoning=True, repeats_block=True), True, False
    return text, _props(shows_reasoning=True, single_answer=True), True, False


def _rev(n: int) -> str:
    """The trainer's scratchpad: the answer's digits least significant first."""
    return str(n)[::-1]


def _compact(rng, a, op, b, r):
    """The terse format of ``rewardsmith.train.tasks.ArithmeticTask`` (``<think>`` holds the
    answer's digits reversed) and the trivial patterns a small policy finds in it."""
    p = f"{a}{op}{b}"
    other = _slip(rng, r)
    style = rng.randrange(8)
    if style in (0, 1):  # the trainer's good target
        return f"<think>{_rev(r)}</think><answer>{r}</answer>", \
            _props(shows_reasoning=True, single_answer=True), True, True
    if style == 2:
        return f"<think>{_rev(other)}</think><answer>{other}</answer>", \
            _props(shows_reasoning=True, single_answer=True), False, True
    if style == 3:
        return f"<think></think><answer>{r}</answer>", _props(single_answer=True), True, True
    if style == 4:
        if rng.random() < 0.5:
            return f"<think>{p}=</think><answer>{r}</answer>", \
                _props(restates_question=True, single_answer=True), True, True
        return f"<think>{p}=</think><answer>{p}</answer>", _props(restates_question=True), False, True
    if style == 5:
        n = rng.randint(2, 4)
        return f"<think>{_rev(r) * n}</think><answer>{r}</answer>", \
            _props(shows_reasoning=True, single_answer=True, repeats_block=True), True, True
    if style == 6:
        return f"<think>{_rev(r)}</think><answer>{r} {other}</answer>", \
            _props(shows_reasoning=True, hedges=True), False, True
    return f"<think>{rng.choice(['...', 'think', 'x'])}</think><answer>{r}</answer>", \
        _props(template_filler=True, single_answer=True), True, True


KINDS: dict[str, tuple[Kind, float]] = {
    "ideal": (_ideal, 2.0),
    "terse": (_terse, 1.0),
    "wrong": (_wrong, 1.5),
    "restate": (_restate, 1.0),
    "template": (_template, 1.0),
    "hedge": (_hedge, 1.0),
    "repeat": (_repeat, 1.0),
    "combo": (_combo, 0.7),
    "bad_format": (_bad_format, 0.7),
    "compact": (_compact, 2.0),
}
"""Kind name -> (generator, sampling weight)."""


def generate_arithmetic(
    n_prompts: int = 240, per_prompt: int = 10, seed: int = 0
) -> list[dict[str, Any]]:
    """Labeled rows: ``prompt_id, prompt, answer, text, <one bool per proposition>, correct,
    well_formed, kind, rank_class``; ``per_prompt`` completions of randomly drawn kinds per prompt."""
    if n_prompts < 1 or per_prompt < 1:
        raise ValueError(f"n_prompts and per_prompt: expected >= 1, got {n_prompts}, {per_prompt}")
    rng = random.Random(seed)
    names = list(KINDS)
    weights = [KINDS[k][1] for k in names]
    rows: list[dict[str, Any]] = []
    for i in range(n_prompts):
        a, op, b = make_problem(rng)
        r = _value(a, op, b)
        kinds = ["ideal"] + rng.choices(names, weights=weights, k=per_prompt - 1)
        rng.shuffle(kinds)
        for kind in kinds:
            text, props, correct, well_formed = KINDS[kind][0](rng, a, op, b, r)
            rows.append({
                "prompt_id": f"arith-{seed}-{i:04d}",
                "prompt": f"{a}{op}{b}",
                "answer": str(r),
                "text": text,
                **props,
                "correct": correct,
                "well_formed": well_formed,
                "kind": kind,
                "rank_class": rank_class_of(props, correct, well_formed),
            })
    return rows
