"""Hostile corpus: each program attacks the caller; each test asserts the caller is unharmed.

Runs in the strongest containment this machine allows (``root-ns`` as root) and again in the
explicit ``fallback`` mode. Every program gets argv = [outside_dir, decoy_pid, caller_pid, port].
After each program: no process of the sandbox is left, nothing appeared in ``outside_dir`` (a
world-writable dir outside the sandbox), the decoy process (holding the secret in its environment)
is alive, and the caller's secret is in no output.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rewardsmith import sandbox as sb
from rewardsmith.sandbox.cleanup import finish_removals

SECRET = "rs-secret-" + secrets.token_hex(8)
MARKER = "In-sandbox bootstrap"


def _modes():
    modes = [sb.detect_mode()]
    if "fallback" not in modes:
        modes.append("fallback")
    return modes


# the run uids of this process (sandbox.processes.next_uid): other jobs on the machine use the sandbox too
_OUR_UIDS = (1_900_000_000 + (os.getpid() % 100_000) * 4096, 1_900_000_000 + (os.getpid() % 100_000 + 1) * 4096)


def _sandbox_procs() -> list[int]:
    """Pids of any process a sandbox started (fresh uid range, or our bootstrap's cmdline)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            uid = entry.stat().st_uid
            with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                cmd = fh.read()
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                state = fh.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state in (b"Z", b"X"):  # a dead entry not yet reaped by this machine's init
            continue
        if b'"mode": "zygote"' in cmd:  # the fork server itself: clean, long-lived, not a program
            continue
        if _OUR_UIDS[0] <= uid < _OUR_UIDS[1] or MARKER.encode() in cmd:
            found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    os.environ["REWARDSMITH_HOSTILE_SECRET"] = SECRET
    outside = tmp_path_factory.mktemp("outside")
    os.chmod(outside, 0o777)
    (outside / "canary.txt").write_text("canary")
    os.chmod(outside / "canary.txt", 0o666)
    decoy = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                             env={"REWARDSMITH_HOSTILE_SECRET": SECRET})
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    received: list[bytes] = []
    stop = threading.Event()

    def accept_loop():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.settimeout(1)
            try:
                received.append(conn.recv(1024) or b"<connected>")
            except OSError:
                received.append(b"<connected>")
            conn.close()

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    before = set(os.listdir("/tmp"))
    yield {"outside": outside, "decoy": decoy, "port": listener.getsockname()[1], "received": received}
    stop.set()
    thread.join(2)
    listener.close()
    # After the whole corpus: no leftover process, no sandbox dir left behind, decoy alive.
    assert _sandbox_procs() == []
    assert decoy.poll() is None
    finish_removals()  # fallback work dirs too big to remove within run()'s 1 s finish in the background
    leftovers = [n for n in set(os.listdir("/tmp")) - before if n.startswith("rewardsmith-sandbox-")]
    assert leftovers == []
    decoy.kill()
    decoy.wait()
    del os.environ["REWARDSMITH_HOSTILE_SECRET"]


def _load_corpus():
    spec = importlib.util.spec_from_file_location("hostile_corpus", Path(__file__).with_name("hostile_corpus.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.CORPUS


CORPUS = _load_corpus()


@pytest.mark.parametrize("mode", _modes())
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_hostile_program_is_contained(world, name, mode):
    if mode == "fallback" and name == "disk_fill":
        pytest.skip("fallback has no disk cap (documented): it would write gigabytes to the host's disk")
    code, allowed = CORPUS[name]
    argv = [str(world["outside"]), str(world["decoy"].pid), str(os.getpid()), str(world["port"])]
    t0 = time.monotonic()
    res = sb.run(code, timeout=2.0, memory_mb=256, max_output=200_000, argv=argv, mode=mode)
    elapsed = time.monotonic() - t0
    assert res.containment["mode"] == mode
    assert res.status in allowed, (res.status, res.returncode, res.stderr[-800:])
    assert elapsed < 2.0 + 3.0
    assert len(res.stdout) <= 200_000 and len(res.stderr) <= 200_000
    # The caller is unharmed: alive (we run), decoy alive, secret never seen, nothing outside.
    assert world["decoy"].poll() is None
    assert SECRET not in res.stdout and SECRET not in res.stderr
    time.sleep(0.1 if name not in ("setsid_escape", "daemonize") else 2.0)
    assert sorted(p.name for p in world["outside"].iterdir()) == ["canary.txt"]
    assert (world["outside"] / "canary.txt").read_text() == "canary"
    assert world["received"] == []
    assert _sandbox_procs() == []
    for p in ("/tmp/pwned-rs", "/var/tmp/pwned-rs", "/root/pwned-rs"):
        assert not os.path.exists(p)
    if name == "huge_stdout":
        assert res.truncated and len(res.stdout) == 200_000
    if name == "socket_to_listener" and mode != "fallback":
        assert "Network is unreachable" in res.stderr or "Errno" in res.stderr
    if name == "forge_status_fd":
        assert res.returncode == 3


def test_signal_group_of_caller_untouched(world):
    """kill(0)/killpg from the program never reaches the caller's process group."""
    res = sb.run("import os, signal\nos.killpg(os.getpgid(0), signal.SIGKILL)\n", timeout=3.0)
    assert res.status in {"killed", "error", "ok"}
    assert os.getpgid(0) == os.getpgrp()


@pytest.mark.parametrize("name", ["fork_bomb", "setsid_escape", "kill_everything", "huge_stdout",
                                  "infinite_loop", "read_proc_environ", "write_outside"])
def test_oneshot_launcher_contains_too(world, name):
    """The same programs through ``unshare ... python`` (no zygote)."""
    code, allowed = CORPUS[name]
    argv = [str(world["outside"]), str(world["decoy"].pid), str(os.getpid()), str(world["port"])]
    res = sb.run(code, timeout=2.0, memory_mb=256, max_output=200_000, argv=argv, zygote=False)
    assert res.containment["launcher"] == "unshare"
    assert res.status in allowed, (res.status, res.stderr[-500:])
    assert SECRET not in res.stdout and SECRET not in res.stderr
    time.sleep(2.0 if name == "setsid_escape" else 0.1)
    assert sorted(p.name for p in world["outside"].iterdir()) == ["canary.txt"]
    assert world["decoy"].poll() is None and _sandbox_procs() == []


# ---------------------------------------------------------------- issue 12's red-team findings


def _grading():
    spec = importlib.util.spec_from_file_location("hostile_corpus", Path(__file__).with_name("hostile_corpus.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.GRADING


@pytest.mark.parametrize("name", sorted(_grading()))
def test_grading_attack_never_passes(name):
    """Findings 1 and 7: wrong programs in test layouts the harness once skipped, and lone
    surrogates that once crashed it, get a verdict that is not a pass (never an exception)."""
    from rewardsmith.sandbox.testing import run_tests

    program, tests, entry = _grading()[name]
    tr = run_tests(program, tests, entry_point=entry, timeout=5.0)
    assert not (tr.event == "done" and tr.results and all(r == "passed" for r in tr.results)), tr
    assert tr.event in ("done", "compile_error"), (tr.event, tr.reason)


def _ns_mode_or_skip():
    mode = sb.detect_mode()
    if mode == "fallback":
        pytest.skip("no namespaces here: the fallback mode has no tmpfs, cgroup or required seccomp")
    return mode


def _stdout_field(res, key):
    return [ln.split() for ln in res.stdout.splitlines() if ln.startswith(key)]


def test_disk_writes_are_capped_by_the_tmpfs():
    """Finding 2: the work dir was the host's disk (2 GiB written in 1 s); now it is the tmpfs."""
    _ns_mode_or_skip()
    code, _ = CORPUS["disk_fill"]
    res = sb.run(code, timeout=5.0, tmpfs_mb=16)
    (line,) = _stdout_field(res, "MiB")
    assert int(line[1]) <= 16, res.stdout
    assert "stopped 28" in res.stdout  # ENOSPC
    assert res.containment["workdir"] == "tmpfs"


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["ns", "fallback"])
def test_a_huge_tree_does_not_hold_up_run(mode):
    """Finding 3: 99,000 dirs made run() return after 11.5 s; namespace runs cap the inodes (the
    tmpfs goes with the namespace), fallback removes the rest in the background."""
    mode = _ns_mode_or_skip() if mode == "ns" else "fallback"
    code = ("import os\ni = 0\ntry:\n    while True:\n        os.mkdir(f'd{i}'); i += 1\n"
            "except OSError as e:\n    print('dirs', i, e.errno, flush=True)\nimport time\ntime.sleep(100)\n")
    t = time.monotonic()
    res = sb.run(code, timeout=3.0, mode=mode)
    elapsed = time.monotonic() - t
    assert res.status == "timeout"
    assert elapsed < 3.0 + 2.0, elapsed
    if mode != "fallback":
        (line,) = _stdout_field(res, "dirs")
        assert int(line[1]) <= 4096 and line[2] == "28"


def test_keys_cannot_be_added_and_none_outlive_the_run():
    """Finding 5: add_key into the run's user keyring worked and the keys outlived the run."""
    _ns_mode_or_skip()
    res = sb.run(CORPUS["keyring_add"][0], timeout=5.0)
    assert res.status == "ok", res.stderr
    (add,) = _stdout_field(res, "add_key")
    assert add[1:] == ["-1", "1"], res.stdout  # EPERM from the seccomp filter
    (ctl,) = _stdout_field(res, "keyctl")
    assert ctl[1:] == ["-1", "1"], res.stdout
    uid = res.containment["user"].split()[-1]
    if uid.isdigit():
        with open("/proc/key-users") as fh:
            assert not any(ln.split(":")[0].strip() == uid for ln in fh), "the run's uid still holds keys"


def test_vsock_and_other_socket_families_are_denied():
    """Finding 6: AF_VSOCK is not cut off by the network namespace (local CID only is tried)."""
    _ns_mode_or_skip()
    res = sb.run(CORPUS["vsock_local"][0], timeout=5.0)
    assert res.status == "error" and "Operation not permitted" in res.stderr, res.stderr[-500:]
    assert "listening" not in res.stdout and "connected" not in res.stdout
    res = sb.run(CORPUS["netlink_and_packet"][0], timeout=5.0)
    assert "opened" not in res.stdout and res.stdout.count("denied") == 3, res.stdout
    res = sb.run("import socket\na, b = socket.socketpair()\na.sendall(b'hi')\nprint(b.recv(2))\n")
    assert res.stdout == "b'hi'\n"  # AF_UNIX still works (multiprocessing, asyncio need it)


def test_seccomp_denies_the_rest_and_threads_and_subprocesses_still_work():
    _ns_mode_or_skip()
    for name in ("io_uring", "nested_userns"):
        res = sb.run(CORPUS[name][0], timeout=5.0)
        assert res.status == "ok" and res.stdout.split()[1:3] == ["-1", "1"], (name, res.stdout, res.stderr)
    res = sb.run("import threading, subprocess, sys\nt = threading.Thread(target=print, args=('t',))\n"
                 "t.start(); t.join()\nprint(subprocess.run([sys.executable, '-c', 'print(7)'], capture_output=True,"
                 " text=True).stdout.strip())\n", timeout=10.0)
    assert res.stdout == "t\n7\n", res.stderr[-500:]
    assert "bpf (required)" in res.containment["seccomp"]


@pytest.mark.slow
def test_each_run_has_its_own_memory_cgroup():
    """One run with memory_mb=512 used 4.4 GiB across 10 forks (only the shared budget bound it)."""
    _ns_mode_or_skip()
    if not sb.run("print(1)").containment.get("cgroup"):
        pytest.skip("no memory cgroup can be made here (not root, or cgroups not writable)")
    code = ("import os\nkids = []\nfor _ in range(4):\n    pid = os.fork()\n    if pid == 0:\n"
            "        x = bytearray(150 * 2**20)\n        for i in range(0, len(x), 4096): x[i] = 1\n"
            "        import time; time.sleep(1.0); os._exit(0)\n    kids.append(pid)\n"
            "ok = sum(os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) == 0 for p in kids)\nprint('survivors', ok)\n")
    res = sb.run(code, memory_mb=256, tmpfs_mb=16, timeout=20.0)  # run limit 256 + 2*16 + 64 MiB
    assert "for this run" in res.containment["cgroup"]
    survivors = _stdout_field(res, "survivors")
    assert res.status != "ok" or (survivors and int(survivors[0][1]) < 4), (res.status, res.stdout)
