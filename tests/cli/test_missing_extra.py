"""A command whose optional extra is not installed says in one line which extra to install."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from rewardsmith.cli import EXTRA_OF_MODULE, missing_extra_message

ROOT = Path(__file__).resolve().parents[2]


def _run_without(module: str, *argv: str) -> subprocess.CompletedProcess:
    """Run the CLI in a fresh interpreter in which ``import <module>`` fails as if not installed."""
    code = (
        "import sys\n"
        f"sys.modules[{module!r}] = None\n"
        "from rewardsmith.cli import main\n"
        f"sys.argv = ['rewardsmith', *{list(argv)!r}]\n"
        "main()\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_train_without_torch_names_the_train_extra(tmp_path):
    proc = _run_without("torch", "train", "--steps", "1", "--out", str(tmp_path / "run"))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "pip install 'rewardsmith[train]'" in lines[0]
    assert "'torch'" in lines[0]


def test_a_base_command_runs_without_torch(tmp_path):
    proc = _run_without("torch", "stages", "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "stages.json").exists()


def test_an_unknown_missing_module_keeps_its_traceback():
    exc = ModuleNotFoundError("No module named 'not_an_extra'", name="not_an_extra")
    assert missing_extra_message(exc) is None


@pytest.mark.parametrize("module", sorted(EXTRA_OF_MODULE))
def test_every_named_extra_exists_in_pyproject(module):
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    extra = EXTRA_OF_MODULE[module]
    assert extra in extras, f"{module} maps to extra {extra!r}, which pyproject.toml does not define"
