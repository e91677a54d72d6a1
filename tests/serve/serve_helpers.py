"""The reward server as the tests meet it: a real ``rewardsmith serve`` process on 127.0.0.1 only,
a free port chosen by the server itself, stopped with SIGTERM (then SIGKILL) by its pid."""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time

HOST = "127.0.0.1"  # never another address
TOKEN = "test-token-7f3a"


class ServerProcess:
    """``rewardsmith serve ARGS --host 127.0.0.1 --port 0`` in a child process."""

    def __init__(self, *args: str, env: dict | None = None, startup_s: float = 90.0) -> None:
        cmd = [sys.executable, "-c", "from rewardsmith.cli import main; main()", "serve",
               "--host", HOST, "--port", "0", *args]
        self.stderr_path = f"/tmp/rewardsmith-serve-test-{os.getpid()}-{random.randrange(1 << 30)}.err"
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._err,
                                     env={**os.environ, **(env or {})})
        line = self._first_line(startup_s)
        from rewardsmith.serve import LISTENING

        if LISTENING not in line:
            self.stop()
            raise RuntimeError(f"server did not start: {line!r}\n{self.stderr()}")
        self.url = line.split(LISTENING, 1)[1].split()[0]
        assert self.url.startswith(f"http://{HOST}:")

    def _first_line(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        buf = b""
        fd = self.proc.stdout.fileno()
        while b"\n" not in buf and time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                buf += chunk
            elif self.proc.poll() is not None:
                break
        return buf.decode(errors="replace")

    def stderr(self) -> str:
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def wait_ready(self, timeout: float = 60.0) -> dict:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                r = httpx.get(self.url + "/ready", timeout=5)
                if r.status_code == 200:
                    return r.json()
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server not ready after {timeout}s\n{self.stderr()}")

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._err.close()
        try:
            os.unlink(self.stderr_path)
        except OSError:
            pass
        return self.proc.returncode


def make_rows(n: int, seed: int = 0, tag: str = "") -> list[dict]:
    """Seed-tiered rows (~250 characters): right, wrong and broken-format answers, each row's
    reasoning unique (``tag`` + index) so a lost or duplicated row is visible."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a = rng.randint(1, 999)
        kind = rng.random()
        if kind < 0.4:
            gold, ans = str(a), f"\\frac{{{2 * a}}}{{2}}"
        elif kind < 0.8:
            gold, ans = str(a), str(a + rng.randint(1, 9))
        else:
            gold, ans = f"{a}.5", f"\\frac{{{2 * a + 1}}}{{2}}"
        body = f"<think>\nrow {tag}{i}: we add the parts and divide so each is counted once\n</think>\n" \
               f"<answer>\n\\boxed{{{ans}}}\n</answer>"
        if rng.random() < 0.1:
            body += " trust me"
        rows.append({"completion": body, "answer": gold, "group": i // 4})
    return rows
