"""Per run group, the numbers the findings are read from: :class:`GroupSummary` and :func:`summarize`.

A :class:`GroupSummary` holds, for one arm over its seeds: the start / final label mix, accuracy
with its interval, the collapse verdict of each run (``rewardsmith.train.collapse``: the same rule
as the trainer's metrics and the TRL callback), each detector's start -> final change per seed,
the most common final answer and template per run, and the steps at which format was fixed and
answers gained.

Windows: "start" is the first 3 steps, "final" the last ``max(3, steps // 10)``, averaged.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np

from rewardsmith.io import read_rows
from rewardsmith.report.runs import GroupKey, Run, group_keys, is_control
from rewardsmith.report.stats import Interval, mean_interval
from rewardsmith.train.collapse import RULE, Verdict, one_sided_p, run_verdict
from rewardsmith.verify.extract import extract_answer

__all__ = ["GroupSummary", "StartFinal", "TopAnswer", "summarize", "run_collapse", "DETECTORS", "LABELS",
           "METRICS", "SEED_STAGES"]

SEED_STAGES = ((1, 9, 90), (1, 49, 50), (49, 50, 1), (90, 9, 1))  # correct / wrong / bad of 100
LABELS = ("correct", "wrong_answer", "bad_format")  # the seed-tiered rule set's labels, best first
# detector -> (metric key, label): their start -> final change per run, read against the control's
DETECTORS = {"correct": ("label:correct", "correct fraction"),
             "bad_format": ("label:bad_format", "bad_format fraction"),
             "top_skeleton_share": ("top_skeleton_share", "top template share"),
             "distinct_2": ("distinct_2", "distinct 2-grams in groups"),
             "group_distinct_frac": ("group_distinct_frac", "distinct completions / G"),
             "entropy": ("entropy", "entropy (nats/token)")}
# metrics.jsonl keys averaged over the start and final windows
METRICS = ("reward_mean", "top_skeleton_share", "top_completion_share", "group_distinct_frac",
           "entropy", "kl", "adv_max", "adv_min", "adv_bound", "adv_zero_variance_frac")


@dataclass(frozen=True)
class StartFinal:
    """A metric's mean over the seeds' start window and final window; ``final_seeds`` is each
    seed's final-window mean (label fractions only)."""

    start: float
    final: float
    final_seeds: tuple[float, ...] = ()

    @property
    def final_sd(self) -> float:
        """Standard deviation of ``final_seeds`` (ddof = 0)."""
        return float(np.std(self.final_seeds))


@dataclass(frozen=True)
class TopAnswer:
    """One run's most common ``<answer>`` and digit-masked template (``skeleton``) among the
    ``n`` samples of its final window, with their shares, and its most common completion."""

    seed: int | None
    answer: str | None
    share: float
    n: int
    skeleton: str
    skeleton_share: float
    example: str


@dataclass
class GroupSummary:
    """One arm over its seeds (``runs`` in seed order); every number a finding is read from."""

    name: str
    key: GroupKey
    seeds: list[int]
    steps: int  # last common step
    window: int  # steps averaged for "final"
    start_window: int  # steps averaged for "start"
    lr: float | None
    labels: dict[str, StartFinal]  # correct / wrong_answer / bad_format fractions
    final_correct_ci: Interval  # mean final correct over seeds, t-interval clipped to [0, 1]
    delta: dict[str, list[float]]  # DETECTORS name -> each seed's start -> final change
    metrics: dict[str, StartFinal]  # METRICS key -> start / final mean over seeds (NaN if never logged)
    max_adv_start: float  # largest advantage in the start window
    min_adv_final: float  # smallest advantage in the final window
    verdicts: list[Verdict]  # per seed: the collapse rule's verdict over the whole run
    top_answer: list[TopAnswer] = field(default_factory=list)  # runs with logged samples
    # first step the smoothed bad_format is <= half its start (only if it fell significantly)
    step_format_halved: int | None = None
    # first step the smoothed correct reached half its gain (only if it rose significantly)
    step_correct_half_gain: int | None = None
    start_stage: int = 0  # nearest of the seed's four stages (SEED_STAGES, 1-based) at the start
    final_stage: int = 0  # ... and at the end

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)

    @property
    def control(self) -> bool:
        """Every run at lr = 0 (the noise floor)."""
        return self.key.control

    @property
    def learned(self) -> bool:
        return self.key.learned

    @property
    def estimator(self) -> str:
        return self.key.estimator

    @property
    def collapsed(self) -> list[bool]:
        return [v.collapsed for v in self.verdicts]

    @property
    def n_collapsed(self) -> int:
        return sum(self.collapsed)

    @property
    def correct(self) -> StartFinal:
        return self.labels["correct"]

    @property
    def final_correct(self) -> float:
        return self.labels["correct"].final

    @property
    def start_correct(self) -> float:
        return self.labels["correct"].start

    @property
    def final_correct_by_seed(self) -> dict[int, float]:
        return dict(zip(self.seeds, self.labels["correct"].final_seeds))

    def collapsed_onto(self) -> list[TopAnswer]:
        """The ``top_answer`` entries of the group's collapsed runs."""
        bad = {seed for seed, c in zip(self.seeds, self.collapsed) if c}
        return [t for t in self.top_answer if t.seed in bad]


def _window(n: int) -> int:
    """Steps averaged for "final"; "start" uses ``_start(n)``."""
    return max(1, min(n, max(3, n // 10)))


def _start(n: int) -> int:
    return max(1, min(n, 3))


def matrix(runs: Sequence[Run], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values[seed, step]) over the common steps of ``runs``."""
    n = min(len(r.rows) for r in runs)
    steps = np.array([row["step"] for row in runs[0].rows[:n]])
    return steps, np.vstack([r.series(key)[:n] for r in runs])


def smooth(x: np.ndarray, w: int) -> np.ndarray:
    """Centred ``w``-step rolling mean, edges padded with the end values."""
    if w <= 1 or x.size < w:
        return x
    k = np.ones(w) / w
    pad = np.pad(x, (w // 2, w - 1 - w // 2), mode="edge")
    return np.convolve(pad, k, mode="valid")


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


def _top_answer(runs: Sequence[Run], from_index: int) -> list[TopAnswer]:
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
            out.append(TopAnswer(r.config.get("seed"), ans, c / n, n, sk, c_sk / n, texts.most_common(1)[0][0]))
    return out


def _first_step(steps: np.ndarray, hits: np.ndarray) -> int | None:
    idx = np.flatnonzero(hits)
    return int(steps[idx[0]]) if idx.size else None


def summarize_group(name: str, key: GroupKey, runs: Sequence[Run]) -> GroupSummary:
    """The :class:`GroupSummary` of one arm's ``runs`` (its seeds)."""
    n = min(len(r.rows) for r in runs)
    w, w0 = _window(n), _start(n)
    labels = {}
    for lab in LABELS:
        _, m = matrix(runs, f"label:{lab}")
        fin = m[:, n - w : n].mean(1)
        labels[lab] = StartFinal(float(m[:, :w0].mean()), float(fin.mean()), tuple(fin.tolist()))
    # each detector's start -> final change per seed (the control's are the noise floor)
    delta = {}
    for det, (mkey, _) in DETECTORS.items():
        _, m = matrix(runs, mkey)
        with warnings.catch_warnings():  # a metric never logged (entropy without updates): NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            d = np.nanmean(m[:, n - w : n], 1) - np.nanmean(m[:, :w0], 1)
        delta[det] = [float(x) for x in d]
    metrics = {}
    for mkey in METRICS:
        _, m = matrix(runs, mkey)
        metrics[mkey] = StartFinal(_nanmean(m[:, :w0]), _nanmean(m[:, n - w : n]))
    _, adv_max = matrix(runs, "adv_max")
    _, adv_min = matrix(runs, "adv_min")
    # which came first: format fixed (bad_format halved) or answers (half of the correct gain)?
    # Each only where the change start -> final is significant (one-sided z-test over the
    # seeds' completions, alpha 0.01), so noise never dates an event that did not happen.
    steps, b = matrix(runs, "label:bad_format")
    _, c = matrix(runs, "label:correct")
    bm, cm = smooth(b.mean(0), 5), smooth(c.mean(0), 5)
    n0, n1 = _completions(runs, slice(0, w0)), _completions(runs, slice(n - w, n))
    bad, cor = labels["bad_format"], labels["correct"]
    fell = one_sided_p(bad.final, n1, bad.start, n0) < RULE.alpha
    rose = one_sided_p(cor.start, n0, cor.final, n1) < RULE.alpha
    gain = cor.final - cor.start
    return GroupSummary(
        name=name, key=key, seeds=[int(r.config.get("seed", i)) for i, r in enumerate(runs)],
        steps=int(runs[0].rows[n - 1]["step"]), window=w, start_window=w0, lr=runs[0].config.get("lr"),
        labels=labels, final_correct_ci=mean_interval(cor.final_seeds, bounds=(0.0, 1.0)), delta=delta,
        metrics=metrics, max_adv_start=float(np.nanmax(adv_max[:, :w0])),
        min_adv_final=float(np.nanmin(adv_min[:, n - w : n])), verdicts=[run_collapse(r) for r in runs],
        top_answer=_top_answer(runs, n - w),
        step_format_halved=_first_step(steps, bm <= bm[0] / 2) if fell else None,
        step_correct_half_gain=_first_step(steps, cm >= cor.start + gain / 2) if rose else None,
        start_stage=_nearest_stage([labels[lab].start for lab in LABELS]),
        final_stage=_nearest_stage([labels[lab].final for lab in LABELS]))


def summarize(groups: dict[str, list[Run]]) -> dict[str, GroupSummary]:
    """Per group (``group_runs``'s output): its :class:`GroupSummary`, in the groups' order."""
    keys = group_keys(groups)
    out = {}
    for name, runs in groups.items():
        key = keys[name]
        control = all(is_control(r) for r in runs)  # a hand-made group may mix lr = 0 and trained runs
        if key.control != control:
            key = replace(key, control=control)
        out[name] = summarize_group(name, key, runs)
    return out


def _nanmean(a: np.ndarray) -> float:
    """Mean over the logged values; NaN (without numpy's warning) when a metric was never logged."""
    return float(np.nanmean(a)) if a.size and not np.all(np.isnan(a)) else float("nan")
