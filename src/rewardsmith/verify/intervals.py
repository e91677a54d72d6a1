"""Intervals and unions of intervals with rational or infinite endpoints, for compare.py: a union
as disjoint sorted intervals (``[1,3) \\cup [3,5)`` is ``[1,5)``: ``_merged``), and a list of
inequalities (``x < -2 \\text{ or } x > 3``) as the union of the intervals they describe.
"""

from __future__ import annotations

import math
from fractions import Fraction

from rewardsmith.verify.exact import Inf, Num, exact_value
from rewardsmith.verify.limits import NotExact, TooLarge
from rewardsmith.verify.structure import _inequality_interval
from rewardsmith.verify.tree import Leaf, Node, Seq, UnionNode


def _endpoint(n: Node):
    if not isinstance(n, Leaf):
        return None
    try:
        v = exact_value(n)
    except (NotExact, TooLarge):
        return None
    if isinstance(v, Inf):
        return math.inf * v.sign
    if isinstance(v, Num) and not v.pct and all(k == (1, 0) for k, _ in v.terms):
        return v.terms[0][1] if v.terms else Fraction(0)
    return None


def _intervals(n: Node) -> list | None:
    """An interval or a union of intervals with rational/infinite endpoints as
    ``[(lo, lo_closed, hi, hi_closed), ...]``, else None."""
    items = n.items if isinstance(n, UnionNode) else (n,)
    out = []
    for it in items:
        if not (isinstance(it, Seq) and it.kind == "tuple" and len(it.items) == 2):
            return None
        if it.open not in ("(", "[") or it.close not in (")", "]"):
            return None
        lo, hi = _endpoint(it.items[0]), _endpoint(it.items[1])
        lc, hc = it.open == "[", it.close == "]"
        if lo is None or hi is None or lo > hi or (lo == hi and not (lc and hc)):
            return None  # an empty or reversed interval is never merged away: (5,5] adds nothing
        out.append((lo, lc, hi, hc))
    return out


def _merged(ivs: list) -> list:
    """Union of intervals as disjoint sorted intervals: ``[1,3) u [3,5)`` -> ``[1,5)``."""
    out: list = []
    for lo, lc, hi, hc in sorted(ivs, key=lambda x: (x[0], not x[1])):
        if out and (lo < out[-1][2] or (lo == out[-1][2] and (lc or out[-1][3]))):
            plo, plc, phi, phc = out[-1]
            if hi > phi or (hi == phi and hc):
                out[-1] = (plo, plc, hi, hc)
        else:
            out.append((lo, lc, hi, hc))
    return out


def _inequalities_as_union(n: Node) -> Node | None:
    """``x < -2, x > 3`` (``x<-2 \\text{ or } x>3``) as the union of the intervals they describe."""
    if not (isinstance(n, Seq) and n.kind == "list" and all(isinstance(x, Leaf) for x in n.items)):
        return None
    parts = []
    for x in n.items:
        iv = _inequality_interval(x)
        if iv is None:
            return None
        parts.extend(iv.items if isinstance(iv, UnionNode) else (iv,))
    return UnionNode(tuple(parts))
