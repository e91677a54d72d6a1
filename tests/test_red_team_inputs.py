"""Round 2 of red-teaming the reward layer: hostile or malformed inputs, each once a wrong
reward, a hang or a crash (see the issue note). One test per finding, across modules."""

from __future__ import annotations

import datetime
import json
import time

import numpy as np
import pytest

from rewardsmith import advantages, verify
from rewardsmith.io import read_rows, write_rows
from rewardsmith.rules import load_rules


def C(answer: str) -> str:
    return f"<think>t</think><answer>{answer}</answer>"


@pytest.fixture(scope="module")
def tiered():
    return load_rules("seed-tiered")


@pytest.mark.parametrize("pred, gold", [("inf", "7"), ("infinity", "-5"), ("\\infty", "\\ln 2"),
                                        ("-\\infty", "\\sqrt[3]{2}"), ("(inf, inf)", "(1, 2)"),
                                        ("x = inf", "x = 3"), ("\\infty", "2e")])
def test_infinity_is_not_close_to_every_number(pred, gold):
    assert not verify.math_equal(pred, gold, timeout=10)


def test_infinity_still_equals_infinity():
    assert verify.math_equal("\\infty", "\\infty") and verify.math_equal("inf", "\\infty", timeout=10)


def test_gold_answers_of_numpy_and_missing_values(tiered):
    assert tiered.score(C("0.1"), np.float32(0.1)).label == "correct"
    assert tiered.score(C("0.1"), np.float64(0.1)).label == "correct"
    assert tiered.score(C("3"), np.int32(3)).label == "correct"
    for missing in (float("nan"), np.float64("nan"), float("inf")):
        out = tiered.score(C("4"), missing)
        assert out.label == "error" and np.isnan(out.reward), out  # the data, not the policy
        assert tiered.score(C("nan"), missing).label == "error"


def test_yes_no_fields_are_read_strictly():
    rules = load_rules({"extends": "seed-tiered", "shaping": [{"kind": "overlong", "max_length": 4096}]})
    assert rules.score(C("4"), "4", truncated="false").reward == 1.0
    assert rules.score(C("4"), "4", truncated="False").reward == 1.0
    assert rules.score(C("4"), "4", truncated=True).reward == 0.0
    assert rules.score(C("4"), "4", truncated=1).reward == 0.0
    with pytest.raises(ValueError, match="truncated: expected true or false.*'maybe'"):
        rules.score(C("4"), "4", truncated="maybe")


def test_a_bad_num_tokens_field_is_an_error_not_a_nan_reward():
    rules = load_rules({"extends": "seed-tiered",
                        "shaping": [{"kind": "soft_overlong", "max_length": 100, "cache": 10, "unit": "tokens"}]})
    for bad in ("abc", None, float("nan"), -1, [3]):
        with pytest.raises(ValueError, match=r"fields\[0\]\.num_tokens: expected an integer >= 0"):
            rules.score_batch([C("4"), "garbage"], ["4", "4"], fields={"num_tokens": [bad, 5]}, workers=0)
    ok = rules.score_batch([C("4"), "garbage"], ["4", "4"], fields={"num_tokens": [5, 5]}, workers=0)
    assert ok.rewards.tolist() == [1.0, -2.0]


def test_yaml_aliases_are_refused_quickly(tmp_path):
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    lines.append("extends: seed-tiered")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n")
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"bomb\.yaml.*line 2: YAML aliases \(\*a0\) are not allowed"):
        load_rules(str(bomb))
    assert time.perf_counter() - t0 < 5.0


def test_deep_json_and_odd_values_in_rollout_files(tmp_path):
    deep = tmp_path / "deep.jsonl"
    deep.write_text('{"completion": ' + "[" * 100000 + "]" * 100000 + "}\n")
    with pytest.raises(ValueError, match=r"deep\.jsonl:1: invalid JSON \(nested too deep\)"):
        read_rows(deep)
    out = tmp_path / "new" / "dir" / "odd.jsonl"
    write_rows(out, [{"d": datetime.date(2026, 12, 1), "b": b"\xff", "s": "\ud800"}])
    row = json.loads(out.read_text(encoding="utf-8"))
    assert row["d"] == "2026-12-01" and row["s"] == "\ud800"


def test_score_cli_writes_into_a_new_folder(tmp_path):
    from typer.testing import CliRunner

    from rewardsmith.cli import app

    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"completion": C("4"), "answer": "4"}) + "\n")
    out = tmp_path / "no" / "such" / "dir" / "scored.jsonl"
    res = CliRunner().invoke(app, ["score", "--rules", "seed-tiered", "--input", str(src), "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert read_rows(out)[0]["label"] == "correct"


def test_trl_reward_function_takes_an_empty_batch(tiered):
    pytest.importorskip("trl")
    from rewardsmith.integrations import trl as rs_trl

    assert rs_trl.reward_funcs(tiered)[0](prompts=[], completions=[], answer=[]) == []


def test_small_signed_group_ids():
    a = advantages.compute("grpo", np.array([1.0, 0, 0, 1]), groups=np.array([-1, -1, -128, -128], np.int8))
    assert np.allclose(a, [1, -1, -1, 1], atol=1e-5)


def test_huge_sets_are_refused_not_matched_for_a_minute():
    gold = ",".join(map(str, range(2000)))
    t0 = time.perf_counter()
    v = verify.verify_math("\\{" + gold + "\\}", gold)
    assert v.label == "parse_error" and "refused" in v.reason
    assert time.perf_counter() - t0 < 5.0
    small = ",".join(map(str, range(150)))
    assert verify.math_equal("\\{" + small + "\\}", small)


def test_trl_answer_column_must_be_one_per_completion(tiered):
    pytest.importorskip("trl")
    from rewardsmith.integrations import trl as rs_trl

    with pytest.raises(ValueError, match=r"answer: expected one gold answer per completion \(a list of 2\), got str"):
        rs_trl.reward_funcs(tiered)[0](prompts=["p", "p"], completions=[C("4"), C("4")], answer="44")
