"""Rule sets declared in YAML / dicts: validation errors name file, key path, value, what is allowed."""

import math
import textwrap

import pytest

from rewardsmith.rules import RuleSet, RuleSetSpec, load_rules, merge_specs

TIERS = [
    {"when": {"format": True, "correct": True}, "reward": 1.0, "label": "correct"},
    {"when": {"format": True}, "reward": -0.5, "label": "wrong_answer"},
    {"when": {}, "reward": -2.0, "label": "bad_format"},
]


def write(tmp_path, text, name="rules.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_yaml_file_round_trip(tmp_path):
    p = write(tmp_path, """
        name: my-rules
        format: {kind: tags, tags: [think, answer]}
        answer: {extract: answer_tag, compare: math, timeout: 2.5}
        tiers:
          - {when: {format: true, correct: true}, reward: 1.0, label: correct}
          - {when: {format: true}, reward: -0.5, label: wrong_answer}
          - {reward: -2.0, label: bad_format}
        shaping:
          - {kind: soft_overlong, max_length: 100, cache: 20, weight: 0.5}
        policy: {on_timeout: -1.0, on_error: nan}
    """)
    rs = load_rules(p)
    assert isinstance(rs, RuleSet) and rs.name == "my-rules"
    assert rs.spec.answer.timeout == 2.5
    assert rs.spec.policy.on_timeout == -1.0 and math.isnan(rs.spec.policy.on_error)
    again = load_rules(rs.to_dict())
    assert again.spec == rs.spec
    out = rs.score("<think>a</think><answer>4</answer>", "4")
    assert (out.label, out.reward) == ("correct", 1.0)
    long = "<think>" + "x" * 100 + "</think><answer>4</answer>"  # 126 chars > 100: -1 * 0.5
    assert rs.score(long, "4").reward == pytest.approx(0.5)


def test_extends_a_preset(tmp_path):
    p = write(tmp_path, """
        extends: seed-tiered
        answer: {extract: boxed}
        shaping: [{kind: repetition, ngram: 2, weight: 0.1}]
    """)
    rs = load_rules(p)
    assert rs.spec.answer.extract == "boxed" and rs.spec.answer.compare == "math"  # merged
    assert [t.label for t in rs.spec.tiers] == ["correct", "wrong_answer", "bad_format"]
    assert rs.name == "seed-tiered+rules"
    assert rs.score("<think>a</think><answer>\\boxed{4}</answer>", "4").label == "correct"


def test_merge_specs():
    assert merge_specs({"a": {"b": 1, "c": 2}, "l": [1]}, {"a": {"c": 3}, "l": [2]}) == {
        "a": {"b": 1, "c": 3}, "l": [2]}


@pytest.mark.parametrize(
    "body, needles",
    [
        ("tiers: [{reward: high, label: x}]", ["tiers[0].reward", "'high'", "valid number"]),
        ("tiers: [{reward: 1, label: x, when: {correctt: true}}]",
         ["tiers[0].when.correctt", "'format', 'answer' or 'correct'"]),
        ("format: {kind: xml}\ntiers: [{reward: 1, label: x}]", ["format.kind", "'xml'", "'tags', 'regex', 'json' or 'none'"]),
        ("answer: {extract: first_number}\ntiers: [{reward: 1, label: x}]",
         ["answer.extract", "'first_number'", "'answer_tag'", "'last_number'"]),
        ("answer: {compare: magic}\ntiers: [{reward: 1, label: x}]", ["answer.compare", "'magic'", "math", "choice"]),
        ("answer: {timeout: -1}\ntiers: [{reward: 1, label: x}]", ["answer.timeout", "-1", "greater than 0"]),
        ("tiers: [{reward: 1, label: x, colour: red}]", ["tiers[0].colour", "unknown key", "allowed keys: label, reward, when, scale_by"]),
        ("tier: []", ["tier", "unknown key", "allowed keys:", "tiers", "shaping"]),
        ("tiers: []", ["tiers", "at least 1"]),
        ("tiers: [{when: {format: true}, reward: 1, label: a}]", ["tiers:", "last tier", "when: {}"]),
        ("tiers: [{reward: 1, label: a}, {reward: 2, label: b}]", ["tiers:", "tier 0 ('a') matches everything", "never fire"]),
        ("tiers: [{when: {format: true}, reward: 1, label: a}, {reward: 2, label: a}]", ["tiers:", "distinct", "'a'"]),
        ("tiers: [{reward: 1, label: timeout}]", ["tiers[0].label", "reserved"]),
        ("tiers: [{reward: 1, label: '2 words'}]", ["tiers[0].label", "'2 words'"]),
        ("tiers: [{reward: 1, label: x}]\nshaping: [{kind: soft_overlong, max_length: 10, cache: 50}]",
         ["shaping[0]", "cache (50) must be at most max_length (10)"]),
        ("tiers: [{reward: 1, label: x}]\nshaping: [{kind: overlong}]", ["shaping[0].max_length", "Field required"]),
        ("tiers: [{reward: 1, label: x}]\nshaping: [{kind: sparkle}]", ["shaping[0]", "'sparkle'", "soft_overlong", "repetition"]),
        ("tiers: [{reward: 1, label: x}]\nshaping: [{kind: repetition, ngram: 0}]", ["shaping[0].ngram", "0"]),
        ("tiers: [{reward: 1, label: x}]\nshaping: [{kind: repetition, nram: 2}]",
         ["shaping[0].nram", "unknown key", "allowed keys: name, weight, kind, ngram"]),
        ("tiers: [{reward: 1, label: x}]\nshaping: [{kind: repetition}, {kind: repetition}]", ["shaping:", "distinct", "repetition"]),
        ("format: {kind: regex}\ntiers: [{reward: 1, label: x}]", ["format", "needs a 'pattern'"]),
        ("format: {kind: regex, pattern: '(a'}\ntiers: [{reward: 1, label: x}]", ["format", "not a valid regular expression"]),
        ("policy: {on_timeout: .inf}\ntiers: [{reward: 1, label: x}]", ["policy.on_timeout", "finite"]),
        ("extends: seed-tierd", ["extends", "'seed-tierd'", "seed-tiered"]),
    ],
)
def test_yaml_errors_name_file_key_value_and_allowed(tmp_path, body, needles):
    p = write(tmp_path, body + "\n")
    with pytest.raises(ValueError) as ei:
        load_rules(p)
    msg = str(ei.value)
    assert msg.startswith(str(p)), msg
    for needle in needles:
        assert needle in msg, f"{needle!r} not in:\n{msg}"


def test_malformed_yaml_and_wrong_top_level(tmp_path):
    with pytest.raises(ValueError, match="not valid YAML"):
        load_rules(write(tmp_path, "tiers: [unclosed\n"))
    with pytest.raises(ValueError, match="must be a mapping"):
        load_rules(write(tmp_path, "- a\n- b\n"))


def test_unknown_preset_or_missing_file():
    with pytest.raises(ValueError, match="neither a preset") as ei:
        load_rules("seed-tierd")
    assert "seed-tiered" in str(ei.value) and "binary" in str(ei.value)
    with pytest.raises(ValueError, match="neither a preset"):
        load_rules("no/such/rules.yaml")
    with pytest.raises(ValueError, match="expected a preset name"):
        load_rules(3)  # type: ignore[arg-type]


def test_python_declaration():
    from rewardsmith.rules.spec import AnswerSpec, TierSpec

    spec = RuleSetSpec(
        name="mc",
        format={"kind": "none"},
        answer=AnswerSpec(extract="the_answer_is", compare="choice", letters="ABCD"),
        tiers=[TierSpec(when={"correct": True}, reward=1.0, label="correct"),
               TierSpec(reward=0.0, label="wrong")],
    )
    rs = RuleSet(spec)
    assert rs.score("I think the answer is (C).", "C").label == "correct"
    assert rs.score("I think the answer is (B).", "C").label == "wrong"
    assert rs.score("no idea", "C").label == "wrong"


def test_string_and_exact_compare():
    rs = load_rules({"format": {"kind": "none"},
                     "answer": {"extract": "answer_tag", "compare": "string", "normalize": "all"},
                     "tiers": [{"when": {"correct": True}, "reward": 1, "label": "ok"}, {"reward": 0, "label": "no"}]})
    assert rs.score("<answer>The Eiffel Tower.</answer>", "eiffel tower").label == "ok"
    ex = load_rules({"format": {"kind": "none"}, "answer": {"extract": "none", "compare": "exact"},
                     "tiers": [{"when": {"correct": True}, "reward": 1, "label": "ok"}, {"reward": 0, "label": "no"}]})
    assert ex.score("  Paris\n", "Paris").label == "ok"
    assert ex.score("paris", "Paris").label == "no"


def test_regex_and_json_format_rules():
    rx = load_rules({"format": {"kind": "regex", "pattern": r"Answer: \d+"}, "answer": {"extract": "last_number"},
                     "tiers": [{"when": {"format": True, "correct": True}, "reward": 1, "label": "ok"},
                               {"reward": 0, "label": "no"}]})
    assert rx.score("Answer: 12", "12").label == "ok"
    assert rx.score("The Answer: 12", "12").label == "no"
    js = load_rules({"format": {"kind": "json", "require": "object"}, "answer": {"extract": "none"},
                     "tiers": [{"when": {"format": True}, "reward": 1, "label": "json"}, {"reward": 0, "label": "no"}]})
    assert js.score_batch(['{"a": 1}', "[1]", "{a: 1}"], workers=0).labels == ["json", "no", "no"]


def test_answer_condition_and_scale_by():
    rs = load_rules({"format": {"kind": "none"}, "answer": {"extract": "boxed"},
                     "tiers": [{"when": {"answer": False}, "reward": -1, "label": "no_answer"},
                               {"when": {"correct": True}, "reward": 1, "label": "correct"},
                               {"reward": 0, "label": "wrong"}]})
    assert rs.score("nothing boxed", "1").label == "no_answer"
    assert rs.score("\\boxed{1}", "1").label == "correct"
    assert rs.score("\\boxed{2}", "1").label == "wrong"
    scaled = load_rules({"format": {"kind": "none"}, "answer": {"extract": "boxed"},
                         "tiers": [{"when": {"format": True}, "reward": 3, "label": "scaled", "scale_by": "correct"},
                                   {"reward": 0, "label": "never"}]})
    assert scaled.score("\\boxed{1}", "1").reward == 3.0
    assert scaled.score("\\boxed{2}", "1").reward == 0.0


def test_token_unit_needs_a_length_source():
    spec = {"extends": "seed-tiered", "shaping": [{"kind": "overlong", "max_length": 3, "unit": "tokens"}]}
    rs = load_rules(spec)
    good = "<think>a</think><answer>4</answer>"
    with pytest.raises(ValueError, match="num_tokens"):
        rs.score_batch([good], ["4"], workers=0)
    assert rs.score(good, "4", num_tokens=3).reward == 1.0
    assert rs.score(good, "4", num_tokens=4).reward == 0.0
    tok = load_rules(spec, tokenizer=lambda s: s.split("<"))  # a toy tokenizer: 5 "tokens"
    assert tok.score(good, "4").reward == 0.0
    b = tok.score_batch([good], ["4"], fields=[{"num_tokens": 1}], workers=0)  # a field wins
    assert b.rewards[0] == 1.0


def test_register_preset_and_check_hooks():
    from rewardsmith.rules import PRESETS, AnswerCheck, CheckResult, register_check, register_preset

    class LengthCheck(AnswerCheck):
        """Partial credit: the fraction of the gold length reached (reads no gold format)."""

        def __call__(self, pred, gold, *, text, fields, timeout):
            frac = min(1.0, len(pred or "") / len(gold))
            return CheckResult(frac == 1.0, "equal" if frac == 1.0 else "partial", score=frac)

    register_check("test-length", LengthCheck, overwrite=True)
    register_preset("test-partial", lambda: {
        "format": {"kind": "none"},
        "answer": {"extract": "none", "compare": "test-length"},
        "tiers": [{"when": {"answer": True}, "reward": 2.0, "label": "scored", "scale_by": "correct"},
                  {"reward": -1.0, "label": "empty"}],
    }, overwrite=True)
    try:
        rs = load_rules("test-partial")
        assert rs.score("abc", "abcdef").reward == pytest.approx(1.0)
        assert rs.score("abcdef", "abcdef").reward == 2.0
        assert rs.score("  ", "abcdef").label == "empty"
        with pytest.raises(ValueError, match="already registered"):
            register_preset("seed-tiered", lambda: {})
        with pytest.raises(ValueError, match="already registered"):
            register_check("math", LengthCheck)
        with pytest.raises(ValueError, match="AnswerCheck"):
            register_check("bad", object)  # type: ignore[arg-type]
    finally:
        PRESETS.pop("test-partial", None)


def test_extends_keeps_a_preset_rule_set_subclass(tmp_path):
    from rewardsmith.rules import PRESETS, register_preset

    class Shouting(RuleSet):
        def evaluate(self, text, gold, fields, timeout):
            reward, label, details, comps = super().evaluate(text, gold, fields, timeout)
            return reward, label.upper(), details, comps

    register_preset("test-shouting", lambda: Shouting(load_rules("binary").spec), overwrite=True)
    try:
        assert isinstance(load_rules("test-shouting"), Shouting)
        rs = load_rules({"extends": "test-shouting", "tiers": [{"reward": 5, "label": "all"}]})
        assert isinstance(rs, Shouting) and rs.score("x", "1").label == "ALL"
        p = write(tmp_path, "extends: test-shouting\n")
        assert isinstance(load_rules(p), Shouting)
        assert isinstance(load_rules(rs, tokenizer=len), Shouting)
    finally:
        PRESETS.pop("test-shouting", None)
