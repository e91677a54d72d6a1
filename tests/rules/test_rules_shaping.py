"""Shaping terms: DAPO (soft) overlong, length, repetition, tag count; components add up."""

import math

import numpy as np
import pytest

from rewardsmith.rules import load_rules
from rewardsmith.rules.shaping import (
    distinct_ngram_frac,
    length_penalty,
    overlong,
    repetition,
    soft_overlong,
)


def test_soft_overlong_matches_dapo_formula():
    # L_max = 100, L_cache = 20: 0 up to 80, linear to -1 at 100, -1 beyond
    assert soft_overlong(0, 100, 20) == 0.0
    assert soft_overlong(80, 100, 20) == 0.0
    assert soft_overlong(81, 100, 20) == pytest.approx(-0.05)
    assert soft_overlong(90, 100, 20) == pytest.approx(-0.5)
    assert soft_overlong(100, 100, 20) == pytest.approx(-1.0)
    assert soft_overlong(101, 100, 20) == -1.0
    assert soft_overlong(10**9, 100, 20) == -1.0


def test_overlong_and_length():
    assert overlong(100, 100) == 0.0 and overlong(101, 100) == -1.0
    assert overlong(5, 100, truncated=True) == -1.0
    assert length_penalty(50, free=50, scale=100) == 0.0
    assert length_penalty(100, free=50, scale=100) == pytest.approx(-0.5)
    assert length_penalty(10**6, free=50, scale=100) == -1.0


def test_repetition_matches_open_r1_definition():
    # open-r1: 1 - unique n-grams / total n-grams, times max_penalty
    assert repetition("the cat sat on the mat", 3) == 0.0
    assert repetition("a b a b a b", 2) == pytest.approx(-(1 - 2 / 5))
    assert repetition("go go go go go", 1) == pytest.approx(-(1 - 1 / 5))
    assert repetition("too short", 3) == 0.0 and distinct_ngram_frac("", 1) is None
    assert repetition("A B a b", 2) == pytest.approx(-(1 - 2 / 3))  # lower-cased


def test_terms_in_a_rule_set_add_to_the_tier_reward():
    rs = load_rules({
        "extends": "seed-tiered",
        "shaping": [
            {"kind": "soft_overlong", "max_length": 60, "cache": 20, "weight": 1.0},
            {"kind": "repetition", "ngram": 1, "weight": 0.5},
            {"kind": "tag_count", "weight": 0.25},
            {"kind": "length", "free": 0, "scale": 1000, "weight": 2.0, "name": "len"},
        ],
    })
    short = "<think>a b</think><answer>4</answer>"
    assert len(short) == 36
    out = rs.score(short, "4")
    t = out.details["terms"]
    assert t["soft_overlong"] == 0.0
    assert t["tag_count"] == 1.0
    assert t["len"] == pytest.approx(-36 / 1000)
    rep = repetition(short, 1)
    assert t["repetition"] == pytest.approx(rep)
    assert out.reward == pytest.approx(1.0 + 0.5 * rep + 0.25 - 2 * 36 / 1000)

    long = "<think>" + "x " * 30 + "</think><answer>4</answer>"  # 86 chars > 60
    batch = rs.score_batch([short, long, "junk"], ["4", "4", "4"], workers=0)
    assert batch.labels == ["correct", "correct", "bad_format"]
    assert set(batch.components) == {"tier", "soft_overlong", "repetition", "tag_count", "len"}
    total = sum(batch.components.values())
    np.testing.assert_allclose(total, batch.rewards)
    assert batch.components["soft_overlong"][1] == -1.0
    assert batch.components["tag_count"][2] == 0.0


def test_overlong_uses_truncated_field():
    rs = load_rules({"extends": "binary", "shaping": [{"kind": "overlong", "max_length": 10_000}]})
    b = rs.score_batch(["\\boxed{1}", "\\boxed{1}"], ["1", "1"], fields=[{"truncated": True}, {}], workers=0)
    np.testing.assert_array_equal(b.rewards, [0.0, 1.0])
    b2 = rs.score_batch(["\\boxed{1}", "\\boxed{1}"], ["1", "1"], fields={"truncated": [False, True]}, workers=0)
    np.testing.assert_array_equal(b2.rewards, [1.0, 0.0])
    with pytest.raises(ValueError, match="fields\\['truncated'\\]"):
        rs.score_batch(["a"], ["1"], fields={"truncated": [True, False]}, workers=0)


def test_policy_number_replaces_nan_for_undecided():
    rs = load_rules({"extends": "seed-tiered", "policy": {"on_error": -1.0}})
    out = rs.score("<think>a</think><answer>4</answer>", "")  # broken gold: error
    assert out.label == "error" and out.reward == -1.0
    nan = load_rules("seed-tiered").score("<think>a</think><answer>4</answer>", "")
    assert nan.label == "error" and math.isnan(nan.reward)
