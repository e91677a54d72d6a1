"""``report.html`` for training runs: findings in words, a table, and PNG plots beside the file.

``write_report(runs, "out/report.html")`` writes ``out/report.html`` and ``out/report_files/*.png``
(relative links, so the directory can be moved or zipped), all atomically.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Sequence

from rewardsmith.io import atomic_write_text
from rewardsmith.report.stages import save_figure
from rewardsmith.report.training import (
    COLLAPSE_RULE,
    collapse_figure,
    curves_figure,
    findings,
    group_runs,
    histograms_figure,
    label_fractions_figure,
    load_runs,
    summarize,
)

__all__ = ["write_report"]

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; } .note { color: #555; font-size: 0.9em; }
li { margin-bottom: 0.4em; }
"""


def _esc(x: object) -> str:
    return html.escape(str(x))


def write_report(runs: Sequence[str | Path], output: str | Path) -> tuple[Path, list[str]]:
    """Build the report for the runs at or under ``runs``; return (path, findings)."""
    output = Path(output)
    if output.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"output: expected a file name ending in .html, got {str(output)!r}")
    loaded = load_runs(runs)
    groups = group_runs(loaded)
    summary = summarize(groups)
    lines = findings(summary)
    files = output.parent / (output.stem + "_files")
    imgs: list[tuple[str, str, str]] = []  # (file, title, caption)

    def add(fig, fname: str, title: str, caption: str) -> None:
        save_figure(fig, files / fname)
        imgs.append((f"{files.name}/{fname}", title, caption))

    add(label_fractions_figure(groups), "labels.png", "Label mix over training",
        "The seed's four stages, measured: how the batch splits into correct / wrong_answer / bad_format.")
    add(curves_figure(groups), "curves.png", "Reward and accuracy",
        "Mean over seeds; the band spans the seeds' minimum and maximum.")
    for i, (name, g) in enumerate(groups.items()):
        fig, steps = histograms_figure(g, name)
        add(fig, f"hist_{i}.png", f"Reward and advantage distributions: {name}",
            f"At steps {', '.join(map(str, steps))}: the rule's few reward values (top) and the advantages "
            f"the estimator made of them (bottom).")
    add(collapse_figure(groups), "collapse.png", "Collapse detectors",
        "A policy collapsing onto one completion or one template shows as rising shares and falling "
        "diversity and entropy.")

    first = loaded[0].config
    lrs = ", ".join(f"{x:g}" for x in sorted({float(r.config.get("lr", "nan")) for r in loaded}))
    setup = (f"task <b>{_esc(first.get('task'))}</b>, model <b>{_esc(first.get('model'))}</b>, "
             f"{_esc(first.get('steps'))} steps of {_esc(first.get('prompts_per_step'))} prompts x "
             f"G = {_esc(first.get('group_size'))}, lr {_esc(lrs)}, loss {_esc(first.get('loss_agg'))}, "
             f"rules {_esc(first.get('rules'))}; {len(loaded)} run(s) in {len(groups)} group(s).")
    rows = []
    for name, s in summary.items():
        rows.append(
            "<tr>" + "".join(f"<td>{_esc(v)}</td>" for v in (
                name, s["n_seeds"],
                f"{s['start_correct']:.2f}", f"{s['final_correct']:.2f} ± {s['final_correct_sd']:.2f}",
                f"{s['final_wrong_answer']:.2f}", f"{s['final_bad_format']:.2f}",
                f"{s['final_reward_mean']:+.2f}", f"{s['final_top_skeleton_share']:.2f}",
                f"{s['final_entropy']:.2f}", f"{sum(s['collapsed'])}/{len(s['collapsed'])}")) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in ("run group", "seeds", "correct (start)", "correct (final)",
                                              "wrong_answer", "bad_format", "reward", "top template",
                                              "entropy", "collapsed"))
    body = [
        "<!doctype html><html><head><meta charset='utf-8'><title>rewardsmith training report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>GRPO with a tiered rule reward: what the runs show</h1>",
        f"<p>{setup}</p>",
        "<h2>Findings</h2><ul>" + "".join(f"<li>{_esc(l)}</li>" for l in lines) + "</ul>",
        f"<p class='note'>Start / final = mean of the first {next(iter(summary.values()))['start_window']} / "
        f"last {next(iter(summary.values()))['window']} steps. "
        f"{_esc(COLLAPSE_RULE[0].upper() + COLLAPSE_RULE[1:])}.</p>",
        f"<h2>Summary</h2><table><tr>{head}</tr>{''.join(rows)}</table>",
    ]
    for src, title, caption in imgs:
        body.append(f"<h2>{_esc(title)}</h2><p class='note'>{_esc(caption)}</p>"
                    f"<img src='{_esc(src)}' alt='{_esc(title)}'>")
    body.append("<p class='note'>Runs: " + ", ".join(_esc(r.path) for r in loaded) + "</p></body></html>")
    atomic_write_text(output, "\n".join(body) + "\n")
    return output, lines
