"""Checks and verifiers, each usable alone: answer extraction and math equivalence.

``extract_answer(text, mode)`` pulls the answer out of a completion; ``verify_math(pred, gold)``
returns a ``Verdict`` (``equal``, ``label``, ``reason``, ``path``); ``math_equal`` its bool;
``is_value(answer)`` / ``unevaluated(pred, gold)``: the ``answer.form: value`` check.
"""

from rewardsmith.verify.extract import EXTRACT_MODES, extract_answer
from rewardsmith.verify.math import DEFAULT_TIMEOUT, LABELS, Verdict, math_equal, verify_math
from rewardsmith.verify.format import FormatResult, check_json, check_regex, check_tag_format, count_tags  # noqa: F401
from rewardsmith.verify.text import choice_equal, extract_choice, normalize_text, string_equal  # noqa: F401
from rewardsmith.verify.value_form import is_value, unevaluated

__all__ = [
    "EXTRACT_MODES",
    "extract_answer",
    "DEFAULT_TIMEOUT",
    "LABELS",
    "Verdict",
    "math_equal",
    "verify_math",
    "is_value",
    "unevaluated",
]
