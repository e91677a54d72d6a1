"""Supervised worker processes for the symbolic path, with a hard per-sample timeout.

Why not ``signal.alarm`` (Math-Verify's way): it only works in the main thread of the main
interpreter, takes whole seconds, and cannot interrupt a long C-level computation (a sympy
big-integer power), so ``\\dfrac{5^{(5^{(5^{5^5})}-4)}-5}{16}`` hangs through it. Here each
symbolic check runs in a child process started with ``subprocess`` (so it works from any thread,
from daemonic pool workers and after ``fork``), talking line-delimited JSON over pipes. The parent
waits on the pipe with ``select`` for ``timeout`` seconds (fractions allowed); a worker that does
not answer in time is killed (SIGKILL) and a fresh one is started for the next request. Idle
workers are pooled so that concurrent threads never wait on each other. A worker caps its own
address space (``WORKER_MEMORY_BYTES``) and dies with its parent process (``PR_SET_PDEATHSIG`` on
Linux; workers are started from one long-lived thread, since that signal follows the thread).
POSIX only (``select`` on pipes).
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import select
import subprocess
import sys
import threading
import time

__all__ = ["WorkerPool", "get_pool", "main", "STARTUP_TIMEOUT", "WORKER_MEMORY_BYTES"]

STARTUP_TIMEOUT = 120.0  # seconds for a worker to import sympy and say "ready"
WORKER_MEMORY_BYTES = 4 * 1024**3  # RLIMIT_AS of a worker
MAX_IDLE = max(4, os.cpu_count() or 1)  # idle workers kept for reuse (one per concurrent caller)


class WorkerDied(Exception):
    pass


class _Spawner:
    """Starts every worker from one long-lived thread. Linux's PR_SET_PDEATHSIG fires when the
    *thread* that forked the child exits, so a worker started from a short-lived caller thread
    would die with it; started from here, it dies only with this process."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.q: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._run, name="rewardsmith-verify-spawner", daemon=True).start()

    def _run(self) -> None:
        while True:
            kwargs, box, done = self.q.get()
            try:
                box.append(subprocess.Popen(**kwargs))
            except BaseException as e:  # noqa: BLE001 - handed to the caller
                box.append(e)
            done.set()

    def popen(self, **kwargs) -> subprocess.Popen:
        box: list = []
        done = threading.Event()
        self.q.put((kwargs, box, done))
        done.wait()
        if isinstance(box[0], BaseException):
            raise WorkerDied(f"cannot start the symbolic worker: {box[0]}")
        return box[0]


_SPAWNER: _Spawner | None = None
_SPAWNER_LOCK = threading.Lock()


def _spawner() -> _Spawner:
    global _SPAWNER
    with _SPAWNER_LOCK:
        if _SPAWNER is None or _SPAWNER.pid != os.getpid():  # none yet, or forked: threads are gone
            _SPAWNER = _Spawner()
        return _SPAWNER


class _Worker:
    def __init__(self) -> None:
        env = dict(os.environ)
        pkg_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = os.pathsep.join([pkg_root] + [p for p in sys.path if p])
        self.proc = _spawner().popen(
            args=[sys.executable, "-c", "from rewardsmith.verify._worker import main; main()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
        self.fd = self.proc.stdout.fileno()
        self.buf = b""
        line = self._read_line(STARTUP_TIMEOUT)
        if line is None or json.loads(line).get("ready") is not True:
            self.kill()
            raise WorkerDied("symbolic worker did not start")

    def _read_line(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                raise WorkerDied("symbolic worker exited")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def request(self, pred: str, gold: str, timeout: float) -> dict | None:
        """The worker's answer, or None on timeout (the caller then kills this worker)."""
        msg = json.dumps({"pred": pred, "gold": gold}).encode("ascii") + b"\n"
        try:
            self.proc.stdin.write(msg)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise WorkerDied(f"symbolic worker pipe closed: {e}") from None
        line = self._read_line(timeout)
        return None if line is None else json.loads(line)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(timeout=5)
        except Exception:
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except Exception:
                pass


class WorkerPool:
    """Idle workers, taken one per request; thread-safe; reset in a forked child."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._pid = os.getpid()
        self.started = 0  # workers started so far (tests check replacement)

    def _take(self, fresh: bool = False) -> tuple[_Worker, bool]:
        """(worker, reused): an idle live worker, else a new one."""
        dead = []
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's pipes are not ours
                self._idle, self._pid = [], os.getpid()
            while self._idle and not fresh:
                w = self._idle.pop()
                if w.alive():
                    break
                dead.append(w)
            else:
                w = None
        for d in dead:
            d.kill()  # reap it and close its pipes
        if w is not None:
            return w, True
        w = _Worker()
        with self._lock:
            self.started += 1
        return w, False

    def _give(self, w: _Worker) -> None:
        with self._lock:
            if w.alive() and len(self._idle) < MAX_IDLE and self._pid == os.getpid():
                self._idle.append(w)
                return
        w.kill()

    def run(self, pred: str, gold: str, timeout: float) -> tuple[str, str]:
        """(label, reason): the worker's verdict, ``timeout`` or ``error`` (worker died)."""
        for attempt in range(2):
            try:
                w, reused = self._take(fresh=attempt > 0)
            except WorkerDied as e:
                return "error", str(e)
            try:
                res = w.request(pred, gold, timeout)
                break
            except WorkerDied as e:
                w.kill()
                if not reused or attempt:  # a fresh worker died on this input: report it
                    return "error", f"{e} (replaced)"
                # an idle worker that had died in the meantime: retry once on a fresh one
        if res is None:
            w.kill()
            return "timeout", f"symbolic check exceeded {timeout:g} s; worker killed and replaced"
        self._give(w)
        return res["label"], res["reason"]

    def shutdown(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        if self._pid == os.getpid():
            for w in idle:
                w.kill()


_POOL: WorkerPool | None = None
_POOL_LOCK = threading.Lock()


def get_pool() -> WorkerPool:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = WorkerPool()
            atexit.register(_POOL.shutdown)
        return _POOL


def _after_fork_in_child() -> None:
    """A forked child owns no workers, no spawner thread, and no lock another thread held."""
    global _SPAWNER, _SPAWNER_LOCK, _POOL_LOCK
    _SPAWNER, _SPAWNER_LOCK, _POOL_LOCK = None, threading.Lock(), threading.Lock()
    if _POOL is not None:
        _POOL._lock, _POOL._idle, _POOL._pid = threading.Lock(), [], os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _limit_self() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES))
    except Exception:
        pass
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except Exception:
            pass


def main() -> None:
    """Worker loop: one JSON request per line on stdin, one JSON answer per line on stdout."""
    _limit_self()
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints from libraries must not corrupt the protocol
    from rewardsmith.verify._symbolic import symbolic_verdict

    for pred, gold in (("x^2-1", "(x-1)(x+1)"), ("\\ln 2", "0.693147"), ("\\sqrt{x}", "y")):
        symbolic_verdict(pred, gold)  # warm sympy's lazy caches before the first timed request
    out.write(b'{"ready": true}\n')
    out.flush()
    for line in sys.stdin.buffer:
        try:
            req = json.loads(line)
            label, reason = symbolic_verdict(req["pred"], req["gold"])
        except MemoryError:
            label, reason = "error", "out of memory"
        except RecursionError:
            label, reason = "parse_error", "expression nested too deep"
        except Exception as e:  # report, never die silently
            label, reason = "error", f"{type(e).__name__}: {str(e)[:200]}"
        out.write(json.dumps({"label": label, "reason": reason}).encode("ascii") + b"\n")
        out.flush()
