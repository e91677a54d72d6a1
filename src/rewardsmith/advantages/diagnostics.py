"""What an estimator did to one batch: zero-variance and singleton groups, NaNs, distinct
values, range (:func:`diagnostics`, logged by the trainer and the TRL/verl monitors)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rewardsmith.advantages.grouping import _bins, _is_torch, _robust_stats, _validate_rewards


@dataclass(frozen=True)
class AdvantageDiagnostics:
    """What an estimator did to one batch's rewards."""

    n: int  # rewards in the batch
    n_groups: int
    n_nan: int  # unscored rewards (NaN)
    zero_variance_frac: float  # fraction of groups with >= 2 valid rewards, all equal
    n_singleton_groups: int  # groups with fewer than two valid rewards
    distinct_raw: int  # distinct valid raw rewards
    distinct_advantages: int  # distinct advantages (rounded to 1e-6)
    adv_min: float
    adv_max: float
    adv_bound: float  # sqrt(G_max - 1): max |A| possible under grpo with population std

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def diagnostics(
    rewards: Any,
    advantages: Any,
    groups: Any = None,
    group_size: int | None = None,
) -> AdvantageDiagnostics:
    """Summarize a batch: zero-variance and singleton groups, NaNs, distinct values, range.

    ``zero_variance_frac`` = (groups with >= 2 valid rewards, all equal) / n_groups;
    ``n_singleton_groups`` = groups with < 2 valid rewards; ``adv_bound = sqrt(G_max - 1)`` with
    ``G_max`` the largest group, the bound on ``|A|`` of ``grpo`` with ``ddof=0``.
    """
    if _is_torch(rewards):
        rewards = rewards.detach().cpu().double().numpy()
    if _is_torch(advantages):
        advantages = advantages.detach().cpu().double().numpy()
    r = _validate_rewards(rewards)
    a = np.asarray(advantages, dtype=np.float64)
    if a.shape != r.shape:
        raise ValueError(f"advantages: expected shape {r.shape} (one per reward), got {a.shape}")
    b = _bins(r.shape[0], groups, group_size)
    st, valid, _ = _robust_stats(r, b)
    sizes = b.count()
    used = sizes > 0
    n_groups = int(used.sum())
    nvalid = st.count[used]
    const = st.constant[used]
    return AdvantageDiagnostics(
        n=int(r.shape[0]),
        n_groups=n_groups,
        n_nan=int((~valid).sum()),
        zero_variance_frac=float(np.mean(const & (nvalid >= 2))),
        n_singleton_groups=int((nvalid < 2).sum()),
        distinct_raw=int(np.unique(r[valid]).size),
        distinct_advantages=int(np.unique(np.round(a, 6)).size),
        adv_min=float(a.min()),
        adv_max=float(a.max()),
        adv_bound=float(math.sqrt(max(int(sizes.max()) - 1, 0))),
    )
