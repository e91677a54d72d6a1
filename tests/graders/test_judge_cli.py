"""``graders fit --features judge`` and ``graders distill`` on a judged file.

The ``p_<name>`` columns here are written by the test (a judged file's format), not a model's
output: these tests check the weight fit and the distillation, not a backend (test_judge.py runs
the backends on real models)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("sklearn")
from typer.testing import CliRunner  # noqa: E402

from rewardsmith.cli import app  # noqa: E402
from rewardsmith.graders.judge import LLMJudge  # noqa: E402
from rewardsmith.graders.judge_backends import ServerBackend  # noqa: E402
from rewardsmith.io import write_rows  # noqa: E402

runner = CliRunner()


def _judged(tmp_path, n_prompts=24):
    """Ranked rows: 'ideal' shows its working, 'terse' does not, 'degenerate' hedges; the
    p_ columns agree with that, with noise."""
    rng = np.random.default_rng(0)
    judge = LLMJudge(ServerBackend("http://127.0.0.1:9"), few_shot=False)
    rows = []
    for i in range(n_prompts):
        a, b = int(rng.integers(10, 99)), int(rng.integers(10, 99))
        s = a + b
        for cls, text, reason, hedge in [
            ("ideal", f"<think>{a}+{b}: {a // 10 + b // 10} tens and {a % 10 + b % 10} ones</think><answer>{s}</answer>", 1, 0),
            ("terse", f"<think></think><answer>{s}</answer>", 0, 0),
            ("degenerate", f"<think>maybe {s} or {s + 1}</think><answer>{s} or {s + 1}</answer>", 0, 1)]:
            p = {f"p_{n}": float(np.clip(rng.normal(0.15, 0.1), 0.01, 0.99)) for n in judge.propositions}
            p["p_shows_reasoning"] = float(np.clip(0.8 * reason + rng.normal(0.1, 0.1), 0.01, 0.99))
            p["p_hedges"] = float(np.clip(0.8 * hedge + rng.normal(0.1, 0.1), 0.01, 0.99))
            p["p_single_answer"] = float(np.clip(0.8 * (1 - hedge) + rng.normal(0.1, 0.1), 0.01, 0.99))
            rows.append({"prompt_id": f"p{i}", "prompt": f"{a}+{b}=", "answer": str(s), "text": text,
                         "rank_class": cls, "shows_reasoning": bool(reason), "hedges": bool(hedge)} | p)
    path = tmp_path / "judged.jsonl"
    write_rows(path, rows)
    (tmp_path / "judged.jsonl.judge.json").write_text(json.dumps(judge.to_dict()))
    return path


def test_fit_on_judge_features_writes_a_judge_reward(tmp_path):
    from rewardsmith.graders.reward import LearnedReward

    data = _judged(tmp_path)
    res = runner.invoke(app, ["graders", "fit", "--features", "judge", "--data", str(data),
                              "--out", str(tmp_path / "r"), "--rules", "seed-tiered"])
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert report["features"] == "judge"
    assert report["weights"]["shows_reasoning"] > 0 and report["weights"]["hedges"] < report["weights"]["shows_reasoning"]
    assert report["test_pairs"]["learned_pairwise_accuracy"] > report["test_pairs"]["base_pairwise_accuracy"]
    assert set(report["metrics"]) == {"shows_reasoning", "hedges"}  # judge vs the file's hand labels
    reward = LearnedReward.load(tmp_path / "r")  # the judge is data until it is asked
    assert isinstance(reward.grader, LLMJudge) and reward.grader.backend.url == "http://127.0.0.1:9"


def test_distill_fits_tfidf_on_the_judge_verdicts(tmp_path):
    from rewardsmith.graders.reward import LearnedReward

    data = _judged(tmp_path)
    res = runner.invoke(app, ["graders", "distill", "--data", str(data), "--out", str(tmp_path / "d"),
                              "--rules", "seed-tiered"])
    assert res.exit_code == 0, res.output
    reward = LearnedReward.load(tmp_path / "d")
    p = reward.grader.predict_proba(["<think>12+30: 4 tens and 2 ones</think><answer>42</answer>",
                                     "<think>maybe 42 or 43</think><answer>42 or 43</answer>"])
    i = reward.grader.propositions.index("hedges")
    assert p[1, i] > p[0, i]


def test_judge_cli_errors_name_the_field(tmp_path):
    rows = tmp_path / "rows.jsonl"
    write_rows(rows, [{"answer": "1"}])
    res = runner.invoke(app, ["graders", "judge", "--model", "http://127.0.0.1:9", "--data", str(rows),
                              "--out", str(tmp_path / "o.jsonl")])
    assert res.exit_code != 0 and "text or completion" in res.output
    write_rows(rows, [{"text": "a", "rank_class": "ideal", "prompt_id": "1"}])
    res = runner.invoke(app, ["graders", "fit", "--features", "judge", "--data", str(rows),
                              "--out", str(tmp_path / "r")])
    assert res.exit_code != 0 and "judge.json" in res.output
