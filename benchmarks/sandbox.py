"""Sandbox speed, side by side with a bare subprocess in the same run.

1. Overhead per execution: a trivial program through ``sandbox.run`` vs a bare
   ``subprocess.run([python, "-c", ...])`` (no containment at all), interleaved, median of N.
   Target: ratio < 1.5. Also shown: the sandbox without its zygote (``zygote=False``).
2. Throughput: 200 short solutions (A+B, half right, half wrong) x 5 stdin/stdout tests each,
   graded by the ``code`` rules (``score_batch``, all cores, every test run: partial credit), vs the
   same 1000 runs as bare subprocesses on a thread pool of the same width.

    python benchmarks/sandbox.py [--runs 40] [--solutions 200] [--tests 5] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from rewardsmith import sandbox
from rewardsmith.rules.code import code_rules

TRIVIAL = "print(1)"


def bare(code: str, stdin: str = "") -> str:
    return subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True, text=True,
                          timeout=30).stdout


def overhead(runs: int) -> dict:
    sandbox.run(TRIVIAL)  # mode detection and warm caches, as in a long run
    bare(TRIVIAL)
    t_bare, t_sb, t_one = [], [], []
    for _ in range(runs):
        t = time.perf_counter()
        bare(TRIVIAL)
        t_bare.append(time.perf_counter() - t)
        t = time.perf_counter()
        res = sandbox.run(TRIVIAL)
        t_sb.append(time.perf_counter() - t)
        assert res.ok and res.stdout == "1\n", res
        t = time.perf_counter()
        one = sandbox.run(TRIVIAL, zygote=False)  # a fresh `unshare ... python` per run
        t_one.append(time.perf_counter() - t)
        assert one.ok and one.stdout == "1\n", one
    b, s, o = statistics.median(t_bare), statistics.median(t_sb), statistics.median(t_one)
    return {"bare_ms": b * 1e3, "sandbox_ms": s * 1e3, "ratio": s / b, "oneshot_ms": o * 1e3,
            "oneshot_ratio": o / b, "mode": res.containment["mode"]}


def throughput(n: int, n_tests: int, workers: int) -> dict:
    right = "a, b = map(int, input().split())\nprint(a + b)\n"
    wrong = "a, b = map(int, input().split())\nprint(a - b)\n"
    tests = [{"input": f"{i} {i + 1}\n", "output": f"{2 * i + 1}\n"} for i in range(n_tests)]
    completions = [f"```python\n{right if i % 2 == 0 else wrong}```" for i in range(n)]
    rules = code_rules(partial=True)
    t = time.perf_counter()
    batch = rules.score_batch(completions, fields=[{"tests": tests}] * n, workers=workers)
    dt_sb = time.perf_counter() - t
    assert batch.labels == ["passed" if i % 2 == 0 else "wrong_answer" for i in range(n)], batch.label_counts()
    jobs = [(right if i % 2 == 0 else wrong, c["input"]) for i in range(n) for c in tests]
    t = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        list(ex.map(lambda j: bare(*j), jobs))
    dt_bare = time.perf_counter() - t
    return {"solutions": n, "tests_each": n_tests, "workers": workers,
            "sandbox_programs_per_s": n / dt_sb, "sandbox_runs_per_s": n * n_tests / dt_sb,
            "bare_programs_per_s": n / dt_bare, "bare_runs_per_s": n * n_tests / dt_bare,
            "ratio": dt_sb / dt_bare}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--solutions", type=int, default=200)
    ap.add_argument("--tests", type=int, default=5)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    o = overhead(args.runs)
    print(f"overhead per execution ({o['mode']}): bare subprocess {o['bare_ms']:.1f} ms, "
          f"sandbox {o['sandbox_ms']:.1f} ms, ratio {o['ratio']:.2f}x (target < 1.5x); without the zygote "
          f"(unshare + a fresh interpreter per run) {o['oneshot_ms']:.1f} ms, {o['oneshot_ratio']:.2f}x")
    t = throughput(args.solutions, args.tests, args.workers)
    print(f"batch of {t['solutions']} solutions x {t['tests_each']} tests, {t['workers']} workers: "
          f"sandbox {t['sandbox_programs_per_s']:.1f} programs/s ({t['sandbox_runs_per_s']:.0f} runs/s), "
          f"bare subprocess {t['bare_programs_per_s']:.1f} programs/s ({t['bare_runs_per_s']:.0f} runs/s), "
          f"ratio {t['ratio']:.2f}x")
    print(json.dumps({"overhead": o, "throughput": t}))


if __name__ == "__main__":
    main()
