"""Step 3: ``exact_value(leaf)``, a leaf's exact value in pure Python (no sympy).

A number is a ``Num``: ``sum_i c_i * sqrt(r_i) * pi^k_i`` with rational ``c_i``
(``fractions.Fraction``), squarefree ``r_i`` and integer ``k_i``. This form is canonical (square
roots of distinct squarefree integers are linearly independent over Q, and pi is
transcendental), so two numbers are equal iff their term dictionaries are equal. ``_Parser`` is a
recursive descent over the leaf's tokens (``+ - * / ^ !``, ``\\frac``, ``\\sqrt``, ``\\pi``, mixed
numbers, repeating decimals); a lone variable is a ``Sym``, ``\\pm\\infty`` an ``Inf``. Sizes are
bounded (limits.py): a literal over ``MAX_DIGITS`` digits, a power or factorial whose result
would exceed ``MAX_BITS`` bits raises ``TooLarge`` and is never computed. What the parser does not
know raises ``NotExact`` (the symbolic path decides it).
"""

from __future__ import annotations

import decimal
import math
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

from rewardsmith.verify.labels import _SYM_RE
from rewardsmith.verify.limits import MAX_BITS, MAX_DEPTH, MAX_DIGITS, MAX_FACTORIAL, MAX_RADICAND, NotExact, TooLarge
from rewardsmith.verify.tokens import Tok, _mixed_number_at
from rewardsmith.verify.tree import Leaf

__all__ = ["Num", "Sym", "Inf", "MAX_TERMS", "MAX_ROOTS", "MAX_CACHED_VALUES", "exact_value"]


@dataclass(frozen=True)
class Num:
    """sum of c * sqrt(r) * pi^k: ``terms`` = sorted tuple of ((r, k), c); ``pct``: written as %."""

    terms: tuple
    pct: bool = False
    dec: tuple | None = field(default=None, compare=False)
    """A lone decimal literal's (significant digits, power of ten of its last digit), else None."""

    @staticmethod
    def of(d: dict, pct: bool = False, dec: tuple | None = None) -> "Num":
        return Num(tuple(sorted((k, v) for k, v in d.items() if v != 0)), pct, dec)

    def d(self) -> dict:
        return dict(self.terms)


@dataclass(frozen=True)
class Sym:
    name: str


@dataclass(frozen=True)
class Inf:
    sign: int


def _check(q: Fraction) -> Fraction:
    if q.numerator.bit_length() > MAX_BITS or q.denominator.bit_length() > MAX_BITS:
        raise TooLarge("intermediate value over %d bits" % MAX_BITS)
    return q


@lru_cache(maxsize=4096)
def _squarefree(n: int) -> tuple[int, int]:
    """n = s^2 * f with f squarefree; returns (s, f). n <= MAX_RADICAND."""
    if n > MAX_RADICAND:
        raise NotExact("radicand too large for exact reduction")
    r = math.isqrt(n)
    if r * r == n:
        return r, 1
    s, f, p = 1, 1, 2
    while p * p <= n:
        while n % (p * p) == 0:
            n //= p * p
            s *= p
        if n % p == 0:
            n //= p
            f *= p
        p += 1 if p == 2 else 2
    return s, f * n


def _add(a: dict, b: dict, sign: int = 1) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _check(out.get(k, Fraction(0)) + sign * v)
    return {k: v for k, v in out.items() if v != 0}


MAX_TERMS = 64  # distinct radical terms in one exact value: (sqrt2 + sqrt3 + ...)^32 is refused


def _mul(a: dict, b: dict) -> dict:
    if len(a) * len(b) > MAX_TERMS * MAX_TERMS or len(a) + len(b) > 2 * MAX_TERMS:
        raise TooLarge(f"a product of sums with {len(a)} x {len(b)} terms")
    out: dict = {}
    for (r1, k1), c1 in a.items():
        for (r2, k2), c2 in b.items():
            g = math.gcd(r1, r2)
            key = ((r1 // g) * (r2 // g), k1 + k2)
            out[key] = _check(out.get(key, Fraction(0)) + c1 * c2 * g)
    if len(out) > MAX_TERMS:
        raise TooLarge(f"an exact value with {len(out)} radical terms")
    return {k: v for k, v in out.items() if v != 0}


def _inv(a: dict) -> dict:
    if not a:
        raise NotExact("division by zero")
    if len(a) == 1:
        ((r, k), c), = a.items()
        return {(r, -k): _check(1 / (c * r))}
    if len(a) == 2 and all(k == 0 for (_, k) in a):
        keys = sorted(a)
        (r0, _), (r1, _) = keys
        if r0 == 1:  # 1 / (p + q sqrt r) = (p - q sqrt r) / (p^2 - q^2 r)
            p, q = a[(1, 0)], a[(r1, 0)]
            den = p * p - q * q * r1
            if den != 0:
                return {(1, 0): _check(p / den), (r1, 0): _check(-q / den)}
    raise NotExact("division by a sum")


def _is_rational(a: dict) -> bool:
    return all(k == (1, 0) for k in a)


def _rat(a: dict) -> Fraction:
    return a.get((1, 0), Fraction(0))


def _pow(base: dict, e: dict) -> dict:
    if not _is_rational(e):
        raise NotExact("irrational exponent")
    q = _rat(e)
    if q.denominator == 2 and _is_rational(base) and _rat(base) >= 0:  # x^(n/2) = sqrt(x)^n
        return _pow(_sqrt(base), {(1, 0): Fraction(q.numerator)})
    if q.denominator != 1:
        raise NotExact("fractional exponent")
    n = q.numerator
    if not base:
        if n < 0:
            raise NotExact("0 to a negative power")
        return {} if n > 0 else {(1, 0): Fraction(1)}
    if n == 0:
        return {(1, 0): Fraction(1)}
    if len(base) == 1:
        ((r, k), c), = base.items()
        bits = max(c.numerator.bit_length(), c.denominator.bit_length(), r.bit_length(), 1)
        if abs(n) * bits > MAX_BITS:
            raise TooLarge(f"power with exponent {n} too large")
        m = abs(n)
        coef = c**m * Fraction(r) ** (m // 2)
        out = {(r if m % 2 else 1, k * m): coef}
        return _inv(out) if n < 0 else out
    if abs(n) > 32:
        raise TooLarge(f"power of a sum with exponent {n}")
    out = {(1, 0): Fraction(1)}
    for _ in range(abs(n)):
        out = _mul(out, base)
    return _inv(out) if n < 0 else out


def _sqrt(a: dict) -> dict:
    if not a:
        return {}
    if not _is_rational(a):
        raise NotExact("sqrt of an irrational")
    q = _rat(a)
    if q < 0:
        raise NotExact("sqrt of a negative number")
    s, f = _squarefree(q.numerator * q.denominator)
    return {(f, 0): Fraction(s, q.denominator)}


MAX_ROOTS = 32  # square roots in one leaf (each may cost a trial division up to 1e5)


def _literal(text: str) -> Fraction:
    """The exact value of a number literal (``12``, ``0.5``, ``1.5e3``); TooLarge past the bounds."""
    if len(text) > MAX_DIGITS:
        raise TooLarge(f"number with {len(text)} digits")
    mant, _, exp = text.lower().partition("e")
    q = Fraction(mant.rstrip(".") or "0")
    if exp:  # scientific notation: 1.5e3 (bounded exponent; Fraction("1e99999999") would hang)
        e = int(exp)
        if abs(e) > MAX_DIGITS:
            raise TooLarge(f"exponent {e}")
        q *= Fraction(10) ** e
    return q


class _Parser:
    """Recursive descent over a leaf's tokens into an exact value (dict form)."""

    def __init__(self, toks: tuple):
        self.t = toks
        self.i = 0
        self.depth = 0
        if sum(t.text == "\\sqrt" for t in toks) > MAX_ROOTS:
            raise TooLarge(f"more than {MAX_ROOTS} square roots")

    def peek(self, k: int = 0):
        j = self.i + k
        return self.t[j] if j < len(self.t) else None

    def take(self, text: str | None = None) -> Tok:
        t = self.peek()
        if t is None or (text is not None and t.text != text):
            raise NotExact(f"expected {text!r}")
        self.i += 1
        return t

    def parse(self) -> dict:
        v = self.expr()
        if self.peek() is not None:
            raise NotExact(f"unexpected {self.peek().text!r}")
        return v

    def expr(self) -> dict:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise TooLarge("expression nested too deep")
        v = self.term()
        while self.peek() is not None and self.peek().text in ("+", "-"):
            op = self.take().text
            v = _add(v, self.term(), 1 if op == "+" else -1)
        self.depth -= 1
        return v

    def term(self) -> dict:
        v = self.unary()
        while True:
            t = self.peek()
            if t is None:
                return v
            if t.text == "*":
                self.take()
                v = _mul(v, self.unary())
            elif t.text == "/":
                self.take()
                v = _mul(v, _inv(self.unary()))
            elif t.text == "\\frac" and self._after_integer_literal():
                f = self.atom()  # 2\frac{1}{2} = 5/2 (a mixed number), parsed once; 2\frac{6}{2} = 6
                if _is_rational(f) and _is_rational(v) and 0 < _rat(f) < 1:
                    v = _add(v, f, 1 if _rat(v) >= 0 else -1)  # -2\frac12 = -5/2
                else:
                    v = _mul(v, f)
            elif t.kind == "num" and self._after_integer_literal() and _mixed_number_at(self.t, self.i - 1):
                num = self._num(self.take().text)  # 1 1/2 = 3/2 (a mixed number)
                self.take("/")
                f = _mul(num, _inv(self._num(self.take().text)))
                v = _add(v, f, 1 if _rat(v) >= 0 else -1)
            elif t.kind == "num" and self.t[self.i - 1].text == "!":
                v = _mul(v, self.unary())  # 100!\,100! is a product
            elif t.kind == "num":
                raise TooLarge("two numbers side by side")  # _prepare refuses these first
            elif t.text in ("(", "{", "\\frac", "\\sqrt", "\\pi"):
                v = _mul(v, self.unary())
            else:
                return v

    def _after_integer_literal(self) -> bool:
        """The term so far is one integer literal (``2`` in ``2\\frac{1}{2}``)."""
        prev = self.t[self.i - 1] if self.i else None
        if prev is None or prev.kind != "num" or not prev.text.isdigit():
            return False
        return self.i == 1 or self.t[self.i - 2].text in ("+", "-", "(", "{", "[", ",", "=")

    def unary(self) -> dict:
        t = self.peek()
        if t is not None and t.text in ("-", "+"):
            self.take()
            v = self.unary()
            return {k: -c for k, c in v.items()} if t.text == "-" else v
        return self.power()

    def power(self) -> dict:
        base = self.postfix()
        if self.peek() is not None and self.peek().text == "^":
            self.take()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise TooLarge("exponent nested too deep")
            t = self.peek()
            if t is not None and t.text in ("-", "+"):
                self.take()
                e = self.power_operand()
                e = {k: -c for k, c in e.items()} if t.text == "-" else e
            else:
                e = self.power_operand()
            self.depth -= 1
            return _pow(base, e)
        return base

    def power_operand(self) -> dict:
        v = self.postfix()
        if self.peek() is not None and self.peek().text == "^":  # right associative
            self.take()
            e = self.power_operand()
            v = _pow(v, e)
        return v

    def postfix(self) -> dict:
        v = self.atom()
        while self.peek() is not None and self.peek().text == "!":
            bang = self.take()
            nxt = self.peek()
            double = nxt is not None and nxt.text == "!" and nxt.start == bang.end  # 5!! = 5*3*1
            if double:
                self.take()
            if not _is_rational(v) or _rat(v).denominator != 1 or _rat(v) < 0:
                raise NotExact("factorial of a non-integer")
            n = _rat(v).numerator
            if n > MAX_FACTORIAL:
                raise TooLarge(f"factorial of {n}")
            f = math.prod(range(n, 0, -2)) if double else math.factorial(n)
            v = {(1, 0): Fraction(f)}
        return v

    def group(self) -> dict:
        """``{...}`` or a single token (``\\frac12``, ``\\sqrt2``)."""
        t = self.peek()
        if t is None:
            raise NotExact("missing argument")
        if t.text == "{":
            self.take()
            v = self.expr()
            self.take("}")
            return v
        if t.kind == "num":
            self.take()
            if len(t.text) > 1 and t.text.isdigit():  # \frac12 = 1/2: one digit per argument
                self.t = self.t[: self.i - 1] + (
                    Tok("num", t.text[0], t.start, t.start + 1),
                    Tok("num", t.text[1:], t.start + 1, t.end),
                ) + self.t[self.i :]
                return self._num(t.text[0])
            return self._num(t.text)
        return self.atom()

    def _repeating(self, text: str) -> dict:
        """``0.1\\overline{6}`` = 1/6: digits ``a.b`` then the repeating block ``r``."""
        self.take("{")
        t = self.take()
        self.take("}")
        if t.kind != "num" or not t.text.isdigit() or len(text) + len(t.text) > MAX_DIGITS:
            raise NotExact("repeating decimal")
        a, _, b = text.partition(".")
        r = t.text
        whole = int(a + b + r) - int(a + b or "0")
        return {(1, 0): Fraction(whole, 10 ** len(b) * (10 ** len(r) - 1))}

    def _num(self, text: str) -> dict:
        q = _literal(text)
        return {(1, 0): q} if q else {}

    def atom(self) -> dict:
        t = self.peek()
        if t is None:
            raise NotExact("unexpected end")
        if t.kind == "num":
            self.take()
            nxt = self.peek()
            if nxt is not None and nxt.text == "\\overline" and "." in t.text:
                self.take()
                return self._repeating(t.text)
            v = self._num(t.text)
            return {k: c for k, c in v.items() if c != 0}
        if t.text in ("(", "{", "["):
            close = {"(": ")", "{": "}", "[": "]"}[t.text]
            self.take()
            v = self.expr()
            self.take(close)
            return v
        if t.text == "\\frac":
            self.take()
            num = self.group()
            den = self.group()
            return _mul(num, _inv(den))
        if t.text == "\\sqrt":
            self.take()
            if self.peek() is not None and self.peek().text == "[":
                raise NotExact("n-th root")
            return _sqrt(self.group())
        if t.text == "\\pi":
            self.take()
            return {(1, 1): Fraction(1)}
        raise NotExact(f"token {t.text!r}")


_VALUES: dict = {}  # leaf text -> exact value or the exception it raised (a gold is read G times)
MAX_CACHED_VALUES = 8192


def exact_value(leaf: Leaf):
    """Exact value of a leaf: ``Num``, ``Inf`` or ``Sym`` (a lone variable name).

    Raises NotExact when the leaf needs the symbolic path, TooLarge when it is refused. Cached by
    the leaf's text (the same text always tokenizes the same)."""
    hit = _VALUES.get(leaf.text)
    if hit is None:
        try:
            hit = _exact_value(leaf)
        except (NotExact, TooLarge) as e:
            hit = e
        if len(_VALUES) >= MAX_CACHED_VALUES:
            _VALUES.clear()
        _VALUES[leaf.text] = hit
    if isinstance(hit, Exception):
        raise type(hit)(*hit.args)
    return hit


def _exact_value(leaf: Leaf):
    toks = leaf.toks
    if not toks:
        raise NotExact("empty")
    text = leaf.text
    if _SYM_RE.fullmatch(text.replace(" ", "")):
        return Sym(text.replace(" ", "").replace("{", "").replace("}", ""))  # x_{1} is x_1
    pct = False
    if toks[-1].text == "%":
        pct, toks = True, toks[:-1]
        if not toks:
            raise NotExact("lone %")
    sign = 1
    body = toks
    while body and body[0].text in ("+", "-"):
        sign = -sign if body[0].text == "-" else sign
        body = body[1:]
    if len(body) == 1 and body[0].text == "\\infty":
        return Inf(sign)
    for t in toks:
        if t.kind in ("ident", "other") or t.text in ("\\infty", "%", "=", "_", "|", "'"):
            raise NotExact(f"token {t.text!r}")
    dec = _decimal_precision(body[0].text) if len(body) == 1 and body[0].kind == "num" and not pct else None
    return Num.of(_Parser(toks).parse(), pct, dec)


def _decimal_precision(text: str) -> tuple | None:
    """(significant digits, power of ten of the last digit) of a literal with a point or an
    exponent: ``0.0833`` -> (3, -4), ``1.5e3`` -> (2, 2); None for an integer literal."""
    mant, _, exp = text.lower().partition("e")
    if "." not in mant and not exp:
        return None
    whole, _, frac = mant.partition(".")
    digits = (whole + frac).lstrip("0")
    return len(digits), -len(frac) + (int(exp) if exp else 0)


_PI = decimal.Decimal(
    "3.14159265358979323846264338327950288419716939937510582097494459230781640628620899862803482534211706798"
)


def _approx(v: Num) -> decimal.Decimal:
    """The value to 90 significant digits (``decimal``: no float rounding, no sympy import)."""
    with decimal.localcontext() as ctx:
        ctx.prec = 90
        total = decimal.Decimal(0)
        for (r, k), c in v.terms:
            total += decimal.Decimal(c.numerator) / decimal.Decimal(c.denominator) * decimal.Decimal(r).sqrt() * _PI**k
        return total
