"""The same task, policy and seeds trained with several advantage estimators, into one directory.

``DIR/experiment.json`` records the base config, arms and seeds; each run lives in
``DIR/<arm>-seed<S>/`` (a normal run directory). An arm is an estimator name (the rule reward
``base.rules``) or ``learned:<estimator>`` (the learned reward in ``base.grader``, built on
``base.rules``, with that estimator): the two ways of smoothing a rule reward, side by side.
With ``control=True`` a **control arm** trains at lr = 0 on the same seeds (``DIR/control-seed<S>``):
its policy never changes, so whatever its metrics and collapse detectors show is sampling noise,
the floor the report reads every other arm against.
Rerunning the same call skips finished runs and resumes interrupted ones from their checkpoints,
so a killed experiment continues.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from rewardsmith.io import atomic_write_json, read_rows
from rewardsmith.train.checkpoint import CHECKPOINT_FILE
from rewardsmith.train.config import GRPOConfig
from rewardsmith.train.trainer import train

__all__ = ["CONTROL_ARM", "DEFAULT_ESTIMATORS", "DEFAULT_SEEDS", "DEMO", "LEARNED_ARM", "demo_config", "parse_arm",
           "run_demo", "run_dir", "run_experiment"]

LEARNED_ARM = "learned:"  # arm prefix: train on the learned reward (GRPOConfig.grader) instead of the rules
CONTROL_ARM = "control"  # run-directory name of the lr = 0 arm (run_experiment(control=True))

DEFAULT_ESTIMATORS: tuple[str, ...] = ("raw", "grpo", "dr_grpo")
DEFAULT_SEEDS: tuple[int, ...] = (0, 1, 2)

# The demo's experiment (``make demo``): every setting in one place. About 4-5 minutes on 2 cores:
# the warm start once (~40 s, then cached), the learned reward's fit once (~15 s), 24 runs of 80
# steps at ~0.05-0.1 s a step, the report.
DEMO: dict[str, Any] = {
    "estimators": (*DEFAULT_ESTIMATORS, "learned:raw"),  # the rule reward 3 ways, and the RBR-style learned reward
    "seeds": DEFAULT_SEEDS,
    "lrs": (3e-4, 1e-3),  # the second is where every estimator collapsed onto a template (measured)
    "control": True,  # an lr = 0 arm on the same seeds: the noise floor of every detector
    "config": {"task": "arithmetic", "steps": 80, "prompts_per_step": 8, "group_size": 8,
               "lr": 3e-4, "checkpoint_every": 20},
}


def demo_config(**overrides: Any) -> GRPOConfig:
    return GRPOConfig.from_dict({**DEMO["config"], **overrides})


def run_demo(out_dir: str | Path) -> list[Path]:
    """The demo's experiment into ``out_dir``: fit the learned reward on the shipped arithmetic
    data once (``out_dir/grader``, kept for reruns), then ``DEMO``'s arms, seeds and learning rates.
    Returns the run directories."""
    out = Path(out_dir)
    cfg = demo_config()
    grader = out / "grader"
    if not (grader / "reward.json").is_file():
        from rewardsmith.graders import fit_arithmetic_reward

        reward, _ = fit_arithmetic_reward(base=cfg.rules)
        reward.save(grader)
    return run_experiment(cfg.replace(grader=str(grader)), out, DEMO["estimators"], DEMO["seeds"],
                          lrs=DEMO["lrs"], control=DEMO["control"])


def parse_arm(arm: str) -> tuple[str, bool]:
    """``"grpo"`` -> ``("grpo", False)``; ``"learned:raw"`` -> ``("raw", True)``; unknown estimators
    raise ValueError."""
    from rewardsmith import advantages

    learned = arm.startswith(LEARNED_ARM)
    est = arm[len(LEARNED_ARM):] if learned else arm
    try:
        advantages.check_estimator(est, "estimators")
    except ValueError as exc:
        raise ValueError(f"{exc} in arm {arm!r} (an arm may be prefixed {LEARNED_ARM!r})") from None
    return est, learned


def run_dir(out_dir: str | Path, arm: str, seed: int, lr: float | None = None) -> Path:
    """``DIR/<arm>-seed<S>`` (or ``DIR/<arm>-lr<LR>-seed<S>`` in a learning-rate sweep); the arm
    ``learned:raw`` lives in ``learned-raw-...``."""
    name = arm.replace(":", "-")
    return Path(out_dir) / (f"{name}-seed{seed}" if lr is None else f"{name}-lr{lr:g}-seed{seed}")


def _finished(d: Path, steps: int) -> bool:
    if not (d / CHECKPOINT_FILE).exists() or not (d / "metrics.jsonl").exists():
        return False
    rows = read_rows(d / "metrics.jsonl")
    return bool(rows) and rows[-1].get("step") == steps


def run_experiment(base: GRPOConfig, out_dir: str | Path,
                   estimators: Sequence[str] = DEFAULT_ESTIMATORS,
                   seeds: Sequence[int] = DEFAULT_SEEDS, reward: Any = None,
                   lrs: Sequence[float] | None = None, control: bool = False) -> list[Path]:
    """Train ``base`` once per (arm, seed), and per learning rate in ``lrs`` if given; return the
    run directories in order. ``estimators`` are arms (see the module doc): plain arms train on
    the rules (``grader`` cleared), ``learned:`` arms on the learned reward in ``base.grader``.
    ``control``: first, one run per seed at lr = 0 (the rules, ``base.estimator``) in
    ``DIR/control-seed<S>``: the noise floor."""
    if not estimators:
        raise ValueError("estimators: expected at least one estimator name, got none")
    arms = {a: parse_arm(a) for a in estimators}
    if any(learned for _, learned in arms.values()) and not base.grader:
        raise ValueError(f"grader: the arm(s) {[a for a, (_, l) in arms.items() if l]} train on a learned "
                         "reward; expected a fitted reward's directory (--grader DIR, from `graders fit`), got ''")
    if not seeds:
        raise ValueError("seeds: expected at least one seed, got none")
    if lrs is not None and (not lrs or any(not isinstance(x, (int, float)) or not x >= 0 for x in lrs)):
        raise ValueError(f"lrs: expected one or more learning rates >= 0, got {lrs!r}")
    base.validate()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "experiment.json", {"config": base.to_dict(), "estimators": list(estimators),
                                                 "seeds": [int(s) for s in seeds],
                                                 "lrs": None if lrs is None else [float(x) for x in lrs],
                                                 "control": bool(control)})
    dirs = []
    if control:
        for seed in seeds:
            d = Path(out) / f"{CONTROL_ARM}-seed{int(seed)}"
            dirs.append(d)
            _train_once(base.replace(seed=int(seed), grader="", lr=0.0), d, reward, f"control seed {seed}")
    for lr in ([None] if lrs is None else [float(x) for x in lrs]):
        for arm in estimators:
            est, learned = arms[arm]
            for seed in seeds:
                d = run_dir(out, arm, int(seed), lr)
                dirs.append(d)
                cfg = base.replace(estimator=est, seed=int(seed), grader=base.grader if learned else "",
                                   **({} if lr is None else {"lr": lr}))
                _train_once(cfg, d, reward, f"{arm} seed {seed}" + ("" if lr is None else f" lr {lr:g}"))
    return dirs


def _train_once(cfg: GRPOConfig, d: Path, reward: Any, desc: str) -> None:
    """Train ``cfg`` into ``d`` unless finished there; resume from a checkpoint if one exists."""
    if _finished(d, cfg.steps):
        return
    resume = (d / CHECKPOINT_FILE).exists()
    if not resume and (d / "metrics.jsonl").exists():
        (d / "metrics.jsonl").unlink()  # killed before its first checkpoint: start over
    train(cfg, d, reward=reward, resume=resume, desc=desc)
