"""Math answer equivalence: ``verify_math(pred, gold, timeout=None) -> Verdict``.

Two paths, one set of rules (see ``compare.compare``):

* **exact** (in process, pure Python, microseconds): integers, decimals (``1.5e3``, repeating
  ``0.1\\overline{6}``), ``a/b``, ``\\frac`` (``\\dfrac``/``\\tfrac``), mixed numbers, percents,
  thousands separators, signs, ``\\sqrt{n}``, multiples of ``\\pi``, bounded powers and
  factorials, ``\\text{}`` units and ``^\\circ`` dropped, ``\\pm`` (the list of both signs), and
  tuples / intervals / sets / unions / equations of those. Values are exact
  (``fractions.Fraction`` plus reduced radicals), so ``0.5 == 1/2`` and ``1/3 != 0.333``.
  Sizes are bounded: ``9^{9^{9^9}}`` or ``(10^{100})!`` is refused (``parse_error``), never
  computed.
* **symbolic** (everything else: variables, functions, n-th roots): sympy via
  latex2sympy2_extended in a supervised worker process with a hard per-sample ``timeout``
  (seconds, fractions allowed, any thread); a hung worker is killed and replaced.

Decisions: the prediction and the gold are whole answers (``2 or 3`` is a set, never ``2``);
``x = 3`` (a lone variable on the left) equals ``3``; an equation only equals an equivalent
equation; ``(1,2)`` (tuple or open interval) != ``[1,2)`` != ``\\{1,2\\}``; sets and bare lists
(``1, 2``) are unordered with set semantics, tuples are ordered; ``50\\%`` equals ``50`` and
``0.5``; units are dropped, not compared (``5 cm`` equals ``5``); a decimal is its exact value
(``0.333`` != ``1/3``) and also equals a value no decimal writes (``1/3``, ``\\sqrt2``, ``\\pi``)
from 6 significant digits on, rounded or cut off (``0.333333`` == ``1/3``; ``0.125001`` != ``1/8``).
Labeled answers (``|PQ| = 3``, ``(a,b) = (2,5)``) are their value; solutions separated by ``,``,
``;``, ``or``, ``\\quad`` are an unordered list, all present; ``=`` / ``\\approx`` chains are their
first value when every link is true, else nothing; partial and hedged answers are ``not_equal``
with a reason that says which. A gold answer the value paths cannot read is compared as text
(a blank gold is ``parse_error`` on the gold). Full reference: docs/verify.md.
Labels: ``equal``, ``not_equal``, ``timeout``, ``parse_error``, ``error`` -- a timeout or a
parse failure is never reported as a silent ``not_equal``.
"""

from __future__ import annotations

import math as _m
from dataclasses import dataclass

from rewardsmith.verify.compare import compare
from rewardsmith.verify.explain import explain
from rewardsmith.verify.leaf_eq import exact_leaf_eq
from rewardsmith.verify.limits import TooLarge, Undecided
from rewardsmith.verify.prepare import prepare, same_based_number
from rewardsmith.verify.structure import is_time
from rewardsmith.verify._worker import get_pool

__all__ = ["Verdict", "verify_math", "math_equal", "DEFAULT_TIMEOUT", "LABELS"]

DEFAULT_TIMEOUT = 5.0  # seconds per symbolic check
LABELS = ("equal", "not_equal", "timeout", "parse_error", "error")


@dataclass(frozen=True)
class Verdict:
    """Outcome of one check. ``equal`` is True only for label ``equal``; ``path`` is ``exact``
    (decided in process) or ``symbolic`` (decided, or timed out, in the worker)."""

    equal: bool
    label: str
    reason: str
    path: str

    def __bool__(self) -> bool:
        return self.equal


def _check_timeout(timeout) -> float:
    if timeout is None:
        return DEFAULT_TIMEOUT
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not _m.isfinite(timeout) or timeout <= 0:
        raise ValueError(f"timeout: got {timeout!r}, expected a positive finite number of seconds or None")
    return float(timeout)


_EMPTY = frozenset(
    {"nosolution", "nosolutions", "norealsolution", "norealsolutions", "norealroots", "noroots", "none",
     "\\emptyset", "\\{\\}", "emptyset", "theemptyset", "doesnotexist", "dne"}
)


def _empty_answer(key: str) -> bool:
    """``no solution``, ``\\text{None}``, ``\\emptyset``: the answer that nothing satisfies."""
    return "".join(key.lower().split()).rstrip(".") in _EMPTY


def verify_math(pred: str | None, gold: str, timeout: float | None = None) -> Verdict:
    """Is the extracted answer ``pred`` mathematically equal to ``gold``? (see module doc)

    ``pred`` None (nothing extracted) gives ``parse_error``; ``gold`` must be a string."""
    t = _check_timeout(timeout)
    if not isinstance(gold, str):
        raise ValueError(f"gold: got {type(gold).__name__} {gold!r:.60}, expected a str")
    if pred is None:
        return Verdict(False, "parse_error", "prediction: no answer extracted", "exact")
    if not isinstance(pred, str):
        raise ValueError(f"pred: got {type(pred).__name__} {pred!r:.60}, expected a str or None")
    gp = prepare(gold)
    try:
        pp = prepare(pred)
    except Exception as e:  # noqa: BLE001 - a prediction the normalizer chokes on is unparsable,
        # never "unscored": an error label (NaN reward) would be an escape from the wrong tier
        return Verdict(False, "parse_error", f"prediction: cannot read it ({type(e).__name__})", "exact")
    if gp.key and gp.key == pp.key:
        return Verdict(True, "equal", "identical after normalization", "exact")
    if gp.error == "empty answer":  # a blank gold is a missing one: the data set's fault, loud (label error upstream)
        return Verdict(False, "parse_error", "gold: empty answer", "exact")
    if gp.tree is None:  # a gold the value paths refuse is compared as text, never an error
        eq = gp.key.lower() == pp.key.lower() or same_based_number(pp.key, gp.key)
        return Verdict(eq, "equal" if eq else "not_equal", f"gold is not readable as math ({gp.error}): compared as text", "exact")
    if gp.textual or pp.textual or is_time(gp.key):  # \text{ABC} is a word, not the product
        # A*B*C; a gold 3:45 is a time, so 1:15 (the same ratio) is not it
        eq = gp.key.lower() == pp.key.lower() or (_empty_answer(gp.key) and _empty_answer(pp.key))
        return Verdict(eq, "equal" if eq else "not_equal", "text answers compared as text", "exact")
    if pp.tree is None:
        return Verdict(False, "parse_error", f"prediction: {pp.error}", "exact")
    try:
        eq = compare(pp.tree, gp.tree, exact_leaf_eq)
        if eq:
            return Verdict(True, "equal", "exact value", "exact")
        return Verdict(False, "not_equal", explain(pp.tree, gp.tree, exact_leaf_eq) or "exact values differ", "exact")
    except TooLarge as e:
        return Verdict(False, "parse_error", f"refused: {e}", "exact")
    except Undecided:
        pass
    except RecursionError:
        return Verdict(False, "parse_error", "expression nested too deep", "exact")
    except Exception as e:  # noqa: BLE001 - the gold parsed, so the prediction is what broke it
        return Verdict(False, "parse_error", f"prediction: cannot compare ({type(e).__name__})", "exact")
    label, reason = get_pool().run(pp.text, gp.text, t)
    return Verdict(label == "equal", label, reason, "symbolic")


def math_equal(pred: str | None, gold: str, timeout: float | None = None) -> bool:
    """``verify_math(...).equal``: a timeout or parse failure counts as not equal."""
    return verify_math(pred, gold, timeout).equal
