"""What a run of letters in an answer is: a lone variable (``_SYM_RE``), the label of a labeled
answer (``x``, ``f(x)``, ``AB``, ``|PQ|``, ``\\angle ABC``; ``x = 3`` is the value 3: ``_solved_for``),
or bare words (``no``, ``north``: text, never a product of symbols: ``_bare_words``).
"""

from __future__ import annotations

import re

from rewardsmith.verify.tree import Eq, Leaf, Node, Seq


_SYM_RE = re.compile(r"[A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?|\\(?:alpha|beta|gamma|theta|lambda|mu|phi|omega)")


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


def _bare_words(tree) -> bool:
    """The answer is words only (letter runs, at least one of two or more letters): text."""
    if not isinstance(tree, Leaf) or not tree.toks:
        return False
    words = [t.text for t in tree.toks]
    if all(w.lower() in _MATH_WORDS for w in words):
        return False
    return all(t.kind == "ident" for t in tree.toks) and any(len(w) > 1 for w in words)


_MATH_WORDS = frozenset({"inf", "infty", "infinity", "oo", "pi", "nan"})  # read as math, not text
