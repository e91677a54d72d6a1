"""Built-in rule sets by name, and ``register_preset`` for modules that add their own.

* ``seed-tiered``: ``<think>...</think><answer>...</answer>``, math answer in the answer tag:
  +1.0 ``correct``, -0.5 ``wrong_answer`` (format right, answer wrong), -2.0 ``bad_format``.
* ``r1``: open-r1's accuracy + format, equal weight: reward = [answer correct] + [format right]
  (0, 1 or 2), labels ``correct`` / ``wrong_answer`` / ``correct_bad_format`` / ``bad_format``.
* ``binary``: +1 ``correct`` / 0 ``wrong_answer``, no format rule, answer = the last ``\\boxed{}``.

In ``seed-tiered`` and ``binary`` a verifier timeout keeps its label (``timeout``) but pays the
wrong-answer reward: NaN would leave the row out of its group, which beats a wrong answer's
negative advantage, so hanging the verifier would be a reward hack.

A YAML file may start from a preset (``extends: seed-tiered``) and override keys; mappings merge,
lists replace.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["PRESETS", "register_preset", "preset_spec"]

_TAGS = {"kind": "tags", "tags": ["think", "answer"], "prefilled_think": False}


def _seed_tiered() -> dict[str, Any]:
    return {
        "name": "seed-tiered",
        "description": "think/answer tags; +1 correct, -0.5 wrong answer, -2 bad format",
        "format": dict(_TAGS),
        "answer": {"extract": "answer_tag", "compare": "math"},
        "tiers": [
            {"when": {"format": True, "correct": True}, "reward": 1.0, "label": "correct"},
            {"when": {"format": True}, "reward": -0.5, "label": "wrong_answer"},
            {"when": {}, "reward": -2.0, "label": "bad_format"},
        ],
        # A verifier timeout (label "timeout") pays the wrong-answer tier, not NaN: the answer is
        # checked only once the format is right, and an unscored row (advantage 0) would beat
        # -0.5, so a policy could learn answers that hang sympy (red-teamed: x^{9999999}).
        "policy": {"on_timeout": -0.5},
    }


def _r1() -> dict[str, Any]:
    return {
        "name": "r1",
        "description": "open-r1: accuracy (math, answer tag) + format (think/answer tags), weight 1 each",
        "format": dict(_TAGS),
        "answer": {"extract": "answer_tag", "compare": "math"},
        "tiers": [
            {"when": {"format": True, "correct": True}, "reward": 0.0, "label": "correct"},
            {"when": {"format": True}, "reward": 0.0, "label": "wrong_answer"},
            {"when": {"correct": True}, "reward": 0.0, "label": "correct_bad_format"},
            {"when": {}, "reward": 0.0, "label": "bad_format"},
        ],
        "shaping": [
            {"kind": "check", "check": "correct", "name": "accuracy", "weight": 1.0},
            {"kind": "check", "check": "format", "name": "format", "weight": 1.0},
        ],
    }


def _binary() -> dict[str, Any]:
    return {
        "name": "binary",
        "description": "+1 if the last \\boxed{} answer is mathematically right, else 0",
        "format": {"kind": "none"},
        "answer": {"extract": "boxed", "compare": "math"},
        "tiers": [
            {"when": {"correct": True}, "reward": 1.0, "label": "correct"},
            {"when": {}, "reward": 0.0, "label": "wrong_answer"},
        ],
        "policy": {"on_timeout": 0.0},  # a timeout pays as a wrong answer (see seed-tiered)
    }


PRESETS: dict[str, Callable[[], Any]] = {
    "seed-tiered": _seed_tiered,
    "r1": _r1,
    "binary": _binary,
}


def register_preset(name: str, factory: Callable[[], Any], *, overwrite: bool = False) -> None:
    """Make ``load_rules(name)`` build ``factory()``: a spec dict (preferred), a ``RuleSetSpec`` or
    a ``RuleSet``."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"name: expected a non-empty string, got {name!r}")
    if not callable(factory):
        raise ValueError(f"factory: expected a callable returning a rule set spec, got {factory!r}")
    if name in PRESETS and PRESETS[name] is not factory and not overwrite:
        raise ValueError(f"name: preset {name!r} is already registered")
    PRESETS[name] = factory


def preset_spec(name: str) -> Any:
    """What the preset's factory returns (a fresh object each call)."""
    try:
        factory = PRESETS[name]
    except KeyError:
        raise ValueError(f"rules: unknown preset {name!r}; expected one of {sorted(PRESETS)}") from None
    return factory()
