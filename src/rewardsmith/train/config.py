"""Every hyperparameter of a GRPO run in one documented dataclass (TRL's GRPOConfig, CleanRL style).

Each field's one-line help is ``dataclasses.field(metadata={"help": ...})`` (the project's one
convention for config docs; the CLI builds ``--help`` from it, ``FIELD_DOCS`` collects it).
``GRPOConfig.validate()`` checks every field at the boundary (:func:`field_checks`: one
``(field, expected, predicate)`` per field, then the checks between fields) and raises ValueError
``FIELD: expected WHAT, got VALUE``; the trainer itself trusts the config.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

from rewardsmith.train.tasks import PROMPT_STYLES

__all__ = ["GRPOConfig", "FIELD_DOCS", "field_checks", "LOSS_AGGREGATIONS", "DTYPES", "PROMPT_STYLES"]

LOSS_AGGREGATIONS = ("grpo", "dr_grpo", "dapo")


@dataclass
class GRPOConfig:
    """A GRPO run: task, policy, rollout, reward, advantage, loss, optimizer, logging."""

    # --- task and policy ---------------------------------------------------------------------
    task: str = field(default="arithmetic", metadata={
        "help": '"arithmetic" (built in) or "rg:NAME" (a reasoning-gym data set).'})
    digits: int = field(default=2, metadata={
        "help": "Arithmetic: digits per operand."})
    ops: str = field(default="+-", metadata={
        "help": 'Arithmetic: operators to draw from ("+", "-" or both).'})
    model: str = field(default="tiny", metadata={
        "help": '"tiny" (a Llama built locally), a named model (`rewardsmith models`: smollm2-135m), a '
                "local checkpoint dir or a cached hub id."})
    prompt_style: str = field(default="auto", metadata={
        "help": "Chat prompt: auto (bare for tiny, system+example for chat models), bare, user, system, "
                "system+example."})
    hidden_size: int = field(default=64, metadata={
        "help": "Tiny model: width."})
    n_layers: int = field(default=2, metadata={
        "help": "Tiny model: decoder layers."})
    n_heads: int = field(default=4, metadata={
        "help": "Tiny model: attention heads."})
    device: str = field(default="cpu", metadata={
        "help": 'Torch device ("cpu", "cuda", "cuda:1", ...).'})
    dtype: str = field(default="auto", metadata={
        "help": "Parameter dtype: auto (bfloat16 on cuda, else float32), float32, bfloat16, float16."})
    threads: int = field(default=1, metadata={
        "help": "Torch CPU threads (0 = torch's default); 1 is fastest for the tiny model."})
    fast_forward: bool = field(default=True, metadata={
        "help": "Llama/Qwen2: rewardsmith's lean forward (same math, less overhead); else transformers'."})
    lora_r: int = field(default=0, metadata={
        "help": "LoRA rank via peft (0 = full fine-tuning); the KL reference is the base with the "
                "adapters off."})
    lora_alpha: float = field(default=32.0, metadata={
        "help": "LoRA scaling numerator: the update is (lora_alpha / lora_r) * B A."})
    lora_targets: str = field(default="q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj", metadata={
        "help": "Comma-separated module names that get adapters."})
    gradient_checkpointing: bool = field(default=False, metadata={
        "help": "Recompute each decoder layer in the backward pass (less activation memory, one more "
                "forward)."})
    micro_batch_tokens: int = field(default=512, metadata={
        "help": "The update's forward+backward runs on at most about this many padded completion tokens "
                "at a time, gradients summed into one step (same step, less activation memory; 0 = the "
                "whole batch at once)."})
    seed: int = field(default=0, metadata={
        "help": "Seed of the RL run: prompts, sampling, everything after the warm start."})
    # --- supervised warm start (tiny model only) ---------------------------------------------
    sft_steps: int = field(default=1500, metadata={
        "help": "AdamW steps of supervised warm start (0 = start from random weights)."})
    sft_good_frac: float = field(default=0.25, metadata={
        "help": "Fraction of SFT targets in the exact <think><answer> format."})
    sft_wrong_frac: float = field(default=0.5, metadata={
        "help": "Fraction of SFT targets whose answer is a near-miss wrong number."})
    sft_seed: int = field(default=0, metadata={
        "help": "Seed of the warm start (shared by every RL seed of an experiment)."})
    cache_dir: str = field(default="", metadata={
        "help": 'Where warm-started weights are cached ("" = $REWARDSMITH_CACHE or ~/.cache).'})
    # --- rollout -----------------------------------------------------------------------------
    steps: int = field(default=60, metadata={
        "help": "Optimizer updates (each on one freshly sampled batch)."})
    prompts_per_step: int = field(default=8, metadata={
        "help": "Distinct prompts per batch."})
    group_size: int = field(default=8, metadata={
        "help": "G: completions sampled per prompt."})
    temperature: float = field(default=1.0, metadata={
        "help": "Sampling temperature (full distribution, no top-k / top-p)."})
    max_new_tokens: int = field(default=16, metadata={
        "help": "Completion budget; generation also stops at EOS or </answer>."})
    # --- reward and advantage ----------------------------------------------------------------
    rules: str = field(default="seed-tiered", metadata={
        "help": "Rule set for the reward: preset name or YAML path (load_rules)."})
    grader: str = field(default="", metadata={
        "help": "A fitted learned reward's directory (`graders fit --out`): reward R = R_base + sum_i w_i "
                "p_i, R_base = rules."})
    estimator: str = field(default="grpo", metadata={
        "help": "Advantage estimator: raw, grpo, dr_grpo, rloo, batch_std, rank."})
    estimator_options: dict[str, Any] = field(default_factory=dict, metadata={
        "help": 'Estimator keywords (JSON on the CLI), e.g. {"ddof": 1, "eps": 1e-4}.'})
    dynamic_sampling: bool = field(default=False, metadata={
        "help": "DAPO: drop groups whose rewards are all equal from the loss."})
    # --- loss --------------------------------------------------------------------------------
    clip_low: float = field(default=0.2, metadata={
        "help": "Ratio clipped below at 1 - clip_low."})
    clip_high: float = field(default=0.2, metadata={
        "help": "Ratio clipped above at 1 + clip_high (DAPO clip-higher: 0.28)."})
    ppo_epochs: int = field(default=1, metadata={
        "help": "Optimization passes over each batch (1 = on-policy, ratio is 1)."})
    beta: float = field(default=0.0, metadata={
        "help": "Weight of the k3 KL to the frozen start policy in the loss (tiny model: KL is logged "
                "anyway)."})
    loss_agg: str = field(default="grpo", metadata={
        "help": "grpo: per-sequence token mean; dr_grpo: sum / (B * max_new_tokens); dapo: token mean."})
    # --- optimizer ---------------------------------------------------------------------------
    lr: float = field(default=3e-4, metadata={
        "help": "AdamW learning rate (the tiny policy collapsed onto templates at 1e-3)."})
    adam_beta1: float = field(default=0.9, metadata={
        "help": "AdamW beta1."})
    adam_beta2: float = field(default=0.99, metadata={
        "help": "AdamW beta2."})
    weight_decay: float = field(default=0.0, metadata={
        "help": "AdamW decoupled weight decay."})
    grad_clip: float = field(default=1.0, metadata={
        "help": "Max global grad norm (0 = no clipping)."})
    # --- logging and checkpoints -------------------------------------------------------------
    checkpoint_every: int = field(default=20, metadata={
        "help": "Save an atomic checkpoint every N steps (0 = only at the end)."})
    samples_per_step: int = field(default=8, metadata={
        "help": "Completions per step written to samples.parquet."})
    progress: bool = field(default=True, metadata={
        "help": "Show a progress bar."})

    # -----------------------------------------------------------------------------------------
    def validate(self) -> "GRPOConfig":
        """Check every field (:func:`field_checks`, then the checks between fields); raise
        ValueError ``FIELD: expected WHAT, got VALUE`` naming the first bad one; return self."""

        def bad(name: str, expected: str) -> ValueError:
            return ValueError(f"{name}: expected {expected}, got {getattr(self, name)!r}")

        from rewardsmith import advantages

        for name, expected, ok in field_checks():
            if not ok(getattr(self, name)):
                raise bad(name, expected)
        if self.hidden_size % self.n_heads:
            raise bad("hidden_size", f"a multiple of n_heads={self.n_heads}")
        advantages.check_estimator(self.estimator)
        if not isinstance(self.estimator_options, dict) or not all(
                isinstance(k, str) for k in self.estimator_options):
            raise bad("estimator_options", "a mapping of option name to value")
        # options the estimator does not take fail here, not after the model is built
        advantages.check_estimator(self.estimator, **self.estimator_options)
        return self

    # -----------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "GRPOConfig":
        """Build from a mapping; unknown keys raise ValueError listing the known ones."""
        if not isinstance(data, dict):
            raise ValueError(f"config: expected a mapping of field -> value, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"config: unknown field(s) {unknown}; expected some of {sorted(known)}")
        return cls(**data).validate()

    @classmethod
    def from_file(cls, path: str | Path) -> "GRPOConfig":
        """Read a YAML (.yaml/.yml) or JSON config file."""
        path = Path(path)
        if not path.exists():
            raise ValueError(f"config: file {str(path)!r} does not exist")
        text = path.read_text(encoding="utf-8")
        try:
            if path.suffix.lower() in (".yaml", ".yml"):
                import yaml

                data = yaml.safe_load(text) or {}
            else:
                data = json.loads(text)
        except Exception as exc:  # yaml.YAMLError / json.JSONDecodeError
            raise ValueError(f"config: cannot parse {str(path)!r}: {exc}") from None
        return cls.from_dict(data)

    def replace(self, **changes: Any) -> "GRPOConfig":
        d = self.to_dict()
        d.update(changes)
        return GRPOConfig.from_dict(d)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _int_at_least(lo: int) -> Callable[[Any], bool]:
    return lambda v: _is_int(v) and v >= lo


def _number_in(lo: float, hi: float = math.inf, *, lo_open: bool = False,
               hi_open: bool = False) -> Callable[[Any], bool]:
    return lambda v: (_is_number(v) and (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi))


def _one_of(options: tuple[str, ...]) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, str) and v in options


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_task(v: Any) -> bool:
    return isinstance(v, str) and (v == "arithmetic" or (v.startswith("rg:") and len(v) > 3))


def _is_rules(v: Any) -> bool:
    from rewardsmith.rules import PRESETS

    return isinstance(v, str) and (v in PRESETS or Path(v).is_file())


def _rules_expected() -> str:
    from rewardsmith.rules import PRESETS

    return f"a rule-set preset (one of {sorted(PRESETS)}) or an existing YAML/JSON rules file"


_DEVICE = re.compile(r"[a-z][a-z0-9_]*(:[0-9]+)?")
_POSITIVE_INT, _INT_GE_0, _BOOL = "a positive integer", "an integer >= 0", "true or false"
DTYPES = ("auto", "float32", "bfloat16", "float16")


def field_checks() -> list[tuple[str, str, Callable[[Any], bool]]]:
    """``(field, what is expected, predicate)`` for every GRPOConfig field, in field order: the
    checks of one field's value alone (``validate`` adds those between fields)."""
    return [
        ("task", "'arithmetic' or 'rg:NAME'", _is_task),
        ("digits", _POSITIVE_INT, _int_at_least(1)),
        ("ops", "a non-empty string of '+' and '-'",
         lambda v: isinstance(v, str) and bool(v) and not set(v) - set("+-")),
        ("model", "'tiny', a model name (see `rewardsmith models`), a checkpoint directory or a cached hub id",
         lambda v: isinstance(v, str) and bool(v.strip())),
        ("prompt_style", f"one of {['auto', *PROMPT_STYLES]}", _one_of(("auto", *PROMPT_STYLES))),
        ("hidden_size", _POSITIVE_INT, _int_at_least(1)),
        ("n_layers", _POSITIVE_INT, _int_at_least(1)),
        ("n_heads", _POSITIVE_INT, _int_at_least(1)),
        ("device", "a torch device such as 'cpu', 'cuda', 'cuda:1' or 'mps'",
         lambda v: isinstance(v, str) and _DEVICE.fullmatch(v) is not None),
        ("dtype", "'auto', 'float32', 'bfloat16' or 'float16'", _one_of(DTYPES)),
        ("threads", _INT_GE_0 + " (0 = torch's default)", _int_at_least(0)),
        ("fast_forward", _BOOL, _is_bool),
        ("lora_r", "an integer >= 0 (0 = full fine-tuning)", _int_at_least(0)),
        ("lora_alpha", "a finite number > 0", _number_in(0.0, lo_open=True)),
        ("lora_targets", "a comma-separated list of module names, e.g. 'q_proj,v_proj'",
         lambda v: isinstance(v, str) and any(t.strip() for t in v.split(","))),
        ("gradient_checkpointing", _BOOL, _is_bool),
        ("micro_batch_tokens", _INT_GE_0 + " (0 = the whole batch at once)", _int_at_least(0)),
        ("seed", _INT_GE_0, _int_at_least(0)),
        ("sft_steps", _INT_GE_0, _int_at_least(0)),
        ("sft_good_frac", "a number in [0, 1]", _number_in(0.0, 1.0)),
        ("sft_wrong_frac", "a number in [0, 1]", _number_in(0.0, 1.0)),
        ("sft_seed", _INT_GE_0, _int_at_least(0)),
        ("cache_dir", "a directory path ('' = $REWARDSMITH_CACHE or ~/.cache)", lambda v: isinstance(v, str)),
        ("steps", _POSITIVE_INT, _int_at_least(1)),
        ("prompts_per_step", _POSITIVE_INT, _int_at_least(1)),
        ("group_size", "an integer >= 2 (a group of one has no baseline)", _int_at_least(2)),
        ("temperature", "a finite number > 0", _number_in(0.0, lo_open=True)),
        ("max_new_tokens", _POSITIVE_INT, _int_at_least(1)),
        ("rules", _rules_expected(), _is_rules),
        ("grader", "'' or a directory holding reward.json (written by `rewardsmith graders fit`)",
         lambda v: isinstance(v, str) and (v == "" or (Path(v) / "reward.json").is_file())),
        ("estimator", "the name of an advantage estimator (rewardsmith.advantages.ESTIMATORS)",
         lambda v: isinstance(v, str)),
        ("estimator_options", "a mapping of option name to value", lambda v: isinstance(v, dict)),
        ("dynamic_sampling", _BOOL, _is_bool),
        ("clip_low", "a number in [0, 1)", _number_in(0.0, 1.0, hi_open=True)),
        ("clip_high", "a finite number >= 0", _number_in(0.0)),
        ("ppo_epochs", _POSITIVE_INT, _int_at_least(1)),
        ("beta", "a finite number >= 0", _number_in(0.0)),
        ("loss_agg", f"one of {list(LOSS_AGGREGATIONS)}", _one_of(LOSS_AGGREGATIONS)),
        ("lr", "a finite number >= 0", _number_in(0.0)),
        ("adam_beta1", "a number in [0, 1)", _number_in(0.0, 1.0, hi_open=True)),
        ("adam_beta2", "a number in [0, 1)", _number_in(0.0, 1.0, hi_open=True)),
        ("weight_decay", "a finite number >= 0", _number_in(0.0)),
        ("grad_clip", "a finite number >= 0 (0 = no clipping)", _number_in(0.0)),
        ("checkpoint_every", _INT_GE_0 + " (0 = only at the end)", _int_at_least(0)),
        ("samples_per_step", _INT_GE_0, _int_at_least(0)),
        ("progress", _BOOL, _is_bool),
    ]


FIELD_DOCS: dict[str, str] = {f.name: f.metadata["help"] for f in fields(GRPOConfig)}
"""Field name -> its one-line help (``field(metadata={"help": ...})``, the CLI's ``--help`` text)."""
