"""The parent's side of one running sandbox: ``RunHandle`` (its pipes, and how to end it so that
nothing of the run outlives the call) and ``pump`` (stdin in, capped stdout/stderr and the
supervisor's status report out, under the wall clock)."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import time

from rewardsmith.sandbox.config import SandboxConfig
from rewardsmith.sandbox.processes import kill_group_except, kill_uid


class RunHandle:
    """The parent's side of one running sandbox: its pipes, and how to end it."""

    def __init__(self, stdin_fd: int, stdout_fd: int, stderr_fd: int, status_fd: int, pid: int,
                 proc: subprocess.Popen | None = None) -> None:
        self.stdin_fd, self.stdout_fd, self.stderr_fd, self.status_fd = stdin_fd, stdout_fd, stderr_fd, status_fd
        self.pid = pid  # process group leader (unshare, or the zygote's runner)
        self.proc = proc
        self.returncode: int | None = None
        self.closed: set[int] = set()
        self.cgroup: tuple[str, str] | None = None
        self.cgroup_mb: int | None = None
        self.zygote = None  # the zygote.Zygote that forked its runner, if one did
        self.oom_cgroup: tuple[str, str] | None = None

    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return self.status_fd not in self.closed

    def close(self, fd: int) -> None:
        if fd not in self.closed:
            self.closed.add(fd)
            try:
                os.close(fd)
            except OSError:
                pass

    def kill_all(self, mode: str, uid: int | None) -> None:
        """Nothing outlives the call. Fallback: kill the program's processes first so the
        supervisor reaps them (no zombies left to an init that may not reap), then the group."""
        if mode == "fallback" and self.alive():
            if uid is not None:
                kill_uid(uid)
            else:
                kill_group_except(self.pid)
            if self.proc is not None:
                try:
                    self.proc.wait(timeout=0.5)
                except subprocess.TimeoutExpired:
                    pass
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if uid is not None and mode == "fallback":
            kill_uid(uid)
        if self.proc is not None:
            self.returncode = self.proc.wait()
        else:
            # The runner's death kills the namespace (PDEATHSIG of its PID 1): wait until every
            # holder of the run's pipes is gone, so nothing of the run is left when we return.
            deadline = time.monotonic() + 2.0
            for fd in (self.stdout_fd, self.stderr_fd, self.status_fd):
                if fd in self.closed:
                    continue
                os.set_blocking(fd, False)
                while time.monotonic() < deadline:
                    try:
                        if not os.read(fd, 65536):
                            break
                    except BlockingIOError:
                        time.sleep(0.002)
                    except OSError:
                        break
        for fd in (self.stdin_fd, self.stdout_fd, self.stderr_fd, self.status_fd):
            self.close(fd)


def pump(handle: RunHandle, data_in: bytes, cfg: SandboxConfig, start: float) -> tuple[bytes, bytes, dict | None, dict]:
    """Feed ``data_in`` to the run's stdin and read its stdout, stderr and status pipe until they
    close, ``cfg.timeout`` passes (from ``start``) or an output passes ``cfg.max_output``.

    Returns (stdout, stderr, the supervisor's report or None, flags ``timeout``/``output_limit``).
    """
    sel = selectors.DefaultSelector()
    bufs = {handle.stdout_fd: bytearray(), handle.stderr_fd: bytearray(), handle.status_fd: bytearray()}
    for fd in bufs:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    stdin_fd = handle.stdin_fd
    os.set_blocking(stdin_fd, False)
    pending = memoryview(data_in)
    if pending:
        sel.register(stdin_fd, selectors.EVENT_WRITE)
    else:
        handle.close(stdin_fd)
    flags = {"timeout": False, "output_limit": False}
    open_fds = set(bufs)
    deadline = start + cfg.timeout
    exited_at = None
    while open_fds:
        now = time.monotonic()
        if now >= deadline:
            flags["timeout"] = True
            break
        # After the supervisor has exited, stragglers holding the pipes get a short grace only.
        if exited_at is None and not handle.alive():
            exited_at = now
        if exited_at is not None and now - exited_at > 0.2:
            break
        wait = min(deadline - now, 0.05 if exited_at is not None else 0.25)
        for key, _ in sel.select(wait):
            fd = key.fd
            if fd == stdin_fd:
                try:
                    n = os.write(fd, pending[:65536])
                    pending = pending[n:]
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    pending = pending[:0]
                if not pending:
                    sel.unregister(fd)
                    handle.close(fd)
                continue
            try:
                chunk = os.read(fd, 65536)
            except (BlockingIOError, InterruptedError):
                continue
            if not chunk:
                sel.unregister(fd)
                open_fds.discard(fd)
                if fd == handle.status_fd:
                    handle.close(fd)
                continue
            buf = bufs[fd]
            limit = 65536 if fd == handle.status_fd else cfg.max_output
            room = limit - len(buf)
            buf += chunk[: max(room, 0)]
            if len(chunk) > room:
                flags["output_limit"] = True
        if flags["output_limit"]:
            break
    sel.close()
    handle.close(stdin_fd)
    report = None
    try:
        report = json.loads(bytes(bufs[handle.status_fd]).decode() or "null")
    except ValueError:
        report = None
    return bytes(bufs[handle.stdout_fd]), bytes(bufs[handle.stderr_fd]), report, flags
