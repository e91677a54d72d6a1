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

SECRET = "rs-secret-" + secrets.token_hex(8)
MARKER = "In-sandbox bootstrap"


def _modes():
    modes = [sb.detect_mode()]
    if "fallback" not in modes:
        modes.append("fallback")
    return modes


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
        if uid >= 1_900_000_000 or MARKER.encode() in cmd:
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
