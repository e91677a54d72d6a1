"""Figures and findings of GRPO training runs (``rewardsmith.train``): the public API, re-exported.

The training report is built in four steps, one module each:

* ``report.runs`` -- :func:`load_runs` reads run directories (``metrics.jsonl`` + ``config.json``);
  :func:`group_runs` groups them into arms by :class:`GroupKey` (estimator plus any setting that
  differs, except the seed; runs at lr = 0 form the **control** arm, the noise floor).
* ``report.summary`` -- :func:`summarize` -> one :class:`GroupSummary` per arm: start / final label
  mix, accuracy over seeds with its interval, each run's collapse verdict
  (``rewardsmith.train.collapse``), each detector's start -> final change per seed.
* ``report.findings`` -- one small function per finding that returns numbers (which arm learned
  most, collapse counts, step size, the seed's claims, the noise floor); statistics from
  ``report.stats``.
* ``report.findings_text`` -- :func:`findings` renders those numbers into at most five conclusions
  and per-arm detail.

Figures (``*_figure``) are in ``report.training_figures``; ``report.html.write_report`` puts it
all into ``report.html``.
"""

from __future__ import annotations

from rewardsmith.report.findings import paired_comparisons
from rewardsmith.report.findings_text import Findings, findings
from rewardsmith.report.runs import CONTROL, LEARNED_SUFFIX, GroupKey, Run, group_runs, is_control, load_runs
from rewardsmith.report.summary import DETECTORS, SEED_STAGES, GroupSummary, run_collapse, summarize
from rewardsmith.report.training_figures import (collapse_figure, curves_figure, histograms_figure,
                                                  label_fractions_figure)
from rewardsmith.train.collapse import RULE_SENTENCE

__all__ = ["Run", "GroupKey", "GroupSummary", "Findings", "load_runs", "group_runs", "summarize", "findings",
           "paired_comparisons", "label_fractions_figure", "curves_figure", "histograms_figure", "collapse_figure",
           "COLLAPSE_RULE", "CONTROL", "DETECTORS", "LEARNED_SUFFIX", "SEED_STAGES", "is_control", "run_collapse"]

COLLAPSE_RULE = RULE_SENTENCE  # the one rule, stated once (rewardsmith.train.collapse)
