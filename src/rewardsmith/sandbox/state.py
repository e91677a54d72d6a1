"""The sandbox's process-wide mutable state, in one place: caches, counters and the zygotes.

Everything here belongs to the calling process (a forked copy rebuilds what it must: zygotes are
keyed by pid). Each field says which module reads and writes it; nothing else in the package
keeps a mutable module global.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class SandboxState:
    """What the sandbox remembers between runs of this process."""

    detected_modes: dict[str, str] = field(default_factory=dict)
    """``"euid:python"`` -> the containment mode its probe chose (``modes.py``)."""
    mode_lock: threading.Lock = field(default_factory=threading.Lock)
    uid_counter: int = 0
    """Last run uid handed out, mod 4096 (``processes.next_uid``)."""
    uid_lock: threading.Lock = field(default_factory=threading.Lock)
    exposed_paths: dict[str, list[str]] = field(default_factory=dict)
    """interpreter -> the dirs it needs bound back into a run (``host_paths.expose_paths``)."""
    cgroup_base: tuple[str, str] | None = None
    """``("v1"|"v2", dir)`` where per-run memory cgroups may be made (``cgroups.cgroup_base``)."""
    cgroup_base_known: bool = False
    """Whether ``cgroup_base`` was probed already (None is a valid answer)."""
    memory_budget_mb: int | None = None
    """Memory of every sandboxed process together; None = half of RAM (``cgroups``)."""
    stale_checked: set[int] = field(default_factory=set)
    """pids that already swept stale work dirs (``cleanup.clean_stale_dirs``)."""
    removals: list[threading.Thread] = field(default_factory=list)
    """Background removals of big fallback work dirs, joined at exit (``cleanup``)."""
    zygotes: dict[tuple, object] = field(default_factory=dict)
    """``(pid, python)`` -> its ``zygote.Zygote``."""
    zygote_lock: threading.Lock = field(default_factory=threading.Lock)


STATE = SandboxState()
