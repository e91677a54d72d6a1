"""TRL adapter: rule rewards, any rewardsmith estimator and diagnostics inside ``trl.GRPOTrainer``.

Three pieces, none of which subclasses the trainer:

* :func:`reward_funcs` -- TRL reward functions for a rule set's total reward and, optionally, one
  per rule / shaping term. TRL calls a reward function as
  ``f(prompts=..., completions=..., completion_ids=..., <dataset columns>=..., trainer_state=...,
  log_extra=..., log_metric=...)`` and takes back one ``float | None`` per completion (``None`` =
  unscored: TRL turns it into NaN and leaves the completion out of its group statistics).
  ``asynchronous=True`` returns ``async`` callables for TRL's async reward path (``GRPOTrainer``
  runs them with ``asyncio.gather`` on a daemon event loop); the scoring then runs in a worker
  thread. The functions are picklable callable objects, as ``trl.experimental``'s
  ``AsyncGRPOTrainer`` requires (it scores in a spawned process, sums the functions without
  weights and z-scores each group itself: use the total only, and no advantage reward, there).
* :func:`advantage_reward` -- a reward function whose "reward" is already our estimator's
  advantage for each group. TRL's own advantage with ``scale_rewards="none"`` and one reward
  function of weight 1 is ``A_trl = a - mean_g(a)``; every rewardsmith estimator but ``raw`` is
  zero-mean inside each group (``sum_g A = 0``), so ``A_trl = A`` exactly (up to float32 rounding,
  ~1e-7). ``raw`` is not zero-mean and would be re-centred into ``dr_grpo``: refused.
  :func:`check_trl_config` refuses every configuration where this identity breaks.
* :class:`RewardsmithCallback` -- a ``TrainerCallback`` that checks the config at
  ``on_train_begin`` and watches for collapse at ``on_log``; the per-batch metrics (label
  fractions, advantage diagnostics, collapse detectors) go through TRL's own ``log_metric`` hook,
  so every reporter (console, TensorBoard, W&B) receives them averaged per logging step.

Example (see README "TRL")::

    rs = load_rules("seed-tiered")
    adv = advantage_reward(rs, "rank", num_generations=8)
    funcs = [adv, *reward_funcs(rs, per_rule=True)]        # per-rule ones for logging only
    args = GRPOConfig(num_generations=8, scale_rewards="none", reward_weights=reward_weights(funcs))
    trainer = GRPOTrainer(model, reward_funcs=funcs, args=args, train_dataset=ds,
                          callbacks=[RewardsmithCallback(funcs)])
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from transformers import TrainerCallback

from rewardsmith import advantages as _adv
from rewardsmith.train.collapse import RULE, CollapseRule, Verdict, Window, series_verdict
from rewardsmith.train.metrics import collapse_metrics
from rewardsmith.integrations._scoring import (
    BatchScoreCache,
    completion_text,
    group_ids_from_prompts,
    infer_group_size,
    score_texts,
)

__all__ = [
    "reward_funcs",
    "reward_weights",
    "advantage_reward",
    "AdvantageReward",
    "check_trl_config",
    "RewardsmithCallback",
    "TrainingMonitor",
    "CollapseConfig",
    "trl_estimator",
    "monitor_of",
    "RuleReward",
    "AsyncRuleReward",
]

logger = logging.getLogger(__name__)

#: Keyword arguments TRL passes to reward functions that are not dataset columns.
TRL_RESERVED_KWARGS = frozenset(
    {"prompts", "completions", "completion_ids", "trainer_state", "log_extra", "log_metric", "environments"}
)

#: Prefix of every metric this adapter logs.
METRIC_PREFIX = "rewardsmith/"

# --------------------------------------------------------------------------------------------
# What TRL's own advantage is, per config (for diagnostics when our estimator is not in charge)
# --------------------------------------------------------------------------------------------


def trl_estimator(args: Any) -> tuple[str, dict[str, Any]]:
    """The rewardsmith estimator that reproduces TRL's advantage for ``args`` (one reward func).

    ``scale_rewards="group"``: ``grpo`` with Bessel std and ``eps=1e-4``; ``"batch"``: ``batch_std``
    with the same; ``"none"``: ``dr_grpo`` (group mean only).
    """
    scale = getattr(args, "scale_rewards", "group")
    scale = {True: "group", False: "none"}.get(scale, scale)
    if scale == "group":
        return "grpo", {"ddof": 1, "eps": 1e-4}
    if scale == "batch":
        return "batch_std", {"ddof": 1, "eps": 1e-4}
    return "dr_grpo", {}


# --------------------------------------------------------------------------------------------
# Monitor: label fractions, advantage diagnostics and collapse detectors per batch
# --------------------------------------------------------------------------------------------


@dataclass
class CollapseConfig:
    """The collapse verdict's rule (``rewardsmith.train.collapse``, the same as the trainer's and
    the report's) and the thresholds of the informational detectors. The alarm is the verdict
    holding ``patience`` batches in a row; the detectors are logged, never alarmed on (a policy
    that is 99% right trips ``label_collapse``, a converged one ``mode_collapse``)."""

    rule: CollapseRule = RULE  # the verdict: template signs AND failed accuracy, start vs end window of batches
    correct_label: str = "correct"  # the rule set's label of a right answer (no such label: no verdict is logged)
    zero_std_frac: float = 0.9  # no_signal: >= this fraction of groups has all-equal rewards
    min_distinct_frac: float = 0.25  # mode_collapse: mean distinct completions per group / G <= this
    dominant_label_frac: float = 0.99  # label_collapse: one label covers >= this fraction
    patience: int = 3  # consecutive batches the verdict must hold before the alarm is raised


class TrainingMonitor:
    """Per-batch metrics of a rule reward during RL, and collapse detectors across batches.

    ``record`` computes, for one scored batch (names under ``rewardsmith/``):

    * ``label/<label>``: fraction of completions with each label (every label the rule set can
      emit, so the keys are the same each step); ``reward_mean``; ``unscored_frac`` (NaN rewards);
    * ``adv/<field>``: :func:`rewardsmith.advantages.diagnostics` of the estimator in charge (ours
      when an :class:`AdvantageReward` is bound, otherwise the one TRL uses, see
      :func:`trl_estimator`);
    * ``collapse/zero_std_frac``, ``collapse/group_distinct_frac`` (mean over groups of distinct
      completions / group size), ``collapse/top_skeleton_share`` (share of the batch taken by its
      most common completion with digits masked: one template, any numbers), ``collapse/distinct_2``
      (distinct 2-grams of ``completion_ids`` within groups; characters when TRL passes no ids) --
      computed by ``rewardsmith.train.metrics.collapse_metrics``, as in the trainer --
      ``collapse/label_entropy`` (label entropy / log K, 0 when one label takes everything);
      informational detectors (0/1 per batch) ``collapse/no_signal``, ``collapse/mode_collapse``,
      ``collapse/label_collapse``;
    * the collapse verdict (``rewardsmith.train.collapse``: the first batches since
      ``on_train_begin`` against the latest ones) where the rule set has the ``correct`` label:
      ``collapse/template_signs`` (a), ``collapse/accuracy_failed`` (b),
      ``collapse/template_collapse`` (both: the verdict) and ``collapse/alarm`` (1 once the verdict
      has held ``patience`` batches in a row).

    Metrics are sent through TRL's ``log_metric`` when the reward function received one; otherwise
    they wait in ``pending`` for :class:`RewardsmithCallback` to add them to the next log.
    """

    def __init__(
        self,
        labels: Sequence[str] = (),
        estimator: str | None = None,
        estimator_options: dict[str, Any] | None = None,
        collapse: CollapseConfig | None = None,
    ) -> None:
        labels = tuple(labels)
        self.labels = tuple(labels)
        self.estimator = estimator
        self.estimator_options = dict(estimator_options or {})
        self.estimator_bound = False  # True once an AdvantageReward owns the estimator
        self.collapse = collapse or CollapseConfig()
        self.streak = 0  # batches in a row the collapse verdict has held
        self.alarms: set[str] = set()  # {"template_collapse"} while the alarm is up
        self.verdict: Verdict | None = None  # the latest collapse verdict
        self.history: list[dict[str, float]] = []
        self.windows: list[Window] = []  # per batch: what the collapse rule reads
        self.pending: list[dict[str, float]] = []
        self._lock = threading.Lock()
        self._last_key: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def bind_estimator(self, name: str, options: dict[str, Any]) -> None:
        """Follow an advantage reward's estimator (instead of TRL's own) from now on."""
        self.estimator, self.estimator_options, self.estimator_bound = name, dict(options), True

    def reset(self) -> None:
        """Forget the detectors' streaks, alarms and history (a new training run)."""
        with self._lock:
            self.streak = 0
            self.alarms.clear()
            self.verdict = None
            self.history.clear()
            self.windows.clear()
            self.pending.clear()
            self._last_key = None

    def record(
        self,
        rewards: np.ndarray,
        labels: Sequence[str],
        texts: Sequence[str],
        group_ids: np.ndarray,
        advantages: np.ndarray | None = None,
        log_metric: Callable[[str, float], None] | None = None,
        key: Any = None,
        token_ids: Sequence[Sequence[int]] | None = None,
    ) -> dict[str, float] | None:
        """Compute the batch's metrics (once per ``key``), log them, update the verdict.
        ``token_ids``: the completions' token ids (TRL's ``completion_ids``), for distinct-2;
        without them the characters of ``texts`` stand in."""
        if len(rewards) == 0:  # an empty batch (e.g. a process with no rows): nothing to measure
            return None
        with self._lock:
            if key is not None and key == self._last_key:
                return None
            self._last_key = key
            metrics = self._metrics(rewards, labels, texts, group_ids, advantages, token_ids)
            self.history.append(metrics)
            if log_metric is not None:
                for name, value in metrics.items():
                    log_metric(name, value)
            else:
                self.pending.append(metrics)
            return metrics

    def _metrics(self, rewards, labels, texts, group_ids, advantages, token_ids=None) -> dict[str, float]:
        p = METRIC_PREFIX
        r = np.asarray(rewards, dtype=np.float64)
        n = r.shape[0]
        out: dict[str, float] = {}
        names = list(self.labels) + sorted(set(labels) - set(self.labels))
        counts = {name: 0 for name in names}
        for lab in labels:
            counts[lab] += 1
        for name in names:
            out[f"{p}label/{name}"] = counts[name] / n
        valid = ~np.isnan(r)
        out[f"{p}reward_mean"] = float(r[valid].mean()) if valid.any() else float("nan")
        out[f"{p}unscored_frac"] = float(1.0 - valid.mean())
        if advantages is None:
            name = self.estimator or "grpo"
            advantages = _adv.compute(name, r, groups=group_ids, **self.estimator_options)
        diag = _adv.diagnostics(r, advantages, groups=group_ids).to_dict()
        for k, v in diag.items():
            out[f"{p}adv/{k}"] = float(v)
        # collapse: the trainer's detectors, then the shared verdict
        ids = token_ids if token_ids is not None and len(token_ids) == n else [[ord(c) for c in t] for t in texts]
        cm = collapse_metrics(texts, [list(x) for x in ids], groups=list(np.asarray(group_ids).tolist()))
        k = max(len(names), 1)
        fr = np.array([c / n for c in counts.values() if c], dtype=np.float64)
        entropy = float(-(fr * np.log(fr)).sum() / math.log(k)) if k > 1 else 0.0
        cfg = self.collapse
        fired = {
            "no_signal": diag["zero_variance_frac"] >= cfg.zero_std_frac,
            "mode_collapse": cm["group_distinct_frac"] <= cfg.min_distinct_frac,
            "label_collapse": float(fr.max()) >= cfg.dominant_label_frac,
        }
        for det, on in fired.items():
            out[f"{p}collapse/{det}"] = float(on)
        out[f"{p}collapse/zero_std_frac"] = float(diag["zero_variance_frac"])
        out[f"{p}collapse/group_distinct_frac"] = cm["group_distinct_frac"]
        out[f"{p}collapse/top_skeleton_share"] = cm["top_skeleton_share"]
        out[f"{p}collapse/distinct_2"] = cm["distinct_2"]
        out[f"{p}collapse/label_entropy"] = entropy
        if cfg.correct_label in names:
            self.windows.append(Window(int(np.unique(group_ids).size), n, counts[cfg.correct_label] / n,
                                       cm["top_skeleton_share"], cm["distinct_2"]))
            v = self.verdict = series_verdict(self.windows, cfg.rule)
            self.streak = self.streak + 1 if v.collapsed else 0
            if self.streak >= cfg.patience:
                self.alarms.add("template_collapse")
            elif not v.collapsed:
                self.alarms.discard("template_collapse")
            out[f"{p}collapse/template_signs"] = float(v.template)
            out[f"{p}collapse/accuracy_failed"] = float(v.accuracy_failed)
            out[f"{p}collapse/template_collapse"] = float(v.collapsed)
            out[f"{p}collapse/alarm"] = float(bool(self.alarms))
        return out

    def pop_pending(self) -> dict[str, float]:
        """Mean of each metric recorded without ``log_metric`` since the last call (then cleared)."""
        with self._lock:
            rows, self.pending = self.pending, []
        if not rows:
            return {}
        keys = dict.fromkeys(k for row in rows for k in row)
        return {k: float(np.nanmean([row[k] for row in rows if k in row])) for k in keys}


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
        columns = {k: v for k, v in kwargs.items() if k not in TRL_RESERVED_KWARGS}
        answers = None
        if self.answer_column is not None:
            if self.answer_column not in columns:
                raise ValueError(
                    f"answer_column: the dataset has no column {self.answer_column!r} (columns passed "
                    f"to the reward function: {sorted(columns)}); pass answer_column=<name>, or "
                    "answer_column=None for rules that need no gold answer"
                )
            col = columns.pop(self.answer_column)
            if isinstance(col, (str, bytes)) or not hasattr(col, "__len__"):
                raise ValueError(f"{self.answer_column}: expected one gold answer per completion (a list of "
                                 f"{len(completions)}), got {type(col).__name__} {col!r:.60}")
            answers = list(col)
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


def monitor_of(func: Any) -> TrainingMonitor | None:
    """The :class:`TrainingMonitor` a reward function made here reports into (None for others)."""
    binding = getattr(func, "rewardsmith_binding", None)
    if binding is not None:
        return binding.monitor
    if isinstance(func, AdvantageReward):
        return func.monitor
    return None


def reward_weights(funcs: Sequence[Callable]) -> list[float]:
    """``GRPOConfig.reward_weights`` for a list mixing our functions and others.

    Ours carry their role's weight (total / advantage: 1.0, per-rule components: 0.0); other
    functions get 1.0 -- except next to an :func:`advantage_reward`, where anything else must be
    logging-only (0.0) for the advantages to stay ours.
    """
    has_adv = any(isinstance(f, AdvantageReward) for f in funcs)
    out = []
    for f in funcs:
        if isinstance(f, AdvantageReward):
            out.append(1.0)
        elif hasattr(f, "rewardsmith_weight"):
            out.append(0.0 if has_adv else float(f.rewardsmith_weight))
        else:
            out.append(0.0 if has_adv else 1.0)
    return out


# --------------------------------------------------------------------------------------------
# Any rewardsmith estimator inside TRL: rewards that are already advantages
# --------------------------------------------------------------------------------------------


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
        if estimator not in _adv.ESTIMATORS:
            raise ValueError(
                f"estimator: unknown name {estimator!r}; expected one of {sorted(_adv.ESTIMATORS)}"
            )
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
        # validate the options once, on a toy batch, so a typo fails here and not mid-training
        _adv.compute(estimator, np.array([0.0, 1.0]), group_size=2, **estimator_options)
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


# --------------------------------------------------------------------------------------------
# The check that refuses configs where TRL would not use our advantages as they are
# --------------------------------------------------------------------------------------------


def check_trl_config(args: Any, reward_funcs: Sequence[Any], num_processes: int | None = None) -> None:
    """Raise ValueError where ``GRPOTrainer(args=args, reward_funcs=reward_funcs)`` would misuse ours.

    With an :class:`AdvantageReward` among ``reward_funcs``:

    * exactly one of them;
    * ``scale_rewards == "none"`` (``"group"``/``"batch"`` divide our advantages by a std again);
    * ``multi_objective_aggregation == "sum_then_normalize"`` (the other mode re-normalizes);
    * its weight is 1.0 and every other reward function's is 0.0 (logging only);
    * ``num_generations`` (and ``num_generations_eval``) equal the wrapper's;
    * each process's generation batch (``per_device_train_batch_size * steps_per_generation``) is
      a multiple of ``num_generations``, so no group is split across processes.

    Without one: the total of :func:`reward_funcs` and its per-rule components must not both carry
    weight (the reward would count twice).
    """
    funcs = list(reward_funcs)
    if type(args).__name__.startswith("AsyncGRPO"):
        # trl.experimental.async_grpo: sums every reward function (no weights) and z-scores each
        # group itself, whatever the functions return
        if any(isinstance(f, AdvantageReward) for f in funcs):
            raise ValueError(
                "reward_funcs: AsyncGRPOTrainer z-scores each group's summed reward itself, so an "
                "advantage reward would be normalized again; use reward_funcs(rules) there"
            )
        if any(getattr(f, "rewardsmith_role", None) == "component" for f in funcs):
            raise ValueError(
                "reward_funcs: AsyncGRPOTrainer sums every reward function without weights, so "
                "per-rule components would count the reward twice; use reward_funcs(rules, per_rule=False)"
            )
        return
    weights = getattr(args, "reward_weights", None)
    if weights is None:
        weights = [1.0] * len(funcs)
    weights = [float(w) for w in weights]
    if len(weights) != len(funcs):
        raise ValueError(
            f"reward_weights: {len(weights)} weights for {len(funcs)} reward functions; expected one each"
        )
    advs = [i for i, f in enumerate(funcs) if isinstance(f, AdvantageReward)]
    if not advs:
        roles = [getattr(f, "rewardsmith_role", None) for f in funcs]
        if any(r == "total" and w for r, w in zip(roles, weights)) and any(
            r == "component" and w for r, w in zip(roles, weights)
        ):
            raise ValueError(
                f"reward_weights: {weights} gives weight to both the rule set's total and its "
                "per-rule components, which counts the reward twice; expected weight 0.0 on the "
                "components (use rewardsmith.integrations.trl.reward_weights(funcs))"
            )
        return
    if len(advs) > 1:
        raise ValueError(f"reward_funcs: {len(advs)} advantage rewards; expected exactly one")
    adv: AdvantageReward = funcs[advs[0]]
    scale = getattr(args, "scale_rewards", None)
    scale = {True: "group", False: "none"}.get(scale, scale)
    if scale != "none":
        raise ValueError(
            f"scale_rewards: {scale!r} would divide the {adv.estimator} advantages by a std again; "
            "expected scale_rewards='none' with an advantage reward"
        )
    agg = getattr(args, "multi_objective_aggregation", "sum_then_normalize")
    if agg != "sum_then_normalize":
        raise ValueError(
            f"multi_objective_aggregation: {agg!r} re-normalizes every reward function; expected "
            "'sum_then_normalize' with an advantage reward"
        )
    for i, (f, w) in enumerate(zip(funcs, weights)):
        want = 1.0 if i == advs[0] else 0.0
        if w != want:
            name = getattr(f, "__name__", type(f).__name__)
            raise ValueError(
                f"reward_weights[{i}] ({name}): {w}; expected {want} -- with an advantage reward "
                "the advantage function carries weight 1.0 and every other reward function is "
                "logging-only (0.0), else TRL adds their rewards to our advantages"
            )
    g = getattr(args, "num_generations", None)
    if g != adv.num_generations:
        raise ValueError(
            f"num_generations: the trainer uses {g}, the advantage reward {adv.num_generations}; "
            "expected the same group size"
        )
    g_eval = getattr(args, "num_generations_eval", None) or g
    if g_eval not in (adv.num_generations, adv.num_generations_eval):
        raise ValueError(
            f"num_generations_eval: the trainer evaluates with groups of {g_eval}; pass "
            f"num_generations_eval={g_eval} to the advantage reward"
        )
    per_dev = getattr(args, "per_device_train_batch_size", None)
    steps = getattr(args, "steps_per_generation", None) or 1
    if per_dev is not None and (per_dev * steps) % g:
        raise ValueError(
            f"per_device_train_batch_size * steps_per_generation: {per_dev} * {steps} = "
            f"{per_dev * steps} is not a multiple of num_generations={g}; each process must see "
            "whole groups for its advantages to be computed locally"
        )


# --------------------------------------------------------------------------------------------
# The callback
# --------------------------------------------------------------------------------------------


class RewardsmithCallback(TrainerCallback):
    """Checks the GRPO config before training and reports rewardsmith metrics and collapse.

    ``reward_funcs``: the list given to ``GRPOTrainer`` (needed for :func:`check_trl_config` and to
    find the monitors). ``on_train_begin`` runs the check (``check=False`` to skip) and, where no
    advantage reward is in charge, makes the monitors' diagnostics follow TRL's own estimator for
    ``args.scale_rewards``. ``on_log`` adds metrics that could not go through ``log_metric`` and, when
    the collapse alarm is up (``rewardsmith.train.collapse``'s verdict, ``patience`` batches in a
    row), warns once per alarm and (``stop_on_collapse=True``) stops training.
    ``alarms`` lists ``(global_step, detector)`` pairs raised so far.
    """

    def __init__(
        self,
        reward_funcs: Sequence[Any] = (),
        monitors: Sequence[TrainingMonitor] = (),
        check: bool = True,
        stop_on_collapse: bool = False,
    ) -> None:
        self.reward_funcs = list(reward_funcs)
        self._extra_monitors = list(monitors)
        self.check = check
        self.stop_on_collapse = stop_on_collapse
        self.alarms: list[tuple[int, str]] = []
        self._warned: set[tuple[int, str]] = set()

    @property
    def monitors(self) -> list[TrainingMonitor]:
        """The monitors of ``reward_funcs`` (looked up now: an advantage reward made later replaces
        its rule set's monitor) plus those passed explicitly."""
        mons = self._extra_monitors + [monitor_of(f) for f in self.reward_funcs]
        return list({id(m): m for m in mons if m is not None}.values())

    def on_train_begin(self, args, state, control, **kwargs):
        if self.check and self.reward_funcs:
            check_trl_config(args, self.reward_funcs)
        name, opts = trl_estimator(args)
        for m in self.monitors:
            m.reset()
            if not m.estimator_bound:
                m.estimator, m.estimator_options = name, opts
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        for m in self.monitors:
            extra = m.pop_pending()
            if logs is not None:
                for k, v in extra.items():
                    logs.setdefault(k, v)
            for det in sorted(m.alarms):
                if (id(m), det) not in self._warned:
                    self._warned.add((id(m), det))
                    self.alarms.append((state.global_step, det))
                    logger.warning(
                        "rewardsmith: %s: the collapse verdict has held %d batches in a row at step %d (%s)",
                        det, m.collapse.patience, state.global_step,
                        m.verdict.reason if m.verdict is not None else "",
                    )
            self._warned -= {(i, d) for (i, d) in self._warned if i == id(m) and d not in m.alarms}
            if m.alarms and self.stop_on_collapse:
                control.should_training_stop = True
        return control
