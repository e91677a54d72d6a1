"""Propositions (yes/no statements about a completion) and ranked classes for the arithmetic task.

A proposition is a named statement a grader assigns a probability to. The ranked classes order
completions of one prompt from best to worst; the rule-weight fit learns how much each
proposition should move the reward so that the classes come out in that order.

The class of a completion is fixed by construction in the shipped data set
(``rank_class_of``); at scoring time ``LearnedReward`` maps a reward back to a class by
thresholds learned on the training data.
"""

from __future__ import annotations

from typing import Mapping

__all__ = ["ARITHMETIC_PROPOSITIONS", "ARITHMETIC_CLASSES", "rank_class_of"]

ARITHMETIC_PROPOSITIONS: dict[str, str] = {
    "shows_reasoning": "shows problem-specific working (the numbers and steps) before the answer",
    "single_answer": "states exactly one final answer, a number",
    "restates_question": "restates the question (the expression) instead of working on it",
    "template_filler": "fills the format with generic text or placeholders that fit any problem",
    "hedges": "offers more than one candidate answer or will not commit to one",
    "repeats_block": "repeats a sentence or block of text verbatim",
}
"""Proposition name -> the statement it grades (arithmetic task)."""

ARITHMETIC_CLASSES: tuple[str, ...] = (
    "ideal",  # right answer, problem-specific working, nothing else
    "terse",  # right answer stated without working
    "padded",  # right answer wrapped in a trivial pattern (template, restating, repetition)
    "wrong",  # honest single wrong answer
    "degenerate",  # no committed answer or a wrong one wrapped in a trivial pattern
    "bad_format",  # the <think>/<answer> format is broken
)
"""Ranked classes, best first."""

_HACKS = ("restates_question", "template_filler", "hedges", "repeats_block")


def rank_class_of(props: Mapping[str, bool], correct: bool, well_formed: bool) -> str:
    """The arithmetic class of a completion with known propositions (labeling by construction).

    ``correct`` means one committed final answer equal to the gold answer.
    """
    hacked = any(bool(props.get(name, False)) for name in _HACKS)
    if not well_formed:
        return "bad_format"
    if correct and not hacked:
        return "ideal" if props.get("shows_reasoning") else "terse"
    if correct:
        return "padded"
    if props.get("single_answer") and not hacked:
        return "wrong"
    return "degenerate"
