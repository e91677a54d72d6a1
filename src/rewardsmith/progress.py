"""One progress bar style for every long job: description, bar, count, rate, elapsed and ETA."""

from __future__ import annotations

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Items per second (or seconds per item when slower than one a second)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed:
            return Text("  -/s", style="cyan")
        if speed >= 1:
            return Text(f"{speed:,.1f}/s", style="cyan")
        return Text(f"{1 / speed:,.1f}s/it", style="cyan")


def progress_bar(disable: bool = False, transient: bool = False, info: str = "") -> Progress:
    """A rich ``Progress`` with count, rate, elapsed time and ETA; use as a context manager.

    ``info`` is a format string over the task's extra fields, e.g. ``"reward={task.fields[reward]:.2f}"``
    (pass those fields to ``add_task``/``update``).
    """
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    ]
    if info:
        columns.append(TextColumn(info))
    return Progress(*columns, disable=disable, transient=transient)
