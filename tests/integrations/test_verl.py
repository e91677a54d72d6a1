"""verl adapter.

Two layers: tests that call our functions exactly as verl 0.9 does (keyword names and shapes read
from verl's reward managers and ``compute_advantage``) and run everywhere; and tests against the
real ``verl`` package (its registry, ``compute_advantage``, ``BatchRewardManager``, the plugin
hook), which run where verl is installed (``pip install -e '.[verl]'``) and skip elsewhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from rewardsmith import advantages
from rewardsmith.integrations import verl as rv

CORRECT = "<think>2+2</think><answer>4</answer>"
WRONG = "<think>2+2</think><answer>5</answer>"
JUNK = "four"
KEYS = {"score", "label", "acc", "pred", "scored", "details", "rs_tier"}


def test_compute_score_returns_verls_dict_form():
    # verl's reward loop calls it per sample with keywords, plus keys of its own
    out = rv.compute_score(data_source="gsm8k", solution_str=CORRECT, ground_truth="4",
                           extra_info={"index": 3, "rollout_reward_scores": {}}, reward_router_address=None)
    assert set(out) == KEYS
    assert out["score"] == 1.0 and out["label"] == "correct" and out["acc"] == 1.0 and out["pred"] == "4"
    assert json.loads(out["details"])["verdict"]["label"] == "equal"
    wrong = rv.compute_score("gsm8k", WRONG, "4")
    junk = rv.compute_score("gsm8k", JUNK, np.array(["4"], dtype=object))  # wrapped answers unwrap
    assert (wrong["score"], wrong["acc"], wrong["pred"]) == (-0.5, 0.0, "5")
    assert (junk["score"], junk["label"], junk["acc"], junk["pred"]) == (-2.0, "bad_format", 0.0, "")
    r1 = rv.compute_score("gsm8k", CORRECT, "4", rules="r1")
    assert r1["score"] == 2.0 and {"rs_accuracy", "rs_format"} <= set(r1)


def test_compute_score_batch_as_the_batch_reward_manager_calls_it():
    sols = [CORRECT, WRONG, JUNK, CORRECT]
    out = rv.compute_score_batch(data_sources=np.array(["a"] * 4, dtype=object), solution_strs=sols,
                                 ground_truths=["4", "4", "4", "5"], extra_infos=[{}] * 4, workers=0)
    assert [d["score"] for d in out] == [1.0, -0.5, -2.0, -0.5]
    assert all(set(d) == KEYS for d in out)  # verl stacks each key into one array: same keys everywhere
    with pytest.raises(ValueError, match="ground_truths: expected 4"):
        rv.compute_score_batch(["a"] * 4, sols, ["4"] * 3)


def test_unscored_becomes_a_finite_score_and_keeps_its_label(table_scorer):
    sc = table_scorer({"a": 1.0})
    out = rv.compute_score_batch(["d"] * 2, ["a", "zzz"], [None, None], rules=sc, unscored_score=-1.0)
    assert out[1]["score"] == -1.0 and out[1]["scored"] is False and out[1]["label"] == "unscored"
    assert out[1]["rs_tier"] is None and out[0]["scored"] is True
    with pytest.raises(ValueError, match="unscored_score: expected a finite number"):
        rv.compute_score_batch(["d"], ["a"], [None], rules=sc, unscored_score=float("nan"))


def test_compute_score_from_verls_executor_threads():
    results = []
    sols = [CORRECT, WRONG, JUNK] * 4
    threads = [threading.Thread(target=lambda s=s: results.append((s, rv.compute_score("x", s, "4")["score"])))
               for s in sols]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    expect = {CORRECT: 1.0, WRONG: -0.5, JUNK: -2.0}
    assert len(results) == len(sols) and all(score == expect[s] for s, score in results)


@pytest.mark.parametrize("name", ["grpo", "rloo", "rank", "dr_grpo"])
def test_estimator_has_verls_signature_and_our_numbers(name):
    torch = pytest.importorskip("torch")
    rewards = np.array([1.0, -0.5, -2.0, 1.0, -2.0, -2.0, 1.0, -0.5])
    uids = np.array(["u1", "u1", "u2", "u1", "u2", "u2", "u1", "u2"], dtype=object)  # verl: uuid strings
    mask = torch.ones(8, 5)
    mask[:, 3:] = 0
    tlr = torch.zeros(8, 5)
    tlr[:, 2] = torch.tensor(rewards)  # reward on the last response token, as verl's managers put it
    fn = rv.verl_estimator(name)
    adv, ret = fn(token_level_rewards=tlr, response_mask=mask, index=uids, config=None)
    ours = advantages.compute(name, rewards, groups=uids)
    assert adv.shape == (8, 5) and torch.equal(adv, ret)
    np.testing.assert_allclose(adv[:, 0].numpy(), ours, atol=1e-6)
    assert float(adv[:, 3:].abs().sum()) == 0.0
    with pytest.raises(ValueError, match="index: rewardsmith_rank groups completions by prompt"):
        rv.verl_estimator("rank")(token_level_rewards=tlr, response_mask=mask)


@pytest.mark.parametrize(
    "name, options, match",
    [
        ("ppo", {}, r"^estimator: expected one of \[.*'grpo'.*\], got 'ppo' \(unknown name\)$"),
        ("grpo", {"dof": 1}, r"^estimator_options: expected a subset of \['ddof', 'eps'\] for 'grpo', got \['dof'\]"),
        ("grpo", {"ddof": 2}, r"^estimator_options\['ddof'\]: expected 0 \(population\) or 1 \(Bessel\), got 2$"),
        ("rloo", {"eps": 1e-4}, r"^estimator_options: expected none for 'rloo', got \['eps'\]"),
    ],
)
def test_estimator_name_and_options_are_checked_when_made(name, options, match):
    """A bad name or option fails when the estimator is made (not later in verl's driver), worded
    as every other caller of ``advantages.check_estimator`` words it."""
    with pytest.raises(ValueError, match=match):
        rv.verl_estimator(name, **options)


# --------------------------------------------------------------------------- the real verl package


def _verl():
    return pytest.importorskip("verl", reason="verl is not installed (extra 'verl'); tested against its signatures above")


@pytest.mark.slow
def test_registered_in_verls_registry_and_used_by_compute_advantage():
    _verl()
    import torch
    from verl import DataProto
    from verl.trainer.ppo import core_algos
    from verl.trainer.ppo.ray_trainer import compute_advantage

    names = rv.register_estimators(options={"grpo": {"ddof": 1}})
    assert "rewardsmith_rank" in names and "rewardsmith_grpo" in names
    assert rv.register_estimators(["rank"]) == ["rewardsmith_rank"]  # idempotent
    assert core_algos.get_adv_estimator_fn("rewardsmith_rank").__name__ == "rewardsmith_rank"
    rewards = np.array([1.0, -0.5, -2.0, 1.0, -2.0, -2.0, 1.0, -0.5], dtype=np.float32)
    uids = np.array(["a", "a", "b", "a", "b", "b", "a", "b"], dtype=object)
    tlr = torch.zeros(8, 4)
    tlr[:, -1] = torch.tensor(rewards)
    for name in ("rank", "grpo"):
        data = DataProto.from_dict(tensors={"token_level_rewards": tlr.clone(), "response_mask": torch.ones(8, 4)},
                                   non_tensors={"uid": uids})
        out = compute_advantage(data, adv_estimator=f"rewardsmith_{name}", config=None)
        opts = {"ddof": 1} if name == "grpo" else {}
        np.testing.assert_allclose(out.batch["advantages"][:, 0].numpy(),
                                   advantages.compute(name, rewards.astype(np.float64), groups=uids, **opts), atol=1e-6)
    # verl's own grpo on the same data equals ours with ddof=1, eps=1e-6 (verl's defaults)
    data = DataProto.from_dict(tensors={"token_level_rewards": tlr.clone(), "response_mask": torch.ones(8, 4)},
                               non_tensors={"uid": uids})
    theirs = compute_advantage(data, adv_estimator="grpo", config=None).batch["advantages"][:, 0].numpy()
    np.testing.assert_allclose(theirs, advantages.compute("grpo", rewards.astype(np.float64), groups=uids,
                                                          ddof=1, eps=1e-6), atol=1e-5)
    with pytest.raises(ValueError, match="already registered in verl"):
        rv.register_estimators(["grpo"], prefix="")  # 'grpo' is verl's own


def test_batch_reward_manager_with_our_batch_function():
    _verl()
    import torch
    from verl import DataProto
    from verl.workers.reward_manager.batch import BatchRewardManager

    class CharTok:  # verl decodes response ids with the tokenizer: one id per character here
        def decode(self, ids, skip_special_tokens=True):
            return "".join(chr(int(i)) for i in ids if int(i) > 0)

    sols = [CORRECT, WRONG, JUNK]
    width = max(map(len, sols))
    responses = torch.zeros(3, width, dtype=torch.long)
    attn = torch.zeros(3, 2 + width, dtype=torch.long)
    attn[:, :2] = 1
    for i, s in enumerate(sols):
        responses[i, : len(s)] = torch.tensor([ord(c) for c in s])
        attn[i, 2 : 2 + len(s)] = 1
    data = DataProto.from_dict(
        tensors={"prompts": torch.ones(3, 2, dtype=torch.long), "responses": responses, "attention_mask": attn},
        non_tensors={"data_source": np.array(["m"] * 3, dtype=object),
                     "reward_model": np.array([{"ground_truth": "4"}] * 3, dtype=object),
                     "extra_info": np.array([{}, {}, {}], dtype=object)},
    )
    mgr = BatchRewardManager(CharTok(), num_examine=0, compute_score=rv.compute_score_batch, workers=0)
    out = mgr(data, return_dict=True)
    r = out["reward_tensor"]
    assert [float(r[i, len(s) - 1]) for i, s in enumerate(sols)] == [1.0, -0.5, -2.0]
    assert out["reward_extra_info"]["label"] == ["correct", "wrong_answer", "bad_format"]


@pytest.mark.slow
def test_verls_plugin_hooks_register_our_estimators_on_import():
    """A fresh process that only does `import verl` has ours: through the `verl.plugins` entry point
    (when this package is installed with its metadata) and through VERL_USE_EXTERNAL_MODULES."""
    _verl()
    from importlib.metadata import entry_points

    code = ("import verl\nfrom verl.trainer.ppo import core_algos\n"
            "print(sorted(k for k in core_algos.ADV_ESTIMATOR_REGISTRY if k.startswith('rewardsmith_')))")
    envs = [dict(os.environ, VERL_USE_EXTERNAL_MODULES="rewardsmith.integrations.verl", VERL_USE_EXTERNAL_PLUGINS="none")]
    if any(ep.value == "rewardsmith.integrations.verl" for ep in entry_points(group="verl.plugins")):
        envs.append({k: v for k, v in os.environ.items() if not k.startswith("VERL_USE_EXTERNAL")})
    for env in envs:
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        assert "rewardsmith_rank" in out.stdout and "rewardsmith_rloo" in out.stdout


def test_rules_given_as_hydra_config():
    _verl()
    from omegaconf import OmegaConf

    from rewardsmith.rules import load_rules

    spec = OmegaConf.create(load_rules("binary").to_dict())  # what +reward_kwargs.rules={...} yields
    out = rv.compute_score("m", "so \\boxed{4}", "4", rules=spec)
    assert out["score"] == 1.0 and out["label"] == load_rules("binary").labels[0]


@pytest.mark.slow
def test_verl_reward_loop_loads_and_runs_compute_score_as_configured():
    """The README's config, through verl 0.9's own loader and its (async) naive reward manager."""
    _verl()
    import torch
    from omegaconf import OmegaConf
    from verl import DataProto
    from verl.experimental.reward_loop.reward_manager.naive import NaiveRewardManager
    from verl.trainer.ppo.reward import get_custom_reward_fn

    class CharTok:
        def decode(self, ids, skip_special_tokens=True):
            return "".join(chr(int(i)) for i in ids if int(i) > 0)

    config = OmegaConf.create({"reward": {"custom_reward_function": {
        "path": "pkg://rewardsmith.integrations.verl", "name": "compute_score",
        "reward_kwargs": {"rules": "seed-tiered"}}}})
    fn = get_custom_reward_fn(config)
    mgr = NaiveRewardManager(config, CharTok(), fn)
    got = []
    for text, label in ((CORRECT, "correct"), (WRONG, "wrong_answer"), (JUNK, "bad_format")):
        ids = torch.tensor([ord(c) for c in text])
        item = DataProto.from_dict(
            tensors={"prompts": torch.ones(1, 2, dtype=torch.long), "responses": ids[None],
                     "attention_mask": torch.ones(1, 2 + len(text), dtype=torch.long)},
            non_tensors={"data_source": np.array(["m"], dtype=object),
                         "reward_model": np.array([{"ground_truth": "4"}], dtype=object),
                         "extra_info": np.array([{}], dtype=object)},
        )
        out = mgr.loop.run_until_complete(mgr.run_single(item))
        got.append((out["reward_score"], out["reward_extra_info"]["label"]))
        assert out["reward_extra_info"]["label"] == label
    assert [s for s, _ in got] == [1.0, -0.5, -2.0]
