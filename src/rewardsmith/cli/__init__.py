"""The ``rewardsmith`` command line: thin, it only parses arguments and calls the library.

One module per command group registers its commands onto ``app`` when imported below.
"""

import typer

from rewardsmith.cli._app import app

# Command modules (each registers its commands on import).
from rewardsmith.cli import smoothing_cmds  # noqa: E402,F401  stages, simplex
from rewardsmith.cli import demo_cmd  # noqa: E402,F401  demo
from rewardsmith.cli import score_cmd  # noqa: E402,F401  score
from rewardsmith.cli import train_cmds  # noqa: E402,F401  train, experiment, report
from rewardsmith.cli import models_cmd  # noqa: E402,F401  models
from rewardsmith.cli import graders_cmds  # noqa: E402,F401  graders fit|eval, compare-smoothing
from rewardsmith.cli import judge_cmds  # noqa: E402,F401  graders judge|distill
from rewardsmith.cli import serve_cmd  # noqa: E402,F401  serve


# The extra that installs each optional top-level module a command may import (pyproject.toml's
# [project.optional-dependencies]); a command run without it says which extra to install in one line.
EXTRA_OF_MODULE = {
    "torch": "train",
    "transformers": "train",
    "safetensors": "train",
    "reasoning_gym": "train",
    "peft": "train",
    "gguf": "smollm2",
    "sklearn": "graders",
    "skops": "graders",
    "trl": "trl",
    "datasets": "trl",
    "ray": "ray",
    "jinja2": "plot",
    "fastapi": "serve",
    "uvicorn": "serve",
    "httpx": "serve",
    "prometheus_client": "serve",
}


def missing_extra_message(exc: ModuleNotFoundError) -> str | None:
    """One line naming the extra that provides the module ``exc`` could not import, or None when
    the module is not one an extra provides (a real bug, which keeps its traceback)."""
    top = (exc.name or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(top)
    if extra is None:
        return None
    return (
        f"error: this command needs the '{extra}' extra (module '{top}' is not installed): "
        f"pip install 'rewardsmith[{extra}]'"
    )


def main() -> None:
    try:
        app()
    except ModuleNotFoundError as exc:
        message = missing_extra_message(exc)
        if message is None:
            raise
        typer.echo(message, err=True)
        raise SystemExit(1) from None


__all__ = ["EXTRA_OF_MODULE", "app", "main", "missing_extra_message"]
