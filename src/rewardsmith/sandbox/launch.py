"""How a run's sandbox process is started: the bootstrap source every sandboxed interpreter runs,
the environment it gets, and the one-shot launcher (``unshare ... python -I -c <boot>``, a fresh
interpreter per run; ``zygote.py`` is the fast path that forks runs from a pre-started one)."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from pathlib import Path

from rewardsmith.sandbox.handle import RunHandle
from rewardsmith.sandbox.modes import unshare_cmd

_HERE = Path(__file__).parent
# The in-sandbox bootstrap, run as ``python -I -c BOOT_SOURCE <json>``: the seccomp filter's
# builder (stdlib only), the supervisor and program setup, then the zygote's fork server, whose
# last lines pick the entry point.
BOOT_SOURCE = "\n".join((_HERE / name).read_text() for name in ("_seccomp.py", "_boot.py", "_boot_zygote.py"))
RUN_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "HOME": "/tmp/work",
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
"""The whole environment of a sandboxed process (``HOME`` is set to its work dir per run)."""


def spawn_oneshot(python: str, boot_cfg: dict, env: dict, pass_fds: list[int], mode: str,
                  hostdir: str) -> RunHandle:
    """``unshare ... python -I -c <boot>``: one fresh interpreter per run."""
    status_r, status_w = os.pipe()
    if status_w in pass_fds:  # keep the run's fd numbers: move the status pipe out of the way
        moved = fcntl.fcntl(status_w, fcntl.F_DUPFD, max(pass_fds) + 1)
        os.close(status_w)
        status_w = moved
    cfg = dict(boot_cfg, status_fd=status_w)
    cmd = unshare_cmd(mode) + [python, "-I", "-c", BOOT_SOURCE, json.dumps(cfg)]
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, cwd=hostdir, start_new_session=True,
                                pass_fds=[status_w, *pass_fds], close_fds=True)
    except OSError:
        os.close(status_r)
        raise
    finally:
        os.close(status_w)
    stdin_fd, stdout_fd, stderr_fd = (os.dup(f.fileno()) for f in (proc.stdin, proc.stdout, proc.stderr))
    for f in (proc.stdin, proc.stdout, proc.stderr):
        f.close()
    proc.stdin = proc.stdout = proc.stderr = None
    return RunHandle(stdin_fd, stdout_fd, stderr_fd, status_r, proc.pid, proc)
