"""The server's scoring pool: worker processes fed from a bounded queue, never the event loop.

``ScoringService(ruleset, workers=N)`` runs N dispatcher threads, each owning a one-process
``rewardsmith.rules.ScoringPool`` (a supervised worker: hard per-row timeout, killed and replaced
when it hangs or dies). A request becomes a :class:`Job`, cut into chunks of ``chunk_rows``
consecutive rows that any dispatcher may take, so one large request uses every worker; jobs
take turns chunk by chunk (round-robin), so a large request does not hold up small ones.

* Admission is bounded: at most ``queue_size`` jobs are accepted and unfinished at once; one more
  raises :class:`QueueFull` (the app answers 429 with ``Retry-After``), never an unbounded backlog.
* Deadlines: a job carries an optional monotonic deadline; a chunk taken after it is not scored,
  and the waiting request is answered 504.
* A worker that dies mid-chunk (killed from outside, out of memory) costs no row: the rows it had
  are scored again once on a fresh worker; only a row that kills its worker twice keeps label
  ``error``.

Workers start with the ``forkserver`` method: the server process runs threads (the event loop,
the dispatchers), and forking a threaded process can copy a lock held by another thread.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
import threading
import time
from typing import Any, Callable, Sequence

from rewardsmith.rules import ScoringPool, default_workers

__all__ = ["ScoringService", "Job", "QueueFull", "DeadlineExceeded", "ServiceClosed"]

Result = tuple[float, str, dict, dict]

_WORKER_DIED = "worker died"


class QueueFull(Exception):
    """The bounded queue is full; ``retry_after`` is an estimate in seconds."""

    def __init__(self, queued: int, limit: int, retry_after: float) -> None:
        super().__init__(f"scoring queue is full ({queued} requests queued, limit {limit}); retry later")
        self.retry_after = retry_after


class DeadlineExceeded(Exception):
    """The job's deadline passed before every row was scored."""


class ServiceClosed(Exception):
    """The service is shutting down (or not started) and accepts no new work."""


class Job:
    """One request's rows and their results (filled by the dispatcher threads)."""

    __slots__ = ("texts", "golds", "fields", "results", "remaining", "deadline", "cancelled",
                 "_done", "_lock", "_callback", "error", "submitted", "chunks", "details")

    def __init__(self, texts: Sequence[str], golds: Sequence[Any], fields: Sequence[dict],
                 deadline: float | None, details: bool = True) -> None:
        self.texts, self.golds, self.fields = texts, golds, fields
        self.details = details  # False: only the label and the verdict's label and score come back
        self.results: list[Result | None] = [None] * len(texts)
        self.remaining = len(texts)
        self.deadline = deadline
        self.cancelled = False
        self.error: BaseException | None = None
        self.submitted = time.monotonic()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._callback: Callable[[], None] | None = None
        self.chunks: deque[list[int]] = deque()  # not yet taken by a dispatcher

    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    def _finish_rows(self, n: int, error: BaseException | None = None) -> bool:
        with self._lock:
            if error is not None and self.error is None:
                self.error = error
            self.remaining -= n
            last = self.remaining == 0
        return last

    def _notify(self) -> None:
        self._done.set()
        if self._callback is not None:
            try:
                self._callback()
            except RuntimeError:  # the waiting event loop is gone (its client left): nothing to tell
                pass

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every row is done (for synchronous callers)."""
        return self._done.wait(timeout)


class ScoringService:
    """Scores jobs on ``workers`` supervised processes (see the module docstring)."""

    def __init__(
        self,
        ruleset: Any,
        *,
        workers: int | None = None,
        queue_size: int = 64,
        chunk_rows: int = 64,
        row_timeout: float | None = None,
        start_method: str = "forkserver",
    ) -> None:
        workers = default_workers() if workers is None else workers
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers: expected an integer >= 1, got {workers!r}")
        if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
            raise ValueError(f"queue_size: expected an integer >= 1, got {queue_size!r}")
        if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
            raise ValueError(f"chunk_rows: expected an integer >= 1, got {chunk_rows!r}")
        spec_timeout = ruleset.spec.sample_timeout
        if row_timeout is not None and not (isinstance(row_timeout, (int, float)) and 0 < row_timeout < math.inf):
            raise ValueError(f"row_timeout: expected a positive number of seconds, got {row_timeout!r}")
        self.ruleset = ruleset
        self.workers = workers
        self.queue_size = queue_size
        self.chunk_rows = chunk_rows
        self.hard_timeout = float(spec_timeout if row_timeout is None else min(spec_timeout, row_timeout))
        self.verify_timeout = min(ruleset.spec.answer.timeout, self.hard_timeout)
        self.start_method = start_method
        # jobs with chunks left, served round-robin: a large request does not hold up small ones
        self._ready: deque[Job] = deque()
        self._cv = threading.Condition()
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._pools: list[ScoringPool] = []
        self._lock = threading.Lock()
        self._active = 0  # jobs accepted and not finished
        self._pending_rows = 0
        self._accepting = False
        self._rate = 2000.0  # rows/s, smoothed; used for Retry-After
        self.restarts = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the worker processes and the dispatcher threads."""
        if self._threads:
            return
        self._stopping = False
        for i in range(self.workers):
            pool = ScoringPool(self.ruleset, 1, start_method=self.start_method)
            pool.start()
            self._pools.append(pool)
            t = threading.Thread(target=self._dispatch, args=(pool,), name=f"rewardsmith-serve-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        self._accepting = True

    def close(self, timeout: float = 30.0) -> None:
        """Stop accepting, let queued chunks finish (up to ``timeout``), stop the workers."""
        self._accepting = False
        deadline = time.monotonic() + timeout
        while self._active and time.monotonic() < deadline:
            time.sleep(0.02)
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        for t in self._threads:
            t.join(timeout=max(0.1, deadline - time.monotonic()))
        for pool in self._pools:
            pool.close()
        self._threads.clear()
        self._pools.clear()

    # ------------------------------------------------------------------ state
    @property
    def ready(self) -> bool:
        return self._accepting and bool(self._threads) and all(t.is_alive() for t in self._threads)

    @property
    def active_jobs(self) -> int:
        return self._active

    @property
    def pending_rows(self) -> int:
        return self._pending_rows

    def worker_pids(self) -> list[int]:
        return [pid for pool in self._pools for pid in pool.pids()]

    # ------------------------------------------------------------------ submit
    def submit(self, texts: Sequence[str], golds: Sequence[Any], fields: Sequence[dict],
               deadline: float | None = None, callback: Callable[[], None] | None = None,
               details: bool = True) -> Job:
        """Accept a job (or raise :class:`QueueFull` / :class:`ServiceClosed`) and queue its chunks;
        ``callback`` is called (from a dispatcher thread) once every row is done."""
        job = Job(texts, golds, fields, deadline, details)
        job._callback = callback
        n = len(texts)
        with self._lock:
            if not self._accepting:
                raise ServiceClosed("the server is shutting down and accepts no new requests")
            if self._active >= self.queue_size:
                retry = max(1.0, min(30.0, (self._pending_rows + n) / max(self._rate, 1.0)))
                raise QueueFull(self._active, self.queue_size, retry)
            self._active += 1
            self._pending_rows += n
        if n == 0:
            self._job_done(job)
            job._notify()
            return job
        # on an idle pool a small request is spread over every worker (chunks of at least 8 rows);
        # under load whole chunks cost fewer round trips
        size = self.chunk_rows
        if self._pending_rows <= n:
            size = max(1, min(self.chunk_rows, max(8, math.ceil(n / self.workers))))
        job.chunks.extend(list(range(s, min(n, s + size))) for s in range(0, n, size))
        with self._cv:
            self._ready.append(job)
            self._cv.notify(len(job.chunks))
        return job

    async def run(self, texts: Sequence[str], golds: Sequence[Any], fields: Sequence[dict],
                  deadline: float | None = None, details: bool = True) -> list[Result]:
        """Submit and await a job from the event loop; the loop never scores."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future = loop.create_future()

        def done() -> None:
            loop.call_soon_threadsafe(lambda: fut.done() or fut.set_result(None))

        job = self.submit(texts, golds, fields, deadline, callback=done, details=details)
        try:
            if deadline is None:
                await fut
            else:
                await asyncio.wait_for(fut, max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            job.cancelled = True
            scored = sum(r is not None for r in job.results)
            raise DeadlineExceeded(f"deadline exceeded with {scored} of {len(texts)} rows scored") from None
        except asyncio.CancelledError:  # the client went away: skip what is not started
            job.cancelled = True
            raise
        if job.error is not None:
            raise job.error
        if job.cancelled or any(r is None for r in job.results):
            raise DeadlineExceeded(f"deadline exceeded with {sum(r is not None for r in job.results)} "
                                   f"of {len(texts)} rows scored")
        return job.results  # type: ignore[return-value]

    # ------------------------------------------------------------------ dispatcher threads
    def _job_done(self, job: Job) -> None:
        with self._lock:
            self._active -= 1

    def _dispatch(self, pool: ScoringPool) -> None:
        while True:
            with self._cv:
                while not self._ready and not self._stopping:
                    self._cv.wait()
                if not self._ready:  # stopping, and nothing left to do
                    return
                job = self._ready.popleft()
                idx = job.chunks.popleft()
                if job.chunks:
                    self._ready.append(job)
            try:
                self._handle(pool, job, idx)
            except BaseException:  # noqa: BLE001 - a dispatcher never dies; _handle reports errors
                pass

    def _handle(self, pool: ScoringPool, job: Job, idx: list[int]) -> None:
        err: BaseException | None = None
        if not job.cancelled and job.expired():
            job.cancelled = True
        if not job.cancelled:
            t0 = time.monotonic()
            try:
                self._score_chunk(pool, job, idx)
            except BaseException as exc:  # noqa: BLE001 - reported to the waiting request
                err = RuntimeError(f"scoring failed: {type(exc).__name__}: {exc}")
            dt = time.monotonic() - t0
            if dt > 0 and err is None:
                self._rate = 0.8 * self._rate + 0.2 * (len(idx) * self.workers / dt)
        with self._lock:
            self._pending_rows -= len(idx)
        if job._finish_rows(len(idx), err):
            self._job_done(job)
            job._notify()

    def _score_chunk(self, pool: ScoringPool, job: Job, idx: list[int]) -> None:
        texts = [job.texts[i] for i in idx]
        golds = [job.golds[i] for i in idx]
        fields = [job.fields[i] for i in idx]
        out = pool.run(texts, golds, fields, verify_timeout=self.verify_timeout,
                       hard_timeout=self.hard_timeout, chunk_size=len(idx), slim=not job.details)
        # rows whose worker died under them: once more on a fresh worker (a worker killed from
        # outside must not cost a row its reward; a row that kills its worker again keeps 'error')
        again = [k for k, r in enumerate(out)
                 if r[1] == "error" and str(r[2].get("why", "")).startswith(_WORKER_DIED)]
        if again and not job.cancelled:
            self.restarts += 1
            redo = pool.run([texts[k] for k in again], [golds[k] for k in again], [fields[k] for k in again],
                            verify_timeout=self.verify_timeout, hard_timeout=self.hard_timeout,
                            chunk_size=len(again), slim=not job.details)
            for k, r in zip(again, redo):
                out[k] = r
        for i, r in zip(idx, out):
            job.results[i] = r
