"""``rewardsmith graders judge`` and ``rewardsmith graders distill``: an LLM judge's verdicts.

``graders judge --data FILE --out FILE``: P(yes) of every proposition for every row from an LLM
judge (a local model or an OpenAI-compatible server); writes the rows with ``p_<proposition>``
columns and ``OUT.judge.json`` describing the judge. ``graders distill --data FILE --out DIR``:
the fast TF-IDF graders fit on those verdicts. (``graders fit --features judge``, rule weights on
the judge's probabilities, is in ``graders_cmds.py`` with the other ``fit`` paths.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from rewardsmith.cli.graders_cmds import (
    _classes,
    _f,
    _judged,
    _load_base,
    _metrics_table,
    _print_weights,
    _sidecar,
    graders_app,
)


@graders_app.command("judge")
def judge_cmd(
    model: str = typer.Option("smollm2-135m", "--model", help="Judge: a model name or path (local transformers) or the http(s):// URL of an OpenAI-compatible server that returns logprobs."),
    data: Path = typer.Option(..., "--data", help=".jsonl/.parquet with a text (or completion) column and optionally a prompt column."),
    out: Path = typer.Option(..., "--out", help="Output .jsonl/.parquet: the input rows plus p_<proposition> columns; OUT.judge.json describes the judge."),
    propositions: Optional[Path] = typer.Option(None, "--propositions", help="Propositions YAML (default: the shipped task-agnostic set)."),
    only: Optional[str] = typer.Option(None, "--only", help="Comma-separated proposition names to judge (default: all in the file)."),
    text_column: Optional[str] = typer.Option(None, "--text-column", help="Completion column (default: text, then completion)."),
    prompt_column: Optional[str] = typer.Option("prompt", "--prompt-column", help="Prompt column ('' for none; the judge then sees no question)."),
    few_shot: bool = typer.Option(True, "--few-shot/--no-few-shot", help="Show each proposition's examples to the judge."),
    max_chars: int = typer.Option(2000, "--max-chars", help="Completions are cut to their first and last max_chars/2 characters."),
    batch_size: int = typer.Option(16, "--batch-size", help="Local backend: conversations per forward pass."),
    device: str = typer.Option("cpu", "--device", help="Local backend: cpu, cuda, cuda:1, ..."),
    concurrency: int = typer.Option(8, "--concurrency", help="Server backend: requests in flight at once."),
    timeout: float = typer.Option(60.0, "--timeout", help="Server backend: seconds per request."),
    api: str = typer.Option("chat", "--api", help="Server backend: chat (/v1/chat/completions) or completions (/v1/completions)."),
    server_model: Optional[str] = typer.Option(None, "--server-model", help="Server backend: the model name to send."),
    cache: Optional[Path] = typer.Option(None, "--cache", help="SQLite file caching P(yes) by (triple, judge) between runs."),
) -> None:
    """P(yes) of every proposition for every row, from an LLM judge (local model or server)."""
    from rewardsmith.graders.judge import LLMJudge
    from rewardsmith.io import atomic_write_json, read_rows, write_rows

    console = Console()
    try:
        rows = read_rows(data)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--data") from None
    columns = sorted({k for r in rows for k in r})
    tcol = text_column or next((c for c in ("text", "completion") if c in columns), None)
    if tcol is None or tcol not in columns:
        raise typer.BadParameter(f"{data}: no column {text_column or 'text or completion'!r}; the file "
                                 f"has {columns}", param_hint="--text-column")
    bad = [i + 1 for i, r in enumerate(rows) if not isinstance(r.get(tcol), str)]
    if bad:
        raise typer.BadParameter(f"{data}: row {bad[0]}: column {tcol!r} is {rows[bad[0] - 1].get(tcol)!r}; "
                                 "expected a string", param_hint="--data")
    if prompt_column and prompt_column not in columns:
        console.print(f"[yellow]{data} has no {prompt_column!r} column: the judge sees no question[/]")
        prompt_column = ""
    opts: dict[str, Any] = ({"concurrency": concurrency, "timeout": timeout, "api": api,
                             "model": server_model} if model.startswith(("http://", "https://"))
                            else {"batch_size": batch_size, "device": device})
    try:
        if only:
            from rewardsmith.graders.judge_propositions import load_propositions

            propositions = load_propositions(propositions, [n.strip() for n in only.split(",") if n.strip()])
        judge = LLMJudge(model, propositions, few_shot=few_shot, max_chars=max_chars,
                         cache=cache if cache is not None else True, **opts)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--model/--propositions") from None
    prompts = [str(r.get(prompt_column) or "") for r in rows] if prompt_column else None
    from rewardsmith.graders.judge_backends import JudgeServerError

    try:
        proba = judge.probabilities(prompts, [r[tcol] for r in rows], progress=True)
    except JudgeServerError as exc:
        raise typer.BadParameter(str(exc), param_hint="--model") from None
    out_rows = []
    for r, p in zip(rows, proba):
        out_rows.append(dict(r) | {f"p_{n}": (None if not np.isfinite(v) else float(v))
                                   for n, v in zip(judge.propositions, p)})
    write_rows(out, out_rows)
    atomic_write_json(_sidecar(out), judge.to_dict())
    table = Table(title=f"judge {judge.backend.id}: P(yes) over {len(rows)} rows")
    for col in ("proposition", "mean", "share >= 0.5", "NaN"):
        table.add_column(col, justify="right" if col != "proposition" else "left")
    for j, n in enumerate(judge.propositions):
        col = proba[:, j]
        ok = np.isfinite(col)
        table.add_row(n, _f(float(col[ok].mean()) if ok.any() else float("nan")),
                      _f(float((col[ok] >= 0.5).mean()) if ok.any() else float("nan")), str(int((~ok).sum())))
    console.print(table)
    console.print(f"wrote {out} and {_sidecar(out)}")


@graders_app.command("distill")
def distill_cmd(
    data: Path = typer.Option(..., "--data", help="Output of `rewardsmith graders judge` (p_<proposition> columns)."),
    out: Path = typer.Option(..., "--out", help="Directory for the TF-IDF grader (and reward.json when the rows are ranked)."),
    threshold: float = typer.Option(0.5, "--threshold", help="A row is a positive example of a proposition when the judge's P(yes) >= this."),
    rules: str = typer.Option("seed-tiered", "--rules", help="Base rule set for R_base when the rows are ranked (preset or YAML), or 'none'."),
    classes: Optional[str] = typer.Option(None, "--classes", help="rank_class values, best first, comma-separated (default: the arithmetic classes)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the prompt split and the solvers."),
) -> None:
    """Fit the fast TF-IDF graders on the judge's verdicts: train with the cheap grader, let the judge label."""
    from rewardsmith.graders.data import validate_rows
    from rewardsmith.graders.fit import FitConfig, distill
    from rewardsmith.io import atomic_write_json

    console = Console()
    rows, meta, names, proba = _judged(data)
    ranked = bool(rows) and all(r.get("rank_class") is not None and r.get("prompt_id") is not None
                                for r in rows)
    class_names = _classes(classes)
    base, spec = _load_base(rules) if ranked else (None, None)
    try:
        labeled = validate_rows(rows, [], source=str(data), need_ranking=ranked,
                                classes=class_names if ranked else None)
        with console.status("fitting TF-IDF graders on the judge's labels"):
            fitted, report = distill(labeled, proba, names, threshold, base=base,
                                     config=FitConfig(classes=class_names, seed=seed), base_spec=spec)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--data") from None
    fitted.save(out)
    report |= {"data": str(data), "distilled_from": meta.get("backend"), "threshold": threshold}
    atomic_write_json(out / "metrics.json", report)
    console.print(_metrics_table(report["metrics"], "held-out agreement with the judge "
                                 f"({report['split_rows']['test']} rows)"))
    if ranked:
        _print_weights(console, report)
    console.print(f"wrote {out}/")
