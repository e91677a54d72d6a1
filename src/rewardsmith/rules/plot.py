"""A picture of a scored batch: label counts, the raw reward distribution, and the advantages.

``scores_figure`` builds a ``matplotlib.figure.Figure`` without pyplot (no global state, no
display); ``save_png`` writes it atomically. ``rewardsmith score --plot PATH`` uses both.
"""

from __future__ import annotations

import io
import os
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from rewardsmith.io import atomic_write_bytes

__all__ = ["scores_figure", "save_png"]


def scores_figure(
    labels: Sequence[str],
    rewards: np.ndarray,
    advantages: np.ndarray | None = None,
    label_order: Sequence[str] = (),
    title: str = "",
) -> Figure:
    """Panels: label counts (bars, annotated with each label's mean reward); raw rewards
    (histogram, one bar per distinct value when there are few); advantages (histogram), if given."""
    rewards = np.asarray(rewards, dtype=np.float64)
    counts = Counter(labels)
    names = [lb for lb in label_order if lb in counts] + sorted(set(counts) - set(label_order))
    n_panels = 3 if advantages is not None else 2
    fig = Figure(figsize=(4.2 * n_panels, 3.6), layout="constrained")
    axes = fig.subplots(1, n_panels)
    colors = [f"C{i % 10}" for i in range(len(names))]

    ax = axes[0]
    lab = np.asarray(labels, dtype=object)
    heights = [counts[n] for n in names]
    ax.bar(range(len(names)), heights, color=colors)
    for i, name in enumerate(names):
        r = rewards[lab == name]
        r = r[~np.isnan(r)]
        note = f"{r.mean():+.2f}" if r.size else "NaN"
        ax.annotate(note, (i, heights[i]), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_ylabel("completions")
    ax.set_title("labels (mean reward on top)")

    ax = axes[1]
    valid = rewards[~np.isnan(rewards)]
    distinct = np.unique(valid)
    if 0 < distinct.size <= 12:
        ax.bar(distinct, [int((valid == v).sum()) for v in distinct], width=0.08 * max(np.ptp(distinct), 1.0))
    elif valid.size:
        ax.hist(valid, bins=40)
    n_nan = int(np.isnan(rewards).sum())
    ax.set_title(f"raw reward ({distinct.size} distinct" + (f", {n_nan} NaN)" if n_nan else ")"))
    ax.set_xlabel("reward")

    if advantages is not None:
        ax = axes[2]
        a = np.asarray(advantages, dtype=np.float64)
        ax.hist(a[np.isfinite(a)], bins=40, color="C2")
        ax.set_title(f"advantage ({np.unique(np.round(a, 6)).size} distinct)")
        ax.set_xlabel("advantage")
    if title:
        fig.suptitle(title)
    return fig


def save_png(fig: Figure, path: str | os.PathLike[str], dpi: int = 120) -> Path:
    """Render ``fig`` as PNG and write it atomically to ``path``."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return atomic_write_bytes(path, buf.getvalue())
