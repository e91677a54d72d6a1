"""The built-in presets score hand-written completions to the exact tiers and labels."""

import math

import numpy as np
import pytest

from rewardsmith.rules import PRESETS, Outcome, load_rules

GOLD = "\\frac{1}{2}"

# (completion, expected label) for seed-tiered: +1 correct, -0.5 wrong_answer, -2 bad_format
SEED_CASES = [
    ("<think>half</think><answer>\\frac{1}{2}</answer>", "correct"),
    ("<think>half</think><answer>0.5</answer>", "correct"),
    ("<think>half</think><answer>1/2</answer>", "correct"),
    ("<think>\nhalf\n</think>\n<answer>\n\\dfrac{1}{2}\n</answer>\n", "correct"),
    ("  <think>x</think>  <answer>50\\%</answer>  ", "correct"),
    ("<think>half</think><answer>\\boxed{\\frac12}</answer>", "correct"),
    ("<think>hmm</think><answer>\\frac{1}{3}</answer>", "wrong_answer"),
    ("<think>hmm</think><answer>2</answer>", "wrong_answer"),
    ("<think>hmm</think><answer>0.5 or 0.25</answer>", "wrong_answer"),  # never graded as 0.5
    ("<think>hmm</think><answer>I do not know</answer>", "wrong_answer"),
    ("<think>hmm</think><answer>-1/2</answer>", "wrong_answer"),
    # bad format variants
    ("<answer>\\frac{1}{2}</answer>", "bad_format"),  # missing think
    ("<think>half</think>", "bad_format"),  # missing answer
    ("<think>half</think>\\frac{1}{2}", "bad_format"),
    ("\\frac{1}{2}", "bad_format"),
    ("", "bad_format"),
    ("<think>a</think><answer>1/2</answer><think>b</think><answer>1/2</answer>", "bad_format"),  # repeated
    ("<think>a</think><answer>1/3</answer><answer>1/2</answer>", "bad_format"),  # repeated answer
    ("<think>a</think><answer>1/2</answer> I am confident.", "bad_format"),  # text after answer
    ("Okay. <think>a</think><answer>1/2</answer>", "bad_format"),  # text before think
    ("<think>a</think>So<answer>1/2</answer>", "bad_format"),  # text between blocks
    ("half</think><answer>1/2</answer>", "bad_format"),  # pre-filled think, preset not told so
    ("<think>a</think><answer></answer>", "bad_format"),  # empty answer
    ("<think>a</think><answer>  \n </answer>", "bad_format"),  # blank answer
    ("<answer>1/2</answer><think>a</think>", "bad_format"),  # wrong order
    ("<THINK>a</THINK><ANSWER>1/2</ANSWER>", "bad_format"),  # tags are case-sensitive
]
SEED_REWARD = {"correct": 1.0, "wrong_answer": -0.5, "bad_format": -2.0}


@pytest.fixture(scope="module")
def seed():
    return load_rules("seed-tiered")


@pytest.mark.parametrize("completion, label", SEED_CASES)
def test_seed_tiered_cases(seed, completion, label):
    out = seed.score(completion, GOLD)
    assert isinstance(out, Outcome)
    assert (out.label, out.reward) == (label, SEED_REWARD[label]), out.details
    assert out.details["label"] == label
    assert out.details["rule"] == ["correct", "wrong_answer", "bad_format"].index(label)


def test_seed_tiered_details_say_why(seed):
    ok = seed.score("<think>a</think><answer>0.5</answer>", GOLD).details
    assert ok["format"] == {"ok": True, "reason": "ok"}
    assert ok["extracted"] == "0.5"
    assert ok["verdict"]["label"] == "equal" and ok["verdict"]["path"] in ("exact", "symbolic")
    assert "tier 0" in ok["why"]
    bad = seed.score("<think>a</think><answer>1/2</answer> extra", GOLD).details
    assert bad["format"]["ok"] is False and "after </answer>" in bad["format"]["reason"]
    assert "verdict" not in bad  # lazily skipped: a bad format never reaches the verifier
    wrong = seed.score("<think>a</think><answer>1/3</answer>", GOLD).details
    assert wrong["verdict"]["label"] == "not_equal"


def test_seed_tiered_prefilled_variant():
    rs = load_rules({"extends": "seed-tiered", "format": {"prefilled_think": True}})
    assert rs.score("half</think><answer>1/2</answer>", GOLD).label == "correct"
    assert rs.score("half</think><answer>1/3</answer>", GOLD).label == "wrong_answer"
    assert rs.score("<think>half</think><answer>1/2</answer>", GOLD).label == "bad_format"
    assert rs.score("half</think><answer>1/2</answer>tail", GOLD).label == "bad_format"


def test_chat_messages_score_the_last_assistant_turn(seed):
    msgs = [
        {"role": "user", "content": "What is 1/2?"},
        {"role": "assistant", "content": "<think>a</think><answer>1/3</answer>"},
        {"role": "user", "content": "Try again"},
        {"role": "assistant", "content": [{"type": "text", "text": "<think>b</think>"},
                                          {"type": "text", "text": "<answer>1/2</answer>"}]},
    ]
    assert seed.score(msgs, GOLD).label == "correct"
    assert seed.score([{"role": "user", "content": "hi"}], GOLD).label == "bad_format"
    assert seed.score(None, GOLD).label == "bad_format"  # a rollout that produced nothing
    with pytest.raises(ValueError, match="completion"):
        seed.score(42, GOLD)
    with pytest.raises(ValueError, match="completions\\[1\\]"):
        seed.score_batch(["x", [1, 2]], [GOLD, GOLD], workers=0)


R1_CASES = [
    ("<think>a</think><answer>1/2</answer>", "correct", 2.0, 1.0, 1.0),
    ("<think>a</think><answer>1/3</answer>", "wrong_answer", 1.0, 0.0, 1.0),
    ("<think>a</think><answer>1/2</answer> trailing", "correct_bad_format", 1.0, 1.0, 0.0),
    ("<answer>1/2</answer>", "correct_bad_format", 1.0, 1.0, 0.0),
    ("<answer>7</answer>", "bad_format", 0.0, 0.0, 0.0),
    ("1/2", "bad_format", 0.0, 0.0, 0.0),  # no answer tag: nothing extracted
    ("", "bad_format", 0.0, 0.0, 0.0),
    ("<think>a</think><answer></answer>", "bad_format", 0.0, 0.0, 0.0),
]


@pytest.mark.parametrize("completion, label, reward, acc, fmt", R1_CASES)
def test_r1_cases(completion, label, reward, acc, fmt):
    rs = load_rules("r1")
    out = rs.score(completion, GOLD)
    assert (out.label, out.reward) == (label, reward)
    assert out.details["terms"] == {"accuracy": acc, "format": fmt}


BINARY_CASES = [
    ("so the answer is \\boxed{\\frac{1}{2}}", "correct", 1.0),
    ("\\boxed{0.5}", "correct", 1.0),
    ("first \\boxed{3}, no wait: \\boxed{\\frac{1}{2}}", "correct", 1.0),  # last box
    ("\\boxed{\\frac{1}{2}} hmm, actually \\boxed{3}", "wrong_answer", 0.0),
    ("the answer is 1/2", "wrong_answer", 0.0),  # no box: no silent fallback to another mode
    ("<think>a</think><answer>1/2</answer>", "wrong_answer", 0.0),
    ("", "wrong_answer", 0.0),
]


@pytest.mark.parametrize("completion, label, reward", BINARY_CASES)
def test_binary_cases(completion, label, reward):
    out = load_rules("binary").score(completion, GOLD)
    assert (out.label, out.reward) == (label, reward)


def test_binary_no_answer_is_recorded():
    d = load_rules("binary").score("the answer is 1/2", GOLD).details
    assert d["extracted"] is None and d["verdict"]["label"] == "no_answer"


def test_presets_listed_and_labels():
    assert {"seed-tiered", "r1", "binary"} <= set(PRESETS)
    assert load_rules("seed-tiered").labels == ("correct", "wrong_answer", "bad_format", "timeout", "error")
    assert load_rules("binary").labels[:2] == ("correct", "wrong_answer")


def test_score_batch_matches_score(seed):
    comps = [c for c, _ in SEED_CASES]
    batch = seed.score_batch(comps, [GOLD] * len(comps), workers=0)
    assert batch.labels == [lb for _, lb in SEED_CASES]
    assert batch.rewards.dtype == np.float64
    np.testing.assert_array_equal(batch.rewards, [SEED_REWARD[lb] for _, lb in SEED_CASES])
    np.testing.assert_array_equal(batch.components["tier"], batch.rewards)
    assert batch.label_counts()["bad_format"] == sum(lb == "bad_format" for _, lb in SEED_CASES)
    assert len(batch.details) == len(comps)


def test_answers_required_and_validated(seed):
    with pytest.raises(ValueError, match="answers"):
        seed.score_batch(["a"], None, workers=0)
    with pytest.raises(ValueError, match="expected 2"):
        seed.score_batch(["a", "b"], ["1"], workers=0)
    with pytest.raises(ValueError, match="rows \\[1\\]"):
        seed.score_batch(["a", "b"], ["1", None], workers=0)
    with pytest.raises(ValueError, match="answer"):
        seed.score("a")
    # a format-only rule set needs no answers
    fmt_only = load_rules({"tiers": [{"when": {"format": True}, "reward": 1, "label": "ok"},
                                     {"reward": 0, "label": "bad"}]})
    assert fmt_only.score_batch(["<think>a</think><answer>b</answer>", "x"], workers=0).labels == ["ok", "bad"]


def test_numeric_gold_answers(seed):
    assert seed.score("<think>a</think><answer>4</answer>", 4).label == "correct"
    assert seed.score("<think>a</think><answer>0.25</answer>", 0.25).label == "correct"
    assert seed.score("<think>a</think><answer>4</answer>", 4.0).label == "correct"


def test_broken_gold_is_an_error_not_a_wrong_answer(seed):
    out = seed.score("<think>a</think><answer>4</answer>", "  ")
    assert out.label == "error" and math.isnan(out.reward)
    assert "gold" in out.details["why"]
