"""``run()``: one program in a sandbox, start to finish (its contract is ``run``'s docstring), and
``detect_mode()``. (Not ``run.py``: a submodule named like the function it exports shadows it.)

``run`` resolves the limits and the containment mode, makes the work dir and a ``RunRequest``;
``_run_in`` writes the work dir, launches the sandbox (from the zygote, else one-shot
``unshare``), pumps its I/O, ends every process of it and classifies the outcome. What each mode
contains is in the package docstring; the pieces are in their own modules (``modes``,
``zygote``, ``launch``, ``handle``, ``cgroups``, ``processes``, ``host_paths``, ``cleanup``).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from typing import Callable, Mapping, Sequence

from rewardsmith.sandbox.cgroups import cgroup_ooms, memory_budget_mb, run_cgroup_mb
from rewardsmith.sandbox.cleanup import clean_stale_dirs, remove_soon, rmtree
from rewardsmith.sandbox.config import SandboxConfig
from rewardsmith.sandbox.handle import pump
from rewardsmith.sandbox.host_paths import caller_homes, expose_paths, others_can_read
from rewardsmith.sandbox.launch import RUN_ENV, spawn_oneshot
from rewardsmith.sandbox.modes import strongest_mode
from rewardsmith.sandbox.processes import kill_uid, next_uid, user_tasks
from rewardsmith.sandbox.result import RunResult, classify
from rewardsmith.sandbox.zygote import spawn_from_zygote

MAIN_NAME = "main.py"  # the program's file in its work dir


def run(
    code: str,
    stdin: str | bytes = "",
    timeout: float | None = None,
    memory_mb: int | None = None,
    *,
    files: Mapping[str, str | bytes] | None = None,
    argv: Sequence[str] = (),
    pass_fds: Sequence[int] = (),
    config: SandboxConfig | None = None,
    on_start: Callable[[], None] | None = None,
    own_cgroup: bool = True,
    **limits,
) -> RunResult:
    """Run Python source ``code`` in a sandbox and return what happened.

    ``files`` are written into the work dir first (name -> content); ``argv`` becomes
    ``sys.argv[1:]``; ``pass_fds`` are inherited at the same numbers (harness channels).
    ``timeout``/``memory_mb``/other ``SandboxConfig`` fields override ``config``.
    ``own_cgroup=False`` skips the run's own memory cgroup (its ~15 ms migration on cgroup v1):
    only for trusted code such as the tests' half of ``run_tests``, which the budget cgroup and
    ``RLIMIT_AS`` still bound.
    """
    if not isinstance(code, str):
        raise ValueError(f"code={type(code).__name__}: expected Python source as str")
    cfg = config or SandboxConfig()
    overrides = dict(limits)
    if timeout is not None:
        overrides["timeout"] = timeout
    if memory_mb is not None:
        overrides["memory_mb"] = memory_mb
    if overrides:
        cfg = SandboxConfig(**{**asdict(cfg), **overrides})
    mode = cfg.mode or detect_mode(cfg.python)
    is_root = os.geteuid() == 0
    if mode == "userns" and is_root:
        # root's own uid is exempt from RLIMIT_NPROC: a fork bomb would be unbounded.
        raise ValueError("mode='userns' as root: expected 'root-ns' (root is exempt from RLIMIT_NPROC)")
    uid = next_uid() if is_root else None
    clean_stale_dirs()
    hostdir = tempfile.mkdtemp(prefix=f"rewardsmith-sandbox-{os.getpid()}-")
    try:
        return _run_in(RunRequest(code=code, stdin=stdin, files=files or {}, argv=list(argv),
                                  pass_fds=list(pass_fds), config=cfg, mode=mode, uid=uid, hostdir=hostdir,
                                  on_start=on_start, own_cgroup=own_cgroup))
    finally:
        if uid is not None and mode == "fallback":
            kill_uid(uid)
        if mode == "fallback":
            remove_soon(hostdir)
        else:  # only the caller's own files: the program wrote to its tmpfs, gone with its namespace
            rmtree(hostdir)


def detect_mode(python: str | None = None) -> str:
    """The strongest containment that works here, found by running a harmless probe once.

    Order: ``root-ns`` (euid 0), ``userns``, ``fallback``. ``REWARDSMITH_SANDBOX_MODE`` forces one.
    """
    return strongest_mode(python, _probe)


def _probe(mode: str, python: str) -> bool:
    """Whether a harmless program runs in ``mode`` here and prints what it should."""
    res = run("print(6 * 7)", config=SandboxConfig(mode=mode, timeout=10.0, python=python))
    return res.status == "ok" and res.stdout == "42\n"


@dataclass(frozen=True)
class RunRequest:
    """One run, resolved by ``run``: what to run, with which limits, in which mode, as whom, where."""

    code: str
    stdin: str | bytes
    files: Mapping[str, str | bytes]
    """Written into the work dir first (relative name -> content)."""
    argv: list[str]
    pass_fds: list[int]
    """The caller's fds the program inherits at the same numbers."""
    config: SandboxConfig
    mode: str
    """One of ``MODES``, already resolved."""
    uid: int | None
    """The run's fresh uid (root callers), None = it runs as the caller's uid."""
    hostdir: str
    """The work dir on the host (namespace modes copy it onto the run's tmpfs)."""
    on_start: Callable[[], None] | None = None
    """Called once the sandbox is launched (e.g. to close the caller's ends of ``pass_fds``)."""
    own_cgroup: bool = True
    """Give the run its own memory cgroup (where cgroups are ours to make)."""


def _write_work_dir(req: RunRequest) -> None:
    """The caller's files and the program (``MAIN_NAME``) in the host work dir, owned by the run's uid
    in fallback mode as root."""
    hostdir = req.hostdir
    for name, content in req.files.items():
        dest = os.path.normpath(os.path.join(hostdir, name))
        if not dest.startswith(hostdir + os.sep):
            raise ValueError(f"files[{name!r}]: expected a relative path inside the work dir")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "wb") as fh:
            fh.write(content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content)
    with open(os.path.join(hostdir, MAIN_NAME), "w", encoding="utf-8", errors="surrogatepass") as fh:
        fh.write(req.code)
    if req.uid is not None and req.mode == "fallback":  # namespace modes copy the files onto their tmpfs
        for root, dirs, fnames in os.walk(hostdir):
            for n in dirs + fnames:
                os.chown(os.path.join(root, n), req.uid, req.uid)
        os.chown(hostdir, req.uid, req.uid)


def _run_in(req: RunRequest) -> RunResult:
    """Write the work dir, launch the sandbox, pump its I/O, end it and classify what happened."""
    cfg, mode, uid, hostdir, pass_fds = req.config, req.mode, req.uid, req.hostdir, req.pass_fds
    _write_work_dir(req)
    workdir = "/tmp/work" if mode != "fallback" else hostdir
    python = _interpreter(req)
    status_target = next(n for n in range(3, 1024) if n not in pass_fds)
    boot_cfg = _boot_config(req, python, workdir, status_target)
    containment = _containment(req, python)
    env = {**RUN_ENV, "HOME": workdir}
    start = time.monotonic()
    handle = None
    oom_before = None
    if cfg.zygote:
        handle = spawn_from_zygote(python, boot_cfg, env, pass_fds, status_target,
                                   run_cgroup_mb(cfg) if req.own_cgroup else None)
        if handle is None:
            containment["launcher"] = "unshare"
        else:
            zcg = handle.cgroup or (handle.zygote.cgroup if handle.zygote is not None else None)
            if handle.cgroup:
                containment["cgroup"] = (f"{zcg[0]} memory {handle.cgroup_mb} MiB for this run, inside "
                                         f"{memory_budget_mb()} MiB for every run of this process")
            else:
                containment["cgroup"] = (f"{zcg[0]} memory {memory_budget_mb()} MiB shared by every run of "
                                         "this process") if zcg else None
            oom_before = cgroup_ooms(zcg) if zcg else None
            handle.oom_cgroup = zcg
    if handle is None:
        handle = spawn_oneshot(python, boot_cfg, env, pass_fds, mode, hostdir)
        containment["cgroup"] = None
    if req.on_start is not None:
        req.on_start()
    stdin = req.stdin
    data_in = stdin.encode("utf-8", "surrogatepass") if isinstance(stdin, str) else bytes(stdin)
    out, err, report, flags = pump(handle, data_in, cfg, start)
    handle.kill_all(mode, uid)
    duration = time.monotonic() - start
    if oom_before is not None and cgroup_ooms(handle.oom_cgroup) > oom_before:
        flags["cgroup_oom"] = True
    if handle.zygote is not None and handle.cgroup is not None:
        handle.zygote.release_cgroup(handle.cgroup)
    return classify(out, err, report, flags, handle.returncode, duration, cfg, containment)


def _interpreter(req: RunRequest) -> str:
    """The interpreter that runs the program: the configured one, unless root's fallback uid could
    not read it."""
    python = req.config.python
    if req.mode == "fallback" and req.uid is not None and not others_can_read(expose_paths(python)):
        # Root without namespaces drops to a fresh uid, which cannot read an interpreter kept in a
        # private dir (pyenv under /root): use a world-readable system python3 instead.
        python = next((p for p in ("/usr/bin/python3", "/usr/local/bin/python3")
                       if os.path.exists(p) and others_can_read(expose_paths(p))), python)
    return python


def _boot_config(req: RunRequest, python: str, workdir: str, status_target: int) -> dict:
    """The JSON config the in-sandbox bootstrap (``_boot.py``) gets: mode, paths, fds and rlimits."""
    cfg, mode, uid = req.config, req.mode, req.uid
    nproc = cfg.max_processes + 1
    if uid is None:  # RLIMIT_NPROC counts every task of the caller's uid
        nproc += user_tasks(os.getuid()) + 8
    return {
        "mode": mode,
        "status_fd": status_target,
        "hostdir": req.hostdir,
        "uid": uid,
        "main": os.path.join(workdir, MAIN_NAME),
        "argv": req.argv,
        "tmpfs_mb": cfg.tmpfs_mb,
        "pass_fds": req.pass_fds,
        "expose": expose_paths(python),
        "mask": caller_homes() if mode == "userns" else [],
        "limits": {
            "cpu_s": int(math.ceil(cfg.cpu_time if cfg.cpu_time is not None else cfg.timeout)),
            "as": cfg.memory_mb * 1024 * 1024,
            "nproc": nproc,
            "fsize": cfg.file_size_mb * 1024 * 1024,
            "nofile": cfg.max_open_files,
            "wall_s": cfg.timeout + 1.0,
        },
    }


def _containment(req: RunRequest, python: str) -> dict:
    """What holds the run (``RunResult.containment``); launch adds ``cgroup``, the run ``readonly_root``."""
    mode, uid = req.mode, req.uid
    return {
        "mode": mode,
        "pid_namespace": mode != "fallback",
        "mount_namespace": mode != "fallback",
        "network": "netns" if mode != "fallback" else "audit-hook",
        "user": (f"uid {uid}" if uid is not None else
                 "userns root without capabilities" if mode == "userns" else "caller uid"),
        "fence": "namespaces" if mode != "fallback" else "audit-hook",
        "seccomp": _seccomp_description(mode),
        "workdir": "tmpfs" if mode != "fallback" else "host disk",
        "python": python,
        "launcher": "zygote" if req.config.zygote else "unshare",
    }


def _seccomp_description(mode: str) -> str | None:
    """What the seccomp filter of a run in ``mode`` holds (``_seccomp.py``), or None without one."""
    from rewardsmith.sandbox._seccomp import seccomp_program

    if seccomp_program() is None:
        return None
    how = "best effort" if mode == "fallback" else "required"
    return (f"bpf ({how}): keyrings, io_uring, new namespaces, ptrace, process_vm, bpf, perf_event_open, "
            "userfaultfd, mount and every socket family but AF_UNIX denied")
