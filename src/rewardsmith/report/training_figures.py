"""Figures of GRPO training runs: matplotlib Figures built without pyplot from the runs' metrics.

* :func:`label_fractions_figure` -- the label mix over steps per arm (the seed's four stages).
* :func:`curves_figure` -- reward, correct and bad_format fractions and KL, mean and range over seeds.
* :func:`histograms_figure` -- the seed's figure from real data: reward and advantage
  distributions at four points of training.
* :func:`collapse_figure` -- the collapse detectors over steps (template shares, diversity, entropy).

``save_figure`` (``report.stages``) writes them as PNG.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from rewardsmith.report.runs import Run
from rewardsmith.report.stages import tier_colors
from rewardsmith.report.summary import matrix as _matrix
from rewardsmith.report.summary import smooth as _smooth

__all__ = ["label_fractions_figure", "curves_figure", "histograms_figure", "collapse_figure"]


def _labels(runs: Sequence[Run]) -> list[str]:
    """Labels that ever occur, in the rule set's order (first run's label_frac key order)."""
    order: list[str] = []
    for r in runs:
        for row in r.rows:
            for k in row["label_frac"]:
                if k not in order:
                    order.append(k)
    return [k for k in order if any(row["label_frac"].get(k, 0) > 0 for r in runs for row in r.rows)]


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
