"""The ``rewardsmith`` command line: thin, it only parses arguments and calls the library.

One module per command group registers its commands onto ``app`` when imported below.
"""

from rewardsmith.cli._app import app

# Command modules (each registers its commands on import).
from rewardsmith.cli import smoothing_cmds  # noqa: E402,F401  stages, simplex
from rewardsmith.cli import demo_cmd  # noqa: E402,F401  demo
from rewardsmith.cli import score_cmd  # noqa: E402,F401  score
from rewardsmith.cli import train_cmds  # noqa: E402,F401  train, experiment, report
from rewardsmith.cli import graders_cmds  # noqa: E402,F401  graders fit|eval, compare-smoothing


def main() -> None:
    app()


__all__ = ["app", "main"]
