"""The node types of an answer tree: what an answer is once structured.

``Leaf`` (one expression and its tokens), ``Seq`` (a tuple or interval ``(a, b]``, a set
``\\{a, b\\}``, a bare list ``a, b``), ``UnionNode`` (``A \\cup B``), ``Eq`` (``lhs = rhs``) and
``Chain`` (``x = 3 + 4 = 7``, ``\\frac23 \\approx 0.67``). structure.py builds trees, compare.py
compares them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union as _U

__all__ = ["Leaf", "Seq", "UnionNode", "Eq", "Chain", "Node"]


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
