"""``rewardsmith stages`` and ``rewardsmith simplex``: the smoothing study from the command line.

Thin: parse the options, call ``rewardsmith.smoothing``, draw with ``rewardsmith.report.stages``,
write ``DIR/{stages,simplex}.{png,json}`` atomically and print a rich table. Every number printed
uses ``report.stages.fmt_adv`` (``+.2f``), the format the figures use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

import typer
from rich.console import Console
from rich.table import Table

from rewardsmith import advantages, smoothing
from rewardsmith.cli._app import app
from rewardsmith.io import atomic_write_json

__all__ = ["make_console", "run_stages", "run_simplex", "stages", "simplex"]

_ESTIMATOR_HELP = f"Advantage estimator, one of: {', '.join(advantages.ESTIMATORS)}."
_DDOF_HELP = "Std of grpo / batch_std: 0 = population (the seed's figure), 1 = Bessel (TRL, verl)."
_EPS_HELP = "eps added to the std by grpo / batch_std (1e-6 default; TRL uses 1e-4)."
_TIERS_HELP = "Comma-separated tier rewards, best first."
_LABELS_HELP = "Comma-separated tier names, one per tier."


def make_console() -> Console:
    """A rich console; 120 columns when output is not a terminal (pipes, CI logs, tests)."""
    console = Console()
    return console if console.is_terminal else Console(width=120)


def _bad(param: str, exc: Exception) -> typer.BadParameter:
    return typer.BadParameter(str(exc), param_hint=param)


def _parse_common(tiers: str, labels: Optional[str], estimator: str, ddof: int, eps: float):
    try:
        t = smoothing.parse_floats(tiers, name="tiers")
    except ValueError as exc:
        raise _bad("--tiers", exc) from None
    lab = None if labels is None else [x.strip() for x in labels.split(",")]
    try:
        t, lab = smoothing.validate_tiers(t, lab)
    except ValueError as exc:
        raise _bad("--labels" if str(exc).startswith("labels") else "--tiers", exc) from None
    try:
        smoothing.estimator_options(estimator, ddof, eps)
    except ValueError as exc:
        raise _bad("--" + str(exc).split(":")[0], exc) from None
    return t, lab


def _options_text(options: dict[str, Any]) -> str:
    if not options:
        return "no std, no eps"
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in options.items())


# --------------------------------------------------------------------------------------------
# stages
# --------------------------------------------------------------------------------------------


def run_stages(
    out: Path,
    tiers: Sequence[float] = smoothing.DEFAULT_TIERS,
    stages_counts: Sequence[Sequence[int]] = smoothing.SEED_STAGES,
    labels: Sequence[str] | None = None,
    estimator: str = "grpo",
    ddof: int = 0,
    eps: float = 1e-6,
    console: Console | None = None,
) -> list[Path]:
    """Run the stages study, write ``stages.png`` and ``stages.json`` in ``out``, print a table."""
    from rewardsmith.report.stages import fmt_adv, save_figure, stages_figure

    console = console or make_console()
    study = smoothing.study_stages(tiers, stages_counts, labels, estimator, ddof, eps)
    data = study.to_dict()
    out = Path(out)
    json_path = atomic_write_json(out / "stages.json", data)
    png_path = save_figure(stages_figure(study), out / "stages.png")

    table = Table(
        title=f"Advantage per tier, estimator {estimator} ({_options_text(study.options)})",
        title_justify="left",
    )
    table.add_column("stage", justify="right")
    table.add_column("counts", justify="right")
    table.add_column("mean", justify="right")
    table.add_column("std", justify="right")
    for lab, r in zip(study.labels, study.tiers):
        table.add_column(f"{lab}\n{r:+g}", justify="right")
    table.add_column("distinct", justify="right")
    for i, s in enumerate(study.stages):
        cells = [fmt_adv(a) if a == a else "-" for a in s.tier_advantage]  # NaN: tier absent
        table.add_row(
            str(i + 1),
            "/".join(str(c) for c in s.counts),
            f"{s.mean:+.3f}",
            f"{s.std:.3f}",
            *cells,
            str(s.normalized_values.size),
        )
    console.print(table)
    pooled = data["pooled"]
    console.print(
        f"pooled over {len(study.stages)} stages: {pooled['distinct_raw']} distinct raw values -> "
        f"{pooled['distinct_normalized']} distinct normalized values: "
        + ", ".join(fmt_adv(v) for v in study.pooled_normalized_values)
    )
    console.print(f"wrote {png_path}\nwrote {json_path}")
    return [png_path, json_path]


@app.command("stages")
def stages(
    stage: Optional[list[str]] = typer.Option(
        None,
        "--stage",
        help="Counts per tier of one stage's group, e.g. 1,9,90; repeat for more stages "
        "(default: the seed's 1,9,90 1,49,50 49,50,1 90,9,1).",
    ),
    tiers: str = typer.Option("1,-0.5,-2", "--tiers", help=_TIERS_HELP),
    labels: Optional[str] = typer.Option(
        None, "--labels", help=_LABELS_HELP + " Default: correct,wrong_answer,bad_format."
    ),
    estimator: str = typer.Option("grpo", "--estimator", help=_ESTIMATOR_HELP),
    ddof: int = typer.Option(0, "--ddof", help=_DDOF_HELP),
    eps: float = typer.Option(1e-6, "--eps", help=_EPS_HELP),
    out: Path = typer.Option(Path("out"), "--out", help="Directory for stages.png and stages.json."),
) -> None:
    """The seed's study: what group normalization does to a tiered rule reward, stage by stage.

    Writes DIR/stages.png (raw beside normalized distribution per stage, and all stages pooled),
    DIR/stages.json, and prints the advantage each tier gets in each stage.
    """
    t, lab = _parse_common(tiers, labels, estimator, ddof, eps)
    if stage:
        try:
            counts = [
                smoothing.validate_counts(
                    smoothing.parse_counts(s), name=f"stage {s!r}", n_tiers=len(t)
                )
                for s in stage
            ]
        except ValueError as exc:
            raise _bad("--stage", exc) from None
    else:
        if len(t) != len(smoothing.SEED_STAGES[0]):
            raise typer.BadParameter(
                f"the default stages have 3 counts; with {len(t)} tiers give --stage "
                f"(one count per tier)",
                param_hint="--stage",
            )
        counts = [tuple(s) for s in smoothing.SEED_STAGES]
    run_stages(out, t, counts, lab, estimator, ddof, eps)


# --------------------------------------------------------------------------------------------
# simplex
# --------------------------------------------------------------------------------------------


def run_simplex(
    out: Path,
    tiers: Sequence[float] = smoothing.DEFAULT_TIERS,
    group_size: int = 100,
    labels: Sequence[str] | None = None,
    estimator: str = "grpo",
    ddof: int = 0,
    eps: float = 1e-6,
    mark: Sequence[Sequence[int]] = smoothing.SEED_STAGES,
    console: Console | None = None,
) -> list[Path]:
    """Map every mix of a group, write ``simplex.png`` and ``simplex.json``, print a summary."""
    from rewardsmith.report.stages import fmt_adv, save_figure, simplex_figure

    console = console or make_console()
    smap = smoothing.simplex_map(tiers, group_size, labels, estimator, ddof, eps)
    data = smap.to_dict()
    summ = data["summary"]
    out = Path(out)
    json_path = atomic_write_json(out / "simplex.json", data)
    png_path = save_figure(simplex_figure(smap, stages=list(mark)), out / "simplex.png")

    table = Table(
        title=f"Advantage per tier over all {summ['n_mixes']} mixes of a group of {group_size}, "
        f"estimator {estimator} ({_options_text(smap.options)})",
        title_justify="left",
    )
    for col in ("tier", "reward", "min", "at mix", "max", "at mix", "A > 0 in"):
        table.add_column(col, justify="left" if col == "tier" else "right")
    for lab, t in summ["tiers"].items():
        table.add_row(
            lab,
            f"{t['reward']:+g}",
            fmt_adv(t["min"]),
            "/".join(map(str, t["argmin_counts"])),
            fmt_adv(t["max"]),
            "/".join(map(str, t["argmax_counts"])),
            f"{t['n_positive']}/{t['n_mixes_present']} ({t['positive_fraction']:.1%})",
        )
    console.print(table)
    marks = [m for m in mark if sum(m) == group_size]
    if marks:
        mt = Table(title="At the marked stages", title_justify="left")
        mt.add_column("mix", justify="right")
        for lab in smap.labels:
            mt.add_column(lab, justify="right")
        for m in marks:
            a = smap.lookup(m)
            mt.add_row("/".join(map(str, m)), *[fmt_adv(v) if v == v else "-" for v in a])
        console.print(mt)
    mid = smap.labels[1]
    tm = summ["tiers"][mid]
    console.print(
        f"[bold]{mid}[/] gets a POSITIVE advantage in {tm['n_positive']} of the "
        f"{tm['n_mixes_present']} mixes that contain one ({tm['positive_fraction']:.1%}; "
        f"{tm['positive_fraction_of_all_mixes']:.1%} of all mixes), up to {fmt_adv(tm['max'])} "
        f"at {'/'.join(map(str, tm['argmax_counts']))}: the policy is pushed towards the right "
        "format before the right answer."
    )
    console.print(f"wrote {png_path}\nwrote {json_path}")
    return [png_path, json_path]


@app.command("simplex")
def simplex(
    group_size: int = typer.Option(
        100, "--group-size", help=f"G: completions per group (2..{smoothing.MAX_SIMPLEX_GROUP})."
    ),
    tiers: str = typer.Option("1,-0.5,-2", "--tiers", help=_TIERS_HELP + " Exactly three."),
    labels: Optional[str] = typer.Option(
        None, "--labels", help=_LABELS_HELP + " Default: correct,wrong_answer,bad_format."
    ),
    estimator: str = typer.Option("grpo", "--estimator", help=_ESTIMATOR_HELP),
    ddof: int = typer.Option(0, "--ddof", help=_DDOF_HELP),
    eps: float = typer.Option(1e-6, "--eps", help=_EPS_HELP),
    mark: Optional[list[str]] = typer.Option(
        None,
        "--mark",
        help="A mix to mark on the map, e.g. 3,3,94; repeatable (default: the seed's four stages).",
    ),
    out: Path = typer.Option(
        Path("out"), "--out", help="Directory for simplex.png and simplex.json."
    ),
) -> None:
    """Every outcome mix (a, b, c), a + b + c = G, of three tiers: the advantage of each tier.

    Shows where a wrong answer in the right format gets a POSITIVE advantage (whenever bad format
    outnumbers correct, for the seed's tiers): the policy learns format before correctness.
    """
    t, lab = _parse_common(tiers, labels, estimator, ddof, eps)
    if len(t) != 3:
        raise typer.BadParameter(
            f"the simplex needs exactly 3 tier rewards, got {len(t)}: {tiers!r}", param_hint="--tiers"
        )
    if not 2 <= group_size <= smoothing.MAX_SIMPLEX_GROUP:
        raise typer.BadParameter(
            f"expected an integer from 2 to {smoothing.MAX_SIMPLEX_GROUP}, got {group_size}",
            param_hint="--group-size",
        )
    if mark:
        try:
            marks = [
                smoothing.validate_counts(smoothing.parse_counts(m, name="mark"), f"mark {m!r}", 3)
                for m in mark
            ]
        except ValueError as exc:
            raise _bad("--mark", exc) from None
    else:
        marks = [tuple(s) for s in smoothing.SEED_STAGES]
    run_simplex(out, t, group_size, lab, estimator, ddof, eps, marks)
