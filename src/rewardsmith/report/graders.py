"""Figures of the learned-grader study.

``compare_figure(cmp)``: the rule reward, the learned reward and the group-normalized rule reward
side by side (histogram of each, titled with its number of distinct values), and the learned
reward against the rule reward per completion (jittered), with the completions of pairs where
the two disagree ringed, titled with the mean per-group Kendall tau.

``metrics_figure(metrics)``: precision / recall / F1 / ROC AUC per proposition (grouped bars).

Both build a ``matplotlib.figure.Figure`` without pyplot; ``save_figure`` writes the PNG.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from matplotlib.figure import Figure

from rewardsmith.report.stages import save_figure

__all__ = ["compare_figure", "metrics_figure", "save_figure"]

_COLORS = {"rule": "#d1495b", "learned": "#2a9d8f", "normalized": "#3d5a80"}
_TITLES = {"rule": "rule reward", "learned": "learned reward", "normalized": "group-normalized rule"}


def compare_figure(cmp, title: str = "") -> Figure:
    """Histograms of the three signals and learned-vs-rule scatter (see module doc)."""
    fig = Figure(figsize=(13, 7.5), layout="constrained")
    axes = fig.subplots(2, 3)
    for ax, name in zip(axes[0], ("rule", "learned", "normalized")):
        x = cmp.signals[name]
        x = x[np.isfinite(x)]
        distinct = cmp.summary[name]["distinct"]
        if 0 < distinct <= 12:  # a discrete signal: one bar per value
            vals, counts = np.unique(np.round(x, 9), return_counts=True)
            span = float(vals.max() - vals.min()) or 1.0
            ax.bar(vals, counts, width=span / 40, color=_COLORS[name])
            for v, c in zip(vals, counts):
                ax.text(v, c, f"{v:+.2f}", ha="center", va="bottom", fontsize=8)
        else:
            ax.hist(x, bins=min(max(distinct, 3), 60), color=_COLORS[name], edgecolor="white")
        ax.set_title(f"{_TITLES[name]}: {distinct} distinct values")
        ax.set_xlabel("value")
        ax.set_ylabel("completions")
    ax = axes[1, 0]
    rule, learned = cmp.signals["rule"], cmp.signals["learned"]
    rng = np.random.default_rng(0)
    jitter = rng.uniform(-0.08, 0.08, size=rule.size)
    ax.scatter(rule + jitter, learned, s=8, alpha=0.5, color=_COLORS["learned"])
    ring = sorted({d["rule_prefers"] for d in cmp.disagreements} |
                  {d["learned_prefers"] for d in cmp.disagreements})
    if ring:
        ring = np.asarray(ring)
        ax.scatter(rule[ring] + jitter[ring], learned[ring], s=40, facecolors="none",
                   edgecolors="black", linewidths=0.8, label="in a disagreeing pair")
        ax.legend(loc="upper left", fontsize=8)
    tau = cmp.kendall["rule~learned"]["mean"]
    ax.set_title(f"learned vs rule (mean group Kendall tau {tau:.2f})")
    ax.set_xlabel("rule reward (jittered)")
    ax.set_ylabel("learned reward")

    ax = axes[1, 1]
    keys = list(cmp.kendall)
    vals = [cmp.kendall[k]["mean"] for k in keys]
    bars = ax.bar(range(len(keys)), np.nan_to_num(vals), color="#6c757d")
    for b, v in zip(bars, vals):
        ax.text(b.get_x() + b.get_width() / 2, b.get_height(), "n/a" if not np.isfinite(v) else f"{v:.2f}",
                ha="center", va="bottom")
    ax.set_xticks(range(len(keys)), [k.replace("~", " vs\n") for k in keys])
    ax.set_ylim(min(0.0, np.nanmin(vals) if np.isfinite(vals).any() else 0.0) - 0.05, 1.1)
    ax.set_title("mean per-group Kendall tau-b")

    ax = axes[1, 2]
    ax.axis("off")
    t = cmp.ties
    lines = [
        f"completions: {cmp.summary['rule']['n']}   groups: {np.unique(cmp.groups).size}",
        f"pairs within groups: {t['n_pairs']}",
        f"tied under the rule: {t['n_rule_tied_pairs']}",
        f"  ordered by the learned reward: {t['learned_breaks_ties_frac']:.1%}",
        f"rule and learned disagree: {t['n_disagreeing_pairs']} ({t['disagree_frac']:.1%})",
        "normalization keeps every rule tie and",
        "the rule's order inside each group.",
    ]
    if getattr(cmp, "ranking", None):
        rk = cmp.ranking
        lines += [
            "",
            f"pairwise accuracy on rank_class ({rk['n_pairs']} pairs):",
            f"  rule {rk['rule']:.3f}  learned {rk['learned']:.3f}  normalized {rk['normalized']:.3f}",
            f"disagreements right: rule {rk['disagreements_right']['rule']}, "
            f"learned {rk['disagreements_right']['learned']}",
        ]
    ax.text(0.0, 1.0, "\n".join(lines), va="top", ha="left", family="monospace", fontsize=10)
    if title:
        fig.suptitle(title)
    return fig


def metrics_figure(metrics: Mapping[str, Mapping[str, float]], title: str = "") -> Figure:
    """Grouped bars of precision, recall, F1 and ROC AUC per proposition."""
    names = list(metrics)
    keys = ("precision", "recall", "f1", "auc")
    colors = ("#3d5a80", "#98c1d9", "#ee6c4d", "#293241")
    fig = Figure(figsize=(max(6.0, 1.3 * len(names) + 2), 4.2), layout="constrained")
    ax = fig.subplots()
    width = 0.2
    x = np.arange(len(names))
    for k, (key, color) in enumerate(zip(keys, colors)):
        vals = np.asarray([metrics[n].get(key, np.nan) for n in names], dtype=float)
        ax.bar(x + (k - 1.5) * width, np.nan_to_num(vals), width, label=key, color=color)
    ax.set_xticks(x, [n.replace("_", "\n") for n in names])
    ax.set_ylim(0, 1.2)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.legend(ncol=4, loc="upper center", fontsize=8, frameon=False)
    ax.set_title(title or "grader metrics per proposition")
    return fig
