"""Benchmark: scoring a rollout set with the local batch engine vs Ray Data on this machine.

    python benchmarks/ray_scoring.py                     # 2,000 rows, seed-tiered, 2 actors
    python benchmarks/ray_scoring.py --rows 20000 --actors 4 --batch-size 512 --json out/ray.json

Rows are synthetic math rollouts (a quarter bad format, the rest right or wrong answers, a third of
them needing the symbolic path: ``(x+1)^2`` against ``x^2+2x+1``, fractions, ...). It measures, in
one run:

* ``local serial``: ``RuleSet.score_batch(workers=0)`` (in-process);
* ``local pool``: ``RuleSet.score_batch()`` (the rules' process pool, all cores);
* ``ray, 1st call`` / ``ray, 2nd call``: ``score_rows_ray`` on a local Ray already started
  (``ray.init`` excluded), ``--actors`` actors holding the rule set. Each call starts its own actor
  pool (each actor imports rewardsmith and builds the rule set: seconds), so the overhead is paid
  per call and amortized over the rows.

and checks that every engine returned the same rewards and labels. Ray earns its keep on a cluster
(``--address``), where it adds machines; on one small machine it can only add overhead, which is
what this shows.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from rich.console import Console
from rich.table import Table


def make_rows(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    pairs = [("4", "4", "4"), ("\\frac{1}{2}", "0.5", "1/3"), ("(x+1)^2", "x^2+2x+1", "x^2+1"),
             ("2\\sqrt{2}", "\\sqrt{8}", "3"), ("\\{1,2\\}", "\\{2,1\\}", "\\{1\\}"), ("12", "12", "13")]
    rows = []
    for i in range(n):
        gold, right, wrong = pairs[rng.integers(len(pairs))]
        u = rng.random()
        if u < 0.25:
            completion = f"the answer is {right}"
        elif u < 0.6:
            completion = f"<think>step {i}</think><answer>{right}</answer>"
        else:
            completion = f"<think>step {i}</think><answer>{wrong}</answer>"
        rows.append({"prompt": f"q{i // 8}", "completion": completion, "answer": gold})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--rules", default="seed-tiered")
    ap.add_argument("--actors", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--address", default=None, help="a Ray cluster (default: local)")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()

    import ray

    from rewardsmith.integrations.ray import score_rows_ray
    from rewardsmith.rules import load_rules

    rows = make_rows(args.rows)
    completions = [r["completion"] for r in rows]
    answers = [r["answer"] for r in rows]
    rules = load_rules(args.rules)
    results: dict[str, dict] = {}

    def record(name: str, seconds: float, batch) -> None:
        results[name] = {"seconds": seconds, "rows_per_s": len(rows) / seconds,
                         "rewards": np.asarray(batch.rewards), "labels": list(batch.labels)}

    rules.score_batch(completions[:16], answers[:16], workers=0)  # warm the verifier workers
    t = time.perf_counter()
    b = rules.score_batch(completions, answers, workers=0)
    record("local serial", time.perf_counter() - t, b)
    t = time.perf_counter()
    b = rules.score_batch(completions, answers)
    record("local pool", time.perf_counter() - t, b)

    init = {"include_dashboard": False, "log_to_driver": False}
    if args.address:
        init["address"] = args.address
    t = time.perf_counter()
    ray.init(**init)
    ray_init_s = time.perf_counter() - t
    try:
        t = time.perf_counter()
        b = score_rows_ray(args.rules, rows, batch_size=args.batch_size, num_actors=args.actors)
        record("ray, 1st call", time.perf_counter() - t, b)
        t = time.perf_counter()
        b = score_rows_ray(args.rules, rows, batch_size=args.batch_size, num_actors=args.actors)
        record("ray, 2nd call", time.perf_counter() - t, b)
    finally:
        ray.shutdown()

    ref = results["local serial"]
    for name, r in results.items():
        same = np.array_equal(r["rewards"], ref["rewards"], equal_nan=True) and r["labels"] == ref["labels"]
        if not same:
            raise SystemExit(f"{name}: results differ from the local engine")

    table = Table(title=f"{len(rows):,} rows, rules {args.rules!r}, {os.cpu_count()} cores, {args.actors} Ray actors")
    for col in ("engine", "seconds", "rows/s", "vs local serial"):
        table.add_column(col, justify="right" if col != "engine" else "left")
    for name, r in results.items():
        table.add_row(name, f"{r['seconds']:.2f}", f"{r['rows_per_s']:,.0f}",
                      f"{ref['seconds'] / r['seconds']:.2f}x")
    console = Console()
    console.print(table)
    console.print(f"ray.init: {ray_init_s:.1f} s (not counted); every engine returned identical rewards and labels")
    if args.json:
        from rewardsmith.io import atomic_write_json

        atomic_write_json(args.json, {
            "rows": len(rows), "rules": args.rules, "actors": args.actors, "batch_size": args.batch_size,
            "cpus": os.cpu_count(), "python": platform.python_version(), "ray_init_s": ray_init_s,
            "engines": {k: {"seconds": v["seconds"], "rows_per_s": v["rows_per_s"]} for k, v in results.items()},
        })


if __name__ == "__main__":
    main()
