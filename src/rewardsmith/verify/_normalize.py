"""Answer normalization, structure and the exact (pure Python) value parser.

An answer string goes through three pure, bounded steps:

1. ``normalize``: strip ``$``, ``\\left``/``\\right``, spacing commands, ``\\text{}`` units,
   ``^\\circ``, ``\\dfrac``/``\\tfrac`` -> ``\\frac``, unicode math signs, thousands separators.
2. ``tokenize`` + ``structure``: a tree of ``Seq`` (tuple/interval ``(a,b]``, set ``\\{a,b\\}``,
   bare list ``a, b``), ``Union`` (``A \\cup B``), ``Eq`` (``lhs = rhs``) and ``Leaf`` nodes.
3. ``exact_value``: a leaf's value as an exact number ``sum_i c_i * sqrt(r_i) * pi^k_i`` with
   rational ``c_i`` (``fractions.Fraction``), squarefree ``r_i`` and integer ``k_i``. This form is
   canonical (square roots of distinct squarefree integers are linearly independent over Q, and pi
   is transcendental), so two leaves are equal iff their term dictionaries are equal.
   Sizes are bounded: a literal over ``MAX_DIGITS`` digits, a power or factorial whose result
   would exceed ``MAX_BITS`` bits raises ``TooLarge`` and is never computed.

``compare(pred_tree, gold_tree, leaf_eq)`` walks two trees with a leaf comparator; the in-process
caller passes the exact comparator, the symbolic worker passes one that falls back to sympy.
Everything here is linear in the input length and recursion is bounded by ``MAX_DEPTH``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Callable, Union as _U

__all__ = [
    "MAX_ANSWER_CHARS",
    "MAX_DEPTH",
    "NotExact",
    "TooLarge",
    "Leaf",
    "Seq",
    "UnionNode",
    "Eq",
    "Num",
    "Sym",
    "Inf",
    "normalize",
    "tokenize",
    "structure",
    "exact_value",
    "compare",
    "exact_leaf_eq",
    "Undecided",
    "Prepared",
    "prepare",
]

MAX_ANSWER_CHARS = 10_000  # longer "answers" are refused (parse_error), never parsed
MAX_DEPTH = 100  # bracket nesting / parser recursion bound
MAX_DIGITS = 2_000  # digits of one numeric literal
MAX_BITS = 100_000  # bits of any intermediate numerator/denominator (~30,000 digits)
MAX_FACTORIAL = 5_000  # n! computed exactly for n <= this (5000! has 16,326 digits)
MAX_RADICAND = 10**10  # sqrt(n) reduced by trial division up to 1e5


class NotExact(Exception):
    """The leaf is not a pure number the exact path understands (symbols, functions...)."""


class TooLarge(Exception):
    """The value would be too large to compute; it is refused, never computed."""


# --------------------------------------------------------------------------------------------
# 1. normalization
# --------------------------------------------------------------------------------------------

_UNICODE = {
    "\u2212": "-",  # minus sign
    "\u2013": "-",
    "\u00d7": "*",
    "\u22c5": "*",
    "\u00b7": "*",
    "\u00f7": "/",
    "\u03c0": "\\pi ",
    "\u221e": "\\infty ",
    "\u221a": "\\sqrt ",
    "\u00b0": "^\\circ ",  # degree sign
    "\u222a": "\\cup ",
    "\u2264": "\\le ",
    "\u2265": "\\ge ",
    "\u00a0": " ",
    "\u2205": "\\emptyset ",
}
_UNICODE_RE = re.compile("|".join(map(re.escape, _UNICODE)))
# x² -> x^{2}, 2⁻¹ -> 2^{-1}, x₁ -> x_{1}, 1½ -> 1\frac{1}{2} (a mixed number)
_SUPER = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻", "0123456789+-")
_SUB = str.maketrans("₀₁₂₃₄₅₆₇₈₉₊₋", "0123456789+-")
_SUPER_RE = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻]+")
_SUB_RE = re.compile("[₀₁₂₃₄₅₆₇₈₉₊₋]+")
_VULGAR = {"½": (1, 2), "⅓": (1, 3), "⅔": (2, 3), "¼": (1, 4), "¾": (3, 4), "⅕": (1, 5), "⅖": (2, 5),
           "⅗": (3, 5), "⅘": (4, 5), "⅙": (1, 6), "⅚": (5, 6), "⅛": (1, 8), "⅜": (3, 8), "⅝": (5, 8),
           "⅞": (7, 8)}
_VULGAR_RE = re.compile("[" + "".join(_VULGAR) + "]")


def _unicode_scripts(s: str) -> str:
    s = _SUPER_RE.sub(lambda m: "^{" + m.group(0).translate(_SUPER) + "}", s)
    s = _SUB_RE.sub(lambda m: "_{" + m.group(0).translate(_SUB) + "}", s)
    return _VULGAR_RE.sub(lambda m: "\\frac{%d}{%d}" % _VULGAR[m.group(0)], s)

# Replacements applied in order (plain substring replacement: linear, no backtracking).
_REPLACE = [
    ("\\dfrac", "\\frac"),
    ("\\tfrac", "\\frac"),
    ("\\cfrac", "\\frac"),
    ("\\displaystyle", ""),
    ("\\left", ""),
    ("\\right", ""),
    ("\\bigcup", "\\cup"),
    ("\\bigl", ""),
    ("\\bigr", ""),
    ("\\Bigl", ""),
    ("\\Bigr", ""),
    ("\\big", ""),
    ("\\Big", ""),
    ("\\!", ""),
    ("\\,", ""),
    ("\\;", ""),
    ("\\:", ""),
    ("\\ ", " "),
    ("{,}", ""),
    ("\\cdot", "*"),
    ("\\times", "*"),
    ("\\ast", "*"),
    ("\\div", "/"),
    ("**", "^"),
    ("\\$", ""),
    ("$", ""),
    ("^{\\circ}", ""),
    ("^\\circ", ""),
    ("\\degree", ""),
    ("\\%", "%"),
    ("\\lbrace", "\\{"),
    ("\\rbrace", "\\}"),
    ("\\lbrack", "["),
    ("\\rbrack", "]"),
    ("\\leq", "\\le"),
    ("\\geq", "\\ge"),
    ("\\infin", "\\infty"),
    ("\\varnothing", "\\emptyset"),
    ("\\dots", ""),
    ("\\ldots", ""),
]

_TRIG = ("\\sin", "\\cos", "\\tan", "\\cot", "\\sec", "\\csc")
_DEGREE = ("^{\\circ}", "^\\circ", "\\degree")
_TEXT_CMDS = ("\\text", "\\textbf", "\\textit", "\\textrm", "\\mbox", "\\mathrm", "\\mathbf", "\\operatorname")
_UNIT_WORDS = frozenset(
    """
    cm mm m km meter meters metre metres centimeter centimeters kilometer kilometers inch inches in ft
    foot feet yard yards yd mile miles mi mph kph kmh kg g gram grams kilogram kilograms lb lbs pound
    pounds oz ounce ounces l ml liter liters litre litres gallon gallons s sec second seconds min minute
    minutes h hr hrs hour hours day days week weeks month months year years yr dollar dollars cent cents
    usd degree degrees deg rad radian radians unit units sq square cubic percent people students apples
    per times ways
    """.split()
)
_WORD_RE = re.compile(r"[A-Za-z]+")


def _brace_map(s: str) -> dict[int, int]:
    """{index of ``{``: index just past its matching ``}``} for the whole string, one pass
    (escaped ``\\{``/``\\}`` skipped); unbalanced braces are absent."""
    out: dict[int, int] = {}
    stack: list[int] = []
    n = len(s)
    j = 0
    while j < n:
        c = s[j]
        if c == "\\":
            j += 2
            continue
        if c == "{":
            stack.append(j)
        elif c == "}" and stack:
            out[stack.pop()] = j + 1
        j += 1
    return out


def _is_unit_text(content: str) -> bool:
    words = _WORD_RE.findall(content)
    if not words:
        return False
    rest = _WORD_RE.sub("", content)
    if any(c not in " ^/.{}0123456789-" for c in rest):
        return False
    return all(w.lower() in _UNIT_WORDS for w in words)


def _strip_text_commands(s: str) -> str:
    """``\\text{cm}``-style units are dropped; other ``\\text{...}`` groups are unwrapped."""
    out: list[str] = []
    braces = _brace_map(s)
    has_value = False  # something other than spaces already written
    i = 0
    n = len(s)
    while i < n:
        if s[i] == "\\":
            cmd = None
            for c in _TEXT_CMDS:
                if s.startswith(c, i) and not s[i + len(c) : i + len(c) + 1].isalpha():
                    cmd = c
                    break
            if cmd is not None:
                j = i + len(cmd)
                while j < n and s[j] == " ":
                    j += 1
                if j < n and s[j] == "{" and j in braces:
                    end = braces[j]
                    content = s[j + 1 : end - 1]
                    if _is_unit_text(content) and has_value:
                        out.append(" ")  # a unit after a value: dropped, with its power
                        if s.startswith("^", end):
                            if s.startswith("^{", end) and end + 1 in braces:
                                end = braces[end + 1]
                            elif end + 1 < n and s[end + 1].isdigit():
                                end += 2
                    else:
                        out.append(" " + content + " ")
                        has_value = has_value or bool(content.strip())
                    i = end
                    continue
        out.append(s[i])
        has_value = has_value or not s[i].isspace()
        i += 1
    return "".join(out)


_FRAC_SHORT_RE = re.compile(r"\\frac ?(\d) ?(\d)")
_SQRT_SHORT_RE = re.compile(r"\\sqrt ?(\d)")
_U_UNION_RE = re.compile(r"([)\]])\s?U\s?([(\[])")
_THOUSANDS_RE = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_SPACE_THOUSANDS_RE = re.compile(r"[+-]?\d{1,3}(?: \d{3})+(?:\.\d+)?")
_ASSIGN_PREFIX = ("final answer:", "answer:")


def normalize(s: str) -> str:
    """Canonical text of an answer (see module docstring). Pure, linear, bounded input."""
    s = s.strip()
    if not s.isascii():
        s = _unicode_scripts(s)
    if _UNICODE_RE.search(s):
        s = _UNICODE_RE.sub(lambda m: _UNICODE[m.group(0)], s)
    # drop control characters (and lone surrogates from surrogateescape-decoded bytes)
    if not s.isprintable():
        s = "".join(c if (c.isprintable() and not "\ud800" <= c <= "\udfff") else " " for c in s)
    low = s.lower()
    for p in _ASSIGN_PREFIX:
        if low.startswith(p):
            s = s[len(p) :]
            break
    while len(s) > 4 and s.startswith("**") and s.endswith("**"):  # markdown bold
        s = s[2:-2].strip()
    s = s.replace("\\(", "").replace("\\)", "").replace("\\[", "").replace("\\]", "")
    trig = any(f in s for f in _TRIG)
    for a, b in _REPLACE:
        if a in s and not (trig and a in _DEGREE):  # sin 30^\circ: degrees stay, sympy converts
            s = s.replace(a, b)
    # \boxed{...} wrapping the whole answer
    for box in ("\\boxed", "\\fbox"):
        if s.startswith(box):
            j = len(box)
            while j < len(s) and s[j] == " ":
                j += 1
            if j < len(s) and s[j] == "{" and s.endswith("}"):
                end = _brace_map(s).get(j, -1)
                if end == len(s):
                    s = s[j + 1 : end - 1]
    if "\\frac" in s or "\\sqrt" in s:  # \frac12 -> \frac{1}{2}, \sqrt3 -> \sqrt{3} (sympy's grammar wants braces)
        s = _FRAC_SHORT_RE.sub(r"\\frac{\1}{\2}", s)
        s = _SQRT_SHORT_RE.sub(r"\\sqrt{\1}", s)
    if "\\text" in s or "\\mbox" in s or "\\math" in s or "\\operatorname" in s:
        s = _strip_text_commands(s)
    s = " ".join(s.split())
    s = s.rstrip(".").strip()
    if " and " in s:  # "19, 46, and 82" / "2 and 3": a list of answers
        s = s.replace(", and ", ", ").replace(" and ", ", ")
    # "5 cm", "12 dollars": trailing unit words after a value (a backwards scan, no regex)
    if s and s[-1].isalpha():
        i = len(s)
        while i > 0 and (s[i - 1].isascii() and (s[i - 1].isalpha() or s[i - 1] == " ")):
            i -= 1
        head, words = s[:i].rstrip(), s[i:].split()
        if head and head[-1] in "0123456789}%" and words and all(w.lower() in _UNIT_WORDS for w in words):
            s = head
    if "U" in s:  # "(1,2) U (3,4)": a U between intervals is a union
        s = _U_UNION_RE.sub(r"\1 \\cup \2", s)
    if s in ("\\mathbb{R}", "\\mathbb R", "\\R", "\\reals"):  # all reals
        s = "(-\\infty, \\infty)"
    if "," in s and _THOUSANDS_RE.fullmatch(s):
        s = s.replace(",", "")
    elif " " in s and _SPACE_THOUSANDS_RE.fullmatch(s):  # "1 000 000" (SI style)
        s = s.replace(" ", "")
    return s


# --------------------------------------------------------------------------------------------
# 2. tokens and structure
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tok:
    kind: str  # num, cmd, ident, punct, other
    text: str
    start: int
    end: int


_NUM_RE = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+(?![A-Za-z]))?")
_IDENT_RE = re.compile(r"[A-Za-z]+")
_CMD_RE = re.compile(r"\\(?:[A-Za-z]+|.)", re.DOTALL)
_PUNCT = set("+-*/^!=(),[]{}|<>_%'")


def tokenize(s: str) -> tuple[Tok, ...]:
    """Linear tokenizer: numbers, ``\\commands``, letter runs, punctuation, other characters."""
    toks = []
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c.isspace():
            i += 1
            continue
        m = _NUM_RE.match(s, i) if (c.isdigit() or c == ".") else None
        if m is not None:
            toks.append(Tok("num", m.group(0), i, m.end()))
            i = m.end()
        elif c == "\\":
            m = _CMD_RE.match(s, i)
            if m is None:
                toks.append(Tok("other", c, i, i + 1))
                i += 1
            else:
                toks.append(Tok("cmd", m.group(0), i, m.end()))
                i = m.end()
        elif c.isascii() and c.isalpha():
            m = _IDENT_RE.match(s, i)
            toks.append(Tok("ident", m.group(0), i, m.end()))
            i = m.end()
        elif c in _PUNCT:
            toks.append(Tok("punct", c, i, i + 1))
            i += 1
        else:
            toks.append(Tok("other", c, i, i + 1))
            i += 1
    return tuple(toks)


_OPEN = {"(", "[", "{", "\\{"}
_CLOSE = {")", "]", "}", "\\}"}
_REL = {"<", ">", "\\le", "\\ge", "\\ne", "\\neq", "\\lt", "\\gt", "\\approx", "\\in", "\\pm", "\\mp"}


@dataclass(frozen=True)
class Leaf:
    text: str
    toks: tuple


@dataclass(frozen=True)
class Seq:
    """Bracketed or bare comma-separated sequence. kind: 'set' (``\\{..\\}``), 'list' (bare
    ``a, b``: the solutions of a problem, unordered), 'tuple' (``(..)``/``[..]`` with any mix of
    brackets; tuples and intervals are both ordered and compared with their brackets)."""

    kind: str
    open: str
    close: str
    items: tuple


@dataclass(frozen=True)
class UnionNode:
    items: tuple


@dataclass(frozen=True)
class Eq:
    lhs: object
    rhs: object


Node = _U[Leaf, Seq, UnionNode, Eq]


def _text(s: str, toks: tuple) -> str:
    return s[toks[0].start : toks[-1].end] if toks else ""


def _split_top(toks: tuple, pred: Callable[[Tok], bool]) -> list[tuple]:
    parts, depth, cur = [], 0, []
    for t in toks:
        if t.text in _OPEN:
            depth += 1
        elif t.text in _CLOSE:
            depth -= 1
        if depth == 0 and pred(t):
            parts.append(tuple(cur))
            cur = []
        else:
            cur.append(t)
    parts.append(tuple(cur))
    return parts


def _wrapped(toks: tuple) -> bool:
    """True when toks[0] is an opening bracket matched by toks[-1]."""
    if len(toks) < 2 or toks[0].text not in _OPEN or toks[-1].text not in _CLOSE:
        return False
    depth = 0
    for k, t in enumerate(toks):
        if t.text in _OPEN:
            depth += 1
        elif t.text in _CLOSE:
            depth -= 1
            if depth == 0:
                return k == len(toks) - 1
    return False


def _max_depth(toks: tuple) -> int:
    depth = best = 0
    for t in toks:
        if t.text in _OPEN:
            depth += 1
            best = max(best, depth)
        elif t.text in _CLOSE:
            depth -= 1
    return best


def structure(s: str, toks: tuple | None = None, _depth: int = 0) -> Node:
    """Tree of an answer: list -> equation -> union -> bracketed sequence -> leaf."""
    if toks is None:
        toks = tokenize(s)
    if _depth == 0 and _max_depth(toks) > MAX_DEPTH:  # the top call: once per answer
        raise TooLarge(f"brackets nested deeper than {MAX_DEPTH}")
    if _depth > MAX_DEPTH:
        raise TooLarge(f"structure nested deeper than {MAX_DEPTH}")
    d = _depth + 1
    pm = [k for k, t in enumerate(toks) if t.text in ("\\pm", "\\mp")]
    if len(pm) == 1:  # "1 \pm \sqrt{2}", "x = \pm 2": the list of both signs
        a, b = toks[pm[0]].start, toks[pm[0]].end
        lo, hi = toks[0].start, toks[-1].end
        return Seq("list", "", "", tuple(structure(s[lo:a] + sign + s[b:hi]) for sign in ("+", "-")))
    parts = _split_top(toks, lambda t: t.text == ",")
    if len(parts) > 1 and all(parts):
        return Seq("list", "", "", tuple(structure(s, p, d) for p in parts))
    for k, t in enumerate(toks):  # "x \in [1, 2]" is the set on the right
        if t.text == "\\in" and k > 0 and _SYM_RE.fullmatch(_text(s, toks[:k]).replace(" ", "")):
            return structure(s, toks[k + 1 :], d) if toks[k + 1 :] else Leaf(_text(s, toks), toks)
        if t.text in _OPEN or t.text in _CLOSE:
            break
    if any(t.text in _REL for t in toks):
        return Leaf(_text(s, toks), toks)  # inequalities, memberships, +-: symbolic only
    parts = _split_top(toks, lambda t: t.text == "=")
    if len(parts) == 2 and all(parts):
        return Eq(structure(s, parts[0], d), structure(s, parts[1], d))
    if len(parts) > 2:
        return Leaf(_text(s, toks), toks)
    parts = _split_top(toks, lambda t: t.text == "\\cup")
    if len(parts) > 1 and all(parts):
        return UnionNode(tuple(structure(s, p, d) for p in parts))
    if len(toks) == 1 and toks[0].text == "\\emptyset":
        return Seq("set", "\\{", "\\}", ())
    if _wrapped(toks):
        o, c = toks[0].text, toks[-1].text
        inner = toks[1:-1]
        items = _split_top(inner, lambda t: t.text == ",")
        if o == "\\{" and c == "\\}":
            if not inner:
                return Seq("set", o, c, ())
            return Seq("set", o, c, tuple(structure(s, p, d) for p in items))
        if o != "{" and c != "}" and o != "\\{" and c != "\\}" and len(items) > 1 and all(items):
            return Seq("tuple", o, c, tuple(structure(s, p, d) for p in items))
        if o == "{" and c == "}" and inner:
            return structure(s, inner, d)
    return Leaf(_text(s, toks), toks)


# --------------------------------------------------------------------------------------------
# 3. exact values
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Num:
    """sum of c * sqrt(r) * pi^k: ``terms`` = sorted tuple of ((r, k), c); ``pct``: written as %."""

    terms: tuple
    pct: bool = False

    @staticmethod
    def of(d: dict, pct: bool = False) -> "Num":
        return Num(tuple(sorted((k, v) for k, v in d.items() if v != 0)), pct)

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
                f = self.atom()  # 2\frac{1}{2} = 5/2 (a mixed number), parsed once
                if _is_rational(f) and _is_rational(v):
                    v = _add(v, f, 1 if _rat(v) >= 0 else -1)  # -2\frac12 = -5/2
                else:
                    v = _mul(v, f)
            elif t.kind == "num" and self._after_integer_literal() and _mixed_number_at(self.t, self.i - 1):
                num = self._num(self.take().text)  # 1 1/2 = 3/2 (a mixed number)
                self.take("/")
                f = _mul(num, _inv(self._num(self.take().text)))
                v = _add(v, f, 1 if _rat(v) >= 0 else -1)
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
        if len(text) > MAX_DIGITS:
            raise TooLarge(f"number with {len(text)} digits")
        mant, _, exp = text.lower().partition("e")
        q = Fraction(mant.rstrip(".") or "0")
        if exp:  # scientific notation: 1.5e3 (bounded exponent; Fraction("1e99999999") would hang)
            e = int(exp)
            if abs(e) > MAX_DIGITS:
                raise TooLarge(f"exponent {e}")
            q *= Fraction(10) ** e
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


_SYM_RE = re.compile(r"[A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?|\\(?:alpha|beta|gamma|theta|lambda|mu|phi|omega)")


def exact_value(leaf: Leaf):
    """Exact value of a leaf: ``Num``, ``Inf`` or ``Sym`` (a lone variable name).

    Raises NotExact when the leaf needs the symbolic path, TooLarge when it is refused."""
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
    return Num.of(_Parser(toks).parse(), pct)


def _num_eq(a: Num, b: Num) -> bool:
    if a.pct == b.pct:
        return a.terms == b.terms
    # one side written as a percent: 50% equals 50 (unit dropped) and 0.5 (value)
    p, q = (a, b) if a.pct else (b, a)
    if p.terms == q.terms:
        return True
    scaled = tuple((k, c / 100) for k, c in p.terms)
    return scaled == q.terms


class Undecided(Exception):
    """The exact path cannot decide; the pair goes to the symbolic worker."""


def exact_leaf_eq(a: Leaf, b: Leaf) -> bool:
    if squash(a.text) == squash(b.text):
        return True
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


_FUNC_LHS_RE = re.compile(r"[A-Za-z]\([A-Za-z]\)")


def _is_symbol_leaf(n: Node) -> bool:
    """A lone variable (``x``, ``x_1``) or function value (``f(x)``) on an equation's left."""
    if not isinstance(n, Leaf):
        return False
    t = n.text.replace(" ", "")
    return bool(_SYM_RE.fullmatch(t) or _FUNC_LHS_RE.fullmatch(t))


def _solved_for(e: "Eq") -> Node | None:
    """The value side of ``x = 3`` or ``3 = x`` (a lone variable on one side only), else None."""
    if _is_symbol_leaf(e.lhs):
        return e.rhs
    if _is_symbol_leaf(e.rhs):
        return e.lhs
    return None


_LESS = {"<": True, "\\lt": True, "\\le": False}  # relation -> strict?
_MORE = {">": True, "\\gt": True, "\\ge": False}


def _inequality_interval(leaf: Leaf) -> Node | None:
    """``1 \\le x < 2`` -> ``[1, 2)``; ``x > 2`` / ``2 < x`` -> ``(2, \\infty)``: an inequality in one
    lone variable as the interval it describes (only to compare it with an interval)."""
    toks = leaf.toks
    rel = [k for k, t in enumerate(toks) if t.text in _LESS or t.text in _MORE]
    if not rel or len(rel) > 2:
        return None
    s = leaf.text
    bounds = [0] + [x for k in rel for x in (k, k + 1)] + [len(toks)]
    parts = [toks[bounds[i]:bounds[i + 1]] for i in range(0, len(bounds), 2)]
    if not all(parts):
        return None
    texts = [_text(s, p) for p in parts]
    ops = [toks[k].text for k in rel]
    is_var = [bool(_SYM_RE.fullmatch(t.replace(" ", ""))) for t in texts]
    if len(ops) == 2:  # a < x < b (or a > x > b)
        if not is_var[1] or is_var[0] or is_var[2]:
            return None
        if all(o in _LESS for o in ops):
            lo, lo_strict, hi, hi_strict = texts[0], _LESS[ops[0]], texts[2], _LESS[ops[1]]
        elif all(o in _MORE for o in ops):
            lo, lo_strict, hi, hi_strict = texts[2], _MORE[ops[1]], texts[0], _MORE[ops[0]]
        else:
            return None
    elif is_var[0] != is_var[1]:
        op = ops[0]
        var_left = is_var[0]
        bound = texts[1] if var_left else texts[0]
        strict = _LESS.get(op, _MORE.get(op))
        if (op in _LESS) == var_left:  # x < b, or b > x: an upper bound
            lo, lo_strict, hi, hi_strict = "-\\infty", True, bound, strict
        else:
            lo, lo_strict, hi, hi_strict = bound, strict, "\\infty", True
    else:
        return None
    text = ("(" if lo_strict else "[") + lo + ", " + hi + (")" if hi_strict else "]")
    try:
        return structure(text)
    except TooLarge:
        return None


MAX_PAIRS = 40_000  # element comparisons for one set/list match (200 x 200; each may be exact math)


def _match_set(xs: tuple, ys: tuple, eq) -> bool:
    """Set equality: every x equals some y and every y some x (duplicates collapse)."""
    if len(xs) * len(ys) > MAX_PAIRS:  # a 2,000-element set took 65 s in process (red-teamed)
        raise TooLarge(f"sets of {len(xs)} and {len(ys)} elements")
    return all(any(eq(x, y) for y in ys) for x in xs) and all(any(eq(x, y) for x in xs) for y in ys)


def _match_unordered(xs: tuple, ys: tuple, eq) -> bool:
    if len(xs) != len(ys):
        return False
    if len(xs) * len(ys) > MAX_PAIRS:
        raise TooLarge(f"unions of {len(xs)} parts")
    used = [False] * len(ys)
    for x in xs:
        for j, y in enumerate(ys):
            if not used[j] and eq(x, y):
                used[j] = True
                break
        else:
            return False
    return True


def compare(p: Node, g: Node, leaf_eq: Callable[[Leaf, Leaf], bool], eq_eq=None) -> bool:
    """Structural equality of two answer trees; ``leaf_eq`` decides leaves (may raise).

    Rules: tuples/intervals are ordered and their brackets must match (``(1,2)`` != ``[1,2)``);
    sets and bare lists are unordered and interchangeable (``\\{1,2\\}`` == ``2, 1``) but never
    equal a tuple (``(1,2)`` != ``\\{1,2\\}``); unions are unordered; ``x = 3`` (a lone variable on
    the left) equals ``3``; an equation equals an equation with the same sides (either order) or,
    on the symbolic path, ``eq_eq`` (proportional ``lhs - rhs``)."""

    def rec(a: Node, b: Node) -> bool:
        return compare(a, b, leaf_eq, eq_eq)

    if isinstance(p, Eq) and isinstance(g, Eq):
        try:
            if rec(p.lhs, g.lhs) and rec(p.rhs, g.rhs):
                return True
            if rec(p.lhs, g.rhs) and rec(p.rhs, g.lhs):
                return True
        except Undecided:
            if eq_eq is None:
                raise
        if eq_eq is not None:
            return eq_eq(p, g)
        return False
    if isinstance(p, Eq) and not isinstance(g, Eq):
        side = _solved_for(p)
        return side is not None and rec(side, g)
    if isinstance(g, Eq) and not isinstance(p, Eq):
        side = _solved_for(g)
        return side is not None and rec(p, side)
    if isinstance(p, Eq) or isinstance(g, Eq):
        return False
    if isinstance(p, Seq) and isinstance(g, Seq):
        unordered = {"set", "list"}
        if (p.kind in unordered) != (g.kind in unordered):
            return False
        if p.kind in unordered:
            return _match_set(p.items, g.items, rec)
        if (p.open, p.close) != (g.open, g.close) or len(p.items) != len(g.items):
            return False
        return all(rec(x, y) for x, y in zip(p.items, g.items))
    if isinstance(p, UnionNode) and isinstance(g, UnionNode):
        return _match_unordered(p.items, g.items, rec)
    if isinstance(p, Leaf) and isinstance(g, Seq) and g.kind == "tuple":  # x > 2 against (2, \infty)
        iv = _inequality_interval(p)
        if iv is not None:
            return rec(iv, g)
    if isinstance(g, Leaf) and isinstance(p, Seq) and p.kind == "tuple":
        iv = _inequality_interval(g)
        if iv is not None:
            return rec(p, iv)
    if isinstance(p, Leaf) and isinstance(g, Leaf):
        return leaf_eq(p, g)
    # a structure against a leaf: unequal unless the leaf hides a structure only sympy sees
    leaf = p if isinstance(p, Leaf) else g if isinstance(g, Leaf) else None
    if leaf is not None and eq_eq is None:  # exact mode: let the symbolic path look
        try:
            exact_value(leaf)
        except (NotExact, TooLarge):
            raise Undecided("structure against an unparsed leaf") from None
    return False


@dataclass(frozen=True)
class Prepared:
    """A normalized answer and its structure tree (``tree`` is None when refused: ``error``).

    ``key``: the text without spaces, except one between two letters or digits (``2 3`` is not
    ``23``); ``textual``: the answer holds ``\\text{...}`` words, so it compares as text."""

    text: str
    key: str
    tree: object
    error: str
    textual: bool = False


_GAP_RE = re.compile(r"(?<![0-9A-Za-z.]) | (?![0-9A-Za-z.])")
_BARE_CIRC_RE = re.compile(r"(?<!\^)(?<!\^\{)\\circ\b")
_TEXT_GROUP_RE = re.compile(r"\\(?:text|textbf|textit|textrm|mbox)\s*\{([^{}]*)\}")
_CONNECTIVES = frozenset({"or", "and"})


def squash(text: str) -> str:
    """Spaces dropped, except a single one between two letters or digits: ``2 3`` stays two
    numbers (it is neither ``23`` nor ``2 * 3``)."""
    return _GAP_RE.sub("", " ".join(text.split()))


def _is_textual(raw: str) -> bool:
    """``\\text{...}`` holds words (not units, not ``or``/``and``): ``\\text{ABC}``,
    ``\\text{no solution}``. Such answers compare as text, never as products of symbols."""
    for m in _TEXT_GROUP_RE.finditer(raw):
        words = [w for w in _WORD_RE.findall(m.group(1)) if len(w) > 1]
        if any(w.lower() not in _CONNECTIVES for w in words) and not _is_unit_text(m.group(1)):
            return True
    return False


def _side_by_side(toks: tuple) -> bool:
    """Two numbers with only a space between them (``2 3``, ``1 000`` left over), other than a
    mixed number ``1 1/2``: an answer that could be read as ``23``, ``2 * 3`` or two answers."""
    for k in range(1, len(toks)):
        if toks[k].kind == "num" and toks[k - 1].kind == "num":
            if _mixed_number_at(toks, k - 1) or (k >= 2 and toks[k - 2].text in ("_", "^")):
                continue  # 1 1/2; \log_2 8 and x^2 3 (a sub/superscript, then a factor)
            return True
    return False


def _mixed_number_at(toks: tuple, k: int) -> bool:
    """``toks[k:k+4]`` is ``W N / D`` with integers, ``N < D``, standing alone in its term."""
    w = toks[k : k + 4]
    if len(w) < 4 or w[2].text != "/" or not all(t.kind == "num" and t.text.isdigit() for t in (w[0], w[1], w[3])):
        return False
    if int(w[1].text) >= int(w[3].text):
        return False
    before = toks[k - 1].text if k > 0 else None
    after = toks[k + 4].text if k + 4 < len(toks) else None
    return before in (None, "+", "-", "(", "[", "{", ",", "=") and after in (None, ")", "]", "}", ",", "=")


def prepare(raw: str) -> Prepared:
    """Normalize and structure one answer; cached, since each gold answer is checked G times."""
    if len(raw) > MAX_ANSWER_CHARS:
        return Prepared("", "", None, f"answer longer than {MAX_ANSWER_CHARS} characters ({len(raw)})")
    return _prepare(raw)


@lru_cache(maxsize=8192)
def _prepare(raw: str) -> Prepared:
    text = normalize(raw)
    key = squash(text)
    textual = _is_textual(raw)
    if not text:
        return Prepared(text, key, None, "empty answer")
    # read only as identical text (the key): what the value paths would misread
    if _BARE_CIRC_RE.search(text):
        return Prepared(text, key, None, "a composition (\\circ) compares as text only", textual)
    if "'" in text:
        return Prepared(text, key, None, "a prime (f', x'') compares as text only", textual)
    try:
        toks = tokenize(text)
        if _side_by_side(toks):
            return Prepared(text, key, None, "two numbers side by side (23? 2*3? two answers?)", textual)
        tree = structure(text, toks)
    except TooLarge as e:
        return Prepared(text, key, None, f"refused: {e}", textual)
    return Prepared(text, key, tree, "", textual)
