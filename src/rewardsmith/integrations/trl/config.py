"""Config checks: which TRL ``GRPOConfig`` keeps our rewards and advantages as they are.

:func:`check_trl_config` refuses configurations where TRL would misuse them (an advantage
normalized twice, a reward counted twice, groups split across processes); :func:`reward_weights`
gives ``GRPOConfig.reward_weights`` for a list of reward functions; :func:`trl_estimator` names the
rewardsmith estimator that reproduces TRL's own advantage for a config.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from rewardsmith.integrations.trl.advantages import AdvantageReward

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
