"""The numpy fast paths: the affine estimators ``A_i = a_g * (r_i - mean_g)`` and ``rank``.

Numbers: ``python benchmarks/advantages.py`` (1M float32 rewards, 2 cores).

* ``group_size``: independent blocks of ~128k samples (temporaries stay small; fresh multi-MB
  temporaries cost more in page faults than the arithmetic). Per block: two-pass float64
  statistics with BLAS row sums (chunked: one big dgemv gets threaded by OpenBLAS and took
  8-15 ms on a busy machine), exact constant groups (the float64 sum of equal float32 values is
  exact, so their deviations are exactly 0.0), one rounding to the output dtype. A block with
  NaNs takes the robust statistics for itself. ~3 ms for 1M (~25x a memory copy; a verl-style
  Python loop: ~20 s).
* ``groups``: small non-negative ids index ``np.bincount`` bins directly (no sort); counts,
  sums, exact centring (a float64 sum of equal 24-bit values is exact, so a constant group's
  deviations are exactly 0.0), squares, scale. ~13 ms for 1M shuffled ids: 3 scatters and 2
  gathers over random memory.
* Anything else (+-inf, NaN with ids, float64 groups with |mean| >> std) goes to the robust
  path (``grouping._robust_stats``): float64, NaN-aware, two-pass, exact constant groups; it
  also words the errors.

Every result here equals the readable loop in ``reference.py`` (tests/test_advantages.py).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from rewardsmith.advantages.grouping import GroupStats, _Bins, _check_finite, _robust_stats, _rowsum


# Groups with mean^2 > _KAPPA_MAX * var, where float64 rounding of the mean is no longer
# negligible against the std (or a constant group's float64 mean rounded), go to the robust path.
_KAPPA_MAX = 1e8
# Block size (samples) of the numpy fast paths: per-block temporaries (~1 MB) are recycled by the
# allocator and stay in cache (measured on 1M float32 rewards, G=8: 16k-sample blocks 4.8 ms,
# 128k 3.5 ms, unblocked ~13 ms, mostly page faults on fresh multi-MB temporaries).
_BLOCK = 131072


def _affine_np(r: np.ndarray, b: _Bins, scale: Callable[[GroupStats], np.ndarray],
               batch: bool = False) -> np.ndarray:
    """``A = a_g * (r - mean_g)`` over a numpy batch: fast path when NaN-free, else robust.
    ``batch``: ``scale`` needs every group's statistics at once (batch_std)."""
    if b.size is not None:
        out = _fast_fixed(r, b, scale, batch=batch)
    else:
        out = _fast_ids(r, b, scale)
    if out is not None:
        return out
    _check_finite(r)
    st, valid, d = _robust_stats(r, b)
    a = np.where(st.constant, 0.0, scale(st))
    adv = np.where(valid, d * b.expand(a), 0.0)
    return adv.astype(r.dtype, copy=False)


def _const_rows(rc: np.ndarray, g: int) -> np.ndarray:
    """Exact per-row constancy of a (k, g) block: no member differs from its left neighbour."""
    k = rc.shape[0]
    if g == 1:
        return np.ones(k, dtype=bool)
    flat = rc.reshape(-1)
    ne = np.empty(flat.shape[0], dtype=bool)
    np.not_equal(flat[1:], flat[:-1], out=ne[1:])
    ne[::g] = False  # row starts compare across rows: ignore
    if g % 8 == 0:  # each row's flags are g/8 whole uint64 words
        words = ne.view(np.uint64).reshape(k, g // 8)
        if g == 8:
            return words[:, 0] == 0
        w = words[:, 0] | words[:, 1]
        for j in range(2, g // 8):
            w |= words[:, j]
        return w == 0
    return _rowsum(ne.reshape(k, g).astype(np.float64)) == 0


def _block_stats(rc: np.ndarray, g: int) -> tuple[np.ndarray, ...] | None:
    """Statistics of each row (group) of a (k, g) block: (count, mean, var0, constant, d).

    NaN-free block (the common case): two-pass float64 (row sums by BLAS, then the centred
    deviations ``d``, shape (k, g), and their squares). Constant groups are exact: the float64
    sum of equal float32 values is exact, so their deviations are exactly 0.0 and ``var0 == 0``
    is the constancy test; float64 input uses a neighbour comparison instead (its sums may round,
    and squares of tiny deviations may underflow), and a group with |mean| >> std sends the
    block to the robust path. A block with a NaN: the robust two-pass statistics of that block
    alone (``d`` flat, 0.0 at NaN). None when the block holds a +-inf (the caller raises).
    """
    k = rc.shape[0]
    ones = np.ones(g)
    x = rc.astype(np.float64)
    mean = x @ ones
    mean *= 1.0 / g
    count = np.full(k, float(g))
    if np.isfinite(mean).all():
        x -= np.repeat(mean, g).reshape(k, g)  # x is now d = r - mean
        var0 = np.square(x) @ ones
        var0 *= 1.0 / g
        if rc.dtype.itemsize <= 4:
            return count, mean, var0, var0 == 0, x
        constant = _const_rows(rc, g)
        if not np.any((mean * mean > _KAPPA_MAX * var0) & ~constant):
            return count, mean, var0, constant, x
    flat = rc.reshape(-1)
    if np.isinf(flat).any():
        return None
    st, _, d = _robust_stats(flat, _Bins(n=flat.shape[0], size=g, ids=None, n_bins=k))
    return st.count, st.mean, st.var0, st.constant, d


def _block_apply(oc: np.ndarray, blk: tuple[np.ndarray, ...], a: np.ndarray) -> None:
    """``oc = a * d`` per row (d = r - mean, 0.0 at NaN), rounded once to oc's dtype."""
    g = oc.shape[1]
    np.putmask(a, blk[3], 0.0)  # constant and singleton groups: exactly 0.0
    of = oc.reshape(-1)
    if of.dtype == np.float64:
        np.multiply(blk[4].reshape(-1), np.repeat(a, g), out=of)
    else:  # round d once, then scale in the output dtype (a casting ufunc loop is ~2x slower)
        np.copyto(of, blk[4].reshape(-1), casting="same_kind")
        of *= np.repeat(a.astype(of.dtype), g)


def _fast_fixed(r: np.ndarray, b: _Bins, scale: Callable[[GroupStats], np.ndarray],
                batch: bool = False) -> np.ndarray | None:
    """Contiguous groups of size G, processed in independent blocks; None on +-inf.

    Per block of about _BLOCK samples: one float64 copy, a BLAS row sum, the centring, the
    squares and a second row sum (two-pass variance), the per-group scale, then one repeat and
    one multiply into the output; a block holding NaNs takes the robust statistics for itself
    only. Blocks keep every temporary small and recycled: fresh multi-MB temporaries cost more
    in page faults than the arithmetic (1M float32 rewards: ~13 ms unblocked, ~3 ms blocked).
    ``batch``: the scale needs every group's statistics (batch_std), so all blocks come first.
    """
    g, k = b.size, b.n_bins
    rows = max(1, _BLOCK // g)
    r2 = r.reshape(k, g)
    out = np.empty_like(r)
    out2 = out.reshape(k, g)
    spans = [(i, min(i + rows, k)) for i in range(0, k, rows)]

    def stats(blk: tuple[np.ndarray, ...]) -> GroupStats:
        return GroupStats(count=blk[0], mean=blk[1], var0=blk[2], constant=blk[3])

    if not batch:
        for i, j in spans:
            blk = _block_stats(r2[i:j], g)
            if blk is None:
                return None
            _block_apply(out2[i:j], blk, scale(stats(blk)))
        return out
    blks = []
    for i, j in spans:
        blk = _block_stats(r2[i:j], g)
        if blk is None:
            return None
        blks.append(blk)
    a = scale(stats(tuple(np.concatenate([bk[f] for bk in blks]) for f in range(4))))
    for (i, j), blk in zip(spans, blks):
        _block_apply(out2[i:j], blk, a[i:j])
    return out


def _fast_ids(r: np.ndarray, b: _Bins, scale: Callable[[GroupStats], np.ndarray]) -> np.ndarray | None:
    """Group ids, NaN-free: counts and sums (bincount), exact centring, squares, scale.

    Constant groups are exact: with 24-bit significands (any float32) a float64 group sum of
    equal values is exact, so its mean is the value itself and every deviation is exactly 0.0.
    A constant group whose float64 mean did round (53-bit values) shows |mean| / std ~ 1e16 and
    sends the batch to the robust path, as does any group with |mean| >> std. The deviations
    ``d = r - mean`` (float64) are stored once in the output array (rounded to its dtype) and
    scaled in place; per-sample temporaries live in blocks (see ``_fast_fixed``).
    """
    ids, k, n = b.ids, b.n_bins, b.n
    cnt = np.bincount(ids, minlength=k).astype(np.float64)
    s1 = np.bincount(ids, weights=r, minlength=k)
    if not np.isfinite(s1).all():
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(cnt > 0, s1 / cnt, 0.0)
    out = np.empty_like(r)
    s2 = np.zeros(k)
    for i in range(0, n, _BLOCK):
        ib = ids[i : i + _BLOCK]
        d = np.subtract(r[i : i + _BLOCK], np.take(mean, ib), dtype=np.float64)
        out[i : i + _BLOCK] = d
        np.multiply(d, d, out=d)
        np.add.at(s2, ib, d)
    with np.errstate(invalid="ignore", divide="ignore"):
        var0 = np.where(cnt > 0, s2 / cnt, 0.0)
    constant = (cnt < 2) | (s2 == 0)
    if np.any(~constant & (mean * mean > _KAPPA_MAX * var0)):
        return None  # |mean| >> std: let the two-pass robust path remove the mean's residue
    st = GroupStats(count=cnt, mean=mean, var0=var0, constant=constant)
    a = scale(st)
    np.putmask(a, constant, 0.0)
    a = a.astype(r.dtype)
    for i in range(0, n, _BLOCK):
        out[i : i + _BLOCK] *= np.take(a, ids[i : i + _BLOCK])
    return out


def _rank_np(r: np.ndarray, b: _Bins) -> np.ndarray:
    _check_finite(r)
    ids, k = b.canonical_ids()
    st, valid, _ = _robust_stats(r, b)
    x = r.astype(np.float64)
    # Sort by (group, reward) with NaN last inside its group; ties get the mean of their ranks.
    key_r = np.where(valid, x, np.inf)
    order = np.lexsort((key_r, ids))
    g_sorted = ids[order]
    r_sorted = key_r[order]
    n = r.shape[0]
    pos = np.arange(n, dtype=np.float64)
    group_start = np.r_[0, np.flatnonzero(np.diff(g_sorted)) + 1]
    start_of = np.zeros(k, dtype=np.int64)
    start_of[g_sorted[group_start]] = group_start
    within = pos - start_of[g_sorted]
    new_block = np.r_[True, (np.diff(g_sorted) != 0) | (r_sorted[1:] != r_sorted[:-1])]
    block_id = np.cumsum(new_block) - 1
    avg_rank_sorted = (np.bincount(block_id, weights=within) / np.bincount(block_id))[block_id]
    ranks = np.empty(n)
    ranks[order] = avg_rank_sorted
    cnt = b.expand(st.count)
    half = np.maximum(cnt - 1, 1) / 2.0
    adv = np.where(valid & ~b.expand(st.constant), (ranks - (cnt - 1) / 2.0) / half, 0.0)
    return adv.astype(r.dtype, copy=False)
