"""``prepare(raw)``: one answer normalized, tokenized and structured (a ``Prepared``), cached: the
entry point of math.py and value_form.py.

Refused (read as identical text only) is what the value paths would misread: a composition
``\\circ``, a prime, a ``\\boxed{}`` inside the answer, two numbers side by side, a number with a
subscript. Answers of words are marked textual. ``same_based_number``: gold ``42_8`` against
``42_{8}`` or ``42``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rewardsmith.verify.labels import _bare_words, _is_label
from rewardsmith.verify.limits import MAX_ANSWER_CHARS, TooLarge
from rewardsmith.verify.normalize import _WORD_RE, _is_unit_text, normalize, squash
from rewardsmith.verify.structure import structure
from rewardsmith.verify.tokens import _mixed_number_at, tokenize
from rewardsmith.verify.tree import Eq, Leaf

__all__ = ["Prepared", "prepare", "same_based_number"]


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


_BARE_CIRC_RE = re.compile(r"(?<!\^)(?<!\^\{)\\circ\b")
_TEXT_GROUP_RE = re.compile(r"\\(?:text|textbf|textit|textrm|mbox)\s*\{([^{}]*)\}")
_CONNECTIVES = frozenset({"or", "and"})


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
