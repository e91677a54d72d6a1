"""Benchmark: rewardsmith's ``grpo`` against a verl-style Python loop and a memory-bandwidth floor.

    python benchmarks/advantages.py                      # 1k, 16k, 128k, 1M samples; G = 8, 16
    python benchmarks/advantages.py --sizes 1024,16384 --group-sizes 8 --loop-cap 16384
    python benchmarks/advantages.py --json out/bench_advantages.json

For each batch size n and group size G (float32 tier rewards 1 / -0.5 / -2):

* ``group_size``: ``advantages.grpo(r, group_size=G)`` (contiguous groups);
* ``ids``: ``advantages.grpo(r, groups=ids)`` with ``ids`` a shuffled int64 array of group ids;
* ``loop``: a straightforward per-group Python loop like verl's ``compute_grpo_outcome_advantage``
  (dict of lists per group id, ``torch.mean`` / ``torch.std`` per group, one scalar update per
  sample). It is measured up to ``--loop-cap`` samples; above that its per-sample time at the
  largest measured size is extrapolated (marked ``~``): it is linear in n;
* ``floor``: a numpy copy moving the bytes the computation must read and write, measured in the
  same run: ``group_size`` reads 4 B (float32 reward) and writes 4 B per sample = an ``np.copyto``
  of n float32; ``ids`` also reads the 8 B id = an ``np.copyto`` of n int64 (16 B per sample).

Times are the best of several repeats (the machine may be shared). Targets at 1M samples:
``group_size`` within 5x of its floor, ``ids`` within 8x, each >= 500x faster than the loop.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections import defaultdict
from typing import Any, Callable

import numpy as np
from rich.console import Console
from rich.table import Table

from rewardsmith import advantages

TIERS = np.array([1.0, -0.5, -2.0], dtype=np.float32)


CLOCK = time.perf_counter  # --clock cpu: time.thread_time (this thread's CPU time)


def best_of(fn: Callable[[], Any], budget_s: float = 0.4, min_reps: int = 5, max_reps: int = 300) -> float:
    """Best time of ``fn()`` over repeats filling about ``budget_s`` seconds."""
    fn()  # warm-up (allocations, imports, caches)
    t0 = CLOCK()
    fn()
    first = CLOCK() - t0
    reps = int(min(max_reps, max(min_reps, budget_s / max(first, 1e-9))))
    best = first
    for _ in range(reps):
        t0 = CLOCK()
        fn()
        best = min(best, CLOCK() - t0)
    return best


def verl_style_loop(scores: Any, index: np.ndarray, epsilon: float = 1e-6) -> Any:
    """The shape of verl's ``compute_grpo_outcome_advantage`` on 1-D outcome scores."""
    import torch

    scores = scores.clone()
    id2score: dict[Any, list] = defaultdict(list)
    id2mean, id2std = {}, {}
    with torch.no_grad():
        bsz = scores.shape[0]
        for i in range(bsz):
            id2score[index[i]].append(scores[i])
        for idx in id2score:
            if len(id2score[idx]) == 1:
                id2mean[idx] = torch.tensor(0.0)
                id2std[idx] = torch.tensor(1.0)
            else:
                id2mean[idx] = torch.mean(torch.stack(id2score[idx]))
                id2std[idx] = torch.std(torch.stack(id2score[idx]))
        for i in range(bsz):
            scores[i] = (scores[i] - id2mean[index[i]]) / (id2std[index[i]] + epsilon)
    return scores


def label(n: int) -> str:
    for unit, div in (("M", 1 << 20), ("k", 1 << 10)):
        if n >= div and n % div == 0:
            return f"{n // div}{unit}"
    return str(n)


def run(sizes: list[int], group_sizes: list[int], loop_cap: int, seed: int) -> list[dict]:
    import torch

    torch.set_num_threads(1)  # the loop is single-threaded Python anyway; keep it comparable
    rng = np.random.default_rng(seed)
    rows = []
    for g in group_sizes:
        loop_per_sample, err = None, float("nan")
        for n in sizes:
            n = n - n % g
            r = rng.choice(TIERS, size=n, p=[0.25, 0.35, 0.40]).astype(np.float32)
            ids = rng.permutation(np.repeat(np.arange(n // g, dtype=np.int64), g))
            dst32, dst64 = np.empty_like(r), np.empty_like(ids)
            t_gs = best_of(lambda: advantages.grpo(r, group_size=g))
            t_ids = best_of(lambda: advantages.grpo(r, groups=ids))
            f_gs = best_of(lambda: np.copyto(dst32, r))
            f_ids = best_of(lambda: np.copyto(dst64, ids))
            if n <= loop_cap or loop_per_sample is None:
                m = min(n, loop_cap - loop_cap % g)  # the loop runs on the first m samples
                ids_m = ids if m == n else rng.permutation(np.repeat(np.arange(m // g), g))
                t0 = CLOCK()
                looped = verl_style_loop(torch.from_numpy(r[:m].copy()), ids_m)
                loop_per_sample = (CLOCK() - t0) / m
                # the loop uses torch.std (Bessel): the same numbers as grpo(ddof=1)
                ours = advantages.grpo(r[:m], groups=ids_m, ddof=1)
                err = float(np.max(np.abs(looped.numpy() - ours)))
                if err > 1e-4:
                    raise SystemExit(f"loop and grpo(ddof=1) disagree by {err:.2e} at n={m}")
            t_loop, measured = loop_per_sample * n, n <= loop_cap
            rows.append(
                dict(n=n, group_size=g, grpo_group_size_s=t_gs, grpo_ids_s=t_ids,
                     floor_group_size_s=f_gs, floor_ids_s=f_ids, loop_s=t_loop,
                     loop_measured=measured, loop_max_abs_diff=err)
            )
    return rows


def ms(t: float) -> str:
    return f"{t * 1e3:.3f}" if t < 10 else f"{t:.1f} s"


def report(rows: list[dict], console: Console) -> bool:
    table = Table(title="grpo advantages: rewardsmith vs verl-style loop vs memory floor (ms, best of)")
    for col in ("n", "G", "group_size", "floor 8 B/s", "ratio", "ids", "floor 16 B/s", "ratio",
                "verl-style loop", "loop / group_size", "loop / ids"):
        table.add_column(col, justify="right")
    for row in rows:
        loop = ms(row["loop_s"])
        table.add_row(
            label(row["n"]), str(row["group_size"]),
            ms(row["grpo_group_size_s"]), ms(row["floor_group_size_s"]),
            f"{row['grpo_group_size_s'] / row['floor_group_size_s']:.1f}x",
            ms(row["grpo_ids_s"]), ms(row["floor_ids_s"]),
            f"{row['grpo_ids_s'] / row['floor_ids_s']:.1f}x",
            ("" if row["loop_measured"] else "~") + loop,
            f"{row['loop_s'] / row['grpo_group_size_s']:,.0f}x",
            f"{row['loop_s'] / row['grpo_ids_s']:,.0f}x",
        )
    console.print(table)
    console.print("~ = extrapolated from the loop's per-sample time at the largest measured size")
    worst = max(row["loop_max_abs_diff"] for row in rows)
    console.print(f"the loop's advantages equal grpo(ddof=1)'s to {worst:.1e} (max abs difference)")
    ok = True
    for row in rows:
        if row["n"] < 1_000_000:
            continue
        checks = [
            ("group_size / floor", row["grpo_group_size_s"] / row["floor_group_size_s"], 5.0, "<="),
            ("ids / floor", row["grpo_ids_s"] / row["floor_ids_s"], 8.0, "<="),
            ("loop / group_size", row["loop_s"] / row["grpo_group_size_s"], 500.0, ">="),
            ("loop / ids", row["loop_s"] / row["grpo_ids_s"], 500.0, ">="),
        ]
        for name, value, target, op in checks:
            hit = value <= target if op == "<=" else value >= target
            ok &= hit
            mark = "[green]meets[/]" if hit else "[red]misses[/]"
            console.print(f"n={label(row['n'])} G={row['group_size']}: {name} = {value:,.1f}x "
                          f"(target {op} {target:g}x): {mark}")
    return ok


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1024,16384,131072,1048576",
                   help="comma-separated batch sizes (samples)")
    p.add_argument("--group-sizes", default="8,16", help="comma-separated group sizes G")
    p.add_argument("--loop-cap", type=int, default=16384,
                   help="largest n at which the Python loop is run (above: extrapolated)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="wall: time.perf_counter; cpu: this thread's CPU time (time.thread_time),"
                   " steadier on a shared machine")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = p.parse_args(argv)
    global CLOCK
    CLOCK = time.thread_time if args.clock == "cpu" else time.perf_counter
    sizes = [int(s) for s in args.sizes.split(",")]
    gs = [int(s) for s in args.group_sizes.split(",")]
    console = Console(width=150)
    console.print(f"numpy {np.__version__}, {platform.processor() or platform.machine()}, "
                  f"{os.cpu_count()} cores, python {platform.python_version()}, clock: {args.clock}")
    rows = run(sizes, gs, args.loop_cap, args.seed)
    report(rows, console)
    if args.json:
        from rewardsmith.io import atomic_write_json

        atomic_write_json(args.json, {"rows": rows})
        console.print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
