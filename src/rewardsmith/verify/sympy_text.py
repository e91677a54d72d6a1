"""``sym_text(leaf)``: a leaf's text rewritten for latex2sympy on the symbolic path. Factors side by
side get an explicit ``*`` (``_Atoms`` finds where), brace-less function arguments get
parentheses, and a decimal literal becomes the exact fraction it writes.
"""

from __future__ import annotations

from collections import Counter

from rewardsmith.verify.exact import _literal
from rewardsmith.verify.limits import TooLarge
from rewardsmith.verify.tree import Leaf

__all__ = ["sym_text"]


_ARGC = {  # commands and how many brace groups they take
    "\\frac": 2, "\\binom": 2, "\\dbinom": 2, "\\tbinom": 2, "\\sqrt": 1, "\\overline": 1, "\\hat": 1,
    "\\bar": 1, "\\vec": 1, "\\tilde": 1, "\\dot": 1, "\\mathrm": 1, "\\operatorname": 1, "\\mathbf": 1,
}
_FUNCS = frozenset(  # prefix functions: \sin x is one factor
    "\\sin \\cos \\tan \\cot \\sec \\csc \\arcsin \\arccos \\arctan \\sinh \\cosh \\tanh \\ln \\log \\exp "
    "\\max \\min \\gcd \\lcm \\det".split()
)
_PAIRS = {"(": ")", "[": "]", "{": "}", "\\{": "\\}", "\\lfloor": "\\rfloor", "\\lceil": "\\rceil"}
_SEPARATORS_OP = frozenset(
    "+ - * / = , ; : < > ^ _ & \\\\ \\le \\ge \\lt \\gt \\ne \\neq \\pm \\mp \\cup \\cap \\in \\to \\cdot \\times "
    "\\div \\approx \\equiv \\mid \\setminus \\le \\geq \\leq".split()
)


class _Atoms:
    """Finds where two factors stand side by side in a leaf's tokens (``2(3)``, ``(2)(3)``,
    ``\\frac{4}{2}\\binom{3}{1}``, ``2e^{0}``), at any depth: the positions to put a ``*``."""

    def __init__(self, toks: tuple):
        self.t = toks
        self.inserts: list[int] = []
        self.opens: list[int] = []  # a "(" before these tokens, a ")" after the closes
        self.closes: list[int] = []

    def _match(self, k: int, end: int) -> int:
        """Index of the token closing the bracket at ``k`` (or ``end`` when unclosed)."""
        o = self.t[k].text
        c = _PAIRS.get(o, "|")
        depth = 0
        for j in range(k + 1, end):
            x = self.t[j].text
            if o == "|" and x == "|" and depth == 0:
                return j
            if x in _PAIRS:
                depth += 1
            elif x in _PAIRS.values():
                if depth == 0 and x == c:
                    return j
                depth -= 1
        return end

    def _arg(self, k: int, end: int) -> int:
        """One argument (a brace group or a single token) at ``k``: the index after it."""
        if k >= end:
            return end
        if self.t[k].text == "{":
            close = self._match(k, end)
            self.walk(k + 1, close)
            return min(close + 1, end)
        return k + 1

    def atom(self, k: int, end: int) -> int:
        t = self.t[k]
        if t.text in _PAIRS or (t.text == "|"):
            close = self._match(k, end)
            self.walk(k + 1, close)
            k = min(close + 1, end)
        elif t.text in _ARGC:
            k += 1
            if t.text == "\\sqrt" and k < end and self.t[k].text == "[":
                k = min(self._match(k, end) + 1, end)
            for _ in range(_ARGC[t.text]):
                k = self._arg(k, end)
        elif t.text in _FUNCS:
            k += 1
            while k < end and self.t[k].text in ("^", "_"):
                k = self._arg(k + 1, end)
            if k < end and self.t[k].text == "(":
                return self.atom(k, end)  # \sin(x): the group is the argument
            return self._func_arg(k, end)
        elif t.kind == "cmd" and t.text not in ("\\pi", "\\infty"):
            k += 1  # a command the table does not know: its brace groups are its arguments
            while k < end and self.t[k].text == "{":
                k = self._arg(k, end)
        else:
            k += 1
        while k < end:  # postfix: scripts, factorials, primes, percent
            x = self.t[k].text
            if x in ("^", "_"):
                k += 1
                if k < end and self.t[k].text in ("-", "+"):
                    k += 1
                k = self._arg(k, end)
            elif x in ("!", "'", "%"):
                k += 1
            else:
                break
        return k

    def _func_arg(self, k: int, end: int) -> int:
        """A brace-less function argument: the factors side by side after it, up to an operator
        or another function (``\\sin 2x`` is sin(2x), ``\\sin x \\cos x`` is sin(x)cos(x),
        ``\\ln 2 \\cdot 3`` is 3 ln 2, ``\\sin x / x`` is sin(x)/x). It gets explicit parentheses:
        the grammar would take the whole following product or quotient as the argument."""
        start, prev = k, None
        while k < end and self.t[k].text not in _SEPARATORS_OP and self.t[k].text not in _PAIRS.values():
            if self.t[k].text in _FUNCS:
                break
            nxt = self.atom(k, end)
            call = self.t[k].text == "(" and prev == k - 1 and self.t[prev].kind == "ident"
            if prev is not None and not call and not self._mixed(prev, k, nxt):
                self.inserts.append(k)
            prev, k = k, max(nxt, k + 1)
        if k > start:
            self.opens.append(start)
            self.closes.append(k - 1)
        return k

    def walk(self, k: int, end: int) -> None:
        prev_start = None
        while k < end:
            if self.t[k].text in _SEPARATORS_OP or self.t[k].text in _PAIRS.values():
                prev_start = None
                k += 1
                continue
            nxt = self.atom(k, end)
            call = self.t[k].text == "(" and prev_start == k - 1 and self.t[prev_start].kind == "ident"
            if prev_start is not None and not call and not self._mixed(prev_start, k, nxt):
                self.inserts.append(k)  # f(x) stays a call: the grammar decides f(x) vs x(x+1)
            prev_start = k
            k = max(nxt, k + 1)

    def _mixed(self, a: int, b: int, b_end: int) -> bool:
        """``2\\frac{1}{3}``: an integer, then a proper fraction of integers (a mixed number)."""
        t = self.t
        if b - a != 1 or not t[a].text.isdigit() or t[b].text != "\\frac" or b_end - b != 7:
            return False
        w = [x.text for x in t[b : b_end]]
        return (w[1], w[3], w[4], w[6]) == ("{", "}", "{", "}") and w[2].isdigit() and w[5].isdigit() and int(w[2]) < int(w[5])


def sym_text(leaf: Leaf) -> str:
    """The leaf's text for latex2sympy, with what its grammar misreads made explicit: factors side
    by side get a ``*`` (it reads ``2(3)``, ``(2)(3)``, ``2e^{0}``, ``\\frac{4}{2}\\binom{3}{1}`` as
    sums, like a mixed number; ``2\\frac{1}{3}`` stays the mixed number 7/3), and a decimal literal
    becomes the exact fraction it writes (its Float would carry binary rounding error: ``0.1x`` !=
    ``x/10``)."""
    toks = leaf.toks
    if not toks:
        return leaf.text
    atoms = _Atoms(toks)
    if "\\begin" not in leaf.text:  # matrices keep their rows as written
        atoms.walk(0, len(toks))
    star = set(atoms.inserts)
    opens, closes = Counter(atoms.opens), Counter(atoms.closes)
    base = toks[0].start
    text = leaf.text
    out: list[str] = []
    pos = 0
    for k, t in enumerate(toks):
        if k in star:
            out.append(text[pos : t.start - base] + "*")
            pos = t.start - base
        if k in opens:
            out.append(text[pos : t.start - base] + "(" * opens[k])
            pos = t.start - base
        if t.kind == "num" and ("." in t.text or "e" in t.text.lower()):
            try:
                q = _literal(t.text)
            except TooLarge:
                q = None  # left as written; the grammar refuses or bounds it
            if q is not None:
                frac = "(\\frac{%d}{%d})" % (q.numerator, q.denominator)
                if k and toks[k - 1].text == "^":  # x^0.5: an exponent needs a group
                    frac = "{" + frac + "}"
                out.append(text[pos : t.start - base] + frac)
                pos = t.end - base
        if k in closes:
            out.append(text[pos : t.end - base] + ")" * closes[k])
            pos = t.end - base
    out.append(text[pos:])
    return "".join(out)
