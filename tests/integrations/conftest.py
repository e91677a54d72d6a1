"""Shared fixtures for the adapter tests: the real seed-tiered rule set and a counting stand-in."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest


@pytest.fixture(scope="session")
def seed_rules():
    from rewardsmith.rules import load_rules

    return load_rules("seed-tiered")


@dataclass
class _Batch:
    rewards: np.ndarray
    labels: list
    details: list
    components: dict


class TableScorer:
    """A stand-in with RuleSet's ``score_batch``: reward = table[text] (NaN when missing); counts calls."""

    labels = ("good", "bad", "unscored")
    component_names = ("tier", "bonus")

    def __init__(self, table: dict[str, float]):
        self.table = table
        self.calls = 0

    def score_batch(self, completions, answers=None, *, fields=None, workers=None, timeout=None, progress=False):
        self.calls += 1
        self.last_fields = fields
        r = np.array([self.table.get(c, np.nan) for c in completions], dtype=np.float64)
        labels = ["unscored" if np.isnan(x) else ("good" if x > 0 else "bad") for x in r]
        bonus = np.where(np.isnan(r), 0.25, 0.5)
        return _Batch(r, labels, [{} for _ in r], {"tier": r - 0.5, "bonus": bonus})


@pytest.fixture
def table_scorer():
    return TableScorer
