"""rewardsmith vs Math-Verify on math answers: throughput and corpus accuracy, same run.

Throughput: a realistic mix of completions (about 400 characters of reasoning ending in a
``\\boxed{}`` answer; mostly integers and fractions, some radicals, sets and intervals; half
equal; groups of G completions per gold answer, as in GRPO), scored one by one in one process:

* rewardsmith: ``extract_answer(completion, "boxed")`` + ``verify_math(pred, gold)``
  (its symbolic worker is warmed up first; it runs synchronously, one core at a time);
* Math-Verify: ``verify(parse("$gold$"), parse(completion))`` with its default settings.

Accuracy: both on ``tests/data/math_corpus.jsonl``. Math-Verify runs in a watched child process
(it hangs on one corpus input; a hang counts as a wrong answer and the run goes on).

    python benchmarks/math_verify.py [--prompts 250] [--group 8] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import sys
import time
from fractions import Fraction
from pathlib import Path

# This file is named like the package it measures: keep its folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

ROOT = Path(__file__).resolve().parents[1]
NEW_FORMS = ("form_", "hack_", "gold_")  # corpus categories added for issue 11
CORPUS = ROOT / "tests" / "data" / "math_corpus.jsonl"

FILLER = [
    "First, we rewrite the expression so that the common factor is visible.",
    "Substituting the known values gives a simpler equation in one variable.",
    "We check the boundary cases separately, since the formula fails at zero.",
    "Multiplying both sides by the denominator keeps the inequality direction.",
    "Counting the arrangements, we divide by the symmetries of the square.",
    "The sum telescopes, leaving only the first and the last terms.",
    "By the Pythagorean theorem the hypotenuse is determined uniquely.",
    "Combining like terms, the coefficients of x cancel out.",
    "Let n be the number of steps; then 3n + 2 must be divisible by 7.",
    "We verify that 12 and 18 share the factor 6, so the ratio reduces.",
]


def _frac(q: Fraction, rng: random.Random) -> str:
    if q.denominator == 1:
        return str(q.numerator)
    a, b = abs(q.numerator), q.denominator
    s = "-" if q < 0 else ""
    return rng.choice([f"{s}\\frac{{{a}}}{{{b}}}", f"{s}\\dfrac{{{a}}}{{{b}}}", f"{s}{a}/{b}"])


def make_gold(rng: random.Random) -> tuple[str, object]:
    """(gold string, a value token used to render equal/unequal predictions)."""
    r = rng.random()
    if r < 0.55:
        n = rng.randint(-20, 2000)
        return str(n), ("int", n)
    if r < 0.80:
        q = Fraction(rng.randint(-30, 60), rng.randint(2, 24))
        if q.denominator == 1:
            q += Fraction(1, 7)
        return f"\\frac{{{q.numerator}}}{{{q.denominator}}}", ("frac", q)
    if r < 0.88:
        c, f = rng.randint(1, 6), rng.choice([2, 3, 5, 6, 7])
        return f"{c}\\sqrt{{{f}}}", ("rad", (c, f))
    if r < 0.94:
        xs = sorted(rng.sample(range(-9, 10), 3))
        return "\\{" + ", ".join(map(str, xs)) + "\\}", ("set", xs)
    lo, hi = sorted(rng.sample(range(-9, 10), 2))
    return f"[{lo}, {hi})", ("int", (lo, hi))


def render(kind, rng: random.Random, equal: bool) -> str:
    k, v = kind
    if k == "int" and isinstance(v, tuple):
        lo, hi = v
        return f"[{lo}, {hi})" if equal else rng.choice([f"({lo}, {hi})", f"[{lo}, {hi + 1})"])
    if k == "int":
        n = v if equal else v + rng.choice([-2, -1, 1, 10])
        return rng.choice([str(n), f"{n:,}", str(n)]) if n >= 1000 else str(n)
    if k == "frac":
        q = v if equal else v + Fraction(1, v.denominator)
        return _frac(q, rng)
    if k == "rad":
        c, f = v
        if equal:
            return rng.choice([f"{c}\\sqrt{{{f}}}", f"\\sqrt{{{c * c * f}}}"])
        return f"{c + 1}\\sqrt{{{f}}}"
    xs = list(v)
    if equal:
        rng.shuffle(xs)
    else:
        xs[0] -= 1
    return "\\{" + ", ".join(map(str, xs)) + "\\}"


def make_pairs(prompts: int, group: int, seed: int) -> list[tuple[str, str, bool]]:
    rng = random.Random(seed)
    pairs = []
    for _ in range(prompts):
        gold, kind = make_gold(rng)
        for _ in range(group):
            equal = rng.random() < 0.5
            pred = render(kind, rng, equal)
            text = " ".join(rng.choice(FILLER) for _ in range(6))
            completion = f"{text}\n\nTherefore the answer is $\\boxed{{{pred}}}$."
            pairs.append((completion, gold, equal))
    return pairs


def run_rewardsmith(pairs):
    from rewardsmith.verify import extract_answer, verify_math

    verify_math("x+1", "1+x")  # start the symbolic worker outside the timed loop
    t0 = time.perf_counter()
    out = [verify_math(extract_answer(c, "boxed"), g).equal for c, g, _ in pairs]
    return out, time.perf_counter() - t0


def run_math_verify(pairs):
    from math_verify import parse, verify

    verify(parse("$1$"), parse("$1$"))
    t0 = time.perf_counter()
    out = [bool(verify(parse(f"${g}$"), parse(c))) for c, g, _ in pairs]
    return out, time.perf_counter() - t0


def _mv_child(rows, conn) -> None:
    import logging

    logging.disable(logging.CRITICAL)  # its timeout warnings echo whole hostile inputs
    from math_verify import parse, verify

    for i, (p, g) in enumerate(rows):
        try:
            ok = bool(verify(parse(f"${g}$"), parse(f"${p}$")))
        except BaseException:  # noqa: BLE001 - anything it raises is a wrong answer here
            ok = None
        conn.send((i, ok))
    conn.send(None)


def math_verify_corpus(rows, per_item_timeout: float = 30.0) -> list:
    """Math-Verify's answers on the corpus; None where it raised or hung (killed)."""
    ctx = mp.get_context("spawn")
    answers: list = [None] * len(rows)
    start = 0
    while start < len(rows):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_mv_child, args=(rows[start:], child), daemon=True)
        proc.start()
        nxt = start
        first = True
        while True:
            if not parent.poll(per_item_timeout + (20 if first else 0)):
                proc.kill()
                proc.join()
                print(f"  Math-Verify hung on corpus row {nxt}: {rows[nxt][0][:60]!r} (killed)", file=sys.stderr)
                nxt += 1
                break
            msg = parent.recv()
            first = False
            if msg is None:
                nxt = len(rows)
                proc.join()
                break
            i, ok = msg
            answers[start + i] = ok
            nxt = start + i + 1
        start = nxt
    return answers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=250, help="distinct gold answers")
    ap.add_argument("--group", type=int, default=8, help="completions per gold answer (G)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    pairs = make_pairs(args.prompts, args.group, args.seed)
    truth = [e for _, _, e in pairs]
    rs, rs_t = run_rewardsmith(pairs)
    mv, mv_t = run_math_verify(pairs)
    n = len(pairs)
    rs_rate, mv_rate = n / rs_t, n / mv_t
    print(f"throughput on {n} pairs ({args.prompts} golds x G={args.group}, boxed answers in ~400-char completions):")
    print(f"  rewardsmith  {rs_rate:10.0f} pairs/s   agreement with construction labels {sum(a == b for a, b in zip(rs, truth)) / n:.4f}")
    print(f"  Math-Verify  {mv_rate:10.0f} pairs/s   agreement with construction labels {sum(a == b for a, b in zip(mv, truth)) / n:.4f}")
    print(f"  speedup      {rs_rate / mv_rate:10.1f}x")

    from rewardsmith.verify import verify_math

    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    rs_ok = [verify_math(r["pred"], r["gold"]).equal == r["equal"] for r in rows]
    mv_ans = math_verify_corpus([(r["pred"], r["gold"]) for r in rows])
    mv_ok = [a is not None and a == r["equal"] for a, r in zip(mv_ans, rows)]
    print(f"corpus accuracy ({len(rows)} labeled pairs, {CORPUS.relative_to(ROOT)}):")
    print(f"  rewardsmith  {sum(rs_ok) / len(rows):.4f}  ({len(rows) - sum(rs_ok)} wrong)")
    print(f"  Math-Verify  {sum(mv_ok) / len(rows):.4f}  ({len(rows) - sum(mv_ok)} wrong)")
    new = [(a, b) for r, a, b in zip(rows, rs_ok, mv_ok) if r["category"].startswith(NEW_FORMS)]
    if new:
        print(f"issue-11 forms and hack families ({len(new)} pairs, categories {', '.join(p + '*' for p in NEW_FORMS)}):")
        print(f"  rewardsmith  {sum(a for a, _ in new) / len(new):.4f}  ({len(new) - sum(a for a, _ in new)} wrong)")
        print(f"  Math-Verify  {sum(b for _, b in new) / len(new):.4f}  ({len(new) - sum(b for _, b in new)} wrong)")
    cats: dict = {}
    for r, a, b in zip(rows, rs_ok, mv_ok):
        c = cats.setdefault(r["category"], [0, 0, 0])
        c[0] += 1
        c[1] += a
        c[2] += b
    print(f"  {'category':20s} {'n':>4s} {'rewardsmith':>12s} {'Math-Verify':>12s}")
    for k in sorted(cats):
        c = cats[k]
        print(f"  {k:20s} {c[0]:4d} {c[1] / c[0]:12.3f} {c[2] / c[0]:12.3f}")
    wrong_mv = [r for r, ok in zip(rows, mv_ok) if not ok]
    print("Math-Verify wrong on:")
    for r in wrong_mv:
        print(f"  {r['category']:18s} {r['pred'][:50]!r:55s} vs {r['gold'][:30]!r} (label {r['equal']})")


if __name__ == "__main__":
    main()
