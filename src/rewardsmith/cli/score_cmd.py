"""``rewardsmith score``: score a table of rollouts with a rule set (and optionally normalize).

Reads JSONL or Parquet rows with ``completion``, ``answer`` and optional ``prompt`` / ``group``
columns; writes every input column plus ``reward``, ``label`` and (with ``--estimator``)
``advantage``, atomically; prints label counts and the raw vs normalized reward distribution.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any, Optional

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from rewardsmith.cli._app import app, read_table

_NON_FIELDS = {"completion", "answer", "prompt", "group", "reward", "label", "advantage"}


def _group_key(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)


@app.command("score")
def score(
    rules: str = typer.Option(..., "--rules", help="Preset name (seed-tiered, r1, binary, code, ...) or a YAML rule file."),
    input: Path = typer.Option(..., "--input", "-i", help="Rollouts: .jsonl or .parquet with completion, answer[, prompt | group]."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the scored rows (.jsonl or .parquet)."),
    estimator: Optional[str] = typer.Option(None, "--estimator", help="Also write 'advantage' with this estimator (grpo, dr_grpo, rloo, ...)."),
    group_column: str = typer.Option("group", "--group-column", help="Column naming each row's group; falls back to 'prompt'."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Scoring processes (default: all cores; 0 = in process). Ray: actors."),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="Hard seconds per completion (default: the rule set's sample_timeout)."),
    engine: str = typer.Option("local", "--engine", help="local (worker processes) or ray."),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster address (engine ray)."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Also draw label counts and the reward/advantage distributions to this PNG."),
    checkpoint_every: int = typer.Option(
        2000, "--checkpoint-every", min=1,
        help="Rows per checkpoint (engine local): an interrupted run resumes where it stopped.",
    ),
) -> None:
    """Score rollouts with a rule set; write reward, label (and advantage) per row."""
    from rewardsmith import advantages
    from rewardsmith.io import table_format
    from rewardsmith.rules import load_rules

    console = Console(stderr=False)
    if engine not in ("local", "ray"):
        raise typer.BadParameter(f"expected 'local' or 'ray', got {engine!r}", param_hint="--engine")
    if estimator is not None:
        try:
            advantages.check_estimator(estimator)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--estimator") from None
    if workers is not None and workers < 0:
        raise typer.BadParameter(f"expected an integer >= 0, got {workers}", param_hint="--workers")
    try:
        table_format(output)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--output") from None
    try:
        ruleset = load_rules(rules)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--rules") from None
    rows, columns = read_table(input, "--input")
    required = ["completion"] + (["answer"] if ruleset.needs_answers else [])
    for col in required:
        missing = [i for i, r in enumerate(rows) if col not in r]
        if missing:
            raise typer.BadParameter(
                f"{input}: column {col!r} is missing (rows {missing[:5]}{'...' if len(missing) > 5 else ''}); "
                f"rule set {ruleset.name!r} needs {required}; the file has {columns}",
                param_hint="--input",
            )

    group_col = group_column if group_column in columns else ("prompt" if "prompt" in columns else None)
    if estimator is not None and group_col is None:
        raise typer.BadParameter(
            f"--estimator {estimator} needs groups: no {group_column!r} or 'prompt' column in {input} "
            f"(columns: {columns})",
            param_hint="--group-column",
        )
    groups = None
    if group_col is not None:
        missing = [i for i, r in enumerate(rows) if r.get(group_col) is None]
        if missing:
            raise typer.BadParameter(
                f"{input}: group column {group_col!r} is empty at rows {missing[:5]}",
                param_hint="--group-column",
            )
        keys = [_group_key(r[group_col]) for r in rows]
        index: dict[str, int] = {}
        groups = np.array([index.setdefault(k, len(index)) for k in keys], dtype=np.int64)

    completions = [r["completion"] for r in rows]
    answers = [r.get("answer") for r in rows] if "answer" in columns else None
    skip = _NON_FIELDS | {group_column}
    fields = [{k: v for k, v in r.items() if k not in skip} for r in rows]
    console.print(f"scoring {len(rows)} rows with rule set [bold]{ruleset.name}[/] ({engine})")
    try:
        if engine == "ray":
            from rewardsmith.integrations.ray import score_rows_ray

            kw: dict[str, Any] = {"address": address, "timeout": timeout, "progress": True}
            if workers:
                kw["num_actors"] = workers
            # the RuleSet itself (pickled to the actors): a rule file on this machine need not
            # exist on the cluster, and a RuleSet subclass (e.g. the code rules) keeps its class
            scored = score_rows_ray(ruleset, rows, **kw)
            rewards = np.asarray(scored.rewards, dtype=np.float64)
            labels = list(scored.labels)
        else:
            rewards, labels = _score_resumable(
                console, ruleset, completions, answers, fields, input, output,
                workers=workers, timeout=timeout, every=checkpoint_every,
            )
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--input") from None

    adv = None
    if estimator is not None:
        try:
            adv = np.asarray(advantages.compute(estimator, rewards, groups=groups), dtype=np.float64)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--estimator") from None

    out_rows = []
    for i, r in enumerate(rows):
        o = dict(r)
        o["reward"] = None if math.isnan(rewards[i]) else float(rewards[i])
        o["label"] = labels[i]
        if adv is not None:
            o["advantage"] = float(adv[i])
        out_rows.append(o)
    _write(console, output, out_rows)
    _checkpoint_path(output).unlink(missing_ok=True)
    if plot is not None:
        from rewardsmith.rules.plot import save_png, scores_figure

        title = f"{ruleset.name} on {input.name}" + (f", {estimator}" if estimator else "")
        save_png(scores_figure(labels, rewards, adv, ruleset.labels, title), plot)
        console.print(f"wrote {plot}")

    _print_labels(console, labels, rewards, ruleset.labels)
    _print_distribution(console, rewards, adv, groups, estimator)
    console.print(f"wrote {len(out_rows)} rows to {output}")


def _checkpoint_path(output: Path) -> Path:
    return output.with_name(f".{output.name}.partial.jsonl")


def _score_resumable(
    console: Console, ruleset: Any, completions: list, answers: list | None, fields: list[dict],
    input: Path, output: Path, *, workers: int | None, timeout: float | None, every: int,
) -> tuple[np.ndarray, list[str]]:
    """Score in slices of ``every`` rows, journaling each slice's (reward, label) to a checkpoint
    file beside the output; a rerun with the same input and rules skips the rows already done.
    The checkpoint is removed once the output is complete."""
    import hashlib
    import os

    from rewardsmith.io import dumps_json
    from rewardsmith.progress import progress_bar

    n = len(completions)
    st = input.stat()
    key = hashlib.sha256(
        dumps_json([str(input.resolve()), st.st_size, st.st_mtime_ns, n, ruleset.to_dict()]).encode()
    ).hexdigest()
    ckpt = _checkpoint_path(output)
    done: dict[int, tuple[float, str]] = {}
    if ckpt.exists():
        with ckpt.open("r", encoding="utf-8") as fh:
            lines = fh.read().splitlines()
        if lines and lines[0] == json.dumps({"checkpoint": key}):
            for line in lines[1:]:
                try:
                    i, reward, label = json.loads(line)
                except (ValueError, TypeError):
                    continue  # a line cut short by the interruption
                done[int(i)] = (math.nan if reward is None else float(reward), str(label))
            console.print(f"resuming: {len(done)} of {n} rows already scored ({ckpt.name})")
        else:
            ckpt.unlink()
    todo = [i for i in range(n) if i not in done]
    if todo:
        fresh = not ckpt.exists()
        ckpt.parent.mkdir(parents=True, exist_ok=True)  # --output may name a new folder
        with ckpt.open("a", encoding="utf-8") as fh, progress_bar() as bar:
            if fresh:
                fh.write(json.dumps({"checkpoint": key}) + "\n")
            task = bar.add_task("scoring", total=n, completed=n - len(todo))
            for s in range(0, len(todo), every):
                idx = todo[s : s + every]
                b = ruleset.score_batch(
                    [completions[i] for i in idx],
                    None if answers is None else [answers[i] for i in idx],
                    fields=[fields[i] for i in idx], workers=workers, timeout=timeout,
                )
                for i, r, lb in zip(idx, b.rewards, b.labels):
                    done[i] = (float(r), lb)
                    fh.write(dumps_json([i, float(r), lb]) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
                bar.advance(task, len(idx))
    rewards = np.array([done[i][0] for i in range(n)], dtype=np.float64)
    return rewards, [done[i][1] for i in range(n)]


def _fix_surrogates(v: Any) -> Any:
    if isinstance(v, str):
        return v.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if isinstance(v, dict):
        return {k: _fix_surrogates(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_fix_surrogates(x) for x in v]
    return v


def _write(console: Console, output: Path, rows: list[dict]) -> None:
    """``io.write_rows``; input read from invalid UTF-8 (lone surrogates) is written back byte for
    byte to JSONL, and with U+FFFD in its place to Parquet (whose strings must be UTF-8)."""
    from rewardsmith.io import atomic_write_bytes, dumps_json, table_format, write_rows

    try:
        write_rows(output, rows)
    except UnicodeEncodeError:
        if table_format(output) == "jsonl":
            text = "".join(dumps_json(r) + "\n" for r in rows)
            atomic_write_bytes(output, text.encode("utf-8", "surrogateescape"))
        else:
            console.print("[yellow]warning:[/] invalid UTF-8 in the input was replaced by U+FFFD")
            write_rows(output, [_fix_surrogates(r) for r in rows])


def _print_labels(console: Console, labels: list[str], rewards: np.ndarray, order: tuple[str, ...]) -> None:
    counts = Counter(labels)
    table = Table(title="labels")
    table.add_column("label")
    table.add_column("count", justify="right")
    table.add_column("share", justify="right")
    table.add_column("mean reward", justify="right")
    names = [lb for lb in order if lb in counts] + sorted(set(counts) - set(order))
    lab = np.array(labels, dtype=object)
    for name in names:
        r = rewards[lab == name]
        ok = r[~np.isnan(r)]
        mean = f"{ok.mean():+.3f}" if ok.size else "nan"
        table.add_row(name, str(counts[name]), f"{counts[name] / len(labels):.1%}", mean)
    console.print(table)


def _print_distribution(
    console: Console, rewards: np.ndarray, adv: np.ndarray | None, groups: np.ndarray | None, estimator: str | None
) -> None:
    from rewardsmith import advantages

    table = Table(title="reward distribution" + (f" (raw vs {estimator})" if adv is not None else ""))
    table.add_column("statistic")
    table.add_column("raw reward", justify="right")
    if adv is not None:
        table.add_column(f"advantage ({estimator})", justify="right")
    valid = rewards[~np.isnan(rewards)]

    def rng(x: np.ndarray) -> tuple[str, str]:
        return (f"{x.min():+.4f}", f"{x.max():+.4f}") if x.size else ("nan", "nan")

    rmin, rmax = rng(valid)
    stats: list[tuple[str, str, str]] = []
    if groups is not None:
        d = advantages.diagnostics(rewards, adv if adv is not None else np.nan_to_num(rewards), groups=groups)
        stats += [
            ("rows", str(d.n), str(d.n)),
            ("unscored (NaN)", str(d.n_nan), "-"),
            ("groups", str(d.n_groups), str(d.n_groups)),
            ("zero-variance groups", f"{d.zero_variance_frac:.1%}", "-"),
            ("groups with < 2 scored", str(d.n_singleton_groups), "-"),
            ("distinct values", str(d.distinct_raw), str(d.distinct_advantages)),
            ("min", rmin, f"{d.adv_min:+.4f}"),
            ("max", rmax, f"{d.adv_max:+.4f}"),
        ]
    else:
        stats += [
            ("rows", str(rewards.size), "-"),
            ("unscored (NaN)", str(int(np.isnan(rewards).sum())), "-"),
            ("distinct values", str(np.unique(valid).size), "-"),
            ("min", rmin, "-"),
            ("max", rmax, "-"),
        ]
    mean = f"{valid.mean():+.4f}" if valid.size else "nan"
    stats.append(("mean", mean, f"{np.mean(adv):+.4f}" if adv is not None else "-"))
    for name, raw, norm in stats:
        table.add_row(name, raw, *([norm] if adv is not None else []))
    console.print(table)


@app.command("rules")
def rules_cmd(
    spec: Optional[str] = typer.Argument(None, help="Preset name or YAML file to validate and show; none lists the presets."),
) -> None:
    """List the rule presets, or validate a preset / rule file and print it in full as YAML."""
    import yaml

    from rewardsmith.rules import PRESETS, load_rules

    console = Console()
    if spec is None:
        table = Table(title="rule presets")
        table.add_column("name")
        table.add_column("labels")
        table.add_column("description")
        for name in sorted(PRESETS):
            rs = load_rules(name)
            table.add_row(name, ", ".join(rs.labels), rs.spec.description)
        console.print(table)
        return
    try:
        rs = load_rules(spec)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="SPEC") from None
    typer.echo(yaml.safe_dump(rs.to_dict(), sort_keys=False, allow_unicode=True).rstrip())
    console.print(f"# valid: {rs.name}; labels {', '.join(rs.labels)}")
