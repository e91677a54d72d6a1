"""Two ways to smooth a discrete rule reward, side by side on one set of rollouts.

Signals compared (one value per completion):

* ``rule``: the discrete rule reward (e.g. +1 / -0.5 / -2);
* ``learned``: ``R_base + sum_i w_i p_i`` (``LearnedReward``);
* ``normalized``: the rule reward normalized within its group (GRPO ``(r - mean) / (std + eps)``).

Within one group, normalization is a strictly increasing map of the rule reward, so it ranks the
completions exactly as the rule does (Kendall tau 1 wherever tau is defined) and keeps its ties;
it only changes the scale from group to group. The learned reward changes the ranking: it breaks
ties inside a tier and can overturn the rule's order. ``compare_smoothing`` measures both: the
distinct values of each signal, the mean per-group Kendall tau-b between each pair of signals,
the fraction of rule-tied pairs the learned reward orders, and the pairs where the rule and the
learned reward disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

__all__ = ["SmoothingComparison", "compare_smoothing", "group_ids"]

SIGNALS = ("rule", "learned", "normalized")


@dataclass
class SmoothingComparison:
    """Result of ``compare_smoothing`` (arrays in input order)."""

    signals: dict[str, np.ndarray]
    """``rule``, ``learned``, ``normalized`` -> float64 array."""
    groups: np.ndarray
    """Integer group id per completion."""
    summary: dict[str, dict[str, float]]
    """Per signal: n, n_nan, distinct, min, max, mean, std."""
    kendall: dict[str, dict[str, float]]
    """``"rule~learned"`` etc. -> mean / median per-group tau-b and the groups where defined."""
    ties: dict[str, float]
    """Within-group pairs tied under the rule, and the fraction the learned reward orders."""
    disagreements: list[dict[str, Any]] = field(default_factory=list)
    """Within-group pairs the rule and the learned reward order oppositely, largest learned gap
    first: indices, both rewards of each, the labels and (with classes) which one is right."""
    ranking: dict[str, float] | None = None
    """With ``rank_classes``: pairwise accuracy of each signal on the class-ordered pairs."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "kendall": self.kendall,
            "ties": self.ties,
            "n_disagreements": self.ties.get("n_disagreeing_pairs", 0),
            "disagreements": self.disagreements,
            "ranking": self.ranking,
        }


def group_ids(keys: Sequence[Any]) -> np.ndarray:
    """Integer ids (order of first appearance) for arbitrary group keys such as prompt ids."""
    seen: dict[Any, int] = {}
    return np.asarray([seen.setdefault(k, len(seen)) for k in keys], dtype=np.int64)


def _summary(x: np.ndarray) -> dict[str, float]:
    ok = x[np.isfinite(x)]
    return {
        "n": int(x.size),
        "n_nan": int(x.size - ok.size),
        "distinct": int(np.unique(np.round(ok, 9)).size),
        "min": float(ok.min()) if ok.size else float("nan"),
        "max": float(ok.max()) if ok.size else float("nan"),
        "mean": float(ok.mean()) if ok.size else float("nan"),
        "std": float(ok.std()) if ok.size else float("nan"),
    }


def _members(groups: np.ndarray) -> list[np.ndarray]:
    order = np.argsort(groups, kind="stable")
    cuts = np.flatnonzero(np.diff(groups[order])) + 1
    return np.split(order, cuts)


def compare_smoothing(rule: np.ndarray, learned: np.ndarray, groups: Sequence[int], *,
                      estimator: str = "grpo", labels: Sequence[str] | None = None,
                      top: int = 20, rank_classes: Sequence[str] | None = None,
                      classes: Sequence[str] | None = None,
                      **estimator_options: Any) -> SmoothingComparison:
    """Compare the rule reward, the learned reward and the group-normalized rule reward.

    ``groups``: an integer group id per completion (``group_ids`` turns prompt ids into these).
    ``estimator`` / ``estimator_options``: the normalization (``advantages.compute``).
    ``rank_classes`` + ``classes`` (best first): known classes of the completions; adds the
    pairwise accuracy of each signal (a tie counts 1/2) and who is right in each disagreement.
    """
    from scipy.stats import kendalltau

    from rewardsmith import advantages

    rule = np.asarray(rule, dtype=np.float64).reshape(-1)
    learned = np.asarray(learned, dtype=np.float64).reshape(-1)
    g = np.asarray(groups).reshape(-1)
    if not (rule.size == learned.size == g.size):
        raise ValueError(f"rule, learned, groups: expected equal lengths, got {rule.size}, "
                         f"{learned.size}, {g.size}")
    if rule.size == 0:
        raise ValueError("rollouts: no completions to compare")
    normalized = np.asarray(advantages.compute(estimator, rule, groups=g, **estimator_options),
                            dtype=np.float64)
    normalized = np.where(np.isfinite(rule), normalized, np.nan)
    signals = {"rule": rule, "learned": learned, "normalized": normalized}

    pairs = [("rule", "learned"), ("rule", "normalized"), ("learned", "normalized")]
    taus: dict[str, list[float]] = {f"{a}~{b}": [] for a, b in pairs}
    n_tied = n_broken = n_disagree = n_pairs = 0
    dis: list[tuple[float, int, int]] = []
    for idx in _members(g):
        ok = idx[np.isfinite(rule[idx]) & np.isfinite(learned[idx])]
        if ok.size < 2:
            continue
        for a, b in pairs:
            x, y = signals[a][ok], signals[b][ok]
            if np.ptp(x) > 0 and np.ptp(y) > 0:
                taus[f"{a}~{b}"].append(float(kendalltau(x, y).statistic))
        r, l_ = rule[ok], learned[ok]
        i, j = np.triu_indices(ok.size, k=1)
        dr, dl = r[i] - r[j], l_[i] - l_[j]
        n_pairs += i.size
        tied = dr == 0
        n_tied += int(tied.sum())
        n_broken += int((tied & (dl != 0)).sum())
        opp = np.sign(dr) * np.sign(dl) < 0
        n_disagree += int(opp.sum())
        for k in np.flatnonzero(opp):
            hi, lo = (ok[i[k]], ok[j[k]]) if dr[k] > 0 else (ok[j[k]], ok[i[k]])
            dis.append((abs(float(dl[k])), int(hi), int(lo)))
    dis.sort(key=lambda t: -t[0])
    disagreements = []
    for gap, hi, lo in dis[:top]:
        row = {"group": int(g[hi]), "rule_prefers": hi, "learned_prefers": lo,
               "rule": [float(rule[hi]), float(rule[lo])],
               "learned": [float(learned[hi]), float(learned[lo])], "learned_gap": gap}
        if labels is not None:
            row["labels"] = [labels[hi], labels[lo]]
        if rank_classes is not None:
            row["classes"] = [rank_classes[hi], rank_classes[lo]]
        disagreements.append(row)
    kendall = {}
    for key, vals in taus.items():
        v = np.asarray(vals)
        kendall[key] = {
            "mean": float(v.mean()) if v.size else float("nan"),
            "median": float(np.median(v)) if v.size else float("nan"),
            "n_groups": int(v.size),
        }
    ties = {
        "n_pairs": n_pairs,
        "n_rule_tied_pairs": n_tied,
        "learned_breaks_ties_frac": n_broken / n_tied if n_tied else float("nan"),
        "n_disagreeing_pairs": n_disagree,
        "disagree_frac": n_disagree / n_pairs if n_pairs else float("nan"),
    }
    ranking = None
    if rank_classes is not None:
        from rewardsmith.graders.data import ranked_pairs
        from rewardsmith.graders.weights import pairwise_accuracy

        if classes is None:
            raise ValueError("classes: needed with rank_classes (class names, best first)")
        bad = sorted({c for c in rank_classes if c not in classes})
        if bad:
            raise ValueError(f"rank_class: values {bad} are not in classes {list(classes)}")
        cp = ranked_pairs([str(x) for x in g], list(rank_classes), classes)
        cp = cp[np.isfinite(rule[cp]).all(axis=1) & np.isfinite(learned[cp]).all(axis=1)]
        ranking = {"n_pairs": int(len(cp))}
        ranking |= {k: pairwise_accuracy(v, cp) for k, v in signals.items()}
        order = {c: i for i, c in enumerate(classes)}
        right = {"rule": 0, "learned": 0, "neither": 0}
        for _gap, hi, lo in dis:
            d = order[rank_classes[hi]] - order[rank_classes[lo]]
            right["rule" if d < 0 else "learned" if d > 0 else "neither"] += 1
        ranking["disagreements_right"] = right
        for row in disagreements:
            a, b = (order[c] for c in row["classes"])
            row["right"] = "rule" if a < b else "learned" if a > b else "neither"
    return SmoothingComparison(signals=signals, groups=g, summary={k: _summary(v) for k, v in signals.items()},
                               kendall=kendall, ties=ties, disagreements=disagreements,
                               ranking=ranking)
