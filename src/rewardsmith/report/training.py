"""Figures and findings of GRPO training runs (``rewardsmith.train``), computed from their metrics.

* :func:`load_runs` finds run directories (``metrics.jsonl`` + ``config.json``) and groups them by
  estimator (and any other setting that differs, except the seed).
* :func:`summarize` -> per group: start / final label mix, accuracy over seeds with its interval,
  the collapse verdict of each run (``rewardsmith.train.collapse``: the same rule as the trainer's
  metrics and the TRL callback), and each detector's start -> final change per seed.
* :func:`findings` -> at most five conclusions, each with its numbers and intervals (which arm
  learned most, whether anything collapsed and onto what, which of the seed's claims held, the
  control arm's noise floor), then per-arm detail. The statistics come from ``report.stats``
  (numbers); this module only renders them into sentences.
* ``*_figure`` build matplotlib Figures without pyplot; ``save_figure`` (``report.stages``) writes PNG.

Runs at lr = 0 form the **control** arm: the policy never changes, so whatever its detectors
show is sampling noise, the floor every other arm's change is read against.

Windows: "start" is the first 3 steps, "final" the last ``max(3, steps // 10)``, averaged.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from matplotlib.figure import Figure

from rewardsmith.advantages import ESTIMATORS
from rewardsmith.io import read_rows
from rewardsmith.report.stages import tier_colors
from rewardsmith.report.stats import ALPHA, Interval, Paired, collapse_rate_test, mean_interval, paired_difference
from rewardsmith.verify.extract import extract_answer
from rewardsmith.train.collapse import RULE, RULE_SENTENCE, Verdict, one_sided_p, run_verdict

__all__ = ["Run", "Findings", "load_runs", "group_runs", "summarize", "findings", "paired_comparisons",
           "label_fractions_figure", "curves_figure", "histograms_figure", "collapse_figure", "COLLAPSE_RULE",
           "CONTROL", "DETECTORS"]

LEARNED_SUFFIX = "+learned"  # group-name suffix of runs trained on a learned reward (config "grader")
_IGNORED = {"seed", "progress", "cache_dir", "device", "threads", "samples_per_step", "checkpoint_every"}
SEED_STAGES = ((1, 9, 90), (1, 49, 50), (49, 50, 1), (90, 9, 1))  # correct / wrong / bad of 100
COLLAPSE_RULE = RULE_SENTENCE  # the one rule, stated once (rewardsmith.train.collapse)
CONTROL = "control"  # group name of the runs at lr = 0
# detector -> (metric key, label): their start -> final change per run, read against the control's
DETECTORS = {"correct": ("label:correct", "correct fraction"),
             "bad_format": ("label:bad_format", "bad_format fraction"),
             "top_skeleton_share": ("top_skeleton_share", "top template share"),
             "distinct_2": ("distinct_2", "distinct 2-grams in groups"),
             "group_distinct_frac": ("group_distinct_frac", "distinct completions / G"),
             "entropy": ("entropy", "entropy (nats/token)")}


@dataclass
class Run:
    path: Path
    config: dict
    rows: list[dict]

    def series(self, key: str) -> np.ndarray:
        """Per-step values of a metric; ``label:NAME`` reads a label fraction."""
        if key.startswith("label:"):
            name = key[6:]
            return np.array([r["label_frac"].get(name, 0.0) for r in self.rows], dtype=float)
        return np.array([np.nan if r.get(key) is None else r[key] for r in self.rows], dtype=float)


def load_runs(paths: Sequence[str | Path]) -> list[Run]:
    """Every run directory at or under ``paths`` (a directory holding ``metrics.jsonl``)."""
    found: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise ValueError(f"runs: {str(p)!r} does not exist")
        if (p / "metrics.jsonl").exists():
            found.append(p)
        else:
            found.extend(sorted(m.parent for m in p.rglob("metrics.jsonl")))
    if not found:
        raise ValueError(f"runs: no metrics.jsonl at or under {[str(p) for p in paths]}")
    runs = []
    for d in found:
        rows = read_rows(d / "metrics.jsonl")
        if not rows:
            continue
        cfg = read_rows_json(d / "config.json")
        runs.append(Run(d, cfg, rows))
    if not runs:
        raise ValueError("runs: every metrics.jsonl found is empty")
    return runs


def read_rows_json(path: Path) -> dict:
    import json

    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def is_control(run: Run) -> bool:
    """A run at learning rate 0: its policy never changes (the noise floor)."""
    lr = run.config.get("lr")
    return isinstance(lr, (int, float)) and float(lr) == 0.0


def group_runs(runs: Sequence[Run]) -> dict[str, list[Run]]:
    """Runs that differ only in seed share a group; the name is the estimator plus what differs.
    Runs at lr = 0 are the control arm, named ``control`` (``control (EST)`` when several
    estimators ran at lr = 0), listed first."""
    trained = [r for r in runs if not is_control(r)]
    keys = sorted({k for r in trained for k in r.config} - _IGNORED - {"estimator", "grader"})
    varying = [k for k in keys if len({repr(r.config.get(k)) for r in trained}) > 1]
    ctrl_kinds = {(r.config.get("estimator"), bool(r.config.get("grader"))) for r in runs if is_control(r)}
    groups: dict[str, list[Run]] = {}
    for r in runs:
        est = str(r.config.get("estimator", r.path.name)) + (LEARNED_SUFFIX if r.config.get("grader") else "")
        if is_control(r):
            name = CONTROL if len(ctrl_kinds) == 1 else f"{CONTROL} ({est})"
        else:
            extra = ", ".join(f"{k}={r.config.get(k)}" for k in varying)
            name = est + (f" ({extra})" if extra else "")
        groups.setdefault(name, []).append(r)
    order = list(ESTIMATORS)

    def rank(k: str) -> tuple:
        setting = groups[k][0].config
        est = str(setting.get("estimator"))
        return (not k.startswith(CONTROL), tuple(repr(setting.get(v)) for v in varying),
                order.index(est) if est in order else len(order), k)

    return {k: sorted(groups[k], key=lambda r: r.config.get("seed", 0)) for k in sorted(groups, key=rank)}


def _window(n: int) -> int:
    """Steps averaged for "final"; "start" uses ``_start(n)``."""
    return max(1, min(n, max(3, n // 10)))


def _start(n: int) -> int:
    return max(1, min(n, 3))


def _labels(runs: Sequence[Run]) -> list[str]:
    """Labels that ever occur, in the rule set's order (first run's label_frac key order)."""
    order: list[str] = []
    for r in runs:
        for row in r.rows:
            for k in row["label_frac"]:
                if k not in order:
                    order.append(k)
    return [k for k in order if any(row["label_frac"].get(k, 0) > 0 for r in runs for row in r.rows)]


def _matrix(runs: Sequence[Run], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values[seed, step]) over the common steps of ``runs``."""
    n = min(len(r.rows) for r in runs)
    steps = np.array([row["step"] for row in runs[0].rows[:n]])
    return steps, np.vstack([r.series(key)[:n] for r in runs])


def _prompts_per_step(run: Run) -> list[int]:
    """Prompts per logged step: the config's ``prompts_per_step``, else completions / G."""
    pps = run.config.get("prompts_per_step")
    if isinstance(pps, int) and pps > 0:
        return [pps] * len(run.rows)
    g = int(run.config.get("group_size") or 1)
    return [max(1, round(sum(r.get("reward_hist", {}).values()) / g)) for r in run.rows]


def _completions(runs: Sequence[Run], sl: slice) -> int:
    """Completions scored in the steps ``sl`` of every run (``reward_hist`` counts)."""
    return max(1, sum(int(sum(row.get("reward_hist", {}).values())) for r in runs for row in r.rows[sl]))


def run_collapse(run: Run) -> Verdict:
    """The run's collapse verdict over all its steps (``rewardsmith.train.collapse.run_verdict``)."""
    return run_verdict(run.rows, _prompts_per_step(run))


def _nearest_stage(mix: Sequence[float]) -> int:
    d = [sum(abs(m - s / 100) for m, s in zip(mix, st)) for st in SEED_STAGES]
    return int(np.argmin(d)) + 1


def summarize(groups: dict[str, list[Run]]) -> dict[str, dict[str, Any]]:
    """Per group: start / final mean (and sd over seeds) of each label and the reward, etc."""
    out: dict[str, dict[str, Any]] = {}
    for name, runs in groups.items():
        n = min(len(r.rows) for r in runs)
        w, w0 = _window(n), _start(n)
        seeds = [int(r.config.get("seed", i)) for i, r in enumerate(runs)]
        s: dict[str, Any] = {"n_seeds": len(runs), "steps": int(runs[0].rows[n - 1]["step"]), "window": w,
                             "start_window": w0, "lr": runs[0].config.get("lr"),
                             "estimator": runs[0].config.get("estimator"), "seeds": seeds,
                             "control": all(is_control(r) for r in runs),
                             "learned": bool(runs[0].config.get("grader"))}
        for lab in ("correct", "wrong_answer", "bad_format"):
            _, m = _matrix(runs, f"label:{lab}")
            s[f"start_{lab}"] = float(m[:, :w0].mean())
            fin = m[:, n - w : n].mean(1)
            s[f"final_{lab}"] = float(fin.mean())
            s[f"final_{lab}_sd"] = float(fin.std())
            s[f"final_{lab}_seeds"] = fin.tolist()
        s["final_correct_by_seed"] = dict(zip(seeds, s["final_correct_seeds"]))
        s["final_correct_ci"] = mean_interval(s["final_correct_seeds"], bounds=(0.0, 1.0))
        # each detector's start -> final change per seed (the control's are the noise floor)
        s["delta"] = {}
        for det, (key, _) in DETECTORS.items():
            _, m = _matrix(runs, key)
            with warnings.catch_warnings():  # a metric never logged (entropy without updates): NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                d = np.nanmean(m[:, n - w : n], 1) - np.nanmean(m[:, :w0], 1)
            s["delta"][det] = [float(x) for x in d]
        for key in ("reward_mean", "top_skeleton_share", "top_completion_share", "group_distinct_frac",
                    "entropy", "kl", "adv_max", "adv_min", "adv_bound", "adv_zero_variance_frac"):
            _, m = _matrix(runs, key)
            s[f"start_{key}"] = float(np.nanmean(m[:, :w0])) if not np.all(np.isnan(m[:, :w0])) else float("nan")
            s[f"final_{key}"] = float(np.nanmean(m[:, n - w : n]))
        _, m = _matrix(runs, "adv_max")
        s["max_adv_start"] = float(np.nanmax(m[:, :w0]))
        _, m = _matrix(runs, "adv_min")
        s["min_adv_final"] = float(np.nanmin(m[:, n - w : n]))
        s["verdicts"] = [run_collapse(r) for r in runs]
        s["collapsed"] = [v.collapsed for v in s["verdicts"]]
        s["top_answer"] = _top_answer(runs, n - w)
        # which came first: format fixed (bad_format halved) or answers (half of the correct gain)?
        # Each only where the change start -> final is significant (one-sided z-test over the
        # seeds' completions, alpha 0.01), so noise never dates an event that did not happen.
        steps, b = _matrix(runs, "label:bad_format")
        _, c = _matrix(runs, "label:correct")
        bm, cm = _smooth(b.mean(0), 5), _smooth(c.mean(0), 5)
        n0, n1 = _completions(runs, slice(0, w0)), _completions(runs, slice(n - w, n))
        fell = one_sided_p(s["final_bad_format"], n1, s["start_bad_format"], n0) < RULE.alpha
        rose = one_sided_p(s["start_correct"], n0, s["final_correct"], n1) < RULE.alpha
        half_b = np.flatnonzero(bm <= bm[0] / 2) if fell else np.array([], dtype=int)
        gain = s["final_correct"] - s["start_correct"]
        half_c = np.flatnonzero(cm >= s["start_correct"] + gain / 2) if rose else np.array([], dtype=int)
        s["step_format_halved"] = int(steps[half_b[0]]) if half_b.size else None
        s["step_correct_half_gain"] = int(steps[half_c[0]]) if half_c.size else None
        s["final_stage"] = _nearest_stage([s["final_correct"], s["final_wrong_answer"], s["final_bad_format"]])
        s["start_stage"] = _nearest_stage([s["start_correct"], s["start_wrong_answer"], s["start_bad_format"]])
        out[name] = s
    return out


def _top_answer(runs: Sequence[Run], from_index: int) -> list[dict]:
    """Per run with logged samples: among the samples of the final window, the most common
    <answer> and the most common digit-masked template (``skeleton``), with their shares."""
    from rewardsmith.train.metrics import skeleton

    out = []
    for r in runs:
        path = r.path / "samples.parquet"
        if not path.exists() or from_index >= len(r.rows):
            continue
        first_step = r.rows[from_index]["step"]
        answers, texts, skeletons = Counter(), Counter(), Counter()
        for row in read_rows(path):
            if row["step"] >= first_step:
                text = row["completion"] or ""
                answers[extract_answer(text, "answer_tag")] += 1  # linear: a regex here was quadratic
                texts[text] += 1
                skeletons[skeleton(text)] += 1
        n = sum(answers.values())
        if n:
            ans, c = answers.most_common(1)[0]
            sk, c_sk = skeletons.most_common(1)[0]
            out.append({"seed": r.config.get("seed"), "answer": ans, "share": c / n, "n": n,
                        "skeleton": sk, "skeleton_share": c_sk / n, "example": texts.most_common(1)[0][0]})
    return out


def _collapsed_onto(s: dict[str, Any]) -> list[dict]:
    """The ``top_answer`` entries of the group's collapsed runs."""
    bad = {seed for seed, c in zip(s["seeds"], s["collapsed"]) if c}
    return [t for t in s["top_answer"] if t["seed"] in bad]


def _onto_text(t: dict, answer: bool = False) -> str:
    """``template '<think>##</think><answer>##</answer>' in 59% of its final samples``, plus the
    most common answer (always with ``answer``, else only when it takes at least half)."""
    txt = f"template {t['skeleton']!r} in {t['skeleton_share']:.0%} of its final samples"
    if t["answer"] is not None and (answer or t["share"] >= 0.5):
        txt += (f", most common answer {t['answer']!r} in {t['share']:.0%}"
                + (" whatever the problem" if t["share"] >= 0.5 else ""))
    return txt


def _fmt_seeds(xs: Sequence[float]) -> str:
    return "/".join(f"{x:.2f}" for x in xs)


def _base(name: str) -> str:
    """``grpo (lr=0.001)`` -> ``grpo``."""
    return name.split(" ")[0]


def _setting(name: str) -> str:
    """``grpo (lr=0.001)`` -> ``lr=0.001`` ('' for no setting)."""
    return name[len(_base(name)):].strip().strip("()")


def _count(summary: dict[str, dict[str, Any]], names: Sequence[str]) -> tuple[int, int]:
    """(collapsed runs, runs) over the groups ``names``."""
    return (sum(sum(summary[k]["collapsed"]) for k in names), sum(len(summary[k]["collapsed"]) for k in names))


def paired_comparisons(summary: dict[str, dict[str, Any]]) -> list[tuple[str, str, Paired]]:
    """Final correct fraction, paired by seed (same seed = same prompts), for every two trained
    groups at the same setting (most accurate first in each pair), and of every trained group
    against the control arm. Returns ``(a, b, paired a - b)``."""
    trained = [k for k, s in summary.items() if not s["control"]]
    control = [k for k, s in summary.items() if s["control"]]
    out = []
    for i, a in enumerate(trained):
        for b in trained[i + 1:]:
            if _setting(a) != _setting(b):
                continue
            hi, lo = (a, b) if summary[a]["final_correct"] >= summary[b]["final_correct"] else (b, a)
            out.append((hi, lo, paired_difference(summary[hi]["final_correct_by_seed"],
                                                  summary[lo]["final_correct_by_seed"])))
    for a in trained:
        for c in control[:1]:
            out.append((a, c, paired_difference(summary[a]["final_correct_by_seed"],
                                                summary[c]["final_correct_by_seed"])))
    return out


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


def _accuracy_conclusion(summary, trained, control, comps) -> str:
    best = max(trained, key=lambda k: summary[k]["final_correct"])
    b = summary[best]
    txt = (f"Most accurate arm: {best}, final correct {b['final_correct_ci'].text()} "
           f"(95% t-interval over {b['n_seeds']} seed(s); start {b['start_correct']:.2f})")
    vs_ctrl = [p for a, c, p in comps if a == best and c in control]
    if vs_ctrl:
        p = vs_ctrl[0]
        txt += (f"; against the control arm (lr = 0) {summary[control[0]]['final_correct']:.2f}: paired difference "
                f"{p.text()}" + (": it learned." if p.distinguishable() and p.mean > 0 else
                                  ": not distinguishable from no training."))
    else:
        txt += "."
    rivals = [(lo, p) for hi, lo, p in comps if hi == best and lo not in control]
    if rivals:
        lo, p = max(rivals, key=lambda t: summary[t[0]]["final_correct"])
        if p.distinguishable():
            verdict = "better, at the 5% level"
        elif p.n < 2:
            verdict = "too few seeds to tell apart"
        else:
            verdict = "not distinguishable with these seeds"
        txt += f" Next best at the same setting: {lo} {summary[lo]['final_correct_ci'].text()}; {best} - {_base(lo)} = {p.text()}: {verdict}."
    return txt


def _collapse_conclusion(summary, trained, control) -> str:
    k, n = _count(summary, trained)
    kc, nc = _count(summary, control)
    per = ", ".join(f"{a} {sum(summary[a]['collapsed'])}/{len(summary[a]['collapsed'])}" for a in trained)
    floor = f"control arm {kc}/{nc}" if control else "no control arm was run"
    if control and kc:
        return (f"The control arm (lr = 0) earned the collapse verdict in {kc} of {nc} run(s), so here the verdict "
                f"is noise: no conclusion is drawn from the {k} of {n} trained runs it flags ({per}).")
    if k == 0:
        return f"No run collapsed: 0 of {n} trained runs ({per}; {floor})."
    onto = []
    for a in trained:
        ta = _collapsed_onto(summary[a])
        if ta:
            onto.append(f"{a}: {_onto_text(max(ta, key=lambda t: t['skeleton_share']))}")
    return (f"{k} of {n} trained runs collapsed ({per}; {floor}, the noise floor)"
            + (f"; onto, e.g., {'; '.join(onto[:3])}" if onto else "") + ".")


def _step_size_conclusion(summary, trained) -> str | None:
    by_lr: dict[float, list[str]] = {}
    for a in trained:
        by_lr.setdefault(float(summary[a]["lr"]), []).append(a)
    if len(by_lr) < 2:
        return None
    counts = {lr: _count(summary, ks) for lr, ks in sorted(by_lr.items())}
    parts = "; ".join(f"lr {lr:g}: {k}/{n}" for lr, (k, n) in counts.items())
    hi = max(counts, key=lambda lr: counts[lr][0] / counts[lr][1])
    lo = min(counts, key=lambda lr: counts[lr][0] / counts[lr][1])
    t = collapse_rate_test(*counts[hi], *counts[lo])
    txt = f"Collapsed runs by learning rate ({parts}): "
    if t.p < ALPHA:
        txt += f"the rate differs with the step size (lr {hi:g} vs {lo:g}: Fisher exact p = {t.p:.2g})"
    else:
        txt += f"no difference detectable between step sizes (lr {hi:g} vs {lo:g}: Fisher exact p = {t.p:.2g})"
    within = []
    for lr, ks in sorted(by_lr.items()):
        if len(ks) < 2:
            continue
        rates = sorted(ks, key=lambda a: sum(summary[a]["collapsed"]) / len(summary[a]["collapsed"]))
        t2 = collapse_rate_test(*_count(summary, rates[-1:]), *_count(summary, rates[:1]))
        within.append(f"lr {lr:g}: {_base(rates[-1])} vs {_base(rates[0])} p = {t2.p:.2g}")
    if within:
        txt += "; between estimators at one step size (most vs least collapsed, Fisher exact): " + ", ".join(within)
    return txt + "."


def _seed_claims_conclusion(summary, trained) -> str:
    agree = [a for a in trained if summary[a]["step_format_halved"] is not None
             and summary[a]["step_correct_half_gain"] is not None
             and summary[a]["step_format_halved"] <= summary[a]["step_correct_half_gain"]]
    contra = [a for a in trained if summary[a]["step_correct_half_gain"] is not None
              and (summary[a]["step_format_halved"] is None
                   or summary[a]["step_format_halved"] > summary[a]["step_correct_half_gain"])]
    stuck = [a for a in trained if summary[a]["step_format_halved"] is not None
             and summary[a]["step_correct_half_gain"] is None]
    parts = [f"'format is fixed before answers': held in {len(agree)} arm(s), contradicted in {len(contra)}"
             + (f", format fixed but answers never gained in {len(stuck)}" if stuck else "")]
    grpo = [a for a in trained if _base(a) == "grpo" and summary[a]["start_correct"] < 0.5]
    if grpo:
        g = summary[grpo[0]]
        parts.append(f"'rare good answers are amplified early': {grpo[0]}'s largest advantage in the first "
                     f"{g['start_window']} steps was {g['max_adv_start']:+.2f} against raw's +1.00 "
                     f"(bound sqrt(G-1) = {g['start_adv_bound']:.2f}; the seed's +5.50 needs G = 100)")
    raw = [a for a in trained if _base(a) == "raw"]
    norm = [a for a in trained if _base(a) != "raw" and not summary[a]["learned"]]
    if raw:
        kr, nr = _count(summary, raw)
        txt = f"'raw rewards collapse onto templates': raw {kr}/{nr}"
        if norm:
            kn, nn = _count(summary, norm)
            t = collapse_rate_test(kr, nr, kn, nn)
            txt += f" vs normalized {kn}/{nn} (Fisher exact p = {t.p:.2g})"
            txt += (": raw collapsed more" if t.p < ALPHA and kr / nr > kn / nn else
                    ": not supported, raw did not collapse" if kr == 0 else
                    ": no difference detectable")
        else:
            txt += ": not supported, raw did not collapse" if kr == 0 else ""
        parts.append(txt)
    return "Seed's claims: " + "; ".join(parts) + "."


def _noise_floor_conclusion(summary, trained, control) -> str | None:
    if not control:
        return None
    c = summary[control[0]]
    floor = {d: max(abs(x) for x in c["delta"][d]) for d in ("correct", "top_skeleton_share", "distinct_2")}
    beyond = [a for a in trained if abs(np.mean(summary[a]["delta"]["correct"])) > floor["correct"]]
    return (f"Noise floor (control arm, lr = 0, {c['n_seeds']} seed(s)): start -> final changes up to "
            f"{floor['correct']:.2f} in correct, {floor['top_skeleton_share']:.2f} in top template share, "
            f"{floor['distinct_2']:.3f} in distinct-2 with no training at all; {len(beyond)} of {len(trained)} "
            f"trained arm(s) moved correct (up or down) beyond it on average.")


def findings(summary: dict[str, dict[str, Any]]) -> Findings:
    """At most five conclusions with numbers and intervals, then per-group detail.

    Every statement rests on a statistic from ``report.stats`` or the collapse rule, and on one
    the control arm does not also earn: collapse conclusions are withdrawn when a control run is
    flagged, accuracy claims are paired differences with intervals."""
    if not summary:
        return Findings([], {}, [])
    names = list(summary)
    control = [k for k in names if summary[k]["control"]]
    trained = [k for k in names if not summary[k]["control"]] or names
    comps = paired_comparisons(summary)
    conclusions = [_accuracy_conclusion(summary, trained, control, comps),
                   _collapse_conclusion(summary, trained, control)]
    step = _step_size_conclusion(summary, trained)
    if step:
        conclusions.append(step)
    conclusions.append(_seed_claims_conclusion(summary, trained))
    floor = _noise_floor_conclusion(summary, trained, control)
    if floor:
        conclusions.append(floor)
    conclusions = conclusions[:5]

    details: dict[str, list[str]] = {}
    for name, s in summary.items():
        lines = [
            f"{name}: correct {s['start_correct']:.2f} -> {s['final_correct_ci'].text()} "
            f"(seeds {_fmt_seeds(s['final_correct_seeds'])}), bad_format {s['start_bad_format']:.2f} -> "
            f"{s['final_bad_format']:.2f}, wrong_answer {s['start_wrong_answer']:.2f} -> {s['final_wrong_answer']:.2f} "
            f"after {s['steps']} steps; {sum(s['collapsed'])} of {len(s['collapsed'])} run(s) collapsed."
        ]
        for seed, v in zip(s["seeds"], s["verdicts"]):
            lines.append(f"seed {seed}: {v.reason}.")
        fb, fc = s["step_format_halved"], s["step_correct_half_gain"]
        if not s["control"]:
            if fb is not None and fc is None:
                lines.append(f"bad_format halved by step {fb}; correct never gained half-way: format was fixed, "
                             f"answers were not.")
            elif fb is None and fc is None:
                lines.append(f"neither bad_format halved nor correct rose within {s['steps']} steps.")
            elif fb is None:
                lines.append(f"correct rose (half its gain by step {fc}) without bad_format halving: contradicts "
                             f"the seed's 'format before answers'.")
            else:
                verdict = "agrees with" if fb <= fc else "contradicts"
                lines.append(f"bad_format halved by step {fb}, correct reached half its gain by step {fc}: "
                             f"{verdict} the seed's 'format is fixed before answers'.")
        if s["learned"] and not s["control"]:
            rule = [k for k in trained if _setting(k) == _setting(name) and not summary[k]["learned"]]
            cmp = ""
            if rule:
                best_rule = max(rule, key=lambda k: summary[k]["final_correct"])
                p = paired_difference(s["final_correct_by_seed"], summary[best_rule]["final_correct_by_seed"])
                cmp = f" vs {_base(best_rule)} on the rule reward {summary[best_rule]['final_correct']:.2f} (paired {p.text()})"
            where = f" at {_setting(name)}" if _setting(name) else ""
            lines.insert(0, f"{_base(name)}{where} (the learned reward R_base + sum w_i p_i): final accuracy "
                            f"{s['final_correct']:.2f}{cmp}; {sum(s['collapsed'])} of {len(s['collapsed'])} run(s) collapsed.")
        for t in _collapsed_onto(s):
            lines.append(f"seed {t['seed']} collapsed onto the {_onto_text(t, answer=True)} (last {s['window']} "
                         f"steps), e.g. {t['example']!r}.")
        details[name] = lines
    best = max(trained, key=lambda k: summary[k]["final_correct"])
    b = summary[best]
    stage_txt = {1: "1 (1/9/90)", 2: "2 (1/49/50)", 3: "3 (49/50/1)", 4: "4 (90/9/1)"}
    details["overall"] = [
        f"Start mix is nearest the seed's stage {stage_txt[b['start_stage']]}; the best final mix ({best}: "
        f"{b['final_correct']:.2f}/{b['final_wrong_answer']:.2f}/{b['final_bad_format']:.2f}) is nearest stage "
        f"{stage_txt[b['final_stage']]}"
        + ("; the seed's late regime (rare failures punished at -5.50) was not reached." if b["final_stage"] < 4 else ".")
    ] + [f"{a} - {c}: final correct {p.text()}." for a, c, p in comps]
    return Findings(conclusions, details, comps)


# ----------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------


def _smooth(x: np.ndarray, w: int) -> np.ndarray:
    if w <= 1 or x.size < w:
        return x
    k = np.ones(w) / w
    pad = np.pad(x, (w // 2, w - 1 - w // 2), mode="edge")
    return np.convolve(pad, k, mode="valid")


def _label_colors(labels: Sequence[str]) -> dict[str, str]:
    base = dict(zip(("correct", "wrong_answer", "bad_format"), tier_colors(3)))
    extra = tier_colors(10)
    return {lab: base.get(lab, extra[(i + 3) % 10]) for i, lab in enumerate(labels)}


def _est_colors(names: Sequence[str]) -> dict[str, str]:
    return dict(zip(names, tier_colors(10)))


def label_fractions_figure(groups: dict[str, list[Run]]) -> Figure:
    """One panel per group: the label mix over steps (mean over seeds), stacked."""
    names = list(groups)
    labels = _labels([r for g in groups.values() for r in g])
    colors = _label_colors(labels)
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig = Figure(figsize=(4.2 * cols + 1.2, 3.2 * rows), layout="constrained")
    grid = fig.subplots(rows, cols, squeeze=False)
    axes = grid.ravel()
    for ax in axes[len(names):]:
        ax.set_visible(False)
    for ax, name in zip(axes, names):
        ys = []
        for lab in labels:
            steps, m = _matrix(groups[name], f"label:{lab}")
            ys.append(_smooth(m.mean(0), 3))
        ax.stackplot(steps, *ys, labels=labels, colors=[colors[l] for l in labels], alpha=0.9)
        ax.set_title(f"{name} ({len(groups[name])} seed(s))")
        ax.set_xlabel("step")
        ax.set_ylim(0, 1)
        ax.set_xlim(steps[0], steps[-1])
    for r in range(rows):
        grid[r, 0].set_ylabel("fraction of completions")
    axes[cols - 1].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.suptitle("Label mix over training (mean over seeds, 3-step rolling mean)")
    return fig


def curves_figure(groups: dict[str, list[Run]]) -> Figure:
    """Reward, correct and bad_format fractions and KL: mean over seeds, band = min..max."""
    names = list(groups)
    colors = _est_colors(names)
    panels = [("reward_mean", "mean reward"), ("label:correct", "correct fraction"),
              ("label:bad_format", "bad_format fraction"), ("kl", "KL(policy || start), k3")]
    fig = Figure(figsize=(11, 7), layout="constrained")
    axes = fig.subplots(2, 2).ravel()
    w = 5
    for ax, (key, title) in zip(axes, panels):
        for name in names:
            steps, m = _matrix(groups[name], key)
            if np.all(np.isnan(m)):
                continue
            sm = np.vstack([_smooth(row, w) for row in m])
            ax.plot(steps, np.nanmean(sm, 0), color=colors[name], label=name, lw=1.8)
            if m.shape[0] > 1:
                ax.fill_between(steps, np.nanmin(sm, 0), np.nanmax(sm, 0), color=colors[name], alpha=0.2)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Training curves: mean over seeds, band = min..max over seeds ({w}-step rolling mean)")
    return fig


def _pool_hist(runs: Sequence[Run], key: str, idx: int, half: int) -> dict[float, int]:
    out: dict[float, int] = {}
    for r in runs:
        for row in r.rows[max(0, idx - half) : idx + half + 1]:
            for k, c in row.get(key, {}).items():
                out[float(k)] = out.get(float(k), 0) + int(c)
    return out


def histograms_figure(runs: Sequence[Run], name: str) -> tuple[Figure, list[int]]:
    """The seed's figure from real data: reward (top) and advantage (bottom) distributions at four
    points of training, pooled over seeds and a few steps around each point."""
    n = min(len(r.rows) for r in runs)
    idxs = sorted(set(int(round(x)) for x in np.linspace(0, n - 1, 4)))
    half = max(1, n // 40)
    fig = Figure(figsize=(3.4 * len(idxs), 5.6), layout="constrained")
    axes = fig.subplots(2, len(idxs), squeeze=False)
    tier_c = dict(zip((1.0, -0.5, -2.0), tier_colors(3)))
    for j, i in enumerate(idxs):
        step = runs[0].rows[i]["step"]
        rh = _pool_hist(runs, "reward_hist", i, half)
        ah = _pool_hist(runs, "adv_hist", i, half)
        tot = sum(rh.values()) or 1
        ax = axes[0, j]
        xs = sorted(rh)
        ax.bar(xs, [rh[x] / tot for x in xs], width=0.25, color=[tier_c.get(x, "#555555") for x in xs])
        for x in xs:
            ax.text(x, rh[x] / tot, f"{x:+.2f}", ha="center", va="bottom", fontsize=7)
        ax.set_title(f"step {step}: {len(xs)} reward value(s)", fontsize=9)
        ax.set_ylim(0, 1.1)
        ax.set_xlabel("reward")
        ax = axes[1, j]
        xs = sorted(ah)
        tot_a = sum(ah.values()) or 1
        ax.bar(xs, [ah[x] / tot_a for x in xs], width=0.06,
               color=["#2a9d3f" if x > 0 else "#d1495b" if x < 0 else "#888888" for x in xs])
        ax.set_title(f"{len(xs)} advantage value(s), range {min(xs):+.2f}..{max(xs):+.2f}" if xs else "no data",
                     fontsize=9)
        ax.set_xlabel("advantage")
    axes[0, 0].set_ylabel("fraction")
    axes[1, 0].set_ylabel("fraction")
    fig.suptitle(f"{name}: reward and advantage distributions at four points of training "
                 f"(pooled over {len(runs)} seed(s) and +-{half} step(s))")
    return fig, [runs[0].rows[i]["step"] for i in idxs]


def collapse_figure(groups: dict[str, list[Run]]) -> Figure:
    """Collapse detectors over steps: template shares, within-group diversity, entropy."""
    names = list(groups)
    colors = _est_colors(names)
    panels = [("top_completion_share", "share of the most common completion"),
              ("top_skeleton_share", "share of the most common template (digits masked)"),
              ("group_distinct_frac", "distinct completions per group / G"),
              ("distinct_2", "distinct token 2-grams within groups"),
              ("repetition", "repeated 3-grams within a completion"),
              ("entropy", "policy entropy per token (nats)")]
    fig = Figure(figsize=(13, 7), layout="constrained")
    axes = fig.subplots(2, 3).ravel()
    for ax, (key, title) in zip(axes, panels):
        for name in names:
            steps, m = _matrix(groups[name], key)
            sm = np.vstack([_smooth(row, 5) for row in m])
            ax.plot(steps, np.nanmean(sm, 0), color=colors[name], label=name, lw=1.8)
            if m.shape[0] > 1:
                ax.fill_between(steps, np.nanmin(sm, 0), np.nanmax(sm, 0), color=colors[name], alpha=0.2)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Collapse detectors (mean over seeds, band = min..max, 5-step rolling mean)")
    return fig
