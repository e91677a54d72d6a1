"""``rewardsmith serve``'s argument errors and its missing extra, in one line each."""

from __future__ import annotations

import subprocess
import sys


def _cli(*argv: str, block: str | None = None) -> subprocess.CompletedProcess:
    code = "import sys\n"
    if block:
        code += f"sys.modules[{block!r}] = None\n"
    code += f"from rewardsmith.cli import main\nsys.argv = ['rewardsmith', *{list(argv)!r}]\nmain()\n"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_serve_without_fastapi_names_the_serve_extra():
    proc = _cli("serve", "--port", "0", block="fastapi")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "pip install 'rewardsmith[serve]'" in proc.stderr


def test_serve_bad_rules_and_port():
    proc = _cli("serve", "--rules", "no-such-preset", "--port", "0")
    assert proc.returncode == 2 and "--rules" in proc.stderr and "no-such-preset" in proc.stderr
    proc = _cli("serve", "--ray", "--replicas", "3", "--max-replicas", "2")
    assert proc.returncode == 2 and "--max-replicas" in proc.stderr
