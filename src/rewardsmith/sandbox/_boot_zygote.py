"""In-sandbox bootstrap, part 2: the zygote (fork server) and the runner it forks per run.

Not a module: ``launch.BOOT_SOURCE`` appends it to ``_seccomp.py`` and ``_boot.py`` (whose names,
``CFG``, ``MODE``, ``main``, ``_mount``, ``_report``..., it uses) and runs the whole as
``python -I -c``. Its last lines are the bootstrap's entry point. With ``mode == "zygote"`` the
interpreter serves requests: per request (JSON + the run's fds over a unix socket) it forks a
``runner`` that takes the fds at their numbers, moves itself into the run's memory cgroup,
``unshare(2)``s the namespaces and forks the PID-1 supervisor (``main``).
"""

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000


def runner(req, fds, libc, ctypes):
    """One run, in a fresh fork of the zygote: take the run's fds, enter new namespaces, fork the
    PID-1 supervisor (``main``) and wait for it. The caller kills this process to end the run."""
    global CFG, MODE, STATUS_FD
    import fcntl
    import signal

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    _oom_adj(1000)  # the run (inherited by its supervisor and program) goes before anything else
    targets = req["targets"]
    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD, 1024) for fd in fds]
    for fd in fds:
        os.close(fd)
    for src, dst in zip(moved, targets):
        os.dup2(src, dst)
    keep = set(targets)
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    os.environ.clear()
    os.environ.update(req["env"])
    CFG = req["cfg"]
    MODE = CFG["mode"]
    STATUS_FD = CFG["status_fd"]
    os.chdir(CFG["hostdir"])
    if req.get("cgroup_procs"):  # the run's own memory cgroup, before anything of the run exists
        try:
            with open(req["cgroup_procs"], "w") as fh:
                fh.write(str(os.getpid()))
        except OSError as exc:
            _report({"setup_error": f"cgroup: {exc}"})
            os._exit(EXIT_SETUP)
    if MODE != "fallback":
        uid, gid = os.getuid(), os.getgid()
        flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
        if MODE == "userns":
            flags |= CLONE_NEWUSER
        if libc.unshare(flags) != 0:
            _report({"setup_error": f"unshare: {os.strerror(ctypes.get_errno())}"})
            os._exit(EXIT_SETUP)
        if MODE == "userns":
            for path, text in (("/proc/self/setgroups", "deny"), ("/proc/self/uid_map", f"0 {uid} 1"),
                               ("/proc/self/gid_map", f"0 {gid} 1")):
                with open(path, "w") as fh:
                    fh.write(text)
    pid = os.fork()
    if pid == 0:
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: the runner's death ends the run
        if MODE != "fallback":
            try:
                _mount(libc, ctypes, None, "/", None, MS_REC | MS_PRIVATE)
                _mount(libc, ctypes, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            except OSError as exc:
                _report({"setup_error": repr(exc)})
                os._exit(EXIT_SETUP)
        main()
        os._exit(0)
    for fd in keep:
        try:
            os.close(fd)
        except OSError:
            pass
    while True:
        try:
            os.waitpid(pid, 0)
            break
        except ChildProcessError:
            break
        except InterruptedError:
            continue
    os._exit(0)


def zygote(sock_fd):
    """Fork server: one request (JSON + the run's fds) in, one runner forked, its pid out."""
    import signal
    import socket

    # Stdlib modules every run imports (the supervisor, the program's setup, the test harness):
    # imported once here, each forked run finds them loaded.
    import ast  # noqa: F401
    import fcntl  # noqa: F401
    import keyword  # noqa: F401
    import resource  # noqa: F401
    import traceback  # noqa: F401

    ctypes, libc = _libc()
    _oom_adj(-500)
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans come here...
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # ...and every child is reaped at once
    sock = socket.socket(fileno=sock_fd)
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(sock, 1 << 20, 64)
        except (OSError, InterruptedError):
            break
        if not msg:
            break
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            try:
                sock.close()
                runner(json.loads(msg), fds, libc, ctypes)
            finally:
                os._exit(EXIT_SETUP)
        for fd in fds:
            os.close(fd)
        try:
            sock.send(json.dumps({"pid": pid}).encode())
        except OSError:
            break


if MODE == "zygote":
    zygote(CFG["sock"])
else:
    main()
