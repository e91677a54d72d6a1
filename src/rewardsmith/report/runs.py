"""Training run directories read back and grouped into arms: :class:`Run`, :class:`GroupKey`.

* :func:`load_runs` finds run directories (``metrics.jsonl`` + ``config.json``) at or under paths.
* :func:`group_runs` puts runs that differ only in seed into one group (an *arm*) named by its
  :class:`GroupKey`: the estimator (``+learned`` when trained on a learned reward) plus the
  settings that differ between arms, e.g. ``grpo (lr=0.001)``. Runs at lr = 0 form the
  **control** arm (``control``; ``control (EST)`` when several estimators ran at lr = 0): the
  policy never changes, so whatever its detectors show is sampling noise.
* :func:`group_keys` gives each group's key back, so code reads ``key.arm`` and ``key.setting``
  instead of parsing the display name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from rewardsmith.advantages import ESTIMATORS
from rewardsmith.io import read_rows

__all__ = ["Run", "GroupKey", "load_runs", "group_runs", "group_keys", "is_control", "CONTROL", "LEARNED_SUFFIX"]

LEARNED_SUFFIX = "+learned"  # arm-name suffix of runs trained on a learned reward (config "grader")
CONTROL = "control"  # group name of the runs at lr = 0
# config keys that never tell two arms apart (they differ between seeds or only change speed / output)
_IGNORED = {"seed", "progress", "cache_dir", "device", "threads", "samples_per_step", "checkpoint_every"}


@dataclass
class Run:
    """One training run: its directory, ``config.json`` and ``metrics.jsonl`` rows (one per step)."""

    path: Path
    config: dict
    rows: list[dict]

    def series(self, key: str) -> np.ndarray:
        """Per-step values of a metric; ``label:NAME`` reads a label fraction."""
        if key.startswith("label:"):
            name = key[6:]
            return np.array([r["label_frac"].get(name, 0.0) for r in self.rows], dtype=float)
        return np.array([np.nan if r.get(key) is None else r[key] for r in self.rows], dtype=float)


@dataclass(frozen=True)
class GroupKey:
    """What a run group is: ``estimator`` (the run directory's name when the config has none),
    ``learned`` (trained on a learned reward), ``control`` (lr = 0) and ``setting``, the
    ``(config key, value as written)`` pairs that differ between the trained arms (empty for the
    control arm)."""

    estimator: str
    learned: bool = False
    control: bool = False
    setting: tuple[tuple[str, str], ...] = ()

    @property
    def arm(self) -> str:
        """The estimator and reward without the setting: ``grpo``, ``grpo+learned``."""
        return self.estimator + (LEARNED_SUFFIX if self.learned else "")

    @property
    def setting_text(self) -> str:
        """``lr=0.001, temperature=0.8`` ('' for no setting)."""
        return ", ".join(f"{k}={v}" for k, v in self.setting)

    def name(self, one_control: bool = True) -> str:
        """The display name: ``grpo (lr=0.001)``; ``control`` or, when several kinds of control
        run (``one_control`` False), ``control (grpo)``."""
        if self.control:
            return CONTROL if one_control else f"{CONTROL} ({self.arm})"
        return self.arm + (f" ({self.setting_text})" if self.setting else "")


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
    """A run's ``config.json`` ({} when the run has none)."""
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def is_control(run: Run) -> bool:
    """A run at learning rate 0: its policy never changes (the noise floor)."""
    lr = run.config.get("lr")
    return isinstance(lr, (int, float)) and float(lr) == 0.0


def _varying(runs: Sequence[Run]) -> list[str]:
    """Config keys (other than seed, estimator, grader and the like) whose value differs between
    the trained runs: these name the arms' settings."""
    trained = [r for r in runs if not is_control(r)]
    keys = sorted({k for r in trained for k in r.config} - _IGNORED - {"estimator", "grader"})
    return [k for k in keys if len({repr(r.config.get(k)) for r in trained}) > 1]


def _run_key(run: Run, varying: Sequence[str]) -> GroupKey:
    est = str(run.config.get("estimator", run.path.name))
    learned = bool(run.config.get("grader"))
    if is_control(run):
        return GroupKey(est, learned, control=True)
    return GroupKey(est, learned, setting=tuple((k, str(run.config.get(k))) for k in varying))


def group_runs(runs: Sequence[Run]) -> dict[str, list[Run]]:
    """Runs that differ only in seed share a group; the name is the estimator plus what differs.
    Runs at lr = 0 are the control arm, named ``control`` (``control (EST)`` when several
    estimators ran at lr = 0), listed first; each group's runs in seed order."""
    varying = _varying(runs)
    keys = [_run_key(r, varying) for r in runs]
    one_control = len({(r.config.get("estimator"), bool(r.config.get("grader"))) for r in runs if is_control(r)}) <= 1
    groups: dict[str, list[Run]] = {}
    first_key: dict[str, GroupKey] = {}
    for r, key in zip(runs, keys):
        name = key.name(one_control)
        groups.setdefault(name, []).append(r)
        first_key.setdefault(name, key)
    order = list(ESTIMATORS)

    def rank(k: str) -> tuple:
        setting = groups[k][0].config
        est = str(setting.get("estimator"))
        return (not first_key[k].control, tuple(repr(setting.get(v)) for v in varying),
                order.index(est) if est in order else len(order), k)

    return {k: sorted(groups[k], key=lambda r: r.config.get("seed", 0)) for k in sorted(groups, key=rank)}


def group_keys(groups: dict[str, Sequence[Run]]) -> dict[str, GroupKey]:
    """Each group's :class:`GroupKey` (its first run's), over the settings that vary between all
    the groups' runs: the key ``group_runs`` named the group by."""
    varying = _varying([r for g in groups.values() for r in g])
    return {name: _run_key(g[0], varying) for name, g in groups.items()}
