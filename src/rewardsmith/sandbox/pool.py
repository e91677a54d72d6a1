"""Many runs at once: ``SandboxPool`` (bounded by workers and by a memory budget) and ``run_many``."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Mapping, Sequence

import rewardsmith.sandbox.cgroups as cgroups
from rewardsmith.sandbox.config import SandboxConfig
from rewardsmith.sandbox.one_run import run
from rewardsmith.sandbox.result import RunResult


class SandboxPool:
    """Run many programs concurrently: ``workers`` at a time (default all cores), and never more
    than ``memory_budget_mb`` of summed ``memory_mb`` limits at once (default: the process-wide
    budget, half of RAM, which the zygote's memory cgroup also enforces where there is one)."""

    def __init__(self, workers: int | None = None, memory_budget_mb: int | None = None,
                 config: SandboxConfig | None = None) -> None:
        self.workers = int(workers or os.cpu_count() or 1)
        if self.workers < 1:
            raise ValueError(f"workers={workers!r}: expected an int >= 1")
        if memory_budget_mb is None:
            memory_budget_mb = cgroups.memory_budget_mb()
        if not (isinstance(memory_budget_mb, int) and memory_budget_mb >= 32):
            raise ValueError(f"memory_budget_mb={memory_budget_mb!r}: expected an int >= 32 (MiB)")
        self.memory_budget_mb = int(memory_budget_mb)
        self.config = config or SandboxConfig()
        self._free = self.memory_budget_mb
        self._cond = threading.Condition()
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="sandbox")

    def _reserve(self, mb: int) -> int:
        mb = min(mb, self.memory_budget_mb)
        with self._cond:
            while self._free < mb:
                self._cond.wait()
            self._free -= mb
        return mb

    def _release(self, mb: int) -> None:
        with self._cond:
            self._free += mb
            self._cond.notify_all()

    def _one(self, kwargs: dict) -> RunResult:
        cfg = kwargs.pop("config", None) or self.config
        mb = kwargs.get("memory_mb") or cfg.memory_mb
        held = self._reserve(mb)
        try:
            return run(config=cfg, **kwargs)
        finally:
            self._release(held)

    def submit(self, code: str, stdin: str | bytes = "", **kwargs):
        """Schedule one run; returns a Future of RunResult."""
        return self._executor.submit(self._one, {"code": code, "stdin": stdin, **kwargs})

    def map(self, jobs: Iterable[Mapping], progress: bool = False) -> list[RunResult]:
        """Run ``jobs`` (dicts of ``run`` keyword arguments) and return results in order."""
        futures = [self._executor.submit(self._one, dict(job)) for job in jobs]
        if not progress:
            return [f.result() for f in futures]
        from concurrent.futures import as_completed

        from rewardsmith.progress import progress_bar

        with progress_bar() as bar:
            task = bar.add_task("sandbox", total=len(futures))
            for _ in as_completed(futures):
                bar.advance(task)
        return [f.result() for f in futures]

    def close(self) -> None:
        """Wait for every scheduled run, then stop the worker threads."""
        self._executor.shutdown(wait=True)

    def __enter__(self) -> "SandboxPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def run_many(programs: Sequence[str], stdins: Sequence[str] | None = None, *, workers: int | None = None,
             config: SandboxConfig | None = None) -> list[RunResult]:
    """Run each program (with the matching stdin) in a pool; results in input order."""
    stdins = list(stdins) if stdins is not None else [""] * len(programs)
    if len(stdins) != len(programs):
        raise ValueError(f"stdins has {len(stdins)} items: expected {len(programs)} (one per program)")
    with SandboxPool(workers=workers, config=config) as pool:
        return pool.map({"code": c, "stdin": s} for c, s in zip(programs, stdins))
