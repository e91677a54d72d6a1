"""GRPO, top to bottom: sample G completions per prompt, score them with rules, turn rewards into
advantages, take a clipped policy-gradient step. One function, ``train``, reads as the algorithm.

Loss per completion token t of completion i (advantage ``A_i``, ratio ``rho = pi/pi_old``)::

    l_it = -min(rho * A_i, clip(rho, 1 - clip_low, 1 + clip_high) * A_i) + beta * k3_it
    k3_it = exp(ref - logp) - (ref - logp) - 1          (Schulman's k3 estimate of KL(pi || ref))

aggregated over the completion tokens (mask ``m``) as

    grpo:    mean_i [ sum_t m_it l_it / sum_t m_it ]          (per-sequence mean, DeepSeekMath)
    dr_grpo: sum_it m_it l_it / (B * max_new_tokens)          (constant normalizer, Dr. GRPO)
    dapo:    sum_it m_it l_it / sum_it m_it                    (token-level mean, DAPO)
"""

from __future__ import annotations

import copy
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from rewardsmith import advantages
from rewardsmith.io import atomic_write_json, dumps_json, read_rows, write_rows
from rewardsmith.progress import progress_bar
from rewardsmith.train.checkpoint import CHECKPOINT_FILE, load_checkpoint, save_checkpoint
from rewardsmith.train.collapse import run_verdict
from rewardsmith.train.config import GRPOConfig
from rewardsmith.train.fastlm import HFForward, make_forward
from rewardsmith.train.logprobs import micro_batches, token_logprobs
from rewardsmith.train.metrics import collapse_metrics, label_fractions, reward_stats
from rewardsmith.train.model import add_lora, load_policy, warm_start
from rewardsmith.train.rollout import Rollout, rollout
from rewardsmith.train.tasks import ArithmeticTask, make_task

__all__ = ["train", "rollout", "Rollout", "RewardFn", "config_reward", "make_reward", "grpo_loss", "setup_policy",
           "token_logprobs"]

RewardFn = Callable[[Sequence[str], Sequence[str]], "tuple[np.ndarray, list[str]]"]


# ----------------------------------------------------------------------------------------------
# Reward: a RuleSet (anything with score_batch) or a callable (completions, answers) -> rewards, labels
# ----------------------------------------------------------------------------------------------


def config_reward(cfg: GRPOConfig) -> Any:
    """The reward a config asks for: the rule set ``cfg.rules``, or with ``cfg.grader`` the
    learned reward ``R = R_base + sum_i w_i p_i`` loaded from that directory, on ``cfg.rules``."""
    if not cfg.grader:
        return cfg.rules
    from rewardsmith.graders.reward import LearnedReward

    return LearnedReward.load(cfg.grader, base=cfg.rules)


def make_reward(spec: Any) -> tuple[RewardFn, tuple[str, ...]]:
    """Return ``(fn, labels)`` for a rule-set spec (preset name / YAML path / dict), a RuleSet,
    or a callable ``(completions, answers) -> (rewards, labels)``."""
    if isinstance(spec, (str, dict)):
        from rewardsmith.rules import load_rules

        spec = load_rules(spec)
    if hasattr(spec, "score_batch"):
        ruleset = spec

        def fn(completions: Sequence[str], answers: Sequence[str]) -> tuple[np.ndarray, list[str]]:
            sb = ruleset.score_batch(list(completions), list(answers), workers=0)
            return np.asarray(sb.rewards, dtype=np.float64), list(sb.labels)

        return fn, tuple(getattr(ruleset, "labels", ()))
    if callable(spec):
        return spec, tuple(getattr(spec, "labels", ()))
    raise ValueError(f"rules: expected a preset name, YAML path, RuleSet or callable, got {spec!r}")


# ----------------------------------------------------------------------------------------------
# Loss
# ----------------------------------------------------------------------------------------------


def grpo_loss(logp, old_logp, ref_logp, adv, mask, cfg: GRPOConfig, totals: tuple[Any, Any] | None = None):
    """The clipped surrogate (+ beta * k3) aggregated by ``cfg.loss_agg``; returns (loss, stats).

    ``totals = (sequences, tokens)`` of the whole batch when ``logp`` is one micro-batch of it:
    the normalizers then are the batch's, so the micro-batches' losses (and gradients) sum to the
    batch's. ``stats`` (clip fraction, KL) are means over this call's tokens."""
    import torch

    m = mask.float()
    ratio = torch.exp(logp - old_logp)
    a = adv[:, None]
    s1 = ratio * a
    s2 = torch.clamp(ratio, 1 - cfg.clip_low, 1 + cfg.clip_high) * a
    per_tok = -torch.minimum(s1, s2)
    kl = None
    if ref_logp is not None:
        d = ref_logp - logp
        kl = torch.exp(d) - d - 1
        if cfg.beta > 0:
            per_tok = per_tok + cfg.beta * kl
    n_seq, n_tok = totals if totals is not None else ((m.sum(1) > 0).sum().clamp(min=1), m.sum().clamp(min=1))
    if cfg.loss_agg == "grpo":
        loss = ((per_tok * m).sum(1) / m.sum(1).clamp(min=1)).sum() / n_seq
    elif cfg.loss_agg == "dr_grpo":
        loss = (per_tok * m).sum() / (n_seq * cfg.max_new_tokens)
    else:  # dapo
        loss = (per_tok * m).sum() / n_tok
    with torch.no_grad():
        clipped = ((ratio < 1 - cfg.clip_low) & (a < 0)) | ((ratio > 1 + cfg.clip_high) & (a > 0))
        tokens = m.sum().clamp(min=1)
        stats = {"clip_frac": float((clipped.float() * m).sum() / tokens),
                 "kl": float((kl * m).sum() / tokens) if kl is not None else None}
    return loss, stats


def policy_update(fwd: Any, ref_fwd: Any, opt: Any, params: list, ro: Rollout, adv: Any, mask: Any,
                  cfg: GRPOConfig) -> dict[str, Any]:
    """``cfg.ppo_epochs`` optimizer steps on ``grpo_loss`` over the rollout ``ro``; returns the
    first epoch's loss, grad norm, entropy and KL, and the largest clip fraction.

    Each epoch runs forward + backward on ``micro_batches(ro, cfg.micro_batch_tokens)`` one at
    a time, the loss normalized by the whole batch's sequence and token counts, so the summed
    gradients are the whole batch's and one optimizer step follows: the same step as one
    forward over the batch (up to floating-point order) with the activation memory of the
    largest micro-batch. Micro-batches whose rows are all masked (dynamic sampling) skip the
    backward."""
    import torch

    m = mask.float()
    totals = ((m.sum(1) > 0).sum().clamp(min=1), m.sum().clamp(min=1))
    n_tok = float(ro.completion_mask.sum().clamp(min=1))
    mbs = micro_batches(ro, cfg.micro_batch_tokens)
    old = [None] * len(mbs)
    ref = [None] * len(mbs)
    with torch.no_grad():
        for j, (_, mb) in enumerate(mbs):
            if cfg.ppo_epochs > 1:
                old[j], _ = token_logprobs(fwd, mb, cfg.temperature)
            if ref_fwd is not None:
                ref[j], _ = token_logprobs(ref_fwd, mb, cfg.temperature)
    stats: dict[str, Any] = {}
    for epoch in range(cfg.ppo_epochs):
        first = epoch == 0
        opt.zero_grad(set_to_none=True)
        loss_sum = ent_sum = clip_sum = kl_sum = 0.0
        for j, (rows, mb) in enumerate(mbs):
            m_j = mask[rows, : mb.completion_mask.shape[1]]
            n_j = float(m_j.sum())
            if n_j == 0:  # no kept row: only the entropy is logged
                if first:
                    with torch.no_grad():
                        _, ent = token_logprobs(fwd, mb, cfg.temperature, with_entropy=True)
                    ent_sum += float((ent * mb.completion_mask).sum())
                continue
            logp, ent = token_logprobs(fwd, mb, cfg.temperature, with_entropy=first)
            loss, st = grpo_loss(logp, logp.detach() if old[j] is None else old[j], ref[j], adv[rows], m_j, cfg,
                                 totals)
            loss.backward()
            loss_sum += float(loss.detach())
            clip_sum += st["clip_frac"] * n_j
            kl_sum += (st["kl"] or 0.0) * n_j
            if first:
                ent_sum += float((ent.detach() * mb.completion_mask).sum())
        gn = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip if cfg.grad_clip > 0 else float("inf"),
                                            foreach=True)
        opt.step()
        n_kept = float(totals[1])
        if first:
            stats = {"loss": loss_sum, "grad_norm": float(gn), "entropy": ent_sum / n_tok,
                     "kl": kl_sum / n_kept if ref_fwd is not None else None}
        stats["clip_frac"] = max(stats.get("clip_frac", 0.0), clip_sum / n_kept)
    return stats


# ----------------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------------


def setup_policy(cfg: GRPOConfig):
    """Build (or load) the policy and the task, warm-start a tiny arithmetic policy, and wrap the
    model in LoRA adapters when ``cfg.lora_r > 0``.

    Sets torch's CPU thread count to ``cfg.threads`` (process-wide): one thread ran the tiny
    model's SFT step in 27 ms here against 190 ms with two threads on a busy 2-core machine.
    """
    import torch

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    policy = load_policy(cfg.model, cfg.device, cfg.dtype, cfg.hidden_size, cfg.n_layers, cfg.n_heads,
                         seed=cfg.sft_seed, prompt_style=cfg.prompt_style, cache_dir=cfg.cache_dir)
    task = make_task(cfg.task, cfg.digits, cfg.ops, seed=cfg.seed)
    if cfg.model == "tiny" and isinstance(task, ArithmeticTask) and cfg.sft_steps > 0:
        warm_start(policy, task, cfg.sft_steps, cfg.sft_good_frac, cfg.sft_wrong_frac, cfg.sft_seed,
                   cfg.cache_dir, key_extra={"hidden": cfg.hidden_size, "layers": cfg.n_layers,
                                             "heads": cfg.n_heads})
    if cfg.lora_r > 0:
        add_lora(policy, cfg.lora_r, cfg.lora_alpha, [t.strip() for t in cfg.lora_targets.split(",") if t.strip()])
    return policy, task


def train(cfg: GRPOConfig, out_dir: str | Path, reward: Any = None, resume: bool = False,
          on_step: Callable[[dict], None] | None = None, desc: str = "train") -> list[dict]:
    """Run GRPO with ``cfg``, writing ``metrics.jsonl``, ``samples.parquet``, ``config.json`` and
    ``checkpoint.pt`` under ``out_dir``; return the metric rows. ``reward`` overrides the config's
    reward (``cfg.rules`` / ``cfg.grader``): a RuleSet, a LearnedReward or a callable
    ``(completions, answers) -> (rewards, labels)``."""
    import torch

    cfg.validate()
    out = Path(out_dir)
    if not resume and (out / "metrics.jsonl").exists():
        raise ValueError(f"out: {str(out)!r} already holds a run; pass resume=True (--resume) or use a new directory")
    if resume and not (out / CHECKPOINT_FILE).exists():
        raise ValueError(f"resume: no checkpoint in {str(out)!r}")
    out.mkdir(parents=True, exist_ok=True)
    reward_fn, known_labels = make_reward(config_reward(cfg) if reward is None else reward)

    policy, task = setup_policy(cfg)
    model = policy.model
    lora = cfg.lora_r > 0
    fwd = make_forward(model, cfg.fast_forward, checkpointing=cfg.gradient_checkpointing)
    if cfg.gradient_checkpointing and isinstance(fwd, HFForward):
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    # the reference policy for KL: LoRA = the same weights with the adapters off (no copy); full
    # fine-tuning = a frozen copy of the start (kept for the tiny model to log KL(pi || start))
    ref_fwd = None
    if cfg.beta > 0 or cfg.model == "tiny":
        if lora:
            ref_fwd = make_forward(model, cfg.fast_forward, adapters=False)
        else:
            ref_fwd = make_forward(copy.deepcopy(model).eval().requires_grad_(False), cfg.fast_forward)
    params = [p for p in model.parameters() if p.requires_grad]
    # fused AdamW: one kernel over all parameters instead of a Python loop per tensor (CPU and CUDA)
    opt = torch.optim.AdamW(params, lr=cfg.lr, betas=(cfg.adam_beta1, cfg.adam_beta2),
                            weight_decay=cfg.weight_decay, fused=params[0].dtype != torch.float16)
    random.seed(cfg.seed)
    np_rng = np.random.default_rng(cfg.seed)
    torch.manual_seed(cfg.seed)
    history: list[dict] = []
    samples: list[dict] = []
    start = 0
    if resume:
        state = load_checkpoint(out, model=model, optimizer=opt, rng=np_rng, trainable_only=lora)
        start, history, samples = state["step"], state["history"], state["samples"]
    # metrics.jsonl restarts from the checkpoint's rows (dropping any written after it), then gets
    # one appended line per step (a single write, no fsync: 0.2 ms here, where an atomic rewrite
    # + fsync of 40 rows took 4.5 ms of a ~30 ms step) and an atomic rewrite at every checkpoint.
    write_rows(out / "metrics.jsonl", history)
    atomic_write_json(out / "config.json", cfg.to_dict())

    G, P = cfg.group_size, cfg.prompts_per_step
    model.train()
    info = "reward={task.fields[reward]:+.2f} correct={task.fields[correct]:.2f}"
    with progress_bar(disable=not cfg.progress, info=info) as bar:
        task_id = bar.add_task(desc, total=cfg.steps, completed=start,
                               reward=history[-1]["reward_mean"] if history else float("nan"),
                               correct=history[-1]["label_frac"].get("correct", 0.0) if history else 0.0)
        for step in range(start, cfg.steps):
            t0 = time.perf_counter()
            # 1. rollout: G completions for each of P fresh prompts
            problems = task.sample(np_rng, P)
            ro = rollout(policy, [policy.encode_problem(p) for p in problems], G,
                         cfg.temperature, cfg.max_new_tokens, fwd)
            texts = [policy.decode(c) for c in ro.completion_ids]
            answers = [p.answer for p in problems for _ in range(G)]
            t_roll = time.perf_counter()
            # 2. reward and advantage
            rewards, labels = reward_fn(texts, answers)
            rewards = np.asarray(rewards, dtype=np.float64)
            adv = np.asarray(advantages.compute(cfg.estimator, rewards, group_size=G, **cfg.estimator_options))
            diag = advantages.diagnostics(rewards, adv, group_size=G)
            keep = np.ones(len(texts), dtype=bool)
            if cfg.dynamic_sampling:  # DAPO: groups with one reward value carry no signal
                r = np.where(np.isnan(rewards), np.nan, rewards).reshape(P, G)
                varied = np.nanmax(r, 1) > np.nanmin(r, 1)
                keep = np.repeat(varied, G)
            t_rew = time.perf_counter()
            # 3. policy update: ppo_epochs passes of the clipped surrogate over the batch
            adv_t = torch.tensor(adv, dtype=torch.float32, device=ro.input_ids.device)
            mask = ro.completion_mask & torch.tensor(keep, device=ro.input_ids.device)[:, None]
            loss_stats = policy_update(fwd, ref_fwd, opt, params, ro, adv_t, mask, cfg) if keep.any() else {}
            t_upd = time.perf_counter()
            # 4. log
            lens = np.array([len(c) for c in ro.completion_ids])
            row = {
                "step": step + 1,
                **reward_stats(rewards),
                "label_frac": label_fractions(labels, known_labels),
                **{f"adv_{k}" if not k.startswith("adv_") else k: v for k, v in diag.to_dict().items()},
                "kept_frac": float(keep.mean()),
                "loss": loss_stats.get("loss"), "grad_norm": loss_stats.get("grad_norm"),
                "kl": loss_stats.get("kl"), "entropy": loss_stats.get("entropy"),
                "clip_frac": loss_stats.get("clip_frac"),
                "completion_len": float(lens.mean()),
                "truncated_frac": float(np.mean([not c or c[-1] not in policy.stop_ids for c in ro.completion_ids])),
                **collapse_metrics(texts, ro.completion_ids, G),
                "reward_hist": _hist(rewards), "adv_hist": _hist(adv),
                "time_rollout_s": t_roll - t0, "time_reward_s": t_rew - t_roll, "time_update_s": t_upd - t_rew,
                **_peak_memory(ro.input_ids.device),
            }
            verdict = run_verdict([*history, row], P)  # the shared collapse rule (train.collapse), run so far
            row.update(collapsed=verdict.collapsed, collapse_template=verdict.template,
                       collapse_accuracy_failed=verdict.accuracy_failed)
            history.append(row)
            for i in np.linspace(0, len(texts) - 1, min(cfg.samples_per_step, len(texts))).astype(int):
                samples.append({"step": step + 1, "prompt": problems[i // G].prompt, "answer": answers[i],
                                "completion": texts[i], "reward": float(rewards[i]), "label": labels[i],
                                "advantage": float(adv[i])})
            with open(out / "metrics.jsonl", "a", encoding="utf-8") as fh:
                fh.write(dumps_json(row) + "\n")
            done = step + 1 == cfg.steps
            if done or (cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0):
                write_rows(out / "metrics.jsonl", history)
                write_rows(out / "samples.parquet", samples)
                save_checkpoint(out, step=step + 1, model=model, optimizer=opt, rng=np_rng,
                                history=history, samples=samples, config=cfg.to_dict(), trainable_only=lora)
            bar.update(task_id, advance=1, reward=row["reward_mean"],
                       correct=row["label_frac"].get("correct", 0.0))
            if on_step is not None:
                on_step(row)
    return history


def _peak_memory(device: Any) -> dict[str, float]:
    """Peak resident memory of this process so far (MB; Linux ru_maxrss is in KB), and on CUDA
    the peak allocated by torch on ``device`` during this step (reset after reading)."""
    import resource

    import torch

    out = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if device.type == "cuda":
        out["cuda_peak_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
        torch.cuda.reset_peak_memory_stats(device)
    return out


def _hist(x: np.ndarray) -> dict[str, int]:
    """Exact value counts (rounded to 1e-3): rewards are few-valued and so are their advantages."""
    v = np.round(np.asarray(x, dtype=np.float64)[~np.isnan(x)], 3)
    vals, counts = np.unique(v, return_counts=True)
    return {f"{a:g}": int(c) for a, c in zip(vals.tolist(), counts.tolist())}


def load_run(out_dir: str | Path) -> list[dict]:
    """The metric rows of a run directory."""
    return read_rows(Path(out_dir) / "metrics.jsonl")
