"""``rewardsmith models``: the named models, where each comes from, its size, whether it is ready."""

from __future__ import annotations

from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from rewardsmith.cli._app import app

_console = Console()


def _size(n: Optional[int]) -> str:
    return "-" if n is None else f"{n / 1e6:,.0f} MB"


@app.command("models")
def models_cmd(
    prepare: Optional[str] = typer.Option(None, "--prepare", help="Convert this named model now (else on first use)."),
    cache_dir: Optional[str] = typer.Option(None, "--cache-dir", help="Cache root (default: $REWARDSMITH_CACHE or ~/.cache/rewardsmith)."),
) -> None:
    """List the named models (`--model NAME` in train, experiment and the graders); nothing is downloaded."""
    from rewardsmith import models

    if prepare is not None:
        try:
            path = models.resolve(prepare, cache_dir)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--prepare") from None
        _console.print(f"{prepare}: {path}")
    t = Table(title="named models (also: --model DIR for a local checkpoint, or a hub id already in the HF cache)")
    for col in ("name", "source", "size", "ready", "path / note"):
        t.add_column(col)
    for r in models.available(cache_dir):
        t.add_row(r.name, r.source, _size(r.size), "yes" if r.ready else "no",
                  r.path if r.ready else r.note)
    _console.print(t)
