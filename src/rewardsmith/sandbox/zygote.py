"""The zygote: a fork server that makes a run cost forks instead of an interpreter start.

One per (caller pid, interpreter), started on first use with an empty environment and holding
nothing of the caller's (``_boot_zygote.py`` is its side). Per run it forks a runner that moves
itself into the run's memory cgroup, enters the namespaces and forks the supervisor
(``benchmarks/sandbox.py``: within 1.5x a bare ``python -c``; the one-shot ``unshare ... python``
launcher costs 2.7-3.6x). A zygote that died is restarted; a forked caller gets its own.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import subprocess
import threading

from rewardsmith.sandbox.cgroups import cgroup_empty, make_cgroup, memory_budget_mb, remove_cgroup
from rewardsmith.sandbox.handle import RunHandle
from rewardsmith.sandbox.launch import BOOT_SOURCE, RUN_ENV
from rewardsmith.sandbox.state import STATE


class Zygote:
    """A fork server: a clean interpreter (empty environment, nothing of the caller's) that forks
    one runner per request, so a run costs a fork instead of an interpreter start."""

    def __init__(self, python: str) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock = parent
        self.lock = threading.Lock()
        self.owner = os.getpid()
        # One memory cgroup for the zygote: all sandboxed processes of this caller together stay
        # under the memory budget; inside it each run gets its own child cgroup with its own limit
        # (its runner moves itself in before it forks anything). Run cgroups are reused, not
        # remade: mkdir + rmdir per run cost more than the one migration.
        self.cgroup = make_cgroup(f"rewardsmith-{os.getpid()}-{id(self)}", memory_budget_mb() * 1024 * 1024)
        self.free_cgroups: list[tuple[str, str]] = []
        self.all_cgroups: list[tuple[str, str]] = []
        try:
            self.proc = subprocess.Popen(
                [python, "-I", "-c", BOOT_SOURCE, json.dumps({"mode": "zygote", "sock": child.fileno()})],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env=dict(RUN_ENV), cwd="/", start_new_session=True, pass_fds=[child.fileno()],
            )
        finally:
            child.close()
        if self.cgroup is not None:
            try:
                with open(os.path.join(self.cgroup[1], "cgroup.procs"), "w") as fh:
                    fh.write(str(self.proc.pid))
            except OSError:
                remove_cgroup(self.cgroup)
                self.cgroup = None

    def acquire_cgroup(self, limit_mb: int) -> tuple[str, str] | None:
        """An empty run cgroup under the zygote's, its limit set to ``limit_mb`` (None without)."""
        if self.cgroup is None:
            return None
        version, parent = self.cgroup
        with self.lock:
            cg = None
            for i, cand in enumerate(self.free_cgroups):  # released ones whose processes are gone
                if cgroup_empty(cand):
                    cg = self.free_cgroups.pop(i)
                    break
            n = len(self.all_cgroups)
        if cg is None:
            cg = (version, os.path.join(parent, f"run-{n}-{os.urandom(3).hex()}"))
            try:
                os.mkdir(cg[1])
            except OSError:
                return None
            with self.lock:
                self.all_cgroups.append(cg)
        limit = str(limit_mb * 1024 * 1024)
        names = ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes") if version == "v1" else (
            "memory.max", "memory.swap.max")
        ok = False
        for name in (*names, names[0]):  # memsw >= limit: write in an order that always holds once
            try:
                with open(os.path.join(cg[1], name), "w") as fh:
                    fh.write(limit if name != "memory.swap.max" else "0")
                ok = ok or name == names[0]
            except OSError:
                pass
        if not ok:
            self.release_cgroup(cg)
            return None
        return cg

    def release_cgroup(self, cg: tuple[str, str]) -> None:
        """Back to the free list; reused only once empty (the run's last exiting processes may
        still be leaving it: waiting for them here cost ~8 ms a run)."""
        with self.lock:
            self.free_cgroups.append(cg)

    def spawn(self, req: dict, fds: list[int]) -> int | None:
        """Send one request (and the fds the runner takes); the runner's pid, or None if the zygote is gone."""
        with self.lock:
            try:
                socket.send_fds(self.sock, [json.dumps(req).encode()], fds)
                reply = self.sock.recv(4096)
            except OSError:
                return None
        if not reply:
            return None
        return int(json.loads(reply)["pid"])

    def close(self) -> None:
        """Stop the zygote (closing its socket ends its loop) and remove its cgroups."""
        try:
            self.sock.close()
        finally:
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            if self.cgroup is not None:
                for cg in self.all_cgroups:
                    remove_cgroup(cg)
                remove_cgroup(self.cgroup)


def get_zygote(python: str, fresh: bool = False) -> Zygote:
    """This process's zygote for ``python``, started (or restarted, if it died or ``fresh``) on demand."""
    key = (os.getpid(), python)
    with STATE.zygote_lock:
        z = STATE.zygotes.get(key)
        if z is not None and (fresh or z.proc.poll() is not None):
            if z.proc.poll() is None:
                z.close()
            z = None
        if z is None:
            # a forked copy of this process must not share its parent's zygote
            for k in [k for k in STATE.zygotes if k[0] != os.getpid()]:
                STATE.zygotes.pop(k)
            z = STATE.zygotes[key] = Zygote(python)
        return z


@atexit.register
def close_zygotes() -> None:
    """At exit: stop this process's zygotes and remove their cgroups."""
    for key, z in list(STATE.zygotes.items()):
        if key[0] == os.getpid():
            z.close()
    STATE.zygotes.clear()


def spawn_from_zygote(python: str, boot_cfg: dict, env: dict, pass_fds: list[int], status_target: int,
                      cgroup_mb: int | None) -> RunHandle | None:
    """Ask the zygote for a runner holding the run's fds at their numbers; None if it is gone."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    st_r, st_w = os.pipe()
    child_fds = [in_r, out_w, err_w, st_w, *pass_fds]
    targets = [0, 1, 2, status_target, *pass_fds]
    req = {"targets": targets, "env": env, "cfg": boot_cfg}
    pid = None
    zygote = None
    run_cg = None
    try:
        for attempt in range(2):
            try:
                zygote = get_zygote(python, fresh=attempt > 0)
                run_cg = zygote.acquire_cgroup(cgroup_mb) if cgroup_mb else None  # a retry: the fresh zygote's
                req["cgroup_procs"] = os.path.join(run_cg[1], "cgroup.procs") if run_cg else None
                pid = zygote.spawn(req, child_fds)
            except OSError:  # the zygote cannot start here: the caller falls back to unshare
                pid = None
            if pid is not None:
                break
    finally:
        for fd in (in_r, out_w, err_w, st_w):
            os.close(fd)
    if pid is None:
        for fd in (in_w, out_r, err_r, st_r):
            os.close(fd)
        return None
    handle = RunHandle(in_w, out_r, err_r, st_r, pid)
    handle.zygote = zygote
    handle.cgroup = run_cg
    handle.cgroup_mb = cgroup_mb
    return handle
