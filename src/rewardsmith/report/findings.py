"""The training report's findings as numbers: one small function per finding, no sentences.

Each function reads the per-arm :class:`~rewardsmith.report.summary.GroupSummary` records and
returns a small record of numbers (the statistics come from ``report.stats``); the sentences are
rendered from these records in ``report.findings_text``, so a finding is tested by its numbers.

* :func:`paired_comparisons` -- final accuracy, paired by seed, between arms at one setting and
  of every arm against the control arm.
* :func:`most_accurate` -- the most accurate arm, against the control and the next best arm.
* :func:`collapse_counts` -- how many runs collapsed per arm and onto what; the control's count.
* :func:`step_size_effect` -- collapse counts by learning rate (Fisher exact), when several ran.
* :func:`format_before_answers`, :func:`early_amplification`, :func:`raw_collapse` -- the seed's
  three claims: format fixed before answers, rare good answers amplified early, raw rewards
  collapsing onto templates.
* :func:`noise_floor` -- the control arm's largest start -> final changes, and which arms beat them.
* :func:`learned_vs_rule` -- a learned-reward arm against the best rule-reward arm at its setting.

Every function takes ``summary`` (``{group name: GroupSummary}``, ``report.summary.summarize``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from rewardsmith.report.stats import ALPHA, Paired, RateTest, collapse_rate_test, paired_difference
from rewardsmith.report.summary import GroupSummary, TopAnswer

__all__ = ["Arms", "arms", "paired_comparisons", "MostAccurate", "most_accurate", "CollapseCounts",
           "collapse_counts", "StepSizeEffect", "step_size_effect", "FormatFirst", "format_before_answers",
           "Amplification", "early_amplification", "RawCollapse", "raw_collapse", "NoiseFloor", "noise_floor",
           "learned_vs_rule", "collapse_count"]

Summary = Mapping[str, GroupSummary]


@dataclass(frozen=True)
class Arms:
    """Group names: ``trained`` (every group when none trained) and ``control`` (lr = 0)."""

    trained: list[str]
    control: list[str]


def arms(summary: Summary) -> Arms:
    names = list(summary)
    return Arms([k for k in names if not summary[k].control] or names, [k for k in names if summary[k].control])


def collapse_count(summary: Summary, names: Sequence[str]) -> tuple[int, int]:
    """(collapsed runs, runs) over the groups ``names``."""
    return (sum(summary[k].n_collapsed for k in names), sum(len(summary[k].verdicts) for k in names))


def paired_comparisons(summary: Summary) -> list[tuple[str, str, Paired]]:
    """Final correct fraction, paired by seed (same seed = same prompts), for every two trained
    groups at the same setting (most accurate first in each pair), and of every trained group
    against the control arm. Returns ``(a, b, paired a - b)``."""
    trained = [k for k, s in summary.items() if not s.control]
    control = [k for k, s in summary.items() if s.control]
    out = []
    for i, a in enumerate(trained):
        for b in trained[i + 1:]:
            if summary[a].key.setting_text != summary[b].key.setting_text:
                continue
            hi, lo = (a, b) if summary[a].final_correct >= summary[b].final_correct else (b, a)
            out.append((hi, lo, paired_difference(summary[hi].final_correct_by_seed,
                                                  summary[lo].final_correct_by_seed)))
    for a in trained:
        for c in control[:1]:
            out.append((a, c, paired_difference(summary[a].final_correct_by_seed,
                                                summary[c].final_correct_by_seed)))
    return out


@dataclass(frozen=True)
class MostAccurate:
    """The arm with the highest mean final correct fraction (``best``); its paired difference
    with the control arm (``control``, ``vs_control``) and with the next most accurate arm at its
    setting (``next_best``, ``vs_next``), each None when there is none."""

    best: str
    control: str | None = None
    vs_control: Paired | None = None
    next_best: str | None = None
    vs_next: Paired | None = None

    @property
    def learned(self) -> bool:
        """Distinguishably above the control arm."""
        return self.vs_control is not None and self.vs_control.distinguishable() and self.vs_control.mean > 0


def most_accurate(summary: Summary, comparisons: Sequence[tuple[str, str, Paired]] | None = None) -> MostAccurate:
    a = arms(summary)
    comps = paired_comparisons(summary) if comparisons is None else comparisons
    best = max(a.trained, key=lambda k: summary[k].final_correct)
    vs_ctrl = [p for hi, c, p in comps if hi == best and c in a.control]
    rivals = [(lo, p) for hi, lo, p in comps if hi == best and lo not in a.control]
    nxt, vs_next = max(rivals, key=lambda t: summary[t[0]].final_correct) if rivals else (None, None)
    return MostAccurate(best, a.control[0] if vs_ctrl else None, vs_ctrl[0] if vs_ctrl else None, nxt, vs_next)


@dataclass(frozen=True)
class CollapseCounts:
    """Collapsed runs among the trained arms (``collapsed`` of ``runs``; ``per_arm``: (name,
    collapsed, runs)) and in the control arm (``control_collapsed`` of ``control_runs``), and per
    arm with a collapsed run the template it collapsed onto (``onto``: the run with the largest
    template share)."""

    collapsed: int
    runs: int
    per_arm: list[tuple[str, int, int]]
    has_control: bool
    control_collapsed: int
    control_runs: int
    onto: list[tuple[str, TopAnswer]]

    @property
    def verdict_is_noise(self) -> bool:
        """The control arm (lr = 0, no learning) earned the verdict: no collapse claim stands."""
        return self.has_control and self.control_collapsed > 0


def collapse_counts(summary: Summary) -> CollapseCounts:
    a = arms(summary)
    k, n = collapse_count(summary, a.trained)
    kc, nc = collapse_count(summary, a.control)
    per = [(name, summary[name].n_collapsed, len(summary[name].verdicts)) for name in a.trained]
    onto = []
    for name in a.trained:
        ta = summary[name].collapsed_onto()
        if ta:
            onto.append((name, max(ta, key=lambda t: t.skeleton_share)))
    return CollapseCounts(k, n, per, bool(a.control), kc, nc, onto)


@dataclass(frozen=True)
class StepSizeEffect:
    """Collapsed / runs per learning rate (``counts``), Fisher's exact test between the most and
    least collapsed rates (``hi``, ``lo``, ``test``), and within each rate with two or more arms
    the most vs least collapsed arm (``within``: (lr, most, least, test))."""

    counts: dict[float, tuple[int, int]]
    hi: float
    lo: float
    test: RateTest
    within: list[tuple[float, str, str, RateTest]]

    @property
    def differs(self) -> bool:
        return self.test.p < ALPHA


def step_size_effect(summary: Summary) -> StepSizeEffect | None:
    """None when the trained arms ran at a single learning rate."""
    by_lr: dict[float, list[str]] = {}
    for name in arms(summary).trained:
        by_lr.setdefault(float(summary[name].lr), []).append(name)
    if len(by_lr) < 2:
        return None
    counts = {lr: collapse_count(summary, ks) for lr, ks in sorted(by_lr.items())}
    hi = max(counts, key=lambda lr: counts[lr][0] / counts[lr][1])
    lo = min(counts, key=lambda lr: counts[lr][0] / counts[lr][1])
    within = []
    for lr, ks in sorted(by_lr.items()):
        if len(ks) < 2:
            continue
        rates = sorted(ks, key=lambda k: summary[k].n_collapsed / len(summary[k].verdicts))
        t = collapse_rate_test(*collapse_count(summary, rates[-1:]), *collapse_count(summary, rates[:1]))
        within.append((lr, rates[-1], rates[0], t))
    return StepSizeEffect(counts, hi, lo, collapse_rate_test(*counts[hi], *counts[lo]), within)


@dataclass(frozen=True)
class FormatFirst:
    """The seed's "format is fixed before answers", per trained arm: ``agree`` (bad_format halved
    no later than correct gained half), ``contra`` (correct gained half first, or without
    bad_format halving), ``stuck`` (format fixed, answers never gained)."""

    agree: list[str]
    contra: list[str]
    stuck: list[str]


def format_before_answers(summary: Summary) -> FormatFirst:
    trained = arms(summary).trained
    fb = {a: summary[a].step_format_halved for a in trained}
    fc = {a: summary[a].step_correct_half_gain for a in trained}
    agree = [a for a in trained if fb[a] is not None and fc[a] is not None and fb[a] <= fc[a]]
    contra = [a for a in trained if fc[a] is not None and (fb[a] is None or fb[a] > fc[a])]
    stuck = [a for a in trained if fb[a] is not None and fc[a] is None]
    return FormatFirst(agree, contra, stuck)


@dataclass(frozen=True)
class Amplification:
    """The seed's "rare good answers are amplified early": the first grpo arm that started below
    half correct, its largest advantage in the first ``window`` steps (``max_adv``; raw's is
    +1.00) and the bound ``sqrt(G - 1)`` (``bound``)."""

    arm: str
    window: int
    max_adv: float
    bound: float


def early_amplification(summary: Summary) -> Amplification | None:
    grpo = [a for a in arms(summary).trained
            if summary[a].key.arm == "grpo" and summary[a].start_correct < 0.5]
    if not grpo:
        return None
    g = summary[grpo[0]]
    return Amplification(grpo[0], g.start_window, g.max_adv_start, g.metrics["adv_bound"].start)


@dataclass(frozen=True)
class RawCollapse:
    """The seed's "raw rewards collapse onto templates": collapsed / runs of the raw arms and of
    the normalized rule-reward arms (None when none ran), and Fisher's exact test between them."""

    raw: tuple[int, int]
    normalized: tuple[int, int] | None
    test: RateTest | None

    @property
    def raw_collapsed_more(self) -> bool:
        (kr, nr), (kn, nn) = self.raw, self.normalized or (0, 1)
        return self.test is not None and self.test.p < ALPHA and kr / nr > kn / nn


def raw_collapse(summary: Summary) -> RawCollapse | None:
    """None when no raw arm ran."""
    trained = arms(summary).trained
    raw = [a for a in trained if summary[a].key.arm == "raw"]
    norm = [a for a in trained if summary[a].key.arm != "raw" and not summary[a].learned]
    if not raw:
        return None
    kr, nr = collapse_count(summary, raw)
    if not norm:
        return RawCollapse((kr, nr), None, None)
    kn, nn = collapse_count(summary, norm)
    return RawCollapse((kr, nr), (kn, nn), collapse_rate_test(kr, nr, kn, nn))


@dataclass(frozen=True)
class NoiseFloor:
    """The control arm's largest start -> final change over its seeds (``floor``: detector ->
    value), and the trained arms whose mean change in correct exceeds it (``beyond``, of
    ``n_trained``)."""

    control: str
    n_seeds: int
    floor: dict[str, float]
    beyond: list[str]
    n_trained: int


def noise_floor(summary: Summary,
                detectors: Sequence[str] = ("correct", "top_skeleton_share", "distinct_2")) -> NoiseFloor | None:
    """None when no control arm ran."""
    a = arms(summary)
    if not a.control:
        return None
    c = summary[a.control[0]]
    floor = {d: max(abs(x) for x in c.delta[d]) for d in detectors}
    beyond = [k for k in a.trained if abs(np.mean(summary[k].delta["correct"])) > floor["correct"]]
    return NoiseFloor(a.control[0], c.n_seeds, floor, beyond, len(a.trained))


def learned_vs_rule(summary: Summary, name: str) -> tuple[str, Paired] | None:
    """A learned-reward arm against the most accurate rule-reward arm at its setting: (that
    arm, paired difference of final correct, learned - rule); None when there is none."""
    s = summary[name]
    rule = [k for k in arms(summary).trained
            if summary[k].key.setting_text == s.key.setting_text and not summary[k].learned]
    if not rule:
        return None
    best_rule = max(rule, key=lambda k: summary[k].final_correct)
    return best_rule, paired_difference(s.final_correct_by_seed, summary[best_rule].final_correct_by_seed)
