"""Sample and score an untrained (or any) policy without training it: where a run would start.

``sample_groups`` draws ``n_prompts`` problems of a task, samples ``group_size`` completions of
each with the trainer's own rollout (same prompts, chat template, stop rules and sampling), and
scores them with a rule set. ``label_counts`` turns the rows into one count per reward tier per
prompt: the seed's "stage" of each real group, which ``smoothing.study_stages`` (``rewardsmith
stages``) turns into the raw-vs-normalized advantage figure. ``rates`` summarizes the rows (format
and accuracy rates, and the share of groups whose rewards are not all equal: the groups GRPO can
learn from).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["sample_groups", "label_counts", "rates"]


def sample_groups(model: str = "smollm2-135m", task: str = "arithmetic", n_prompts: int = 4,
                  group_size: int = 8, max_new_tokens: int = 64, temperature: float = 1.0,
                  prompt_style: str = "auto", rules: Any = "seed-tiered", seed: int = 0, threads: int = 0,
                  cache_dir: str = "", digits: int = 2, ops: str = "+", policy: Any = None,
                  rows_per_rollout: int = 128) -> list[dict]:
    """One row per completion: prompt index, question, answer, completion, reward, label.

    ``policy``: an already loaded ``train.model.Policy`` (its ``prompt_style`` is then set to
    ``prompt_style`` unless that is ``"auto"``); else ``model`` is loaded. At most
    ``rows_per_rollout`` completions are decoded together (G = 100 groups go one prompt at a time).
    """
    import torch

    from rewardsmith.train.model import load_policy
    from rewardsmith.train.tasks import make_task
    from rewardsmith.train.trainer import make_reward, rollout

    if threads:
        torch.set_num_threads(threads)
    if policy is None:
        policy = load_policy(model, prompt_style=prompt_style, cache_dir=cache_dir)
    elif prompt_style != "auto":
        policy.prompt_style = prompt_style
    reward_fn, _ = make_reward(rules)
    problems = make_task(task, digits, ops, seed=seed).sample(np.random.default_rng(seed), n_prompts)
    per = max(1, rows_per_rollout // group_size)
    rows: list[dict] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for start in range(0, len(problems), per):
            chunk = problems[start : start + per]
            ro = rollout(policy, [policy.encode_problem(p) for p in chunk], group_size, temperature, max_new_tokens)
            texts = [policy.decode(c) for c in ro.completion_ids]
            answers = [p.answer for p in chunk for _ in range(group_size)]
            rewards, labels = reward_fn(texts, answers)
            for i, (text, r, lab) in enumerate(zip(texts, np.asarray(rewards, dtype=float).tolist(), labels)):
                p = chunk[i // group_size]
                rows.append({"prompt_index": start + i // group_size, "question": p.question or p.prompt,
                             "answer": p.answer, "completion": text, "tokens": len(ro.completion_ids[i]),
                             "reward": r, "label": lab})
    return rows


def label_counts(rows: Sequence[dict], labels: Sequence[str]) -> list[tuple[int, ...]]:
    """Per prompt (in order), the count of each label in ``labels`` (e.g. correct, wrong_answer,
    bad_format). Labels outside ``labels`` (timeout, error) are not counted."""
    out: dict[int, list[int]] = {}
    for r in rows:
        c = out.setdefault(r["prompt_index"], [0] * len(labels))
        if r["label"] in labels:
            c[list(labels).index(r["label"])] += 1
    return [tuple(out[k]) for k in sorted(out)]


def rates(rows: Sequence[dict]) -> dict[str, float]:
    """Well-formed and correct rates, mean completion tokens, and the share of prompts whose
    group has more than one reward value."""
    n = max(1, len(rows))
    groups: dict[int, set] = {}
    for r in rows:
        groups.setdefault(r["prompt_index"], set()).add(r["reward"])
    return {"samples": len(rows),
            "well_formed": sum(r["label"] != "bad_format" for r in rows) / n,
            "correct": sum(r["label"] == "correct" for r in rows) / n,
            "mean_tokens": float(np.mean([r["tokens"] for r in rows])) if rows else 0.0,
            "mixed_groups": sum(len(v) > 1 for v in groups.values()) / max(1, len(groups))}
