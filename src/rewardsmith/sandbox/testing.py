"""Grade an untrusted program against trusted assert-style tests, from two sandboxes.

``run_tests(program, tests)`` starts the program in one sandbox (``_rpc_server``: it loads the
program and answers requests) and the tests in another (``_rpc_client``: it runs the whole test
module, as written, with the program's names bound to proxies; ``_testplan`` says what counts as
a test), joined by two pipes. Expected values and the
comparisons stay in the tests' sandbox, the verdict is read from the tests' sandbox only, and each
sandbox's exit status comes from its supervisor: a program that exits 0 early, kills its harness,
redefines builtins, returns an object whose ``__eq__`` always says yes, or prints a fake report
cannot pass a test it fails.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from rewardsmith.sandbox import RunResult, SandboxConfig, run

__all__ = ["TestRun", "run_tests", "TEST_OUTCOMES"]

TEST_OUTCOMES = ("passed", "wrong_answer", "runtime_error", "lost", "tampered")
_HERE = Path(__file__).parent
_CODEC = (_HERE / "_codec.py").read_text()
_SERVER = (_HERE / "_rpc_server.py").read_text()
_CLIENT = (_HERE / "_rpc_client.py").read_text()
_PLAN = (_HERE / "_testplan.py").read_text()


@dataclass
class TestRun:
    """``event``: ``done`` (tests ran), ``compile_error``, ``load_error`` (the program raised while
    loading), ``exited`` (it called sys.exit while loading), ``lost`` (its sandbox closed the
    channel), ``tampered``, ``timeout`` (the test sandbox ran out of time, the program's doing)
    or ``harness_error`` (the tests themselves are broken). ``results``: one of TEST_OUTCOMES per test."""

    event: str
    results: list[str]
    program: RunResult
    tester: RunResult
    reason: str = ""
    details: dict = field(default_factory=dict)

    @property
    def n_passed(self) -> int:
        return sum(r == "passed" for r in self.results)


def run_tests(program: str, tests: str, *, entry_point: str | None = None, timeout: float = 10.0,
              memory_mb: int = 512, config: SandboxConfig | None = None) -> TestRun:
    """Run the test module ``tests`` (asserts anywhere in it, helpers, a ``__main__`` block,
    ``def test_*()``, ``unittest.TestCase``, or HumanEval's ``def check(candidate)`` plus
    ``entry_point``) against ``program``; both sandboxed. The module runs whole, in order."""
    if not isinstance(program, str) or not isinstance(tests, str):
        raise ValueError("program and tests: expected Python source strings")
    cfg = config or SandboxConfig()
    req_r, req_w = os.pipe()
    resp_r, resp_w = os.pipe()
    marker = "@@rewardsmith-tests-" + secrets.token_hex(8) + "@@"
    started = {"n": 0}
    lock = threading.Lock()
    open_fds = {req_r, req_w, resp_r, resp_w}

    def close(fds):
        with lock:  # each of our fds closed once: a second close could hit a reused number
            for fd in set(fds) & open_fds:
                open_fds.discard(fd)
                try:
                    os.close(fd)
                except OSError:
                    pass

    def close_ours():
        with lock:
            started["n"] += 1
            both = started["n"] == 2
        if both:
            close([req_r, req_w, resp_r, resp_w])

    out: dict = {}

    def run_program():
        try:
            out["program"] = run(_SERVER, files={"solution.py": program, "_rs_codec.py": _CODEC},
                                 argv=[str(req_r), str(resp_w)], pass_fds=[req_r, resp_w], timeout=timeout,
                                 memory_mb=memory_mb, config=cfg, on_start=close_ours)
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller, never lost in a thread
            out["error"] = exc
            close([req_r, resp_w])  # the tests' sandbox sees the channel close instead of waiting on it

    thread = threading.Thread(target=run_program, daemon=True)
    try:
        thread.start()
        tester = run(_CLIENT, files={"tests.py": tests, "_rs_codec.py": _CODEC, "_rs_plan.py": _PLAN},
                     argv=[str(req_w), str(resp_r), marker, json.dumps({"entry_point": entry_point})],
                     pass_fds=[req_w, resp_r], timeout=timeout + 2.0, memory_mb=max(memory_mb, 256),
                     config=cfg, on_start=close_ours, own_cgroup=False)  # trusted: no per-run cgroup
    finally:
        thread.join()
        close([req_r, req_w, resp_r, resp_w])  # a sandbox failed to start: nobody closed our ends
    if "error" in out:
        raise out["error"]
    prog = out["program"]
    report = None
    for line in reversed(tester.stdout.splitlines()):
        if line.startswith(marker):
            try:
                report = json.loads(line[len(marker):])
            except ValueError:
                report = None
            break
    if not isinstance(report, dict):
        # The tests are trusted and parsed before the program is heard from (a bad tests file
        # reports harness_error itself), so a test sandbox that ends without a report was taken
        # down through the channel: made to time out (a reply that is slow to decode, a slow
        # program) or to crash. Either is the program's failure, never an unscored row.
        why = f"test sandbox {tester.status} (rc {tester.returncode}): {tester.stderr[-500:]}"
        return TestRun("timeout" if tester.status == "timeout" else "tampered", [], prog, tester, reason=why)
    ev = str(report.get("ev"))
    results = [str(r) for r in report.get("results", [])]
    return TestRun(ev, results, prog, tester, reason=str(report.get("reason", ""))[:500])
