"""TRL adapter: rule rewards, any rewardsmith estimator and diagnostics inside ``trl.GRPOTrainer``.

Three pieces, none of which subclasses the trainer:

* :func:`reward_funcs` (``rewards.py``) -- TRL reward functions for a rule set's total reward and,
  optionally, one per rule / shaping term. TRL calls a reward function as
  ``f(prompts=..., completions=..., completion_ids=..., <dataset columns>=..., trainer_state=...,
  log_extra=..., log_metric=...)`` and takes back one ``float | None`` per completion (``None`` =
  unscored: TRL turns it into NaN and leaves the completion out of its group statistics).
  ``asynchronous=True`` returns ``async`` callables for TRL's async reward path (``GRPOTrainer``
  runs them with ``asyncio.gather`` on a daemon event loop); the scoring then runs in a worker
  thread. The functions are picklable callable objects, as ``trl.experimental``'s
  ``AsyncGRPOTrainer`` requires (it scores in a spawned process, sums the functions without
  weights and z-scores each group itself: use the total only, and no advantage reward, there).
* :func:`advantage_reward` (``advantages.py``) -- a reward function whose "reward" is already our
  estimator's advantage for each group. TRL's own advantage with ``scale_rewards="none"`` and one
  reward function of weight 1 is ``A_trl = a - mean_g(a)``; every rewardsmith estimator but ``raw``
  is zero-mean inside each group (``sum_g A = 0``), so ``A_trl = A`` exactly (up to float32
  rounding, ~1e-7). ``raw`` is not zero-mean and would be re-centred into ``dr_grpo``: refused.
  :func:`check_trl_config` (``config.py``) refuses every configuration where this identity breaks.
* :class:`RewardsmithCallback` (``callback.py``) -- a ``TrainerCallback`` that checks the config at
  ``on_train_begin`` and watches for collapse at ``on_log``; the per-batch metrics (label
  fractions, advantage diagnostics, collapse detectors: :class:`TrainingMonitor`, ``monitor.py``)
  go through TRL's own ``log_metric`` hook, so every reporter (console, TensorBoard, W&B) receives
  them averaged per logging step.

Imports within the package flow one way: ``monitor`` <- ``rewards`` <- ``advantages`` <- ``config``
<- ``callback`` (the only one that imports ``transformers``).

Example (see docs/integrations.md, "TRL")::

    rs = load_rules("seed-tiered")
    adv = advantage_reward(rs, "rank", num_generations=8)
    funcs = [adv, *reward_funcs(rs, per_rule=True)]        # per-rule ones for logging only
    args = GRPOConfig(num_generations=8, scale_rewards="none", reward_weights=reward_weights(funcs))
    trainer = GRPOTrainer(model, reward_funcs=funcs, args=args, train_dataset=ds,
                          callbacks=[RewardsmithCallback(funcs)])
"""

from rewardsmith.integrations._trl_call import TRL_RESERVED_KWARGS
from rewardsmith.integrations.trl.advantages import AdvantageReward, advantage_reward
from rewardsmith.integrations.trl.callback import RewardsmithCallback, monitor_of
from rewardsmith.integrations.trl.config import check_trl_config, reward_weights, trl_estimator
from rewardsmith.integrations.trl.monitor import METRIC_PREFIX, CollapseConfig, TrainingMonitor
from rewardsmith.integrations.trl.rewards import AsyncRuleReward, RuleReward, reward_funcs

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
