"""Is an answer a *value* (nothing left to evaluate)? The check behind ``answer.form: value``.

A value is a number, a fraction, a radical, a multiple of pi, or a tuple / set / interval / union
of them, written as an answer, not as a computation:

    value  := sign? term (('+' | '-') term)*     at most one rational term: 1+\\sqrt{2}, not 17+25
    term   := factor | \\frac{value}{factor} | factor '/' factor
    factor := number ('%')? | number? \\sqrt{integer}? \\pi? i? | number '*' 10^{integer} | 10^{integer}
              | integer \\frac{integer}{integer}        (a mixed number)

and in its simplest written form: a fraction over an integer is in lowest terms with a
denominator > 1 (gcd of the denominator and the numerator's integer coefficients is 1), a mixed
number's fraction is proper, a radicand is a square-free integer >= 2, a sum has no two terms of
the same kind and no zero term, and no coefficient 0 or 1 is written.

``17+25``, ``6 \\cdot 7``, ``2^{10}``, ``5!``, ``\\binom{5}{2}``, ``\\sin 30^\\circ``, ``\\frac{84}{2}``,
``\\sqrt{12}`` and ``\\sqrt3+\\sqrt3`` are not values. A labeled answer (``x = 42``) or a true chain (``x = 3 + 4 = 7``) is a value when one of its
members after the label is. ``unevaluated(pred, gold)`` applies the check only when the gold
answer is itself a value, so golds that are expressions (``2x + 1``) keep the plain comparison.
"""

from __future__ import annotations

import math

from rewardsmith.verify.labels import _is_label
from rewardsmith.verify.prepare import prepare
from rewardsmith.verify.tree import Chain, Eq, Leaf, Seq, UnionNode

__all__ = ["is_value", "unevaluated"]


def _squarefree(n: int) -> bool:
    """``n >= 2`` has no square factor (``\\sqrt{12}`` is not simplest: 12 = 4 * 3). Above 10^12
    the radicand is taken as written (a trial division that long is not worth it)."""
    if n < 2:
        return False
    if n > 10**12:
        return True
    m, p = n, 2
    while p * p * p <= n:
        if m % (p * p) == 0:
            return False
        while m % p == 0:
            m //= p
        p += 1
    r = math.isqrt(m)  # what is left has no factor <= cbrt(n): a square of a prime, or squarefree
    return not (m > 1 and r * r == m)


class _Reader:
    """Recursive descent over a leaf's tokens; every method returns False/None instead of
    raising. ``bad`` is set when the answer is a value but not in its simplest written form."""

    def __init__(self, toks: tuple):
        self.t = toks
        self.i = 0
        self.bad = False
        self.coefs: list = []  # each term's integer coefficient (None: a decimal or percent)
        self.coef = None  # the last factor's integer coefficient

    def peek(self, text: str | None = None):
        t = self.t[self.i] if self.i < len(self.t) else None
        return t if text is None or (t is not None and t.text == text) else None

    def eat(self, text: str) -> bool:
        if self.peek(text) is not None:
            self.i += 1
            return True
        return False

    def integer(self) -> int | None:
        t = self.peek()
        if t is not None and t.kind == "num" and t.text.isdigit():
            self.i += 1
            return int(t.text)
        return None

    def group_integer(self) -> int | None:
        if self.eat("{"):
            n = self.integer()
            return n if n is not None and self.eat("}") else None
        return self.integer()

    def value(self) -> bool:
        self.eat("+") or self.eat("-")
        kinds: list[str] = []
        while True:
            kind = self.term()
            if kind is None:
                return False
            kinds.append(kind)
            self.coefs.append(self.coef)
            if not (self.eat("+") or self.eat("-")):
                break
        if len(kinds) > 1 and (0 in self.coefs or len(set(kinds)) < len(kinds)):
            self.bad = True  # 2\sqrt3 + 0, \sqrt3 + \sqrt3, \pi + \pi: arithmetic left
        return kinds.count("rational") <= 1 and not self.bad

    def term(self) -> str | None:
        if self.peek("\\frac") is not None:
            self.i += 1
            if not self.eat("{"):
                return None
            start = self.i
            depth = 0
            while self.i < len(self.t) and not (self.t[self.i].text == "}" and depth == 0):
                depth += self.t[self.i].text == "{"
                depth -= self.t[self.i].text == "}"
                self.i += 1
            inner = _Reader(self.t[start : self.i])
            if not (inner.value() and inner.i == len(inner.t)) or not self.eat("}"):
                self.bad = self.bad or inner.bad
                return None
            if not self.eat("{"):
                return None
            den_start = self.i
            kind = self.factor()
            if kind is None or not self.eat("}"):
                return None
            if self.i - den_start == 2 and kind == "rational":  # an integer denominator
                self._reduced(inner.coefs, self.coef)
            self.coef = None
            return "irrational:" + "|".join(t.text for t in self.t[start:self.i]) if any(
                t.text in ("\\sqrt", "\\pi", "i") for t in self.t[start:self.i]) else "rational"
        kind = self.factor()
        if kind is None:
            return None
        if self.eat("/"):
            num = self.coef
            den_start = self.i
            k2 = self.factor()
            if k2 is None:
                return None
            if self.i - den_start == 1 and k2 == "rational":  # 84/2, 3\pi/6
                self._reduced([num], self.coef)
            self.coef = None
            kind = kind if k2 == "rational" else "irrational:/" + k2
        return kind

    def _reduced(self, num_coefs: list, den: int | None) -> None:
        """A fraction over an integer is in lowest terms: the denominator is > 1 and shares no
        factor with the numerator's integer coefficients (``\\frac{84}{2}``, ``\\frac68``,
        ``\\frac{2\\sqrt3}{2}`` are not); a decimal over an integer is not simplest either."""
        if den is None or den < 2 or None in num_coefs:
            self.bad = True
        elif math.gcd(den, *num_coefs) != 1:
            self.bad = True

    def factor(self) -> str | None:
        start = self.i
        self.coef = 1
        written = None  # the integer coefficient as written, if any
        t = self.peek()
        if t is not None and t.kind == "num":
            self.i += 1
            self.coef = written = int(t.text) if t.text.isdigit() else None
            if self.peek("\\overline") is not None:  # 0.1\overline{6}
                self.i += 1
                self.coef = None
                if self.group_integer() is None:
                    return None
            if self.eat("%"):
                self.coef = None
                return "rational"
            if self.peek("*") is not None and self.i + 2 < len(self.t) and self.t[self.i + 1].text == "10":
                self.i += 2  # 3 * 10^{5}
                self.coef = None
                return "rational" if self.eat("^") and self._exponent() else None
            if t.text == "10" and self.eat("^"):
                self.coef = None
                return "rational" if self._exponent() else None
            if t.text.isdigit() and self.peek("\\frac") is not None:  # 2\frac{1}{2}
                save = self.i
                self.i += 1
                if self.eat("{") and (b := self.integer()) is not None and self.eat("}") and self.eat("{") \
                        and (c := self.integer()) is not None and self.eat("}"):
                    if not (0 < b < c and math.gcd(b, c) == 1):
                        self.bad = True  # 1\frac{3}{1}, 2\frac{2}{4}: not a proper reduced fraction
                    self.coef = None
                    return "rational"
                self.i = save
        keys = []
        if self.eat("\\sqrt"):
            n = self.group_integer()
            if n is None:
                return None
            if not _squarefree(n):
                self.bad = True  # \sqrt{1764}, \sqrt{12}, \sqrt{1}
            keys.append(f"sqrt{n}")
        if self.eat("\\pi"):
            keys.append("pi")
        t = self.peek()
        if t is not None and t.kind == "ident" and t.text == "i":
            self.i += 1
            keys.append("i")
        if self.eat("\\infty"):
            return "irrational:infty" if self.i - start == 1 else None
        if self.i == start:
            return None
        if keys and written in (0, 1):
            self.bad = True  # 1\sqrt{3}, 0\pi
        return "irrational:" + "*".join(keys) if keys else "rational"

    def _exponent(self) -> bool:
        if self.eat("{"):
            self.eat("-")
            return self.integer() is not None and self.eat("}")
        return self.integer() is not None


def _leaf_is_value(leaf: Leaf) -> bool:
    toks = leaf.toks
    if len(toks) >= 2 and toks[0].text == "(" and toks[-1].text == ")":
        toks = toks[1:-1]
    r = _Reader(toks)
    return r.value() and r.i == len(toks)


def _node_is_value(n) -> bool:
    if isinstance(n, Leaf):
        return _leaf_is_value(n)
    if isinstance(n, (Seq, UnionNode)):
        return all(_node_is_value(x) for x in n.items)
    if isinstance(n, Eq):
        return _node_is_value(n.rhs)  # x = 42, 6 \\cdot 7 = 42: the value is on the right
    if isinstance(n, Chain):
        members = list(n.members[1:] if _is_label(n.members[0]) else n.members)
        return any(_node_is_value(m) for m in members)
    return False


def is_value(answer: str) -> bool:
    """The answer is a value (see the module doc); False for text that does not parse."""
    p = prepare(answer)
    return p.tree is not None and not p.textual and _node_is_value(p.tree)


def unevaluated(pred: str | None, gold: str) -> str | None:
    """The reason ``pred`` fails ``answer.form: value`` against ``gold``, or None when it passes
    (the gold is not a value, or the prediction is one). ``pred`` None passes (nothing to check)."""
    if pred is None or not is_value(gold) or is_value(pred):
        return None
    return f"unevaluated: {pred.strip()[:60]!r} is not a value (answer.form: value wants a number, fraction, radical or a tuple/set/interval of them)"
