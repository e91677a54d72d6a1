"""Answer checks (condition ``correct``): a registry of classes by name.

Built in: ``math`` (``verify.verify_math``), ``choice`` (``verify.choice_equal``), ``string``
(``verify.string_equal`` with the spec's normalizations), ``exact`` (equal after stripping outer
whitespace). Other modules add their own with ``register_check(name, cls)`` (the sandbox registers
``code``): a subclass of ``AnswerCheck`` whose ``__call__`` returns a ``CheckResult``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

__all__ = ["CheckResult", "AnswerCheck", "CHECKS", "register_check", "UNDECIDED_LABELS"]

UNDECIDED_LABELS = ("timeout", "error")


@dataclass(frozen=True)
class CheckResult:
    """One answer check.

    ``passed`` is None when the check could not decide; ``label`` then says why (``timeout`` or
    ``error``; anything else is treated as ``error``). ``score`` in [0, 1] defaults to
    ``float(passed)`` (a partial check, e.g. tests passed, sets a fraction); ``label`` is the
    verdict (``equal``, ``not_equal``, ``parse_error``, ``no_answer``, ...), ``path`` how it was
    decided, ``details`` anything JSON-serializable worth keeping.
    """

    passed: bool | None
    label: str
    reason: str = ""
    score: float = math.nan
    path: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if math.isnan(self.score):
            object.__setattr__(self, "score", 1.0 if self.passed else 0.0)


class AnswerCheck:
    """Base class of answer checks: built once per rule set (and per worker process) from the
    rule set's ``AnswerSpec``; called once per completion.

    ``needs_answer``: the check compares with a gold answer, so ``score_batch`` demands one per
    completion (a check reading e.g. ``fields["tests"]`` sets it False).
    """

    needs_answer: bool = True

    def __init__(self, spec: Any) -> None:
        self.spec = spec

    def __call__(
        self, pred: str | None, gold: Any, *, text: str, fields: Mapping[str, Any], timeout: float
    ) -> CheckResult:  # pragma: no cover - interface
        raise NotImplementedError


def _gold_text(gold: Any) -> str:
    if isinstance(gold, str):
        return gold
    if isinstance(gold, (bool, np.bool_)) or gold is None:
        raise ValueError(f"answer: expected a string or a number, got {gold!r}")
    if isinstance(gold, np.integer):
        return str(int(gold))
    if isinstance(gold, np.floating):  # np.float32(0.1) is "0.1", not 0.10000000149011612
        if not np.isfinite(gold):
            raise ValueError(f"answer: expected a finite number, got {gold!r} (a missing gold answer?)")
        return str(int(gold)) if float(gold).is_integer() else str(gold)
    if isinstance(gold, (int, float)):
        if isinstance(gold, float) and not math.isfinite(gold):
            raise ValueError(f"answer: expected a finite number, got {gold!r} (a missing gold answer?)")
        if isinstance(gold, float) and gold.is_integer():
            return str(int(gold))
        return repr(gold)
    raise ValueError(f"answer: expected a string or a number, got {type(gold).__name__} {gold!r:.60}")


def _no_answer(mode: str) -> CheckResult:
    return CheckResult(False, "no_answer", f"no answer extracted (extract: {mode})", path="extract")


class MathCheck(AnswerCheck):
    """``verify.verify_math``: exact fast path, symbolic path with a hard timeout.

    A ``parse_error`` on the prediction is a wrong answer; one on the gold answer (a blank gold)
    is an ``error`` (the data set is broken, the policy is not to blame). Under ``form: value`` a
    prediction that is not a value while the gold is one (``17+25`` for 42) is a wrong answer with
    label ``unevaluated``."""

    def __call__(self, pred, gold, *, text, fields, timeout):
        from rewardsmith import verify

        if pred is None:
            return _no_answer(self.spec.extract)
        gold_text = _gold_text(gold)
        if getattr(self.spec, "form", "any") == "value":
            why = verify.unevaluated(pred, gold_text)
            if why is not None:
                return CheckResult(False, "unevaluated", why, path="exact")
        v = verify.verify_math(pred, gold_text, timeout=timeout)
        if v.label in UNDECIDED_LABELS:
            return CheckResult(None, v.label, v.reason, path=v.path)
        if v.label == "parse_error" and v.reason.startswith("gold"):
            return CheckResult(None, "error", v.reason, path=v.path)
        return CheckResult(v.equal, v.label, v.reason, path=v.path)


class ChoiceCheck(AnswerCheck):
    """Multiple choice: ``verify.choice_equal`` over the spec's ``letters``."""

    def __call__(self, pred, gold, *, text, fields, timeout):
        from rewardsmith.verify.text import choice_equal

        if pred is None:
            return _no_answer(self.spec.extract)
        try:
            eq = choice_equal(pred, _gold_text(gold), self.spec.letters)
        except ValueError as exc:
            return CheckResult(None, "error", str(exc), path="choice")
        return CheckResult(eq, "equal" if eq else "not_equal", "same option" if eq else "different option", path="choice")


class StringCheck(AnswerCheck):
    """Normalized string equality (``verify.string_equal``, normalize from the spec)."""

    def __call__(self, pred, gold, *, text, fields, timeout):
        from rewardsmith.verify.text import string_equal

        if pred is None:
            return _no_answer(self.spec.extract)
        eq = string_equal(pred, _gold_text(gold), self.spec.normalize)
        return CheckResult(eq, "equal" if eq else "not_equal", "", path="string")


class ExactCheck(AnswerCheck):
    """Exact string equality after stripping outer whitespace."""

    def __call__(self, pred, gold, *, text, fields, timeout):
        if pred is None:
            return _no_answer(self.spec.extract)
        eq = pred.strip() == _gold_text(gold).strip()
        return CheckResult(eq, "equal" if eq else "not_equal", "", path="exact")


CHECKS: dict[str, type[AnswerCheck]] = {
    "math": MathCheck,
    "choice": ChoiceCheck,
    "string": StringCheck,
    "exact": ExactCheck,
}


def register_check(name: str, cls: type[AnswerCheck], *, overwrite: bool = False) -> type[AnswerCheck]:
    """Make ``cls`` available as ``answer.compare: NAME`` in rule sets. Returns ``cls``.

    ``cls`` must be importable by its module path (worker processes unpickle it by reference).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name: expected a non-empty string, got {name!r}")
    if not (isinstance(cls, type) and issubclass(cls, AnswerCheck)):
        raise ValueError(f"cls: expected a subclass of AnswerCheck, got {cls!r}")
    if name in CHECKS and CHECKS[name] is not cls and not overwrite:
        raise ValueError(f"name: answer check {name!r} is already registered ({CHECKS[name].__name__})")
    CHECKS[name] = cls
    return cls
