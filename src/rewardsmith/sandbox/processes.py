"""Run uids and the processes of a run: a fresh uid per run (root), counting a uid's tasks
(``RLIMIT_NPROC`` counts them) and killing what a run left behind (by uid or process group)."""

from __future__ import annotations

import os
import signal
import time

from rewardsmith.sandbox.state import STATE


def next_uid() -> int:
    """A uid no real account uses, unique among this process's concurrent runs."""
    with STATE.uid_lock:
        STATE.uid_counter = (STATE.uid_counter + 1) % 4096
        return 1_900_000_000 + (os.getpid() % 100_000) * 4096 + STATE.uid_counter


def user_tasks(uid: int) -> int:
    """Tasks (processes + threads) owned by ``uid`` right now: RLIMIT_NPROC counts these."""
    n = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid == uid:
                n += len(os.listdir(f"/proc/{entry.name}/task"))
        except OSError:
            continue
    return n


def kill_uid(uid: int) -> None:
    """SIGKILL every process owned by ``uid`` (root fallback: catches setsid escapes)."""
    for _ in range(3):
        found = False
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                if entry.stat().st_uid == uid:
                    os.kill(int(entry.name), signal.SIGKILL)
                    found = True
            except OSError:
                continue
        if not found:
            return
        time.sleep(0.01)


def kill_group_except(pgid: int) -> None:
    """SIGKILL every process in process group ``pgid`` except its leader (the supervisor)."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == pgid:
            continue
        try:
            if os.getpgid(int(entry.name)) == pgid:
                os.kill(int(entry.name), signal.SIGKILL)
        except OSError:
            continue


def pid_is_gone(pid: int) -> bool:
    """Whether no process ``pid`` exists. False also when we may not ask, or for a number no pid can
    be (a dir named so was not made by us: leave it; ``os.kill`` raised OverflowError on it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (OSError, OverflowError):
        return False
    return False
