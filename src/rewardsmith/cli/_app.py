"""The typer application object that every command module registers onto, and shared argument helpers."""

import typer

app = typer.Typer(
    name="rewardsmith",
    help="Rule-based rewards, advantage estimators and their diagnostics for RL on language models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def read_table(path, option: str) -> tuple[list[dict], list[str]]:
    """The rows of a JSONL / Parquet file given as ``option`` and its column names (first-seen
    order); an unreadable or empty file is a usage error naming the option."""
    from rewardsmith.io import read_rows

    try:
        rows = read_rows(path)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None
    if not rows:
        raise typer.BadParameter(f"{path}: no rows", param_hint=option)
    return rows, list(dict.fromkeys(k for r in rows for k in r))
