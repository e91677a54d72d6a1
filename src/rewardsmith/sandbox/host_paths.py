"""What a run sees of the host's files: the interpreter's dirs bound back into it, the caller's
home masked in ``userns`` runs, and whether an unrelated uid can read a path (root fallback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Iterable

from rewardsmith.sandbox.state import STATE


def expose_paths(python: str) -> list[str]:
    """Dirs the interpreter needs (prefixes, sys.path): bound back if under a private dir."""
    if python not in STATE.exposed_paths:
        if os.path.realpath(python) == os.path.realpath(sys.executable):
            paths = [sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path]
        else:
            out = subprocess.run([python, "-c", "import sys, json; print(json.dumps([sys.prefix, sys.base_prefix, "
                                  "sys.exec_prefix, *sys.path]))"], capture_output=True, text=True, timeout=30)
            paths = json.loads(out.stdout) if out.returncode == 0 else []
        paths.append(os.path.dirname(os.path.realpath(python)))
        # /tmp itself (sys.path[0] of a script run from /tmp) is never exposed: the run's capped
        # tmpfs covers it; dirs below it are bound back on top of that tmpfs (``_boot.setup_mounts``).
        real = sorted({os.path.realpath(p) for p in paths if p and os.path.isdir(p)} - {"/tmp", "/dev/shm"})
        # keep only top-most dirs (a bind of a parent covers its children)
        keep: list[str] = []
        for p in real:
            if not any(p == k or p.startswith(k + os.sep) for k in keep):
                keep.append(p)
        STATE.exposed_paths[python] = keep
    return STATE.exposed_paths[python]


SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc", "/opt", "/var", "/proc", "/dev",
               "/sys", "/tmp", "/run")


def caller_homes() -> list[str]:
    """The caller's home and runtime dirs, covered by an empty tmpfs in ``userns`` runs: there the
    program has the caller's own uid and could read every private file in them. A dir that holds
    a system dir (``HOME=/``) is left alone."""
    candidates = [os.environ.get("HOME"), os.environ.get("XDG_RUNTIME_DIR"), f"/run/user/{os.getuid()}"]
    try:
        import pwd

        candidates.append(pwd.getpwuid(os.getuid()).pw_dir)
    except (KeyError, ImportError):
        pass
    out: list[str] = []
    for p in candidates:
        if not p or not os.path.isabs(p):
            continue
        real = os.path.realpath(p)
        if (os.path.isdir(real) and real not in out and real not in SYSTEM_DIRS
                and not any(s.startswith(real.rstrip("/") + "/") for s in SYSTEM_DIRS)):
            out.append(real)
    return out


def others_can_read(paths: Iterable[str]) -> bool:
    """Whether a uid with no relation to the files can traverse to and read each of ``paths``."""
    for path in paths:
        cur = "/"
        for part in path.strip("/").split("/"):
            cur = os.path.join(cur, part)
            try:
                if not os.stat(cur).st_mode & 0o005:
                    return False
            except OSError:
                return False
    return True
