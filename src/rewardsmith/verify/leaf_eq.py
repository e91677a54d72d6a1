"""When two leaves are equal on the exact path (``exact_leaf_eq``), and when ``a \\approx b`` is true
(``exact_approx``).

Equal leaves: the same text; words compared as text; the same exact value; a percent against
its value (``50%`` is ``50`` and ``0.5``); a decimal of ``DECIMAL_DIGITS`` or more significant
digits against a value no decimal writes (``0.333333`` is ``1/3``: that value rounded or cut off
at the decimal's last digit). A leaf the exact path cannot read raises ``Undecided``: the pair
goes to the symbolic worker.
"""

from __future__ import annotations

import decimal

from rewardsmith.verify.exact import Num, Sym, _approx, exact_value
from rewardsmith.verify.labels import _bare_words
from rewardsmith.verify.limits import NotExact, Undecided
from rewardsmith.verify.normalize import squash
from rewardsmith.verify.tree import Leaf, Node

__all__ = ["DECIMAL_DIGITS", "rounds_to", "decimal_matches", "exact_leaf_eq", "exact_approx"]


DECIMAL_DIGITS = 6  # a decimal equals a value no decimal can write (1/3, sqrt 2, pi) from this many
# significant digits on, when it is that value rounded or cut off at its last digit


def _terminates(v: Num) -> bool:
    """Some decimal writes ``v`` exactly: rational with a denominator of 2s and 5s."""
    if any(k != (1, 0) for k, _ in v.terms):
        return False
    q = v.terms[0][1].denominator if v.terms else 1
    for p in (2, 5):
        while q % p == 0:
            q //= p
    return q == 1


def rounds_to(value: decimal.Decimal, dec_value: decimal.Decimal, last: int) -> bool:
    """``dec_value`` (last digit at 10^last) is ``value`` rounded or cut off at that digit."""
    ulp = decimal.Decimal(10) ** last
    with decimal.localcontext() as ctx:
        ctx.prec = 90
        diff = abs(value - dec_value)
        if diff * 2 <= ulp:
            return True
        same_side = (value >= 0) == (dec_value >= 0)
        return same_side and abs(dec_value) <= abs(value) and diff < ulp


def decimal_matches(d: Num, v: Num) -> bool:
    """The decimal rule (see ``DECIMAL_DIGITS``) for a decimal literal ``d`` and an exact ``v``."""
    if d.dec is None or d.dec[0] < DECIMAL_DIGITS or v.dec is not None or v.pct or d.pct or _terminates(v):
        return False
    return rounds_to(_approx(v), _approx(d), d.dec[1])


def _num_eq(a: Num, b: Num) -> bool:
    if a.pct == b.pct:
        if a.terms == b.terms:
            return True
        return decimal_matches(a, b) or decimal_matches(b, a)
    # one side written as a percent: 50% equals 50 (unit dropped) and 0.5 (value)
    p, q = (a, b) if a.pct else (b, a)
    if p.terms == q.terms:
        return True
    scaled = tuple((k, c / 100) for k, c in p.terms)
    return scaled == q.terms


def exact_leaf_eq(a: Leaf, b: Leaf) -> bool:
    if squash(a.text) == squash(b.text):
        return True
    if _bare_words(a) or _bare_words(b):  # (no, yes) is not (on, yes): words are text at any depth
        return squash(a.text).lower() == squash(b.text).lower()
    try:
        va = exact_value(a)
        vb = exact_value(b)
    except NotExact as e:
        raise Undecided(str(e)) from None
    if type(va) is not type(vb):
        if isinstance(va, Sym) or isinstance(vb, Sym):
            raise Undecided("a variable against a value")
        return False
    if isinstance(va, Num):
        return _num_eq(va, vb)
    return va == vb


def exact_approx(a: Node, b: Node) -> bool:
    """``a \\approx b`` is true: ``b`` is a number literal and ``a``'s exact value rounded (or cut
    off) at ``b``'s last digit (``0.67``: hundredths; ``1000``: units). Raises Undecided when ``a``
    is not an exact number."""
    if not (isinstance(a, Leaf) and isinstance(b, Leaf)):
        return False
    try:
        vb = exact_value(b)
        va = exact_value(a)
    except NotExact as e:
        raise Undecided(str(e)) from None
    if not (isinstance(va, Num) and isinstance(vb, Num)) or va.pct or vb.pct:
        return False
    body = [t for t in b.toks if t.text not in ("+", "-")]
    if len(body) != 1 or body[0].kind != "num":  # the approximation must be a literal
        return False
    last = vb.dec[1] if vb.dec is not None else 0
    return rounds_to(_approx(va), _approx(vb), last)
