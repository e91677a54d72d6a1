"""The statistics behind the training report's findings: small pure functions that return numbers.

* :func:`mean_interval` -- mean over seeds with a Student-t interval,
  ``mean +- t_{(1+level)/2, n-1} * sd / sqrt(n)`` (sd with ``ddof=1``); NaN bounds when ``n < 2``.
* :func:`paired_difference` -- ``d_s = a_s - b_s`` over seeds run by both arms (same seed = same
  prompts, same sampling stream), the t-interval of ``mean(d)`` and the two-sided paired t-test's
  p-value ``2 P(T_{n-1} >= |mean(d)| / (sd(d) / sqrt(n)))``; NaN when ``n < 2``.
* :func:`collapse_rate_test` -- collapsed / total in two sets of runs and Fisher's exact test
  (two-sided, ``scipy.stats.fisher_exact``) of "the same collapse rate".

Sentences are rendered from these numbers elsewhere (``report.training``); "too few seeds to
tell apart" is decided here (:meth:`Paired.distinguishable`), once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["Interval", "Paired", "RateTest", "mean_interval", "paired_difference", "collapse_rate_test",
           "LEVEL", "ALPHA"]

LEVEL = 0.95  # confidence level of every interval in the report
ALPHA = 0.05  # level of the report's two-sided tests


@dataclass(frozen=True)
class Interval:
    """A mean over ``n`` seeds and its ``level`` t-interval (``lo``/``hi`` NaN when n < 2)."""

    mean: float
    lo: float
    hi: float
    n: int
    level: float = LEVEL

    @property
    def known(self) -> bool:
        return self.n >= 2 and math.isfinite(self.lo)

    def overlaps(self, other: "Interval") -> bool:
        """True when either interval is unknown or they share a point."""
        return not (self.known and other.known) or (self.lo <= other.hi and other.lo <= self.hi)

    def text(self, fmt: str = ".2f") -> str:
        """``0.46 [0.41, 0.51]`` or ``0.46 (1 seed, no interval)``."""
        if not self.known:
            return f"{self.mean:{fmt}} ({self.n} seed{'s' if self.n != 1 else ''}, no interval)"
        return f"{self.mean:{fmt}} [{self.lo:{fmt}}, {self.hi:{fmt}}]"


@dataclass(frozen=True)
class Paired:
    """Paired difference ``a - b`` over ``n`` shared seeds: mean, t-interval, two-sided p."""

    mean: float
    lo: float
    hi: float
    p: float
    n: int
    level: float = LEVEL

    def distinguishable(self, alpha: float = ALPHA) -> bool:
        """Enough seeds (n >= 2) and p < alpha."""
        return self.n >= 2 and math.isfinite(self.p) and self.p < alpha

    def text(self) -> str:
        if self.n < 2 or not math.isfinite(self.lo):
            return f"{self.mean:+.2f} ({self.n} shared seed{'s' if self.n != 1 else ''}: too few seeds to tell apart)"
        return f"{self.mean:+.2f} [{self.lo:+.2f}, {self.hi:+.2f}], p = {self.p:.2g} over {self.n} paired seeds"


@dataclass(frozen=True)
class RateTest:
    """Collapse counts of two sets of runs and Fisher's exact two-sided p of "same rate"."""

    k1: int
    n1: int
    k2: int
    n2: int
    p: float


def mean_interval(xs: Sequence[float], level: float = LEVEL,
                  bounds: tuple[float, float] | None = None) -> Interval:
    """Mean of ``xs`` (finite values) with its Student-t interval at ``level``, clipped to
    ``bounds`` when given (a fraction's interval stays in [0, 1])."""
    from scipy import stats

    x = np.asarray([v for v in xs if v is not None and math.isfinite(v)], dtype=np.float64)
    n = int(x.size)
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0, level)
    m = float(x.mean())
    if n < 2:
        return Interval(m, float("nan"), float("nan"), n, level)
    half = float(stats.t.ppf((1 + level) / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    lo, hi = m - half, m + half
    if bounds is not None:
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return Interval(m, lo, hi, n, level)


def paired_difference(a: dict[int, float], b: dict[int, float], level: float = LEVEL) -> Paired:
    """``a - b`` over the seeds both hold (``{seed: value}``): mean, t-interval, paired t-test p.
    All differences equal: the interval is that point and p is 0 if it is nonzero, 1 if zero."""
    from scipy import stats

    seeds = sorted(set(a) & set(b))
    d = np.asarray([a[s] - b[s] for s in seeds], dtype=np.float64)
    n = int(d.size)
    if n == 0:
        return Paired(float("nan"), float("nan"), float("nan"), float("nan"), 0, level)
    m = float(d.mean())
    if n < 2:
        return Paired(m, float("nan"), float("nan"), float("nan"), n, level)
    sd = float(d.std(ddof=1))
    if sd == 0.0:
        return Paired(m, m, m, 0.0 if m != 0 else 1.0, n, level)
    se = sd / math.sqrt(n)
    half = float(stats.t.ppf((1 + level) / 2, n - 1) * se)
    p = float(2.0 * stats.t.sf(abs(m) / se, n - 1))  # the paired t-test (scipy.stats.ttest_rel's p)
    return Paired(m, m - half, m + half, p, n, level)


def collapse_rate_test(k1: int, n1: int, k2: int, n2: int) -> RateTest:
    """Fisher's exact test of ``k1/n1`` vs ``k2/n2`` collapsed runs (two-sided)."""
    from scipy import stats

    if min(n1, n2) < 1 or not (0 <= k1 <= n1 and 0 <= k2 <= n2):
        raise ValueError(f"counts: expected 0 <= k <= n with n >= 1, got {k1}/{n1} and {k2}/{n2}")
    p = float(stats.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]]).pvalue)
    return RateTest(k1, n1, k2, n2, p)
