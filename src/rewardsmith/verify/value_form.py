"""Is an answer a *value* (nothing left to evaluate)? The check behind ``answer.form: value``.

A value is a number, a fraction, a radical, a multiple of pi, or a tuple / set / interval / union
of them, written as an answer, not as a computation:

    value  := sign? term (('+' | '-') term)*     at most one rational term: 1+\\sqrt{2}, not 17+25
    term   := factor | \\frac{value}{factor} | factor '/' factor
    factor := number ('%')? | number? \\sqrt{integer}? \\pi? i? | number '*' 10^{integer} | 10^{integer}
              | integer \\frac{integer}{integer}        (a mixed number)

``17+25``, ``6 \\cdot 7``, ``2^{10}``, ``5!``, ``\\binom{5}{2}`` and ``\\sin 30^\\circ`` are not
values. A labeled answer (``x = 42``) or a true chain (``x = 3 + 4 = 7``) is a value when one of its
members after the label is. ``unevaluated(pred, gold)`` applies the check only when the gold
answer is itself a value, so golds that are expressions (``2x + 1``) keep the plain comparison.
"""

from __future__ import annotations

from rewardsmith.verify._normalize import Chain, Eq, Leaf, Seq, UnionNode, _is_label, prepare

__all__ = ["is_value", "unevaluated"]


class _Reader:
    """Recursive descent over a leaf's tokens; every method returns False instead of raising."""

    def __init__(self, toks: tuple):
        self.t = toks
        self.i = 0

    def peek(self, text: str | None = None):
        t = self.t[self.i] if self.i < len(self.t) else None
        return t if text is None or (t is not None and t.text == text) else None

    def eat(self, text: str) -> bool:
        if self.peek(text) is not None:
            self.i += 1
            return True
        return False

    def integer(self) -> bool:
        t = self.peek()
        if t is not None and t.kind == "num" and t.text.isdigit():
            self.i += 1
            return True
        return False

    def group_integer(self) -> bool:
        if self.eat("{"):
            return self.integer() and self.eat("}")
        return self.integer()

    def value(self) -> bool:
        self.eat("+") or self.eat("-")
        rational_terms = 0
        while True:
            kind = self.term()
            if kind is None:
                return False
            rational_terms += kind == "rational"
            if not (self.eat("+") or self.eat("-")):
                break
        return rational_terms <= 1

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
                return None
            if not self.eat("{"):
                return None
            kind = self.factor()
            if kind is None or not self.eat("}"):
                return None
            return "irrational" if any(t.text in ("\\sqrt", "\\pi", "i") for t in self.t[start:self.i]) else "rational"
        kind = self.factor()
        if kind is None:
            return None
        if self.eat("/"):
            k2 = self.factor()
            if k2 is None:
                return None
            kind = "irrational" if "irrational" in (kind, k2) else "rational"
        return kind

    def factor(self) -> str | None:
        start = self.i
        t = self.peek()
        if t is not None and t.kind == "num":
            self.i += 1
            if self.peek("\\overline") is not None:  # 0.1\overline{6}
                self.i += 1
                if not self.group_integer():
                    return None
            if self.eat("%"):
                return "rational"
            if self.peek("*") is not None and self.i + 2 < len(self.t) and self.t[self.i + 1].text == "10":
                self.i += 2  # 3 * 10^{5}
                return "rational" if self.eat("^") and self._exponent() else None
            if t.text == "10" and self.eat("^"):
                return "rational" if self._exponent() else None
            if t.text.isdigit() and self.peek("\\frac") is not None:  # 2\frac{1}{2}
                save = self.i
                self.i += 1
                if self.eat("{") and self.integer() and self.eat("}") and self.eat("{") and self.integer() and self.eat("}"):
                    return "rational"
                self.i = save
        irrational = False
        if self.eat("\\sqrt"):
            if not self.group_integer():
                return None
            irrational = True
        if self.eat("\\pi"):
            irrational = True
        t = self.peek()
        if t is not None and t.kind == "ident" and t.text == "i":
            self.i += 1
            irrational = True
        if self.eat("\\infty"):
            return "irrational" if self.i - start == 1 else None
        if self.i == start:
            return None
        return "irrational" if irrational else "rational"

    def _exponent(self) -> bool:
        if self.eat("{"):
            self.eat("-")
            return self.integer() and self.eat("}")
        return self.integer()


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
