"""One progress bar style for every long job: description, bar, count, rate, elapsed and ETA."""

from __future__ import annotations

import datetime

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn
from rich.text import Text

# Width of the bar's line when output is not a terminal (a log file, CI): rich's 80 columns cut
# the rate and ETA of a run with a long description to "18.7…".
LOG_WIDTH = 132


class RateColumn(ProgressColumn):
    """Items per second (or seconds per item when slower than one a second)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed and task.finished and task.finished_time:  # too quick for rich's speed samples
            speed = task.completed / task.finished_time
        if not speed:
            return Text("  -/s", style="cyan")
        if speed >= 1:
            return Text(f"{speed:,.1f}/s", style="cyan")
        return Text(f"{1 / speed:,.1f}s/it", style="cyan")


class TimeColumn(ProgressColumn):
    """Elapsed and remaining time as ``0:01:05 eta 0:00:12``."""

    def render(self, task: Task) -> Text:
        def fmt(seconds: float | None) -> str:
            return "-:--:--" if seconds is None else str(datetime.timedelta(seconds=int(seconds)))

        remaining = 0.0 if task.finished else task.time_remaining
        return Text(f"{fmt(task.finished_time if task.finished else task.elapsed)} eta {fmt(remaining)}",
                    style="yellow")


def progress_bar(disable: bool = False, transient: bool = False, info: str = "") -> Progress:
    """A rich ``Progress`` with count, rate, elapsed time and ETA; use as a context manager.

    ``info`` is a format string over the task's extra fields, e.g. ``"reward={task.fields[reward]:.2f}"``
    (pass those fields to ``add_task``/``update``).
    """
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        RateColumn(),
        TimeColumn(),
    ]
    if info:
        columns.append(TextColumn(info))
    console = Console()
    if not console.is_terminal:
        console = Console(width=LOG_WIDTH)
    return Progress(*columns, disable=disable, transient=transient, console=console)
