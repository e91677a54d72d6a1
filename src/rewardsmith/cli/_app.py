"""The typer application object that every command module registers onto."""

import typer

app = typer.Typer(
    name="rewardsmith",
    help="Rule-based rewards, advantage estimators and their diagnostics for RL on language models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
