"""Step 2b: ``structure(text)``, the tree of an answer (node types in tree.py).

Read from the outside in: solutions split by ``;`` or ``,`` (a list), ``\\pm`` (both signs),
set-builder ``\\{x | ...\\}`` and ``x \\in S`` (the set), inequalities joined by ``\\wedge`` (the
intersection of their intervals: ``_conjunction``), ``=``/``\\approx`` chains, an equation, a
union, a bracketed sequence, a ratio ``2:3`` or ``3:4:5``, else a leaf. Also the reading of an
inequality in one variable as the interval it describes (``1 \\le x < 2`` is ``[1, 2)``:
``_inequality_interval``). Recursion is bounded by ``MAX_DEPTH``.
"""

from __future__ import annotations

import decimal
import re

from rewardsmith.verify.exact import Num, _approx, exact_value
from rewardsmith.verify.labels import _NAME, _SYM_RE, _is_label_text
from rewardsmith.verify.limits import MAX_DEPTH, NotExact, TooLarge
from rewardsmith.verify.tokens import _CLOSE, _OPEN, _max_depth, _split_top, _text, _top_tokens, _wrapped, tokenize
from rewardsmith.verify.tree import Chain, Eq, Leaf, Node, Seq, UnionNode

__all__ = ["structure", "is_time"]


_AND = ("\\wedge", "\\land")
_REL = {"<", ">", "\\le", "\\ge", "\\ne", "\\neq", "\\lt", "\\gt", "\\approx", "\\in", "\\pm", "\\mp"}


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
