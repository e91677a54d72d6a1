"""Symbolic equivalence (sympy via latex2sympy2_extended); runs ONLY inside the worker process.

Leaves the exact path cannot decide (variables, functions, n-th roots, logs, trig, matrices) are
parsed by latex2sympy2_extended's ANTLR grammar straight into sympy objects: no ``eval``, no
``sympify`` of raw text; the symbol ``i`` is read as the imaginary unit. The whole leaf is parsed as one expression, so ``2 or 3`` stays a set
and is never read as ``2``.

Leaves reach the grammar through ``sympy_text.sym_text`` (juxtaposed factors get an explicit
``*``: the grammar reads ``2(3)`` as 5; decimals become exact fractions).

Equality of two parsed leaves ``a``, ``b``:
  * numbers: exact when ``a - b`` evaluates to a rational (integers are never "close":
    ``\\binom{200}{100} + 1`` != ``\\binom{200}{100}``); otherwise ``|a - b| <= 1e-30 * max(|a|, |b|)``
    at 60 significant digits, confirmed at 300 digits (``|a - b| <= 1e-250`` relative), so
    ``1/2004!`` != ``1/2006!`` (Math-Verify rounds both to 0 and calls them equal);
  * a decimal literal against a number the exact path cannot evaluate: the decimal rule
    (``leaf_eq.DECIMAL_DIGITS``);
  * expressions with free symbols: ``a - b`` at 4 random signed rational points agrees to 1e-20 relative
    (a polynomial identity test), confirmed by ``simplify(a - b) == 0`` when the points disagree
    only through evaluation failures;
  * sets, intervals, matrices: sympy structural equality after ``simplify``;
  * equations ``L1 = R1`` vs ``L2 = R2`` (when sides do not match directly): ``(L1 - R1) / (L2 - R2)``
    simplifies to a nonzero constant (``2y = 4x + 2`` == ``y = 2x + 1``; two different equations
    never both "parse to 0").
"""

from __future__ import annotations

import random
from functools import lru_cache

import sympy
from latex2sympy2_extended import latex2sympy

import decimal

from rewardsmith.verify.compare import compare
from rewardsmith.verify.exact import Num, exact_value
from rewardsmith.verify.explain import explain
from rewardsmith.verify.leaf_eq import DECIMAL_DIGITS, exact_approx, exact_leaf_eq, rounds_to
from rewardsmith.verify.limits import NotExact, TooLarge, Undecided
from rewardsmith.verify.prepare import prepare
from rewardsmith.verify.sympy_text import sym_text
from rewardsmith.verify.tree import Eq, Leaf

__all__ = ["symbolic_verdict"]

_REL_TOL = sympy.Float("1e-30", 60)


class ParseFailure(Exception):
    pass


_NOT_MATH = ("\\approx", "\\boxed", "\\fbox", ":")  # the grammar drops these silently (42 \approx 1000 -> 42)


@lru_cache(maxsize=4096)
def _parse(text: str):
    bad = next((x for x in _NOT_MATH if x in text), None)
    if bad is not None:
        raise ParseFailure(f"{bad} is not read by the grammar [{text[:60]}]")
    try:
        expr = latex2sympy(text, convert_degrees=True)  # only trig answers keep their ^\circ
    except (RecursionError, MemoryError):
        raise
    except Exception as e:  # the grammar's errors are many and untyped
        raise ParseFailure(f"cannot parse [{text[:60]}]: {type(e).__name__}") from None
    if expr is None:
        raise ParseFailure(f"cannot parse [{text[:60]}]")
    # the grammar reads i as a variable; in an answer it is the imaginary unit (2i, e^{i\pi})
    syms = getattr(expr, "free_symbols", set())
    imag = {x: sympy.I for x in syms if getattr(x, "name", "") == "i"}
    return expr.xreplace(imag) if imag else expr


_INFINITIES = (sympy.oo, -sympy.oo, sympy.zoo, sympy.nan)


def _num_close(d, a, b) -> bool:
    av, bv = sympy.N(a, 60), sympy.N(b, 60)
    if any(x.has(*_INFINITIES) for x in (av, bv)):  # inf is inf, never "close" to a number:
        return av == bv  # the relative tolerance below would scale by oo (red-teamed: inf == 7)
    try:
        exact = d.doit()
    except Exception:  # noqa: BLE001 - an unevaluable difference: judged numerically below
        exact = d
    if exact.is_Rational:  # integers and fractions are exact: never "close" (binom(200,100) + 1)
        return exact == 0
    dv = sympy.N(d, 60)
    if dv == 0:
        return True
    if not dv.is_number or dv.has(sympy.zoo, sympy.nan):
        return False
    if a.free_symbols or b.free_symbols:  # symbols cancelled: a nonzero constant difference
        return False
    scale = max(abs(av), abs(bv), sympy.Float(1e-300))
    if not bool(abs(dv) <= _REL_TOL * scale):
        return False
    dv = sympy.N(d, 300)  # sqrt(10^80 + 1) - 10^40 is 5e-81 relative: look closer
    return dv == 0 or bool(abs(dv) <= sympy.Float("1e-250", 300) * scale)


def _expr_eq(a, b) -> bool:
    if isinstance(a, sympy.Set) or isinstance(b, sympy.Set):
        if not (isinstance(a, sympy.Set) and isinstance(b, sympy.Set)):
            return False
        return a == b or sympy.simplify(a.symmetric_difference(b)) == sympy.EmptySet
    if isinstance(a, sympy.MatrixBase) or isinstance(b, sympy.MatrixBase):
        if not (isinstance(a, sympy.MatrixBase) and isinstance(b, sympy.MatrixBase)) or a.shape != b.shape:
            return False
        return all(_expr_eq(x, y) for x, y in zip(a, b))
    if isinstance(a, sympy.core.relational.Relational) or isinstance(b, sympy.core.relational.Relational):
        if not (isinstance(a, sympy.core.relational.Relational) and isinstance(b, sympy.core.relational.Relational)):
            return False
        return _rel_eq(a, b)
    if not (isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr)):
        return a == b
    d = a - b
    if d == 0:
        return True
    if not d.free_symbols:
        return _num_close(d, a, b)
    free = sorted(a.free_symbols | b.free_symbols, key=str)
    rng = random.Random(12345)
    ok = 0
    for _ in range(4):
        subs = {s: sympy.Rational(rng.choice((-1, 1)) * rng.randint(1, 997), rng.randint(1, 97)) for s in free}
        try:
            av, bv = a.subs(subs), b.subs(subs)
            ex = av - bv
            if ex.is_Rational:  # a rational function at a rational point: decide exactly
                if ex != 0:  # x^{1000}+x vs x^{1000}, 10^{-30}x+y vs y (red team round 3)
                    return False
                ok += 1
                continue
            dv = sympy.N(ex, 40)
        except Exception:
            continue
        if not dv.is_number or dv.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
            continue
        try:
            scale = max(abs(sympy.N(av, 40)), abs(sympy.N(bv, 40)))  # no floor: e^{-1000}x is not 0
            if bool(abs(dv) > sympy.Float("1e-20") * scale):
                return False
        except TypeError:  # a value sympy cannot order (left-over symbol, function)
            continue
        ok += 1
    if ok >= 2:
        return True
    return sympy.simplify(d) == 0


def _rel_eq(a, b) -> bool:
    flip = {sympy.StrictGreaterThan: sympy.StrictLessThan, sympy.GreaterThan: sympy.LessThan}
    ta, tb = type(a), type(b)
    la, ra = (a.rhs, a.lhs) if ta in flip else (a.lhs, a.rhs)
    lb, rb = (b.rhs, b.lhs) if tb in flip else (b.lhs, b.rhs)
    ta, tb = flip.get(ta, ta), flip.get(tb, tb)
    if ta is not tb:
        return False
    da, db = la - ra, lb - rb
    if ta in (sympy.Equality, sympy.Unequality):
        return _proportional(da, db, any_sign=True)
    return _proportional(da, db, any_sign=False)


def _proportional(da, db, any_sign: bool) -> bool:
    if not (isinstance(da, sympy.Expr) and isinstance(db, sympy.Expr)):
        return False
    if da == 0 or db == 0:
        return da == db
    ratio = sympy.simplify(da / db)
    if ratio.free_symbols or not ratio.is_number or ratio == 0 or ratio.has(sympy.zoo, sympy.nan):
        return False
    return bool(any_sign or ratio > 0)


class GoldParseFailure(ParseFailure):
    pass


def _decimal_of(leaf: Leaf) -> Num | None:
    try:
        v = exact_value(leaf)
    except (NotExact, TooLarge):
        return None
    return v if isinstance(v, Num) and v.dec is not None else None


def _to_decimal(e) -> decimal.Decimal | None:
    v = sympy.N(e, 90)
    if not v.is_number or v.has(*_INFINITIES) or not v.is_real:
        return None
    return decimal.Decimal(str(v))


def _decimal_rule(dec_leaf: Leaf, other: Leaf, other_is_gold: bool) -> bool | None:
    """The decimal rule when one leaf is a decimal literal and the other a number only sympy
    evaluates (``\\ln 2``): True when it makes them equal, else None (compare exactly)."""
    d = _decimal_of(dec_leaf)
    if d is None:
        return None
    try:
        e = _parse(sym_text(other))
    except ParseFailure as err:
        if other_is_gold:
            raise GoldParseFailure(str(err)) from None
        raise
    if not isinstance(e, sympy.Expr) or e.free_symbols or e.is_Rational or d.dec[0] < DECIMAL_DIGITS:
        return None  # compared as the exact value the decimal writes
    v = _to_decimal(e)
    return True if v is not None and rounds_to(v, _dec(d), d.dec[1]) else None


def _leaf_eq(a: Leaf, b: Leaf) -> bool:
    """``a`` is always the prediction's leaf, ``b`` the gold's (``compare`` keeps the order)."""
    try:
        return exact_leaf_eq(a, b)
    except Undecided:
        pass
    for dec_leaf, other, other_is_gold in ((a, b, True), (b, a, False)):
        r = _decimal_rule(dec_leaf, other, other_is_gold)
        if r is not None:
            return r
    try:
        gb = _parse(sym_text(b))
    except ParseFailure as e:
        raise GoldParseFailure(str(e)) from None
    return _expr_eq(_parse(sym_text(a)), gb)


def _approx(a, b) -> bool:
    """``a \\approx b`` for a chain: exact when it can be, else sympy's value of ``a``."""
    try:
        return exact_approx(a, b)
    except Undecided:
        pass
    if not (isinstance(a, Leaf) and isinstance(b, Leaf)):
        return False
    try:
        vb = exact_value(b)
    except (NotExact, TooLarge):
        return False
    body = [t for t in b.toks if t.text not in ("+", "-")]
    if not isinstance(vb, Num) or vb.pct or len(body) != 1 or body[0].kind != "num":
        return False
    e = _parse(sym_text(a))
    if not isinstance(e, sympy.Expr) or e.free_symbols:
        return False
    v = _to_decimal(e)
    if v is None:
        return False
    return rounds_to(v, _dec(vb), vb.dec[1] if vb.dec is not None else 0)


def _dec(v: Num) -> decimal.Decimal:
    """A rational ``Num`` (a number literal) as a Decimal, exactly enough for ``rounds_to``."""
    q = v.terms[0][1] if v.terms else 0
    with decimal.localcontext() as ctx:
        ctx.prec = 90
        return decimal.Decimal(getattr(q, "numerator", 0)) / decimal.Decimal(getattr(q, "denominator", 1))


def _side_expr(node):
    if not isinstance(node, Leaf):
        raise ParseFailure("equation side is a structure")
    e = _parse(sym_text(node))
    if not isinstance(e, sympy.Expr):
        raise ParseFailure("equation side is not an expression")
    return e


def _eq_eq(p: Eq, g: Eq) -> bool:
    try:
        dp = _side_expr(p.lhs) - _side_expr(p.rhs)
        dg = _side_expr(g.lhs) - _side_expr(g.rhs)
    except ParseFailure:
        return False
    return _proportional(dp, dg, any_sign=True)


def _check_gold_parses(node) -> None:
    """Parse every gold leaf the exact path cannot read, so a broken gold answer is reported
    as the gold's fault (``gold: ...``), not the prediction's."""
    if isinstance(node, Leaf):
        try:
            exact_value(node)
        except NotExact:
            _parse(sym_text(node))
        return
    for child in getattr(node, "items", ()) or getattr(node, "members", ()) or (
        (node.lhs, node.rhs) if isinstance(node, Eq) else ()
    ):
        _check_gold_parses(child)


def symbolic_verdict(pred: str, gold: str) -> tuple[str, str]:
    """(label, reason) for two raw answers; label in equal/not_equal/parse_error/error."""
    pp, gp = prepare(pred), prepare(gold)
    if gp.tree is None:
        return "parse_error", f"gold: {gp.error}"
    if pp.tree is None:
        return "parse_error", f"prediction: {pp.error}"
    try:
        _check_gold_parses(gp.tree)
    except ParseFailure as e:
        return _as_text(pp, gp, str(e))
    except (TooLarge, RecursionError) as e:
        return _as_text(pp, gp, f"refused: {e}")
    try:
        eq = compare(pp.tree, gp.tree, _leaf_eq, _eq_eq, _approx)
    except GoldParseFailure as e:
        return _as_text(pp, gp, str(e))
    except ParseFailure as e:
        return "parse_error", f"prediction: {e}"
    except TooLarge as e:
        return "parse_error", f"refused: {e}"
    except (NotExact, Undecided) as e:
        return "parse_error", str(e)
    except RecursionError:
        return "parse_error", "expression nested too deep"
    except MemoryError:
        return "error", "out of memory"
    except Exception as e:  # noqa: BLE001 - the gold parsed: the prediction broke the comparison
        # (sympy raises TypeError on e.g. \gcd(12,18) vs 5); unparsable, never "unscored"
        return "parse_error", f"prediction: cannot compare ({type(e).__name__}: {str(e)[:100]})"
    if eq:
        return "equal", "symbolic equality"
    try:
        why = explain(pp.tree, gp.tree, _leaf_eq, _eq_eq, _approx)
    except Exception:  # noqa: BLE001 - the verdict stands without an explanation
        why = None
    return "not_equal", why or "symbolic inequality"


def _as_text(pp, gp, why: str) -> tuple[str, str]:
    """A gold that is not math the grammar reads (``north``, an unknown macro) is compared as text:
    equal only to the same text (checked before the worker), never an error that drops the row."""
    eq = pp.key.lower() == gp.key.lower()
    return ("equal" if eq else "not_equal"), f"gold is not readable as math ({why[:80]}): compared as text"
