"""Memory cgroups and the memory budget (root callers, cgroup v1 or v2).

The zygote sits in one cgroup limited to the budget (``set_memory_budget``; default half of RAM),
every run in its own child cgroup limited to ``run_cgroup_mb``; a run's ``memory`` status comes
from its cgroup's OOM count. Cgroups of callers that died are swept. Where cgroups are not ours
to make, every function here says so (None) and ``RLIMIT_AS`` alone bounds a run.
"""

from __future__ import annotations

import os
import time

from rewardsmith.sandbox.config import SandboxConfig
from rewardsmith.sandbox.processes import pid_is_gone
from rewardsmith.sandbox.state import STATE

CGROUP_HEADROOM_MB = 64  # the supervisor and the interpreter itself, on top of memory_mb


def cgroup_base() -> tuple[str, str] | None:
    """Where this (root) process may make per-run memory cgroups: ("v1"|"v2", dir), or None.

    The dir is the caller's own memory cgroup; a probe child is made and removed once."""
    if STATE.cgroup_base_known:
        return STATE.cgroup_base
    base = None
    if os.geteuid() == 0:
        try:
            with open("/proc/self/cgroup") as fh:
                lines = [ln.strip().split(":", 2) for ln in fh if ln.count(":") >= 2]
            v1 = next((rel for _, ctl, rel in lines if "memory" in ctl.split(",")), None)
            v2 = next((rel for hid, ctl, rel in lines if hid == "0" and ctl == ""), None)
            candidates = []
            if v1 is not None:
                candidates.append(("v1", os.path.join("/sys/fs/cgroup/memory", v1.lstrip("/")), "memory.limit_in_bytes"))
            if v2 is not None:
                candidates.append(("v2", os.path.join("/sys/fs/cgroup", v2.lstrip("/")), "memory.max"))
            for version, path, limit_file in candidates:
                probe = os.path.join(path, f"rewardsmith-probe-{os.getpid()}")
                try:
                    os.mkdir(probe)
                except OSError:
                    continue
                try:
                    with open(os.path.join(probe, limit_file), "w") as fh:
                        fh.write(str(64 * 1024 * 1024))
                    base = (version, path)
                except OSError:
                    pass
                finally:
                    try:
                        os.rmdir(probe)
                    except OSError:
                        pass
                if base:
                    break
            if base is not None:
                sweep_dead_cgroups(base[1])
        except OSError:
            base = None
    STATE.cgroup_base, STATE.cgroup_base_known = base, True
    return base


def sweep_dead_cgroups(parent: str) -> None:
    """Remove the cgroups (and their run cgroups) of callers that died without closing their
    zygote (a pool's worker process ends with ``os._exit``). Only those whose creator's pid is
    gone: a live caller's empty run cgroup may be about to take its next run. rmdir fails on a
    cgroup still in use, so nothing running is touched."""
    for entry in os.scandir(parent):
        parts = entry.name.split("-")
        if len(parts) != 3 or parts[0] != "rewardsmith" or not parts[1].isdigit():
            continue
        if not pid_is_gone(int(parts[1])):
            continue  # its creator is alive
        try:
            for sub in os.scandir(entry.path):
                if sub.name.startswith("run-") and sub.is_dir(follow_symlinks=False):
                    os.rmdir(sub.path)
            os.rmdir(entry.path)
        except OSError:
            pass


def make_cgroup(name: str, limit_bytes: int) -> tuple[str, str] | None:
    """A fresh memory cgroup (None where cgroups are not ours to make)."""
    base = cgroup_base()
    if base is None:
        return None
    version, parent = base
    path = os.path.join(parent, name)
    try:
        os.mkdir(path)
        files = (("memory.limit_in_bytes", limit_bytes),) if version == "v1" else (
            ("memory.max", limit_bytes), ("memory.swap.max", 0))
        for fname, value in files:
            try:
                with open(os.path.join(path, fname), "w") as fh:
                    fh.write(str(value))
            except OSError:
                if fname != "memory.swap.max":
                    raise
    except OSError:
        try:
            os.rmdir(path)
        except OSError:
            pass
        return None
    return version, path


def cgroup_ooms(cg: tuple[str, str]) -> int:
    """How often the OOM killer acted in the cgroup so far (v1 oom_control's oom_kill, else its
    failcnt; v2 oom_kill events)."""
    version, path = cg
    try:
        if version == "v1":
            try:
                with open(os.path.join(path, "memory.oom_control")) as fh:
                    ctl = dict(ln.split() for ln in fh if ln.strip())
                if "oom_kill" in ctl:
                    return int(ctl["oom_kill"])
            except (OSError, ValueError):
                pass
            with open(os.path.join(path, "memory.failcnt")) as fh:
                return int(fh.read().strip() or 0)
        with open(os.path.join(path, "memory.events")) as fh:
            ev = dict(ln.split() for ln in fh if ln.strip())
        return int(ev.get("oom_kill", 0))
    except (OSError, ValueError):
        return 0


def memory_budget_mb() -> int:
    """Memory all sandboxed processes of this caller may use together (default: half of RAM)."""
    if STATE.memory_budget_mb is None:
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
        except (ValueError, OSError):
            total = 4096
        STATE.memory_budget_mb = max(total // 2, 256)
    return int(STATE.memory_budget_mb)


def set_memory_budget(mb: int) -> None:
    """Cap the memory of every sandboxed process of this caller together, in MiB (enforced by the
    zygote's memory cgroup where there is one; a ``SandboxPool`` made afterwards admits runs by
    it too)."""
    if not (isinstance(mb, int) and mb >= 64):
        raise ValueError(f"memory_budget_mb={mb!r}: expected an int >= 64")
    STATE.memory_budget_mb = mb
    for z in list(STATE.zygotes.values()):
        if z.cgroup is not None:
            fname = "memory.limit_in_bytes" if z.cgroup[0] == "v1" else "memory.max"
            try:
                with open(os.path.join(z.cgroup[1], fname), "w") as fh:
                    fh.write(str(mb * 1024 * 1024))
            except OSError:
                pass


def cgroup_empty(cg: tuple[str, str]) -> bool:
    try:
        with open(os.path.join(cg[1], "cgroup.procs")) as fh:
            return not fh.read().strip()
    except OSError:
        return False


def remove_cgroup(cg: tuple[str, str]) -> None:
    """rmdir the run's cgroup once its last process is gone (it is, after kill_all)."""
    for _ in range(100):
        try:
            os.rmdir(cg[1])
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.005)


def run_cgroup_mb(cfg: SandboxConfig) -> int:
    """A run's own memory cgroup limit: its address-space limit, its two tmpfs (their pages are
    charged to it) and headroom for the supervisor."""
    return cfg.memory_mb + 2 * cfg.tmpfs_mb + CGROUP_HEADROOM_MB
