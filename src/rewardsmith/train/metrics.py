"""Per-step batch statistics: reward and label mix, and detectors of the seed's "meaningless
templates" (a policy that collapses onto one completion or one format skeleton). The verdict
built on the detectors is ``rewardsmith.train.collapse``.

Pure functions of a batch (texts, token ids, rewards, labels); the trainer adds loss-side numbers.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Sequence

import numpy as np

__all__ = ["label_fractions", "reward_stats", "collapse_metrics", "skeleton"]

_DIGITS = re.compile(r"\d")


def skeleton(text: str) -> str:
    """The completion with every digit masked: ``<think>58</think>`` -> ``<think>##</think>``."""
    return _DIGITS.sub("#", text)


def label_fractions(labels: Sequence[str], known: Sequence[str] = ()) -> dict[str, float]:
    """``label -> fraction of the batch``; every label in ``known`` appears (0.0 when absent)."""
    n = max(len(labels), 1)
    counts = Counter(labels)
    out = {k: 0.0 for k in known}
    out.update({k: c / n for k, c in counts.items()})
    return out


def reward_stats(rewards: np.ndarray) -> dict[str, float]:
    """Mean / std / min / max over the scored rewards (NaN = unscored is left out and counted)."""
    r = np.asarray(rewards, dtype=np.float64)
    v = r[~np.isnan(r)]
    if v.size == 0:
        return {"reward_mean": float("nan"), "reward_std": float("nan"), "reward_min": float("nan"),
                "reward_max": float("nan"), "reward_nan": int(r.size)}
    return {"reward_mean": float(v.mean()), "reward_std": float(v.std()), "reward_min": float(v.min()),
            "reward_max": float(v.max()), "reward_nan": int(r.size - v.size)}


def _distinct_n(seqs: Sequence[Sequence[int]], n: int) -> float:
    grams = [tuple(s[i : i + n]) for s in seqs for i in range(len(s) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 1.0


def _repetition(seq: Sequence[int], n: int) -> float:
    grams = [tuple(seq[i : i + n]) for i in range(len(seq) - n + 1)]
    return 1.0 - len(set(grams)) / len(grams) if grams else 0.0


def collapse_metrics(texts: Sequence[str], token_ids: Sequence[Sequence[int]], group_size: int | None = None,
                     n: int = 2, groups: Sequence[Any] | None = None) -> dict[str, float]:
    """Collapse detectors over one batch. Groups are contiguous runs of ``group_size``, or given
    as one id per completion in ``groups`` (any order; TRL's batches).

    * ``top_completion_share``: share of the batch taken by its most common completion text.
    * ``top_skeleton_share``: the same for completions with digits masked (one template, any number).
    * ``group_distinct_frac``: distinct completions per group / G, averaged over groups.
    * ``distinct_n``: distinct token n-grams / n-grams within each group, averaged over groups.
    * ``repetition``: 1 - distinct / total token 3-grams within each completion, averaged.

    The collapse verdict (``rewardsmith.train.collapse``) reads ``top_skeleton_share`` and
    ``distinct_2`` from here, in the trainer and in the TRL callback alike.
    """
    m = len(texts)
    top = Counter(texts).most_common(1)[0][1] / m if m else 0.0
    top_sk = Counter(map(skeleton, texts)).most_common(1)[0][1] / m if m else 0.0
    if groups is not None:
        if len(groups) != m:
            raise ValueError(f"groups: expected one id per completion ({m}), got {len(groups)}")
        members: dict[Any, list[int]] = {}
        for j, g in enumerate(groups):
            members.setdefault(g, []).append(j)
        index = list(members.values())
    else:
        if group_size is None or group_size < 1:
            raise ValueError(f"group_size: expected a positive integer or groups=ids, got {group_size!r}")
        index = [list(range(i, min(i + group_size, m))) for i in range(0, m, group_size)]
    gd = [len({texts[j] for j in g}) / len(g) for g in index]
    dn = [_distinct_n([token_ids[j] for j in g], n) for g in index]
    rep = [_repetition(s, 3) for s in token_ids]
    return {
        "top_completion_share": float(top),
        "top_skeleton_share": float(top_sk),
        "group_distinct_frac": float(np.mean(gd)) if gd else 0.0,
        f"distinct_{n}": float(np.mean(dn)) if dn else 0.0,
        "repetition": float(np.mean(rep)) if rep else 0.0,
    }
