"""The training report's findings in words: sentences rendered from ``report.findings``' numbers.

:func:`findings` returns :class:`Findings`: at most five conclusions (which arm learned most,
whether anything collapsed and onto what, collapse by step size, which of the seed's claims held,
the control arm's noise floor), then per-arm detail and the paired comparisons. Each conclusion
is one ``*_sentence`` function of one finding record; nothing here computes a statistic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from rewardsmith.report import findings as F
from rewardsmith.report.stats import Paired
from rewardsmith.report.summary import GroupSummary, TopAnswer

__all__ = ["Findings", "findings"]

Summary = Mapping[str, GroupSummary]
STAGE_TEXT = {1: "1 (1/9/90)", 2: "2 (1/49/50)", 3: "3 (49/50/1)", 4: "4 (90/9/1)"}


@dataclass
class Findings:
    """What the runs show: at most five ``conclusions`` (each with its numbers and intervals),
    then ``details`` per group and overall (folded in the report), and the paired comparisons."""

    conclusions: list[str]
    details: dict[str, list[str]]
    comparisons: list[tuple[str, str, Paired]]

    def lines(self) -> list[str]:
        """Conclusions, then every detail line (the CLI prints these)."""
        return self.conclusions + [line for lines in self.details.values() for line in lines]


def _onto_text(t: TopAnswer, answer: bool = False) -> str:
    """``template '<think>##</think><answer>##</answer>' in 59% of its final samples``, plus the
    most common answer (always with ``answer``, else only when it takes at least half)."""
    txt = f"template {t.skeleton!r} in {t.skeleton_share:.0%} of its final samples"
    if t.answer is not None and (answer or t.share >= 0.5):
        txt += (f", most common answer {t.answer!r} in {t.share:.0%}"
                + (" whatever the problem" if t.share >= 0.5 else ""))
    return txt


def _fmt_seeds(xs: Sequence[float]) -> str:
    return "/".join(f"{x:.2f}" for x in xs)


def accuracy_sentence(summary: Summary, f: F.MostAccurate) -> str:
    b = summary[f.best]
    # one seed: ``text()`` already says "1 seed, no interval"
    over = f"95% t-interval over {b.n_seeds} seed(s); " if b.final_correct_ci.known else ""
    txt = f"Most accurate arm: {f.best}, final correct {b.final_correct_ci.text()} ({over}start {b.start_correct:.2f})"
    if f.vs_control is not None:
        txt += (f"; against the control arm (lr = 0) {summary[f.control].final_correct:.2f}: paired difference "
                f"{f.vs_control.text()}"
                + (": it learned." if f.learned else ": not distinguishable from no training."))
    else:
        txt += "."
    if f.next_best is not None:
        p = f.vs_next
        if p.distinguishable():
            verdict = "better, at the 5% level"
        elif p.n < 2:
            verdict = "too few seeds to tell apart"
        else:
            verdict = "not distinguishable with these seeds"
        lo = summary[f.next_best]
        txt += (f" Next best at the same setting: {f.next_best} {lo.final_correct_ci.text()}; "
                f"{f.best} - {lo.key.arm} = {p.text()}: {verdict}.")
    return txt


def collapse_sentence(f: F.CollapseCounts) -> str:
    per = ", ".join(f"{a} {k}/{n}" for a, k, n in f.per_arm)
    floor = f"control arm {f.control_collapsed}/{f.control_runs}" if f.has_control else "no control arm was run"
    if f.verdict_is_noise:
        return (f"The control arm (lr = 0) earned the collapse verdict in {f.control_collapsed} of {f.control_runs} "
                f"run(s), so here the verdict is noise: no conclusion is drawn from the {f.collapsed} of {f.runs} "
                f"trained runs it flags ({per}).")
    if f.collapsed == 0:
        return f"No run collapsed: 0 of {f.runs} trained runs ({per}; {floor})."
    onto = [f"{a}: {_onto_text(t)}" for a, t in f.onto]
    return (f"{f.collapsed} of {f.runs} trained runs collapsed ({per}; {floor}, the noise floor)"
            + (f"; onto, e.g., {'; '.join(onto[:3])}" if onto else "") + ".")


def step_size_sentence(summary: Summary, f: F.StepSizeEffect) -> str:
    parts = "; ".join(f"lr {lr:g}: {k}/{n}" for lr, (k, n) in f.counts.items())
    txt = f"Collapsed runs by learning rate ({parts}): "
    if f.differs:
        txt += f"the rate differs with the step size (lr {f.hi:g} vs {f.lo:g}: Fisher exact p = {f.test.p:.2g})"
    else:
        txt += f"no difference detectable between step sizes (lr {f.hi:g} vs {f.lo:g}: Fisher exact p = {f.test.p:.2g})"
    within = [f"lr {lr:g}: {summary[most].key.arm} vs {summary[least].key.arm} p = {t.p:.2g}"
              for lr, most, least, t in f.within]
    if within:
        txt += "; between estimators at one step size (most vs least collapsed, Fisher exact): " + ", ".join(within)
    return txt + "."


def seed_claims_sentence(first: F.FormatFirst, amp: F.Amplification | None, raw: F.RawCollapse | None) -> str:
    parts = [f"'format is fixed before answers': held in {len(first.agree)} arm(s), contradicted in {len(first.contra)}"
             + (f", format fixed but answers never gained in {len(first.stuck)}" if first.stuck else "")]
    if amp is not None:
        parts.append(f"'rare good answers are amplified early': {amp.arm}'s largest advantage in the first "
                     f"{amp.window} steps was {amp.max_adv:+.2f} against raw's +1.00 "
                     f"(bound sqrt(G-1) = {amp.bound:.2f}; the seed's +5.50 needs G = 100)")
    if raw is not None:
        kr, nr = raw.raw
        txt = f"'raw rewards collapse onto templates': raw {kr}/{nr}"
        if raw.normalized is not None:
            kn, nn = raw.normalized
            txt += f" vs normalized {kn}/{nn} (Fisher exact p = {raw.test.p:.2g})"
            txt += (": raw collapsed more" if raw.raw_collapsed_more else
                    ": not supported, raw did not collapse" if kr == 0 else
                    ": no difference detectable")
        else:
            txt += ": not supported, raw did not collapse" if kr == 0 else ""
        parts.append(txt)
    return "Seed's claims: " + "; ".join(parts) + "."


def noise_floor_sentence(f: F.NoiseFloor) -> str:
    fl = f.floor
    return (f"Noise floor (control arm, lr = 0, {f.n_seeds} seed(s)): start -> final changes up to "
            f"{fl['correct']:.2f} in correct, {fl['top_skeleton_share']:.2f} in top template share, "
            f"{fl['distinct_2']:.3f} in distinct-2 with no training at all; {len(f.beyond)} of {f.n_trained} "
            f"trained arm(s) moved correct (up or down) beyond it on average.")


def _format_first_line(s: GroupSummary) -> str:
    fb, fc = s.step_format_halved, s.step_correct_half_gain
    if fb is not None and fc is None:
        return f"bad_format halved by step {fb}; correct never gained half-way: format was fixed, answers were not."
    if fb is None and fc is None:
        return f"neither bad_format halved nor correct rose within {s.steps} steps."
    if fb is None:
        return (f"correct rose (half its gain by step {fc}) without bad_format halving: contradicts "
                f"the seed's 'format before answers'.")
    verdict = "agrees with" if fb <= fc else "contradicts"
    return (f"bad_format halved by step {fb}, correct reached half its gain by step {fc}: "
            f"{verdict} the seed's 'format is fixed before answers'.")


def _learned_line(summary: Summary, s: GroupSummary) -> str:
    vs = F.learned_vs_rule(summary, s.name)
    cmp = ""
    if vs is not None:
        rule, p = vs
        cmp = f" vs {summary[rule].key.arm} on the rule reward {summary[rule].final_correct:.2f} (paired {p.text()})"
    where = f" at {s.key.setting_text}" if s.key.setting_text else ""
    return (f"{s.key.arm}{where} (the learned reward R_base + sum w_i p_i): final accuracy "
            f"{s.final_correct:.2f}{cmp}; {s.n_collapsed} of {len(s.verdicts)} run(s) collapsed.")


def group_detail(summary: Summary, s: GroupSummary) -> list[str]:
    """One arm's detail lines: its label mix start -> final, each seed's verdict, which came
    first (format or answers), the learned reward against the rule's, what it collapsed onto."""
    lab = s.labels
    lines = [
        f"{s.name}: correct {lab['correct'].start:.2f} -> {s.final_correct_ci.text()} "
        f"(seeds {_fmt_seeds(lab['correct'].final_seeds)}), bad_format {lab['bad_format'].start:.2f} -> "
        f"{lab['bad_format'].final:.2f}, wrong_answer {lab['wrong_answer'].start:.2f} -> "
        f"{lab['wrong_answer'].final:.2f} "
        f"after {s.steps} steps; {s.n_collapsed} of {len(s.verdicts)} run(s) collapsed."
    ]
    lines += [f"seed {seed}: {v.reason}." for seed, v in zip(s.seeds, s.verdicts)]
    if not s.control:
        lines.append(_format_first_line(s))
        if s.learned:
            lines.insert(0, _learned_line(summary, s))
    for t in s.collapsed_onto():
        lines.append(f"seed {t.seed} collapsed onto the {_onto_text(t, answer=True)} (last {s.window} "
                     f"steps), e.g. {t.example!r}.")
    return lines


def overall_detail(summary: Summary, comps: Sequence[tuple[str, str, Paired]]) -> list[str]:
    """Where the best arm's mix starts and ends among the seed's four stages; every comparison."""
    best = max(F.arms(summary).trained, key=lambda k: summary[k].final_correct)
    b = summary[best]
    fin = b.labels
    return [
        f"Start mix is nearest the seed's stage {STAGE_TEXT[b.start_stage]}; the best final mix ({best}: "
        f"{fin['correct'].final:.2f}/{fin['wrong_answer'].final:.2f}/{fin['bad_format'].final:.2f}) is nearest stage "
        f"{STAGE_TEXT[b.final_stage]}"
        + ("; the seed's late regime (rare failures punished at -5.50) was not reached." if b.final_stage < 4 else ".")
    ] + [f"{a} - {c}: final correct {p.text()}." for a, c, p in comps]


def findings(summary: Summary) -> Findings:
    """At most five conclusions with numbers and intervals, then per-group detail.

    Every statement rests on a statistic from ``report.stats`` or the collapse rule, and on one
    the control arm does not also earn: collapse conclusions are withdrawn when a control run is
    flagged, accuracy claims are paired differences with intervals."""
    if not summary:
        return Findings([], {}, [])
    comps = F.paired_comparisons(summary)
    conclusions = [accuracy_sentence(summary, F.most_accurate(summary, comps)),
                   collapse_sentence(F.collapse_counts(summary))]
    step = F.step_size_effect(summary)
    if step is not None:
        conclusions.append(step_size_sentence(summary, step))
    conclusions.append(seed_claims_sentence(F.format_before_answers(summary), F.early_amplification(summary),
                                            F.raw_collapse(summary)))
    floor = F.noise_floor(summary)
    if floor is not None:
        conclusions.append(noise_floor_sentence(floor))
    details = {name: group_detail(summary, s) for name, s in summary.items()}
    details["overall"] = overall_detail(summary, comps)
    return Findings(conclusions[:5], details, comps)
