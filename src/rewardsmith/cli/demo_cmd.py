"""``rewardsmith demo --out DIR``: the main job (``make demo``), a list of steps run in order.

Each step is a ``DemoStep(name, description, run)`` where ``run(out_dir, console)`` writes its
files under ``out_dir`` and returns their paths. To extend the demo, append a step to ``STEPS``
(from any cli module imported in ``cli/__init__.py``)::

    from rewardsmith.cli.demo_cmd import STEPS, DemoStep
    STEPS.append(DemoStep("train", "tiny GRPO run on CPU", run_train_demo))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import typer
from rich.console import Console
from rich.table import Table

from rewardsmith.cli._app import app
from rewardsmith.cli.smoothing_cmds import make_console, run_simplex, run_stages
from rewardsmith.cli.train_cmds import run_real_model_stages, run_training_demo

__all__ = ["DemoStep", "STEPS", "demo"]


@dataclass(frozen=True)
class DemoStep:
    """One step of the demo."""

    name: str  # short name, shown as a heading
    description: str  # one line: what the step shows
    run: Callable[[Path, Console], list[Path]]  # writes under the dir, returns the files written


def _stages_step(out: Path, console: Console) -> list[Path]:
    return run_stages(out, console=console)


def _simplex_step(out: Path, console: Console) -> list[Path]:
    return run_simplex(out, console=console)


STEPS: list[DemoStep] = [
    DemoStep(
        "stages",
        "the seed's four stages: group normalization turns 3 rule rewards into 12 advantages",
        _stages_step,
    ),
    DemoStep(
        "simplex",
        "every outcome mix of a group of 100: where a wrong answer gets a positive advantage",
        _simplex_step,
    ),
    DemoStep(
        "real-model",
        "the same figure from 100 real samples per prompt of the untrained smollm2-135m (its stage 1)",
        run_real_model_stages,
    ),
    DemoStep(
        "experiment",
        "GRPO on a tiny CPU policy: the tiered rule reward raw, grpo, dr_grpo and learned (RBR), 3 seeds, "
        "and a control arm at lr = 0 (the noise floor)",
        run_training_demo,
    ),
]


@app.command("demo")
def demo(
    out: Path = typer.Option(Path("out"), "--out", help="Directory for every picture and summary."),
) -> None:
    """Run the main job: every demo step, writing its pictures and summaries into DIR."""
    console = make_console()
    written: list[tuple[str, Path]] = []
    for i, step in enumerate(STEPS, start=1):
        console.rule(f"[bold]{i}/{len(STEPS)} {step.name}[/]: {step.description}")
        for p in step.run(out, console):
            written.append((step.name, Path(p)))
    table = Table(title=f"rewardsmith demo: files in {out}/", title_justify="left")
    table.add_column("step")
    table.add_column("file")
    for name, p in written:
        table.add_row(name, str(p))
    console.rule("[bold]done")
    console.print(table)
    pictures = [str(p) for _, p in written if p.suffix == ".png"]
    console.print("pictures: " + "  ".join(pictures))
