"""``rewardsmith score`` end to end through the CLI, on JSONL and Parquet."""

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from rewardsmith import advantages
from rewardsmith.cli import app

runner = CliRunner()


def rollouts():
    """3 prompts x 4 completions, every seed-tiered label, one group with zero variance."""
    rows = []
    plan = {
        "What is 1/2 + 1/2?": ("1", ["1", "2", "bad", "1"]),
        "What is 2 + 3?": ("5", ["5", "5", "5", "5"]),  # zero-variance group
        "What is 10 / 4?": ("\\frac{5}{2}", ["2.5", "3", "bad", "bad"]),
    }
    for prompt, (gold, answers) in plan.items():
        for a in answers:
            c = "no tags, just 1" if a == "bad" else f"<think>work</think><answer>{a}</answer>"
            rows.append({"prompt": prompt, "completion": c, "answer": gold, "id": len(rows)})
    return rows


EXPECTED_LABELS = ["correct", "wrong_answer", "bad_format", "correct"] + ["correct"] * 4 + [
    "correct", "wrong_answer", "bad_format", "bad_format"]
REWARD = {"correct": 1.0, "wrong_answer": -0.5, "bad_format": -2.0}


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def invoke(*args):
    result = runner.invoke(app, ["score", *map(str, args)])
    return result


def test_jsonl_end_to_end_with_estimator(tmp_path):
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    rows = rollouts()
    write_jsonl(src, rows)
    r = invoke("--rules", "seed-tiered", "--input", src, "--output", dst, "--estimator", "grpo", "--workers", "0")
    assert r.exit_code == 0, r.output
    out = read_jsonl(dst)
    assert [o["id"] for o in out] == list(range(12))  # order and input columns kept
    assert all(o["prompt"] == i["prompt"] and o["completion"] == i["completion"] for o, i in zip(out, rows))
    assert [o["label"] for o in out] == EXPECTED_LABELS
    rewards = np.array([o["reward"] for o in out])
    np.testing.assert_array_equal(rewards, [REWARD[lb] for lb in EXPECTED_LABELS])
    want = advantages.compute("grpo", rewards, groups=np.repeat([0, 1, 2], 4))
    np.testing.assert_allclose([o["advantage"] for o in out], want)
    assert all(o["advantage"] == 0.0 for o in out[4:8])  # zero-variance group
    # the printed report: label counts and raw vs normalized distribution
    assert "labels" in r.output and "bad_format" in r.output
    assert "reward distribution" in r.output and "zero-variance groups" in r.output
    assert "33.3%" in r.output  # 1 of 3 groups has zero variance
    assert "advantage (grpo)" in r.output


def test_parquet_end_to_end_with_group_column(tmp_path):
    rows = rollouts()
    for i, row in enumerate(rows):
        row["group"] = i // 6  # two groups of 6, overriding prompt grouping
    src, dst = tmp_path / "in.parquet", tmp_path / "out.parquet"
    pq.write_table(pa.Table.from_pylist(rows), src)
    png = tmp_path / "scores.png"
    r = invoke("--rules", "seed-tiered", "--input", src, "--output", dst, "--estimator", "rloo", "--workers", "2",
               "--plot", png)
    assert r.exit_code == 0, r.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    out = pq.read_table(dst).to_pylist()
    assert [o["label"] for o in out] == EXPECTED_LABELS
    rewards = np.array([o["reward"] for o in out])
    want = advantages.compute("rloo", rewards, groups=np.repeat([0, 1], 6))
    np.testing.assert_allclose([o["advantage"] for o in out], want)
    assert [o["group"] for o in out] == [i // 6 for i in range(12)]


def test_without_estimator_and_with_yaml_rules(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("extends: binary\nanswer: {extract: answer_tag}\n")
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    rows = [{"completion": "<answer>4</answer>", "answer": "4"}, {"completion": "4", "answer": "4"}]
    write_jsonl(src, rows)
    r = invoke("--rules", rules, "--input", src, "--output", dst, "--workers", "0")
    assert r.exit_code == 0, r.output
    out = read_jsonl(dst)
    assert [(o["reward"], o["label"]) for o in out] == [(1.0, "correct"), (0.0, "wrong_answer")]
    assert "advantage" not in out[0]


def test_unscored_rows_are_written_as_null(tmp_path):
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, [{"completion": "<think>a</think><answer>4</answer>", "answer": "", "prompt": "p"},
                      {"completion": "<think>a</think><answer>4</answer>", "answer": "4", "prompt": "p"}])
    r = invoke("--rules", "seed-tiered", "--input", src, "--output", dst, "--estimator", "grpo", "--workers", "0")
    assert r.exit_code == 0, r.output
    out = read_jsonl(dst)
    assert out[0]["reward"] is None and out[0]["label"] == "error"
    assert out[0]["advantage"] == 0.0  # NaN rewards are left out of group stats
    assert out[1]["reward"] == 1.0


@pytest.mark.parametrize(
    "rows, args, needles",
    [
        ([{"completion": "x"}], [], ["'answer'", "missing", "seed-tiered"]),
        ([{"text": "x", "answer": "1"}], [], ["'completion'", "missing", "['text', 'answer']"]),
        ([{"completion": "x", "answer": "1"}], ["--estimator", "grpo"], ["needs groups", "'group'", "'prompt'"]),
        ([{"completion": "x", "answer": "1"}], ["--estimator", "nope"], ["estimator: expected one of", "got 'nope' (unknown name)", "grpo"]),
        ([{"completion": "x", "answer": "1"}], ["--engine", "spark"], ["'spark'", "local", "ray"]),
    ],
)
def test_clear_errors(tmp_path, rows, args, needles):
    src = tmp_path / "in.jsonl"
    write_jsonl(src, rows)
    r = invoke("--rules", "seed-tiered", "--input", src, "--output", tmp_path / "o.jsonl", "--workers", "0", *args)
    assert r.exit_code != 0
    text = " ".join(r.output.split())  # rich wraps long lines
    for needle in needles:
        assert needle in text, f"{needle!r} not in {text}"
    assert not (tmp_path / "o.jsonl").exists()


def test_unknown_preset_and_missing_input(tmp_path):
    src = tmp_path / "in.jsonl"
    write_jsonl(src, [{"completion": "x", "answer": "1"}])
    r = invoke("--rules", "seed-tierd", "--input", src, "--output", tmp_path / "o.jsonl")
    assert r.exit_code != 0
    text = " ".join(r.output.split())
    assert "seed-tierd" in text and "seed-tiered" in text
    r = invoke("--rules", "seed-tiered", "--input", tmp_path / "nope.jsonl", "--output", tmp_path / "o.jsonl")
    assert r.exit_code != 0 and "does not exist" in " ".join(r.output.split())


def test_chat_completions_column(tmp_path):
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    chat = [{"role": "assistant", "content": "<think>a</think><answer>3</answer>"}]
    write_jsonl(src, [{"completion": chat, "answer": "3", "prompt": [{"role": "user", "content": "q"}]}])
    r = invoke("--rules", "seed-tiered", "--input", src, "--output", dst, "--workers", "0", "--estimator", "grpo")
    assert r.exit_code == 0, r.output
    out = read_jsonl(dst)
    assert out[0]["label"] == "correct" and out[0]["completion"] == chat
    assert not math.isnan(out[0]["advantage"])


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
def test_invalid_utf8_input_is_scored_and_written(tmp_path, suffix):
    src, dst = tmp_path / "in.jsonl", tmp_path / f"out.{suffix}"
    src.write_bytes(b'{"completion": "<think>a</think><answer>7\xff\\u0001</answer> \xfe", "answer": "7"}\n'
                    b'{"completion": "<think>a</think><answer>7</answer>", "answer": "7"}\n')
    r = invoke("--rules", "seed-tiered", "--input", src, "--output", dst, "--workers", "0")
    assert r.exit_code == 0, r.output
    if suffix == "jsonl":
        raw = dst.read_bytes()
        assert b"7\xff\\u0001" in raw  # the original bytes, written back
        out = [json.loads(line) for line in raw.decode("utf-8", "surrogateescape").splitlines()]
    else:
        out = pq.read_table(dst).to_pylist()
        assert "\ufffd" in out[0]["completion"]
    assert [o["label"] for o in out] == ["bad_format", "correct"]


def test_engine_ray_calls_score_rows_ray(tmp_path, monkeypatch):
    """The contract with the Ray adapter: the loaded RuleSet (pickled to actors), rows, address."""
    import rewardsmith.integrations.ray as ray_mod
    from rewardsmith.rules import RuleSet, load_rules

    calls = {}

    def fake(ruleset_spec, rows, address=None, **kw):
        calls.update(spec=ruleset_spec, rows=rows, address=address, kw=kw)
        rs = load_rules(ruleset_spec)  # what every actor does with the spec
        b = rs.score_batch([r["completion"] for r in rows], [r["answer"] for r in rows], workers=0)
        return b

    monkeypatch.setattr(ray_mod, "score_rows_ray", fake)
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, rollouts())
    r = invoke("--rules", "seed-tiered", "--input", src, "--output", dst, "--engine", "ray",
               "--address", "auto", "--workers", "3", "--estimator", "grpo")
    assert r.exit_code == 0, r.output
    assert calls["address"] == "auto" and calls["kw"]["num_actors"] == 3
    assert isinstance(calls["spec"], RuleSet) and calls["spec"].name == "seed-tiered"
    assert len(calls["rows"]) == 12 and calls["rows"][0]["completion"] == rollouts()[0]["completion"]
    assert [o["label"] for o in read_jsonl(dst)] == EXPECTED_LABELS


def test_interrupted_run_resumes_from_checkpoint(tmp_path, monkeypatch):
    from rewardsmith.rules import RuleSet

    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, rollouts())
    real = RuleSet.score_batch
    scored = []

    def flaky(self, completions, *a, **k):
        if len(scored) >= 4:
            raise KeyboardInterrupt  # the user hits Ctrl-C during the second slice
        scored.extend(completions)
        return real(self, completions, *a, **k)

    monkeypatch.setattr(RuleSet, "score_batch", flaky)
    r = invoke("--rules", "seed-tiered", "--input", src, "--output", dst, "--workers", "0",
               "--checkpoint-every", "4")
    assert r.exit_code != 0 and not dst.exists()
    ckpt = tmp_path / ".out.jsonl.partial.jsonl"
    assert len(ckpt.read_text().splitlines()) == 1 + 4  # header + the first slice
    with ckpt.open("a") as fh:
        fh.write('[4, 1.0, "corr')  # a line cut short by the interruption is ignored

    def counting(self, completions, *a, **k):
        scored.extend(completions)
        return real(self, completions, *a, **k)

    monkeypatch.setattr(RuleSet, "score_batch", counting)
    scored.clear()
    r = invoke("--rules", "seed-tiered", "--input", src, "--output", dst, "--workers", "0",
               "--checkpoint-every", "4")
    assert r.exit_code == 0, r.output
    assert "resuming: 4 of 12" in r.output
    assert len(scored) == 8  # only the rows not yet scored
    assert [o["label"] for o in read_jsonl(dst)] == EXPECTED_LABELS
    assert not ckpt.exists()


def test_stale_checkpoint_is_discarded(tmp_path):
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, rollouts())
    ckpt = tmp_path / ".out.jsonl.partial.jsonl"
    ckpt.write_text('{"checkpoint": "from another input"}\n[0, 99.0, "bogus"]\n')
    r = invoke("--rules", "seed-tiered", "--input", src, "--output", dst, "--workers", "0")
    assert r.exit_code == 0, r.output
    assert "resuming" not in r.output
    assert [o["label"] for o in read_jsonl(dst)] == EXPECTED_LABELS and not ckpt.exists()


def test_rules_command_lists_validates_and_prints(tmp_path):
    import yaml

    from rewardsmith.rules import load_rules

    r = runner.invoke(app, ["rules"])
    assert r.exit_code == 0, r.output
    assert "seed-tiered" in r.output and "binary" in r.output and "r1" in r.output
    r = runner.invoke(app, ["rules", "seed-tiered"])
    assert r.exit_code == 0, r.output
    printed = yaml.safe_load(r.output.split("# valid")[0])
    assert json.dumps(load_rules(printed).to_dict()) == json.dumps(load_rules("seed-tiered").to_dict())
    bad = tmp_path / "bad.yaml"
    bad.write_text("tiers: [{reward: lots, label: x}]\n")
    r = runner.invoke(app, ["rules", str(bad)])
    assert r.exit_code != 0
    text = " ".join(r.output.split())
    assert "tiers[0].reward" in text and "'lots'" in text
