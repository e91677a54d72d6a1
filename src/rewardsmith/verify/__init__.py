"""Checks and verifiers, each usable alone: answer extraction and math equivalence.

``extract_answer(text, mode)`` pulls the answer out of a completion; ``verify_math(pred, gold)``
returns a ``Verdict`` (``equal``, ``label``, ``reason``, ``path``); ``math_equal`` its bool.
"""

from rewardsmith.verify.extract import EXTRACT_MODES, extract_answer
from rewardsmith.verify.math import DEFAULT_TIMEOUT, LABELS, Verdict, math_equal, verify_math
from rewardsmith.verify.format import FormatResult, check_json, check_regex, check_tag_format, count_tags  # noqa: F401
from rewardsmith.verify.text import choice_equal, extract_choice, normalize_text, string_equal  # noqa: F401

__all__ = [
    "EXTRACT_MODES",
    "extract_answer",
    "DEFAULT_TIMEOUT",
    "LABELS",
    "Verdict",
    "math_equal",
    "verify_math",
]
