"""``SandboxConfig``: the limits of one sandboxed run, each field documented and validated.

Field docs live in ``dataclasses.field(metadata={"help": ...})`` (the project's one convention for
config docs, read with ``dataclasses.fields``); ``__post_init__`` checks every field and names the
field, the value and what was expected.
"""

from __future__ import annotations

import math
import shutil
import sys
from dataclasses import dataclass, field, fields

from rewardsmith.sandbox.modes import MODES


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_seconds(value: object) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and value > 0)


@dataclass(frozen=True)
class SandboxConfig:
    """Limits for one sandboxed run (every field has a safe default)."""

    timeout: float = field(default=5.0, metadata={
        "help": "Wall-clock limit in seconds (the whole namespace is killed when it passes)."})
    cpu_time: float | None = field(default=None, metadata={
        "help": "CPU-seconds limit (RLIMIT_CPU, all threads); None = ceil(timeout)."})
    memory_mb: int = field(default=512, metadata={
        "help": "Address-space limit of the program's process (RLIMIT_AS), in MiB."})
    max_processes: int = field(default=16, metadata={
        "help": "Processes + threads the program may add (RLIMIT_NPROC on its own uid)."})
    max_output: int = field(default=1_000_000, metadata={
        "help": "Bytes kept of stdout and of stderr each; more kills the run (status ``output_limit``)."})
    file_size_mb: int = field(default=16, metadata={
        "help": "Largest file the program may write (RLIMIT_FSIZE), in MiB."})
    tmpfs_mb: int = field(default=64, metadata={
        "help": "Size of the private /tmp and /dev/shm (namespace modes), in MiB."})
    max_open_files: int = field(default=64, metadata={
        "help": "Open files of the program's process (RLIMIT_NOFILE)."})
    mode: str | None = field(default=None, metadata={
        "help": "Force a containment mode (one of MODES); None = the strongest that works here."})
    python: str = field(default=sys.executable, metadata={
        "help": "Interpreter that runs the program."})
    zygote: bool = field(default=True, metadata={
        "help": "Fork each run from a clean, pre-started interpreter (fast); False = a fresh "
                "``unshare ... python`` per run."})

    def __post_init__(self) -> None:
        checks = (
            ("timeout", _is_seconds(self.timeout), "a positive number of seconds"),
            ("cpu_time", self.cpu_time is None or _is_seconds(self.cpu_time),
             "a positive number of seconds or None"),
            ("memory_mb", _is_int(self.memory_mb) and self.memory_mb >= 32, "an int >= 32"),
            ("max_processes", _is_int(self.max_processes) and self.max_processes >= 1, "an int >= 1"),
            ("max_output", _is_int(self.max_output) and self.max_output >= 0, "an int >= 0"),
            ("file_size_mb", _is_int(self.file_size_mb) and self.file_size_mb >= 0, "an int >= 0 (MiB)"),
            # a tmpfs of size 0 has no size limit at all
            ("tmpfs_mb", _is_int(self.tmpfs_mb) and self.tmpfs_mb >= 1, "an int >= 1 (MiB)"),
            ("max_open_files", _is_int(self.max_open_files) and self.max_open_files >= 4,
             "an int >= 4 (stdin, stdout, stderr and the program's file)"),
            ("mode", self.mode is None or self.mode in MODES, f"one of {MODES} or None"),
            ("python", isinstance(self.python, str) and shutil.which(self.python) is not None,
             "an executable Python interpreter"),
            ("zygote", isinstance(self.zygote, bool), "True or False"),
        )
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"{name}={getattr(self, name)!r}: expected {expected}")


def field_help() -> dict[str, str]:
    """Each ``SandboxConfig`` field's name -> its help text."""
    return {f.name: f.metadata["help"] for f in fields(SandboxConfig)}
