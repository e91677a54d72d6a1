"""Any rewardsmith estimator inside TRL: a reward function whose rewards are already advantages.

:class:`AdvantageReward` (made by :func:`advantage_reward`) scores a batch, computes the chosen
estimator's advantage per group and hands it to TRL, whose own advantage with
``scale_rewards="none"`` leaves it unchanged (``config.check_trl_config`` refuses configs where
that identity breaks).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rewardsmith import advantages as _adv
from rewardsmith.integrations._scoring import completion_text, infer_group_size
from rewardsmith.integrations.trl.monitor import TrainingMonitor
from rewardsmith.integrations.trl.rewards import _Binding, _binding_for, _log_columns, _none_for_nan

class AdvantageReward:
    """A TRL reward function returning ``estimator``'s advantage for each completion's group.

    TRL repeats each prompt ``num_generations`` times contiguously, so the batch a reward function
    sees is ``n / G`` groups of ``G`` (``num_generations_eval`` during evaluation). This wrapper
    scores the batch (a rule set, or any TRL reward function as ``source``), computes
    ``A = advantages.compute(estimator, r, group_size=G, **options)`` and returns ``A``
    (``None`` where ``r`` is unscored, so TRL leaves it out and gives it advantage 0).

    With ``GRPOConfig(scale_rewards="none")``, ``multi_objective_aggregation="sum_then_normalize"``
    and this as the only weighted reward function (weight 1), TRL computes ``A - mean_g(A) = A``
    because every estimator except ``raw`` has zero mean inside each valid group. Checked by
    :func:`check_trl_config`; at call time a batch whose groups do not share a prompt raises.

    ``last`` holds the latest batch: ``rewards``, ``advantages``, ``labels``, ``group_size``.
    """

    def __init__(
        self,
        source: Any,
        estimator: str = "rank",
        *,
        num_generations: int,
        num_generations_eval: int | None = None,
        answer_column: str | None = "answer",
        workers: int | None = 0,
        timeout: float | None = None,
        log_metrics: bool = True,
        **estimator_options: Any,
    ) -> None:
        # the name and its options, so a typo fails here and not mid-training
        _adv.check_estimator(estimator, **estimator_options)
        if estimator == "raw":
            raise ValueError(
                "estimator: 'raw' is not zero-mean within a group, and TRL subtracts the group mean "
                "from whatever a reward function returns, so TRL would train on dr_grpo, not raw. "
                "Use reward_funcs(ruleset) with scale_rewards='none' for dr_grpo, or a trainer "
                "that takes advantages as they are (rewardsmith.train)."
            )
        for name, g in (("num_generations", num_generations), ("num_generations_eval", num_generations_eval)):
            if g is None and name == "num_generations_eval":
                continue
            if isinstance(g, bool) or not isinstance(g, int) or g < 2:
                raise ValueError(f"{name}: expected an integer >= 2 (a group needs two completions), got {g!r}")
        self.estimator = estimator
        self.estimator_options = dict(estimator_options)
        self.num_generations = num_generations
        self.num_generations_eval = num_generations_eval
        self.log_metrics = log_metrics
        self.__name__ = f"advantage_{estimator}"
        self.last: dict[str, Any] = {}
        if hasattr(source, "score_batch"):
            self._binding: _Binding | None = _binding_for(source, answer_column, workers, timeout)
            # a fresh monitor following this estimator; the rule set's other reward functions
            # (which share the binding) report into it too, each batch once
            self._binding.monitor = TrainingMonitor(labels=self._binding.monitor.labels)
            self._binding.monitor.bind_estimator(estimator, self.estimator_options)
            self._fn = None
        elif callable(source):
            import inspect

            if inspect.iscoroutinefunction(source) or inspect.iscoroutinefunction(getattr(source, "__call__", None)):
                raise ValueError(
                    "source: an async reward function cannot be wrapped (the advantage needs the "
                    "whole batch's rewards synchronously); pass a sync function or a rule set"
                )
            self._binding = None
            self._fn = source
            self._own_monitor = TrainingMonitor()
            self._own_monitor.bind_estimator(estimator, self.estimator_options)
        else:
            raise ValueError(
                f"source: expected a RuleSet (with score_batch) or a TRL reward function, got "
                f"{type(source).__name__}"
            )
        self.rewardsmith_weight = 1.0
        self.rewardsmith_role = "advantage"
        self.rewardsmith_binding = self._binding

    @property
    def monitor(self) -> "TrainingMonitor":
        """The monitor this advantage reward reports into."""
        return self._binding.monitor if self._binding is not None else self._own_monitor

    def __call__(self, prompts=None, completions=None, **kwargs) -> list[float | None]:
        if completions is None:
            raise ValueError("completions: TRL passes completions=...; got none")
        n = len(completions)
        g = infer_group_size(n, prompts, [self.num_generations, self.num_generations_eval or 0])
        if self._binding is not None:
            batch, texts, key = self._binding.score(prompts, completions, kwargs)
            rewards = np.asarray(batch.rewards, dtype=np.float64)
            labels = list(batch.labels)
        else:
            out = self._fn(prompts=prompts, completions=completions, **kwargs)
            if len(out) != n:
                raise ValueError(f"source returned {len(out)} rewards for {n} completions")
            rewards = np.array([np.nan if v is None else float(v) for v in out], dtype=np.float64)
            texts = [completion_text(c) for c in completions]
            labels = ["scored" if not math.isnan(v) else "unscored" for v in rewards]
            key = (tuple(texts), id(completions))
            self._pinned = completions  # see _Binding.score
        adv = np.asarray(
            _adv.compute(self.estimator, rewards, group_size=g, **self.estimator_options), dtype=np.float64
        )
        self.last = {"rewards": rewards, "advantages": adv, "labels": labels, "group_size": g}
        if self.log_metrics:
            gid = np.repeat(np.arange(n // g), g)
            if self.monitor.record(rewards, labels, texts, gid, advantages=adv,
                                   log_metric=kwargs.get("log_metric"), key=key):
                _log_columns(kwargs, labels, rewards)
        adv = np.where(np.isnan(rewards), np.nan, adv)
        return _none_for_nan(adv)


def advantage_reward(source: Any, estimator: str = "rank", *, num_generations: int, **kwargs: Any) -> AdvantageReward:
    """Shorthand for :class:`AdvantageReward` (``source``: a rule set or a TRL reward function)."""
    return AdvantageReward(source, estimator, num_generations=num_generations, **kwargs)
