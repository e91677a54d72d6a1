"""TRL reward functions over a rule set: the total reward and one per rule / shaping term.

:func:`reward_funcs` makes them; :class:`RuleReward` (and its ``async`` form
:class:`AsyncRuleReward`) is one function; ``_Binding`` is a rule set as TRL calls it (the dataset
columns mapped to the rules' fields, one cached score per batch shared by every function made for
that rule set, and the :class:`~.monitor.TrainingMonitor` they report into).
"""

from __future__ import annotations

import asyncio
import math
import threading
from typing import Any, Callable, Sequence

import numpy as np

from rewardsmith.integrations._scoring import (
    BatchScoreCache,
    completion_text,
    group_ids_from_prompts,
    infer_group_size,
    score_texts,
)
from rewardsmith.integrations._trl_call import dataset_columns
from rewardsmith.integrations.trl.monitor import TrainingMonitor


# --------------------------------------------------------------------------------------------
# Binding a rule set to TRL's call convention (shared by every function made for one rule set)
# --------------------------------------------------------------------------------------------


class _Binding:
    """One rule set as TRL sees it: scoring (cached per batch) and the monitor."""

    def __init__(self, ruleset: Any, answer_column: str | None, workers: int | None, timeout: float | None):
        self.ruleset = ruleset
        self.answer_column = answer_column
        self.workers = workers
        self.timeout = timeout
        self.cache = BatchScoreCache()
        self.monitor = TrainingMonitor(labels=tuple(getattr(ruleset, "labels", ()) or ()))

    def __getstate__(self) -> dict[str, Any]:
        # picklable (TRL's AsyncGRPOTrainer scores in a spawned process): drop the cache and the
        # monitor's state, keep the estimator the monitor follows
        mon = self.monitor
        return {"ruleset": self.ruleset, "answer_column": self.answer_column, "workers": self.workers,
                "timeout": self.timeout, "monitor": (mon.labels, mon.estimator, mon.estimator_options,
                                                     mon.estimator_bound, mon.collapse)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        labels, est, opts, bound, collapse = state.pop("monitor")
        self.__init__(**state)
        self.monitor = TrainingMonitor(labels, est, opts, collapse)
        self.monitor.estimator_bound = bound

    def score(self, prompts: Sequence[Any] | None, completions: Sequence[Any], kwargs: dict[str, Any]):
        if completions is None:
            raise ValueError("completions: TRL passes completions=...; got none")
        answers, columns = dataset_columns(kwargs, self.answer_column, len(completions))
        texts = [completion_text(c) for c in completions]
        fields = {k: list(v) for k, v in columns.items() if isinstance(v, (list, tuple))}
        if prompts is not None:
            fields.setdefault("prompt", [_prompt_text(p) for p in prompts])
        # id(completions): TRL hands every reward function the same list for one batch; pinning
        # the last list keeps its id from being reused by a later batch with the same texts
        key = (tuple(texts), repr(answers), id(completions))
        self._pinned = completions

        def compute():
            return score_texts(self.ruleset, texts, answers, fields=fields or None,
                               workers=self.workers, timeout=self.timeout)

        return self.cache.get(key, compute), texts, key


def _prompt_text(prompt: Any) -> str:
    """A prompt as text: a string as is; chat messages: the last user message's content."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, (list, tuple)):
        users = [m for m in prompt if isinstance(m, dict) and m.get("role") == "user"]
        if users:
            return completion_text(dict(users[-1], role="assistant"))
    return completion_text(prompt) if isinstance(prompt, (dict, list, tuple)) else str(prompt)


_BINDINGS: dict[tuple, tuple[Any, _Binding]] = {}
_BINDINGS_LOCK = threading.Lock()


def _binding_for(ruleset: Any, answer_column, workers, timeout) -> _Binding:
    key = (id(ruleset), answer_column, workers, timeout)
    with _BINDINGS_LOCK:
        hit = _BINDINGS.get(key)
        if hit is None or hit[0] is not ruleset:
            hit = (ruleset, _Binding(ruleset, answer_column, workers, timeout))
            _BINDINGS[key] = hit
        return hit[1]


def _none_for_nan(values: np.ndarray) -> list[float | None]:
    return [None if math.isnan(v) else float(v) for v in np.asarray(values, dtype=np.float64)]


def _component_names(ruleset: Any) -> list[str]:
    names = getattr(ruleset, "component_names", None)
    if callable(names):
        names = names()
    if names is None:
        raise ValueError(
            "per_rule: this rule set does not list its components (no .component_names); "
            "use per_rule=False"
        )
    return list(names)


def _log_batch(binding: _Binding, batch, texts, key, prompts, kwargs, num_generations=None):
    mon = binding.monitor
    if prompts is not None:
        gid = group_ids_from_prompts(prompts)
        if num_generations:
            try:  # logging must never stop training: an eval batch with other groups falls back
                g = infer_group_size(len(texts), prompts, [num_generations])
                gid = np.repeat(np.arange(len(texts) // g), g)
            except ValueError:
                pass
    else:
        gid = np.zeros(len(texts), dtype=np.int64)
    rewards = np.asarray(batch.rewards, dtype=np.float64)
    if mon.record(rewards, list(batch.labels), texts, gid, log_metric=kwargs.get("log_metric"), key=key,
                  token_ids=kwargs.get("completion_ids")):
        _log_columns(kwargs, batch.labels, rewards)


def _log_columns(kwargs: dict[str, Any], labels: Sequence[str], rewards: np.ndarray) -> None:
    """Our label and reward as columns of TRL's completions table (its ``log_extra`` hook)."""
    log_extra = kwargs.get("log_extra")
    if log_extra is not None:
        log_extra("rs_label", list(labels))
        log_extra("rs_reward", _none_for_nan(rewards))


def reward_funcs(
    ruleset: Any,
    per_rule: bool = False,
    *,
    answer_column: str | None = "answer",
    asynchronous: bool = False,
    workers: int | None = 0,
    timeout: float | None = None,
    log_metrics: bool = True,
    num_generations: int | None = None,
) -> list[Callable[..., Any]]:
    """TRL reward functions for ``ruleset``: ``[total]`` or ``[total, <one per component>]``.

    ``ruleset``: a ``RuleSet`` (or anything with its ``score_batch``). ``answer_column``: the dataset
    column holding the gold answer (``None``: the rules need none); the other dataset columns and
    the prompt are passed to the rules as ``fields``. ``workers=0`` scores in-process (a trainer
    step's batch is small); raise it for slow verifiers. ``timeout``: per-completion verification
    budget (a timeout is unscored: ``None`` to TRL). ``log_metrics``: the total function logs
    label fractions, diagnostics and collapse detectors through TRL's ``log_metric``.
    ``num_generations``: group size for those diagnostics (else groups = runs of equal prompts).

    Weights (``GRPOConfig.reward_weights``, see :func:`reward_weights`): the total carries the
    reward (weight 1); the per-component functions are for logging (weight 0) -- giving them
    weight too would count the reward twice, which :func:`check_trl_config` refuses. Wherever the
    total is unscored, every component returns ``None`` as well, so TRL treats the completion as
    unscorable instead of summing the remaining components into a reward of 0.

    All functions made for one rule set share one score per batch (thread-safe), so asking for
    ``per_rule=True`` does not score the batch more than once.
    """
    binding = _binding_for(ruleset, answer_column, workers, timeout)
    names = _component_names(ruleset) if per_rule else []
    cls = AsyncRuleReward if asynchronous else RuleReward
    out = [cls(binding, None, log_metrics=log_metrics, num_generations=num_generations)]
    out += [cls(binding, name) for name in names]
    return out


class RuleReward:
    """One TRL reward function over a rule set: the total (``component=None``) or one component.

    A callable class rather than a closure so that it pickles (TRL's experimental
    ``AsyncGRPOTrainer`` sends reward functions to a spawned process). Made by :func:`reward_funcs`.
    """

    def __init__(self, binding: _Binding, component: str | None, *, log_metrics: bool = False,
                 num_generations: int | None = None) -> None:
        self.rewardsmith_binding = binding
        self.component = component
        self.log_metrics = log_metrics
        self.num_generations = num_generations
        self.__name__ = "rs_total" if component is None else f"rs_{component}"
        self.rewardsmith_role = "total" if component is None else "component"
        self.rewardsmith_weight = 1.0 if component is None else 0.0

    def __call__(self, prompts=None, completions=None, **kwargs) -> list[float | None]:
        binding = self.rewardsmith_binding
        batch, texts, key = binding.score(prompts, completions, kwargs)
        rewards = np.asarray(batch.rewards, dtype=np.float64)
        if self.component is None:
            if self.log_metrics:
                _log_batch(binding, batch, texts, key, prompts, kwargs, self.num_generations)
            return _none_for_nan(rewards)
        comps = getattr(batch, "components", {}) or {}
        if self.component not in comps:
            raise ValueError(
                f"per_rule: the rule set produced no component {self.component!r} (got {sorted(comps)})"
            )
        values = np.asarray(comps[self.component], dtype=np.float64).copy()
        values[np.isnan(rewards)] = np.nan
        return _none_for_nan(values)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.__name__}, rules={getattr(self.rewardsmith_binding.ruleset, 'name', '?')!r})"


class AsyncRuleReward(RuleReward):
    """The ``async`` form of :class:`RuleReward` (TRL's async reward path): scores in a worker thread."""

    async def __call__(self, prompts=None, completions=None, **kwargs) -> list[float | None]:
        return await asyncio.to_thread(RuleReward.__call__, self, prompts=prompts, completions=completions, **kwargs)
