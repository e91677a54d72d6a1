"""The containment modes and how the strongest one that works here is chosen.

``root-ns`` (caller is root), ``userns`` (unprivileged caller, user namespaces allowed) and
``fallback`` (no namespaces); the package docstring says what each holds. Detection runs a
harmless probe once per (euid, interpreter) and caches the answer in ``state.STATE``; the probe
itself is a sandboxed run, passed in by ``run.detect_mode`` so this module stays below ``run.py``.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Callable

from rewardsmith.sandbox.state import STATE

MODES = ("root-ns", "userns", "fallback")
NS_FLAGS = ["--pid", "--fork", "--kill-child", "--mount-proc", "--net", "--ipc", "--uts"]
"""``unshare(1)`` flags of the namespace modes (the zygote's runner makes the same with ``unshare(2)``)."""


def unshare_cmd(mode: str) -> list[str]:
    """The ``unshare ... --`` prefix that launches a one-shot run in ``mode`` (empty for fallback)."""
    exe = shutil.which("unshare") or "/usr/bin/unshare"
    if mode == "root-ns":
        return [exe, *NS_FLAGS, "--"]
    if mode == "userns":
        return [exe, "--user", "--map-root-user", *NS_FLAGS, "--"]
    return []


def strongest_mode(python: str | None, probe: Callable[[str, str], bool]) -> str:
    """The strongest mode in which ``probe(mode, python)`` succeeds (it may raise OSError).

    Order: ``root-ns`` (euid 0), ``userns``, ``fallback``. ``REWARDSMITH_SANDBOX_MODE`` forces one.
    """
    forced = os.environ.get("REWARDSMITH_SANDBOX_MODE")
    if forced:
        if forced not in MODES:
            raise ValueError(f"REWARDSMITH_SANDBOX_MODE={forced!r}: expected one of {MODES}")
        return forced
    key = f"{os.geteuid()}:{python or sys.executable}"
    with STATE.mode_lock:
        if key in STATE.detected_modes:
            return STATE.detected_modes[key]
        candidates = ["root-ns"] if os.geteuid() == 0 else ["userns"]
        chosen = "fallback"
        for mode in candidates:
            try:
                works = probe(mode, python or sys.executable)
            except OSError:
                continue
            if works:
                chosen = mode
                break
        STATE.detected_modes[key] = chosen
        return chosen
