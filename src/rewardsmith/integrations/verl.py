"""verl adapter: rule rewards as verl reward functions, our estimators in verl's registry.

verl (0.9) calls a custom reward function per sample --
``compute_score(data_source, solution_str, ground_truth, extra_info=None, **reward_kwargs)``, from a
thread pool in the reward loop -- or, with ``reward_manager=batch``, once per batch --
``compute_score(data_sources=, solution_strs=, ground_truths=, extra_infos=, **reward_kwargs)`` --
and accepts a float or a dict with a ``"score"`` key whose other keys become per-sample metrics.
Both forms are here, driven by a rule set named in ``reward_kwargs`` (``rules``: a preset name, a
YAML path or a dict; default ``seed-tiered``)::

    reward.custom_reward_function.path=pkg://rewardsmith.integrations.verl
    reward.custom_reward_function.name=compute_score          # or compute_score_batch
    +reward.custom_reward_function.reward_kwargs.rules=seed-tiered

The dict carries the same keys for every sample (verl stacks them into arrays): ``score``,
``label``, ``acc`` (1.0 when the answer check passed, its partial score for scaled checks, 0.0
when never reached, None when undecided), ``pred`` (the extracted answer, "" when none: verl's
majority-vote metrics use it), ``scored`` (False when the verifier could not decide), ``details``
(JSON text) and one ``rs_<component>`` per reward component. verl has no "unscored" reward, so a
NaN reward (verifier timeout under the default policy) becomes ``unscored_score`` (default 0.0) in
``score``; ``label`` still says ``timeout``.

Estimators: :func:`register_estimators` adds ``rewardsmith_<name>`` for every name in
``rewardsmith.advantages.ESTIMATORS`` to verl's ``ADV_ESTIMATOR_REGISTRY``
(``algorithm.adv_estimator=rewardsmith_rank``). verl computes advantages in its driver process
(the TaskRunner actor), so the registration must happen there: ``import verl`` imports this module
when the environment says ``VERL_USE_EXTERNAL_MODULES=rewardsmith.integrations.verl`` (verl's
plugin hook; Ray passes the environment to local workers), and importing this module after verl
registers them.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import threading
from typing import Any, Sequence

import numpy as np

from rewardsmith import advantages as _adv

__all__ = [
    "compute_score",
    "compute_score_batch",
    "score_dicts",
    "verl_estimator",
    "register_estimators",
    "DEFAULT_RULES",
    "PREFIX",
]

logger = logging.getLogger(__name__)

#: Rule set used when ``reward_kwargs`` names none.
DEFAULT_RULES = "seed-tiered"
#: Prefix of the names registered in verl's advantage-estimator registry.
PREFIX = "rewardsmith_"

_RULESETS: dict[str, Any] = {}
_RULESETS_LOCK = threading.Lock()


def _ruleset(rules: Any) -> Any:
    """A rule set from a spec (cached per spec) or the object itself if it can score."""
    if hasattr(rules, "score_batch"):
        return rules
    if not isinstance(rules, (str, dict)) and hasattr(rules, "items"):  # hydra's DictConfig
        try:
            from omegaconf import OmegaConf

            rules = OmegaConf.to_container(rules, resolve=True)
        except ImportError:
            rules = dict(rules)
    key = json.dumps(rules, sort_keys=True, default=str) if isinstance(rules, dict) else str(rules)
    with _RULESETS_LOCK:
        rs = _RULESETS.get(key)
        if rs is None:
            from rewardsmith.rules import load_rules

            rs = _RULESETS[key] = load_rules(rules)
        return rs


def _answer(ground_truth: Any) -> Any:
    if isinstance(ground_truth, np.generic):
        ground_truth = ground_truth.item()
    if isinstance(ground_truth, (list, tuple, np.ndarray)) and len(ground_truth) == 1:
        return _answer(ground_truth[0])  # verl datasets sometimes wrap the answer in a list
    return ground_truth


def _acc(details: dict[str, Any], label: str) -> float | None:
    if label in ("timeout", "error"):
        return None
    verdict = details.get("verdict")
    if not isinstance(verdict, dict):
        return 0.0
    score = verdict.get("score")
    if score is None:
        return None
    return float(score)


def score_dicts(batch: Any, unscored_score: float = 0.0) -> list[dict[str, Any]]:
    """verl's dict form for each row of a ``ScoredBatch`` (same keys for every row)."""
    if not (isinstance(unscored_score, (int, float)) and math.isfinite(unscored_score)):
        raise ValueError(f"unscored_score: expected a finite number (verl needs one), got {unscored_score!r}")
    rewards = np.asarray(batch.rewards, dtype=np.float64)
    comps = getattr(batch, "components", None) or {}
    out = []
    for i, label in enumerate(batch.labels):
        det = batch.details[i] if getattr(batch, "details", None) else {}
        r = float(rewards[i])
        scored = not math.isnan(r)
        d: dict[str, Any] = {
            "score": r if scored else float(unscored_score),
            "label": label,
            "acc": _acc(det, label),
            "pred": det.get("extracted") or "",
            "scored": scored,
            "details": json.dumps(det, default=str),
        }
        for name, values in comps.items():
            v = float(values[i])
            d[f"rs_{name}"] = v if not math.isnan(v) else None
        out.append(d)
    return out


def _fields(extra_info: Any) -> dict[str, Any]:
    if not isinstance(extra_info, dict):
        return {}
    return {k: v for k, v in extra_info.items() if k not in ("rollout_reward_scores",)}


def compute_score(
    data_source: Any,
    solution_str: str,
    ground_truth: Any,
    extra_info: dict[str, Any] | None = None,
    *,
    rules: Any = DEFAULT_RULES,
    unscored_score: float = 0.0,
    **kwargs: Any,
) -> dict[str, Any]:
    """Score one verl sample with rule set ``rules``; returns verl's dict form (see module doc).

    ``extra_info`` entries are passed to the rules as fields (e.g. ``num_tokens``, test cases);
    unknown verl keyword arguments (``reward_router_address``, ...) are ignored. Thread-safe and
    free of signals, so verl may call it from its executor threads.
    """
    rs = _ruleset(rules)
    batch = rs.score_batch([solution_str], [_answer(ground_truth)], fields=[_fields(extra_info)], workers=0)
    return score_dicts(batch, unscored_score)[0]


def compute_score_batch(
    data_sources: Sequence[Any],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[dict[str, Any] | None] | None = None,
    *,
    rules: Any = DEFAULT_RULES,
    unscored_score: float = 0.0,
    workers: int | None = None,
    timeout: float | None = None,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """Score a verl batch (``reward_manager=batch``) in one ``score_batch`` call.

    ``workers``: processes for the rules' batch engine (default all cores; 0 = in-process).
    ``timeout``: hard seconds per completion. Returns one dict per sample, in order.
    """
    n = len(solution_strs)
    if len(ground_truths) != n:
        raise ValueError(f"ground_truths: expected {n} (one per solution), got {len(ground_truths)}")
    if extra_infos is None:
        extra_infos = [None] * n
    if len(extra_infos) != n:
        raise ValueError(f"extra_infos: expected {n} (one per solution), got {len(extra_infos)}")
    rs = _ruleset(rules)
    kw: dict[str, Any] = {"workers": workers, "fields": [_fields(e) for e in extra_infos]}
    if timeout is not None:
        kw["timeout"] = timeout
    batch = rs.score_batch(list(solution_strs), [_answer(g) for g in ground_truths], **kw)
    return score_dicts(batch, unscored_score)


# --------------------------------------------------------------------------------------------
# Advantage estimators for verl's registry
# --------------------------------------------------------------------------------------------


def verl_estimator(name: str, **options: Any):
    """A function with verl's advantage-estimator signature running ``advantages.compute(name)``.

    verl calls it as ``fn(token_level_rewards=(bs, T), response_mask=(bs, T), index=uids,
    config=AlgoConfig, [reward_baselines=...])`` and takes ``(advantages, returns)``, both
    ``(bs, T)``. The outcome reward is ``token_level_rewards.sum(-1)``; groups are the prompt uids;
    the advantage is broadcast over the response tokens (``A_i * response_mask``), as verl's grpo.
    Differences from verl's own: a group of one gets 0 (verl: ``r / (1 + eps)``), NaN rewards are
    left out of their group's statistics.
    """
    _adv.check_estimator(name, **options)  # the name and its options fail now, not in verl's driver

    def estimator(token_level_rewards, response_mask, index=None, config=None, **kwargs):
        import torch

        if index is None:
            raise ValueError(
                f"index: {PREFIX}{name} groups completions by prompt and needs verl's 'uid' "
                "(non_tensor_batch['uid']); got none"
            )
        with torch.no_grad():
            scores = token_level_rewards.sum(dim=-1)
            r = scores.detach().to("cpu", torch.float64).numpy()
            a = _adv.compute(name, r, groups=np.asarray(index), **options)
            adv = torch.as_tensor(np.asarray(a), dtype=token_level_rewards.dtype, device=token_level_rewards.device)
            adv = adv.unsqueeze(-1) * response_mask
        return adv, adv

    estimator.__name__ = f"{PREFIX}{name}"
    estimator.__qualname__ = estimator.__name__
    estimator._rewardsmith = (name, dict(options))  # type: ignore[attr-defined]
    return estimator


def register_estimators(
    names: Sequence[str] | None = None,
    options: dict[str, dict[str, Any]] | None = None,
    prefix: str = PREFIX,
) -> list[str]:
    """Register ``prefix + name`` in verl's ``ADV_ESTIMATOR_REGISTRY`` for each estimator.

    ``names``: default every name in ``ESTIMATORS``; ``options``: per-name estimator options,
    e.g. ``{"grpo": {"ddof": 1}}``. Re-registering one of ours replaces it; a name taken by
    something else raises ValueError. Returns the registered names. Needs verl.
    """
    from verl.trainer.ppo import core_algos

    options = dict(options or {})
    for name in options:  # a key naming no estimator would be ignored silently
        _adv.check_estimator(name, "options")
    registry = core_algos.ADV_ESTIMATOR_REGISTRY
    done = []
    for name in names or list(_adv.ESTIMATORS):
        fn = verl_estimator(name, **options.get(name, {}))
        key = prefix + name
        old = registry.get(key)
        if old is not None and not hasattr(old, "_rewardsmith"):
            raise ValueError(f"{key}: already registered in verl by {old!r}; pass another prefix")
        registry.pop(key, None)
        core_algos.register_adv_est(key)(fn)
        done.append(key)
    return done


# verl imports this module through VERL_USE_EXTERNAL_MODULES (or a user imports it after verl):
# register then, so `algorithm.adv_estimator=rewardsmith_<name>` resolves in that process.
if "verl" in sys.modules:
    try:
        register_estimators()
    except Exception as exc:  # noqa: BLE001 - never break verl's import over an optional extra
        logger.warning("rewardsmith: could not register estimators with verl: %s", exc)
