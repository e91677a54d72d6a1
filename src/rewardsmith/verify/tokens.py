"""Step 2a: ``tokenize(text)``, a normalized answer as a tuple of ``Tok`` (number, ``\\command``,
letter run, punctuation, other), and the helpers that read a token tuple by bracket depth
(``_split_top``, ``_wrapped``, ``_top_tokens``, ``_max_depth``) or spot a mixed number ``1 1/2``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

__all__ = ["Tok", "tokenize"]


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
