"""The ``TrainerCallback``: checks the config before training and raises the collapse alarm.

:class:`RewardsmithCallback` runs :func:`~.config.check_trl_config` at ``on_train_begin`` and, at
``on_log``, adds the monitors' pending metrics and warns (or stops) when the collapse verdict has
held; :func:`monitor_of` finds the :class:`~.monitor.TrainingMonitor` a reward function reports into.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

from transformers import TrainerCallback

from rewardsmith.integrations.trl.advantages import AdvantageReward
from rewardsmith.integrations.trl.config import check_trl_config, trl_estimator
from rewardsmith.integrations.trl.monitor import TrainingMonitor

logger = logging.getLogger(__name__)


def monitor_of(func: Any) -> TrainingMonitor | None:
    """The :class:`TrainingMonitor` a reward function made here reports into (None for others)."""
    binding = getattr(func, "rewardsmith_binding", None)
    if binding is not None:
        return binding.monitor
    if isinstance(func, AdvantageReward):
        return func.monitor
    return None


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
