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
    DETECTORS,
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
li { margin-bottom: 0.4em; } ol.conclusions li { font-size: 1.05em; margin-bottom: 0.7em; }
details { margin: 0.5em 0; } summary { cursor: pointer; font-weight: 600; }
tr.control td { background: #f7f7e8; }
"""


def _esc(x: object) -> str:
    return html.escape(str(x))


def _fmt_delta(xs: Sequence[float], fmt: str) -> str:
    """Mean change over seeds and its range: ``+0.31 (+0.28..+0.35)``."""
    v = [x for x in xs if x == x]
    if not v:
        return "n/a"
    mean = sum(v) / len(v)
    return f"{mean:{fmt}}" + (f" ({min(v):{fmt}}..{max(v):{fmt}})" if len(v) > 1 else "")


def write_report(runs: Sequence[str | Path], output: str | Path) -> tuple[Path, list[str]]:
    """Build the report for the runs at or under ``runs``; return (path, the conclusions)."""
    output = Path(output)
    if output.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"output: expected a file name ending in .html, got {str(output)!r}")
    loaded = load_runs(runs)
    groups = group_runs(loaded)
    summary = summarize(groups)
    found = findings(summary)
    lines = found.conclusions
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
        "diversity and entropy; the control arm's curves (lr = 0) are what sampling noise alone does.")

    first = loaded[0].config
    lrs = ", ".join(f"{x:g}" for x in sorted({float(r.config.get("lr", "nan")) for r in loaded}))
    setup = (f"task <b>{_esc(first.get('task'))}</b>, model <b>{_esc(first.get('model'))}</b>, "
             f"{_esc(first.get('steps'))} steps of {_esc(first.get('prompts_per_step'))} prompts x "
             f"G = {_esc(first.get('group_size'))}, lr {_esc(lrs)}, loss {_esc(first.get('loss_agg'))}, "
             f"rules {_esc(first.get('rules'))}; {len(loaded)} run(s) in {len(groups)} group(s).")
    rows = []
    for name, s in summary.items():
        rows.append(
            f"<tr{' class=control' if s.control else ''}>" + "".join(f"<td>{_esc(v)}</td>" for v in (
                name, s.n_seeds,
                f"{s.start_correct:.2f}", s.final_correct_ci.text(),
                f"{s.labels['wrong_answer'].final:.2f}", f"{s.labels['bad_format'].final:.2f}",
                f"{s.metrics['reward_mean'].final:+.2f}", f"{s.metrics['top_skeleton_share'].final:.2f}",
                f"{s.metrics['entropy'].final:.2f}", f"{s.n_collapsed}/{len(s.verdicts)}")) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in ("run group", "seeds", "correct (start)", "correct (final) [95% CI]",
                                              "wrong_answer", "bad_format", "reward", "top template",
                                              "entropy", "collapsed"))
    # the noise floor: every detector's start -> final change, control arm first
    fmts = {"distinct_2": "+.3f", "group_distinct_frac": "+.3f"}
    nf_head = "".join(f"<th>{h}</th>" for h in ("run group", *(lab for _, lab in DETECTORS.values()), "collapsed"))
    nf_rows = []
    for name, s in summary.items():
        cells = [name + (" (noise floor)" if s.control else "")]
        cells += [_fmt_delta(s.delta[d], fmts.get(d, "+.2f")) for d in DETECTORS]
        cells.append(f"{s.n_collapsed}/{len(s.verdicts)}")
        nf_rows.append(f"<tr{' class=control' if s.control else ''}>"
                       + "".join(f"<td>{_esc(c)}</td>" for c in cells) + "</tr>")
    has_control = any(s.control for s in summary.values())
    nf_note = ("The control arm trains at lr = 0: its policy never changes, so its changes are sampling noise, "
               "the floor against which every other arm's change is read." if has_control else
               "No control arm (lr = 0) was run: pass --control to `rewardsmith experiment` to measure the noise "
               "floor of these detectors.")
    cmp_rows = "".join(f"<tr><td>{_esc(a)} - {_esc(b)}</td><td>{p.mean:+.3f}</td><td>"
                       + (f"[{p.lo:+.3f}, {p.hi:+.3f}]" if p.n >= 2 and p.lo == p.lo else "too few seeds")
                       + f"</td><td>{p.p:.2g}</td><td>{p.n}</td></tr>" for a, b, p in found.comparisons)
    detail = "".join(f"<details><summary>{_esc(name)}</summary><ul>"
                     + "".join(f"<li>{_esc(l)}</li>" for l in ls) + "</ul></details>"
                     for name, ls in found.details.items())
    first_s = next(iter(summary.values()))
    body = [
        "<!doctype html><html><head><meta charset='utf-8'><title>rewardsmith training report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>GRPO with a tiered rule reward: what the runs show</h1>",
        f"<p>{setup}</p>",
        "<h2>Conclusions</h2><ol class='conclusions'>" + "".join(f"<li>{_esc(l)}</li>" for l in lines) + "</ol>",
        f"<p class='note'>Start / final = mean of the first {first_s.start_window} / last {first_s.window} "
        f"steps. Intervals are 95% Student-t intervals over seeds; paired differences compare arms on the "
        f"same seeds (same prompts). Collapse: {_esc(COLLAPSE_RULE)}.</p>",
        f"<h2>Summary</h2><table><tr>{head}</tr>{''.join(rows)}</table>",
        f"<h2>Noise floor: start -> final change of every detector</h2><p class='note'>{_esc(nf_note)} "
        f"Mean over seeds (min..max).</p><table><tr>{nf_head}</tr>{''.join(nf_rows)}</table>",
        "<h2>Paired comparisons of final accuracy</h2><p class='note'>Final correct fraction, a - b per seed; "
        "95% t-interval and two-sided paired t-test.</p><table><tr><th>a - b</th><th>mean</th><th>95% CI</th>"
        f"<th>p</th><th>seeds</th></tr>{cmp_rows}</table>",
        f"<h2>Detail per arm</h2>{detail}",
    ]
    for src, title, caption in imgs:
        body.append(f"<h2>{_esc(title)}</h2><p class='note'>{_esc(caption)}</p>"
                    f"<img src='{_esc(src)}' alt='{_esc(title)}'>")
    body.append("<p class='note'>Runs: " + ", ".join(_esc(r.path) for r in loaded) + "</p></body></html>")
    atomic_write_text(output, "\n".join(body) + "\n")
    return output, lines
