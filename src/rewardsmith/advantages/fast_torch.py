"""The torch path: the same math as ``fast_numpy`` with torch ops on the tensor's own device
(float64 inside, except on MPS), never through numpy or a host copy.

One host sync per call: the +-inf check, merged with the id range check for tensor ids
(``torch.unique`` only when ids are negative or sparse). torch is imported inside the functions:
the package imports without it.
"""

from __future__ import annotations

from typing import Any, Callable

from rewardsmith.advantages.grouping import GroupStats, Grouping, _bins, _is_torch


def _torch_raise_inf(x: Any) -> None:
    import torch

    i = int(torch.isinf(x).nonzero()[0, 0])
    raise ValueError(f"rewards[{i}]: expected a finite reward or NaN (unscored), got {float(x[i])!r}")


def _torch_bins(x: Any, groups: Any, group_size: Any) -> tuple[int | None, Any, int]:
    """Validate rewards' finiteness and the grouping with ONE host sync (an error must be raised
    on the host; ids need their range). Returns (G, None, K) for group_size, or
    (None, ids on x's device, K bins) for group ids."""
    import torch

    n = x.shape[0]
    inf_any = torch.isinf(x).any()
    if groups is None or group_size is not None or not _is_torch(groups) or isinstance(
        groups, Grouping) or groups.dtype.is_floating_point or groups.dtype == torch.bool:
        b = _bins(n, groups, group_size)  # host-side ids (or group_size): validated on the host
        if bool(inf_any):
            _torch_raise_inf(x)
        if b.size is not None:
            return b.size, None, b.n_bins
        return None, torch.as_tensor(b.ids, device=x.device), b.n_bins
    if groups.ndim != 1:
        raise ValueError(f"groups: expected a 1-D array of group ids, got shape {tuple(groups.shape)}")
    if groups.shape[0] != n:
        raise ValueError(f"groups: expected {n} group ids (one per reward), got {groups.shape[0]}")
    ids = groups.to(x.device)
    lo, hi = ids.aminmax()
    bad, lo, hi = torch.stack([inf_any.to(lo.dtype), lo, hi]).tolist()  # the one sync
    if bad:
        _torch_raise_inf(x)
    if lo >= 0 and hi < 2 * n + 1024:  # small non-negative ids index bins directly: no sort
        return None, ids.long(), int(hi) + 1
    uniq, inverse = torch.unique(ids, return_inverse=True)
    return None, inverse, uniq.numel()


def _torch_stats(x: Any, size: int | None, ids: Any, k: int) -> tuple[GroupStats, Any, Any, Any]:
    """NaN-aware exact statistics with torch ops. Returns (stats, valid, d = x - mean, expand);
    ``d`` is 0.0 at NaN rewards. Bins may be empty (count 0, constant)."""
    import torch

    valid = ~torch.isnan(x)
    fv = valid.to(x.dtype)
    xv = x.nan_to_num(nan=0.0)
    big = torch.finfo(x.dtype).max
    if size is not None:

        def gsum(w: Any) -> Any:
            return w.reshape(k, size).sum(1)

        def expand(v: Any) -> Any:
            return v.repeat_interleave(size)

        gmax = x.nan_to_num(nan=-big).reshape(k, size).amax(1)
        gmin = x.nan_to_num(nan=big).reshape(k, size).amin(1)
    else:

        def gsum(w: Any) -> Any:
            return torch.zeros(k, dtype=w.dtype, device=w.device).index_add_(0, ids, w)

        def expand(v: Any) -> Any:
            return v.index_select(0, ids)

        gmax = torch.full((k,), -big, dtype=x.dtype, device=x.device).scatter_reduce_(
            0, ids, x.nan_to_num(nan=-big), reduce="amax")
        gmin = torch.full((k,), big, dtype=x.dtype, device=x.device).scatter_reduce_(
            0, ids, x.nan_to_num(nan=big), reduce="amin")
    cnt = gsum(fv)
    safe = cnt.clamp(min=1)
    mean = gsum(xv) / safe
    d = (x - expand(mean)).nan_to_num_(nan=0.0)
    dm = gsum(d) / safe  # rounding residue of the mean (two-pass correction)
    var0 = (gsum(d * d) / safe - dm * dm).clamp_(min=0)
    mean = mean + dm
    d = (x - expand(mean)).nan_to_num_(nan=0.0)
    constant = (cnt < 2) | (gmax <= gmin)
    return GroupStats(count=cnt, mean=mean, var0=var0, constant=constant), valid, d, expand


def _torch_prepare(rewards: Any) -> Any:
    """Validate a torch reward tensor's shape and dtype; return it in the compute dtype
    (float64; float32 on MPS, which has no float64)."""
    import torch

    if rewards.ndim != 1:
        raise ValueError(f"rewards: expected a 1-D array, got shape {tuple(rewards.shape)}")
    if rewards.shape[0] == 0:
        raise ValueError("rewards: expected at least one reward, got an empty batch")
    if rewards.dtype == torch.bool or rewards.is_complex():
        raise ValueError(f"rewards: expected real numbers, got dtype {rewards.dtype}")
    ct = torch.float32 if rewards.device.type == "mps" else torch.float64
    return rewards.detach().to(ct)


def _affine_torch(rewards: Any, groups: Any, group_size: Any, scale: Callable) -> Any:
    x = _torch_prepare(rewards)
    size, ids, k = _torch_bins(x, groups, group_size)
    st, _, d, expand = _torch_stats(x, size, ids, k)
    a = scale(st).masked_fill(st.constant, 0.0)
    adv = d * expand(a)  # d is 0.0 at NaN rewards
    return adv.to(rewards.dtype if rewards.is_floating_point() else adv.dtype)


def _rank_torch(rewards: Any, groups: Any, group_size: Any) -> Any:
    import torch

    x = _torch_prepare(rewards)
    size, ids, k = _torch_bins(x, groups, group_size)
    n = x.shape[0]
    if ids is None:
        ids = torch.arange(k, device=x.device).repeat_interleave(size)
    st, valid, _, expand = _torch_stats(x, size, ids if size is None else None, k)
    key = x.nan_to_num(nan=torch.inf)
    o1 = torch.sort(key, stable=True).indices
    o2 = torch.sort(ids[o1], stable=True).indices
    order = o1[o2]
    g_sorted, r_sorted = ids[order], key[order]
    pos = torch.arange(n, dtype=x.dtype, device=x.device)
    first = torch.ones(n, dtype=torch.bool, device=x.device)
    first[1:] = g_sorted[1:] != g_sorted[:-1]
    start = torch.zeros(k, dtype=x.dtype, device=x.device).scatter_reduce(
        0, g_sorted, pos, reduce="amin", include_self=False
    )
    within = pos - start[g_sorted]
    new_block = first.clone()
    new_block[1:] |= r_sorted[1:] != r_sorted[:-1]
    block = torch.cumsum(new_block.to(torch.int64), 0) - 1
    nb = n  # upper bound on blocks; unused bins stay 0
    bsum = torch.zeros(nb, dtype=x.dtype, device=x.device).index_add_(0, block, within)
    bcnt = torch.zeros(nb, dtype=x.dtype, device=x.device).index_add_(0, block, torch.ones_like(within))
    ranks = torch.empty(n, dtype=x.dtype, device=x.device)
    ranks[order] = bsum[block] / bcnt[block].clamp(min=1)
    cnt = st.count[ids]
    half = (cnt - 1).clamp(min=1) / 2.0
    keep = valid & ~st.constant[ids]
    adv = ((ranks - (cnt - 1) / 2.0) / half).where(keep, 0.0)
    return adv.to(rewards.dtype if rewards.is_floating_point() else adv.dtype)
