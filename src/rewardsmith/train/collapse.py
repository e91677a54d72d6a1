"""The collapse verdict: one rule, used by the trainer's metrics, the report and the TRL callback.

The seed's worry is a policy that collapses onto a "meaningless template": one format skeleton
that earns the rule reward without solving the problem. A run's start window (its first steps)
is compared with its end window (its last steps); the run **collapsed** when both hold:

(a) **template signs**: one digit-masked skeleton takes ``>= min_template_share`` (50%) of the end
    window's completions, significantly more than of the start window's, and distinct 2-grams
    within groups fell by ``>= min_distinct_drop`` (0.05);
(b) **accuracy failed**: the end window's correct fraction is below ``max_correct`` (0.5) and not
    significantly above the start window's.

"Significantly" is a one-sided two-proportion z-test at ``alpha`` (0.01),

    z = (p_end - p_start) / sqrt(p (1 - p) (1 / n_start + 1 / n_end)),   p = pooled proportion,

and each test counts its unit in the direction that makes the verdict harder to earn. The G
completions of one prompt are correlated; the template test counts **prompts** (n = prompts in
the window: the worst case of that correlation, design effect G), so a template share that rose
by chance passes it with probability at most ``alpha`` whatever the correlation. The accuracy
test counts **completions** (no correlation), which calls a rise significant at least as often
as the truth would, so it can only clear more runs of (b). A policy that does not change (lr = 0)
earns (a) only if its template share rises past 50% and its distinct-2 falls by 0.05 by chance:
on the tiny arithmetic policy the share stays at 0.1-0.3 per step and distinct-2 moves by
~0.03 (sd of one step). A policy that is mostly right (correct >= 0.5), or whose accuracy rose
significantly, never earns (b): one honest answer format is convergence, not collapse.

Pure functions of numbers (no torch, no I/O): ``windows`` picks the steps, ``window_stats``
averages metric rows, ``verdict`` applies the rule.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

__all__ = ["CollapseRule", "Window", "Verdict", "RULE", "RULE_SENTENCE", "windows", "window_stats",
           "combine", "step_window", "verdict", "series_verdict", "run_verdict", "one_sided_p"]


@dataclass(frozen=True)
class CollapseRule:
    """The thresholds of the collapse verdict (defaults: the documented rule)."""

    min_template_share: float = 0.5  # (a) one digit-masked skeleton takes at least this share of the end window
    min_distinct_drop: float = 0.05  # (a) distinct 2-grams within groups fell by at least this (absolute)
    max_correct: float = 0.5  # (b) a policy at or above this correct fraction is mostly right: never collapsed
    alpha: float = 0.01  # level of the one-sided two-proportion z-tests (prompts as the unit)
    start_steps: int = 3  # steps in the start window
    min_end_steps: int = 3  # the end window is the last max(min_end_steps, steps // 10) steps

    def sentence(self) -> str:
        """The rule in one sentence (the report and docs/collapse-and-findings.md state it)."""
        return (f"a run collapsed when one digit-masked template takes >= {self.min_template_share:.0%} of its "
                f"final window's completions, significantly more than at the start, and within-group "
                f"distinct 2-grams fell by >= {self.min_distinct_drop:g}, while its correct fraction is below "
                f"{self.max_correct:g} and not significantly above the start's (one-sided two-proportion z-tests "
                f"at alpha = {self.alpha:g}, counting prompts for the template and completions for accuracy; "
                f"windows: first {self.start_steps} steps vs last max({self.min_end_steps}, steps/10))")


RULE = CollapseRule()
RULE_SENTENCE = RULE.sentence()


@dataclass(frozen=True)
class Window:
    """What the rule needs from a window of steps (fractions averaged over its steps)."""

    prompts: int  # prompts (groups) sampled in the window: the unit of the template test
    completions: int  # completions sampled in the window: the unit of the accuracy test
    correct: float  # fraction of completions labelled correct
    top_skeleton_share: float  # share of a step's batch taken by its most common digit-masked completion
    distinct_2: float  # distinct token 2-grams / 2-grams within each group, averaged


@dataclass(frozen=True)
class Verdict:
    """The rule applied to a start and an end window; ``collapsed = template and accuracy_failed``."""

    collapsed: bool
    template: bool  # (a)
    accuracy_failed: bool  # (b)
    p_template_rise: float  # one-sided p of "the template share rose"
    p_correct_rise: float  # one-sided p of "the correct fraction rose"
    p_correct_fall: float  # one-sided p of "the correct fraction fell" (reported, not part of the rule)
    distinct_drop: float  # start minus end distinct-2
    start: Window | None
    end: Window | None
    reason: str  # why, in words

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def one_sided_p(p_start: float, n_start: int, p_end: float, n_end: int) -> float:
    """One-sided p-value of "the end proportion is above the start's" (pooled two-proportion z-test).

    ``P(Z >= z)``, ``z = (p_end - p_start) / sqrt(p (1 - p) (1/n_start + 1/n_end))`` with the pooled
    ``p = (p_start n_start + p_end n_end) / (n_start + n_end)``. Equal proportions give 0.5; a pooled
    proportion of 0 or 1 (no variation at all) gives 0.5 when they are equal. Swap the arguments
    for "fell"."""
    if n_start < 1 or n_end < 1:
        raise ValueError(f"n: expected at least one prompt in each window, got {n_start} and {n_end}")
    pooled = (p_start * n_start + p_end * n_end) / (n_start + n_end)
    var = pooled * (1.0 - pooled) * (1.0 / n_start + 1.0 / n_end)
    if var <= 0.0:
        return 0.5
    z = (p_end - p_start) / math.sqrt(var)
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def windows(n_steps: int, rule: CollapseRule = RULE) -> tuple[slice, slice] | None:
    """``(start, end)`` slices of a run's steps, or None when the run is too short for two
    windows that do not overlap (``n_steps < start_steps + end_steps``)."""
    end = max(rule.min_end_steps, n_steps // 10)
    if n_steps < rule.start_steps + end:
        return None
    return slice(0, rule.start_steps), slice(n_steps - end, n_steps)


def combine(steps: Sequence[Window]) -> Window:
    """One window from per-step windows: prompts summed, fractions averaged over steps."""
    if not steps:
        raise ValueError("steps: expected at least one step in the window, got none")
    n = len(steps)
    return Window(prompts=int(sum(w.prompts for w in steps)),
                  completions=int(sum(w.completions for w in steps)),
                  correct=sum(w.correct for w in steps) / n,
                  top_skeleton_share=sum(w.top_skeleton_share for w in steps) / n,
                  distinct_2=sum(w.distinct_2 for w in steps) / n)


def step_window(row: Mapping[str, Any], prompts: int, correct_label: str = "correct") -> Window:
    """One step of the trainer's metric rows (``label_frac``, ``top_skeleton_share``, ``distinct_2``;
    completions counted from ``reward_hist``, else ``prompts`` of one completion each)."""
    hist = row.get("reward_hist") or {}
    completions = int(sum(hist.values())) + int(row.get("reward_nan") or 0) if hist else int(prompts)
    return Window(int(prompts), max(completions, int(prompts)), float(row["label_frac"].get(correct_label, 0.0)),
                  float(row["top_skeleton_share"]), float(row["distinct_2"]))


def window_stats(rows: Sequence[Mapping[str, Any]], prompts_per_step: int | Sequence[int],
                 correct_label: str = "correct") -> Window:
    """Average the trainer's metric rows over a window; ``prompts_per_step`` is one number or one
    per row."""
    per = [prompts_per_step] * len(rows) if isinstance(prompts_per_step, int) else list(prompts_per_step)
    return combine([step_window(r, k, correct_label) for r, k in zip(rows, per)])


def verdict(start: Window, end: Window, rule: CollapseRule = RULE) -> Verdict:
    """Apply the rule (module doc) to a start and an end window."""
    p_tpl = one_sided_p(start.top_skeleton_share, start.prompts, end.top_skeleton_share, end.prompts)
    p_up = one_sided_p(start.correct, start.completions, end.correct, end.completions)
    p_down = one_sided_p(end.correct, end.completions, start.correct, start.completions)
    drop = start.distinct_2 - end.distinct_2
    share_ok = end.top_skeleton_share >= rule.min_template_share
    template = share_ok and p_tpl < rule.alpha and drop >= rule.min_distinct_drop
    mostly_right = end.correct >= rule.max_correct
    rose = p_up < rule.alpha
    failed = not mostly_right and not rose
    if not share_ok:
        why = f"no template: top template share {end.top_skeleton_share:.2f} < {rule.min_template_share:g}"
    elif p_tpl >= rule.alpha:
        why = (f"no template: share {start.top_skeleton_share:.2f} -> {end.top_skeleton_share:.2f} "
               f"is not a significant rise (p = {p_tpl:.2g})")
    elif drop < rule.min_distinct_drop:
        why = f"no template: distinct-2 fell by {drop:.3f} < {rule.min_distinct_drop:g}"
    elif mostly_right:
        why = f"template, but mostly right: correct {end.correct:.2f} >= {rule.max_correct:g}"
    elif rose:
        why = f"template, but correct rose {start.correct:.2f} -> {end.correct:.2f} (p = {p_up:.2g})"
    else:
        why = (f"collapsed: template share {start.top_skeleton_share:.2f} -> {end.top_skeleton_share:.2f}, "
               f"distinct-2 -{drop:.3f}, correct {start.correct:.2f} -> {end.correct:.2f}")
    return Verdict(bool(template and failed), bool(template), bool(failed), p_tpl, p_up, p_down, drop,
                   start, end, why)


def series_verdict(steps: Sequence[Window], rule: CollapseRule = RULE) -> Verdict:
    """The verdict of a series of per-step windows (a run so far, or a TRL training's batches):
    start and end windows from :func:`windows`; a series too short for two separate windows is
    not collapsed (``reason`` says so)."""
    w = windows(len(steps), rule)
    if w is None:
        return Verdict(False, False, False, 1.0, 1.0, 1.0, 0.0, None, None,
                       f"too short: {len(steps)} step(s), need {rule.start_steps + rule.min_end_steps}")
    s, e = w
    return verdict(combine(steps[s]), combine(steps[e]), rule)


def run_verdict(rows: Sequence[Mapping[str, Any]], prompts_per_step: int | Sequence[int],
                rule: CollapseRule = RULE, correct_label: str = "correct") -> Verdict:
    """The verdict of a run from the trainer's metric rows (see :func:`series_verdict`)."""
    per = [prompts_per_step] * len(rows) if isinstance(prompts_per_step, int) else list(prompts_per_step)
    return series_verdict([step_window(r, k, correct_label) for r, k in zip(rows, per)], rule)
