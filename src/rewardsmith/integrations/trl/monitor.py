"""The training monitor: label fractions, advantage diagnostics and collapse detectors per batch.

:class:`TrainingMonitor` is what every reward function made for one rule set reports into (see
``rewards.py``); :class:`CollapseConfig` holds the collapse verdict's rule and the thresholds of the
informational detectors. The callback that surfaces alarms to TRL is in ``callback.py``.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from rewardsmith import advantages as _adv
from rewardsmith.train.collapse import RULE, CollapseRule, Verdict, Window, series_verdict
from rewardsmith.train.metrics import collapse_metrics

#: Prefix of every metric this adapter logs.
METRIC_PREFIX = "rewardsmith/"


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
