"""The smoothing study: what an advantage estimator does to a tiered rule reward.

A tiered rule gives one of a few values, e.g. +1.0 (correct), -0.5 (wrong answer, right format)
and -2.0 (bad format). For a group of G completions with ``n_k`` in tier ``k``
(``sum_k n_k = G``), GRPO's advantage of a tier-``k`` completion is

    A_k = (r_k - mu) / (sigma + eps),   mu = sum_j n_j r_j / G,
    sigma^2 = sum_j n_j (r_j - mu)^2 / (G - ddof)

so the same rule reward maps to a different advantage in every mix of outcomes: three raw values
become many normalized ones ("smoothing"), and a rare tier is amplified up to ``sqrt(G - 1)``.

Two studies, pure computation (numpy in, dataclasses of arrays out; plots live in
``rewardsmith.report.stages``, files and terminal output in the CLI):

* :func:`study_stages`: a few mixes ("stages" of training, default the seed's four stages of 100
  samples), with the distinct raw and normalized values of each and of all stages pooled.
* :func:`simplex_map`: every mix ``(a, b, c)`` with ``a + b + c = G`` of three tiers, with the
  advantage each tier receives. Under any mean baseline the wrong answer's advantage is positive
  exactly where bad format outnumbers correct (``c > a``): the policy is pushed towards the right
  format before it is pushed towards the right answer.

Every advantage comes from :func:`rewardsmith.advantages.compute`; each stage or mix is its own
batch of one group (so ``batch_std`` equals ``grpo`` here). The module runs a little over 500
lines: the two studies share their tier and mix checks and result records, and read best together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from rewardsmith import advantages

__all__ = [
    "DEFAULT_TIERS",
    "DEFAULT_LABELS",
    "SEED_STAGES",
    "MAX_SIMPLEX_GROUP",
    "StageResult",
    "StagesStudy",
    "SimplexMap",
    "parse_floats",
    "parse_counts",
    "validate_tiers",
    "validate_counts",
    "estimator_options",
    "stage_rewards",
    "tier_advantages",
    "study_stages",
    "simplex_mixes",
    "simplex_map",
]

DEFAULT_TIERS: tuple[float, ...] = (1.0, -0.5, -2.0)
"""Rewards of the seed's tiers: correct, wrong answer in the right format, bad format."""

DEFAULT_LABELS: tuple[str, ...] = ("correct", "wrong_answer", "bad_format")
"""Names of the seed's tiers, in the order of ``DEFAULT_TIERS``."""

SEED_STAGES: tuple[tuple[int, ...], ...] = ((1, 9, 90), (1, 49, 50), (49, 50, 1), (90, 9, 1))
"""The seed's four stages of training: counts per tier in a group of 100."""

POSITIVE_TOL = 1e-9
"""An advantage counts as positive above this (a tie with the mean is float noise, not a sign)."""

MAX_SIMPLEX_GROUP = 300
"""Largest group size :func:`simplex_map` accepts (45,451 mixes of 300 samples: a few seconds)."""


# --------------------------------------------------------------------------------------------
# Validation at the boundary
# --------------------------------------------------------------------------------------------


def parse_floats(text: str, name: str = "tiers") -> tuple[float, ...]:
    """Parse ``"1,-0.5,-2"`` into finite floats; ValueError naming ``name`` and the value."""
    parts = [p.strip() for p in str(text).split(",")]
    out = []
    for p in parts:
        try:
            v = float(p)
        except ValueError:
            raise ValueError(
                f"{name}: cannot parse {p!r} in {text!r}; expected comma-separated numbers "
                "such as '1,-0.5,-2'"
            ) from None
        if not math.isfinite(v):
            raise ValueError(f"{name}: expected finite numbers, got {p!r} in {text!r}")
        out.append(v)
    return tuple(out)


def parse_counts(text: str, name: str = "stage") -> tuple[int, ...]:
    """Parse ``"1,9,90"`` into non-negative integer counts; ValueError naming the value."""
    parts = [p.strip() for p in str(text).split(",")]
    out = []
    for p in parts:
        try:
            v = int(p)
        except ValueError:
            raise ValueError(
                f"{name}: cannot parse {p!r} in {text!r}; expected comma-separated "
                "non-negative integer counts such as '1,9,90'"
            ) from None
        out.append(v)
    return validate_counts(out, name=f"{name} {text!r}")


def validate_tiers(tiers: Sequence[float], labels: Sequence[str] | None = None) -> tuple[
    tuple[float, ...], tuple[str, ...]
]:
    """Check tier rewards (finite, distinct, at least two) and return them with their labels."""
    t = tuple(float(x) for x in tiers)
    if len(t) < 2:
        raise ValueError(f"tiers: expected at least two tier rewards, got {list(t)}")
    if not all(math.isfinite(x) for x in t):
        raise ValueError(f"tiers: expected finite rewards, got {list(t)}")
    if len(set(t)) != len(t):
        raise ValueError(f"tiers: expected distinct rewards (one per tier), got {list(t)}")
    if labels is None:
        labels = DEFAULT_LABELS if len(t) == len(DEFAULT_LABELS) else [
            f"tier{i + 1}" for i in range(len(t))
        ]
    lab = tuple(str(x) for x in labels)
    if len(lab) != len(t):
        raise ValueError(
            f"labels: expected {len(t)} labels (one per tier), got {len(lab)}: {list(lab)}"
        )
    return t, lab


def validate_counts(counts: Sequence[Any], name: str = "counts", n_tiers: int | None = None) -> tuple[
    int, ...
]:
    """Check a stage's counts: non-negative integers, one per tier, at least two samples."""
    out = []
    for c in counts:
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)):
            raise ValueError(f"{name}: expected integer counts, got {c!r}")
        if c < 0:
            raise ValueError(f"{name}: expected non-negative counts, got {int(c)}")
        out.append(int(c))
    if n_tiers is not None and len(out) != n_tiers:
        raise ValueError(
            f"{name}: expected {n_tiers} counts (one per tier), got {len(out)}: {out}"
        )
    if sum(out) < 2:
        raise ValueError(
            f"{name}: expected a group of at least 2 samples, got {sum(out)} "
            "(a group of one has no baseline: every estimator gives it 0)"
        )
    return tuple(out)


def estimator_options(estimator: str, ddof: int = 0, eps: float = 1e-6) -> dict[str, Any]:
    """The subset of ``{ddof, eps}`` that ``estimator`` uses (grpo, batch_std: both; others: none).

    Raises ValueError for an unknown estimator name, naming it and the known ones.
    """
    advantages.check_estimator(estimator)
    checked = advantages.check_options(ddof=ddof, eps=eps)  # ddof also sets the study's std column
    takes = advantages.estimator_options(estimator)
    return {k: v for k, v in checked.items() if k in takes}


# --------------------------------------------------------------------------------------------
# One group: rewards and the advantage of each tier
# --------------------------------------------------------------------------------------------


def stage_rewards(tiers: Sequence[float], counts: Sequence[int]) -> np.ndarray:
    """The group's rewards: ``counts[k]`` copies of ``tiers[k]``, in tier order (float64)."""
    return np.repeat(np.asarray(tiers, dtype=np.float64), np.asarray(counts, dtype=np.int64))


def tier_advantages(
    tiers: Sequence[float],
    counts: Sequence[int],
    estimator: str = "grpo",
    **options: Any,
) -> np.ndarray:
    """Advantage of one completion of each tier in a group with these counts (NaN: tier absent).

    Computed by ``advantages.compute(estimator, rewards, group_size=sum(counts), **options)``.
    Estimators that use only the order of rewards (``rank``) still give every member of a tier
    the same value, so one number per tier is the whole story.
    """
    r = stage_rewards(tiers, counts)
    adv = np.asarray(advantages.compute(estimator, r, group_size=r.size, **options))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    out = np.full(len(tiers), np.nan)
    present = np.asarray(counts) > 0
    out[present] = adv[starts[present]]
    return out


# --------------------------------------------------------------------------------------------
# Stages
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageResult:
    """One stage (a group with given counts per tier) through one estimator."""

    counts: tuple[int, ...]
    mean: float  # group mean of the raw rewards
    std: float  # group std with the study's ddof (population when ddof=0)
    tier_advantage: np.ndarray  # (k,) advantage per tier, NaN where the tier is absent
    raw_values: np.ndarray  # sorted distinct raw rewards present
    normalized_values: np.ndarray  # sorted distinct advantages present
    diagnostics: dict[str, Any]  # advantages.diagnostics(...).to_dict()

    @property
    def normalized_min(self) -> float:
        return float(self.normalized_values.min())

    @property
    def normalized_max(self) -> float:
        return float(self.normalized_values.max())


@dataclass(frozen=True)
class StagesStudy:
    """The stages study: every stage plus the pooled distributions over all of them."""

    tiers: tuple[float, ...]
    labels: tuple[str, ...]
    estimator: str
    options: dict[str, Any]  # the ddof/eps actually passed to the estimator
    ddof: int
    stages: list[StageResult]
    pooled_raw_values: np.ndarray = field(repr=False)
    pooled_normalized_values: np.ndarray = field(repr=False)
    pooled_normalized_counts: np.ndarray = field(repr=False)  # samples at each pooled value
    pooled_normalized_tier: np.ndarray = field(repr=False)  # tier index of each pooled value

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the ``stages.json`` schema)."""
        uses_std = "ddof" in self.options
        stages = []
        for i, s in enumerate(self.stages):
            stages.append(
                {
                    "stage": i + 1,
                    "counts": list(s.counts),
                    "group_size": int(sum(s.counts)),
                    "mean": s.mean,
                    "std": s.std,
                    "ddof": self.ddof if uses_std else None,
                    "raw_values": s.raw_values.tolist(),
                    "normalized_values": s.normalized_values.tolist(),
                    "normalized_min": s.normalized_min,
                    "normalized_max": s.normalized_max,
                    "advantage": {
                        lab: (None if math.isnan(a) else float(a))
                        for lab, a in zip(self.labels, s.tier_advantage)
                    },
                    "diagnostics": s.diagnostics,
                }
            )
        return {
            "estimator": self.estimator,
            "options": dict(self.options),
            "ddof": self.ddof if uses_std else None,
            "eps": self.options.get("eps"),
            "tiers": dict(zip(self.labels, self.tiers)),
            "stages": stages,
            "pooled": {
                "raw_values": self.pooled_raw_values.tolist(),
                "normalized_values": self.pooled_normalized_values.tolist(),
                "normalized_counts": self.pooled_normalized_counts.tolist(),
                "distinct_raw": int(self.pooled_raw_values.size),
                "distinct_normalized": int(self.pooled_normalized_values.size),
            },
        }


def _distinct(x: np.ndarray, decimals: int = 9) -> np.ndarray:
    """Sorted distinct values, merging float noise below ``10**-decimals``."""
    return np.unique(np.round(np.asarray(x, dtype=np.float64), decimals))


def study_stages(
    tiers: Sequence[float] = DEFAULT_TIERS,
    stages: Sequence[Sequence[int]] = SEED_STAGES,
    labels: Sequence[str] | None = None,
    estimator: str = "grpo",
    ddof: int = 0,
    eps: float = 1e-6,
) -> StagesStudy:
    """Run each stage (its own batch of one group) through ``estimator`` and pool the results.

    ``ddof``/``eps`` are passed to estimators that take them (``grpo``, ``batch_std``). Defaults
    reproduce the seed: stage 1's correct answer gets +5.50 and stage 4's bad format -5.50
    (population std), and the four stages pooled take 12 distinct normalized values against 3 raw.
    """
    tiers, labels = validate_tiers(tiers, labels)
    opts = estimator_options(estimator, ddof, eps)
    if len(stages) == 0:
        raise ValueError("stages: expected at least one stage (counts per tier), got none")
    results = []
    pooled_r, pooled_a = [], []
    for i, c in enumerate(stages):
        counts = validate_counts(c, name=f"stage {i + 1}", n_tiers=len(tiers))
        r = stage_rewards(tiers, counts)
        a = np.asarray(advantages.compute(estimator, r, group_size=r.size, **opts), np.float64)
        diag = advantages.diagnostics(r, a, group_size=r.size).to_dict()
        results.append(
            StageResult(
                counts=counts,
                mean=float(r.mean()),
                std=float(r.std(ddof=ddof)),
                tier_advantage=tier_advantages(tiers, counts, estimator, **opts),
                raw_values=_distinct(r),
                normalized_values=_distinct(a),
                diagnostics=diag,
            )
        )
        pooled_r.append(r)
        pooled_a.append(a)
    r_all = np.concatenate(pooled_r)
    a_all = np.round(np.concatenate(pooled_a), 9)
    values, inverse, counts_v = np.unique(a_all, return_inverse=True, return_counts=True)
    tier_idx = np.searchsorted(np.sort(np.asarray(tiers)), r_all)
    order_to_tier = np.argsort(np.asarray(tiers))  # sorted position -> tier index
    tier_of_sample = order_to_tier[tier_idx]
    tier_of_value = np.zeros(values.size, dtype=np.int64)
    tier_of_value[inverse.ravel()] = tier_of_sample
    return StagesStudy(
        tiers=tiers,
        labels=labels,
        estimator=estimator,
        options=opts,
        ddof=int(ddof),
        stages=results,
        pooled_raw_values=_distinct(r_all),
        pooled_normalized_values=values,
        pooled_normalized_counts=counts_v,
        pooled_normalized_tier=tier_of_value,
    )


# --------------------------------------------------------------------------------------------
# Simplex
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimplexMap:
    """Advantage of each of three tiers over every mix ``(a, b, c)``, ``a + b + c = G``."""

    tiers: tuple[float, float, float]
    labels: tuple[str, str, str]
    estimator: str
    options: dict[str, Any]
    group_size: int
    counts: np.ndarray  # (M, 3) int, every mix
    advantage: np.ndarray  # (M, 3) float, NaN where the tier is absent from the mix

    @property
    def fractions(self) -> np.ndarray:
        """(M, 3) share of each tier in each mix (barycentric coordinates)."""
        return self.counts / float(self.group_size)

    def positive(self, tier: int) -> np.ndarray:
        """(M,) bool: the tier is in the mix and its advantage is > ``POSITIVE_TOL``."""
        a = self.advantage[:, tier]
        return ~np.isnan(a) & (np.nan_to_num(a, nan=0.0) > POSITIVE_TOL)

    def positive_fraction(self, tier: int) -> float:
        """Share of the mixes containing ``tier`` in which its advantage is > 0."""
        present = ~np.isnan(self.advantage[:, tier])
        return float(self.positive(tier).sum() / present.sum()) if present.any() else float("nan")

    def summary(self) -> dict[str, Any]:
        """Per tier: advantage range, where it peaks, and how often it is positive."""
        out: dict[str, Any] = {
            "group_size": self.group_size,
            "n_mixes": int(self.counts.shape[0]),
            "estimator": self.estimator,
            "options": dict(self.options),
        }
        per_tier = {}
        for k, lab in enumerate(self.labels):
            a = self.advantage[:, k]
            present = ~np.isnan(a)
            ap = a[present]
            cp = self.counts[present]
            i_max, i_min = int(np.argmax(ap)), int(np.argmin(ap))
            per_tier[lab] = {
                "reward": self.tiers[k],
                "n_mixes_present": int(present.sum()),
                "positive_fraction": self.positive_fraction(k),
                "n_positive": int(self.positive(k).sum()),
                "positive_fraction_of_all_mixes": float(self.positive(k).mean()),
                "max": float(ap[i_max]),
                "argmax_counts": cp[i_max].tolist(),
                "min": float(ap[i_min]),
                "argmin_counts": cp[i_min].tolist(),
            }
        out["tiers"] = per_tier
        mid = self.labels[1]
        out["middle_tier"] = mid
        out["middle_tier_positive_fraction"] = per_tier[mid]["positive_fraction"]
        return out

    def lookup(self, counts: Sequence[int]) -> np.ndarray:
        """The (3,) advantages of the mix with exactly these counts."""
        hit = np.flatnonzero((self.counts == np.asarray(counts)).all(axis=1))
        if hit.size == 0:
            raise ValueError(
                f"counts: {list(counts)} is not a mix of this map; expected three "
                f"non-negative integers summing to {self.group_size}"
            )
        return self.advantage[int(hit[0])]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready map (the ``simplex.json`` schema): summary plus one row per mix."""
        grid = [
            {
                "counts": c.tolist(),
                "advantage": {
                    lab: (None if math.isnan(v) else float(v)) for lab, v in zip(self.labels, a)
                },
            }
            for c, a in zip(self.counts, self.advantage)
        ]
        return {
            "estimator": self.estimator,
            "options": dict(self.options),
            "ddof": self.options.get("ddof"),
            "eps": self.options.get("eps"),
            "group_size": self.group_size,
            "tiers": dict(zip(self.labels, self.tiers)),
            "summary": self.summary(),
            "grid": grid,
        }


_BATCH_WIDE = frozenset({"batch_std"})
"""Estimators whose advantage in one group depends on the other groups of the batch."""


def simplex_mixes(group_size: int) -> np.ndarray:
    """Every ``(a, b, c)`` of non-negative integers with ``a + b + c = group_size``, (M, 3).

    ``M = (G + 1)(G + 2) / 2``; ordered by ``a`` then ``b``.
    """
    g = int(group_size)
    a, b = np.meshgrid(np.arange(g + 1), np.arange(g + 1), indexing="ij")
    keep = a + b <= g
    a, b = a[keep], b[keep]
    return np.stack([a, b, g - a - b], axis=1).astype(np.int64)


def simplex_map(
    tiers: Sequence[float] = DEFAULT_TIERS,
    group_size: int = 100,
    labels: Sequence[str] | None = None,
    estimator: str = "grpo",
    ddof: int = 0,
    eps: float = 1e-6,
) -> SimplexMap:
    """The advantage of each of three tiers at every mix of a group of ``group_size``.

    Each mix is its own batch of one group, run through ``advantages.compute``. Under a mean
    baseline (grpo, dr_grpo, rloo, batch_std) with ``r_1 > r_2 > r_3`` the middle tier's
    advantage ``r_2 - mu`` is positive exactly where ``mu < r_2``; for the seed's tiers
    (1, -0.5, -2, equally spaced) that is wherever bad format outnumbers correct (``c > a``).
    """
    tiers, labels = validate_tiers(tiers, labels)
    if len(tiers) != 3:
        raise ValueError(f"tiers: the simplex needs exactly 3 tiers, got {len(tiers)}: {list(tiers)}")
    if isinstance(group_size, bool) or not isinstance(group_size, (int, np.integer)) or not (
        2 <= group_size <= MAX_SIMPLEX_GROUP
    ):
        raise ValueError(
            f"group_size: expected an integer from 2 to {MAX_SIMPLEX_GROUP}, got {group_size!r}"
        )
    opts = estimator_options(estimator, ddof, eps)
    mixes = simplex_mixes(int(group_size))
    g = int(group_size)
    # All mixes in one call with group_size=G is exact for group-local estimators; batch_std
    # divides by the std of the whole batch, so there each mix has to be a batch of its own.
    if estimator in _BATCH_WIDE:
        adv = np.stack([tier_advantages(tiers, m, estimator, **opts) for m in mixes])
    else:
        r = np.repeat(np.tile(np.asarray(tiers, np.float64), len(mixes)), mixes.ravel())
        a = np.asarray(advantages.compute(estimator, r, group_size=g, **opts), np.float64)
        starts = np.concatenate([[0], np.cumsum(mixes.ravel())[:-1]]).reshape(-1, 3)
        adv = a[np.minimum(starts, a.size - 1)]
        adv = np.where(mixes > 0, adv, np.nan)
    return SimplexMap(
        tiers=tiers,  # type: ignore[arg-type]
        labels=labels,  # type: ignore[arg-type]
        estimator=estimator,
        options=opts,
        group_size=g,
        counts=mixes,
        advantage=adv,
    )
