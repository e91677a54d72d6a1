"""The sandbox's API: statuses, limits, isolation facts, validation and the pool."""

from __future__ import annotations

import os
import threading
import time

import pytest

from rewardsmith import sandbox as sb
from rewardsmith.sandbox import cgroups
from rewardsmith.sandbox.state import STATE


def test_ok_run_reports_everything():
    res = sb.run("import sys\nprint(sys.stdin.read().upper())\nprint('err', file=sys.stderr)\n", stdin="hello")
    assert res.status == "ok" and res.ok and res.returncode == 0
    assert res.stdout == "HELLO\n" and res.stderr == "err\n"
    assert 0 < res.duration < 10 and res.cpu_time is not None
    c = res.containment
    assert c["mode"] in sb.MODES and c["network"] in ("netns", "audit-hook")
    if c["mode"] != "fallback":
        assert c["pid_namespace"] and c["mount_namespace"] and c["readonly_root"]


@pytest.mark.parametrize("code, status, rc", [
    ("raise SystemExit(3)\n", "error", 3),
    ("raise ValueError('x')\n", "error", 1),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n", "killed", None),
    ("x = bytearray(2 * 1024 ** 3)\n", "memory", None),
    ("while True:\n    pass\n", "timeout", None),
])
def test_statuses(code, status, rc):
    res = sb.run(code, timeout=1.0, memory_mb=256)
    assert res.status == status, (res.status, res.stderr[-300:])
    if rc is not None:
        assert res.returncode == rc


def test_compile_error_is_flagged():
    res = sb.run("def f(:\n")
    assert res.status == "error" and res.compile_error and "SyntaxError" in res.stderr


def test_cpu_limit_separate_from_wall_clock():
    res = sb.run("while True:\n    pass\n", timeout=30.0, cpu_time=1.0)
    assert res.status == "timeout" and res.cpu_time < 2.5 and res.duration < 30.0


def test_output_is_truncated_and_flagged():
    res = sb.run("print('y' * 5000)\n", max_output=1000)
    assert res.status == "output_limit" and res.truncated and len(res.stdout) == 1000


def test_environment_is_empty_and_workdir_private(tmp_path):
    os.environ["RS_API_SECRET"] = "topsecret-123"
    try:
        res = sb.run("import os\nprint(sorted(os.environ))\nprint(os.getcwd())\nprint(open('data.txt').read())\n"
                     "open('made.txt', 'w').write('x')\n", files={"data.txt": "payload"})
    finally:
        del os.environ["RS_API_SECRET"]
    assert "RS_API_SECRET" not in res.stdout and "topsecret" not in res.stdout
    lines = res.stdout.splitlines()
    assert "payload" in lines
    workdir = lines[1]
    if res.containment["mode"] == "fallback":
        assert not os.path.exists(workdir)  # removed afterwards
    else:
        assert workdir == "/tmp/work"


def test_file_size_limit():
    res = sb.run("open('f', 'wb').write(b'0' * (3 * 1024 * 1024))\n", file_size_mb=1)
    assert res.status == "error" and "File too large" in res.stderr


def test_process_limit_holds():
    res = sb.run("import os, time\nn = 0\ntry:\n    for _ in range(100):\n        if os.fork() == 0:\n"
                 "            time.sleep(5)\n            os._exit(0)\n        n += 1\nexcept OSError:\n    pass\nprint(n)\n",
                 max_processes=5, timeout=3.0)
    if res.containment["mode"] == "root-ns":  # RLIMIT_NPROC on the run's own uid
        assert res.status == "ok" and int(res.stdout) <= 5
    elif res.containment["mode"] == "userns":  # it counts the caller's tasks too: only bounded
        assert res.status == "ok" and int(res.stdout) < 100


def test_no_network():
    res = sb.run("import socket\ns = socket.socket()\ns.settimeout(1)\ns.connect(('1.1.1.1', 53))\n", timeout=3.0)
    assert res.status == "error"


def test_validation_names_the_field():
    with pytest.raises(ValueError, match="timeout"):
        sb.run("pass", timeout=-1)
    with pytest.raises(ValueError, match="memory_mb"):
        sb.run("pass", memory_mb=1)
    with pytest.raises(ValueError, match="mode"):
        sb.run("pass", mode="docker")
    with pytest.raises(ValueError, match="code"):
        sb.run(b"print(1)")
    with pytest.raises(ValueError, match="files"):
        sb.run("pass", files={"../escape.py": "x"})
    with pytest.raises(ValueError, match="python"):
        sb.run("pass", python="/nonexistent/python3")


@pytest.mark.parametrize("field, bad", [
    ("timeout", 0), ("timeout", float("nan")), ("timeout", True), ("timeout", "5"),
    ("cpu_time", -1.0), ("cpu_time", float("inf")),
    ("memory_mb", 31), ("memory_mb", 512.0), ("memory_mb", True),
    ("max_processes", 0), ("max_output", -1), ("max_output", None),
    ("file_size_mb", -1), ("file_size_mb", 1.5),
    ("tmpfs_mb", 0),  # size=0 would make the run's tmpfs unlimited
    ("max_open_files", 3), ("max_open_files", "64"),
    ("mode", "docker"), ("python", "/nonexistent/python3"), ("python", None),
    ("zygote", 1), ("zygote", "yes"),
])
def test_every_config_field_is_validated_with_field_value_and_expectation(field, bad):
    with pytest.raises(ValueError) as err:
        sb.SandboxConfig(**{field: bad})
    msg = str(err.value)
    assert msg.startswith(f"{field}={bad!r}: expected "), msg


def test_config_accepts_its_boundaries_and_documents_every_field():
    from dataclasses import fields

    from rewardsmith.sandbox.config import field_help

    cfg = sb.SandboxConfig(timeout=0.5, cpu_time=1, memory_mb=32, max_processes=1, max_output=0,
                           file_size_mb=0, tmpfs_mb=1, max_open_files=4, mode="fallback", zygote=False)
    assert cfg.max_open_files == 4 and cfg.cpu_time == 1
    docs = field_help()
    assert list(docs) == [f.name for f in fields(sb.SandboxConfig)]
    assert all(len(text) > 15 and text.endswith(".") for text in docs.values()), docs


def test_pool_runs_concurrently_in_order():
    progs = [f"import time\ntime.sleep(0.3)\nprint({i})\n" for i in range(6)]
    t0 = time.monotonic()
    with sb.SandboxPool(workers=6, memory_budget_mb=10_000) as pool:
        res = pool.map({"code": p} for p in progs)
    elapsed = time.monotonic() - t0
    assert [r.stdout for r in res] == [f"{i}\n" for i in range(6)]
    assert elapsed < 6 * 0.3  # overlapped, not serial


def test_pool_memory_budget_bounds_concurrency():
    active, peak, lock = [0], [0], threading.Lock()
    pool = sb.SandboxPool(workers=4, memory_budget_mb=512)
    orig = pool._reserve

    def reserve(mb):
        held = orig(mb)
        with lock:
            active[0] += held
            peak[0] = max(peak[0], active[0])
        return held

    def release(mb, _orig=pool._release):
        with lock:
            active[0] -= mb
        _orig(mb)

    pool._reserve, pool._release = reserve, release
    with pool:
        res = pool.map({"code": "import time\ntime.sleep(0.2)\n", "memory_mb": 256} for _ in range(6))
    assert all(r.ok for r in res)
    assert peak[0] <= 512


def test_run_many_checks_lengths():
    assert [r.stdout for r in sb.run_many(["print(1)", "print(2)"], workers=2)] == ["1\n", "2\n"]
    with pytest.raises(ValueError, match="stdins"):
        sb.run_many(["print(1)"], ["a", "b"])


def test_runs_share_no_state_through_the_zygote():
    code = "import os, random\nprint(random.random(), sorted(os.listdir('/proc/self/fd')))\n"
    a, b = sb.run(code), sb.run(code)
    assert a.ok and b.ok
    assert a.stdout.split()[0] != b.stdout.split()[0]  # random seeded per run, not inherited
    # only stdin, stdout, stderr (and listdir's own fd): no control socket, no status pipe
    assert len(eval(a.stdout.split(" ", 1)[1])) <= 4  # noqa: S307 - our own test output


def test_zygote_restarts_when_killed():
    first = sb.run("print(1)")
    if first.containment.get("launcher") != "zygote":
        pytest.skip("runs are not forked from a zygote here")
    for z in list(STATE.zygotes.values()):
        z.proc.kill()
        z.proc.wait()
    assert sb.run("print(2)").stdout == "2\n"


def test_oneshot_launcher_still_works():
    res = sb.run("print(3)", zygote=False)
    assert res.ok and res.stdout == "3\n" and res.containment["launcher"] == "unshare"


def test_run_ends_by_itself_when_its_caller_is_killed():
    """The supervisor keeps the wall clock too: a caller killed mid-run leaves nothing behind."""
    import signal
    import subprocess
    import sys

    marker = "rs-orphan-probe-4242"
    caller = subprocess.Popen([sys.executable, "-c", (
        "from rewardsmith import sandbox as sb\n"
        f"sb.run('import time\\n# {marker}\\ntime.sleep(1000)\\n', timeout=3.0)\n")])

    def depth(pid):
        with open(f"/proc/{pid}/status") as fh:
            return len(next(ln for ln in fh if ln.startswith("NSpid:")).split()) - 1

    mine = depth("self")

    def programs():
        """Live processes of a sandbox: a fresh sandbox uid (as root), or our uid in a nested PID
        namespace (as an ordinary user)."""
        found = []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as fh:
                    state = fh.read().rsplit(")", 1)[1].split()[0]
                uid = entry.stat().st_uid
                nested = depth(entry.name) > mine
            except (OSError, IndexError, StopIteration):
                continue
            if state in ("Z", "X"):
                continue
            if (os.geteuid() == 0 and uid >= 1_900_000_000) or (os.geteuid() != 0 and uid == os.getuid() and nested):
                found.append(entry.name)
        return found

    start = time.monotonic()
    while not programs() and time.monotonic() - start < 15.0:
        time.sleep(0.05)
    assert programs(), "the probe program should be running"
    caller.send_signal(signal.SIGKILL)
    caller.wait()
    deadline = time.monotonic() + 10.0
    while programs() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert programs() == []


def test_memory_budget_caps_all_runs_together():
    """Where a memory cgroup can be made, the budget binds even when RLIMIT_AS would allow more."""
    probe = sb.run("print(1)")
    if not probe.containment.get("cgroup"):
        pytest.skip("no memory cgroup can be made here (not root, or cgroups not writable)")
    default = cgroups.memory_budget_mb()
    try:
        sb.set_memory_budget(300)
        hog = "x = bytearray(500 * 2**20)\nfor i in range(0, len(x), 4096):\n    x[i] = 1\nprint('survived')\n"
        res = sb.run(hog, memory_mb=2048, timeout=20.0)
        assert res.status == "memory" and "survived" not in res.stdout, (res.status, res.stderr[-300:])
    finally:
        sb.set_memory_budget(default)
    assert sb.run("x = bytearray(500 * 2**20)\nfor i in range(0, len(x), 4096):\n    x[i] = 1\nprint('ok')\n",
                  memory_mb=2048, timeout=20.0).stdout == "ok\n"
    with pytest.raises(ValueError, match="memory_budget_mb"):
        sb.set_memory_budget(1)


def test_stale_dir_cleanup_skips_planted_fifos_and_symlinks(tmp_path):
    """A sandboxed program (another uid, fallback mode) can plant entries named like a dead
    caller's work dir in the temp dir; the next caller's cleanup must neither block on a FIFO,
    chmod through a symlink nor crash on a pid out of range, and still removes a real stale dir
    of its own."""
    import subprocess
    import sys

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    tmp.chmod(0o1777)
    target = tmp_path / "target.txt"
    target.write_text("x")
    target.chmod(0o644)
    dead = 2**22 + 12345  # above the default pid_max: no such process
    fifo = tmp / f"rewardsmith-sandbox-{dead}-fifo"
    os.mkfifo(fifo)
    link = tmp / f"rewardsmith-sandbox-{dead}-link"
    link.symlink_to(target)
    own = tmp / f"rewardsmith-sandbox-{dead}-own"
    (own / "sub").mkdir(parents=True)
    (own / "sub" / "f").write_text("y")
    # a pid no process can have: os.kill raised OverflowError and every caller's run() with it
    huge = tmp / f"rewardsmith-sandbox-{2**63}-huge"
    huge.mkdir()
    old = 946684800
    for p in (fifo, own, huge):
        os.utime(p, (old, old))
    os.utime(link, (old, old), follow_symlinks=False)
    code = "from rewardsmith.sandbox.cleanup import clean_stale_dirs; clean_stale_dirs()"
    res = subprocess.run([sys.executable, "-c", code], env={**os.environ, "TMPDIR": str(tmp)},
                         timeout=30, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert not own.exists()
    assert fifo.exists() and link.is_symlink() and huge.is_dir()
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    assert oct(tmp.stat().st_mode & 0o7777) == "0o1777"


def test_cgroups_of_dead_callers_are_swept_with_their_run_cgroups():
    """A pool worker ends with os._exit (no atexit): its zygote cgroup and run cgroups stay
    behind until the next caller sweeps them; a live caller's are never touched."""
    base = cgroups.cgroup_base()
    if base is None:
        pytest.skip("no memory cgroup can be made here (not root, or cgroups not writable)")
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    stale = os.path.join(base[1], f"rewardsmith-{dead}-1")
    live = os.path.join(base[1], f"rewardsmith-{os.getpid()}-999")
    for d in (stale, os.path.join(stale, "run-0-abc"), live, os.path.join(live, "run-0-abc")):
        os.mkdir(d)
    try:
        cgroups.sweep_dead_cgroups(base[1])
        assert not os.path.exists(stale)
        assert os.path.exists(os.path.join(live, "run-0-abc"))
    finally:
        for d in (os.path.join(live, "run-0-abc"), live, os.path.join(stale, "run-0-abc"), stale):
            if os.path.exists(d):
                os.rmdir(d)
