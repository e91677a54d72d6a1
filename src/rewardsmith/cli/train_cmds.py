"""``rewardsmith train``, ``rewardsmith experiment``, ``rewardsmith report``.

Every ``GRPOConfig`` field is an option of ``train`` and ``experiment`` (``--lr``, ``--group-size``,
``--dynamic-sampling/--no-dynamic-sampling``, ``--estimator-options '{"ddof": 1}'``, ...), with the
field's one-line help (``field(metadata={"help": ...})``) as its ``--help`` text. Precedence:
defaults < ``--config FILE`` < options given.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import fields
from pathlib import Path
from typing import Any, Callable, List, Optional

import typer
from rich.console import Console
from rich.table import Table

from rewardsmith.cli._app import app

_console = Console()


def _config_params() -> list[inspect.Parameter]:
    from rewardsmith.train.config import GRPOConfig

    params = []
    for f in fields(GRPOConfig):
        t = f.type if not isinstance(f.type, str) else {"int": int, "float": float, "str": str,
                                                         "bool": bool}.get(f.type, str)
        flag = "--" + f.name.replace("_", "-")
        decl = [f"{flag}/--no-{flag[2:]}"] if t is bool else [flag]
        params.append(inspect.Parameter(
            f.name, inspect.Parameter.KEYWORD_ONLY, annotation=Optional[t],
            default=typer.Option(None, *decl, help=f.metadata["help"], show_default=False)))
    return params


def _build_config(config_file: Optional[Path], given: dict[str, Any]):
    from rewardsmith.train.config import GRPOConfig

    data: dict[str, Any] = {}
    try:
        if config_file is not None:
            data = GRPOConfig.from_file(config_file).to_dict()
        for k, v in given.items():
            if v is None:
                continue
            if k == "estimator_options":
                try:
                    v = json.loads(v)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"estimator_options: expected a JSON object, got {v!r} ({exc.msg})") from None
            data[k] = v
        return GRPOConfig.from_dict(data)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _with_config_options(fn: Callable) -> Callable:
    """Give ``fn`` (which takes ``**cfg``) one keyword option per GRPOConfig field."""
    sig = inspect.signature(fn)
    own = [p for p in sig.parameters.values() if p.kind != inspect.Parameter.VAR_KEYWORD]
    fn.__signature__ = sig.replace(parameters=own + _config_params())
    return fn


def _print_summary(rows: list[dict], title: str) -> None:
    if not rows:
        return
    t = Table(title=title)
    for col in ("step", "reward", "correct", "wrong_answer", "bad_format", "top skeleton", "entropy"):
        t.add_column(col, justify="right")
    for i in sorted({0, len(rows) // 2, len(rows) - 1}):  # first, middle, last (each once)
        r = rows[i]
        lf = r["label_frac"]
        t.add_row(str(r["step"]), f"{r['reward_mean']:+.3f}", f"{lf.get('correct', 0):.2f}",
                  f"{lf.get('wrong_answer', 0):.2f}", f"{lf.get('bad_format', 0):.2f}",
                  f"{r['top_skeleton_share']:.2f}", f"{r['entropy'] or 0:.2f}")
    _console.print(t)


@_with_config_options
def train_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="Run directory (metrics.jsonl, samples.parquet, checkpoint.pt)."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML or JSON file of GRPOConfig fields."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its checkpoint."),
    **cfg: Any,
) -> None:
    """Train a policy with GRPO on rule rewards; log metrics, samples and checkpoints to --out."""
    from rewardsmith.train import train

    if resume and config is None and (out / "config.json").exists():
        config = out / "config.json"  # the run's own settings; options given override (e.g. --steps)
    c = _build_config(config, cfg)
    try:
        rows = train(c, out, resume=resume)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    _print_summary(rows, f"{c.task} / {c.estimator} / seed {c.seed}")
    cut = rows[-1].get("truncated_frac") if rows else None
    if cut is not None and cut >= 0.5:
        _console.print(f"note: {cut:.0%} of the last step's completions stopped at --max-new-tokens "
                       f"{c.max_new_tokens} before their end; a chat model's <think>/<answer> reply takes "
                       "~25-60 tokens (the smollm2 experiment used --max-new-tokens 48)")
    _console.print(f"wrote {out}/metrics.jsonl, samples.parquet, checkpoint.pt")


@_with_config_options
def experiment_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="Experiment directory (one sub-directory per run)."),
    estimators: str = typer.Option(",".join(("raw", "grpo", "dr_grpo")), "--estimators",
                                  help="Comma-separated arms: estimator names (rule reward) or learned:NAME "
                                       "(the learned reward in --grader, with that estimator)."),
    seeds: str = typer.Option("0,1,2", "--seeds", help="Comma-separated seeds."),
    lrs: Optional[str] = typer.Option(None, "--lrs", help="Comma-separated learning rates to sweep (default: --lr only)."),
    control: bool = typer.Option(False, "--control/--no-control",
                                 help="Add a control arm at lr = 0 on the same seeds: the noise floor of every detector."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML or JSON file of GRPOConfig fields."),
    report: bool = typer.Option(True, "--report/--no-report", help="Write OUT/report.html when done."),
    **cfg: Any,
) -> None:
    """Train the same task, model and seeds with several estimators, and learned-reward arms
    (``--estimators raw,grpo,learned:raw --grader DIR``); reruns resume."""
    from rewardsmith.train import run_experiment

    c = _build_config(config, cfg)
    ests = [e.strip() for e in estimators.split(",") if e.strip()]
    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated integers, got {seeds!r}", param_hint="--seeds") from None
    try:
        lr_list = None if lrs is None else [float(x) for x in lrs.split(",") if x.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated numbers, got {lrs!r}", param_hint="--lrs") from None
    try:
        dirs = run_experiment(c, out, ests, seed_list, lrs=lr_list, control=control)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    _console.print(f"{len(dirs)} runs in {out}")
    if report:
        _write_report([out], out / "report.html")


def _write_report(runs: List[Path], output: Path) -> None:
    from rewardsmith.report.html import write_report

    try:
        path, findings = write_report(runs, output)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    for line in findings:
        _console.print(f"- {line}")
    _console.print(f"wrote {path}")


@app.command("report")
def report_cmd(
    runs: List[Path] = typer.Argument(..., help="Run or experiment directories (searched for metrics.jsonl)."),
    output: Path = typer.Option(None, "--out", "-o", help="HTML file to write (default: FIRST_RUN/report.html)."),
) -> None:
    """Write report.html with PNG plots and findings computed from training runs."""
    _write_report(runs, output or (runs[0] / "report.html"))


def run_training_demo(out: Path, console: Console | None = None) -> list[Path]:
    """The demo's experiment (settings in ``rewardsmith.train.experiment.DEMO``) and its report;
    reruns skip finished runs. Returns report.html and its PNGs."""
    from rewardsmith.report.html import write_report
    from rewardsmith.train import DEMO, demo_config, run_demo

    console = console or _console
    exp = out / "experiment"
    cfg = demo_config()
    console.print(f"arms {', '.join(DEMO['estimators'])} x {len(DEMO['seeds'])} seeds x {len(DEMO['lrs'])} "
                  f"learning rates, {cfg.steps} steps of {cfg.prompts_per_step} prompts x G={cfg.group_size} "
                  f"on the tiny arithmetic policy (learned:raw: the learned reward, fit first into {exp}/grader)")
    run_demo(exp)
    path, lines = write_report([exp], exp / "report.html")
    for line in lines:
        console.print(f"- {line}")
    return [path, *sorted((exp / "report_files").glob("*.png"))]


# The real-model demo step: G = 100 completions per prompt from the untrained smollm2-135m, the
# seed's stage-1 group measured instead of assumed. ~1-2 min on 2 cores (plus a one-time ~1 min
# conversion of the model into the cache).
REAL_DEMO = {"model": "smollm2-135m", "task": "arithmetic", "ops": "+", "n_prompts": 2, "group_size": 100,
             "max_new_tokens": 40, "seed": 0}


def run_real_model_stages(out: Path, console: Console | None = None, **overrides: Any) -> list[Path]:
    """Sample ``REAL_DEMO``'s groups, score them with seed-tiered, and draw ``rewardsmith stages``'
    raw-vs-normalized figure from the real label counts into ``out/real_model``. Returns the
    figure, its JSON, and the scored samples (``samples.parquet``)."""
    from rewardsmith.cli.smoothing_cmds import run_stages
    from rewardsmith.io import atomic_write_json, write_rows
    from rewardsmith.train.probe import label_counts, rates, sample_groups

    console = console or _console
    spec = {**REAL_DEMO, **overrides}
    d = out / "real_model"
    labels = ("correct", "wrong_answer", "bad_format")
    console.print(f"{spec['model']}: {spec['n_prompts']} prompts x G={spec['group_size']} completions of <= "
                  f"{spec['max_new_tokens']} tokens, chat prompt with the format and one worked example, "
                  "scored with seed-tiered")
    try:
        rows = sample_groups(**spec)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--model") from None
    counts = label_counts(rows, labels)
    summary = rates(rows)
    t = Table(title="label mix per prompt (the real stage-1 groups)", title_justify="left")
    for col in ("prompt", "answer", *labels, "e.g. (a well-formed one if any)"):
        t.add_column(col)
    for i, c in enumerate(counts):
        group = [r for r in rows if r["prompt_index"] == i]
        ex = next((r for r in group if r["label"] != "bad_format"), group[0])["completion"]
        t.add_row(group[0]["question"], group[0]["answer"], *map(str, c), repr(ex[:60]))
    console.print(t)
    console.print(f"well-formed {summary['well_formed']:.2f}, correct {summary['correct']:.2f}, "
                  f"mean {summary['mean_tokens']:.1f} tokens")
    samples = write_rows(d / "samples.parquet", rows)
    atomic_write_json(d / "label_counts.json", {"labels": labels, "counts": counts, "rates": summary,
                                                 "settings": spec})
    stage_counts = [c for c in counts if sum(c) >= 2]
    return [*run_stages(d, stages_counts=stage_counts, labels=labels, console=console), samples]


app.command("train")(train_cmd)
app.command("experiment")(experiment_cmd)
