"""Advantage estimators for outcome-reward RL: pure array math over a 1-D batch of scalar rewards.

Every estimator maps rewards ``r`` (one scalar per completion) and a grouping (which completions
were sampled for the same prompt) to advantages ``A`` of the same shape, dtype and, for torch,
device. Groups are given either as

* ``group_size=G``: contiguous groups of equal size (``r[0:G]`` is group 0, ...): the fast path; or
* ``groups``: an integer array of group ids, any order, groups of different sizes allowed (or a
  :class:`Grouping` from :func:`make_grouping`, to reuse one grouping across calls).

Conventions shared by every estimator except ``raw``:

* NaN rewards (a reward function that could not score) are left out of their group's statistics
  and get advantage 0.0.
* A group with fewer than two valid members (a "singleton") gets 0.0.
* A group whose valid rewards are all equal gets exactly 0.0 (not float noise scaled by 1/eps).

``raw`` returns the reward itself (NaN -> 0.0), whatever its group.

Defaults: ``grpo`` uses the population std (``ddof=0``) and ``eps=1e-6``, which reproduces the
seed's figure (+5.50 for the lone correct answer of a 1/9/90 group). TRL's ``GRPOTrainer`` uses
``torch.std`` (Bessel, ``ddof=1``) and ``eps=1e-4``: pass ``ddof=1, eps=1e-4`` to match it (+5.48).

Where things are (a file per concern):

* ``estimators.py``: the public estimators, each showing its formula; ``compute`` by name;
  ``check_estimator``, the one check of estimator names and options.
* ``reference.py``: the same estimators as plain loops over groups (the readable definition).
* ``fast_numpy.py`` / ``fast_torch.py``: the vectorized paths the public functions run.
* ``grouping.py``: validation of rewards and groupings; per-group statistics.
* ``diagnostics.py``: what an estimator did to a batch.
"""

from __future__ import annotations

from rewardsmith.advantages import reference
from rewardsmith.advantages.diagnostics import AdvantageDiagnostics, diagnostics
from rewardsmith.advantages.estimators import (
    ESTIMATORS,
    batch_std,
    check_estimator,
    check_options,
    compute,
    dr_grpo,
    estimator_options,
    grpo,
    rank,
    raw,
    rloo,
)
from rewardsmith.advantages.grouping import Grouping, make_grouping

__all__ = [
    "ESTIMATORS",
    "AdvantageDiagnostics",
    "Grouping",
    "check_estimator",
    "check_options",
    "compute",
    "diagnostics",
    "estimator_options",
    "make_grouping",
    "reference",
    "raw",
    "grpo",
    "dr_grpo",
    "rloo",
    "batch_std",
    "rank",
]
