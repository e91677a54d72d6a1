"""Checks and verifiers, each usable alone: answer extraction and math equivalence.

``extract_answer(text, mode)`` pulls the answer out of a completion; ``verify_math(pred, gold)``
returns a ``Verdict`` (``equal``, ``label``, ``reason``, ``path``); ``math_equal`` its bool;
``is_value(answer)`` / ``unevaluated(pred, gold)``: the ``answer.form: value`` check.

How ``verify_math`` (math.py) reads an answer, one module per step: normalize.py (canonical
text) -> tokens.py -> structure.py (the tree; node types in tree.py: tuples, intervals, sets,
lists, unions, equations, chains; labels and words in labels.py) -> exact.py (exact numbers) ->
compare.py (tree equality; leaf_eq.py for leaves, intervals.py for unions) and explain.py
(partial/hedged reasons). prepare.py runs the first steps once per answer; limits.py holds the
size bounds. The sympy fallback is _symbolic.py (leaf text from sympy_text.py) inside the
_worker.py subprocess; value_form.py is the ``answer.form: value`` check.
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
