"""Every code block of README.md and docs/ runs, so no example goes stale.

A ```python block runs in a fresh interpreter, a ```bash block under `bash -euo pipefail`, each in
its own temporary directory. That directory holds links to the repository's src/, tests/,
benchmarks/ and docs/, so a path written from the repository root resolves while what a block
writes (out/, runs/) lands in the temporary directory. The venv's bin/ (so `rewardsmith`) is first
on PATH.

A block that cannot run here (a GPU, a server, a model download, minutes of training) is preceded
by the marker

    <!-- not-run: why -->

on the line right before its fence (blank lines between are allowed); the marker needs a reason.
Blocks of other languages (yaml, json, text) are data, not commands, and are not run.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
RUN_LANGUAGES = ("python", "bash")
# the directories a block may name by a path from the repository root
LINKED = ("src", "tests", "benchmarks", "docs")
# programs a bash block may call that are not ours: a machine without one skips that block, saying so
EXTERNAL_TOOLS = ("curl",)
BLOCK_TIMEOUT_S = 300  # per block, for a loaded machine; the whole file takes about 1-2 min of CPU

FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
NOT_RUN = re.compile(r"<!--\s*not-run:(?P<reason>(?:(?!-->).)*)-->\s*\Z", re.DOTALL)
MARKER = re.compile(r"<!--\s*not-run:")


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it is, its language, its code, and why it is not run (if so)."""

    page: Path
    line: int
    lang: str
    code: str
    not_run: str | None

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks_of(page: Path) -> list[Block]:
    """The fenced blocks of one page, with the reason of a `not-run` marker right before each."""
    text = page.read_text(encoding="utf-8")
    found = []
    for m in FENCE.finditer(text):
        mark = NOT_RUN.search(text, 0, m.start())
        reason = mark.group("reason").strip() if mark else None
        code = textwrap.dedent(m.group("indent") + m.group("body"))
        line = text.count("\n", 0, m.start()) + 1
        found.append(Block(page, line, m.group("lang").lower(), code, reason))
    return found


ALL_BLOCKS = [b for page in PAGES for b in blocks_of(page)]
CODE_BLOCKS = [b for b in ALL_BLOCKS if b.lang in RUN_LANGUAGES]
RUNNABLE = [b for b in CODE_BLOCKS if b.not_run is None]
SKIPPED = [b for b in CODE_BLOCKS if b.not_run is not None]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["MPLBACKEND"] = "Agg"
    env.pop("PYTHONPATH", None)
    return env


@pytest.mark.slow
@pytest.mark.parametrize("block", RUNNABLE, ids=[b.name for b in RUNNABLE])
def test_docs_code_block_runs(block: Block, tmp_path: Path) -> None:
    if block.lang == "bash":
        missing = [t for t in EXTERNAL_TOOLS if re.search(rf"\b{t}\b", block.code) and not shutil.which(t)]
        if missing:
            pytest.skip(f"{block.name}: {missing} not installed here")
    for name in LINKED:
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    if block.lang == "python":
        script = tmp_path / "block.py"
        script.write_text(block.code, encoding="utf-8")
        cmd = [sys.executable, str(script)]
    else:
        cmd = ["bash", "-euo", "pipefail", "-c", block.code]
    # its own session, so that whatever the block left running (a server it started) is ended after it
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=BLOCK_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _end_session(proc)
        pytest.fail(f"{block.name}: the {block.lang} block ran past {BLOCK_TIMEOUT_S} s")
    _end_session(proc)
    assert proc.returncode == 0, (
        f"{block.name}: the {block.lang} block exited {proc.returncode}\n"
        f"--- code\n{block.code}--- stdout (end)\n{stdout[-3000:]}\n"
        f"--- stderr (end)\n{stderr[-3000:]}"
    )


def _end_session(proc: subprocess.Popen) -> None:
    """Kill every process left in the block's process group, then reap the block itself."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.communicate()


def test_every_code_block_runs_or_says_why_not() -> None:
    """Blocks are found, most of them run, and each one that does not names its reason."""
    assert len(PAGES) >= 8 and all(p.exists() for p in PAGES)
    unexplained = [b.name for b in SKIPPED if not b.not_run]
    assert not unexplained, f"not-run markers without a reason: {unexplained}"
    assert len(RUNNABLE) >= 12, f"only {len(RUNNABLE)} blocks run: {[b.name for b in RUNNABLE]}"
    print(f"docs code blocks: {len(RUNNABLE)} run, {len(SKIPPED)} marked not-run")


def test_every_not_run_marker_stands_before_a_code_block() -> None:
    """A marker that no longer precedes a block (the block was moved) is stale."""
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        starts = {m.start() for m in FENCE.finditer(text)}
        for m in MARKER.finditer(text):
            rest = text[m.start():]
            end = rest.find("-->")
            assert end > 0, f"{page.name}: unterminated not-run marker"
            after = m.start() + end + 3
            following = len(text[after:]) - len(text[after:].lstrip())
            fence = after + following
            indent_start = text.rfind("\n", 0, fence) + 1
            assert indent_start in starts or fence in starts, (
                f"{page.relative_to(ROOT)}: a not-run marker at line "
                f"{text.count(chr(10), 0, m.start()) + 1} stands before no code block"
            )


LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_relative_links_point_to_files(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    broken = []
    for m in LINK.finditer(text):
        target = m.group("target")
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        if not (page.parent / path).exists():
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)}: links to missing files: {broken}"


def test_readme_gives_the_commands_ci_runs() -> None:
    """README's quick start names `make demo` and `make test`; .ci/run runs that `make test`."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(r"^make demo\b", readme, re.MULTILINE)
    assert re.search(r"^make test\b", readme, re.MULTILINE)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^make test$", ci, re.MULTILINE)
