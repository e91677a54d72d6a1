"""Multiple choice and normalized string answers."""

import pytest

from rewardsmith.verify.text import choice_equal, extract_choice, normalize_text, string_equal


@pytest.mark.parametrize(
    "text",
    ["B", "b", "(B)", "B.", "B)", "B:", "**B**", "Answer: B", "answer - (B)", "The answer is (B).",
     "The correct answer is B", "\\boxed{B}", "\\boxed{(B)}", "\\text{B}", "B. Paris", "(B) Paris",
     "  Final answer: **(B)**  "],
)
def test_extract_choice_forms(text):
    assert extract_choice(text) == "B"
    assert choice_equal(text, "B")
    assert choice_equal(text, "(B)")
    assert not choice_equal(text, "C")


@pytest.mark.parametrize(
    "text",
    ["", "A cat sat", "B or C", "B, C", "B and C", "Bees", "K", "maybe", "(B", "the answer is"],
)
def test_extract_choice_rejects(text):
    assert extract_choice(text) is None


def test_choice_letters_and_bad_gold():
    assert extract_choice("E", letters="ABCD") is None
    assert not choice_equal("E", "A", letters="ABCD")
    assert not choice_equal(None, "A")
    with pytest.raises(ValueError, match="gold"):
        choice_equal("A", "Paris")


def test_string_equal_normalizations():
    assert string_equal("  Paris ", "paris")  # default: case + whitespace
    assert not string_equal("Paris.", "paris")
    assert string_equal("Paris.", "paris", normalize=("case", "punctuation"))
    assert string_equal("The  Eiffel Tower!", "eiffel tower", normalize="all")
    assert not string_equal("an apple", "apple", normalize=("case", "whitespace"))
    assert string_equal("an apple", "apple", normalize=("articles", "whitespace"))
    assert not string_equal("Paris", "paris", normalize=False)
    assert string_equal("ﬁne", "fine", normalize=("unicode",))  # NFKC ligature
    assert not string_equal(None, "x")


def test_normalize_text_and_errors():
    assert normalize_text("The  Cat, the HAT.", "all") == "cat hat"
    with pytest.raises(ValueError, match="normalize"):
        string_equal("a", "a", normalize=("stemming",))
    with pytest.raises(ValueError, match="gold"):
        string_equal("a", 3)  # type: ignore[arg-type]
