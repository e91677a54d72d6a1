"""Advantage estimators for outcome-reward RL: pure array math over a 1-D batch of scalar rewards.

Every estimator maps rewards ``r`` (one scalar per completion) and a grouping (which completions
were sampled for the same prompt) to advantages ``A`` of the same shape, dtype and, for torch,
device. Groups are given either as

* ``group_size=G``: contiguous groups of equal size (``r[0:G]`` is group 0, ...): the fast path; or
* ``groups``: an integer array of group ids, any order, groups of different sizes allowed (or a
  :class:`Grouping` from :func:`make_grouping`, to reuse one grouping across calls).

Conventions shared by every estimator except ``raw``:

* NaN rewards (a reward function that could not score) are left out of their group's statistics
  and get advantage 0.0.
* A group with fewer than two valid members (a "singleton") gets 0.0.
* A group whose valid rewards are all equal gets exactly 0.0 (not float noise scaled by 1/eps).

``raw`` returns the reward itself (NaN -> 0.0), whatever its group.

Defaults: ``grpo`` uses the population std (``ddof=0``) and ``eps=1e-6``, which reproduces the
seed's figure (+5.50 for the lone correct answer of a 1/9/90 group). TRL's ``GRPOTrainer`` uses
``torch.std`` (Bessel, ``ddof=1``) and ``eps=1e-4``: pass ``ddof=1, eps=1e-4`` to match it (+5.48).

Implementation notes (numbers: ``python benchmarks/advantages.py``, 1M float32 rewards, 2 cores):

* Every estimator but ``rank`` is affine per group: ``A_i = a_g * (r_i - mean_g)``, with ``a_g = 0``
  for constant and singleton groups; only the per-group scale ``a_g`` differs between them.
* numpy, ``group_size``: independent blocks of ~128k samples (temporaries stay small; fresh
  multi-MB temporaries cost more in page faults than the arithmetic). Per block: two-pass float64
  statistics with BLAS row sums (chunked: one big dgemv gets threaded by OpenBLAS and took
  8-15 ms on a busy machine), exact constant groups (the float64 sum of equal float32 values is
  exact, so their deviations are exactly 0.0), one rounding to the output dtype. A block with
  NaNs takes the robust statistics for itself. ~3 ms for 1M (~25x a memory copy; a verl-style
  Python loop: ~20 s).
* numpy, ``groups``: small non-negative ids index ``np.bincount`` bins directly (no sort);
  counts, sums, exact centring (a float64 sum of equal 24-bit values is exact, so a constant
  group's deviations are exactly 0.0), squares, scale. ~13 ms for 1M shuffled ids: 3 scatters and
  2 gathers over random memory.
* Anything else (+-inf, NaN with ids, float64 groups with |mean| >> std) goes to the robust
  path: float64, NaN-aware, two-pass, exact constant groups; it also words the errors.
* torch: the same math with torch ops on the tensor's own device (float64 inside, except on MPS).
  One host sync per call: the +-inf check, merged with the id range check for tensor ids
  (``torch.unique`` only when ids are negative or sparse).
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np

__all__ = [
    "ESTIMATORS",
    "AdvantageDiagnostics",
    "Grouping",
    "check_estimator",
    "check_options",
    "compute",
    "diagnostics",
    "estimator_options",
    "make_grouping",
    "raw",
    "grpo",
    "dr_grpo",
    "rloo",
    "batch_std",
    "rank",
]

# Groups with mean^2 > _KAPPA_MAX * var, where float64 rounding of the mean is no longer
# negligible against the std (or a constant group's float64 mean rounded), go to the robust path.
_KAPPA_MAX = 1e8


# --------------------------------------------------------------------------------------------
# Input validation (the boundary) and grouping
# --------------------------------------------------------------------------------------------


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def _as_rewards(rewards: Any) -> np.ndarray:
    """Return ``rewards`` as a 1-D float numpy array (no copy when already float), without the
    finiteness scan: the fast paths check finiteness on their group sums, the robust path in
    :func:`_check_finite`."""
    arr = np.asarray(rewards)
    if arr.ndim != 1:
        raise ValueError(f"rewards: expected a 1-D array, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("rewards: expected at least one reward, got an empty batch")
    if arr.dtype.kind not in "iufb" or arr.dtype.kind == "b":
        raise ValueError(f"rewards: expected real numbers, got dtype {arr.dtype}")
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    return arr


def _check_finite(r: np.ndarray) -> None:
    """Raise ValueError naming the first +-inf reward (NaN is allowed: it means unscored)."""
    inf = np.isinf(r)
    if inf.any():
        i = int(np.flatnonzero(inf)[0])
        raise ValueError(f"rewards[{i}]: expected a finite reward or NaN (unscored), got {r[i]!r}")


def _validate_rewards(rewards: Any) -> np.ndarray:
    """Return a float numpy view of ``rewards`` after checking shape and finiteness."""
    r = _as_rewards(rewards)
    if not np.isfinite(r).all():  # one cheap pass; detail only on failure
        _check_finite(r)
    return r


@dataclass(frozen=True)
class Grouping:
    """A batch's grouping in canonical form: ``ids[i]`` in ``0..n_groups-1`` for sample ``i``.

    ``group_size`` is set when groups are contiguous and equal-sized (the reshape fast path).
    A Grouping can be passed as ``groups=`` to reuse it across estimator calls.
    """

    ids: np.ndarray
    n_groups: int
    group_size: int | None = None


# Row sums go through BLAS (one pass, ~0.3 ns/element) in chunks of this many elements: one big
# dgemv gets multi-threaded by OpenBLAS and, on a busy 2-core machine, took 8-15 ms for 1M
# elements instead of 0.3 ms (measured: numpy's own axis=1 sum takes ~3 ms, einsum ~0.7 ms).
_ROWSUM_CHUNK = 32768
# Block size (samples) of the numpy fast paths: per-block temporaries (~1 MB) are recycled by the
# allocator and stay in cache (measured on 1M float32 rewards, G=8: 16k-sample blocks 4.8 ms,
# 128k 3.5 ms, unblocked ~13 ms, mostly page faults on fresh multi-MB temporaries).
_BLOCK = 131072


def _rowsum(a2: np.ndarray) -> np.ndarray:
    """Sum of each row of a C-contiguous float64 (k, g) array."""
    k, g = a2.shape
    ones = np.ones(g)
    out = np.empty(k)
    rows = max(1, _ROWSUM_CHUNK // g)
    for i in range(0, k, rows):
        np.matmul(a2[i : i + rows], ones, out=out[i : i + rows])
    return out


@dataclass(frozen=True)
class _Bins:
    """Internal grouping: contiguous ``size`` or ``ids`` into ``n_bins`` bins (some may be empty)."""

    n: int
    size: int | None
    ids: np.ndarray | None
    n_bins: int

    def sum(self, w: np.ndarray) -> np.ndarray:
        """Per-bin sum of ``w`` in float64."""
        if self.size is not None:
            w64 = np.ascontiguousarray(w, dtype=np.float64)
            return _rowsum(w64.reshape(self.n_bins, self.size))
        return np.bincount(self.ids, weights=w, minlength=self.n_bins)

    def count(self, valid: np.ndarray | None = None) -> np.ndarray:
        if valid is None:
            if self.size is not None:
                return np.full(self.n_bins, float(self.size))
            return np.bincount(self.ids, minlength=self.n_bins).astype(np.float64)
        return self.sum(valid.astype(np.float64))

    def expand(self, v: np.ndarray) -> np.ndarray:
        """Per-sample value of a per-bin array."""
        if self.size is not None:
            return np.repeat(v, self.size)
        return np.take(v, self.ids)

    def canonical_ids(self) -> tuple[np.ndarray, int]:
        """Ids renumbered ``0..n_groups-1`` over the non-empty bins, and ``n_groups``."""
        if self.size is not None:
            return np.repeat(np.arange(self.n_bins, dtype=np.int64), self.size), self.n_bins
        used = np.bincount(self.ids, minlength=self.n_bins) > 0
        if used.all():
            return self.ids.astype(np.int64, copy=False), self.n_bins
        new = np.cumsum(used) - 1
        return new[self.ids].astype(np.int64), int(used.sum())


def _bins(n: int, groups: Any = None, group_size: Any = None) -> _Bins:
    """Validate a grouping for a batch of ``n`` rewards (cheaply: no sort for small int ids)."""
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
        return _Bins(n=n, size=g, ids=None, n_bins=n // g)
    if groups is None:
        raise ValueError("expected groups (an integer id per reward) or group_size=G")
    if isinstance(groups, Grouping):
        if groups.ids.shape != (n,):
            raise ValueError(
                f"groups: expected a Grouping of {n} rewards, got one of {groups.ids.shape[0]}"
            )
        if groups.group_size is not None:
            return _Bins(n=n, size=groups.group_size, ids=None, n_bins=groups.n_groups)
        return _Bins(n=n, size=None, ids=groups.ids, n_bins=groups.n_groups)
    if _is_torch(groups):
        groups = groups.detach().cpu().numpy()
    gid = np.asarray(groups)
    if gid.ndim != 1:
        raise ValueError(f"groups: expected a 1-D array of group ids, got shape {gid.shape}")
    if gid.shape[0] != n:
        raise ValueError(f"groups: expected {n} group ids (one per reward), got {gid.shape[0]}")
    if gid.dtype.kind not in "iu":
        if (gid.dtype.kind == "f" and np.isfinite(gid).all() and (gid == np.round(gid)).all()
                and np.abs(gid).max() < 2.0**53):
            gid = gid.astype(np.int64)
        elif gid.dtype.kind in "OUS":
            _, gid = np.unique(gid.astype(str), return_inverse=True)
            return _Bins(n=n, size=None, ids=gid.astype(np.intp), n_bins=int(gid.max()) + 1)
        else:
            raise ValueError(f"groups: expected integer group ids, got dtype {gid.dtype}")
    # Small non-negative ids (the usual case) index bins directly: no np.unique sort. Viewed as
    # unsigned, a negative id is huge, so one max() pass checks both ends of the range.
    if gid.dtype.kind == "i" and gid.dtype.itemsize < 8:  # int8 -1 viewed as uint8 is 255: small
        gid = gid.astype(np.int64)
    hi = int(gid.view(gid.dtype.str.replace("i", "u")).max())
    if hi < 2 * n + 1024:
        return _Bins(n=n, size=None, ids=gid.astype(np.intp, copy=False), n_bins=hi + 1)
    _, inverse = np.unique(gid, return_inverse=True)
    inverse = inverse.astype(np.intp, copy=False).reshape(-1)
    return _Bins(n=n, size=None, ids=inverse, n_bins=int(inverse.max()) + 1)


def make_grouping(n: int, groups: Any = None, group_size: int | None = None) -> Grouping:
    """Validate and canonicalize a grouping for a batch of ``n`` rewards."""
    b = _bins(n, groups, group_size)
    ids, k = b.canonical_ids()
    return Grouping(ids=ids, n_groups=k, group_size=b.size)


# --------------------------------------------------------------------------------------------
# Group statistics
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stats:
    """Per-bin statistics of the valid members of each group (float64; bins may be empty)."""

    count: np.ndarray  # valid members
    mean: np.ndarray
    var0: np.ndarray  # population variance (ddof=0)
    constant: np.ndarray  # bool: fewer than 2 valid members, or all valid members equal


def _robust_stats(r: np.ndarray, b: _Bins) -> tuple[_Stats, np.ndarray, np.ndarray]:
    """NaN-aware exact statistics in float64 (two-pass). Returns (stats, valid, r - mean).

    Constant groups are found exactly: a group is constant when none of its valid members
    differs from one chosen valid member.
    """
    x = r.astype(np.float64)
    valid = ~np.isnan(x)
    xv = np.where(valid, x, 0.0)
    cnt = b.count(valid)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(cnt > 0, b.sum(xv) / cnt, 0.0)
        d = np.where(valid, x - b.expand(mean), 0.0)
        dm = np.where(cnt > 0, b.sum(d) / cnt, 0.0)  # rounding residue of the mean
        var0 = np.maximum(np.where(cnt > 0, b.sum(d * d) / cnt, 0.0) - dm * dm, 0.0)
    mean = mean + dm
    d = np.where(valid, d - b.expand(dm), 0.0)
    ref = np.zeros(b.n_bins)
    if b.size is not None:
        # last valid member of each row (any member will do)
        xr = np.where(valid, x, np.nan).reshape(b.n_bins, b.size)
        last = b.size - 1 - np.argmax(~np.isnan(xr[:, ::-1]), axis=1)
        ref = xr[np.arange(b.n_bins), last]
    else:
        ref[b.ids[valid]] = x[valid]
    differs = valid & (x != b.expand(ref))
    constant = (cnt < 2) | (b.sum(differs.astype(np.float64)) == 0)
    return _Stats(count=cnt, mean=mean, var0=var0, constant=constant), valid, d


# --------------------------------------------------------------------------------------------
# Estimator coefficients: A_i = a_g * (r_i - mean_g), a_g = 0 on constant/singleton groups
# --------------------------------------------------------------------------------------------


def _check_ddof(ddof: Any, field: str = "ddof") -> int:
    if isinstance(ddof, bool) or not isinstance(ddof, (int, float, np.integer, np.floating)) \
            or ddof not in (0, 1):
        raise ValueError(_invalid(field, "0 (population) or 1 (Bessel)", ddof))
    return int(ddof)


def _check_eps(eps: Any, field: str = "eps") -> float:
    if isinstance(eps, bool) or not (
        isinstance(eps, (int, float, np.floating, np.integer)) and math.isfinite(eps) and eps >= 0
    ):
        raise ValueError(_invalid(field, "a finite number >= 0", eps))
    return float(eps)


def _invalid(field: str, expected: str, value: Any, note: str = "") -> str:
    """The one wording of a bad estimator name or option: ``FIELD: expected WHAT, got VALUE``."""
    return f"{field}: expected {expected}, got {value!r}" + (f" ({note})" if note else "")


def _std(var0: Any, count: Any, ddof: int) -> Any:
    if ddof == 0:
        return var0**0.5
    return (var0 * count / (count - 1).clip(min=1)) ** 0.5


def _scale_grpo(st: Any, ddof: int = 0, eps: float = 1e-6) -> Any:
    with np.errstate(divide="ignore"):  # 1/0 only on constant groups (eps=0); they get a=0
        return 1.0 / (_std(st.var0, st.count, ddof) + eps)


def _scale_dr_grpo(st: Any) -> Any:
    return st.count * 0.0 + 1.0


def _scale_rloo(st: Any) -> Any:
    return st.count / (st.count - 1).clip(min=1)


def _batch_var(st: Any, ddof: int) -> Any:
    """Variance of all valid rewards of the batch, from the group statistics (float64)."""
    n = st.count.sum()
    m = (st.count * st.mean).sum() / n.clip(min=1)
    ss = (st.count * st.var0).sum() + (st.count * (st.mean - m) ** 2).sum()
    return ss / (n - ddof).clip(min=1)


def _scale_batch_std(st: Any, ddof: int = 0, eps: float = 1e-6) -> Any:
    sd = _batch_var(st, ddof) ** 0.5
    with np.errstate(divide="ignore"):
        return st.count * 0.0 + 1.0 / (sd + eps)


# --------------------------------------------------------------------------------------------
# numpy paths
# --------------------------------------------------------------------------------------------


def _affine_np(r: np.ndarray, b: _Bins, scale: Callable[[_Stats], np.ndarray]) -> np.ndarray:
    """``A = a_g * (r - mean_g)`` over a numpy batch: fast path when NaN-free, else robust."""
    if b.size is not None:
        out = _fast_fixed(r, b, scale, batch=getattr(scale, "batch", False))
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


def _fast_fixed(r: np.ndarray, b: _Bins, scale: Callable[[_Stats], np.ndarray],
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

    def stats(blk: tuple[np.ndarray, ...]) -> _Stats:
        return _Stats(count=blk[0], mean=blk[1], var0=blk[2], constant=blk[3])

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


def _fast_ids(r: np.ndarray, b: _Bins, scale: Callable[[_Stats], np.ndarray]) -> np.ndarray | None:
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
    st = _Stats(count=cnt, mean=mean, var0=var0, constant=constant)
    a = scale(st)
    np.putmask(a, constant, 0.0)
    a = a.astype(r.dtype)
    for i in range(0, n, _BLOCK):
        out[i : i + _BLOCK] *= np.take(a, ids[i : i + _BLOCK])
    return out


# --------------------------------------------------------------------------------------------
# torch path: the same math with torch ops on the tensor's device
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TStats:
    count: Any
    mean: Any
    var0: Any
    constant: Any


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


def _torch_stats(x: Any, size: int | None, ids: Any, k: int) -> tuple[_TStats, Any, Any, Any]:
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
    return _TStats(count=cnt, mean=mean, var0=var0, constant=constant), valid, d, expand


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


# --------------------------------------------------------------------------------------------
# Estimators
# --------------------------------------------------------------------------------------------


def _affine_estimator(scale_fn: Callable[..., Any], **checks: Callable[[Any], Any]) -> Callable:
    """Build an affine estimator ``A = a_g (r - mean_g)`` from its per-group scale ``a_g``."""

    def decorate(doc_fn: Callable) -> Callable:
        @functools.wraps(doc_fn)
        def estimator(rewards: Any, groups: Any = None, group_size: int | None = None, **kw: Any):
            bound = doc_fn(rewards, groups, group_size, **kw)  # checks the options' names
            opts = {name: checks[name](v) for name, v in bound.items()}

            def scale(st: Any) -> Any:
                return scale_fn(st, **opts)

            scale.batch = scale_fn is _scale_batch_std  # needs every group's statistics

            if _is_torch(rewards):
                return _affine_torch(rewards, groups, group_size, scale)
            r = _as_rewards(rewards)
            return _affine_np(r, _bins(r.shape[0], groups, group_size), scale)

        return estimator

    return decorate


def raw(rewards: Any, groups: Any = None, group_size: int | None = None) -> Any:
    """``A_i = r_i`` (NaN -> 0.0): the rule reward itself, unnormalized, whatever its group."""
    if _is_torch(rewards):
        x = _torch_prepare(rewards)
        if groups is not None or group_size is not None:
            _torch_bins(x, groups, group_size)  # validate, ignore
        elif bool(x.isinf().any()):
            _torch_raise_inf(x)
        return x.nan_to_num(nan=0.0).to(rewards.dtype if rewards.is_floating_point() else x.dtype)
    r = _validate_rewards(rewards)
    if groups is not None or group_size is not None:
        _bins(r.shape[0], groups, group_size)  # validate, ignore
    return np.where(np.isnan(r), 0.0, r).astype(r.dtype, copy=False)


@_affine_estimator(_scale_grpo, ddof=_check_ddof, eps=_check_eps)
def grpo(rewards: Any, groups: Any = None, group_size: int | None = None, ddof: int = 0,
         eps: float = 1e-6) -> Any:
    """``A_i = (r_i - mean_g(r)) / (std_g(r) + eps)`` (DeepSeekMath / DeepSeek-R1 GRPO).

    ``ddof=0``: population std (the seed's figure); ``ddof=1``: Bessel-corrected (TRL, verl).
    With ``ddof=0``, ``|A_i| <= sqrt(n_g - 1)``.
    """
    return {"ddof": ddof, "eps": eps}


@_affine_estimator(_scale_dr_grpo)
def dr_grpo(rewards: Any, groups: Any = None, group_size: int | None = None) -> Any:
    """``A_i = r_i - mean_g(r)`` (Dr. GRPO: group mean baseline, no std division)."""
    return {}


@_affine_estimator(_scale_rloo)
def rloo(rewards: Any, groups: Any = None, group_size: int | None = None) -> Any:
    """``A_i = r_i - mean_{j != i, j in g}(r_j) = n/(n-1) * (r_i - mean_g(r))`` (leave-one-out)."""
    return {}


@_affine_estimator(_scale_batch_std, ddof=_check_ddof, eps=_check_eps)
def batch_std(rewards: Any, groups: Any = None, group_size: int | None = None, ddof: int = 0,
              eps: float = 1e-6) -> Any:
    """``A_i = (r_i - mean_g(r)) / (std_batch(r) + eps)`` (REINFORCE++-baseline, "Lite PPO").

    The mean is the group's; the std is over every valid reward of the batch.
    """
    return {"ddof": ddof, "eps": eps}


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


def rank(rewards: Any, groups: Any = None, group_size: int | None = None) -> Any:
    """``A_i = (rank_g(r_i) - (n_g - 1)/2) / ((n_g - 1)/2)`` in ``[-1, 1]``.

    ``rank_g`` is the 0-based rank within the group's valid rewards, ties sharing their average
    rank; only the order of the rewards matters, not the spacing of the tiers.
    """
    if _is_torch(rewards):
        return _rank_torch(rewards, groups, group_size)
    r = _as_rewards(rewards)
    return _rank_np(r, _bins(r.shape[0], groups, group_size))


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
    """Compute advantages with the estimator registered as ``name`` (see ``ESTIMATORS``).

    ``name`` and ``options`` are checked by :func:`check_estimator` first.
    """
    options = check_estimator(name, **options)
    return ESTIMATORS[name](rewards, groups=groups, group_size=group_size, **options)


# The checks of each estimator option's value, by option name: value -> normalized value.
_OPTION_CHECKS: dict[str, Callable[..., Any]] = {"ddof": _check_ddof, "eps": _check_eps}


def check_options(**options: Any) -> dict[str, Any]:
    """Check the values of estimator options by their names (``ddof``: 0 or 1; ``eps``: a finite
    number >= 0), whatever estimator they are for; return them normalized (``ddof`` int, ``eps``
    float). An option name no estimator takes raises too. For callers that use ``ddof``/``eps``
    themselves (the smoothing study); :func:`check_estimator` also checks which options the
    named estimator takes."""
    out = {}
    for key, value in options.items():
        if key not in _OPTION_CHECKS:
            raise ValueError(_invalid("estimator_options", f"option names from {sorted(_OPTION_CHECKS)}",
                                      key, "unknown option"))
        out[key] = _OPTION_CHECKS[key](value)
    return out


def check_estimator(name: Any, field: str = "estimator", /, **options: Any) -> dict[str, Any]:
    """Check an estimator name and its options; return the options normalized.

    The one check of "is this estimator name or option valid?" (scikit-learn's ``check_*``
    way): :func:`compute`, the trainer's config, the experiment, the smoothing study and the
    TRL/verl adapters all call it, so every caller words a bad value the same way::

        FIELD: expected WHAT, got VALUE

    ``field`` (positional) names the name's field in the caller's terms (``"estimator"``; an
    experiment passes ``"estimators"``); options are reported as ``<field>_options`` and
    ``<field>_options['ddof']`` (``estimator_options`` is the trainer config's field). Raises
    ValueError; returns e.g. ``{"ddof": 1, "eps": 0.0001}`` for
    ``check_estimator("grpo", ddof=1, eps=1e-4)``.
    """
    if not isinstance(name, str) or name not in ESTIMATORS:
        raise ValueError(_invalid(field, f"one of {sorted(ESTIMATORS)}", name, "unknown name"))
    allowed = estimator_options(name)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        takes = f"a subset of {list(allowed)}" if allowed else "none"
        raise ValueError(_invalid(f"{field}_options", f"{takes} for {name!r}", unknown,
                                  "unknown option" + "s" * (len(unknown) > 1)))
    return {k: _OPTION_CHECKS[k](v, f"{field}_options[{k!r}]") for k, v in options.items()}


@functools.lru_cache(maxsize=None)
def estimator_options(name: str) -> tuple[str, ...]:
    """The keyword options estimator ``name`` takes beyond the rewards and grouping (e.g.
    ``("ddof", "eps")`` for grpo)."""
    import inspect

    params = inspect.signature(ESTIMATORS[name]).parameters
    return tuple(p for p in params if p not in ("rewards", "groups", "group_size"))


# --------------------------------------------------------------------------------------------
# Diagnostics
# --------------------------------------------------------------------------------------------


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
