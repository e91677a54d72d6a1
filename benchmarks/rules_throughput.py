"""Seed-tiered scoring throughput: rewardsmith vs the TRL / open-r1 reward functions, same run.

Rows: ``<think>`` reasoning of ~400 characters, then ``<answer>\\boxed{...}</answer>`` (integers,
fractions, decimals; half right), plus bad formats (missing think, text after the answer, repeated
blocks). The peer is what an open-r1 user writes for the same tiers: ``trl.rewards.accuracy_reward``
(Math-Verify parse + verify) and open-r1's format regex, combined into +1 / -0.5 / -2.

Prints rows/s for rewardsmith (workers=0 and workers=N) and for the peer (on a subset: it is slow),
the speed ratio, and how often the two agree on labels (they differ by design where open-r1's format
regex passes text after ``</answer>`` and repeated blocks).

    .venv/bin/python benchmarks/rules_throughput.py [--rows 2000] [--workers 2] [--peer-rows 300]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import time
from collections import Counter

# benchmarks/math_verify.py would shadow the math_verify package that TRL imports
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

OPEN_R1_FORMAT = re.compile(r"^<think>\n.*?\n</think>\n<answer>\n.*?\n</answer>$", re.DOTALL | re.MULTILINE)
REWARD = {"correct": 1.0, "wrong_answer": -0.5, "bad_format": -2.0}


def make_rows(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    words = "we add the numbers then divide by the total so that each part is counted once".split()
    comps, golds = [], []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.5:
            a = rng.randint(1, 999)
            gold, right, wrong = str(a), str(a), str(a + rng.randint(1, 9))
        elif kind < 0.85:
            p, q = rng.randint(1, 50), rng.randint(2, 60)
            gold = f"\\frac{{{p}}}{{{q}}}"
            right, wrong = f"\\frac{{{2 * p}}}{{{2 * q}}}", f"\\frac{{{p + 1}}}{{{q}}}"
        else:
            a = rng.randint(1, 99)
            gold, right, wrong = f"{a}.5", f"\\frac{{{2 * a + 1}}}{{2}}", f"{a}.25"
        reasoning = " ".join(rng.choice(words) for _ in range(70))[:400]
        ans = right if rng.random() < 0.5 else wrong
        body = f"<think>\n{reasoning}\n</think>\n<answer>\n\\boxed{{{ans}}}\n</answer>"
        shape = rng.random()
        if shape < 0.05:
            body = body.replace("<think>\n", "", 1)  # missing <think>
        elif shape < 0.08:
            body += "\nI hope this is right!"  # text after </answer>: open-r1 passes it
        elif shape < 0.10:
            body += f"\n<answer>\n\\boxed{{{right}}}\n</answer>"  # repeated block
        comps.append(body)
        golds.append(gold)
    return comps, golds


def peer_labels(comps: list[str], golds: list[str]) -> list[str]:
    from trl.rewards import accuracy_reward

    acc = accuracy_reward([[{"role": "assistant", "content": c}] for c in comps], golds)
    out = []
    for c, a in zip(comps, acc):
        if not OPEN_R1_FORMAT.match(c):
            out.append("bad_format")
        else:
            out.append("correct" if a == 1.0 else "wrong_answer")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--peer-rows", type=int, default=300)
    args = ap.parse_args()

    from rewardsmith.rules import load_rules

    rules = load_rules("seed-tiered")
    comps, golds = make_rows(args.rows)
    rules.score_batch(comps[:50], golds[:50], workers=0)  # warm the symbolic worker and caches

    t = time.perf_counter()
    serial = rules.score_batch(comps, golds, workers=0)
    rps_serial = len(comps) / (time.perf_counter() - t)
    t = time.perf_counter()
    par = rules.score_batch(comps, golds, workers=args.workers)
    rps_par = len(comps) / (time.perf_counter() - t)
    assert par.labels == serial.labels

    m = min(args.peer_rows, len(comps))
    peer_labels(comps[:5], golds[:5])  # warm-up
    t = time.perf_counter()
    peer = peer_labels(comps[:m], golds[:m])
    rps_peer = m / (time.perf_counter() - t)

    agree = sum(a == b for a, b in zip(serial.labels[:m], peer))
    diffs = Counter((a, b) for a, b in zip(serial.labels[:m], peer) if a != b)
    print(f"rows: {len(comps)} seed-tiered, labels {dict(Counter(serial.labels))}")
    print(f"rewardsmith workers=0:            {rps_serial:9.0f} rows/s")
    print(f"rewardsmith workers={args.workers}:            {rps_par:9.0f} rows/s")
    print(f"TRL accuracy_reward + open-r1 fmt: {rps_peer:9.0f} rows/s  (first {m} rows)")
    print(f"speed ratio (rewardsmith workers=0 / peer): {rps_serial / rps_peer:.1f}x")
    print(f"label agreement on the first {m} rows: {agree}/{m}; disagreements (ours, peer): {dict(diffs)}")


if __name__ == "__main__":
    main()
