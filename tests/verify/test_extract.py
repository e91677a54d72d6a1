"""extract_answer: each mode, the decisions documented in verify/extract.py, and linear time."""

import pytest

from rewardsmith.verify import EXTRACT_MODES, extract_answer


def test_modes_listed():
    assert EXTRACT_MODES == ("answer_tag", "boxed", "the_answer_is", "last_number")


def test_unknown_mode_is_a_value_error_naming_the_mode():
    with pytest.raises(ValueError, match="mode.*'boxd'"):
        extract_answer("x", "boxd")


def test_non_string_text_is_a_value_error():
    with pytest.raises(ValueError, match="text"):
        extract_answer(None, "boxed")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("<think>hm</think><answer> 42 </answer>", "42"),
        ("<answer>1</answer> then <answer>2</answer>", "2"),  # the last complete block
        ("<answer></answer>", ""),
        ("<answer>2 or 3</answer>", "2 or 3"),
        ("no tags at all", None),
        ("<answer>unterminated", None),
        ("</answer> before <answer>", None),
    ],
)
def test_answer_tag(text, expected):
    assert extract_answer(text, "answer_tag") == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("so $\\boxed{42}$.", "42"),
        ("\\boxed{1} draft, final \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("\\boxed{\\frac{\\sqrt{3}}{2}}", "\\frac{\\sqrt{3}}{2}"),
        ("\\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),  # escaped braces do not end the group
        ("\\boxed 5 is it", "5"),
        ("\\boxed{ 7 }", "7"),
        ("\\fbox{9}", "9"),
        ("\\boxed{2} and \\fbox{3}", "3"),
        ("\\boxed{2 or 3}", "2 or 3"),
        ("the answer \\boxed{12", None),  # truncated last box: None, not an earlier draft
        ("\\boxed{1} then \\boxed{2", None),
        ("no box", None),
        ("\\boxed", None),
    ],
)
def test_boxed(text, expected):
    assert extract_answer(text, "boxed") == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("So the answer is 42.", "42"),
        ("The answer is $\\frac{1}{2}$.", "\\frac{1}{2}"),
        ("the answer is 3.5. Done", "3.5"),
        ("Final answer: 7", "7"),
        ("The final answer is **12**", "12"),
        ("The final answer is $\\boxed{5}$. I hope", "5"),
        ("the answer is 1, then the answer is 2\nmore", "2"),
        ("The final answer is:\n\n 64\nthanks", "64"),
        ("the answer is 2 or 3.", "2 or 3"),
        ("there is no conclusion", None),
    ],
)
def test_the_answer_is(text, expected):
    assert extract_answer(text, "the_answer_is") == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("we get 3 apples and 4 pears", "4"),
        ("total 1,234,567 units", "1,234,567"),
        ("x = -2.5", "-2.5"),
        ("ratio 3/4", "3/4"),
        ("about .5", ".5"),
        ("no digits", None),
    ],
)
def test_last_number(text, expected):
    assert extract_answer(text, "last_number") == expected


def test_no_silent_fallback_between_modes():
    text = "The answer is 5 and \\boxed{6}"
    assert extract_answer(text, "answer_tag") is None
    assert extract_answer("The answer is 5", "boxed") is None
    assert extract_answer("\\boxed{6}", "the_answer_is") is None


MB = 1_000_000


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "text",
    [
        "\\boxed{" * (MB // 7),  # every box unterminated
        "{" * MB + "\\boxed{1}",
        "<answer>" * (MB // 8),
        "</answer>" * (MB // 9),
        "the answer is " * (MB // 14),
        "the  answer  is" * (MB // 15) + "\n",
        "1," * (MB // 2),  # thousands-separator lookalike
        "1" * MB + "/",
        "1/" * (MB // 2),
        "-." * (MB // 2),
        "x" * MB,
    ],
    ids=["boxes", "braces", "open_tags", "close_tags", "phrases", "spaced_phrases", "commas", "digits", "slashes", "minus_dots", "letters"],
)
def test_linear_time_on_pathological_megabyte(text):
    # a catastrophic-backtracking regex would run for hours on these; pytest-timeout fails it
    for mode in EXTRACT_MODES:
        out = extract_answer(text, mode)
        assert out is None or isinstance(out, str)


@pytest.mark.timeout(30)
def test_answer_at_the_end_of_a_megabyte_completion():
    text = "reasoning " * (MB // 10) + "so \\boxed{17} and the answer is 17. <answer>17</answer>"
    assert extract_answer(text, "boxed") == "17"
    assert extract_answer(text, "the_answer_is") == "17"
    assert extract_answer(text, "answer_tag") == "17"
    assert extract_answer(text, "last_number") == "17"
