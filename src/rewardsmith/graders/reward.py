"""``LearnedReward``: a rule reward smoothed by graded propositions, usable wherever a RuleSet is.

    R(y) = s * R_base(y) + sum_i w_i * p_i(y)          (s = 1 unless fit, see WeightFitConfig)

``R_base`` is the discrete reward of a base rule set (or 0 without one), ``p_i`` the grader's
probability that proposition i holds, ``w_i`` the weights fit by ``weights.fit_weights``. A NaN
base reward (unscored, e.g. a verification timeout) or a NaN probability (a callable grader that
failed) gives a NaN reward and the label ``unscored``.

Tier guard (on by default with a base rule set): the learned term never reorders the base's tiers.
With ``g`` the smallest gap between the base's tier rewards (``s * reward`` of each tier in its
spec) and ``S = sum_i |w_i|`` the widest the learned term can move (each ``p_i`` is in [0, 1]),
weights are scaled by ``min(1, 0.98 g / S)``: for two completions in tiers ``a > b``,
``s R_a + t_a >= s R_a + W_neg > s R_b + W_pos >= s R_b + t_b`` since ``s (R_a - R_b) >= g > S``.
A fit on few ranked pairs gave weights of +-5 to 6.6 on the seed's tiers (gap 1.5), and a bare wrong
answer (-2 tier) then scored 2.37 against 1.25 for a right one; with the guard it cannot. Within a
tier the ranking is unchanged (a positive scale). A partial-credit tier (``scale_by``) counts
with its full reward; shaping terms are the base's own and are not guarded.

Labels: the base rule set's label (``label_mode="base"``, the default with a base), or the ranked
class whose reward band holds R (``label_mode="class"``): bands are cut at the midpoints between
the median rewards of consecutive classes on the weight-fitting data (``class_thresholds``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from rewardsmith.io import atomic_write_json, read_json
from rewardsmith.rules import Outcome, ScoredBatch

__all__ = ["LearnedReward", "class_thresholds", "assign_classes"]

UNSCORED = "unscored"


def _text(completion: Any, index: int) -> str:
    try:
        from rewardsmith.rules.ruleset import completion_text
    except ImportError:  # pragma: no cover - older rules module
        return completion if isinstance(completion, str) else str(completion)
    return completion_text(completion, index)


def tier_gap(base: Any) -> float | None:
    """Smallest gap between the distinct tier rewards of a RuleSet's spec (None without tiers)."""
    tiers = getattr(getattr(base, "spec", None), "tiers", None)
    if not tiers:
        return None
    values = np.unique([float(t.reward) for t in tiers])
    return float(np.diff(values).min()) if len(values) > 1 else None


def guard_scale(gap: float | None, base_scale: float, weights: Any) -> float:
    """``min(1, 0.98 * base_scale * gap / sum_i |w_i|)``: the factor that keeps the learned term's
    span below the smallest tier gap (1 without tiers)."""
    span = float(sum(abs(float(w)) for w in weights))
    limit = None if gap is None else 0.98 * gap * base_scale
    return 1.0 if limit is None or span <= limit else limit / span


def class_thresholds(rewards: np.ndarray, rank_classes: Sequence[str],
                     classes: Sequence[str]) -> dict[str, float]:
    """Lower reward bound of each class but the last (best first): the midpoint between the
    median rewards of consecutive classes present in the data, made non-increasing."""
    rewards = np.asarray(rewards, dtype=np.float64)
    rc = np.asarray(list(rank_classes), dtype=object)
    present = [c for c in classes if np.any((rc == c) & np.isfinite(rewards))]
    if not present:
        raise ValueError("rank_class: no class has a finite reward; cannot place thresholds")
    med = [float(np.median(rewards[(rc == c) & np.isfinite(rewards)])) for c in present]
    med = list(np.minimum.accumulate(med))  # best class first: medians non-increasing
    return {c: (med[i] + med[i + 1]) / 2.0 for i, c in enumerate(present[:-1])} | {present[-1]: -np.inf}


def assign_classes(rewards: np.ndarray, thresholds: Mapping[str, float]) -> list[str]:
    """The first class (best first) whose lower bound ``rewards`` reaches; NaN -> ``unscored``."""
    names = list(thresholds)
    bounds = np.asarray([thresholds[c] for c in names], dtype=np.float64)
    out = []
    for r in np.asarray(rewards, dtype=np.float64):
        if not np.isfinite(r):
            out.append(UNSCORED)
            continue
        out.append(names[int(np.argmax(r >= bounds))])
    return out


class LearnedReward:
    """``R = R_base + sum_i w_i p_i`` with the ``score`` / ``score_batch`` API of a RuleSet.

    grader: anything with ``propositions`` and ``predict_proba(texts) -> (n, k)``.
    weights: proposition name -> weight (every grader proposition needs one).
    base: a RuleSet (or any object with ``score_batch``) or None (R_base = 0).
    base_scale: s in ``R = s * R_base + sum_i w_i p_i`` (1 in the RBR formula).
    thresholds: class name -> lower reward bound, best first (from ``class_thresholds``).
    classes: every ranked class, best first (default: the threshold keys).
    label_mode: "base" or "class"; default "base" when a base is given, else "class".
    """

    def __init__(self, grader: Any, weights: Mapping[str, float], base: Any = None, *,
                 thresholds: Mapping[str, float] | None = None, label_mode: str | None = None,
                 base_spec: Any = None, classes: Sequence[str] | None = None,
                 base_scale: float = 1.0, tier_guard: bool = True):
        props = tuple(grader.propositions)
        missing = [p for p in props if p not in weights]
        if missing:
            raise ValueError(f"weights: no weight for propositions {missing}; expected one per "
                             f"grader proposition {list(props)}")
        bad = {k: v for k, v in weights.items() if not np.isfinite(float(v))}
        if bad:
            raise ValueError(f"weights: non-finite values {bad}; expected finite numbers")
        if base is not None and not hasattr(base, "score_batch"):
            raise ValueError(f"base: expected a RuleSet or an object with score_batch, "
                             f"got {type(base).__name__}")
        if label_mode is None:
            label_mode = "base" if base is not None else "class"
        if label_mode not in ("base", "class"):
            raise ValueError(f"label_mode: got {label_mode!r}; expected 'base' or 'class'")
        if label_mode == "base" and base is None:
            raise ValueError("label_mode: 'base' needs a base rule set; pass base= or use 'class'")
        if label_mode == "class" and not thresholds:
            raise ValueError("label_mode: 'class' needs class thresholds (fit them with "
                             "graders.class_thresholds or load a fitted reward)")
        self.grader = grader
        self.propositions = props
        self.weights = {p: float(weights[p]) for p in props}
        if not np.isfinite(float(base_scale)):
            raise ValueError(f"base_scale: got {base_scale!r}; expected a finite number")
        self.base = base
        self.base_scale = float(base_scale)
        self.base_spec = base_spec
        self.thresholds = dict(thresholds) if thresholds else None
        self.classes = tuple(classes) if classes else tuple(self.thresholds or ())
        self.label_mode = label_mode
        self.tier_guard = bool(tier_guard)
        self.tier_gap = tier_gap(base) if base is not None and self.tier_guard else None
        if self.tier_gap is not None and self.base_scale <= 0:
            raise ValueError(f"base_scale: got {self.base_scale!r}; expected > 0 with a tiered base rule set "
                             "(a non-positive scale inverts the tiers: wrong answers would outscore right ones); "
                             "pass tier_guard=False to allow it")
        self.weight_scale = guard_scale(self.tier_gap, self.base_scale, self.weights.values())
        self._w = np.asarray([self.weights[p] for p in props], dtype=np.float64) * self.weight_scale

    # the RuleSet API ----------------------------------------------------------------------
    @property
    def name(self) -> str:
        base = getattr(self.base, "name", None) if self.base is not None else None
        return f"learned({base})" if base else "learned"

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels ``score_batch`` can emit, best first."""
        if self.label_mode == "base":
            base_labels = tuple(self.base.labels)
            return base_labels + (() if UNSCORED in base_labels else (UNSCORED,))
        return tuple(self.thresholds) + (UNSCORED,)

    @property
    def component_names(self) -> tuple[str, ...]:
        """Keys of ``ScoredBatch.components``: ``base`` (s * R_base) and ``prop:<name>`` (w_i p_i)."""
        return ("base",) + tuple(f"prop:{p}" for p in self.propositions)

    @property
    def needs_answers(self) -> bool:
        """True when the base rule set needs gold answers."""
        return bool(getattr(self.base, "needs_answers", False)) if self.base is not None else False

    def score(self, completion: Any, answer: Any = None, **fields: Any) -> Outcome:
        """Score one completion (``fields`` are passed to the base rule set)."""
        batch = self.score_batch([completion], None if answer is None and self.base is None
                                 else [answer], fields={k: [v] for k, v in fields.items()} or None,
                                 workers=0)
        return Outcome(reward=float(batch.rewards[0]), label=batch.labels[0],
                       details=batch.details[0])

    def score_batch(self, completions: Sequence[Any], answers: Sequence[Any] | None = None, *,
                    fields: Mapping[str, Sequence[Any]] | None = None, workers: int | None = None,
                    timeout: float | None = None, progress: bool = False,
                    **base_options: Any) -> ScoredBatch:
        """Score a batch in input order; same arguments and result type as ``RuleSet.score_batch``
        (``workers`` / ``timeout`` / ``progress`` / ``base_options`` go to the base rule set; the
        grader runs in this process)."""
        completions = list(completions)
        n = len(completions)
        texts = [_text(c, i) for i, c in enumerate(completions)]
        if self.base is not None:
            base = self.base.score_batch(completions, answers, fields=fields, workers=workers,
                                         timeout=timeout, progress=progress, **base_options)
            raw_base = np.asarray(base.rewards, dtype=np.float64)
            base_r = self.base_scale * raw_base
            base_labels = list(base.labels)
            base_details = list(base.details)
        else:
            raw_base = base_r = np.zeros(n)
            base_labels = [None] * n
            base_details = [None] * n
        prompts = (fields or {}).get("prompt")
        if prompts is not None and hasattr(self.grader, "judge_conversations"):
            proba = self.grader.predict_proba(texts, prompts=list(prompts))  # an LLM judge reads the prompt
        else:
            proba = self.grader.predict_proba(texts)
        proba = np.asarray(proba, dtype=np.float64).reshape(n, -1)
        terms = proba * self._w
        rewards = base_r + terms.sum(axis=1)
        rewards[~np.isfinite(rewards)] = np.nan
        classes = assign_classes(rewards, self.thresholds) if self.thresholds else [None] * n
        if self.label_mode == "base":
            # NaN from the base keeps the base's reason (e.g. "timeout"); NaN from the grader
            # (a failed callable) is "unscored".
            labels = [bl if np.isfinite(r) or not np.isfinite(b) else UNSCORED
                      for bl, r, b in zip(base_labels, rewards, base_r)]
        else:
            labels = classes
        details = []
        for i in range(n):
            d: dict[str, Any] = {
                "base_reward": float(raw_base[i]),
                "propositions": {p: float(proba[i, j]) for j, p in enumerate(self.propositions)},
            }
            if base_labels[i] is not None:
                d["base_label"] = base_labels[i]
                d["base"] = base_details[i]
            if classes[i] is not None:
                d["class"] = classes[i]
            details.append(d)
        components = {"base": base_r}
        for j, p in enumerate(self.propositions):
            components[f"prop:{p}"] = terms[:, j].copy()
        return ScoredBatch(rewards=rewards, labels=labels, details=details, components=components)

    # persistence --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "weights": dict(self.weights),
            "base_scale": self.base_scale,
            "tier_guard": self.tier_guard,
            "thresholds": None if self.thresholds is None else
            {k: (None if not np.isfinite(v) else float(v)) for k, v in self.thresholds.items()},
            "label_mode": self.label_mode,
            "classes": list(self.classes),
            "base_rules": self.base_spec,
        }

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``reward.json`` (weights, thresholds, base rule spec) and the grader if it can be
        saved (``PropositionGrader``)."""
        directory = Path(directory)
        if hasattr(self.grader, "save"):
            self.grader.save(directory)
        atomic_write_json(directory / "reward.json", self.to_dict())
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike[str], base: Any = "saved",
             label_mode: str | None = None) -> "LearnedReward":
        """Load a fitted reward. ``base="saved"`` rebuilds the base rule set recorded at fit time
        (``load_rules``), a RuleSet / preset name uses that one instead, None drops the base."""
        from rewardsmith.graders.classifier import load_grader

        directory = Path(directory)
        meta = read_json(directory / "reward.json",
                         "a directory written by `rewardsmith graders fit` with ranked data")
        grader = load_grader(directory)
        spec = meta.get("base_rules")
        if isinstance(base, str) and base == "saved":
            base = spec
        if isinstance(base, (str, dict)):
            from rewardsmith.rules import load_rules

            spec = base
            base = load_rules(base)
        thresholds = meta.get("thresholds")
        if thresholds is not None:
            thresholds = {k: (-np.inf if v is None else float(v)) for k, v in thresholds.items()}
        if label_mode is None:
            label_mode = meta.get("label_mode") if base is not None else "class"
            if label_mode == "base" and base is None:
                label_mode = "class"
        return cls(grader, meta["weights"], base, thresholds=thresholds, label_mode=label_mode,
                   base_spec=spec if base is not None else None, classes=meta.get("classes"),
                   base_scale=float(meta.get("base_scale", 1.0)), tier_guard=bool(meta.get("tier_guard", True)))
