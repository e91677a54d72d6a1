"""In-sandbox bootstrap: the first code that runs in a sandboxed interpreter (stdlib only).

Run as ``python -I -c <source> <json config>`` where the source is ``_seccomp.py``, this file and
``_boot_zygote.py`` joined (``launch.BOOT_SOURCE``); it is never imported by rewardsmith itself.
With ``mode == "zygote"`` it is a fork server (``_boot_zygote.py``): per request it forks a runner
that takes the run's fds, calls ``unshare(2)`` and forks the PID-1 supervisor below (``main``).
Otherwise it runs once, inside ``unshare --pid --fork ...``. The supervisor is PID 1 and still
privileged. It

1. makes every mount read-only (bind-remount, mount flags kept), mounts fresh size- and
   inode-limited tmpfs on /tmp and /dev/shm and copies the caller's files into /tmp/work on that
   tmpfs (nothing of the host's disk is writable; the kernel frees the tmpfs with the namespace);
2. forks the program's process and stays behind as supervisor: the child drops privileges for
   good (a fresh unprivileged uid/gid with no groups as root; every capability and the bounding
   set in a user namespace), sets ``no_new_privs`` and the rlimits, compiles and runs the program;
3. waits for the child, then writes the authoritative wait status on the status fd (a pipe the
   program never holds) and exits; as PID 1 its exit makes the kernel kill every process left in
   the namespace, ``setsid`` and daemons included.

Without namespaces (``mode == "fallback"``) steps 1 and the namespace kill are skipped; the child
installs an audit hook that refuses sockets, process creation, signals to other processes, ctypes
and writes outside the work dir (a Python-level fence: the parent also kills the process group
and, as root, every process of the run's uid).
"""

import json
import os
import sys

CFG = json.loads(sys.argv[1])
MODE = CFG["mode"]  # "root-ns" | "userns" | "fallback" | "zygote" (a fork server of runs)
STATUS_FD = CFG.get("status_fd", -1)
EXIT_COMPILE = 113
EXIT_MEMORY = 114
EXIT_SETUP = 115

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_NOATIME, MS_NODIRATIME, MS_BIND = 32, 1024, 2048, 4096
MS_REC, MS_PRIVATE, MS_RELATIME = 16384, 1 << 18, 1 << 21
_ST_TO_MS = ((2, MS_NOSUID), (4, MS_NODEV), (8, MS_NOEXEC), (1024, MS_NOATIME),
             (2048, MS_NODIRATIME), (4096, MS_RELATIME))


def _report(obj):
    data = json.dumps(obj).encode()
    try:
        os.write(STATUS_FD, data)
    except OSError:
        pass


def _oom_adj(value):
    """Who the OOM killer takes first: a run (1000), the zygote last (-500, where permitted)."""
    try:
        with open("/proc/self/oom_score_adj", "w") as fh:
            fh.write(str(value))
    except OSError:
        pass


def _libc():
    import ctypes

    return ctypes, ctypes.CDLL(None, use_errno=True)


def _mount(libc, ctypes, src, target, fstype, flags, data=None):
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    if libc.mount(enc(src), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _unescape(path):
    return path.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def expose_hidden(libc, ctypes):
    """Make the interpreter's own dirs reachable for the unprivileged program.

    A Python installed under a private dir (e.g. pyenv in /root, mode 700) is unreadable after the
    uid drop: cover the private ancestor with an empty tmpfs (which also hides the rest of it) and
    bind the needed dirs back, read-only.
    """
    hidden = {}
    # In userns the program has the caller's own uid: the caller's home (and runtime dir) is
    # covered too, or every private file in it (~/.netrc, a hub token) was readable (red-team
    # round 3). The interpreter's dirs under it are bound back; the home itself never is.
    masks = [m for m in CFG.get("mask", []) if os.path.isdir(m)]
    for m in masks:
        hidden[m] = [p for p in CFG.get("expose", []) if p.startswith(m + "/")]
    for path in CFG.get("expose", []):
        parts = path.strip("/").split("/")
        for i in range(1, len(parts)):
            anc = "/" + "/".join(parts[:i])
            try:
                if not os.stat(anc).st_mode & 0o001:
                    hidden.setdefault(anc, []).append(path)
                    break
            except OSError:
                break
    for anc, paths in sorted(hidden.items(), key=lambda kv: len(kv[0])):
        if not os.path.isdir(anc):  # a mask inside a dir already covered: hidden with it
            continue
        fds = [(p, os.open(p, os.O_RDONLY | os.O_DIRECTORY)) for p in paths if os.path.isdir(p)]
        _mount(libc, ctypes, "tmpfs", anc, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=755")
        for p, fd in fds:
            os.makedirs(p, mode=0o755, exist_ok=True)
            _mount(libc, ctypes, f"/proc/self/fd/{fd}", p, None, MS_BIND | MS_REC)
            _mount(libc, ctypes, None, p, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
            os.close(fd)
        _mount(libc, ctypes, None, anc, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def setup_mounts():
    ctypes, libc = _libc()
    _mount(libc, ctypes, None, "/", None, MS_REC | MS_PRIVATE)
    host_fd = os.open(CFG["hostdir"], os.O_RDONLY | os.O_DIRECTORY)
    with open("/proc/self/mountinfo") as fh:
        points = [_unescape(line.split()[4]) for line in fh]
    ro_root = False
    for mp in sorted(set(points), key=len):
        try:
            st = os.statvfs(mp)
        except OSError:
            continue
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY
        for st_flag, ms_flag in _ST_TO_MS:
            if st.f_flag & st_flag:
                flags |= ms_flag
        try:
            _mount(libc, ctypes, None, mp, None, flags)
            ro_root = ro_root or mp == "/"
        except OSError:
            pass
    expose_hidden(libc, ctypes)
    # The caller's interpreter may live under /tmp (a venv in a clone there, as on CI): the capped
    # tmpfs below covers /tmp, so those dirs are bound back on top of it, read-only, or a program
    # could not start a subprocess of its own interpreter (sys.executable).
    under_tmp = [(p, os.open(p, os.O_RDONLY | os.O_DIRECTORY)) for p in CFG.get("expose", [])
                 if p.startswith("/tmp/") and os.path.isdir(p)]
    opts = f"size={CFG['tmpfs_mb']}m,mode=1777,nr_inodes=4096"
    _mount(libc, ctypes, "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, opts)
    for p, fd in under_tmp:
        os.makedirs(p, mode=0o755, exist_ok=True)
        _mount(libc, ctypes, f"/proc/self/fd/{fd}", p, None, MS_BIND | MS_REC)
        _mount(libc, ctypes, None, p, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        os.close(fd)
    _mount(libc, ctypes, "tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts)
    # The work dir lives on the size- and inode-capped tmpfs, never on the host's disk: the
    # caller's files are copied in, and the kernel frees it all with the namespace.
    os.mkdir("/tmp/work", 0o700)
    _copy_in(host_fd, "/tmp/work", CFG.get("uid") if MODE == "root-ns" else None)
    os.close(host_fd)
    return ro_root, libc, ctypes


def _copy_in(src_fd, dest, uid):
    """Copy the tree under the directory fd ``src_fd`` to ``dest`` (owned by ``uid`` if given)."""
    if uid is not None:
        os.chown(dest, uid, uid)
    for name in os.listdir(src_fd):
        st = os.stat(name, dir_fd=src_fd, follow_symlinks=False)
        target = os.path.join(dest, name)
        if (st.st_mode & 0o170000) == 0o040000:
            sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=src_fd)
            try:
                os.mkdir(target, 0o700)
                _copy_in(sub, target, uid)
            finally:
                os.close(sub)
        elif (st.st_mode & 0o170000) == 0o100000:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=src_fd)
            try:
                with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
                    while True:
                        chunk = os.read(fd, 1 << 20)
                        if not chunk:
                            break
                        out.write(chunk)
            finally:
                os.close(fd)
            if uid is not None:
                os.chown(target, uid, uid)


def drop_privileges(libc, ctypes):
    import resource

    if MODE == "root-ns" or (MODE == "fallback" and os.geteuid() == 0):
        uid = CFG["uid"]
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        if os.getuid() != uid or os.geteuid() != uid:
            raise OSError("uid drop failed")
    elif MODE == "userns":
        # Root inside a user namespace: drop the bounding set, then every capability.
        PR_CAPBSET_DROP = 24
        for cap in range(64):
            if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() == 22:
                break
        hdr = (ctypes.c_uint32 * 2)(0x20080522, 0)
        data = (ctypes.c_uint32 * 6)()
        if libc.capset(hdr, data) != 0:
            raise OSError(ctypes.get_errno(), "capset")
    PR_SET_NO_NEW_PRIVS = 38
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    lim = CFG["limits"]
    cpu = lim["cpu_s"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (lim["fsize"], lim["fsize"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (lim["nofile"], lim["nofile"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (lim["nproc"], lim["nproc"]))
    resource.setrlimit(resource.RLIMIT_AS, (lim["as"], lim["as"]))
    # never inherited from the caller: a raised RTPRIO would let a busy loop run SCHED_FIFO and
    # starve the supervisor and the caller; a raised NICE, run ahead of them
    resource.setrlimit(resource.RLIMIT_RTPRIO, (0, 0))
    resource.setrlimit(resource.RLIMIT_NICE, (0, 0))


def fallback_fence(workdir):
    """Audit hook for the fallback mode (no namespaces): refuse what a namespace would contain."""
    own = os.getpid()
    real = os.path.realpath
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    inside = lambda p: real(p) == workdir or real(p).startswith(workdir + os.sep)  # noqa: E731
    # Frozen, and no way to reach this hook's frame or function: the program could otherwise
    # find the hook (gc.get_objects, a traceback's tb_frame, a trace function) and empty these
    # sets or rebind its closure (red-teamed: that turned fork, exec, ctypes and sockets back on).
    # A Python-level fence stays best effort; the namespace modes do not depend on it.
    deny = frozenset({"os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
                      "subprocess.Popen", "pty.spawn", "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata",
                      "ctypes.call_function", "os.killpg", "winreg", "sys.remote_exec", "mmap.__new__",
                      "gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._getframe",
                      "sys._getframemodulename", "sys._current_frames", "sys._current_exceptions",
                      "sys.settrace", "sys.setprofile", "sys.monitoring.register_callback",
                      "sys.addaudithook", "cpython.PyInterpreterState_Clear", "code.__new__",
                      "function.__new__"})
    frame_attrs = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back", "__code__",
                             "f_code", "gi_code", "cr_code", "ag_code"})
    path_events = frozenset({"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.symlink", "os.link",
                             "os.chmod", "os.chown", "os.truncate", "os.utime", "shutil.rmtree",
                             "os.setxattr", "os.removexattr"})

    def hook(event, args):
        if event.startswith("socket.") or event in deny:
            raise PermissionError(f"sandbox: {event} is not allowed")
        if event in ("object.__getattr__", "object.__setattr__") and len(args) > 1 and args[1] in frame_attrs:
            raise PermissionError(f"sandbox: {event} {args[1]} is not allowed")
        if event == "os.kill" and args and args[0] not in (own, 0):
            raise PermissionError("sandbox: os.kill of another process is not allowed")
        if event == "open" and args:
            path = args[0]
            if isinstance(path, int):
                return
            path = os.fsdecode(path)
            flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
            mode = args[1] if len(args) > 1 and isinstance(args[1], str) else ""
            writing = bool(flags & write_flags) or any(c in mode for c in "wax+")
            rp = real(path)
            if rp.startswith("/proc/") and not (rp.startswith(f"/proc/{own}/") or rp == f"/proc/{own}"):
                raise PermissionError(f"sandbox: reading {path} is not allowed")
            if writing and not inside(path) and rp != "/dev/null":
                raise PermissionError(f"sandbox: writing {path} outside the work dir is not allowed")
        elif event in path_events:
            for p in args[:2]:
                if isinstance(p, (str, bytes)) and not inside(os.fsdecode(p)):
                    raise PermissionError(f"sandbox: {event} outside the work dir is not allowed")

    sys.addaudithook(hook)


def child(workdir, libc, ctypes):
    os.close(STATUS_FD)
    os.chdir(workdir)
    if libc is None:
        ctypes, libc = _libc()
    try:
        join_fresh_keyring(libc)
        drop_privileges(libc, ctypes)
    except Exception as exc:  # noqa: BLE001 - report and stop: never run the program unconfined
        sys.stderr.write(f"sandbox setup failed: {exc!r}\n")
        os._exit(EXIT_SETUP)
    try:
        install_seccomp(libc, ctypes)  # (prepended from _seccomp.py)
    except OSError as exc:
        if MODE != "fallback":  # the namespace modes promise the filter: never run without it
            sys.stderr.write(f"sandbox setup failed: {exc!r}\n")
            os._exit(EXIT_SETUP)
    main = CFG["main"]
    with open(main, "rb") as fh:
        source = fh.read()
    try:
        code = compile(source, main, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        import traceback

        sys.stderr.write("".join(traceback.format_exception_only(type(exc), exc)))
        sys.stderr.flush()
        os._exit(EXIT_COMPILE)
    if MODE == "fallback":
        fallback_fence(workdir)

    mod = type(sys)("__main__")
    mod.__file__ = main
    mod.__builtins__ = __builtins__
    sys.modules["__main__"] = mod
    sys.argv = [main] + CFG.get("argv", [])
    sys.path[0:0] = [workdir]
    try:
        exec(code, mod.__dict__)
    except SystemExit:
        raise
    except MemoryError:
        os._exit(EXIT_MEMORY)
    except BaseException as exc:  # noqa: BLE001 - the program's uncaught exception
        try:
            sys.stdout.flush()  # what it printed before it raised is part of its output
        except BaseException:  # noqa: BLE001
            pass
        try:
            import traceback

            traceback.print_exc()
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001 - no fds left, no memory, fallback's fence...
            os.write(2, f"{type(exc).__name__}: {exc}\n".encode(errors="replace"))
        os._exit(1)


def _finish(code):
    """What the interpreter does at exit (threads joined, atexit run, streams flushed), then the
    exit status; done by hand because this process may be a fork of the zygote."""
    if code is None:
        code = 0
    elif not isinstance(code, int):
        try:
            sys.stderr.write(f"{code}\n")
        except Exception:  # noqa: BLE001
            pass
        code = 1
    try:
        threading = sys.modules.get("threading")
        if threading is not None:
            threading._shutdown()
        import atexit

        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001 - a program's exit handler may raise
        code = code or 1
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is None or getattr(stream, "closed", False):
                continue
            stream.flush()
        except BaseException:  # noqa: BLE001
            code = code or 120
    return code & 0xFF


def main():
    libc = ctypes = None
    ro_root = False
    workdir = CFG["hostdir"]
    if MODE in ("root-ns", "userns"):
        try:
            ro_root, libc, ctypes = setup_mounts()
            workdir = "/tmp/work"
        except Exception as exc:  # noqa: BLE001
            _report({"setup_error": repr(exc)})
            os._exit(EXIT_SETUP)
    for fd in (0, 1, 2):
        os.set_inheritable(fd, True)
    pid = os.fork()
    if pid == 0:
        try:
            child(workdir, libc, ctypes)
            code = 0
        except SystemExit as exc:
            code = exc.code
        except BaseException as exc:  # noqa: BLE001 - e.g. printing a traceback with no fds left
            try:
                os.write(2, f"{type(exc).__name__}: {exc}\n".encode(errors="replace"))
            except BaseException:  # noqa: BLE001
                pass
            code = 1
        os._exit(_finish(code))
    # Supervisor: nothing of ours is reachable by the program (other uid / no capabilities).
    if libc is not None:
        libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: /proc/1 not readable by the program
    devnull = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    for fd in CFG.get("pass_fds", []):
        try:
            os.close(fd)
        except OSError:
            pass
    # The supervisor keeps the wall clock itself too, so a run ends even if its caller vanished.
    import signal

    class _Deadline(Exception):
        pass

    def _alarm(*_):
        raise _Deadline()

    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, CFG["limits"].get("wall_s", 3600))
    status = None
    wall = False
    while status is None:
        try:
            wpid, st, ru = os.wait4(-1, 0)
        except ChildProcessError:
            break
        except _Deadline:
            wall = True
            os.kill(pid, 9)
            continue
        if wpid == pid:
            status = (st, ru)
    signal.setitimer(signal.ITIMER_REAL, 0)
    st, ru = status
    _report({
        "wall_timeout": wall,
        "exit": os.waitstatus_to_exitcode(st),
        "cpu_s": ru.ru_utime + ru.ru_stime,
        "maxrss_kb": ru.ru_maxrss,
        "readonly_root": ro_root,
    })
    os._exit(0)
