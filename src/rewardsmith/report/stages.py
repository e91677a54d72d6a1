"""Figures of the smoothing study: per-stage reward distributions and the outcome simplex.

``stages_figure(study)``: one row per stage, the raw reward distribution (left) beside the
normalized one (right), and a last row pooling every stage (3 raw values become 12 normalized
ones with the seed's defaults). Each bar is labeled with the same ``+.2f`` text the CLI prints.

``simplex_figure(smap)``: one ternary heat map per tier over every mix of a group, diverging
colormap centred at 0, with the zero contour (where a tier's advantage changes sign) drawn and
labeled, and the seed's stages marked.

Both return a ``matplotlib.figure.Figure`` built without pyplot (no global state, no display);
``save_figure`` writes it as PNG atomically.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib import colors as mcolors
from matplotlib import tri as mtri
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from rewardsmith.io import atomic_write_bytes
from rewardsmith.smoothing import SEED_STAGES, SimplexMap, StagesStudy

__all__ = ["fmt_adv", "tier_colors", "stages_figure", "simplex_figure", "save_figure"]

_SEED_COLORS = ("#2a9d3f", "#f0a202", "#d1495b")  # correct, wrong answer, bad format
_SQRT3_2 = math.sqrt(3) / 2


def fmt_adv(x: float) -> str:
    """The one text format of an advantage, shared by figures and terminal tables."""
    return f"{x:+.2f}"


def tier_colors(n: int) -> list[str]:
    """Green / amber / red for three tiers; a qualitative palette otherwise."""
    if n == 3:
        return list(_SEED_COLORS)
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return [mcolors.to_hex(cmap(i % 10)) for i in range(n)]


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 130) -> Path:
    """Render ``fig`` as PNG and write it atomically to ``path``."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return atomic_write_bytes(path, buf.getvalue())


def _estimator_title(estimator: str, options: dict) -> str:
    opts = []
    if "ddof" in options:
        opts.append("population std" if options["ddof"] == 0 else "Bessel std (ddof=1)")
    if "eps" in options:
        opts.append(f"eps={options['eps']:g}")
    return estimator + (f" ({', '.join(opts)})" if opts else "")


# --------------------------------------------------------------------------------------------
# Stages
# --------------------------------------------------------------------------------------------


def _stagger(xs: np.ndarray, min_gap: float) -> list[int]:
    """Label level per sorted x so that labels closer than ``min_gap`` do not overlap."""
    levels: list[int] = []
    last_x: dict[int, float] = {}
    for x in xs:
        lvl = 0
        while lvl in last_x and x - last_x[lvl] < min_gap:
            lvl += 1
        last_x[lvl] = x
        levels.append(lvl)
    return levels


def _bars(ax, xs, heights, colors, width, labels, ymax, min_gap) -> None:
    """Bars at ``xs`` with a two-line label (value, n) above each, staggered when crowded."""
    ax.bar(xs, heights, width=width, color=colors, edgecolor="black", linewidth=0.6, zorder=3)
    order = np.argsort(xs)
    levels = _stagger(np.asarray(xs)[order], min_gap)
    for lvl, i in zip(levels, order):
        y = heights[i] + ymax * (0.04 + 0.22 * lvl)
        ax.annotate(
            labels[i],
            (xs[i], y),
            ha="center",
            va="bottom",
            fontsize=7.5,
            zorder=4,
        )
        if lvl:
            ax.plot([xs[i], xs[i]], [heights[i], y], color="0.6", lw=0.5, zorder=2)


def stages_figure(study: StagesStudy) -> Figure:
    """Per stage: raw distribution beside normalized distribution; last row: all stages pooled."""
    k = len(study.tiers)
    colors = tier_colors(k)
    n_st = len(study.stages)
    fig = Figure(figsize=(12, 2.3 * (n_st + 1) + 0.9), layout="constrained")
    gs = fig.add_gridspec(n_st + 1, 2, width_ratios=[1, 2.2])
    est = _estimator_title(study.estimator, study.options)
    d = study.to_dict()["pooled"]
    fig.suptitle(
        f"Group normalization turns {d['distinct_raw']} rule rewards into "
        f"{d['distinct_normalized']} advantages\n"
        f"estimator: {est}; each stage is one group of completions for a prompt",
        fontsize=12,
    )
    tiers = np.asarray(study.tiers)
    t_lo, t_hi = float(tiers.min()), float(tiers.max())
    t_pad = 0.25 * (t_hi - t_lo)
    a_all = np.concatenate([s.normalized_values for s in study.stages])
    a_lim = max(float(np.abs(a_all).max()), 1.0) * 1.18
    raw_w = 0.09 * (t_hi - t_lo)
    adv_w = 0.018 * 2 * a_lim

    def raw_panel(ax, counts, title):
        ymax = max(counts) * 1.0
        present = [i for i in range(k) if counts[i] > 0]
        _bars(
            ax,
            [tiers[i] for i in present],
            [counts[i] for i in present],
            [colors[i] for i in present],
            raw_w,
            [f"{tiers[i]:+g}\nn={counts[i]}" for i in present],
            ymax,
            min_gap=0.0,
        )
        ax.set_xlim(t_lo - t_pad, t_hi + t_pad)
        ax.set_ylim(0, ymax * 1.45)
        ax.set_xticks(tiers, [f"{t:+g}" for t in tiers])
        ax.set_ylabel("completions")
        ax.set_title(title, fontsize=9.5, loc="left")
        ax.grid(axis="y", alpha=0.3, zorder=0)

    def adv_panel(ax, xs, heights, cols, title):
        ymax = max(heights) * 1.0
        labels = [f"{fmt_adv(x)}\nn={h}" for x, h in zip(xs, heights)]
        _bars(ax, xs, heights, cols, adv_w, labels, ymax, min_gap=0.09 * 2 * a_lim)
        levels = max(_stagger(np.sort(np.asarray(xs)), 0.09 * 2 * a_lim)) + 1
        ax.set_xlim(-a_lim, a_lim)
        ax.set_ylim(0, ymax * (1.4 + 0.22 * (levels - 1)))
        ax.axvline(0, color="0.4", lw=0.8, ls="--", zorder=1)
        ax.set_ylabel("completions")
        ax.set_title(title, fontsize=9.5, loc="left")
        ax.grid(axis="y", alpha=0.3, zorder=0)

    for i, s in enumerate(study.stages):
        mix = " / ".join(f"{c} {lab}" for c, lab in zip(s.counts, study.labels))
        raw_panel(fig.add_subplot(gs[i, 0]), s.counts, f"stage {i + 1}: {mix}")
        present = [j for j in range(k) if s.counts[j] > 0]
        adv_panel(
            fig.add_subplot(gs[i, 1]),
            [float(s.tier_advantage[j]) for j in present],
            [s.counts[j] for j in present],
            [colors[j] for j in present],
            f"stage {i + 1} normalized: mean {s.mean:+.3f}, std {s.std:.3f}, "
            f"range [{fmt_adv(s.normalized_min)}, {fmt_adv(s.normalized_max)}]",
        )
    # pooled row
    pooled_counts = [int(sum(s.counts[j] for s in study.stages)) for j in range(k)]
    ax_r = fig.add_subplot(gs[n_st, 0])
    raw_panel(ax_r, pooled_counts, f"all stages pooled: {d['distinct_raw']} distinct raw values")
    ax_r.set_xlabel("rule reward")
    ax_a = fig.add_subplot(gs[n_st, 1])
    vals = study.pooled_normalized_values
    cnts = study.pooled_normalized_counts
    cols = [colors[int(t)] for t in study.pooled_normalized_tier]
    # Lollipops, not bars: pooled values can sit 0.06 apart; the values are listed as text.
    ax_a.vlines(vals, 0, cnts, colors=cols, lw=2.2, zorder=3)
    ax_a.scatter(vals, cnts, c=cols, s=28, edgecolors="black", linewidths=0.6, zorder=4)
    ax_a.set_xlim(-a_lim, a_lim)
    ax_a.set_ylim(0, float(cnts.max()) * 1.75)
    ax_a.axvline(0, color="0.4", lw=0.8, ls="--", zorder=1)
    ax_a.grid(axis="y", alpha=0.3, zorder=0)
    ax_a.set_ylabel("completions")
    ax_a.set_title(
        f"all stages pooled: {d['distinct_normalized']} distinct normalized values",
        fontsize=9.5,
        loc="left",
    )
    half = (len(vals) + 1) // 2
    listing = [", ".join(fmt_adv(v) for v in vals[:half]), ", ".join(fmt_adv(v) for v in vals[half:])]
    ax_a.text(
        0.01, 0.97, "values: " + ",\n            ".join(x for x in listing if x),
        transform=ax_a.transAxes, ha="left", va="top", fontsize=8, family="monospace",
        bbox=dict(boxstyle="round", fc="white", ec="0.7"),
    )
    ax_a.set_xlabel(f"advantage ({study.estimator})")
    handles = [
        Patch(
            facecolor=colors[j], edgecolor="black", label=f"{study.labels[j]} ({study.tiers[j]:+g})"
        )
        for j in range(k)
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=k, fontsize=9, frameon=False)
    return fig


# --------------------------------------------------------------------------------------------
# Simplex
# --------------------------------------------------------------------------------------------


def _xy(frac: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Barycentric (tier0 top, tier1 bottom-left, tier2 bottom-right) -> cartesian."""
    frac = np.atleast_2d(frac)
    return frac[:, 0] * 0.5 + frac[:, 2], frac[:, 0] * _SQRT3_2


def _triangles(g: int, counts: np.ndarray) -> np.ndarray:
    """Triangles of the lattice of mixes, as row indices into ``counts`` (ordered a, then b)."""
    idx = np.full((g + 2, g + 2), -1, dtype=np.int64)
    idx[counts[:, 0], counts[:, 1]] = np.arange(counts.shape[0])
    a, b = counts[:, 0], counts[:, 1]
    up = a + b + 1 <= g
    tris = [np.stack([idx[a[up], b[up]], idx[a[up] + 1, b[up]], idx[a[up], b[up] + 1]], 1)]
    dn = a + b + 2 <= g
    tris.append(
        np.stack([idx[a[dn] + 1, b[dn]], idx[a[dn] + 1, b[dn] + 1], idx[a[dn], b[dn] + 1]], 1)
    )
    return np.concatenate(tris)


def _ternary_frame(ax, labels: Sequence[str], tiers: Sequence[float]) -> None:
    ax.set_aspect("equal")
    ax.axis("off")
    corners = np.array([[0.5, _SQRT3_2], [0.0, 0.0], [1.0, 0.0], [0.5, _SQRT3_2]])
    ax.plot(corners[:, 0], corners[:, 1], color="black", lw=1.0, zorder=5)
    for f in (0.2, 0.4, 0.6, 0.8):  # light grid: lines of constant share of each tier
        for k in range(3):
            p = np.zeros((2, 3))
            p[:, k] = f
            o = [j for j in range(3) if j != k]
            p[0, o[0]] = 1 - f
            p[1, o[1]] = 1 - f
            x, y = _xy(p)
            ax.plot(x, y, color="white", lw=0.5, alpha=0.7, zorder=4)
    off = 0.05
    ax.text(0.5, _SQRT3_2 + off, f"100% {labels[0]} ({tiers[0]:+g})", ha="center", va="bottom",
            fontsize=8.5)
    ax.text(-0.02, -off, f"100% {labels[1]}\n({tiers[1]:+g})", ha="center", va="top", fontsize=8.5)
    ax.text(1.02, -off, f"100% {labels[2]}\n({tiers[2]:+g})", ha="center", va="top", fontsize=8.5)
    # edge ticks: share of the bottom-right tier along the bottom edge
    for f in (0.2, 0.4, 0.6, 0.8):
        ax.text(f, -0.025, f"{f:.0%}", ha="center", va="top", fontsize=6.5, color="0.35")
    ax.text(0.5, -0.1, f"share of {labels[2]} \u2192", ha="center", va="top", fontsize=8,
            color="0.35")
    ax.set_xlim(-0.12, 1.12)
    ax.set_ylim(-0.2, _SQRT3_2 + 0.12)


def _advantage_at(smap: SimplexMap, counts: np.ndarray, k: int) -> float | None:
    """Tier ``k``'s advantage at a stage when it is a mix of this map, else None."""
    c = np.asarray(counts)
    if c.sum() != smap.group_size or np.any(c != np.round(c)) or c[k] == 0:
        return None
    return float(smap.lookup(c.astype(np.int64))[k])


def simplex_figure(
    smap: SimplexMap,
    stages: Sequence[Sequence[int]] | None = SEED_STAGES,
) -> Figure:
    """Ternary heat maps, one per tier, of the advantage that tier gets at every mix."""
    g = smap.group_size
    counts = smap.counts
    x, y = _xy(smap.fractions)
    tri_idx = _triangles(g, counts)
    fig = Figure(figsize=(16, 6.9), layout="constrained")
    axes = fig.subplots(1, 3)
    summ = smap.summary()
    mid = smap.labels[1]
    pos = summ["tiers"][mid]
    fig.suptitle(
        f"Advantage of each tier over every outcome mix of a group of {g} "
        f"({summ['n_mixes']} mixes); estimator: {_estimator_title(smap.estimator, smap.options)}\n"
        f"A {mid} gets a POSITIVE advantage in {pos['n_positive']} of the "
        f"{pos['n_mixes_present']} mixes that contain one ({pos['positive_fraction']:.1%}): "
        f"format is rewarded before correctness",
        fontsize=12,
    )
    for k, ax in enumerate(axes):
        a = smap.advantage[:, k]
        nan = np.isnan(a)
        vals = np.where(nan, 0.0, a)
        triang = mtri.Triangulation(x, y, tri_idx)
        triang.set_mask(nan[tri_idx].any(axis=1))
        # Colors saturate at the 95th percentile of |A|: the extremes (up to sqrt(G-1)) sit in
        # thin strips along the edges and would otherwise wash the rest of the map out.
        half = float(np.nanpercentile(np.abs(a), 95)) if (~nan).any() else 1.0
        norm = mcolors.CenteredNorm(vcenter=0.0, halfrange=half if half > 1e-12 else 1.0)
        pc = ax.tripcolor(triang, vals, shading="gouraud", cmap="RdBu", norm=norm,
                          rasterized=True)
        _ternary_frame(ax, smap.labels, smap.tiers)
        ax.set_title(
            f"A({smap.labels[k]}), reward {smap.tiers[k]:+g}: "
            f"range [{fmt_adv(np.nanmin(a))}, {fmt_adv(np.nanmax(a))}]",
            fontsize=10,
        )
        cb = fig.colorbar(pc, ax=ax, orientation="horizontal", shrink=0.8, pad=0.02,
                          extend="both")
        cb.set_label(f"advantage of one {smap.labels[k]} completion (blue > 0 > red;\n"
                     f"colors saturate at \u00b1{half:.2f}, the 95th percentile of |A|)",
                     fontsize=8.5)
        lo, hi = np.nanmin(a), np.nanmax(a)
        if lo < -1e-9 and hi > 1e-9:
            cs = ax.tricontour(triang, vals, levels=[0.0], colors="black", linewidths=1.6,
                               zorder=6)
            ax.clabel(cs, fmt={0.0: "A = 0"}, fontsize=9, inline=True)
            if k == 1:
                share = smap.positive(k)
                cx, cy = _xy(smap.fractions[share].mean(axis=0))
                ax.text(float(cx[0]), float(cy[0]),
                        f"A > 0 here:\n{smap.labels[1]} rewarded\n({pos['n_positive']} mixes)",
                        ha="center", va="center", fontsize=8.5, fontweight="bold", zorder=7,
                        bbox=dict(boxstyle="round", fc="white", ec="0.3", alpha=0.85))
        for s_i, st in enumerate(stages or []):
            st = np.asarray(st, dtype=float)
            if st.shape != (3,) or st.sum() <= 0:
                continue
            sx, sy = _xy(st / st.sum())
            ax.plot(sx, sy, marker="o", ms=7, mfc="white", mec="black", mew=1.2, zorder=8)
            st_adv = _advantage_at(smap, st, k)
            text = f"S{s_i + 1}" + ("" if st_adv is None else f" {fmt_adv(st_adv)}")
            ax.annotate(text, (float(sx[0]), float(sy[0])), xytext=(6, 4),
                        textcoords="offset points", fontsize=8.5, fontweight="bold", zorder=8,
                        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))
    if stages:
        fig.supxlabel(
            "S1..S{}: the stages {} (counts {} / {} / {}), labeled with the tier's advantage "
            "there when the stage is a mix of this group size.".format(
                len(stages),
                ", ".join("/".join(str(c) for c in s) for s in stages),
                *smap.labels,
            ),
            fontsize=9,
        )
    return fig
