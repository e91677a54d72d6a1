"""Shared plumbing for the adapters: completion text, batch scoring through a RuleSet, groups.

Everything here is trainer-agnostic: TRL, verl and Ray adapters turn their own batch layout into
``(completions, answers, fields)`` and call :func:`score_texts`, which calls the scorer's
``score_batch`` (a ``RuleSet`` or anything with that signature, e.g. a learned grader).
"""

from __future__ import annotations

import threading
from typing import Any, Sequence

import numpy as np

from rewardsmith.rules import completion_text

__all__ = [
    "completion_text",
    "score_texts",
    "BatchScoreCache",
    "infer_group_size",
    "group_ids_from_prompts",
]


def _answer_value(a: Any) -> Any:
    """Gold answers pass through; numpy scalars become Python values (rules compare strings)."""
    if isinstance(a, np.generic):
        return a.item()
    return a


def score_texts(
    scorer: Any,
    completions: Sequence[Any],
    answers: Sequence[Any] | None = None,
    fields: dict[str, Sequence[Any]] | None = None,
    workers: int | None = 0,
    timeout: float | None = None,
) -> Any:
    """``scorer.score_batch`` over completion texts; validates lengths at the boundary."""
    if not hasattr(scorer, "score_batch"):
        raise ValueError(
            f"ruleset: expected a RuleSet (or an object with score_batch), got {type(scorer).__name__}"
        )
    texts = [completion_text(c) for c in completions]
    n = len(texts)
    if answers is not None:
        answers = [_answer_value(a) for a in answers]
        if len(answers) != n:
            raise ValueError(f"answers: expected {n} answers (one per completion), got {len(answers)}")
    fields = dict(fields or {})
    for name, col in fields.items():
        if len(col) != n:
            raise ValueError(f"fields[{name!r}]: expected {n} values (one per completion), got {len(col)}")
    kwargs: dict[str, Any] = {"workers": workers}
    if timeout is not None:
        kwargs["timeout"] = timeout
    if fields:
        kwargs["fields"] = fields
    batch = scorer.score_batch(texts, answers, **kwargs)
    rewards = np.asarray(batch.rewards, dtype=np.float64)
    if rewards.shape != (n,):
        raise ValueError(f"score_batch returned {rewards.shape} rewards for {n} completions")
    return batch


class BatchScoreCache:
    """Score one batch once although several reward functions ask for it (thread-safe).

    TRL calls each reward function with the same batch, one after another (sync) or at once on
    its event loop (async): the first call scores, the others wait on the lock and reuse the result.
    Only the last batch is kept.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: Any = None
        self._value: Any = None

    def get(self, key: Any, compute: Any) -> Any:
        with self._lock:
            if self._key is not None and self._key == key:
                return self._value
            value = compute()
            self._key, self._value = key, value
            return value


def _prompt_key(p: Any) -> Any:
    if isinstance(p, str):
        return p
    try:
        import json

        return json.dumps(p, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(p)


def group_ids_from_prompts(prompts: Sequence[Any]) -> np.ndarray:
    """Group ids for contiguous runs of equal prompts (TRL's layout: each prompt G times in a row)."""
    n = len(prompts)
    ids = np.zeros(n, dtype=np.int64)
    keys = [_prompt_key(p) for p in prompts]
    for i in range(1, n):
        ids[i] = ids[i - 1] + (keys[i] != keys[i - 1])
    return ids


def infer_group_size(n: int, prompts: Sequence[Any] | None, candidates: Sequence[int]) -> int:
    """The first group size in ``candidates`` that divides ``n`` and keeps each group's prompt equal.

    TRL repeats each prompt ``num_generations`` times contiguously (``num_generations_eval`` in
    evaluation); a batch that fits neither means groups were split (e.g. across processes) or the
    configured size is wrong, and the advantages would be computed over the wrong completions.
    """
    keys = None if prompts is None else [_prompt_key(p) for p in prompts]
    tried = []
    for g in dict.fromkeys(int(c) for c in candidates if c):
        if g < 1 or n % g:
            tried.append(f"{g} (does not divide {n})")
            continue
        if keys is not None:
            bad = next(
                (s for s in range(0, n, g) if any(keys[s + j] != keys[s] for j in range(1, g))), None
            )
            if bad is not None:
                tried.append(f"{g} (completions {bad}..{bad + g - 1} have different prompts)")
                continue
        return g
    raise ValueError(
        f"num_generations: a batch of {n} completions is not made of contiguous groups of "
        f"{' or '.join(str(int(c)) for c in candidates if c)} completions sharing a prompt; tried "
        + "; ".join(tried)
        + ". Set num_generations to the trainer's value and make each process's generation batch "
        "(per_device_train_batch_size * steps_per_generation) a multiple of it."
    )
