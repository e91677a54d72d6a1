"""Rule-based rewards, declared not coded: tiers (first match wins) plus additive shaping terms.

    from rewardsmith.rules import load_rules
    rules = load_rules("seed-tiered")            # or "r1", "binary", "code", a YAML path, a dict
    rules.score("<think>2+2</think><answer>4</answer>", "4")        # Outcome(1.0, 'correct', {...})
    batch = rules.score_batch(completions, answers, workers=4)      # ScoredBatch, input order

Extension hooks: ``register_check(name, cls)`` adds an answer check (``answer.compare: name``),
``register_preset(name, factory)`` a preset name.
"""

from rewardsmith.rules.checks import CHECKS, AnswerCheck, CheckResult, register_check
from rewardsmith.rules.engine import ScoringPool, default_workers
from rewardsmith.rules.loading import load_rules, merge_specs, validate_spec
from rewardsmith.rules.presets import PRESETS, register_preset
from rewardsmith.rules.ruleset import Outcome, RuleSet, ScoredBatch, completion_text
from rewardsmith.rules.spec import RuleSetSpec

__all__ = [
    "RuleSet",
    "RuleSetSpec",
    "Outcome",
    "ScoredBatch",
    "load_rules",
    "validate_spec",
    "merge_specs",
    "completion_text",
    "PRESETS",
    "register_preset",
    "CHECKS",
    "AnswerCheck",
    "CheckResult",
    "register_check",
    "ScoringPool",
    "default_workers",
]

# Rule sets contributed by other modules register themselves on import.
try:
    import rewardsmith.rules.code  # noqa: F401  registers code, code-partial (sandbox)
except ModuleNotFoundError as _exc:  # pragma: no cover - until the sandbox module exists
    if _exc.name != "rewardsmith.rules.code":
        raise
