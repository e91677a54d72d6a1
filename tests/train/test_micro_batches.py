"""The update in micro-batches is the update on the whole batch: same log-probs, same step."""

from __future__ import annotations

import copy

import pytest
import torch

from rewardsmith.train.config import GRPOConfig
from rewardsmith.train.fastlm import make_forward
from rewardsmith.train.logprobs import micro_batches, token_logprobs
from rewardsmith.train.model import add_lora, load_policy
from rewardsmith.train.trainer import policy_update, rollout


@pytest.fixture(scope="module")
def batch():
    """A tiny policy's rollout of 3 prompts of different lengths x 4 completions (left padding,
    completions of different lengths). One torch thread: these are microsecond matmuls, and two
    threads on a busy 2-core machine made them 40x slower here."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    policy = load_policy("tiny", hidden_size=32, n_layers=2, n_heads=2)
    prompts = [policy.encode_prompt(t) for t in ("7+8=", "1234+5678=", "55-9=")]
    ro = rollout(policy, prompts, 4, 1.0, 10)
    lens = ro.completion_mask.sum(1)
    assert ro.left_padded and len(set(lens.tolist())) > 1
    yield policy, ro
    torch.set_num_threads(saved)


def test_micro_batches_cover_the_rows_in_order_within_the_budget(batch):
    _, ro = batch
    B, T = ro.completion_mask.shape
    lens = ro.completion_mask.sum(1)
    assert [r for r, _ in micro_batches(ro, 0)] == [slice(0, B)]
    for budget in (1, 5, 12, 20, 40, 10**6):
        mbs = micro_batches(ro, budget)
        rows = [i for r, _ in mbs for i in range(r.start, r.stop)]
        assert rows == list(range(B))
        for r, mb in mbs:
            n = r.stop - r.start
            assert mb.completion_mask.shape == (n, int(lens[r].max()))  # trimmed to its longest completion
            assert mb.completion_ids == ro.completion_ids[r]
            whole = r.start % 4 == 0 and n % 4 == 0
            assert mb.group_size == (4 if whole else n)
            assert whole or r.start // 4 == (r.stop - 1) // 4  # a run of rows never spans two groups
            if n > 1:
                assert n * mb.completion_mask.shape[1] <= budget
        if budget >= B * T:
            assert len(mbs) == 1


def test_micro_batch_log_probs_equal_the_whole_batch(batch):
    policy, ro = batch
    with torch.no_grad():
        full, _ = token_logprobs(policy.model, ro, 1.0)
        for r, mb in micro_batches(ro, 12):
            part, _ = token_logprobs(policy.model, mb, 1.0)
            T = part.shape[1]
            assert torch.allclose(part, full[r, :T], atol=1e-5)
            assert not full[r, T:].any()  # nothing cut but padding


def _start(policy, lora: bool) -> list:
    """A copy of ``policy`` (with non-zero LoRA adapters when ``lora``)."""
    torch.manual_seed(1)
    pol = copy.copy(policy)
    pol.model = copy.deepcopy(policy.model)
    if lora:
        add_lora(pol, 4, 8.0, ["q_proj", "v_proj", "down_proj"])
        with torch.no_grad():
            for n, p in pol.model.named_parameters():
                if "lora_B" in n:
                    p.normal_(0, 0.05)
    return pol


def _step(policy, ro, cfg, mask, adv, lora: bool, ref: bool):
    pol = _start(policy, lora)
    fwd = make_forward(pol.model)
    ref_fwd = make_forward(pol.model, adapters=False) if lora and ref else None
    params = [p for p in pol.model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=1.0)  # the step is the gradient: differences are not hidden by Adam
    stats = policy_update(fwd, ref_fwd, opt, params, ro, adv, mask, cfg)
    return stats, [p.detach().clone() for p in params]


@pytest.mark.parametrize("agg", ["grpo", "dr_grpo", "dapo"])
@pytest.mark.parametrize("lora", [False, True])
def test_micro_batched_update_takes_the_whole_batch_step(batch, agg, lora):
    """Per-micro-batch normalizers (a sequence or token mean over the micro-batch instead of the
    batch) would give a different step; so would a dropped or doubled micro-batch. A masked
    group (dynamic sampling) contributes nothing but its entropy."""
    policy, ro = batch
    B = ro.completion_mask.shape[0]
    adv = torch.linspace(-1.5, 1.5, B)
    keep = torch.ones(B, dtype=torch.bool)
    keep[4:8] = False
    mask = ro.completion_mask & keep[:, None]
    base = dict(loss_agg=agg, max_new_tokens=10, beta=0.1 if lora else 0.0, ppo_epochs=2, grad_clip=0.0)
    whole_stats, whole = _step(policy, ro, GRPOConfig(micro_batch_tokens=0, **base), mask, adv, lora, True)
    for budget in (5, 12):
        stats, params = _step(policy, ro, GRPOConfig(micro_batch_tokens=budget, **base), mask, adv, lora, True)
        assert len(micro_batches(ro, budget)) > 2
        for a, b in zip(whole, params):
            assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)
        for k in ("loss", "grad_norm", "entropy", "clip_frac"):
            assert stats[k] == pytest.approx(whole_stats[k], rel=1e-4, abs=1e-6), k
        if lora:
            assert stats["kl"] == pytest.approx(whole_stats["kl"], rel=1e-4, abs=1e-7)
    start = [p.detach() for p in _start(policy, lora).model.parameters() if p.requires_grad]
    assert max(float((a - p0).abs().max()) for a, p0 in zip(whole, start)) > 1e-3  # a real step was compared
