"""Figures and findings of GRPO training runs (``rewardsmith.train``), computed from their metrics.

* :func:`load_runs` finds run directories (``metrics.jsonl`` + ``config.json``) and groups them by
  estimator (and any other setting that differs, except the seed).
* :func:`summarize` -> per group: start / final label mix, accuracy over seeds, collapse verdicts.
* :func:`findings` -> plain sentences stating what the data show, including where they contradict
  the seed's account (rare good answers amplified early, format fixed before answers, raw rewards
  collapsing onto templates). Every number in them is computed from the runs.
* ``*_figure`` build matplotlib Figures without pyplot; ``save_figure`` (``report.stages``) writes PNG.

Windows: "start" is the first 3 steps, "final" the last ``max(3, steps // 10)``, averaged.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from matplotlib.figure import Figure

from rewardsmith.advantages import ESTIMATORS
from rewardsmith.io import read_rows
from rewardsmith.report.stages import tier_colors

__all__ = ["Run", "load_runs", "group_runs", "summarize", "findings", "label_fractions_figure",
           "curves_figure", "histograms_figure", "collapse_figure", "COLLAPSE_RULE"]

LEARNED_SUFFIX = "+learned"  # group-name suffix of runs trained on a learned reward (config "grader")
_IGNORED = {"seed", "progress", "cache_dir", "device", "threads", "samples_per_step", "checkpoint_every"}
SEED_STAGES = ((1, 9, 90), (1, 49, 50), (49, 50, 1), (90, 9, 1))  # correct / wrong / bad of 100
COLLAPSE_RULE = ("a run collapsed when its final correct fraction is below its start, or below 0.05 "
                 "with one digit-masked template taking >= 90% of the batch")


@dataclass
class Run:
    path: Path
    config: dict
    rows: list[dict]

    def series(self, key: str) -> np.ndarray:
        """Per-step values of a metric; ``label:NAME`` reads a label fraction."""
        if key.startswith("label:"):
            name = key[6:]
            return np.array([r["label_frac"].get(name, 0.0) for r in self.rows], dtype=float)
        return np.array([np.nan if r.get(key) is None else r[key] for r in self.rows], dtype=float)


def load_runs(paths: Sequence[str | Path]) -> list[Run]:
    """Every run directory at or under ``paths`` (a directory holding ``metrics.jsonl``)."""
    found: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise ValueError(f"runs: {str(p)!r} does not exist")
        if (p / "metrics.jsonl").exists():
            found.append(p)
        else:
            found.extend(sorted(m.parent for m in p.rglob("metrics.jsonl")))
    if not found:
        raise ValueError(f"runs: no metrics.jsonl at or under {[str(p) for p in paths]}")
    runs = []
    for d in found:
        rows = read_rows(d / "metrics.jsonl")
        if not rows:
            continue
        cfg = read_rows_json(d / "config.json")
        runs.append(Run(d, cfg, rows))
    if not runs:
        raise ValueError("runs: every metrics.jsonl found is empty")
    return runs


def read_rows_json(path: Path) -> dict:
    import json

    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def group_runs(runs: Sequence[Run]) -> dict[str, list[Run]]:
    """Runs that differ only in seed share a group; the name is the estimator plus what differs."""
    keys = sorted({k for r in runs for k in r.config} - _IGNORED - {"estimator", "grader"})
    varying = [k for k in keys if len({repr(r.config.get(k)) for r in runs}) > 1]
    groups: dict[str, list[Run]] = {}
    for r in runs:
        name = str(r.config.get("estimator", r.path.name)) + (LEARNED_SUFFIX if r.config.get("grader") else "")
        extra = ", ".join(f"{k}={r.config.get(k)}" for k in varying)
        groups.setdefault(name + (f" ({extra})" if extra else ""), []).append(r)
    order = list(ESTIMATORS)

    def rank(k: str) -> tuple:
        est = k.split(" ")[0].removesuffix(LEARNED_SUFFIX)
        setting = groups[k][0].config
        return (tuple(repr(setting.get(v)) for v in varying),
                order.index(est) if est in order else len(order), k)

    return {k: sorted(groups[k], key=lambda r: r.config.get("seed", 0)) for k in sorted(groups, key=rank)}


def _window(n: int) -> int:
    """Steps averaged for "final"; "start" uses ``_start(n)``."""
    return max(1, min(n, max(3, n // 10)))


def _start(n: int) -> int:
    return max(1, min(n, 3))


def _labels(runs: Sequence[Run]) -> list[str]:
    """Labels that ever occur, in the rule set's order (first run's label_frac key order)."""
    order: list[str] = []
    for r in runs:
        for row in r.rows:
            for k in row["label_frac"]:
                if k not in order:
                    order.append(k)
    return [k for k in order if any(row["label_frac"].get(k, 0) > 0 for r in runs for row in r.rows)]


def _matrix(runs: Sequence[Run], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values[seed, step]) over the common steps of ``runs``."""
    n = min(len(r.rows) for r in runs)
    steps = np.array([row["step"] for row in runs[0].rows[:n]])
    return steps, np.vstack([r.series(key)[:n] for r in runs])


def _collapsed(run: Run) -> bool:
    n = len(run.rows)
    w = _window(n)
    c = run.series("label:correct")
    start, final = c[: _start(n)].mean(), c[-w:].mean()
    template = np.nanmean(run.series("top_skeleton_share")[-w:])
    return bool(final < start - 0.02 or (final < 0.05 and template >= 0.9))


def _nearest_stage(mix: Sequence[float]) -> int:
    d = [sum(abs(m - s / 100) for m, s in zip(mix, st)) for st in SEED_STAGES]
    return int(np.argmin(d)) + 1


def summarize(groups: dict[str, list[Run]]) -> dict[str, dict[str, Any]]:
    """Per group: start / final mean (and sd over seeds) of each label and the reward, etc."""
    out: dict[str, dict[str, Any]] = {}
    for name, runs in groups.items():
        n = min(len(r.rows) for r in runs)
        w, w0 = _window(n), _start(n)
        s: dict[str, Any] = {"n_seeds": len(runs), "steps": int(runs[0].rows[n - 1]["step"]), "window": w,
                             "start_window": w0, "lr": runs[0].config.get("lr"),
                             "estimator": runs[0].config.get("estimator")}
        for lab in ("correct", "wrong_answer", "bad_format"):
            _, m = _matrix(runs, f"label:{lab}")
            s[f"start_{lab}"] = float(m[:, :w0].mean())
            fin = m[:, n - w : n].mean(1)
            s[f"final_{lab}"] = float(fin.mean())
            s[f"final_{lab}_sd"] = float(fin.std())
            s[f"final_{lab}_seeds"] = fin.tolist()
        for key in ("reward_mean", "top_skeleton_share", "top_completion_share", "group_distinct_frac",
                    "entropy", "kl", "adv_max", "adv_min", "adv_bound", "adv_zero_variance_frac"):
            _, m = _matrix(runs, key)
            s[f"start_{key}"] = float(np.nanmean(m[:, :w0])) if not np.all(np.isnan(m[:, :w0])) else float("nan")
            s[f"final_{key}"] = float(np.nanmean(m[:, n - w : n]))
        _, m = _matrix(runs, "adv_max")
        s["max_adv_start"] = float(np.nanmax(m[:, :w0]))
        _, m = _matrix(runs, "adv_min")
        s["min_adv_final"] = float(np.nanmin(m[:, n - w : n]))
        s["collapsed"] = [_collapsed(r) for r in runs]
        s["top_answer"] = _top_answer(runs, n - w)
        # which came first: format fixed (bad_format halved) or answers (half of the correct gain)?
        steps, b = _matrix(runs, "label:bad_format")
        _, c = _matrix(runs, "label:correct")
        bm, cm = _smooth(b.mean(0), 5), _smooth(c.mean(0), 5)
        half_b = np.flatnonzero(bm <= bm[0] / 2)
        gain = cm.max() - cm[0]
        half_c = np.flatnonzero(cm >= cm[0] + gain / 2) if gain > 0.02 else np.array([], dtype=int)
        s["step_format_halved"] = int(steps[half_b[0]]) if half_b.size else None
        s["step_correct_half_gain"] = int(steps[half_c[0]]) if half_c.size else None
        s["final_stage"] = _nearest_stage([s["final_correct"], s["final_wrong_answer"], s["final_bad_format"]])
        s["start_stage"] = _nearest_stage([s["start_correct"], s["start_wrong_answer"], s["start_bad_format"]])
        out[name] = s
    return out


_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.S)


def _top_answer(runs: Sequence[Run], from_index: int) -> list[dict]:
    """Per run: the most common <answer> among the samples logged in the final window."""
    out = []
    for r in runs:
        path = r.path / "samples.parquet"
        if not path.exists() or from_index >= len(r.rows):
            continue
        first_step = r.rows[from_index]["step"]
        answers, texts = Counter(), Counter()
        for row in read_rows(path):
            if row["step"] >= first_step:
                m = _ANSWER.search(row["completion"] or "")
                answers[m.group(1) if m else None] += 1
                texts[row["completion"]] += 1
        n = sum(answers.values())
        if n:
            ans, c = answers.most_common(1)[0]
            out.append({"answer": ans, "share": c / n, "n": n, "example": texts.most_common(1)[0][0]})
    return out


def _fmt_seeds(xs: Sequence[float]) -> str:
    return "/".join(f"{x:.2f}" for x in xs)


def _most_accurate(names: Sequence[str], summary: dict[str, dict[str, Any]]) -> str:
    """The group among ``names`` with the highest final correct fraction."""
    return max(names, key=lambda k: summary[k]["final_correct"])


def _versus(names: Sequence[str], summary: dict[str, dict[str, Any]], what: str = "") -> str:
    """``vs NAME<what> 0.47``: the most accurate of ``names`` and its final correct fraction."""
    b = _most_accurate(names, summary)
    return f"vs {b.split(' ')[0]}{what} {summary[b]['final_correct']:.2f}"


def findings(summary: dict[str, dict[str, Any]]) -> list[str]:
    """Plain sentences of what the runs show; each compares numbers computed from the metrics."""
    lines: list[str] = []
    if not summary:
        return lines
    for name, s in summary.items():
        lines.append(
            f"{name}: correct {s['start_correct']:.2f} -> {s['final_correct']:.2f} "
            f"(sd {s['final_correct_sd']:.2f} over {s['n_seeds']} seed(s): {_fmt_seeds(s['final_correct_seeds'])}), "
            f"bad_format {s['start_bad_format']:.2f} -> {s['final_bad_format']:.2f}, "
            f"wrong_answer {s['start_wrong_answer']:.2f} -> {s['final_wrong_answer']:.2f} "
            f"after {s['steps']} steps; {sum(s['collapsed'])} of {len(s['collapsed'])} run(s) collapsed."
        )
    names = list(summary)
    best = _most_accurate(names, summary)
    if len(names) > 1:
        b = summary[best]
        tied = [k for k in names if k != best and
                min(b["final_correct_seeds"]) <= max(summary[k]["final_correct_seeds"])]
        if tied:
            lines.append(
                f"Highest final accuracy: {best} ({b['final_correct']:.2f}), but its seeds overlap with "
                f"{', '.join(tied)}: with {b['n_seeds']} seed(s) the estimators are not distinguishable on accuracy.")
        else:
            lines.append(f"Highest final accuracy: {best} ({b['final_correct']:.2f}); every seed of it beats "
                         f"every seed of the others.")
    # The seed: group normalization amplifies the rare correct answer early (+5.50 at G = 100).
    for name, s in summary.items():
        if s["start_correct"] < 0.5 and name.split(" ")[0] == "grpo":
            lines.append(
                f"Seed claim 'rare good answers are amplified early': under {name} the largest advantage in the "
                f"first {s['start_window']} steps was {s['max_adv_start']:+.2f} (bound sqrt(G-1) = {s['start_adv_bound']:.2f} "
                f"for this G; the seed's +5.50 needs G = 100), against the raw reward's +1.00."
            )
            break
    # Format before answers?
    for name, s in summary.items():
        fb, fc = s["step_format_halved"], s["step_correct_half_gain"]
        if fb is not None and s["final_correct"] < s["start_correct"] - 0.02:
            lines.append(f"{name}: bad_format halved by step {fb} while correct fell ({s['start_correct']:.2f} -> "
                         f"{s['final_correct']:.2f}): the format was bought with the answers.")
        elif fb is None and fc is None:
            lines.append(f"{name}: neither bad_format halved nor correct rose within {s['steps']} steps.")
        elif fc is None:
            lines.append(f"{name}: bad_format halved by step {fb} while correct never gained: format was fixed, answers were not "
                         f"(agrees with the seed's 'format first', and stops there).")
        elif fb is None:
            lines.append(f"{name}: correct rose (half its gain by step {fc}) without bad_format halving: contradicts the seed's "
                         f"'format before answers'.")
        else:
            verdict = "agrees with" if fb <= fc else "contradicts"
            lines.append(f"{name}: bad_format halved by step {fb}, correct reached half its gain by step {fc}: "
                         f"{verdict} the seed's 'format is fixed before answers'.")
    # Raw rewards and collapse, per setting (groups that differ only in the estimator).
    settings: dict[str, list[str]] = {}
    for k in names:
        settings.setdefault(k[len(k.split(" ")[0]):].strip(), []).append(k)
    for setting, ks in settings.items():
        where = f" at {setting.strip('()')}" if setting else ""
        raw = [k for k in ks if k.split(" ")[0] == "raw"]
        learned = [k for k in ks if k.split(" ")[0].endswith(LEARNED_SUFFIX)]
        norm = [k for k in ks if k.split(" ")[0] != "raw" and k not in learned]
        counts = ", ".join(f"{k.split(' ')[0]} {sum(summary[k]['collapsed'])}/{len(summary[k]['collapsed'])}" for k in norm)
        if raw:
            r = summary[raw[0]]
            nc = sum(r["collapsed"])
            if nc == 0:
                cmp = f"; final accuracy {r['final_correct']:.2f} {_versus(norm, summary)}" if norm else ""
                lines.append(f"Raw (unnormalized) rewards{where} did not collapse in any of {len(r['collapsed'])} seed(s)"
                             f"{cmp}: this contradicts the seed's expectation that the discrete reward alone drives "
                             f"the policy onto meaningless templates.")
            else:
                lines.append(f"Raw rewards{where} collapsed in {nc} of {len(r['collapsed'])} seed(s)"
                             + (f" (normalized: {counts})" if norm else "") + ".")
        rule_arms = raw + norm
        for k in learned:
            s_l = summary[k]
            cmp = f" {_versus(rule_arms, summary, ' on the rule reward')}" if rule_arms else ""
            lines.append(f"{k.split(' ')[0]}{where} (the learned reward R_base + sum w_i p_i): final accuracy "
                         f"{s_l['final_correct']:.2f}{cmp}; {sum(s_l['collapsed'])} of {len(s_l['collapsed'])} "
                         f"run(s) collapsed.")
        collapsed_norm = [k for k in norm if sum(summary[k]["collapsed"])]
        if collapsed_norm:
            lines.append(f"Group-normalized estimators{where} collapsed too ({counts}): normalization did not "
                         f"protect against the template here.")
    healthy = [t["share"] for k in names if not sum(summary[k]["collapsed"]) for t in summary[k]["top_answer"]]
    for k in names:
        s, ta = summary[k], [t for t in summary[k]["top_answer"] if t["answer"] is not None]
        if sum(s["collapsed"]) and ta and max(t["share"] for t in ta) >= 0.2:  # one answer for many problems
            per = ", ".join(f"{t['answer']!r} in {t['share']:.0%}" for t in ta)
            ref = f" (runs that did not collapse: at most {max(healthy):.0%})" if healthy else ""
            lines.append(f"{k}: what it collapsed onto: the most common answer in the last {s['window']} steps, "
                         f"per seed, whatever the problem: {per} of sampled completions{ref}; "
                         f"e.g. {ta[0]['example']!r}.")
    # Does collapse follow the learning rate rather than the estimator?
    by_lr: dict[Any, list[bool]] = {}
    for k in names:
        by_lr.setdefault(summary[k]["lr"], []).extend(summary[k]["collapsed"])
    if len(by_lr) > 1:
        parts = [f"lr {lr:g}: {sum(v)}/{len(v)} runs collapsed" for lr, v in sorted(by_lr.items())]
        rates = [sum(v) / len(v) for v in by_lr.values()]
        verdict = ("collapse follows the step size, not the estimator" if max(rates) - min(rates) >= 0.5
                   else "the step size did not decide collapse")
        lines.append(f"Across learning rates ({'; '.join(parts)}): {verdict}.")
    # How far along the seed's stages did training get?
    s = summary[best]
    stage_txt = {1: "1 (1/9/90)", 2: "2 (1/49/50)", 3: "3 (49/50/1)", 4: "4 (90/9/1)"}
    lines.append(
        f"Start mix is nearest the seed's stage {stage_txt[s['start_stage']]}; the best final mix "
        f"({s['final_correct']:.2f}/{s['final_wrong_answer']:.2f}/{s['final_bad_format']:.2f}) is nearest stage "
        f"{stage_txt[s['final_stage']]}"
        + ("; the seed's late regime (rare failures punished at -5.50) was not reached." if s["final_stage"] < 4 else ".")
    )
    return lines


# ----------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------


def _smooth(x: np.ndarray, w: int) -> np.ndarray:
    if w <= 1 or x.size < w:
        return x
    k = np.ones(w) / w
    pad = np.pad(x, (w // 2, w - 1 - w // 2), mode="edge")
    return np.convolve(pad, k, mode="valid")


def _label_colors(labels: Sequence[str]) -> dict[str, str]:
    base = dict(zip(("correct", "wrong_answer", "bad_format"), tier_colors(3)))
    extra = tier_colors(10)
    return {lab: base.get(lab, extra[(i + 3) % 10]) for i, lab in enumerate(labels)}


def _est_colors(names: Sequence[str]) -> dict[str, str]:
    return dict(zip(names, tier_colors(10)))


def label_fractions_figure(groups: dict[str, list[Run]]) -> Figure:
    """One panel per group: the label mix over steps (mean over seeds), stacked."""
    names = list(groups)
    labels = _labels([r for g in groups.values() for r in g])
    colors = _label_colors(labels)
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig = Figure(figsize=(4.2 * cols + 1.2, 3.2 * rows), layout="constrained")
    grid = fig.subplots(rows, cols, squeeze=False)
    axes = grid.ravel()
    for ax in axes[len(names):]:
        ax.set_visible(False)
    for ax, name in zip(axes, names):
        ys = []
        for lab in labels:
            steps, m = _matrix(groups[name], f"label:{lab}")
            ys.append(_smooth(m.mean(0), 3))
        ax.stackplot(steps, *ys, labels=labels, colors=[colors[l] for l in labels], alpha=0.9)
        ax.set_title(f"{name} ({len(groups[name])} seed(s))")
        ax.set_xlabel("step")
        ax.set_ylim(0, 1)
        ax.set_xlim(steps[0], steps[-1])
    for r in range(rows):
        grid[r, 0].set_ylabel("fraction of completions")
    axes[cols - 1].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.suptitle("Label mix over training (mean over seeds, 3-step rolling mean)")
    return fig


def curves_figure(groups: dict[str, list[Run]]) -> Figure:
    """Reward, correct and bad_format fractions and KL: mean over seeds, band = min..max."""
    names = list(groups)
    colors = _est_colors(names)
    panels = [("reward_mean", "mean reward"), ("label:correct", "correct fraction"),
              ("label:bad_format", "bad_format fraction"), ("kl", "KL(policy || start), k3")]
    fig = Figure(figsize=(11, 7), layout="constrained")
    axes = fig.subplots(2, 2).ravel()
    w = 5
    for ax, (key, title) in zip(axes, panels):
        for name in names:
            steps, m = _matrix(groups[name], key)
            if np.all(np.isnan(m)):
                continue
            sm = np.vstack([_smooth(row, w) for row in m])
            ax.plot(steps, np.nanmean(sm, 0), color=colors[name], label=name, lw=1.8)
            if m.shape[0] > 1:
                ax.fill_between(steps, np.nanmin(sm, 0), np.nanmax(sm, 0), color=colors[name], alpha=0.2)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Training curves: mean over seeds, band = min..max over seeds ({w}-step rolling mean)")
    return fig


def _pool_hist(runs: Sequence[Run], key: str, idx: int, half: int) -> dict[float, int]:
    out: dict[float, int] = {}
    for r in runs:
        for row in r.rows[max(0, idx - half) : idx + half + 1]:
            for k, c in row.get(key, {}).items():
                out[float(k)] = out.get(float(k), 0) + int(c)
    return out


def histograms_figure(runs: Sequence[Run], name: str) -> tuple[Figure, list[int]]:
    """The seed's figure from real data: reward (top) and advantage (bottom) distributions at four
    points of training, pooled over seeds and a few steps around each point."""
    n = min(len(r.rows) for r in runs)
    idxs = sorted(set(int(round(x)) for x in np.linspace(0, n - 1, 4)))
    half = max(1, n // 40)
    fig = Figure(figsize=(3.4 * len(idxs), 5.6), layout="constrained")
    axes = fig.subplots(2, len(idxs), squeeze=False)
    tier_c = dict(zip((1.0, -0.5, -2.0), tier_colors(3)))
    for j, i in enumerate(idxs):
        step = runs[0].rows[i]["step"]
        rh = _pool_hist(runs, "reward_hist", i, half)
        ah = _pool_hist(runs, "adv_hist", i, half)
        tot = sum(rh.values()) or 1
        ax = axes[0, j]
        xs = sorted(rh)
        ax.bar(xs, [rh[x] / tot for x in xs], width=0.25, color=[tier_c.get(x, "#555555") for x in xs])
        for x in xs:
            ax.text(x, rh[x] / tot, f"{x:+.2f}", ha="center", va="bottom", fontsize=7)
        ax.set_title(f"step {step}: {len(xs)} reward value(s)", fontsize=9)
        ax.set_ylim(0, 1.1)
        ax.set_xlabel("reward")
        ax = axes[1, j]
        xs = sorted(ah)
        tot_a = sum(ah.values()) or 1
        ax.bar(xs, [ah[x] / tot_a for x in xs], width=0.06,
               color=["#2a9d3f" if x > 0 else "#d1495b" if x < 0 else "#888888" for x in xs])
        ax.set_title(f"{len(xs)} advantage value(s), range {min(xs):+.2f}..{max(xs):+.2f}" if xs else "no data",
                     fontsize=9)
        ax.set_xlabel("advantage")
    axes[0, 0].set_ylabel("fraction")
    axes[1, 0].set_ylabel("fraction")
    fig.suptitle(f"{name}: reward and advantage distributions at four points of training "
                 f"(pooled over {len(runs)} seed(s) and +-{half} step(s))")
    return fig, [runs[0].rows[i]["step"] for i in idxs]


def collapse_figure(groups: dict[str, list[Run]]) -> Figure:
    """Collapse detectors over steps: template shares, within-group diversity, entropy."""
    names = list(groups)
    colors = _est_colors(names)
    panels = [("top_completion_share", "share of the most common completion"),
              ("top_skeleton_share", "share of the most common template (digits masked)"),
              ("group_distinct_frac", "distinct completions per group / G"),
              ("distinct_2", "distinct token 2-grams within groups"),
              ("repetition", "repeated 3-grams within a completion"),
              ("entropy", "policy entropy per token (nats)")]
    fig = Figure(figsize=(13, 7), layout="constrained")
    axes = fig.subplots(2, 3).ravel()
    for ax, (key, title) in zip(axes, panels):
        for name in names:
            steps, m = _matrix(groups[name], key)
            sm = np.vstack([_smooth(row, 5) for row in m])
            ax.plot(steps, np.nanmean(sm, 0), color=colors[name], label=name, lw=1.8)
            if m.shape[0] > 1:
                ax.fill_between(steps, np.nanmin(sm, 0), np.nanmax(sm, 0), color=colors[name], alpha=0.2)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Collapse detectors (mean over seeds, band = min..max, 5-step rolling mean)")
    return fig
