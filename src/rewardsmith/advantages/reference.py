"""The estimators written plainly: a loop over groups, each formula as it reads on paper.

These are the definition of what the public functions (``estimators.py``) compute; those run the
vectorized paths (``fast_numpy``, ``fast_torch``) and must return the same numbers, checked on
random batches (group sizes 1 to 16, unequal sizes, tied rewards, constant groups, NaN) by
tests/test_advantages.py. A Python loop per group is ~1000x slower: read these, train with the
public functions. Same arguments as the public functions (``groups`` ids or ``group_size``);
always returns float64 numpy; no input checks. The shared conventions, in ``_each_group``:

* a NaN reward (unscored) is left out of its group and gets 0.0;
* a group with fewer than two valid rewards, or all of them equal, gets 0.0 (no baseline to beat).

Example, the seed's figure (one correct answer among 1/9/90 tiers)::

    >>> from rewardsmith.advantages import reference
    >>> r = [1.0] + [-0.5] * 9 + [-2.0] * 90
    >>> round(float(reference.grpo(r, group_size=100)[0]), 2)
    5.5
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

__all__ = ["ESTIMATORS", "raw", "grpo", "dr_grpo", "rloo", "batch_std", "rank"]


def _members(rewards: Any, groups: Any, group_size: int | None) -> tuple[np.ndarray, list[np.ndarray]]:
    """The rewards as float64, and for each group the indices of its valid (non-NaN) rewards."""
    r = np.asarray(rewards, dtype=np.float64)
    if group_size is not None:
        ids = [i // group_size for i in range(len(r))]
    else:
        ids = np.asarray(getattr(groups, "ids", groups)).tolist()  # ids, or a Grouping's ids
    members: dict[Any, list[int]] = {}
    for i, (x, g) in enumerate(zip(r, ids)):
        if not np.isnan(x):
            members.setdefault(g, []).append(i)
    return r, [np.array(idx) for idx in members.values()]


def _each_group(rewards: Any, groups: Any, group_size: int | None,
                advantage: Callable[[np.ndarray], Any]) -> np.ndarray:
    """The loop every estimator shares: for each group, ``x`` = its valid rewards; a group with
    fewer than two, or all equal, keeps 0.0 (no baseline to beat); any other gets
    ``advantage(x)``. NaN rewards keep 0.0."""
    r, members = _members(rewards, groups, group_size)
    adv = np.zeros_like(r)
    for idx in members:
        x = r[idx]
        if len(x) < 2 or np.all(x == x[0]):
            continue
        adv[idx] = advantage(x)
    return adv


def raw(rewards: Any, groups: Any = None, group_size: int | None = None) -> np.ndarray:
    """``A_i = r_i`` (NaN -> 0.0), whatever the group."""
    r = np.asarray(rewards, dtype=np.float64)
    return np.where(np.isnan(r), 0.0, r)


def grpo(rewards: Any, groups: Any = None, group_size: int | None = None, ddof: int = 0,
         eps: float = 1e-6) -> np.ndarray:
    """``A_i = (r_i - mean_g) / (std_g + eps)``."""
    return _each_group(rewards, groups, group_size,
                       lambda x: (x - x.mean()) / (x.std(ddof=ddof) + eps))


def dr_grpo(rewards: Any, groups: Any = None, group_size: int | None = None) -> np.ndarray:
    """``A_i = r_i - mean_g``."""
    return _each_group(rewards, groups, group_size, lambda x: x - x.mean())


def rloo(rewards: Any, groups: Any = None, group_size: int | None = None) -> np.ndarray:
    """``A_i = r_i - mean of the other members of the group`` (leave-one-out baseline)."""

    def leave_one_out(x: np.ndarray) -> list[float]:
        n = len(x)
        return [x[j] - (x.sum() - x[j]) / (n - 1) for j in range(n)]

    return _each_group(rewards, groups, group_size, leave_one_out)


def batch_std(rewards: Any, groups: Any = None, group_size: int | None = None, ddof: int = 0,
              eps: float = 1e-6) -> np.ndarray:
    """``A_i = (r_i - mean_g) / (std_batch + eps)``: the group's mean, the whole batch's std."""
    r = np.asarray(rewards, dtype=np.float64)
    valid = r[~np.isnan(r)]
    std_batch = valid.std(ddof=ddof) if len(valid) > 1 else 0.0
    return _each_group(r, groups, group_size, lambda x: (x - x.mean()) / (std_batch + eps))


def rank(rewards: Any, groups: Any = None, group_size: int | None = None) -> np.ndarray:
    """``A_i = (rank_g(r_i) - (n_g - 1)/2) / ((n_g - 1)/2)``, ``rank_g`` the 0-based rank in the
    group, tied rewards sharing their average rank."""

    def centred_rank(x: np.ndarray) -> list[float]:
        half = (len(x) - 1) / 2
        ranks = [np.sum(x < v) + (np.sum(x == v) - 1) / 2 for v in x]
        return [(rank_i - half) / half for rank_i in ranks]

    return _each_group(rewards, groups, group_size, centred_rank)


ESTIMATORS: dict[str, Callable[..., np.ndarray]] = {
    f.__name__: f for f in (raw, grpo, dr_grpo, rloo, batch_std, rank)
}
