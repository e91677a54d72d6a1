"""``explain(pred_tree, gold_tree, leaf_eq)``: why an unequal prediction is wrong when it is
partial (some of the gold's solutions), hedged (the gold among other answers) or a false
statement: the ``reason`` of its verdict.
"""

from __future__ import annotations

from rewardsmith.verify.compare import _assignments, _chain_true, _has_tuple, compare
from rewardsmith.verify.leaf_eq import exact_approx
from rewardsmith.verify.tree import Chain, Node, Seq

__all__ = ["MAX_EXPLAIN_ITEMS", "explain"]


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
