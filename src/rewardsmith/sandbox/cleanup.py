"""Removing work dirs: after each run (fallback's may be huge: at most ``REMOVE_WAIT_S`` of the
caller's time, the rest in the background), and once per process the stale dirs of callers that
were killed mid-run."""

from __future__ import annotations

import atexit
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import time

from rewardsmith.sandbox.processes import pid_is_gone
from rewardsmith.sandbox.state import STATE

STALE_AGE_S = 600.0


def clean_stale_dirs() -> None:
    """Once per process: remove work dirs left by a caller that was killed mid-run (its pid is
    gone and the dir is older than any run could still be using it)."""
    if os.getpid() in STATE.stale_checked:
        return
    STATE.stale_checked.add(os.getpid())
    now = time.time()
    try:
        entries = list(os.scandir(tempfile.gettempdir()))
    except OSError:
        return
    for entry in entries:
        parts = entry.name.split("-")
        if len(parts) < 4 or not entry.name.startswith("rewardsmith-sandbox-") or not parts[2].isdigit():
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            # Only a real directory: a sandboxed program (fallback mode) can plant a FIFO
            # (rmtree's open() of it blocks forever) or a symlink (whose target the error
            # handler would chmod) under the same name. A planted directory is removed as any.
            if not stat.S_ISDIR(st.st_mode):
                continue
            if now - st.st_mtime < STALE_AGE_S:
                continue
        except OSError:
            continue
        if pid_is_gone(int(parts[2])):  # else its creator is alive
            rmtree(entry.path)


def rmtree(path: str) -> None:
    """Remove a work dir the program may have booby-trapped: chmod 000 dirs, links, 1,500 levels."""
    root = os.path.realpath(path)

    def inside(p: str) -> bool:
        return not os.path.islink(p) and os.path.commonpath([root, os.path.realpath(p)]) == root

    def onerror(func, p, exc):  # a program may chmod 000 its dirs; never chmod through a link
        try:
            for q in (os.path.dirname(p), p):
                if inside(q):
                    os.chmod(q, 0o700)
            func(p)
        except (OSError, ValueError):
            pass

    try:
        shutil.rmtree(path, onerror=onerror)
    except RecursionError:  # a program's 1,500-level tree: rmtree recurses once per level (3.11)
        try:
            subprocess.run(["rm", "-rf", "--one-file-system", "--", path], check=False, timeout=120,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError):  # no rm, or it hung: the stale-dir sweep retries
            pass


REMOVE_WAIT_S = 1.0


def remove_soon(path: str) -> None:
    """Remove a fallback-mode work dir, waiting at most ``REMOVE_WAIT_S``: a program that made
    100,000 dirs (16 s to remove on ext4) must not hold up ``run()``; the rest goes on in a
    background thread (and the stale-dir sweep catches what a dying caller left)."""
    t = threading.Thread(target=rmtree, args=(path,), daemon=True, name="rewardsmith-rmtree")
    t.start()
    t.join(REMOVE_WAIT_S)
    if t.is_alive():
        STATE.removals.append(t)


@atexit.register
def finish_removals(budget_s: float = 60.0) -> None:
    """Wait (at most ``budget_s`` in all) for the background removals still going on."""
    deadline = time.monotonic() + budget_s
    for t in STATE.removals:
        t.join(max(0.0, deadline - time.monotonic()))
    STATE.removals.clear()
