"""The collapse rule (train/collapse.py) and the report's statistics (report/stats.py), by their numbers."""

import math

import numpy as np
import pytest
from scipy import stats

from rewardsmith.report.stats import collapse_rate_test, mean_interval, paired_difference
from rewardsmith.train.collapse import (
    RULE,
    Window,
    one_sided_p,
    run_verdict,
    series_verdict,
    verdict,
    windows,
)


def test_one_sided_p_is_the_pooled_two_proportion_z_test():
    # 30/100 -> 45/100: pooled 0.375, se = sqrt(.375 * .625 * 2 / 100), z = 0.15 / se
    z = 0.15 / math.sqrt(0.375 * 0.625 * 0.02)
    assert one_sided_p(0.30, 100, 0.45, 100) == pytest.approx(stats.norm.sf(z), rel=1e-9)
    assert one_sided_p(0.45, 100, 0.30, 100) == pytest.approx(stats.norm.cdf(z), rel=1e-9)
    assert one_sided_p(0.2, 50, 0.2, 80) == pytest.approx(0.5)
    assert one_sided_p(0.0, 10, 0.0, 10) == 0.5 and one_sided_p(1.0, 10, 1.0, 10) == 0.5
    with pytest.raises(ValueError, match="n"):
        one_sided_p(0.1, 0, 0.2, 10)


def test_windows_do_not_overlap_and_short_runs_get_none():
    assert windows(5) is None
    assert windows(6) == (slice(0, 3), slice(3, 6))
    assert windows(80) == (slice(0, 3), slice(72, 80))


START = Window(prompts=24, completions=192, correct=0.15, top_skeleton_share=0.2, distinct_2=0.50)


@pytest.mark.parametrize(
    "end, collapsed, why",
    [
        # a template that pays without solving: collapsed
        (Window(64, 512, 0.01, 0.97, 0.27), True, "collapsed"),
        # the same template on a policy that is mostly right (the SmolLM2 case): converged
        (Window(64, 512, 0.94, 0.69, 0.27), False, "mostly right"),
        # a template while accuracy rose significantly (the tiny policy at lr 3e-4): learning, not collapse
        (Window(64, 512, 0.45, 0.65, 0.31), False, "correct rose"),
        # accuracy fell, but no template: not this verdict
        (Window(64, 512, 0.02, 0.30, 0.45), False, "no template"),
        # one template, but distinct-2 barely moved
        (Window(64, 512, 0.02, 0.90, 0.48), False, "distinct-2"),
    ],
)
def test_verdict_needs_template_signs_and_failed_accuracy(end, collapsed, why):
    v = verdict(START, end)
    assert v.collapsed is collapsed and why in v.reason, v.reason
    assert v.collapsed == (v.template and v.accuracy_failed)


def test_template_rise_counts_prompts_not_completions():
    # 0.2 -> 0.5 on 3 prompts a window is not evidence, whatever the number of completions
    small = verdict(Window(3, 300, 0.1, 0.2, 0.5), Window(3, 300, 0.0, 0.5, 0.3))
    assert not small.template and small.p_template_rise > RULE.alpha and "significant" in small.reason
    big = verdict(Window(48, 384, 0.1, 0.2, 0.5), Window(48, 384, 0.0, 0.6, 0.3))
    assert big.template and big.collapsed


def _row(correct, skel, d2, completions=64):
    return {"label_frac": {"correct": correct}, "top_skeleton_share": skel, "distinct_2": d2,
            "reward_hist": {"1": int(round(correct * completions)), "-0.5": completions - int(round(correct * completions))}}


def test_run_verdict_uses_first_and_last_windows_of_the_rows():
    rows = [_row(0.15, 0.2, 0.5)] * 3 + [_row(0.1, 0.4, 0.4)] * 10 + [_row(0.0, 1.0, 0.25)] * 3
    v = run_verdict(rows, 8)
    assert v.collapsed and v.start.prompts == 24 and v.end.prompts == 24 and v.end.completions == 192
    assert v.start.correct == pytest.approx(0.15) and v.end.top_skeleton_share == 1.0
    assert not run_verdict(rows[:5], 8).collapsed and "too short" in run_verdict(rows[:5], 8).reason


def test_a_policy_that_does_not_change_is_never_collapsed():
    # 2000 simulated lr = 0 runs: every step's numbers drawn from one stationary distribution
    # (binomial correct per completion; template share and distinct-2 with the tiny policy's
    # per-step spread measured at lr = 0: 0.05 and 0.035)
    rng = np.random.default_rng(0)
    flagged = 0
    for _ in range(2000):
        steps = [Window(8, 64, rng.binomial(64, 0.12) / 64, float(np.clip(rng.normal(0.19, 0.05), 0, 1)),
                        float(rng.normal(0.51, 0.035))) for _ in range(16)]
        flagged += series_verdict(steps).collapsed
    assert flagged == 0


def test_mean_interval_is_the_student_t_interval():
    x = [0.41, 0.46, 0.52]
    iv = mean_interval(x)
    half = stats.t.ppf(0.975, 2) * np.std(x, ddof=1) / math.sqrt(3)
    assert (iv.mean, iv.lo, iv.hi, iv.n) == pytest.approx((np.mean(x), np.mean(x) - half, np.mean(x) + half, 3))
    one = mean_interval([0.4])
    assert one.n == 1 and math.isnan(one.lo) and "no interval" in one.text()
    assert one.overlaps(iv)  # unknown intervals never claim a difference
    assert not mean_interval([0.1, 0.11, 0.12]).overlaps(mean_interval([0.5, 0.51, 0.52]))
    near_zero = mean_interval([0.0, 0.0, 0.03], bounds=(0.0, 1.0))  # a fraction's interval stays in [0, 1]
    assert near_zero.lo == 0.0 and mean_interval([0.0, 0.0, 0.03]).lo < 0


def test_paired_difference_pairs_by_seed():
    a = {0: 0.50, 1: 0.40, 2: 0.45, 7: 0.9}
    b = {0: 0.45, 1: 0.36, 2: 0.38, 5: 0.1}
    p = paired_difference(a, b)
    d = [0.05, 0.04, 0.07]
    assert p.n == 3 and p.mean == pytest.approx(np.mean(d))
    assert p.p == pytest.approx(stats.ttest_rel([0.5, 0.4, 0.45], [0.45, 0.36, 0.38]).pvalue)
    assert p.lo == pytest.approx(np.mean(d) - stats.t.ppf(0.975, 2) * np.std(d, ddof=1) / math.sqrt(3))
    assert p.distinguishable()
    # unpaired-looking noise: not distinguishable; one shared seed: too few seeds
    assert not paired_difference({0: 0.4, 1: 0.5, 2: 0.45}, {0: 0.45, 1: 0.44, 2: 0.47}).distinguishable()
    few = paired_difference({0: 0.9}, {0: 0.1})
    assert not few.distinguishable() and "too few seeds" in few.text()


def test_collapse_rate_test_is_fishers_exact():
    t = collapse_rate_test(6, 6, 0, 6)
    assert t.p == pytest.approx(stats.fisher_exact([[6, 0], [0, 6]]).pvalue) and t.p < 0.01
    assert collapse_rate_test(1, 3, 0, 3).p == pytest.approx(1.0)
    with pytest.raises(ValueError, match="counts"):
        collapse_rate_test(4, 3, 0, 3)
