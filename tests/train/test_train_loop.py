"""The trainer end to end on the tiny arithmetic policy: start state, learning, resume, options.

The warm start is cached (REWARDSMITH_CACHE or ~/.cache/rewardsmith), so only the first run of the
suite pays for it (~40 s on one core); the demo reuses the same cache.
"""

import math

import numpy as np
import pytest
import torch

from rewardsmith.io import read_rows
from rewardsmith.train import demo_config, train
from rewardsmith.train.model import load_policy, save_policy
from rewardsmith.train.trainer import make_reward, rollout, setup_policy

TIME_KEYS = ("time_rollout_s", "time_reward_s", "time_update_s", "peak_rss_mb", "cuda_peak_mb")  # measurements, not results


def _window(rows, key, sl):
    return float(np.mean([r["label_frac"].get(key, 0.0) for r in rows[sl]]))


@pytest.mark.slow
def test_warm_start_begins_like_the_seeds_stage_one():
    cfg = demo_config(progress=False)
    policy, task = setup_policy(cfg)
    torch.manual_seed(123)
    probs = task.sample(np.random.default_rng(123), 32)
    ro = rollout(policy, [policy.encode_prompt(p.prompt) for p in probs], 8, 1.0, cfg.max_new_tokens)
    texts = [policy.decode(c) for c in ro.completion_ids]
    fn, _ = make_reward(cfg.rules)
    _, labels = fn(texts, [p.answer for p in probs for _ in range(8)])
    frac = {k: labels.count(k) / len(labels) for k in set(labels)}
    assert frac.get("bad_format", 0) >= 0.5
    assert 0.0 < frac.get("correct", 0) <= 0.25
    # the warm start taught the format and the sum, just not reliably:
    assert frac.get("correct", 0) + frac.get("wrong_answer", 0) >= 0.15


@pytest.mark.slow
def test_short_run_learns_and_a_broken_objective_does_not(tmp_path):
    base = demo_config(steps=40, progress=False, checkpoint_every=0, samples_per_step=2)
    rows = train(base, tmp_path / "ok")
    # Margins hold on any CPU (another machine's float noise acts like another seed): over seeds
    # 0-3 here the correct gain (first 5 vs last 10 steps) was +0.14..+0.23 and the bad_format
    # change -0.55..-0.61; flipped, correct -0.06..-0.07 and bad_format +0.14..+0.23. The old bar
    # (gain >= 0.10, last 5 steps) had seed 0 at +0.13: about one noise sd from failing.
    first, last = slice(0, 5), slice(-10, None)
    c0, c1 = _window(rows, "correct", first), _window(rows, "correct", last)
    b0, b1 = _window(rows, "bad_format", first), _window(rows, "bad_format", last)
    assert c1 >= c0 + 0.05, (c0, c1)
    assert b1 <= b0 - 0.35, (b0, b1)

    # Same run, objective sign flipped (reward negated: for grpo exactly -A): must not learn.
    fn, labels = make_reward(base.rules)

    def flipped(completions, answers):
        r, lab = fn(completions, answers)
        return -np.asarray(r), lab

    bad = train(base, tmp_path / "flipped", reward=flipped)
    assert _window(bad, "bad_format", last) >= b0 - 0.05
    assert _window(bad, "correct", last) <= c0 + 0.05

    # lr 0: nothing moves beyond sampling noise.
    still = train(base.replace(lr=0.0, steps=12), tmp_path / "lr0")
    assert all(r["kl"] == pytest.approx(0.0, abs=1e-6) for r in still)
    assert rows[-1]["kl"] > 0.01


@pytest.mark.slow
def test_resume_after_a_kill_reproduces_the_uninterrupted_run(tmp_path):
    cfg = demo_config(steps=6, checkpoint_every=3, progress=False, ppo_epochs=2, beta=0.01)
    straight = train(cfg, tmp_path / "a")

    class Kill(Exception):
        pass

    def kill_after_4(row):
        if row["step"] == 4:
            raise Kill  # metrics row 4 is on disk, the last checkpoint is step 3

    with pytest.raises(Kill):
        train(cfg, tmp_path / "b", on_step=kill_after_4)
    assert len(read_rows(tmp_path / "b" / "metrics.jsonl")) == 4
    resumed = train(cfg, tmp_path / "b", resume=True)
    on_disk = read_rows(tmp_path / "b" / "metrics.jsonl")
    strip = lambda rows: [{k: v for k, v in r.items() if k not in TIME_KEYS} for r in rows]  # noqa: E731
    assert strip(resumed) == strip(straight)
    assert strip(on_disk) == strip(read_rows(tmp_path / "a" / "metrics.jsonl"))
    samples = read_rows(tmp_path / "b" / "samples.parquet")
    assert samples == read_rows(tmp_path / "a" / "samples.parquet")
    assert sorted({s["step"] for s in samples}) == [1, 2, 3, 4, 5, 6]


def test_train_refuses_to_overwrite_and_to_resume_nothing(tmp_path):
    cfg = demo_config(steps=1, sft_steps=0, progress=False, prompts_per_step=2, group_size=2)
    train(cfg, tmp_path / "r")
    with pytest.raises(ValueError, match="already holds a run"):
        train(cfg, tmp_path / "r")
    with pytest.raises(ValueError, match="no checkpoint"):
        train(cfg, tmp_path / "empty", resume=True)


def test_metrics_rows_have_the_promised_fields(tmp_path):
    cfg = demo_config(steps=2, sft_steps=0, progress=False, prompts_per_step=3, group_size=4,
                      estimator="rloo", loss_agg="dapo", clip_high=0.28)
    rows = train(cfg, tmp_path / "r")
    r = rows[-1]
    for key in ("step", "reward_mean", "reward_std", "label_frac", "adv_distinct_advantages", "adv_min",
                "adv_max", "adv_zero_variance_frac", "kl", "entropy", "completion_len", "clip_frac",
                "top_completion_share", "top_skeleton_share", "group_distinct_frac", "distinct_2",
                "repetition", "reward_hist", "adv_hist", "collapsed", "collapse_template",
                "collapse_accuracy_failed"):
        assert key in r, key
    assert not any(row["collapsed"] for row in rows)  # 2 steps: too short for two windows, by the rule
    assert set(r["label_frac"]) >= {"correct", "wrong_answer", "bad_format"}
    assert math.isclose(sum(r["label_frac"].values()), 1.0)
    assert sum(r["reward_hist"].values()) == 12
    assert (tmp_path / "r" / "checkpoint.pt").exists() and (tmp_path / "r" / "config.json").exists()


def test_dynamic_sampling_drops_groups_without_signal(tmp_path):
    cfg = demo_config(steps=2, sft_steps=0, progress=False, prompts_per_step=2, group_size=3,
                      dynamic_sampling=True, estimator="raw")

    def constant(completions, answers):
        return np.full(len(completions), -0.5), ["wrong_answer"] * len(completions)

    rows = train(cfg, tmp_path / "r", reward=constant)
    assert all(r["kept_frac"] == 0.0 and r["loss"] is None for r in rows)
    assert rows[-1]["kl"] is None  # no update was made, so nothing was measured


def test_a_local_checkpoint_path_trains_like_tiny(tmp_path):
    policy = load_policy("tiny", hidden_size=32, n_layers=1, n_heads=2)
    save_policy(policy, tmp_path / "ckpt")
    cfg = demo_config(model=str(tmp_path / "ckpt"), steps=2, progress=False, prompts_per_step=2,
                      group_size=2, max_new_tokens=6)
    rows = train(cfg, tmp_path / "r")
    assert len(rows) == 2 and rows[-1]["completion_len"] <= 6
    with pytest.raises(ValueError, match="model"):
        load_policy(str(tmp_path / "missing"))


def test_reasoning_gym_task_source(tmp_path):
    pytest.importorskip("reasoning_gym", reason="reasoning-gym is not installed")
    cfg = demo_config(task="rg:basic_arithmetic", steps=1, progress=False, prompts_per_step=2,
                      group_size=2, max_new_tokens=4, samples_per_step=4)
    rows = train(cfg, tmp_path / "r")
    assert rows[0]["label_frac"]["bad_format"] == 1.0  # an untrained tiny model cannot write the format
    samples = read_rows(tmp_path / "r" / "samples.parquet")
    assert all("<answer></answer>" in s["prompt"] for s in samples)


def test_left_padding_does_not_change_log_probs():
    """A short prompt left-padded next to a long one scores its completion as it would alone."""
    from rewardsmith.train.trainer import token_logprobs

    policy = load_policy("tiny", hidden_size=32, n_layers=2, n_heads=2)
    short, long = policy.encode_prompt("7+8="), policy.encode_prompt("1234+5678=")
    torch.manual_seed(0)
    assert not rollout(policy, [short], 2, 1.0, 6).left_padded
    mixed = rollout(policy, [short, long], 2, 1.0, 6)
    assert mixed.left_padded and mixed.prompt_len == len(long)
    with torch.no_grad():
        lp_mixed, _ = token_logprobs(policy.model, mixed, 1.0)
    for i in range(2):  # rows 0 and 1 are the short prompt's completions
        ids = mixed.completion_ids[i]
        with torch.no_grad():
            logits = policy.model(input_ids=torch.tensor([short + ids])).logits[0, len(short) - 1 : -1]
        ref = torch.log_softmax(logits, -1).gather(-1, torch.tensor(ids)[:, None]).squeeze(-1)
        assert torch.allclose(lp_mixed[i, : len(ids)], ref, atol=1e-5)
