"""What one sandboxed run returns: ``RunResult``, its ``STATUSES``, and how a run's raw outcome
(output, the supervisor's report, the parent's flags) becomes a status (``classify``)."""

from __future__ import annotations

import math
import signal
from dataclasses import asdict, dataclass, field

from rewardsmith.sandbox.config import SandboxConfig

STATUSES = ("ok", "error", "timeout", "memory", "output_limit", "killed")
# exit codes of the in-sandbox bootstrap (_boot.py): the program did not compile, raised
# MemoryError, or the sandbox's own setup failed (the program never ran)
EXIT_COMPILE = 113
EXIT_MEMORY = 114
EXIT_SETUP = 115


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


def classify(out: bytes, err: bytes, report: dict | None, flags: dict, rc_outer: int | None, duration: float,
             cfg: SandboxConfig, containment: dict) -> RunResult:
    """The ``RunResult`` of a finished run: its status from the supervisor's report (exit status,
    CPU time, wall timeout) and the parent's flags (timeout, output_limit, cgroup_oom)."""
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
