"""Run untrusted Python source (model-written programs) in a contained, short-lived process.

``run(code, stdin="", timeout=5.0, memory_mb=512)`` returns a :class:`RunResult`; ``SandboxPool``
runs many programs at once with a bounded memory budget. Containment, strongest first (the first
that works on this machine is used; ``RunResult.containment`` says which, and what it held):

``root-ns`` (caller is root)
    ``unshare --pid --fork --kill-child --mount-proc --net --ipc --uts``: the program runs in new
    PID, mount, network, IPC and UTS namespaces under a PID-1 supervisor; every mount read-only
    except a fresh tmpfs ``/tmp`` (size- and inode-capped; the work dir ``/tmp/work`` is on it,
    the caller's files copied in, so nothing reaches the host's disk) and ``/dev/shm``; the
    program itself runs as a fresh unprivileged uid/gid (no groups, no capabilities,
    ``no_new_privs``) in a fresh session keyring, under a seccomp filter (``_seccomp.py``: no
    keyrings, io_uring, new namespaces, ptrace, bpf, mount, nor sockets but ``AF_UNIX``), so
    ``RLIMIT_NPROC`` applies and it can signal nothing outside. No network device but a down
    loopback. When the supervisor exits (or the caller kills it) the kernel kills the namespace
    and frees its tmpfs. Where the caller's memory cgroup (v1 or v2) lets it, the zygote sits in
    one memory cgroup (all runs of the caller together stay under ``set_memory_budget``; default
    half of RAM) and each run in its own child cgroup limited to ``memory_mb`` plus its tmpfs.
``userns`` (unprivileged caller, kernel allows user namespaces)
    The same namespaces, tmpfs and seccomp filter inside ``unshare --user --map-root-user``; the
    program runs with an empty capability and bounding set instead of a uid change;
    ``RLIMIT_NPROC`` counts the caller's uid.
``fallback`` (no namespaces)
    New session + rlimits, a uid drop when root, the seccomp filter where the kernel takes it, and
    an audit hook in the child that refuses sockets, process creation, signals, ctypes and writes
    outside the work dir (Python-level); the caller kills the process group (and, as root, every
    process of the run's uid). The work dir is on the host's disk (``RLIMIT_FSIZE`` per file is
    the only cap); ``run()`` waits at most 1 s for its removal, the rest goes on in the background.

Every mode: a fresh process, an empty environment, its own work directory, wall-clock and CPU
limits, address-space, process-count, open-file and file-size limits, and an output cap (excess
dropped and flagged, the program killed). The exit status comes from the supervisor over a pipe
the program never holds; the supervisor also keeps the wall clock, so a run ends even if its
caller dies.

Launch: runs are forked from a *zygote*, an interpreter started once per caller process (with an
empty environment, holding nothing of the caller's) that, per request, forks a runner which moves
itself into the run's cgroup, enters the namespaces (``unshare(2)``) and forks the supervisor: a
run costs forks, not an interpreter start (``benchmarks/sandbox.py``: within 1.5x a bare
``python -c``; a fresh ``unshare ... python -I`` per run, ``SandboxConfig(zygote=False)``, costs
2.7-3.6x).

Where things are: ``one_run.py`` ``run()`` and ``detect_mode()``; ``pool.py`` ``SandboxPool`` and
``run_many``; ``config.py`` ``SandboxConfig``; ``result.py`` ``RunResult`` and the status rules;
``modes.py`` the modes and their detection; ``zygote.py`` the fork server (``_boot_zygote.py`` its
side); ``launch.py`` the bootstrap source and the one-shot launcher; ``handle.py`` the parent's
side of a running sandbox (pipes, output caps, killing it); ``cgroups.py`` memory cgroups and the
memory budget; ``processes.py`` run uids and killing a run's processes; ``host_paths.py`` what a
run sees of the host's files; ``cleanup.py`` work-dir removal and the stale-dir sweep;
``state.py`` the process-wide caches. Inside the sandbox: ``_seccomp.py`` (the filter),
``_boot.py`` (mounts, privilege drop, the supervisor). The test harness: ``testing.py``.
"""

from __future__ import annotations

from rewardsmith.sandbox.cgroups import set_memory_budget
from rewardsmith.sandbox.config import SandboxConfig
from rewardsmith.sandbox.modes import MODES
from rewardsmith.sandbox.one_run import detect_mode, run
from rewardsmith.sandbox.pool import SandboxPool, run_many
from rewardsmith.sandbox.result import STATUSES, RunResult

__all__ = [
    "STATUSES",
    "MODES",
    "RunResult",
    "SandboxConfig",
    "SandboxPool",
    "run",
    "run_many",
    "detect_mode",
    "set_memory_budget",
]
