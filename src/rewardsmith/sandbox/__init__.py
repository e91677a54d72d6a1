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
"""

from __future__ import annotations

import math
import os
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import atexit
import fcntl
import json
import socket

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

STATUSES = ("ok", "error", "timeout", "memory", "output_limit", "killed")
MODES = ("root-ns", "userns", "fallback")
EXIT_COMPILE = 113
EXIT_MEMORY = 114
EXIT_SETUP = 115
_CGROUP_HEADROOM_MB = 64  # the supervisor and the interpreter itself, on top of memory_mb

# the filter's builder first (stdlib only), then the bootstrap that installs it
_BOOT = Path(__file__).with_name("_seccomp.py").read_text() + "\n" + Path(__file__).with_name("_boot.py").read_text()
_NS_FLAGS = ["--pid", "--fork", "--kill-child", "--mount-proc", "--net", "--ipc", "--uts"]
_ENV = {
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


@dataclass(frozen=True)
class SandboxConfig:
    """Limits for one sandboxed run (every field has a safe default)."""

    timeout: float = 5.0
    """Wall-clock limit in seconds (the whole namespace is killed when it passes)."""
    cpu_time: float | None = None
    """CPU-seconds limit (RLIMIT_CPU, all threads); None = ceil(timeout)."""
    memory_mb: int = 512
    """Address-space limit of the program's process (RLIMIT_AS), in MiB."""
    max_processes: int = 16
    """Processes + threads the program may add (RLIMIT_NPROC on its own uid)."""
    max_output: int = 1_000_000
    """Bytes kept of stdout and of stderr each; more kills the run (status ``output_limit``)."""
    file_size_mb: int = 16
    """Largest file the program may write (RLIMIT_FSIZE), in MiB."""
    tmpfs_mb: int = 64
    """Size of the private /tmp and /dev/shm (namespace modes), in MiB."""
    max_open_files: int = 64
    """RLIMIT_NOFILE."""
    mode: str | None = None
    """Force a containment mode (one of MODES); None = the strongest that works here."""
    python: str = sys.executable
    """Interpreter that runs the program."""
    zygote: bool = True
    """Fork each run from a clean, pre-started interpreter (fast); False = a fresh
    ``unshare ... python`` per run."""

    def __post_init__(self) -> None:
        if not (isinstance(self.timeout, (int, float)) and math.isfinite(self.timeout) and self.timeout > 0):
            raise ValueError(f"timeout={self.timeout!r}: expected a positive number of seconds")
        if not (isinstance(self.memory_mb, int) and self.memory_mb >= 32):
            raise ValueError(f"memory_mb={self.memory_mb!r}: expected an int >= 32")
        if not (isinstance(self.max_processes, int) and self.max_processes >= 1):
            raise ValueError(f"max_processes={self.max_processes!r}: expected an int >= 1")
        if not (isinstance(self.max_output, int) and self.max_output >= 0):
            raise ValueError(f"max_output={self.max_output!r}: expected an int >= 0")
        if self.mode is not None and self.mode not in MODES:
            raise ValueError(f"mode={self.mode!r}: expected one of {MODES} or None")
        if not isinstance(self.python, str) or shutil.which(self.python) is None:
            raise ValueError(f"python={self.python!r}: expected an executable Python interpreter")


@dataclass
class RunResult:
    """What happened to one program. ``status`` is one of STATUSES."""

    status: str
    returncode: int | None
    stdout: str
    stderr: str
    duration: float
    cpu_time: float | None = None
    truncated: bool = False
    compile_error: bool = False
    containment: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- mode detection
_mode_lock = threading.Lock()
_detected: dict[str, str] = {}
_uid_lock = threading.Lock()
_uid_counter = 0


def _unshare_cmd(mode: str) -> list[str]:
    exe = shutil.which("unshare") or "/usr/bin/unshare"
    if mode == "root-ns":
        return [exe, *_NS_FLAGS, "--"]
    if mode == "userns":
        return [exe, "--user", "--map-root-user", *_NS_FLAGS, "--"]
    return []


def detect_mode(python: str | None = None) -> str:
    """The strongest containment that works here, found by running a harmless probe once.

    Order: ``root-ns`` (euid 0), ``userns``, ``fallback``. ``REWARDSMITH_SANDBOX_MODE`` forces one.
    """
    forced = os.environ.get("REWARDSMITH_SANDBOX_MODE")
    if forced:
        if forced not in MODES:
            raise ValueError(f"REWARDSMITH_SANDBOX_MODE={forced!r}: expected one of {MODES}")
        return forced
    key = f"{os.geteuid()}:{python or sys.executable}"
    with _mode_lock:
        if key in _detected:
            return _detected[key]
        candidates = ["root-ns"] if os.geteuid() == 0 else ["userns"]
        chosen = "fallback"
        for mode in candidates:
            try:
                res = run("print(6 * 7)", config=SandboxConfig(mode=mode, timeout=10.0, python=python or sys.executable))
            except OSError:
                continue
            if res.status == "ok" and res.stdout == "42\n":
                chosen = mode
                break
        _detected[key] = chosen
        return chosen


def _next_uid() -> int:
    """A uid no real account uses, unique among this process's concurrent runs."""
    global _uid_counter
    with _uid_lock:
        _uid_counter = (_uid_counter + 1) % 4096
        return 1_900_000_000 + (os.getpid() % 100_000) * 4096 + _uid_counter


def _user_tasks(uid: int) -> int:
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


def _kill_uid(uid: int) -> None:
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


_expose_cache: dict[str, list[str]] = {}


def _expose_paths(python: str) -> list[str]:
    """Dirs the interpreter needs (prefixes, sys.path): bound back if under a private dir."""
    if python not in _expose_cache:
        if os.path.realpath(python) == os.path.realpath(sys.executable):
            paths = [sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path]
        else:
            out = subprocess.run([python, "-c", "import sys, json; print(json.dumps([sys.prefix, sys.base_prefix, "
                                  "sys.exec_prefix, *sys.path]))"], capture_output=True, text=True, timeout=30)
            paths = json.loads(out.stdout) if out.returncode == 0 else []
        paths.append(os.path.dirname(os.path.realpath(python)))
        # /tmp itself (sys.path[0] of a script run from /tmp) is never exposed: the run's capped
        # tmpfs covers it; dirs below it are bound back on top of that tmpfs (_boot.setup_mounts).
        real = sorted({os.path.realpath(p) for p in paths if p and os.path.isdir(p)} - {"/tmp", "/dev/shm"})
        # keep only top-most dirs (a bind of a parent covers its children)
        keep: list[str] = []
        for p in real:
            if not any(p == k or p.startswith(k + os.sep) for k in keep):
                keep.append(p)
        _expose_cache[python] = keep
    return _expose_cache[python]


_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc", "/opt", "/var", "/proc", "/dev",
                "/sys", "/tmp", "/run")


def _caller_homes() -> list[str]:
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
        if (os.path.isdir(real) and real not in out and real not in _SYSTEM_DIRS
                and not any(s.startswith(real.rstrip("/") + "/") for s in _SYSTEM_DIRS)):
            out.append(real)
    return out


def _kill_group_except(pgid: int) -> None:
    """SIGKILL every process in process group ``pgid`` except its leader (the supervisor)."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == pgid:
            continue
        try:
            if os.getpgid(int(entry.name)) == pgid:
                os.kill(int(entry.name), signal.SIGKILL)
        except OSError:
            continue


def _others_can_read(paths: Iterable[str]) -> bool:
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


_cgroup_state: dict[str, object] = {}


def _cgroup_base() -> tuple[str, str] | None:
    """Where this (root) process may make per-run memory cgroups: ("v1"|"v2", dir), or None.

    The dir is the caller's own memory cgroup; a probe child is made and removed once."""
    if "base" in _cgroup_state:
        return _cgroup_state["base"]  # type: ignore[return-value]
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
                _sweep_dead_cgroups(base[1])
        except OSError:
            base = None
    _cgroup_state["base"] = base
    return base


def _sweep_dead_cgroups(parent: str) -> None:
    """Remove the cgroups (and their run cgroups) of callers that died without closing their
    zygote (a pool's worker process ends with ``os._exit``). Only those whose creator's pid is
    gone: a live caller's empty run cgroup may be about to take its next run. rmdir fails on a
    cgroup still in use, so nothing running is touched."""
    for entry in os.scandir(parent):
        parts = entry.name.split("-")
        if len(parts) != 3 or parts[0] != "rewardsmith" or not parts[1].isdigit():
            continue
        try:
            os.kill(int(parts[1]), 0)
            continue  # its creator is alive
        except ProcessLookupError:
            pass
        except OSError:
            continue
        try:
            for sub in os.scandir(entry.path):
                if sub.name.startswith("run-") and sub.is_dir(follow_symlinks=False):
                    os.rmdir(sub.path)
            os.rmdir(entry.path)
        except OSError:
            pass


def _make_cgroup(name: str, limit_bytes: int) -> tuple[str, str] | None:
    """A fresh memory cgroup (None where cgroups are not ours to make)."""
    base = _cgroup_base()
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


def _cgroup_ooms(cg: tuple[str, str]) -> int:
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


_budget = {"mb": None}


def _memory_budget_mb() -> int:
    """Memory all sandboxed processes of this caller may use together (default: half of RAM)."""
    if _budget["mb"] is None:
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
        except (ValueError, OSError):
            total = 4096
        _budget["mb"] = max(total // 2, 256)
    return int(_budget["mb"])


def set_memory_budget(mb: int) -> None:
    """Cap the memory of every sandboxed process of this caller together, in MiB (enforced by the
    zygote's memory cgroup where there is one; a ``SandboxPool`` made afterwards admits runs by
    it too)."""
    if not (isinstance(mb, int) and mb >= 64):
        raise ValueError(f"memory_budget_mb={mb!r}: expected an int >= 64")
    _budget["mb"] = mb
    for z in list(_zygotes.values()):
        if z.cgroup is not None:
            fname = "memory.limit_in_bytes" if z.cgroup[0] == "v1" else "memory.max"
            try:
                with open(os.path.join(z.cgroup[1], fname), "w") as fh:
                    fh.write(str(mb * 1024 * 1024))
            except OSError:
                pass


def _cgroup_empty(cg: tuple[str, str]) -> bool:
    try:
        with open(os.path.join(cg[1], "cgroup.procs")) as fh:
            return not fh.read().strip()
    except OSError:
        return False


def _remove_cgroup(cg: tuple[str, str]) -> None:
    """rmdir the run's cgroup once its last process is gone (it is, after kill_all)."""
    for _ in range(100):
        try:
            os.rmdir(cg[1])
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.005)


_stale_checked: set[int] = set()
_STALE_AGE_S = 600.0


def _clean_stale_dirs() -> None:
    """Once per process: remove work dirs left by a caller that was killed mid-run (its pid is
    gone and the dir is older than any run could still be using it)."""
    if os.getpid() in _stale_checked:
        return
    _stale_checked.add(os.getpid())
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
            if now - st.st_mtime < _STALE_AGE_S:
                continue
            os.kill(int(parts[2]), 0)
            continue  # its creator is alive
        except ProcessLookupError:
            pass
        except OSError:
            continue
        _rmtree(entry.path)


def _rmtree(path: str) -> None:
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


# --------------------------------------------------------------------------- one run
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
    uid = _next_uid() if is_root else None
    _clean_stale_dirs()
    hostdir = tempfile.mkdtemp(prefix=f"rewardsmith-sandbox-{os.getpid()}-")
    try:
        return _run_in(hostdir, code, stdin, files or {}, list(argv), list(pass_fds), cfg, mode, uid, on_start,
                       own_cgroup)
    finally:
        if uid is not None and mode == "fallback":
            _kill_uid(uid)
        if mode == "fallback":
            _remove_soon(hostdir)
        else:  # only the caller's own files: the program wrote to its tmpfs, gone with its namespace
            _rmtree(hostdir)


_REMOVE_WAIT_S = 1.0


def _remove_soon(path: str) -> None:
    """Remove a fallback-mode work dir, waiting at most ``_REMOVE_WAIT_S``: a program that made
    100,000 dirs (16 s to remove on ext4) must not hold up ``run()``; the rest goes on in a
    background thread (and the stale-dir sweep catches what a dying caller left)."""
    t = threading.Thread(target=_rmtree, args=(path,), daemon=True, name="rewardsmith-rmtree")
    t.start()
    t.join(_REMOVE_WAIT_S)
    if t.is_alive():
        _removals.append(t)


_removals: list[threading.Thread] = []


@atexit.register
def _finish_removals(budget_s: float = 60.0) -> None:
    deadline = time.monotonic() + budget_s
    for t in _removals:
        t.join(max(0.0, deadline - time.monotonic()))
    _removals.clear()


def _run_in(hostdir, code, stdin, files, argv, pass_fds, cfg: SandboxConfig, mode, uid, on_start,
            own_cgroup=True) -> RunResult:
    for name, content in files.items():
        dest = os.path.normpath(os.path.join(hostdir, name))
        if not dest.startswith(hostdir + os.sep):
            raise ValueError(f"files[{name!r}]: expected a relative path inside the work dir")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "wb") as fh:
            fh.write(content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content)
    main_name = "main.py"
    with open(os.path.join(hostdir, main_name), "w", encoding="utf-8", errors="surrogatepass") as fh:
        fh.write(code)
    if uid is not None and mode == "fallback":  # namespace modes copy the files onto their tmpfs
        for root, dirs, fnames in os.walk(hostdir):
            for n in dirs + fnames:
                os.chown(os.path.join(root, n), uid, uid)
        os.chown(hostdir, uid, uid)
    workdir = "/tmp/work" if mode != "fallback" else hostdir
    python = cfg.python
    if mode == "fallback" and uid is not None and not _others_can_read(_expose_paths(python)):
        # Root without namespaces drops to a fresh uid, which cannot read an interpreter kept in a
        # private dir (pyenv under /root): use a world-readable system python3 instead.
        python = next((p for p in ("/usr/bin/python3", "/usr/local/bin/python3")
                       if os.path.exists(p) and _others_can_read(_expose_paths(p))), python)
    nproc = cfg.max_processes + 1
    if uid is None:  # RLIMIT_NPROC counts every task of the caller's uid
        nproc += _user_tasks(os.getuid()) + 8
    status_target = next(n for n in range(3, 1024) if n not in pass_fds)
    boot_cfg = {
        "mode": mode,
        "status_fd": status_target,
        "hostdir": hostdir,
        "uid": uid,
        "main": os.path.join(workdir, main_name),
        "argv": argv,
        "tmpfs_mb": cfg.tmpfs_mb,
        "pass_fds": pass_fds,
        "expose": _expose_paths(python),
        "mask": _caller_homes() if mode == "userns" else [],
        "limits": {
            "cpu_s": int(math.ceil(cfg.cpu_time if cfg.cpu_time is not None else cfg.timeout)),
            "as": cfg.memory_mb * 1024 * 1024,
            "nproc": nproc,
            "fsize": cfg.file_size_mb * 1024 * 1024,
            "nofile": cfg.max_open_files,
            "wall_s": cfg.timeout + 1.0,
        },
    }
    containment = {
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
        "launcher": "zygote" if cfg.zygote else "unshare",
    }
    env = {**_ENV, "HOME": workdir}
    start = time.monotonic()
    handle = None
    oom_before = None
    if cfg.zygote:
        handle = _spawn_zygote(python, boot_cfg, env, pass_fds, status_target,
                               _run_cgroup_mb(cfg) if own_cgroup else None)
        if handle is None:
            containment["launcher"] = "unshare"
        else:
            zcg = handle.cgroup or (handle.zygote.cgroup if handle.zygote is not None else None)
            if handle.cgroup:
                containment["cgroup"] = (f"{zcg[0]} memory {handle.cgroup_mb} MiB for this run, inside "
                                         f"{_memory_budget_mb()} MiB for every run of this process")
            else:
                containment["cgroup"] = (f"{zcg[0]} memory {_memory_budget_mb()} MiB shared by every run of "
                                         "this process") if zcg else None
            oom_before = _cgroup_ooms(zcg) if zcg else None
            handle.oom_cgroup = zcg
    if handle is None:
        handle = _spawn_oneshot(python, boot_cfg, env, pass_fds, mode, hostdir)
        containment["cgroup"] = None
    if on_start is not None:
        on_start()
    data_in = stdin.encode("utf-8", "surrogatepass") if isinstance(stdin, str) else bytes(stdin)
    out, err, report, flags = _pump(handle, data_in, cfg, start)
    handle.kill_all(mode, uid)
    duration = time.monotonic() - start
    if oom_before is not None and _cgroup_ooms(handle.oom_cgroup) > oom_before:
        flags["cgroup_oom"] = True
    if handle.zygote is not None and handle.cgroup is not None:
        handle.zygote.release_cgroup(handle.cgroup)
    return _classify(out, err, report, flags, handle.returncode, duration, cfg, containment)


def _run_cgroup_mb(cfg: SandboxConfig) -> int:
    """A run's own memory cgroup limit: its address-space limit, its two tmpfs (their pages are
    charged to it) and headroom for the supervisor."""
    return cfg.memory_mb + 2 * cfg.tmpfs_mb + _CGROUP_HEADROOM_MB


def _seccomp_description(mode: str) -> str | None:
    """What the seccomp filter of a run in ``mode`` holds (``_seccomp.py``), or None without one."""
    from rewardsmith.sandbox._seccomp import seccomp_program

    if seccomp_program() is None:
        return None
    how = "best effort" if mode == "fallback" else "required"
    return (f"bpf ({how}): keyrings, io_uring, new namespaces, ptrace, process_vm, bpf, perf_event_open, "
            "userfaultfd, mount and every socket family but AF_UNIX denied")


class _Handle:
    """The parent's side of one running sandbox: its pipes, and how to end it."""

    def __init__(self, stdin_fd: int, stdout_fd: int, stderr_fd: int, status_fd: int, pid: int,
                 proc: subprocess.Popen | None = None) -> None:
        self.stdin_fd, self.stdout_fd, self.stderr_fd, self.status_fd = stdin_fd, stdout_fd, stderr_fd, status_fd
        self.pid = pid  # process group leader (unshare, or the zygote's runner)
        self.proc = proc
        self.returncode: int | None = None
        self.closed: set[int] = set()
        self.cgroup: tuple[str, str] | None = None
        self.cgroup_mb: int | None = None
        self.zygote: _Zygote | None = None
        self.oom_cgroup: tuple[str, str] | None = None

    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return self.status_fd not in self.closed

    def close(self, fd: int) -> None:
        if fd not in self.closed:
            self.closed.add(fd)
            try:
                os.close(fd)
            except OSError:
                pass

    def kill_all(self, mode: str, uid: int | None) -> None:
        """Nothing outlives the call. Fallback: kill the program's processes first so the
        supervisor reaps them (no zombies left to an init that may not reap), then the group."""
        if mode == "fallback" and self.alive():
            if uid is not None:
                _kill_uid(uid)
            else:
                _kill_group_except(self.pid)
            if self.proc is not None:
                try:
                    self.proc.wait(timeout=0.5)
                except subprocess.TimeoutExpired:
                    pass
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if uid is not None and mode == "fallback":
            _kill_uid(uid)
        if self.proc is not None:
            self.returncode = self.proc.wait()
        else:
            # The runner's death kills the namespace (PDEATHSIG of its PID 1): wait until every
            # holder of the run's pipes is gone, so nothing of the run is left when we return.
            deadline = time.monotonic() + 2.0
            for fd in (self.stdout_fd, self.stderr_fd, self.status_fd):
                if fd in self.closed:
                    continue
                os.set_blocking(fd, False)
                while time.monotonic() < deadline:
                    try:
                        if not os.read(fd, 65536):
                            break
                    except BlockingIOError:
                        time.sleep(0.002)
                    except OSError:
                        break
        for fd in (self.stdin_fd, self.stdout_fd, self.stderr_fd, self.status_fd):
            self.close(fd)


def _spawn_oneshot(python, boot_cfg, env, pass_fds, mode, hostdir) -> _Handle:
    """``unshare ... python -I -c <boot>``: one fresh interpreter per run."""
    status_r, status_w = os.pipe()
    if status_w in pass_fds:  # keep the run's fd numbers: move the status pipe out of the way
        moved = fcntl.fcntl(status_w, fcntl.F_DUPFD, max(pass_fds) + 1)
        os.close(status_w)
        status_w = moved
    cfg = dict(boot_cfg, status_fd=status_w)
    cmd = _unshare_cmd(mode) + [python, "-I", "-c", _BOOT, json.dumps(cfg)]
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
    return _Handle(stdin_fd, stdout_fd, stderr_fd, status_r, proc.pid, proc)


class _Zygote:
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
        self.cgroup = _make_cgroup(f"rewardsmith-{os.getpid()}-{id(self)}", _memory_budget_mb() * 1024 * 1024)
        self.free_cgroups: list[tuple[str, str]] = []
        self.all_cgroups: list[tuple[str, str]] = []
        try:
            self.proc = subprocess.Popen(
                [python, "-I", "-c", _BOOT, json.dumps({"mode": "zygote", "sock": child.fileno()})],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env=dict(_ENV), cwd="/", start_new_session=True, pass_fds=[child.fileno()],
            )
        finally:
            child.close()
        if self.cgroup is not None:
            try:
                with open(os.path.join(self.cgroup[1], "cgroup.procs"), "w") as fh:
                    fh.write(str(self.proc.pid))
            except OSError:
                _remove_cgroup(self.cgroup)
                self.cgroup = None

    def acquire_cgroup(self, limit_mb: int) -> tuple[str, str] | None:
        """An empty run cgroup under the zygote's, its limit set to ``limit_mb`` (None without)."""
        if self.cgroup is None:
            return None
        version, parent = self.cgroup
        with self.lock:
            cg = None
            for i, cand in enumerate(self.free_cgroups):  # released ones whose processes are gone
                if _cgroup_empty(cand):
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
                    _remove_cgroup(cg)
                _remove_cgroup(self.cgroup)


_zygotes: dict[tuple, _Zygote] = {}
_zygote_lock = threading.Lock()


def _get_zygote(python: str, fresh: bool = False) -> _Zygote:
    key = (os.getpid(), python)
    with _zygote_lock:
        z = _zygotes.get(key)
        if z is not None and (fresh or z.proc.poll() is not None):
            if z.proc.poll() is None:
                z.close()
            z = None
        if z is None:
            # a forked copy of this process must not share its parent's zygote
            for k in [k for k in _zygotes if k[0] != os.getpid()]:
                _zygotes.pop(k)
            z = _zygotes[key] = _Zygote(python)
        return z


@atexit.register
def _close_zygotes() -> None:
    for key, z in list(_zygotes.items()):
        if key[0] == os.getpid():
            z.close()
    _zygotes.clear()


def _spawn_zygote(python, boot_cfg, env, pass_fds, status_target, cgroup_mb: int | None) -> _Handle | None:
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
                zygote = _get_zygote(python, fresh=attempt > 0)
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
    handle = _Handle(in_w, out_r, err_r, st_r, pid)
    handle.zygote = zygote
    handle.cgroup = run_cg
    handle.cgroup_mb = cgroup_mb
    return handle


def _pump(handle: _Handle, data_in: bytes, cfg: SandboxConfig, start: float):
    sel = selectors.DefaultSelector()
    bufs = {handle.stdout_fd: bytearray(), handle.stderr_fd: bytearray(), handle.status_fd: bytearray()}
    for fd in bufs:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    stdin_fd = handle.stdin_fd
    os.set_blocking(stdin_fd, False)
    pending = memoryview(data_in)
    if pending:
        sel.register(stdin_fd, selectors.EVENT_WRITE)
    else:
        handle.close(stdin_fd)
    flags = {"timeout": False, "output_limit": False}
    open_fds = set(bufs)
    deadline = start + cfg.timeout
    exited_at = None
    while open_fds:
        now = time.monotonic()
        if now >= deadline:
            flags["timeout"] = True
            break
        # After the supervisor has exited, stragglers holding the pipes get a short grace only.
        if exited_at is None and not handle.alive():
            exited_at = now
        if exited_at is not None and now - exited_at > 0.2:
            break
        wait = min(deadline - now, 0.05 if exited_at is not None else 0.25)
        for key, _ in sel.select(wait):
            fd = key.fd
            if fd == stdin_fd:
                try:
                    n = os.write(fd, pending[:65536])
                    pending = pending[n:]
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    pending = pending[:0]
                if not pending:
                    sel.unregister(fd)
                    handle.close(fd)
                continue
            try:
                chunk = os.read(fd, 65536)
            except (BlockingIOError, InterruptedError):
                continue
            if not chunk:
                sel.unregister(fd)
                open_fds.discard(fd)
                if fd == handle.status_fd:
                    handle.close(fd)
                continue
            buf = bufs[fd]
            limit = 65536 if fd == handle.status_fd else cfg.max_output
            room = limit - len(buf)
            buf += chunk[: max(room, 0)]
            if len(chunk) > room:
                flags["output_limit"] = True
        if flags["output_limit"]:
            break
    sel.close()
    handle.close(stdin_fd)
    report = None
    try:
        report = json.loads(bytes(bufs[handle.status_fd]).decode() or "null")
    except ValueError:
        report = None
    return bytes(bufs[handle.stdout_fd]), bytes(bufs[handle.stderr_fd]), report, flags


def _classify(out, err, report, flags, rc_outer, duration, cfg, containment) -> RunResult:
    stdout = out.decode("utf-8", errors="replace")
    stderr = err.decode("utf-8", errors="replace")
    rc = report.get("exit") if isinstance(report, dict) else None
    cpu = report.get("cpu_s") if isinstance(report, dict) else None
    if isinstance(report, dict) and "readonly_root" in report:
        containment["readonly_root"] = bool(report["readonly_root"])
    if isinstance(report, dict) and "setup_error" in report:
        containment["setup_error"] = report["setup_error"]
    cpu_limit = math.ceil(cfg.cpu_time if cfg.cpu_time is not None else cfg.timeout)
    compile_error = rc == EXIT_COMPILE
    if flags["timeout"] or (isinstance(report, dict) and report.get("wall_timeout")):
        status = "timeout"
    elif flags["output_limit"]:
        status = "output_limit"
    elif rc is None:
        status = "killed"  # the supervisor never reported: it (or the sandbox) was killed
        rc = rc_outer
    elif rc == -signal.SIGXCPU or (rc == -signal.SIGKILL and cpu is not None and cpu >= cpu_limit - 0.1):
        status = "timeout"
    elif rc == EXIT_MEMORY or (rc != 0 and ("MemoryError" in stderr[-2000:] or flags.get("cgroup_oom"))):
        status = "memory"
    elif rc == 0:
        status = "ok"
    elif rc < 0:
        status = "killed"
    else:
        status = "error"
    if rc == EXIT_SETUP:
        status = "killed"
    return RunResult(status=status, returncode=rc, stdout=stdout, stderr=stderr, duration=duration,
                     cpu_time=cpu, truncated=flags["output_limit"], compile_error=compile_error,
                     containment=containment)


# --------------------------------------------------------------------------- many runs
class SandboxPool:
    """Run many programs concurrently: ``workers`` at a time (default all cores), and never more
    than ``memory_budget_mb`` of summed ``memory_mb`` limits at once (default: the process-wide
    budget, half of RAM, which the zygote's memory cgroup also enforces where there is one)."""

    def __init__(self, workers: int | None = None, memory_budget_mb: int | None = None,
                 config: SandboxConfig | None = None) -> None:
        self.workers = int(workers or os.cpu_count() or 1)
        if self.workers < 1:
            raise ValueError(f"workers={workers!r}: expected an int >= 1")
        if memory_budget_mb is None:
            memory_budget_mb = _memory_budget_mb()
        if not (isinstance(memory_budget_mb, int) and memory_budget_mb >= 32):
            raise ValueError(f"memory_budget_mb={memory_budget_mb!r}: expected an int >= 32 (MiB)")
        self.memory_budget_mb = int(memory_budget_mb)
        self.config = config or SandboxConfig()
        self._free = self.memory_budget_mb
        self._cond = threading.Condition()
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="sandbox")

    def _reserve(self, mb: int) -> int:
        mb = min(mb, self.memory_budget_mb)
        with self._cond:
            while self._free < mb:
                self._cond.wait()
            self._free -= mb
        return mb

    def _release(self, mb: int) -> None:
        with self._cond:
            self._free += mb
            self._cond.notify_all()

    def _one(self, kwargs: dict) -> RunResult:
        cfg = kwargs.pop("config", None) or self.config
        mb = kwargs.get("memory_mb") or cfg.memory_mb
        held = self._reserve(mb)
        try:
            return run(config=cfg, **kwargs)
        finally:
            self._release(held)

    def submit(self, code: str, stdin: str | bytes = "", **kwargs):
        """Schedule one run; returns a Future of RunResult."""
        return self._executor.submit(self._one, {"code": code, "stdin": stdin, **kwargs})

    def map(self, jobs: Iterable[Mapping], progress: bool = False) -> list[RunResult]:
        """Run ``jobs`` (dicts of ``run`` keyword arguments) and return results in order."""
        futures = [self._executor.submit(self._one, dict(job)) for job in jobs]
        if not progress:
            return [f.result() for f in futures]
        from concurrent.futures import as_completed

        from rewardsmith.progress import progress_bar

        with progress_bar() as bar:
            task = bar.add_task("sandbox", total=len(futures))
            for _ in as_completed(futures):
                bar.advance(task)
        return [f.result() for f in futures]

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    def __enter__(self) -> "SandboxPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def run_many(programs: Sequence[str], stdins: Sequence[str] | None = None, *, workers: int | None = None,
             config: SandboxConfig | None = None) -> list[RunResult]:
    """Run each program (with the matching stdin) in a pool; results in input order."""
    stdins = list(stdins) if stdins is not None else [""] * len(programs)
    if len(stdins) != len(programs):
        raise ValueError(f"stdins has {len(stdins)} items: expected {len(programs)} (one per program)")
    with SandboxPool(workers=workers, config=config) as pool:
        return pool.map({"code": c, "stdin": s} for c, s in zip(programs, stdins))
