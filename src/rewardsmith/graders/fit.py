"""The whole fit, top to bottom: graders, then rule weights, then held-out numbers.

1. Split the prompts three ways (``FitConfig.fractions``): grader training, weight fitting, test.
   No prompt's completions sit in two parts.
2. Fit one classifier per proposition on the grader part; per-proposition precision / recall /
   F1 / ROC AUC on the test part.
3. Score every row with the base rule set (needs an ``answer`` column) for ``R_base``.
4. On the weight part, pairs (better, worse) of the same prompt by ``rank_class``; fit
   ``R = R_base + sum_i w_i p_i`` by hinge loss (``weights.fit_weights``); class thresholds.
5. On the test part, pairwise accuracy of the learned reward and of ``R_base`` alone (a tie
   counts one half), over all pairs and over the pairs ``R_base`` ties.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from rewardsmith.graders.classifier import GraderConfig, PropositionGrader, evaluate
from rewardsmith.graders.data import LabeledData, ranked_pairs, split_by_prompt
from rewardsmith.graders.propositions import ARITHMETIC_CLASSES
from rewardsmith.graders.weights import WeightFitConfig, fit_weights, pairwise_accuracy

__all__ = ["FitConfig", "fit_all", "fit_graders", "fit_arithmetic_reward", "base_rewards",
           "fit_on_features", "distill", "judge_labeled"]


@dataclass
class FitConfig:
    """Settings of ``fit_all`` (grader and weight hyperparameters live in their own configs)."""

    fractions: tuple[float, float] = (0.6, 0.2)
    """Fractions of prompts for grader training and weight fitting; the rest is the test part."""
    classes: tuple[str, ...] = ARITHMETIC_CLASSES
    """Ranked classes, best first (values of the ``rank_class`` column)."""
    seed: int = 0
    """Seed of the prompt split."""
    grader: GraderConfig = field(default_factory=GraderConfig)
    """Classifier settings."""
    weights: WeightFitConfig = field(default_factory=WeightFitConfig)
    """Hinge-loss / AdamW settings."""


def base_rewards(base: Any, data: LabeledData, workers: int | None = 0) -> np.ndarray:
    """``R_base`` of every row: the base rule set's reward (answers from the ``answer`` column),
    or zeros without a base."""
    if base is None:
        return np.zeros(len(data))
    needs = getattr(base, "needs_answers", True)
    answers = None
    if needs:
        missing = [i + 1 for i, r in enumerate(data.rows) if r.get("answer") is None]
        if missing:
            raise ValueError(f"{data.source}: row {missing[0]}: column 'answer' is missing; the "
                             "base rule set needs the gold answer of every row")
        answers = [str(r["answer"]) for r in data.rows]
    batch = base.score_batch(data.texts, answers, workers=workers)
    return np.asarray(batch.rewards, dtype=np.float64)


def _guard(base: Any, fit: Any) -> float:
    """The tier guard's weight scale for ``fit`` on ``base`` (see ``graders.reward``)."""
    from rewardsmith.graders.reward import guard_scale, tier_gap

    return guard_scale(tier_gap(base) if base is not None else None, fit.base_scale, fit.weights)


def _finite_pairs(pairs: np.ndarray, rewards: np.ndarray) -> np.ndarray:
    ok = np.isfinite(rewards[pairs]).all(axis=1) if len(pairs) else np.zeros(0, bool)
    return pairs[ok]


def fit_all(data: LabeledData, base: Any = None, config: FitConfig | None = None,
            base_spec: Any = None):
    """Fit graders and weights on ``data`` (validated with ``need_ranking=True``).

    Returns ``(reward, report)``: a ``LearnedReward`` and a JSON-ready dict with the held-out
    proposition metrics, the weights, and train / test pairwise accuracies.
    """
    from rewardsmith.graders.reward import LearnedReward, class_thresholds

    config = config or FitConfig()
    if data.prompt_ids is None or data.rank_classes is None:
        raise ValueError(f"{data.source}: columns 'prompt_id' and 'rank_class' are needed to fit "
                         "rule weights")
    bad = sorted({c for c in data.rank_classes if c not in config.classes})
    if bad:
        raise ValueError(f"{data.source}: column 'rank_class' has values {bad}; expected one of "
                         f"{list(config.classes)}")
    g_idx, w_idx, t_idx = split_by_prompt(data.prompt_ids, len(data), config.fractions, config.seed)
    for name, idx in (("grader", g_idx), ("weight", w_idx), ("test", t_idx)):
        if len(idx) == 0:
            raise ValueError(f"fractions: the {name} part of {data.source} is empty "
                             f"({len(set(data.prompt_ids))} prompts, fractions {config.fractions})")
    g_data, w_data, t_data = data.subset(g_idx), data.subset(w_idx), data.subset(t_idx)

    grader = PropositionGrader(config.grader).fit(g_data.texts, g_data.labels, data.propositions,
                                                  source=data.source)
    metrics = evaluate(grader, t_data.texts, t_data.labels)

    r_base = base_rewards(base, data)
    proba_w = grader.predict_proba(w_data.texts)
    proba_t = grader.predict_proba(t_data.texts)
    pairs_w = _finite_pairs(ranked_pairs(w_data.prompt_ids, w_data.rank_classes, config.classes),
                            r_base[w_idx])
    pairs_t = _finite_pairs(ranked_pairs(t_data.prompt_ids, t_data.rank_classes, config.classes),
                            r_base[t_idx])
    fit = fit_weights(proba_w, pairs_w, r_base[w_idx], config.weights)
    weights = dict(zip(data.propositions, fit.weights.tolist()))

    w_used = fit.weights * _guard(base, fit)  # what the reward will use (LearnedReward's tier guard)
    r_w = fit.base_scale * r_base[w_idx] + proba_w @ w_used
    r_t = fit.base_scale * r_base[t_idx] + proba_t @ w_used
    thresholds = class_thresholds(r_w, w_data.rank_classes, config.classes)
    reward = LearnedReward(grader, weights, base, thresholds=thresholds, base_spec=base_spec,
                           classes=config.classes, base_scale=fit.base_scale)

    tied = pairs_t[r_base[t_idx][pairs_t[:, 0]] == r_base[t_idx][pairs_t[:, 1]]] if len(pairs_t) \
        else pairs_t
    report = {
        "n_rows": len(data),
        "n_prompts": len(set(data.prompt_ids)),
        "split_rows": {"grader": len(g_idx), "weight": len(w_idx), "test": len(t_idx)},
        "propositions": list(data.propositions),
        "metrics": metrics,
        "weights": weights,
        "base_scale": fit.base_scale,
        "weight_scale": reward.weight_scale,
        "weight_fit": {
            "n_pairs": int(len(pairs_w)),
            "loss": fit.loss,
            "train_pairwise_accuracy": fit.train_accuracy,
            "config": asdict(config.weights),
        },
        "test_pairs": {
            "n_pairs": int(len(pairs_t)),
            "learned_pairwise_accuracy": pairwise_accuracy(r_t, pairs_t),
            "base_pairwise_accuracy": pairwise_accuracy(r_base[t_idx], pairs_t),
            "n_base_tied_pairs": int(len(tied)),
            "learned_accuracy_on_base_ties": pairwise_accuracy(r_t, tied),
        },
        "class_mean_reward_test": _class_means(r_t, t_data.rank_classes, config.classes),
        "thresholds": {k: (None if not np.isfinite(v) else v) for k, v in thresholds.items()},
        "grader_config": asdict(config.grader),
    }
    return reward, report


def _class_means(rewards: np.ndarray, rank_classes: Sequence[str], classes: Sequence[str]):
    rc = np.asarray(list(rank_classes), dtype=object)
    out = {}
    for c in classes:
        sel = (rc == c) & np.isfinite(rewards)
        if sel.any():
            out[c] = float(rewards[sel].mean())
    return out


def fit_graders(data: LabeledData, config: GraderConfig | None = None, test_fraction: float = 0.2,
                seed: int = 0):
    """Graders only (no ranking needed): fit on ``1 - test_fraction`` of the prompts (of the rows
    without ``prompt_id``), evaluate on the rest. Returns ``(grader, report)``."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction: got {test_fraction!r}; expected a number in (0, 1)")
    tr, te = split_by_prompt(data.prompt_ids, len(data), [1.0 - test_fraction], seed)
    if len(tr) == 0 or len(te) == 0:
        raise ValueError(f"{data.source}: too few rows ({len(data)}) to hold out a test part")
    tr_d, te_d = data.subset(tr), data.subset(te)
    grader = PropositionGrader(config).fit(tr_d.texts, tr_d.labels, data.propositions,
                                           source=data.source)
    report = {
        "n_rows": len(data),
        "split_rows": {"grader": len(tr), "test": len(te)},
        "propositions": list(data.propositions),
        "metrics": evaluate(grader, te_d.texts, te_d.labels),
        "grader_config": asdict(grader.config),
    }
    return grader, report


def fit_arithmetic_reward(base: Any = "seed-tiered", config: FitConfig | None = None):
    """A ``LearnedReward`` fit on the shipped arithmetic data (about 15 s on one CPU core).

    ``base``: a preset name / spec for ``load_rules``, a RuleSet, or None (R_base = 0). Returns
    ``(reward, report)`` like ``fit_all``; use it as a trainer's reward or an experiment arm.
    """
    from rewardsmith.graders.data import load_labeled, shipped_data_path

    config = config or FitConfig()
    spec = base if isinstance(base, (str, dict)) else None
    if spec is not None:
        from rewardsmith.rules import load_rules

        base = load_rules(spec)
    data = load_labeled(shipped_data_path("arithmetic.jsonl"), need_ranking=True,
                        classes=config.classes)
    return fit_all(data, base=base, config=config, base_spec=spec)


def fit_on_features(data: LabeledData, proba: np.ndarray, grader: Any, base: Any = None,
                    config: FitConfig | None = None, base_spec: Any = None,
                    weight_fraction: float = 0.5):
    """Rule weights on probabilities already computed (an LLM judge's ``p_<name>`` columns): no
    grader to train, so the prompts split in two, ``weight_fraction`` for the hinge fit and the
    rest for held-out pairwise accuracy. ``grader`` (the judge) goes into the returned
    ``LearnedReward``. Rows with a NaN probability are left out of the pairs. Returns
    ``(reward, report)`` like ``fit_all``; ``report["metrics"]`` compares ``proba`` with the
    data's boolean labels where it has them."""
    from rewardsmith.graders.classifier import proba_metrics
    from rewardsmith.graders.reward import LearnedReward, class_thresholds

    config = config or FitConfig()
    proba = np.asarray(proba, dtype=np.float64)
    if proba.shape != (len(data), len(grader.propositions)):
        raise ValueError(f"features: expected shape ({len(data)}, {len(grader.propositions)}), "
                         f"got {proba.shape}")
    if data.prompt_ids is None or data.rank_classes is None:
        raise ValueError(f"{data.source}: columns 'prompt_id' and 'rank_class' are needed to fit "
                         "rule weights")
    w_idx, t_idx = split_by_prompt(data.prompt_ids, len(data), [weight_fraction], config.seed)
    if len(w_idx) == 0 or len(t_idx) == 0:
        raise ValueError(f"{data.source}: too few prompts ({len(set(data.prompt_ids))}) to split "
                         "into a weight part and a test part")
    r_base = base_rewards(base, data)
    ok = np.isfinite(proba).all(axis=1) & np.isfinite(r_base)
    w_data, t_data = data.subset(w_idx), data.subset(t_idx)

    def pairs_of(d, idx):
        pairs = ranked_pairs(d.prompt_ids, d.rank_classes, config.classes)
        keep = ok[idx][pairs].all(axis=1) if len(pairs) else np.zeros(0, bool)
        return pairs[keep]

    pairs_w, pairs_t = pairs_of(w_data, w_idx), pairs_of(t_data, t_idx)
    fit = fit_weights(np.nan_to_num(proba[w_idx]), pairs_w, r_base[w_idx], config.weights)
    weights = dict(zip(grader.propositions, fit.weights.tolist()))
    w_used = fit.weights * _guard(base, fit)  # what the reward will use (LearnedReward's tier guard)
    r_w = fit.base_scale * r_base[w_idx] + proba[w_idx] @ w_used
    r_t = fit.base_scale * r_base[t_idx] + proba[t_idx] @ w_used
    thresholds = class_thresholds(r_w, w_data.rank_classes, config.classes)
    reward = LearnedReward(grader, weights, base, thresholds=thresholds, base_spec=base_spec,
                           classes=config.classes, base_scale=fit.base_scale)
    labeled = [j for j, n in enumerate(grader.propositions) if n in data.propositions]
    metrics = proba_metrics(proba[t_idx][:, labeled],
                            t_data.labels[:, [data.propositions.index(grader.propositions[j])
                                              for j in labeled]],
                            [grader.propositions[j] for j in labeled]) if labeled else {}
    report = {
        "n_rows": len(data),
        "n_prompts": len(set(data.prompt_ids)),
        "split_rows": {"weight": len(w_idx), "test": len(t_idx)},
        "propositions": list(grader.propositions),
        "features": "judge",
        "metrics": metrics,
        "weights": weights,
        "base_scale": fit.base_scale,
        "weight_scale": reward.weight_scale,
        "weight_fit": {"n_pairs": int(len(pairs_w)), "loss": fit.loss,
                       "train_pairwise_accuracy": fit.train_accuracy,
                       "config": asdict(config.weights)},
        "test_pairs": {"n_pairs": int(len(pairs_t)),
                       "learned_pairwise_accuracy": pairwise_accuracy(r_t, pairs_t),
                       "base_pairwise_accuracy": pairwise_accuracy(r_base[t_idx], pairs_t),
                       "n_base_tied_pairs": int(sum(r_base[t_idx][a] == r_base[t_idx][b]
                                                    for a, b in pairs_t)),
                       "learned_accuracy_on_base_ties": pairwise_accuracy(
                           r_t, pairs_t[r_base[t_idx][pairs_t[:, 0]] == r_base[t_idx][pairs_t[:, 1]]]
                           if len(pairs_t) else pairs_t)},
        "thresholds": {k: (None if not np.isfinite(v) else v) for k, v in thresholds.items()},
    }
    return reward, report


def judge_labeled(data: LabeledData, proba: np.ndarray, names: Sequence[str],
                  threshold: float = 0.5) -> LabeledData:
    """``data`` with its labels replaced by the judge's verdicts ``proba >= threshold`` (columns
    ``names``); rows where the judge gave NaN are dropped."""
    proba = np.asarray(proba, dtype=np.float64)
    if proba.shape != (len(data), len(names)):
        raise ValueError(f"judge probabilities: expected shape ({len(data)}, {len(names)}), "
                         f"got {proba.shape}")
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold: got {threshold!r}; expected a number in (0, 1)")
    keep = np.flatnonzero(np.isfinite(proba).all(axis=1))
    sub = data.subset(keep)
    return LabeledData(sub.rows, sub.texts, proba[keep] >= threshold, tuple(names),
                       sub.prompt_ids, sub.rank_classes, f"{data.source} (judge-labeled)")


def distill(data: LabeledData, proba: np.ndarray, names: Sequence[str], threshold: float = 0.5,
            base: Any = None, config: FitConfig | None = None, base_spec: Any = None):
    """Fit the fast TF-IDF graders on the judge's verdicts (``judge_labeled``), so training can
    use the cheap grader and the judge only labels data. With ranked rows (``prompt_id``,
    ``rank_class``) the rule weights are fit too (``fit_all``); without, graders only
    (``fit_graders``). Held-out metrics measure agreement with the judge, not with people."""
    labeled = judge_labeled(data, proba, names, threshold)
    config = config or FitConfig()
    # a proposition the judge calls the same way on every row has nothing to teach a classifier
    constant = [n for j, n in enumerate(labeled.propositions)
                if labeled.labels[:, j].all() or not labeled.labels[:, j].any()]
    keep = [j for j, n in enumerate(labeled.propositions) if n not in constant]
    if not keep:
        raise ValueError(f"{data.source}: the judge gives every proposition one verdict on every "
                         f"row (threshold {threshold}); nothing to distill")
    labeled = LabeledData(labeled.rows, labeled.texts, labeled.labels[:, keep],
                          [labeled.propositions[j] for j in keep], labeled.prompt_ids,
                          labeled.rank_classes, labeled.source)
    if labeled.rank_classes is not None:
        fitted, report = fit_all(labeled, base=base, config=config, base_spec=base_spec)
    else:
        fitted, report = fit_graders(labeled, config.grader, seed=config.seed)
    report["dropped_constant_propositions"] = constant
    return fitted, report
