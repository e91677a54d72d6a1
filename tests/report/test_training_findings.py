"""The training report's findings checked by their numbers (``report.findings``), the arms by their
typed key (``report.runs.GroupKey``), and the sentences rendered from hand-made numbers.

Runs here are made-up metrics whose effect is known by construction (no training): correct ramps
linearly from 0.15 to a chosen value, the template share from 0.2 to a chosen value."""

import numpy as np
import pytest

from rewardsmith.report import findings as F
from rewardsmith.report.findings_text import collapse_sentence, findings, noise_floor_sentence
from rewardsmith.report.runs import GroupKey, Run, group_keys, group_runs
from rewardsmith.report.stats import RateTest
from rewardsmith.report.summary import summarize

N = 20  # steps; start window 3 steps, final window 3 steps


def _run(tmp_path, name, seed, correct, lr=3e-4, estimator="grpo", template=0.3, bad_end=None, adv_max=2.0,
         grader="", **config):
    rows = []
    for i in range(N):
        c = 0.15 + (correct - 0.15) * i / (N - 1)
        b = (1 - c) / 2 if bad_end is None else 0.6 + (bad_end - 0.6) * i / (N - 1)
        sk = 0.2 + (template - 0.2) * i / (N - 1)
        rows.append({"step": i + 1, "label_frac": {"correct": c, "wrong_answer": 1 - c - b, "bad_format": b},
                     "reward_mean": c - 1, "top_skeleton_share": sk, "top_completion_share": sk / 2,
                     "group_distinct_frac": 0.9 - 0.4 * (sk - 0.2), "distinct_2": 0.5 - 0.4 * (sk - 0.2),
                     "entropy": 1.0, "kl": 0.0, "adv_max": adv_max + (0.5 if i == 1 else 0.0), "adv_min": -2.0,
                     "adv_bound": 2.65, "adv_zero_variance_frac": 0.1, "reward_hist": {"1": 64}})
    cfg = {"estimator": estimator, "seed": seed, "lr": lr, "prompts_per_step": 8, "group_size": 8, **config}
    if grader:
        cfg["grader"] = grader
    return Run(tmp_path / f"{name}-seed{seed}", cfg, rows)


def _final(correct):
    """The final-window (last 3 steps) mean of the linear ramp 0.15 -> ``correct``."""
    return float(np.mean([0.15 + (correct - 0.15) * i / (N - 1) for i in range(N - 3, N)]))


def test_arms_are_named_by_a_typed_key_not_by_parsing_the_name(tmp_path):
    runs = [_run(tmp_path, "a", s, 0.5, estimator="grpo", lr=lr) for s in range(2) for lr in (3e-4, 1e-3)]
    runs += [_run(tmp_path, "b", s, 0.4, estimator="raw", lr=1e-3, grader=str(tmp_path)) for s in range(2)]
    runs += [_run(tmp_path, "c", s, 0.15, estimator="grpo", lr=0.0) for s in range(2)]
    groups = group_runs(runs)
    assert list(groups) == ["control", "grpo (lr=0.0003)", "raw+learned (lr=0.001)", "grpo (lr=0.001)"]
    keys = group_keys(groups)
    assert keys["control"] == GroupKey("grpo", control=True)
    assert keys["grpo (lr=0.001)"] == GroupKey("grpo", setting=(("lr", "0.001"),))
    assert keys["raw+learned (lr=0.001)"].arm == "raw+learned"
    assert all(keys[name].name() == name for name in groups)
    summary = summarize(groups)
    assert summary["raw+learned (lr=0.001)"].learned and summary["control"].control
    assert [s.seeds for s in summary.values()] == [[0, 1]] * 4


def test_an_estimator_name_with_a_space_keeps_its_identity(tmp_path):
    # The display name used to be parsed back with name.split(" ")[0]: a run directory named
    # "my est" (no estimator in its config) became the arm "my" in the findings.
    runs = [Run(tmp_path / "my est", {k: v for k, v in r.config.items() if k != "estimator"}, r.rows)
            for r in (_run(tmp_path, "x", s, 0.6, lr=1e-3) for s in range(3))]
    runs += [_run(tmp_path, "raw", s, 0.3, estimator="raw", lr=1e-3) for s in range(3)]
    summary = summarize(group_runs(runs))
    assert set(summary) == {"my est", "raw"} and summary["my est"].key.arm == "my est"
    top = findings(summary).conclusions[0]
    assert top.startswith("Most accurate arm: my est,") and "my est - raw = " in top
    assert F.early_amplification(summary) is None  # no grpo arm: the claim is not made


def test_one_seed_claims_no_interval(tmp_path):
    # was "final correct 0.48 (1 seed, no interval) (95% t-interval over 1 seed(s); ...)"
    summary = summarize(group_runs([_run(tmp_path, "grpo", 0, 0.5), _run(tmp_path, "raw", 0, 0.4, estimator="raw")]))
    top = findings(summary).conclusions[0]
    assert top.startswith(f"Most accurate arm: grpo, final correct {_final(0.5):.2f} (1 seed, no interval) (start ")
    assert "t-interval" not in top and "too few seeds to tell apart" in top


def test_most_accurate_by_its_numbers(tmp_path):
    runs = [_run(tmp_path, "grpo", s, 0.6 + 0.01 * s, estimator="grpo") for s in range(4)]
    runs += [_run(tmp_path, "raw", s, 0.3 + 0.012 * s, estimator="raw") for s in range(4)]
    runs += [_run(tmp_path, "ctl", s, 0.15, lr=0.0) for s in range(4)]
    summary = summarize(group_runs(runs))
    f = F.most_accurate(summary)
    assert (f.best, f.control, f.next_best) == ("grpo", "control", "raw")
    want = np.mean([_final(0.6 + 0.01 * s) - 0.15 for s in range(4)])
    assert f.vs_control.mean == pytest.approx(want) and f.vs_control.n == 4 and f.learned
    want = np.mean([_final(0.6 + 0.01 * s) - _final(0.3 + 0.012 * s) for s in range(4)])
    assert f.vs_next.mean == pytest.approx(want) and f.vs_next.lo < want < f.vs_next.hi and f.vs_next.p < 0.05
    assert summary["grpo"].final_correct == pytest.approx(np.mean([_final(0.6 + 0.01 * s) for s in range(4)]))
    # the control at lr = 0 over the same seeds: nothing beyond its floor moved
    floor = F.noise_floor(summary)
    assert floor.control == "control" and floor.floor["correct"] == pytest.approx(0.0, abs=1e-12)
    assert sorted(floor.beyond) == ["grpo", "raw"] and floor.n_trained == 2
    assert F.step_size_effect(summary) is None  # one learning rate


def test_no_effect_is_not_called_learned(tmp_path):
    runs = [_run(tmp_path, "grpo", s, 0.15, estimator="grpo") for s in range(3)]
    runs += [_run(tmp_path, "ctl", s, 0.15, lr=0.0) for s in range(3)]
    f = F.most_accurate(summarize(group_runs(runs)))
    assert f.vs_control.mean == pytest.approx(0.0, abs=1e-12) and not f.learned and f.next_best is None


def test_collapse_counts_and_the_control_withdrawing_the_verdict(tmp_path):
    runs = [_run(tmp_path, "grpo", s, 0.02, estimator="grpo", template=0.95) for s in range(3)]
    runs += [_run(tmp_path, "raw", s, 0.5, estimator="raw") for s in range(3)]
    summary = summarize(group_runs(runs))
    f = F.collapse_counts(summary)
    assert (f.collapsed, f.runs, f.has_control) == (3, 6, False) and not f.verdict_is_noise
    assert f.per_arm == [("raw", 0, 3), ("grpo", 3, 3)] and f.onto == []  # no samples logged
    raw = F.raw_collapse(summary)
    assert raw.raw == (0, 3) and raw.normalized == (3, 3) and not raw.raw_collapsed_more
    assert raw.test.p == pytest.approx(0.1)  # Fisher exact, 0/3 vs 3/3
    runs += [_run(tmp_path, "ctl", s, 0.02, lr=0.0, template=0.95) for s in range(3)]
    f = F.collapse_counts(summarize(group_runs(runs)))
    assert (f.control_collapsed, f.control_runs) == (3, 3) and f.verdict_is_noise


def test_step_size_effect_by_its_numbers(tmp_path):
    runs = []
    for s in range(4):
        runs.append(_run(tmp_path, "hi", s, 0.02, lr=1e-3, template=0.95))
        runs.append(_run(tmp_path, "lo", s, 0.6, lr=3e-4))
    f = F.step_size_effect(summarize(group_runs(runs)))
    assert f.counts == {3e-4: (0, 4), 1e-3: (4, 4)} and (f.hi, f.lo) == (1e-3, 3e-4)
    assert f.test.p == pytest.approx(2 / 70) and f.differs and f.within == []


def test_the_seeds_claims_by_their_numbers(tmp_path):
    runs = [_run(tmp_path, "grpo", s, 0.15, estimator="grpo", bad_end=0.05, adv_max=2.0) for s in range(2)]
    runs += [_run(tmp_path, "rloo", s, 0.7, estimator="rloo", bad_end=0.4) for s in range(2)]
    runs += [_run(tmp_path, "dr", s, 0.7, estimator="dr_grpo", bad_end=0.05) for s in range(2)]
    summary = summarize(group_runs(runs))
    f = F.format_before_answers(summary)
    # grpo: bad_format 0.6 -> 0.05, correct flat: format fixed, answers not
    assert f.stuck == ["grpo"] and summary["grpo"].step_correct_half_gain is None
    # rloo: correct rises, bad_format 0.6 -> 0.4 never halves: contradicts "format first"
    assert "rloo" in f.contra and summary["rloo"].step_format_halved is None
    # dr_grpo: both move together; half of each happens at the ramp's middle step or so
    d = summary["dr_grpo"]
    assert d.step_format_halved is not None and d.step_correct_half_gain is not None
    assert ("dr_grpo" in f.agree) == (d.step_format_halved <= d.step_correct_half_gain)
    amp = F.early_amplification(summary)
    assert (amp.arm, amp.window, amp.max_adv, amp.bound) == ("grpo", 3, 2.5, 2.65)  # +0.5 spike at step 2
    assert F.raw_collapse(summary) is None  # no raw arm


def test_learned_arm_against_the_best_rule_arm_at_its_setting(tmp_path):
    runs = [_run(tmp_path, "lg", s, 0.55, estimator="grpo", grader="g") for s in range(3)]
    runs += [_run(tmp_path, "g", s, 0.5, estimator="grpo") for s in range(3)]
    runs += [_run(tmp_path, "r", s, 0.3, estimator="raw") for s in range(3)]
    summary = summarize(group_runs(runs))
    rule, p = F.learned_vs_rule(summary, "grpo+learned")
    assert rule == "grpo" and p.mean == pytest.approx(_final(0.55) - _final(0.5)) and p.n == 3
    assert findings(summary).details["grpo+learned"][0].startswith(
        f"grpo+learned (the learned reward R_base + sum w_i p_i): final accuracy {_final(0.55):.2f} vs grpo")


def test_sentences_render_the_numbers_they_are_given():
    f = F.CollapseCounts(2, 6, [("raw", 2, 3), ("grpo", 0, 3)], True, 0, 3, [])
    assert collapse_sentence(f) == ("2 of 6 trained runs collapsed (raw 2/3, grpo 0/3; control arm 0/3, "
                                    "the noise floor).")
    f = F.CollapseCounts(2, 6, [("raw", 2, 3), ("grpo", 0, 3)], True, 1, 3, [])
    assert collapse_sentence(f).startswith("The control arm (lr = 0) earned the collapse verdict in 1 of 3 run(s)")
    f = F.CollapseCounts(0, 4, [("grpo", 0, 4)], False, 0, 0, [])
    assert collapse_sentence(f) == "No run collapsed: 0 of 4 trained runs (grpo 0/4; no control arm was run)."
    nf = F.NoiseFloor("control", 3, {"correct": 0.031, "top_skeleton_share": 0.2, "distinct_2": 0.0123}, ["grpo"], 2)
    assert noise_floor_sentence(nf) == (
        "Noise floor (control arm, lr = 0, 3 seed(s)): start -> final changes up to 0.03 in correct, 0.20 in top "
        "template share, 0.012 in distinct-2 with no training at all; 1 of 2 trained arm(s) moved correct (up or "
        "down) beyond it on average.")
    assert F.StepSizeEffect({1e-3: (4, 4), 3e-4: (0, 4)}, 1e-3, 3e-4, RateTest(4, 4, 0, 4, 0.03), []).differs
