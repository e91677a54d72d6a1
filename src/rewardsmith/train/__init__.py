"""A compact GRPO trainer for transformers causal LMs with rule-based rewards.

``GRPOConfig`` holds every hyperparameter (one-line doc each); ``train(cfg, out_dir)`` runs the loop
(rollout -> rules -> advantages -> clipped surrogate) and writes metrics, samples and checkpoints;
``run_experiment`` repeats a run over estimators, seeds (and learning rates). Tasks: procedural
arithmetic with a tiny local Llama (``model="tiny"``) or reasoning-gym data sets (``task="rg:NAME"``).

Names are imported on first use, so ``rewardsmith.train.config`` (and the CLI's ``--help``) does
not pull in torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "GRPOConfig": "config",
    "FIELD_DOCS": "config",
    "train": "trainer",
    "rollout": "trainer",
    "make_reward": "trainer",
    "load_run": "trainer",
    "run_experiment": "experiment",
    "run_demo": "experiment",
    "run_dir": "experiment",
    "demo_config": "experiment",
    "DEMO": "experiment",
    "CollapseRule": "collapse",
    "Verdict": "collapse",
    "run_verdict": "collapse",
    "series_verdict": "collapse",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rewardsmith.train' has no attribute {name!r}")
    return getattr(importlib.import_module(f"rewardsmith.train.{_EXPORTS[name]}"), name)
