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

import decimal
import math
import re
from collections import Counter
from dataclasses import dataclass, field
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
    "explain",
    "exact_approx",
    "exact_leaf_eq",
    "Chain",
    "sym_text",
    "is_time",
    "same_based_number",
    "DECIMAL_DIGITS",
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
    "\u2010": "-",  # hyphen, non-breaking hyphen, figure dash, fullwidth and small minus
    "\u2011": "-",
    "\u2012": "-",
    "\uff0d": "-",
    "\ufe63": "-",
    "\uff0b": "+",
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
    ("\\leftrightarrow", "\\iff"),  # before \left / \right: \leftarrow is not "arrow"
    ("\\leftarrow", "\\gets"),
    ("\\rightarrow", "\\to"),
    ("\\leqslant", "\\le"),  # before \leq: \leqslant is not \leslant
    ("\\geqslant", "\\ge"),
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
    ("~", " "),  # a non-breaking space: 5~\text{cm}
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


_PLAIN_NUMBER_RE = re.compile(r"[+-]?\d[\d,]*(?:\.\d+)?%?")
_NUMBER_CMDS_RE = re.compile(r"\\(?:[dt]?frac|sqrt|pi|cdot|times)(?![A-Za-z])")


def _drops_unit(head: str, words: list, spaced: bool) -> bool:
    """Whether bare trailing unit words (``5 cm``, ``12 dollars``) are units, not variables: the
    rest must be a number with no variable in it (``a+2 cm`` keeps its letters), a word of one or
    two letters (``m``, ``cm``, ``in``) must stand after a space (``2m`` is 2m), and a one-letter
    word only after a plain number literal (``5 m`` is 5; ``\\frac12 g`` is g/2). Units in
    ``\\text{}``/``\\mathrm{}`` are dropped anywhere they end the answer."""
    if any(len(w) <= 2 for w in words) and not spaced:
        return False
    if any(len(w) == 1 for w in words):
        return bool(_PLAIN_NUMBER_RE.fullmatch(head))
    return not _WORD_RE.search(_NUMBER_CMDS_RE.sub("", head))


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


_SHORT_ARG = r"(?: ?(\d|\\pi(?![A-Za-z]))| ([A-Za-z]))"  # \frac12, \frac\pi4, \frac x2: one token
_FRAC_SHORT_RE = re.compile(r"\\frac" + _SHORT_ARG + r" ?(\d|\\pi(?![A-Za-z])|[A-Za-z])")
_SQRT_SHORT_RE = re.compile(r"\\sqrt" + _SHORT_ARG)
_U_UNION_RE = re.compile(r"([)\]])\s?U\s?([(\[])")
_THOUSANDS_RE = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_SPACE_THOUSANDS_RE = re.compile(r"[+-]?\d{1,3}(?: \d{3})+(?:\.\d+)?")
_ASSIGN_PREFIX = ("final answer:", "answer:")


_MATRIX_RE = re.compile(r"(?<!\\)\\begin\{[pbvBV]?matrix\}")  # written once: its \\ are rows
_ROW_SEP_RE = re.compile(r"\s*\\\\\s*")  # a row separator, its spaces dropped (\ would be a space)
_DOUBLED_BACKSLASH_RE = re.compile(r"\\\\(?=[A-Za-z{}()\[\],;:!%$ ])")  # \\frac -> \frac (JSON twice)
_COLOR_RE = re.compile(r"\\(?:textcolor|color)\s*\{[A-Za-z0-9!. ]*\}")  # \color{red}{42} -> {42}
_PHANTOM_RE = re.compile(r"\\[hv]?phantom\s*\{[^{}]*\}")  # invisible: \phantom{43}42 is 42, not 85
_DECORATION_RE = re.compile(r"\\(?:underline|boldsymbol|bm|mathit|mathsf|mathtt|hbox)(?![A-Za-z])")
_THIN_THOUSANDS_RE = re.compile(r"(?<=\d),\\!(?=\d{3})")  # 12,\!345
_PAREN_REPEAT_RE = re.compile(r"(\d\.\d*)\((\d{1,50})\)")  # 0.(3) -> 0.\overline{3}
_BRACE_COMMA_RE = re.compile(r"(?<=\d)\{,\}(\d+)")
_SEPARATORS = ("\\qquad", "\\quad", " or ", " and ")
_INEQ_MARKS = ("<", ">", "\\le", "\\ge", "\\lt", "\\gt")
_AND = ("\\wedge", "\\land")
_EMPTY_ITEMS_RE = re.compile(r"(?:\s*,)+")
_BOXES = ("\\boxed", "\\fbox")


def _unwrap_box_items(s: str) -> str:
    """``\\boxed{a}, \\boxed{b}``: a box that is one whole item of a list is unwrapped; a box
    anywhere else (``-\\boxed{42}``, ``\\boxed{42}+1``) is left for ``prepare`` to refuse."""
    braces = _brace_map(s)
    out: list[str] = []
    i = 0
    n = len(s)
    while i < n:
        box = next((b for b in _BOXES if s.startswith(b, i)), None)
        if box is not None:
            j = i + len(box)
            while j < n and s[j] == " ":
                j += 1
            end = braces.get(j, -1) if j < n and s[j] == "{" else -1
            before = "".join(out).rstrip()
            after = s[end:].lstrip() if end > 0 else ""
            if end > 0 and (not before or before[-1] in ",;") and (not after or after[0] in ",;"):
                out.append(s[j + 1 : end - 1])
                i = end
                continue
        out.append(s[i])
        i += 1
    return "".join(out)


_SYSTEM_ENV_RE = re.compile(r"\\(?:begin|end)\{(?:cases|array|aligned|align\*?|gathered|split)\}(?:\{[lcr|]*\})?")


def _systems(s: str) -> str:
    r"""``\left\{\begin{array}{l} x=1 \\ y=2 \end{array}\right.`` and ``\begin{cases}``: the rows
    of a system as a list ``x=1, y=2`` (matrices keep their environments)."""
    s = _SYSTEM_ENV_RE.sub(" ", s)
    s = s.replace("\\\\", ",").replace("&", " ")
    s = s.replace("\\left.", "").replace("\\right.", "")
    t = s.strip()
    for o in ("\\left\\{", "\\{"):
        if t.startswith(o) and "\\}" not in t:  # the brace of a system, never closed
            t = t[len(o) :]
    return t


def normalize(s: str) -> str:
    """Canonical text of an answer (see module docstring). Pure, linear, bounded input."""
    s = s.strip()
    if "\\begin{" in s and _SYSTEM_ENV_RE.search(s):
        s = _systems(s)
    if "\\\\" in s and "matrix}" in s and _MATRIX_RE.search(s):  # rows of a matrix: 1 \\ 2, x\\y
        s = _ROW_SEP_RE.sub(r"\\\\", s)
    elif "\\\\" in s:  # text that went through JSON twice: \\frac{1}{2}
        s = _DOUBLED_BACKSLASH_RE.sub(r"\\", s)
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
    if "\\color" in s or "\\textcolor" in s:
        s = _COLOR_RE.sub("", s)
    if "phantom" in s:
        s = _PHANTOM_RE.sub(" ", s)
    if "\\underline" in s or "\\b" in s or "\\math" in s or "\\hbox" in s:
        s = _DECORATION_RE.sub("", s)
    if ",\\!" in s:
        s = _THIN_THOUSANDS_RE.sub("", s)
    if "{,}" in s:  # 1{,}000 groups thousands; 3{,}14 is a decimal comma, never 314
        s = _BRACE_COMMA_RE.sub(lambda m: ("" if len(m.group(1)) == 3 else ".") + m.group(1), s)
    trig = any(f in s for f in _TRIG)
    for a, b in _REPLACE:
        if a in s and not (trig and a in _DEGREE):  # sin 30^\circ: degrees stay, sympy converts
            s = s.replace(a, b)
    # \boxed{...} wrapping the whole answer
    for box in ("\\boxed", "\\fbox", "\\boxed", "\\fbox"):  # twice: \boxed{\boxed{7}}
        if s.startswith(box):
            j = len(box)
            while j < len(s) and s[j] == " ":
                j += 1
            if j < len(s) and s[j] == "{" and s.endswith("}"):
                end = _brace_map(s).get(j, -1)
                if end == len(s):
                    s = s[j + 1 : end - 1]
    if "\\frac" in s or "\\sqrt" in s:  # \frac12 -> \frac{1}{2}, \sqrt3 -> \sqrt{3} (sympy's grammar wants braces)
        s = _FRAC_SHORT_RE.sub(lambda m: "\\frac{%s}{%s}" % (m.group(1) or m.group(2), m.group(3)), s)
        s = _SQRT_SHORT_RE.sub(lambda m: "\\sqrt{%s}" % (m.group(1) or m.group(2)), s)
    if "\\text" in s or "\\mbox" in s or "\\math" in s or "\\operatorname" in s:
        s = _strip_text_commands(s)
    s = " ".join(s.split())
    s = s.rstrip(".").strip()
    if " and " in s:  # "x > 1 and x < 3": both hold (an intersection), never a list of answers
        conj = s.split(" and ")
        if all(any(r in c for r in _INEQ_MARKS) for c in conj):
            s = " \\wedge ".join(c.strip(" ,") for c in conj)
    if "quad" in s or " or " in s or " and " in s:  # "19, 46, and 82", "2 or 3", "x=1 \\quad x=2": a list
        for sep in _SEPARATORS:
            s = s.replace(sep, ", ")
        s = _EMPTY_ITEMS_RE.sub(",", s).strip(" ,")
    if "\\boxed" in s or "\\fbox" in s:
        s = _unwrap_box_items(s)
    if "(" in s and "." in s:
        s = _PAREN_REPEAT_RE.sub(r"\1\\overline{\2}", s)
    # "5 cm", "12 dollars": trailing unit words after a value (a backwards scan, no regex)
    if s and s[-1].isalpha():
        i = len(s)
        while i > 0 and (s[i - 1].isascii() and (s[i - 1].isalpha() or s[i - 1] == " ")):
            i -= 1
        head, words = s[:i].rstrip(), s[i:].split()
        if head and head[-1] in "0123456789}%" and words and all(w.lower() in _UNIT_WORDS for w in words):
            if _drops_unit(head, words, spaced=s[i] == " "):
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


@dataclass(frozen=True)
class Chain:
    """``x = 3 + 4 = 7``, ``\\frac{2}{3} \\approx 0.67``: members joined by ``=`` / ``\\approx``
    (``ops[i]`` joins ``members[i]`` and ``members[i + 1]``). Its value is its first member after
    a label, and only when every link is true (see ``compare``)."""

    members: tuple
    ops: tuple


Node = _U[Leaf, Seq, UnionNode, Eq, Chain]


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
    parts = _split_top(toks, lambda t: t.text == ";")  # x=1,y=2; x=3,y=4: solutions
    if len(parts) > 1:
        parts = [p for p in parts if p]
        if len(parts) > 1:
            return Seq("list", "", "", tuple(structure(s, p, d) for p in parts))
        if parts:
            toks = parts[0]
    pm = [k for k, t in enumerate(toks) if t.text in ("\\pm", "\\mp")]
    if len(pm) == 1:  # "1 \pm \sqrt{2}", "x = \pm 2": the list of both signs
        a, b = toks[pm[0]].start, toks[pm[0]].end
        lo, hi = toks[0].start, toks[-1].end
        return Seq("list", "", "", tuple(structure(s[lo:a] + sign + s[b:hi]) for sign in ("+", "-")))
    parts = _split_top(toks, lambda t: t.text == ",")
    if len(parts) > 1 and all(parts):
        return Seq("list", "", "", tuple(structure(s, p, d) for p in parts))
    if _wrapped(toks) and toks[0].text == "\\{" and len(toks) > 4:  # {x | x > 2}: set-builder
        head = toks[1:3]
        if head[1].text in ("|", "\\mid", ":") and _SYM_RE.fullmatch(head[0].text):
            return structure(s, toks[3:-1], d)
    for k, t in enumerate(toks):  # "x \in [1, 2]" is the set on the right
        if t.text == "\\in" and k > 0 and _SYM_RE.fullmatch(_text(s, toks[:k]).replace(" ", "")):
            return structure(s, toks[k + 1 :], d) if toks[k + 1 :] else Leaf(_text(s, toks), toks)
        if t.text in _OPEN or t.text in _CLOSE:
            break
    if any(t.text in _AND for t in _top_tokens(toks)):  # x > 1 \wedge x < 3: an intersection
        return _conjunction(s, toks)
    rels = {t.text for t in toks if t.text in _REL}
    if rels == {"\\approx"} and not any(t.text == "\\approx" for t in _top_tokens(toks)):
        rels = set()  # (\frac23 \approx 0.67, 1): the chains are items, read below
    n_eq = len(_split_top(toks, lambda t: t.text == "="))
    if rels == {"\\approx"} or (not rels and n_eq > 2):  # a chain: x = 3+4 = 7, 2/3 \approx 0.67
        parts = _split_top(toks, lambda t: t.text in ("=", "\\approx"))
        ops = tuple(t.text for t in _top_tokens(toks) if t.text in ("=", "\\approx"))
        if len(parts) == len(ops) + 1 and all(parts):
            return Chain(tuple(structure(s, p, d) for p in parts), ops)
        return Leaf(_text(s, toks), toks)
    if rels:
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
        sep = ";" if any(t.text == ";" for t in _top_tokens(inner)) else ","  # (1;2;3) is a point
        items = _split_top(inner, lambda t: t.text == sep)
        if o == "\\{" and c == "\\}":
            if not inner:
                return Seq("set", o, c, ())
            return Seq("set", o, c, tuple(structure(s, p, d) for p in items))
        if o != "{" and c != "}" and o != "\\{" and c != "\\}" and len(items) > 1 and all(items):
            return Seq("tuple", o, c, tuple(structure(s, p, d) for p in items))
        if o == "{" and c == "}" and inner:
            return structure(s, inner, d)
    n_colons = sum(t.text == ":" for t in toks)
    parts = _split_top(toks, lambda t: t.text == ":") if n_colons else []
    if n_colons and len(parts) == n_colons + 1 and all(parts):  # all at the top level
        if n_colons == 1:  # 2:3 is the ratio 2/3 (two times: see is_time)
            return structure(f"({_text(s, parts[0])})/({_text(s, parts[1])})", None, d)
        # 3:4:5 is an ordered triple of its own kind (never a tuple or a time), defined up to
        # scale like 2:3: each part over the first (2:4:6 is 1:2:3, as 2:4 is 1:2)
        first = _text(s, parts[0])
        if first.strip() in ("0", "+0", "-0"):
            return Seq("tuple", ":", ":", tuple(structure(s, p, d) for p in parts))
        return Seq("tuple", ":", ":", tuple(structure(f"({_text(s, p)})/({first})", None, d) for p in parts[1:]))
    return Leaf(_text(s, toks), toks)


_TIME_RE = re.compile(r"(?:[01]?\d|2[0-4]):[0-5]\d")


def is_time(key: str) -> bool:
    """``3:45`` reads as a time of day: two of them compare as text, never as ratios."""
    return bool(_TIME_RE.fullmatch(key))


def _top_tokens(toks: tuple) -> list:
    """The tokens of ``toks`` at bracket depth 0."""
    out, depth = [], 0
    for t in toks:
        if t.text in _OPEN:
            depth += 1
        elif t.text in _CLOSE:
            depth -= 1
        elif depth == 0:
            out.append(t)
    return out




# --------------------------------------------------------------------------------------------
# 3. exact values
# --------------------------------------------------------------------------------------------


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


_SYM_RE = re.compile(r"[A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?|\\(?:alpha|beta|gamma|theta|lambda|mu|phi|omega)")


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


DECIMAL_DIGITS = 6  # a decimal equals a value no decimal can write (1/3, sqrt 2, pi) from this many
# significant digits on, when it is that value rounded or cut off at its last digit


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


class Undecided(Exception):
    """The exact path cannot decide; the pair goes to the symbolic worker."""


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


_NAME = r"(?:[A-Za-z]|\\(?:alpha|beta|gamma|theta|lambda|mu|phi|omega))(?:_\{?[A-Za-z0-9]+\}?)?"
_LABEL_ATOM = (
    rf"(?:{_NAME}|[A-Za-z]\([A-Za-z0-9,]*\)|[A-Z]{{2,4}}(?:_\{{?[A-Za-z0-9]+\}}?)?|\|[A-Za-z_{{}}0-9]+\|"
    rf"|m?\\(?:overline|angle|triangle|widehat)\{{?[A-Z]{{1,4}}\}}?"
    rf"|\\(?:sin|cos|tan|cot|sec|csc)(?:\^\{{?2\}}?)?(?:{_NAME}|\\angle\{{?[A-Z]{{1,3}}\}}?)"
    rf"|[A-Za-z]\^\{{-1\}}\([A-Za-z0-9]*\)|[A-Z][a-z]{{2,12}})"  # f^{-1}(x); Area, Perimeter
)
_LABEL_RE = re.compile(
    rf"{_LABEL_ATOM}|\(?{_LABEL_ATOM}\)?/\(?{_LABEL_ATOM}\)?|\\frac\{{{_LABEL_ATOM}\}}\{{{_LABEL_ATOM}\}}"
)


def _is_label_text(text: str) -> bool:
    """A name an answer may be labeled with: ``x``, ``x_1``, ``f(x)``, ``f(2)``, ``AB``, ``|PQ|``,
    ``\\angle ABC``, ``S_{ABC}``, or a ratio of two of them (``AB:CD``, ``\\frac{PA}{PB}``)."""
    t = text.replace(" ", "")
    return len(t) <= 80 and bool(_LABEL_RE.fullmatch(t))


def _is_label(n: Node) -> bool:
    """A label leaf, or a tuple of them (``(a, b)`` in ``(a,b) = (2,5)``)."""
    if isinstance(n, Seq) and n.kind == "tuple":
        return bool(n.items) and all(_is_label(x) for x in n.items)
    return isinstance(n, Leaf) and _is_label_text(n.text)


def _solved_for(e: "Eq") -> Node | None:
    """The value side of ``x = 3``, ``3 = x``, ``|PQ| = 3``, ``(a, b) = (2, 5)`` (a label on one
    side), else None."""
    if _is_label(e.lhs):
        return e.rhs
    if _is_label(e.rhs):
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
    base = toks[0].start  # a list item's tokens keep their offsets in the whole answer
    texts = [s[p[0].start - base : p[-1].end - base] for p in parts]
    ops = [toks[k].text for k in rel]
    is_abs = [bool(_ABS_RE.fullmatch(t.replace(" ", ""))) for t in texts]
    is_var = [_is_label_text(t) and not a for t, a in zip(texts, is_abs)]
    if len(ops) == 2:  # a < x < b (or a > x > b)
        if not (is_var[1] or is_abs[1]) or is_var[0] or is_var[2]:
            return None
        if all(o in _LESS for o in ops):
            lo, lo_strict, hi, hi_strict = texts[0], _LESS[ops[0]], texts[2], _LESS[ops[1]]
        elif all(o in _MORE for o in ops):
            lo, lo_strict, hi, hi_strict = texts[2], _MORE[ops[1]], texts[0], _MORE[ops[0]]
        else:
            return None
    elif (is_var[0] or is_abs[0]) != (is_var[1] or is_abs[1]):
        op = ops[0]
        var_left = is_var[0] or is_abs[0]
        bound = texts[1] if var_left else texts[0]
        strict = _LESS.get(op, _MORE.get(op))
        if (op in _LESS) == var_left:  # x < b, or b > x: an upper bound
            lo, lo_strict, hi, hi_strict = "-\\infty", True, bound, strict
        else:
            lo, lo_strict, hi, hi_strict = bound, strict, "\\infty", True
    else:
        return None
    if any(is_abs):  # 1 <= |z| <= 2: [-2, -1] u [1, 2]; |x| < 2: (-2, 2); |x| >= 2: two rays
        if len(ops) == 2 and not is_abs[1]:
            return None
        bound = hi if lo == "-\\infty" else lo
        try:
            node = structure(bound)
            v = exact_value(node) if isinstance(node, Leaf) else None
        except (NotExact, TooLarge):
            return None
        if not isinstance(v, Num) or _approx(v) < 0:  # the bounds must be numbers, >= 0
            return None
        if len(ops) == 1 and lo == "-\\infty":
            text = ("(" if hi_strict else "[") + f"-({hi}), {hi}" + (")" if hi_strict else "]")
        elif len(ops) == 1:
            text = ("(-\\infty, -(" + lo + ")" + (")" if lo_strict else "]") + " \\cup "
                    + ("(" if lo_strict else "[") + lo + ", \\infty)")
        else:
            text = (("(" if hi_strict else "[") + f"-({hi}), -({lo})" + (")" if lo_strict else "]") + " \\cup "
                    + ("(" if lo_strict else "[") + lo + ", " + hi + (")" if hi_strict else "]"))
    else:
        text = ("(" if lo_strict else "[") + lo + ", " + hi + (")" if hi_strict else "]")
    try:
        return structure(text)
    except TooLarge:
        return None


_ABS_RE = re.compile(r"\|" + _NAME + r"\|")


def _bound(n: Node) -> decimal.Decimal | None:
    """An interval endpoint's value (infinities included), or None when it is not a number."""
    t = n.text.replace(" ", "") if isinstance(n, Leaf) else ""
    if t in ("\\infty", "+\\infty"):
        return decimal.Decimal("Infinity")
    if t == "-\\infty":
        return decimal.Decimal("-Infinity")
    try:
        v = exact_value(n)
    except (NotExact, TooLarge):
        return None
    return _approx(v) if isinstance(v, Num) and not v.pct else None


def _conjunction(s: str, toks: tuple) -> Node:
    """``x > 1 \\wedge x < 3`` (written ``x > 1 \\text{ and } x < 3``): inequalities in one variable
    that all hold, as the intersection of their intervals (``(1, 3)``; ``x<1 and x>3`` is the empty
    set). Anything else (two variables, a union, a bound that is not a number) is a Leaf the
    symbolic path refuses: never a list, which would read "and" as "or"."""
    whole = Leaf(_text(s, toks), toks)
    parts = _split_top(toks, lambda t: t.text in _AND)
    names = set()
    lo, lo_open, hi, hi_open = decimal.Decimal("-Infinity"), True, decimal.Decimal("Infinity"), True
    lo_t, hi_t = "-\\infty", "\\infty"
    for p in parts:
        if not p:
            return whole
        leaf = Leaf(_text(s, p), p)
        names |= {t.text for t in p if t.kind == "ident"}
        iv = _inequality_interval(leaf)
        if not (isinstance(iv, Seq) and iv.kind == "tuple" and len(iv.items) == 2):
            return whole
        a, b = _bound(iv.items[0]), _bound(iv.items[1])
        if a is None or b is None:
            return whole
        if a > lo or (a == lo and iv.open == "("):
            lo, lo_open, lo_t = a, iv.open == "(", iv.items[0].text
        if b < hi or (b == hi and iv.close == ")"):
            hi, hi_open, hi_t = b, iv.close == ")", iv.items[1].text
    if len(names) != 1:
        return whole
    if lo > hi or (lo == hi and (lo_open or hi_open)):
        return Seq("set", "\\{", "\\}", ())  # no number satisfies all of them
    if lo == hi:
        return structure("\\{" + lo_t + "\\}")
    return structure(("(" if lo_open else "[") + lo_t + ", " + hi_t + (")" if hi_open else "]"))


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


def _chain_links(c: Chain) -> tuple[list, list]:
    """Members and ops of a chain without a leading label (``x = 3 + 4 = 7`` -> ``3+4 = 7``)."""
    members, ops = list(c.members), list(c.ops)
    if _is_label(members[0]):  # x = ..., x \approx 0.67
        members, ops = members[1:], ops[1:]
    return members, ops


def _chain_true(c: Chain, rec, approx) -> bool:
    members, ops = _chain_links(c)
    return all((rec(a, b) if op == "=" else approx(a, b)) for a, op, b in zip(members, ops, members[1:]))


def _assignments(n: Node) -> Node | None:
    """``x=1, y=2`` (two or more distinct names) as the tuple ``(1, 2)`` in name order;
    ``x=1, y=2, x=3, y=4`` as the list of such tuples (the solutions of a system); else None."""
    if not (isinstance(n, Seq) and n.kind in ("list", "set") and len(n.items) >= 2):
        return None
    names = []
    for it in n.items:
        if not (isinstance(it, Eq) and isinstance(it.lhs, Leaf) and _SYM_RE.fullmatch(it.lhs.text.replace(" ", ""))):
            return None
        names.append(it.lhs.text.replace(" ", "").replace("{", "").replace("}", ""))
    order = sorted(set(names))
    k = len(order)
    if k < 2 or len(names) % k:
        return None
    tuples = []
    for i in range(0, len(names), k):
        chunk = {nm: it.rhs for nm, it in zip(names[i : i + k], n.items[i : i + k])}
        if len(chunk) != k:
            return None
        tuples.append(Seq("tuple", "(", ")", tuple(chunk[x] for x in order)))
    return tuples[0] if len(tuples) == 1 else Seq("list", "", "", tuple(tuples))


def _has_tuple(n: Node) -> bool:
    return isinstance(n, Seq) and (n.kind == "tuple" or any(isinstance(x, Seq) and x.kind == "tuple" for x in n.items))


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


def compare(p: Node, g: Node, leaf_eq: Callable[[Leaf, Leaf], bool], eq_eq=None, approx=None) -> bool:
    """Structural equality of two answer trees; ``leaf_eq`` decides leaves (may raise).

    Rules: tuples/intervals are ordered and their brackets must match (``(1,2)`` != ``[1,2)``);
    sets and bare lists are unordered and interchangeable (``\\{1,2\\}`` == ``2, 1``) but never
    equal a tuple (``(1,2)`` != ``\\{1,2\\}``); unions are unordered and equal when they cover the
    same set (``[1,3) u [3,5)`` == ``[1,5)``); a labeled answer (``x = 3``, ``|PQ| = 3``,
    ``(a,b) = (2,5)``) equals its value; a true statement (``6 \\cdot 7 = 42``, ``x = 3+4 = 7``,
    ``\\frac23 \\approx 0.67``) equals its first value, a false one (``42 \\approx 1000``)
    nothing; ``x=1, y=2`` equals ``(1, 2)``; a one-element set equals its element; an equation
    equals an equation with the same sides (either order) or, on the symbolic path, ``eq_eq``
    (proportional ``lhs - rhs``). ``approx(a, b)`` decides ``a \\approx b`` (default: exact)."""
    approx = approx or exact_approx

    def rec(a: Node, b: Node) -> bool:
        return compare(a, b, leaf_eq, eq_eq, approx)

    if isinstance(p, Chain) or isinstance(g, Chain):
        for c in (p, g):
            if isinstance(c, Chain) and not _chain_true(c, rec, approx):
                return False

        def values(c: Node, other: Node) -> list:
            if not isinstance(c, Chain):
                return [c]
            # The value of a chain is its first member, by the normal rules: 2/3 \approx 0.67 is
            # 2/3, so it is not 0.67 (as 2/3 is not). Letting the rounding written match a decimal
            # gold paid the hedge "0.46 \approx 0.5" for 0.5 (red team round 3).
            return [_chain_links(c)[0][0]]

        return any(rec(a, b) for a in values(p, g) for b in values(g, p))
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
    if isinstance(p, Eq) or isinstance(g, Eq):
        e, other = (p, g) if isinstance(p, Eq) else (g, p)
        side = _solved_for(e)
        if side is None:  # 6 \cdot 7 = 42: a true statement between values is its value
            if not rec(e.lhs, e.rhs):
                return False
            side = e.rhs
        return rec(side, other) if e is p else rec(other, side)
    for a, b in ((p, g), (g, p)):  # \{42\} is 42
        if isinstance(a, Seq) and a.kind == "set" and len(a.items) == 1 and not isinstance(b, Seq):
            return rec(a.items[0], b) if a is p else rec(b, a.items[0])
    if isinstance(p, Seq) and isinstance(g, Seq):
        pa, ga = _assignments(p), _assignments(g)
        if pa is not None and ga is None and _has_tuple(g):
            return rec(pa, g)
        if ga is not None and pa is None and _has_tuple(p):
            return rec(p, ga)
    if isinstance(p, UnionNode) or isinstance(g, UnionNode):
        pu = _inequalities_as_union(p) if isinstance(p, Seq) else None
        gu = _inequalities_as_union(g) if isinstance(g, Seq) else None
        if pu is not None or gu is not None:
            return rec(pu or p, gu or g)
        pi, gi = _intervals(p), _intervals(g)
        if pi is not None and gi is not None:
            pm, gm = _merged(pi), _merged(gi)
            if len(pm) != len(pi) or len(gm) != len(gi) or isinstance(p, UnionNode) != isinstance(g, UnionNode):
                return pm == gm
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
    if isinstance(p, Leaf) and isinstance(g, (Seq, UnionNode)) and (isinstance(g, UnionNode) or g.kind == "tuple"):
        iv = _inequality_interval(p)  # x > 2 against (2, \infty); 1 <= |z| <= 2 against a union
        if iv is not None:
            return rec(iv, g)
    if isinstance(g, Leaf) and isinstance(p, (Seq, UnionNode)) and (isinstance(p, UnionNode) or p.kind == "tuple"):
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


MAX_EXPLAIN_ITEMS = 50


def explain(p: Node, g: Node, leaf_eq, eq_eq=None, approx=None) -> str | None:
    """Why a prediction that is not equal is wrong, when it is partial, hedged or false: the
    ``reason`` of its verdict. Best effort: a comparison that raises counts as unequal."""
    approx = approx or exact_approx

    def rec(a, b) -> bool:
        try:
            return compare(a, b, leaf_eq, eq_eq, approx)
        except Exception:  # noqa: BLE001 - an explanation never changes the verdict
            return False

    if isinstance(p, Chain):
        try:
            true = _chain_true(p, rec, approx)
        except Exception:  # noqa: BLE001
            true = True
        if not true:
            return "false statement: a link of the answer's = / \\approx chain does not hold"
    pa, ga = _assignments(p), _assignments(g)  # x=1, y=2 against (1,2),(3,4): as tuples
    if pa is not None and ga is None and _has_tuple(g):
        p = pa
    elif ga is not None and pa is None and _has_tuple(p):
        g = ga
    unordered = ("list", "set")
    p_many = isinstance(p, Seq) and p.kind in unordered
    g_many = isinstance(g, Seq) and g.kind in unordered
    if not (p_many or g_many):  # one answer against one answer: nothing partial or hedged
        return None
    pitems = p.items if p_many else (p,)
    gitems = g.items if g_many else (g,)
    if len(pitems) > MAX_EXPLAIN_ITEMS or len(gitems) > MAX_EXPLAIN_ITEMS:
        return None
    match = [[rec(x, y) for y in gitems] for x in pitems]  # each pair compared once
    if not g_many and any(row[0] for row in match):
        return f"hedged answer: the gold is one of {len(pitems)} answers given"
    if g_many:
        covered = sum(any(row[j] for row in match) for j in range(len(gitems)))
        extra = sum(not any(row) for row in match)
        if not extra and 0 < covered < len(gitems):
            return f"partial answer: {covered} of the gold's {len(gitems)} solutions"
        if extra and covered == len(gitems):
            return f"hedged answer: {extra} answer(s) besides the gold's {len(gitems)} solutions"
    return None


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
    if "\\boxed" in text or "\\fbox" in text:  # -\boxed{42}, 43 + \boxed{42}: never just the box
        return Prepared(text, key, None, "a \\boxed{} inside the answer is read as text only", textual)
    try:
        toks = tokenize(text)
        if _side_by_side(toks):
            return Prepared(text, key, None, "two numbers side by side (23? 2*3? two answers?)", textual)
        if _subscripted_number(toks):
            return Prepared(text, key, None, "a number with a subscript (42_8: a base?) is read as text only", textual)
        tree = structure(text, toks)
    except TooLarge as e:
        return Prepared(text, key, None, f"refused: {e}", textual)
    if _bare_words(tree):  # no, Evelyn, north: words, never products of symbols (n*o == o*n)
        textual = True
    elif textual and isinstance(tree, Eq) and _is_label(tree.lhs) and isinstance(tree.rhs, Leaf) and all(
        t.kind != "ident" or len(t.text) == 1 for t in tree.rhs.toks
    ):
        textual = False  # \text{Area} = 12: the word is the label, the value is math
    return Prepared(text, key, tree, "", textual)


_BASE_RE = re.compile(r"([0-9A-Za-z]{1,200})_\{?(\d{1,2})\}?")


def same_based_number(pred_key: str, gold_key: str) -> bool:
    """Gold ``42_8`` (a number in base 8) is matched by ``42_8``, ``42_{8}`` or the digits ``42``;
    a prediction's subscript is never dropped (``42_8`` is not ``42``)."""
    g = _BASE_RE.fullmatch(gold_key)
    if g is None:
        return False
    p = _BASE_RE.fullmatch(pred_key)
    if p is not None:
        return p.groups() == g.groups()
    return pred_key == g.group(1)


def _subscripted_number(toks: tuple) -> bool:
    return any(t.kind == "num" and toks[k + 1].text == "_" for k, t in enumerate(toks[:-1]))


def _bare_words(tree) -> bool:
    """The answer is words only (letter runs, at least one of two or more letters): text."""
    if not isinstance(tree, Leaf) or not tree.toks:
        return False
    words = [t.text for t in tree.toks]
    if all(w.lower() in _MATH_WORDS for w in words):
        return False
    return all(t.kind == "ident" for t in tree.toks) and any(len(w) > 1 for w in words)


_MATH_WORDS = frozenset({"inf", "infty", "infinity", "oo", "pi", "nan"})  # read as math, not text
