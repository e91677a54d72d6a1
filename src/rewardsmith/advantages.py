"""Advantage estimators for outcome-reward RL: pure array math over a 1-D batch of scalar rewards.

Every estimator maps rewards ``r`` (one scalar per completion) and a grouping (which completions
were sampled for the same prompt) to advantages ``A`` of the same shape, dtype and, for torch,
device. Groups are given either as

* ``group_size=G``: contiguous groups of equal size (``r[0:G]`` is group 0, ...): the fast path; or
* ``groups``: an integer array of group ids, any order, groups of different sizes allowed.

Conventions shared by every estimator except ``raw``:

* NaN rewards (a reward function that could not score) are left out of their group's statistics
  and get advantage 0.0.
* A group with fewer than two valid members (a "singleton") gets 0.0.
* A group whose valid rewards are all equal gets exactly 0.0 (not float noise scaled by 1/eps).

``raw`` returns the reward itself (NaN -> 0.0), whatever its group.

Defaults: ``grpo`` uses the population std (``ddof=0``) and ``eps=1e-6``, which reproduces the
seed's figure (+5.50 for the lone correct answer of a 1/9/90 group). TRL's ``GRPOTrainer`` uses
``torch.std`` (Bessel, ``ddof=1``) and ``eps=1e-4``: pass ``ddof=1, eps=1e-4`` to match it (+5.48).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np

__all__ = [
    "ESTIMATORS",
    "AdvantageDiagnostics",
    "compute",
    "diagnostics",
    "raw",
    "grpo",
    "dr_grpo",
    "rloo",
    "batch_std",
    "rank",
]


# --------------------------------------------------------------------------------------------
# Input validation (the boundary) and grouping
# --------------------------------------------------------------------------------------------


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def _validate_rewards(rewards: Any) -> np.ndarray:
    """Return a float numpy view of ``rewards`` after checking shape and finiteness."""
    arr = np.asarray(rewards)
    if arr.ndim != 1:
        raise ValueError(f"rewards: expected a 1-D array, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("rewards: expected at least one reward, got an empty batch")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"rewards: expected real numbers, got dtype {arr.dtype}")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    inf = np.isinf(arr)
    if inf.any():
        i = int(np.flatnonzero(inf)[0])
        raise ValueError(
            f"rewards[{i}]: expected a finite reward or NaN (unscored), got {arr[i]!r}"
        )
    return arr


@dataclass(frozen=True)
class Grouping:
    """A batch's grouping in canonical form: ``ids[i]`` in ``0..n_groups-1`` for sample ``i``.

    ``group_size`` is set when groups are contiguous and equal-sized (the reshape fast path).
    """

    ids: np.ndarray
    n_groups: int
    group_size: int | None = None


def make_grouping(n: int, groups: Any = None, group_size: int | None = None) -> Grouping:
    """Validate and canonicalize a grouping for a batch of ``n`` rewards."""
    if groups is not None and group_size is not None:
        raise ValueError("give either groups or group_size, not both")
    if group_size is not None:
        if isinstance(group_size, bool) or not isinstance(group_size, (int, np.integer)):
            raise ValueError(f"group_size: expected a positive integer, got {group_size!r}")
        g = int(group_size)
        if g < 1:
            raise ValueError(f"group_size: expected a positive integer, got {g}")
        if n % g:
            raise ValueError(
                f"group_size: {g} does not divide the batch of {n} rewards "
                f"(expected a divisor of {n})"
            )
        ids = np.repeat(np.arange(n // g, dtype=np.int64), g)
        return Grouping(ids=ids, n_groups=n // g, group_size=g)
    if groups is None:
        raise ValueError("expected groups (an integer id per reward) or group_size=G")
    if _is_torch(groups):
        groups = groups.detach().cpu().numpy()
    gid = np.asarray(groups)
    if gid.ndim != 1:
        raise ValueError(f"groups: expected a 1-D array of group ids, got shape {gid.shape}")
    if gid.shape[0] != n:
        raise ValueError(f"groups: expected {n} group ids (one per reward), got {gid.shape[0]}")
    if gid.dtype.kind not in "iu":
        if gid.dtype.kind == "f" and np.all(np.isfinite(gid)) and np.all(gid == np.round(gid)):
            gid = gid.astype(np.int64)
        elif gid.dtype.kind in "OUS":
            _, gid = np.unique(gid.astype(str), return_inverse=True)
        else:
            raise ValueError(f"groups: expected integer group ids, got dtype {gid.dtype}")
    uniq, inverse = np.unique(gid, return_inverse=True)
    return Grouping(ids=inverse.astype(np.int64, copy=False), n_groups=int(uniq.size))


# --------------------------------------------------------------------------------------------
# Group statistics (numpy): NaN-aware, computed in float64
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupStats:
    """Per-sample views of the statistics of each sample's group (valid members only)."""

    valid: np.ndarray  # bool, reward is not NaN
    count: np.ndarray  # valid members in the group
    mean: np.ndarray
    var0: np.ndarray  # population variance (ddof=0)
    constant: np.ndarray  # bool, all valid members equal (includes count <= 1)


def _group_stats(r: np.ndarray, grouping: Grouping) -> GroupStats:
    x = r.astype(np.float64)
    valid = ~np.isnan(x)
    xv = np.where(valid, x, 0.0)
    ids, k = grouping.ids, grouping.n_groups
    cnt = np.bincount(ids, weights=valid.astype(np.float64), minlength=k)
    s = np.bincount(ids, weights=xv, minlength=k)
    mean_g = np.divide(s, cnt, out=np.zeros(k), where=cnt > 0)
    dev = np.where(valid, xv - mean_g[ids], 0.0)
    ss = np.bincount(ids, weights=dev * dev, minlength=k)
    var_g = np.divide(ss, cnt, out=np.zeros(k), where=cnt > 0)
    big = np.finfo(np.float64).max
    gmax = np.full(k, -big)
    gmin = np.full(k, big)
    np.maximum.at(gmax, ids[valid], x[valid])
    np.minimum.at(gmin, ids[valid], x[valid])
    const_g = (cnt <= 1) | (gmax <= gmin)
    return GroupStats(
        valid=valid,
        count=cnt[ids],
        mean=mean_g[ids],
        var0=var_g[ids],
        constant=const_g[ids],
    )


def _finish(adv64: np.ndarray, stats: GroupStats, like: np.ndarray) -> np.ndarray:
    out = np.where(stats.valid & ~stats.constant, adv64, 0.0)
    return out.astype(like.dtype, copy=False)


def _std(stats: GroupStats, ddof: int) -> np.ndarray:
    if ddof not in (0, 1):
        raise ValueError(f"ddof: expected 0 (population) or 1 (Bessel), got {ddof!r}")
    if ddof == 0:
        return np.sqrt(stats.var0)
    denom = np.maximum(stats.count - 1, 1)
    return np.sqrt(stats.var0 * stats.count / denom)


def _check_eps(eps: float) -> float:
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps: expected a finite number >= 0, got {eps!r}")
    return float(eps)


# --------------------------------------------------------------------------------------------
# Estimators
# --------------------------------------------------------------------------------------------


def _dispatch_torch(fn_np: Callable, rewards: Any, groups: Any, group_size: Any, **kw: Any) -> Any:
    """Run a numpy estimator on a torch tensor and return a tensor on the same device/dtype."""
    import torch

    r_np = rewards.detach().to("cpu", torch.float64).numpy()
    out = fn_np(r_np, groups=groups, group_size=group_size, **kw)
    return torch.as_tensor(out, dtype=rewards.dtype, device=rewards.device)


def _estimator(fn: Callable) -> Callable:
    def wrapper(rewards: Any, groups: Any = None, group_size: int | None = None, **kw: Any) -> Any:
        if _is_torch(rewards):
            return _dispatch_torch(fn, rewards, groups, group_size, **kw)
        return fn(rewards, groups=groups, group_size=group_size, **kw)

    wrapper.__name__ = fn.__name__
    wrapper.__qualname__ = fn.__qualname__
    wrapper.__doc__ = fn.__doc__
    return wrapper


@_estimator
def raw(rewards: Any, groups: Any = None, group_size: int | None = None) -> np.ndarray:
    """``A_i = r_i`` (NaN -> 0.0): the rule reward itself, unnormalized, whatever its group."""
    r = _validate_rewards(rewards)
    if groups is not None or group_size is not None:
        make_grouping(r.shape[0], groups, group_size)  # validate, ignore
    return np.where(np.isnan(r), 0.0, r).astype(r.dtype, copy=False)


@_estimator
def grpo(
    rewards: Any,
    groups: Any = None,
    group_size: int | None = None,
    ddof: int = 0,
    eps: float = 1e-6,
) -> np.ndarray:
    """``A_i = (r_i - mean_g(r)) / (std_g(r) + eps)`` (DeepSeekMath / DeepSeek-R1 GRPO).

    ``ddof=0``: population std (the seed's figure); ``ddof=1``: Bessel-corrected (TRL, verl).
    """
    r = _validate_rewards(rewards)
    eps = _check_eps(eps)
    st = _group_stats(r, make_grouping(r.shape[0], groups, group_size))
    x = np.where(st.valid, r.astype(np.float64), 0.0)
    return _finish((x - st.mean) / (_std(st, ddof) + eps), st, r)


@_estimator
def dr_grpo(rewards: Any, groups: Any = None, group_size: int | None = None) -> np.ndarray:
    """``A_i = r_i - mean_g(r)`` (Dr. GRPO: group mean baseline, no std division)."""
    r = _validate_rewards(rewards)
    st = _group_stats(r, make_grouping(r.shape[0], groups, group_size))
    x = np.where(st.valid, r.astype(np.float64), 0.0)
    return _finish(x - st.mean, st, r)


@_estimator
def rloo(rewards: Any, groups: Any = None, group_size: int | None = None) -> np.ndarray:
    """``A_i = r_i - mean_{j != i, j in g}(r_j) = n/(n-1) * (r_i - mean_g(r))`` (leave-one-out)."""
    r = _validate_rewards(rewards)
    st = _group_stats(r, make_grouping(r.shape[0], groups, group_size))
    x = np.where(st.valid, r.astype(np.float64), 0.0)
    scale = st.count / np.maximum(st.count - 1, 1)
    return _finish(scale * (x - st.mean), st, r)


@_estimator
def batch_std(
    rewards: Any,
    groups: Any = None,
    group_size: int | None = None,
    ddof: int = 0,
    eps: float = 1e-6,
) -> np.ndarray:
    """``A_i = (r_i - mean_g(r)) / (std_batch(r) + eps)`` (REINFORCE++-baseline, "Lite PPO").

    The mean is the group's; the std is over every valid reward of the batch.
    """
    r = _validate_rewards(rewards)
    eps = _check_eps(eps)
    if ddof not in (0, 1):
        raise ValueError(f"ddof: expected 0 (population) or 1 (Bessel), got {ddof!r}")
    st = _group_stats(r, make_grouping(r.shape[0], groups, group_size))
    x = np.where(st.valid, r.astype(np.float64), 0.0)
    nv = int(st.valid.sum())
    sd = float(np.std(r[st.valid].astype(np.float64), ddof=ddof)) if nv > ddof else 0.0
    return _finish((x - st.mean) / (sd + eps), st, r)


@_estimator
def rank(rewards: Any, groups: Any = None, group_size: int | None = None) -> np.ndarray:
    """``A_i = (rank_g(r_i) - (n_g - 1)/2) / ((n_g - 1)/2)`` in ``[-1, 1]``.

    ``rank_g`` is the 0-based rank within the group's valid rewards, ties sharing their average
    rank; only the order of the rewards matters, not the spacing of the tiers.
    """
    r = _validate_rewards(rewards)
    grouping = make_grouping(r.shape[0], groups, group_size)
    st = _group_stats(r, grouping)
    x = r.astype(np.float64)
    # Sort by (group, reward) with NaN last inside its group; ties get the mean of their ranks.
    key_r = np.where(st.valid, x, np.inf)
    order = np.lexsort((key_r, grouping.ids))
    g_sorted = grouping.ids[order]
    r_sorted = key_r[order]
    n = r.shape[0]
    pos = np.arange(n, dtype=np.float64)
    group_start = np.r_[0, np.flatnonzero(np.diff(g_sorted)) + 1]
    start_of = np.zeros(grouping.n_groups, dtype=np.int64)
    start_of[g_sorted[group_start]] = group_start
    within = pos - start_of[g_sorted]
    # tie blocks: same group and same reward
    new_block = np.r_[True, (np.diff(g_sorted) != 0) | (np.diff(r_sorted) != 0)]
    block_id = np.cumsum(new_block) - 1
    block_sum = np.bincount(block_id, weights=within)
    block_cnt = np.bincount(block_id)
    avg_rank_sorted = (block_sum / block_cnt)[block_id]
    ranks = np.empty(n)
    ranks[order] = avg_rank_sorted
    half = np.maximum(st.count - 1, 1) / 2.0
    return _finish((ranks - (st.count - 1) / 2.0) / half, st, r)


ESTIMATORS: dict[str, Callable[..., Any]] = {
    "raw": raw,
    "grpo": grpo,
    "dr_grpo": dr_grpo,
    "rloo": rloo,
    "batch_std": batch_std,
    "rank": rank,
}


def compute(
    name: str,
    rewards: Any,
    groups: Any = None,
    group_size: int | None = None,
    **options: Any,
) -> Any:
    """Compute advantages with the estimator registered as ``name`` (see ``ESTIMATORS``)."""
    try:
        fn = ESTIMATORS[name]
    except KeyError:
        raise ValueError(
            f"estimator: unknown name {name!r}; expected one of {sorted(ESTIMATORS)}"
        ) from None
    return fn(rewards, groups=groups, group_size=group_size, **options)


# --------------------------------------------------------------------------------------------
# Diagnostics
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdvantageDiagnostics:
    """What an estimator did to one batch's rewards."""

    n: int  # rewards in the batch
    n_groups: int
    n_nan: int  # unscored rewards (NaN)
    zero_variance_frac: float  # fraction of groups whose valid rewards are all equal
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
    """Summarize a batch: zero-variance and singleton groups, NaNs, distinct values, range."""
    if _is_torch(rewards):
        rewards = rewards.detach().cpu().double().numpy()
    if _is_torch(advantages):
        advantages = advantages.detach().cpu().double().numpy()
    r = _validate_rewards(rewards)
    a = np.asarray(advantages, dtype=np.float64)
    if a.shape != r.shape:
        raise ValueError(f"advantages: expected shape {r.shape} (one per reward), got {a.shape}")
    grouping = make_grouping(r.shape[0], groups, group_size)
    st = _group_stats(r, grouping)
    valid_per_group = np.bincount(grouping.ids, weights=st.valid.astype(float), minlength=grouping.n_groups)
    const_g = np.zeros(grouping.n_groups, dtype=bool)
    const_g[grouping.ids] = st.constant
    sizes = np.bincount(grouping.ids, minlength=grouping.n_groups)
    return AdvantageDiagnostics(
        n=int(r.shape[0]),
        n_groups=grouping.n_groups,
        n_nan=int((~st.valid).sum()),
        zero_variance_frac=float(np.mean(const_g & (valid_per_group >= 2))),
        n_singleton_groups=int((valid_per_group < 2).sum()),
        distinct_raw=int(np.unique(r[st.valid]).size),
        distinct_advantages=int(np.unique(np.round(a, 6)).size),
        adv_min=float(a.min()),
        adv_max=float(a.max()),
        adv_bound=float(math.sqrt(max(int(sizes.max()) - 1, 0))),
    )
