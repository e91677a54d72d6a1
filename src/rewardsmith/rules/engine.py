"""Batch scoring engine: supervised worker processes that keep input order and survive bad input.

The batch is cut into chunks of consecutive completions (``chunk_size``, to amortize IPC). Each
chunk carries its distinct gold answers once, so the parsed-gold cache (``verify``'s, per process)
lives in the worker that checks that gold's G completions. Each worker is a process we start
ourselves (``multiprocessing`` "fork" context where available, one pipe each) and writes into shared memory
which completion it is on and since when. The parent waits on every pipe and process sentinel:

* a worker that stays on one completion longer than the hard ``timeout`` is killed (its whole
  process group, so a verifier's own subprocesses go too): that completion gets label ``timeout``;
* a worker that dies (segfault, ``os._exit``, out of memory): that completion gets label ``error``;

and the rest of the chunk is sent again to a fresh worker, so one hostile completion costs one
label, never the batch. Why not ``concurrent.futures.ProcessPoolExecutor``: after a worker dies
it marks the whole pool broken and fails every pending future, and it cannot kill a hung task.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import numbers
import os
import signal
import time
from collections import deque
from multiprocessing.connection import wait
from typing import Any, Sequence

__all__ = ["run_batch", "ScoringPool", "default_workers", "START_METHOD"]

# "fork" where the OS has it: workers start in milliseconds with nothing to import, a script needs
# no ``if __name__ == "__main__"`` guard, and checks registered in a notebook or ``__main__`` work.
# The worker touches none of the parent's threads' state (it only reads its pipe and scores; the
# math verifier resets its own subprocess pool after fork). Set REWARDSMITH_START_METHOD=forkserver
# (or spawn) to opt out.
START_METHOD = os.environ.get(
    "REWARDSMITH_START_METHOD", "fork" if "fork" in mp.get_all_start_methods() else "spawn"
)
_POLL_S = 0.05  # how often hung workers are looked for
_MAX_STARTUP_FAILURES = 3  # workers dying before scoring anything: give up after this many

Result = tuple[float, str, dict, dict]


def default_workers() -> int:
    """Cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _verify_timeout(ruleset: Any, timeout: float | None) -> float:
    t = ruleset.spec.answer.timeout
    return t if timeout is None else min(t, timeout)


def run_batch(
    ruleset: Any,
    texts: Sequence[str],
    golds: Sequence[Any],
    fields: Sequence[dict],
    *,
    workers: int | None = None,
    timeout: float | None = None,
    progress: bool = False,
    chunk_size: int | None = None,
) -> list[Result]:
    """Evaluate ``ruleset`` on every row; one ``(reward, label, details, components)`` per row, in
    input order. ``workers=0`` (or when called from a daemonic process, which may not start
    children): serially in this process. See the module docstring."""
    n = len(texts)
    if workers is None:
        workers = default_workers()
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or workers < 0:
        raise ValueError(f"workers: expected an int >= 0 (0 = in process), got {workers!r}")
    workers = int(workers)
    if chunk_size is not None and (
        isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral) or chunk_size < 1
    ):
        raise ValueError(f"chunk_size: expected an int >= 1, got {chunk_size!r}")
    vt = _verify_timeout(ruleset, timeout)
    if n == 0:
        return []
    if workers == 0 or mp.current_process().daemon:  # a daemonic process may not have children
        return _run_serial(ruleset, texts, golds, fields, vt, progress)
    if chunk_size is None:
        chunk_size = max(1, min(64, math.ceil(n / (workers * 4))))
    chunk_size = int(chunk_size)
    workers = min(workers, math.ceil(n / chunk_size))
    hard = ruleset.spec.sample_timeout if timeout is None else float(timeout)
    with ScoringPool(ruleset, workers) as pool:
        return pool.run(texts, golds, fields, verify_timeout=vt, hard_timeout=hard,
                        chunk_size=chunk_size, progress=progress)


def _run_serial(ruleset, texts, golds, fields, vt, progress) -> list[Result]:
    from rewardsmith.progress import progress_bar

    out: list[Result] = []
    with progress_bar(disable=not progress) as bar:
        task = bar.add_task("scoring", total=len(texts))
        for t, g, f in zip(texts, golds, fields):
            out.append(ruleset.evaluate(t, g, f, vt))
            bar.advance(task)
    return out


# ------------------------------------------------------------------------------------ worker side
def _slim(res: Result) -> Result:
    """A result whose details keep only the label and the verdict's label and score."""
    reward, label, det, comps = res
    small: dict[str, Any] = {"label": label}
    v = det.get("verdict")
    if isinstance(v, dict):
        small["verdict"] = {"label": v.get("label"), "score": v.get("score")}
    return reward, label, small, comps


def _owner_gone(owner: int) -> bool:
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, not ours to signal
        pass
    return False


def _worker_main(ruleset: Any, conn: Any, state: Any, owner: int | None = None) -> None:
    """Loop: receive a chunk, score it item by item (announcing each in ``state``), send results."""
    try:
        os.setsid()  # own process group: the parent can kill us with our children
    except OSError:  # pragma: no cover
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    while True:
        try:
            # a forked sibling may hold our pipe's other end, so the owner's death need not
            # close it: an idle worker also checks once a second that its owner still lives
            if not conn.poll(1.0):
                if owner is not None and _owner_gone(owner):
                    return
                continue
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        chunk_id, golds, items, vt = msg[:4]
        slim = len(msg) > 4 and msg[4]
        out = []
        for idx, text, g, f in items:
            state[1] = time.monotonic()
            state[0] = idx
            res = ruleset.evaluate(text, golds[g] if g >= 0 else None, f, vt)
            out.append((idx, _slim(res) if slim else res))
        state[0] = -1
        try:
            conn.send((chunk_id, out))
        except (EOFError, OSError, BrokenPipeError):
            return
        except Exception as exc:  # noqa: BLE001 - an unpicklable detail from a custom check
            why = f"result could not be sent back: {type(exc).__name__}: {exc}"
            conn.send((chunk_id, [(i, (math.nan, "error", {"why": why, "label": "error"}, {}))
                                  for i, _ in out]))


# ------------------------------------------------------------------------------------ parent side
class _Slot:
    __slots__ = ("proc", "conn", "state", "items")

    def __init__(self, proc: Any, conn: Any, state: Any) -> None:
        self.proc, self.conn, self.state = proc, conn, state
        self.items: list[int] | None = None


class ScoringPool:
    """Up to ``workers`` supervised processes scoring with one rule set (a context manager).

    Reuse one across batches to skip process start-up: ``with ScoringPool(rs, 4) as pool:
    pool.run(...)``; ``RuleSet.score_batch`` makes a fresh one per call.
    """

    def __init__(self, ruleset: Any, workers: int, start_method: str | None = None) -> None:
        if workers < 1:
            raise ValueError(f"workers: expected >= 1, got {workers}")
        self.ruleset = ruleset
        self.workers = workers
        method = start_method or START_METHOD
        self._ctx = mp.get_context(method)
        if method == "forkserver":
            self._ctx.set_forkserver_preload(["rewardsmith.rules", "rewardsmith.verify"])
        self._slots: list[_Slot] = []
        self.restarts = 0  # workers replaced after a hang or crash

    def __enter__(self) -> "ScoringPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def start(self) -> None:
        """Start the workers now (``run`` otherwise starts them on first use)."""
        while len(self._slots) < self.workers:
            self._start()

    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        return [s.proc.pid for s in self._slots if s.proc.is_alive()]

    def _start(self) -> _Slot:
        parent, child = self._ctx.Pipe()
        state = self._ctx.RawArray("d", 2)
        state[0] = -1
        proc = self._ctx.Process(
            target=_worker_main, args=(self.ruleset, child, state, os.getpid()), name="rewardsmith-scorer",
            daemon=False,  # a daemonic process may not start children (the math verifier does)
        )
        proc.start()
        child.close()
        slot = _Slot(proc, parent, state)
        self._slots.append(slot)
        return slot

    def _kill(self, slot: _Slot) -> None:
        pid = slot.proc.pid
        try:
            os.killpg(pid, signal.SIGKILL)  # the worker and whatever it started
        except (ProcessLookupError, PermissionError, OSError):
            pass
        try:
            slot.proc.kill()
        except Exception:  # noqa: BLE001
            pass
        slot.proc.join(timeout=5)
        slot.conn.close()
        if slot in self._slots:
            self._slots.remove(slot)

    def close(self) -> None:
        """Stop every worker (politely, then SIGKILL after a second)."""
        for slot in list(self._slots):
            try:
                slot.conn.send(None)
            except (OSError, BrokenPipeError):
                pass
        deadline = time.monotonic() + 1.0
        for slot in list(self._slots):
            slot.proc.join(timeout=max(0.0, deadline - time.monotonic()))
            self._kill(slot)

    def run(
        self,
        texts: Sequence[str],
        golds: Sequence[Any],
        fields: Sequence[dict],
        *,
        verify_timeout: float,
        hard_timeout: float,
        chunk_size: int,
        progress: bool = False,
        slim: bool = False,
    ) -> list[Result]:
        """Score every row (see the module docstring); results in input order. ``slim``: the
        workers send back only the label and the verdict's label and score of each row's details
        (sending and unpickling full details cost a server ~20% of the scoring time)."""
        from rewardsmith.progress import progress_bar

        n = len(texts)
        results: list[Result | None] = [None] * n
        queue: deque[list[int]] = deque(
            list(range(s, min(n, s + chunk_size))) for s in range(0, n, chunk_size)
        )
        busy: dict[_Slot, list[int]] = {}
        # workers left by an earlier run (or start()) are idle; a dead one is replaced
        for slot in [s for s in self._slots if not s.proc.is_alive()]:
            self._kill(slot)
        idle: list[_Slot] = list(self._slots)
        done = 0
        startup_failures = 0
        chunk_id = 0

        # a disabled rich bar still costs ~1 ms to build: long-lived pools run many small chunks
        with (progress_bar() if progress else _NoBar()) as bar:
            task = bar.add_task("scoring", total=n)

            def finish(idx: int, res: Result) -> None:
                nonlocal done
                if results[idx] is None:
                    done += 1
                    bar.advance(task)
                results[idx] = res

            def fail(slot: _Slot, label: str, why: str) -> None:
                nonlocal startup_failures
                items = busy.pop(slot)
                cur = int(slot.state[0])
                self._kill(slot)
                self.restarts += 1
                if cur >= 0 and cur in items:
                    finish(cur, self.ruleset.failed(texts[cur], fields[cur], label, why))
                    rest = [i for i in items if i != cur]
                else:
                    startup_failures += 1
                    if startup_failures > _MAX_STARTUP_FAILURES:
                        raise RuntimeError(
                            f"scoring workers keep dying before they score anything ({why}); "
                            "run with workers=0 to see the error in this process"
                        )
                    rest = items
                if rest:
                    queue.appendleft(rest)

            while done < n:
                while queue and (idle or len(self._slots) < self.workers):
                    slot = idle.pop() if idle else self._start()
                    items = queue.popleft()
                    gold_ids: dict[Any, int] = {}
                    chunk_golds: list[Any] = []
                    payload = []
                    for i in items:
                        g = golds[i]
                        if g is None:
                            gi = -1
                        else:
                            try:
                                key: Any = (type(g).__name__, g)
                                hash(key)
                            except TypeError:
                                key = ("id", id(g))
                            gi = gold_ids.get(key, -1)
                            if gi < 0:
                                gi = gold_ids[key] = len(chunk_golds)
                                chunk_golds.append(g)
                        payload.append((i, texts[i], gi, fields[i]))
                    chunk_id += 1
                    busy[slot] = items
                    try:
                        msg = (chunk_id, chunk_golds, payload, verify_timeout)
                        slot.conn.send(msg + (True,) if slim else msg)
                    except (OSError, BrokenPipeError):
                        slot.state[0] = -1
                        fail(slot, "error", "worker pipe closed")
                if not busy:  # pragma: no cover - defensive
                    continue
                waitables = [s.conn for s in busy] + [s.proc.sentinel for s in busy]
                ready = set(wait(waitables, timeout=_POLL_S))
                now = time.monotonic()
                for slot in list(busy):
                    if slot.conn in ready:
                        try:
                            _, out = slot.conn.recv()
                        except (EOFError, OSError):
                            fail(slot, "error", f"worker died (exit code {_exitcode(slot)})")
                            continue
                        for idx, res in out:
                            finish(idx, res)
                        del busy[slot]
                        idle.append(slot)
                    elif slot.proc.sentinel in ready:
                        fail(slot, "error", f"worker died (exit code {_exitcode(slot)})")
                    else:
                        cur = int(slot.state[0])
                        if cur >= 0 and now - slot.state[1] > hard_timeout:
                            fail(slot, "timeout", f"no result after {hard_timeout:g}s; worker killed")
        return results  # type: ignore[return-value]


class _NoBar:
    """The part of rich's Progress that ``run`` uses, doing nothing."""

    def __enter__(self) -> "_NoBar":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def add_task(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def advance(self, *args: Any, **kwargs: Any) -> None:
        return None


def _exitcode(slot: _Slot) -> Any:
    slot.proc.join(timeout=0.5)
    return slot.proc.exitcode
