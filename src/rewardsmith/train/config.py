"""Every hyperparameter of a GRPO run in one documented dataclass (TRL's GRPOConfig, CleanRL style).

``GRPOConfig.validate()`` checks every field at the boundary and raises ValueError naming the
field, the value and what was expected; the trainer itself trusts the config.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from rewardsmith.train.tasks import PROMPT_STYLES

__all__ = ["GRPOConfig", "LOSS_AGGREGATIONS", "PROMPT_STYLES"]

LOSS_AGGREGATIONS = ("grpo", "dr_grpo", "dapo")


@dataclass
class GRPOConfig:
    """A GRPO run: task, policy, rollout, reward, advantage, loss, optimizer, logging."""

    # --- task and policy ---------------------------------------------------------------------
    task: str = "arithmetic"  # "arithmetic" (built in) or "rg:NAME" (a reasoning-gym data set)
    digits: int = 2  # arithmetic: digits per operand
    ops: str = "+-"  # arithmetic: operators to draw from ("+", "-" or both)
    model: str = "tiny"  # "tiny" (a Llama built locally), a named model (`rewardsmith models`: smollm2-135m), a local checkpoint dir or a cached hub id
    prompt_style: str = "auto"  # chat prompt: auto (bare for tiny, system+example for chat models), bare, user, system, system+example
    hidden_size: int = 64  # tiny model: width
    n_layers: int = 2  # tiny model: decoder layers
    n_heads: int = 4  # tiny model: attention heads
    device: str = "cpu"  # torch device ("cpu", "cuda", "cuda:1", ...)
    dtype: str = "auto"  # parameter dtype: auto (bfloat16 on cuda, else float32), float32, bfloat16, float16
    threads: int = 1  # torch CPU threads (0 = torch's default); 1 is fastest for the tiny model
    fast_forward: bool = True  # Llama/Qwen2: rewardsmith's lean forward (same math, less overhead); else transformers'
    lora_r: int = 0  # LoRA rank via peft (0 = full fine-tuning); the KL reference is the base with the adapters off
    lora_alpha: float = 32.0  # LoRA scaling numerator: the update is (lora_alpha / lora_r) * B A
    lora_targets: str = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"  # comma-separated module names that get adapters
    gradient_checkpointing: bool = False  # recompute each decoder layer in the backward pass (less activation memory, one more forward)
    seed: int = 0  # seed of the RL run: prompts, sampling, everything after the warm start
    # --- supervised warm start (tiny model only) ---------------------------------------------
    sft_steps: int = 1500  # AdamW steps of supervised warm start (0 = start from random weights)
    sft_good_frac: float = 0.25  # fraction of SFT targets in the exact <think><answer> format
    sft_wrong_frac: float = 0.5  # fraction of SFT targets whose answer is a near-miss wrong number
    sft_seed: int = 0  # seed of the warm start (shared by every RL seed of an experiment)
    cache_dir: str = ""  # where warm-started weights are cached ("" = $REWARDSMITH_CACHE or ~/.cache)
    # --- rollout -----------------------------------------------------------------------------
    steps: int = 60  # optimizer updates (each on one freshly sampled batch)
    prompts_per_step: int = 8  # distinct prompts per batch
    group_size: int = 8  # G: completions sampled per prompt
    temperature: float = 1.0  # sampling temperature (full distribution, no top-k / top-p)
    max_new_tokens: int = 16  # completion budget; generation also stops at EOS or </answer>
    # --- reward and advantage ----------------------------------------------------------------
    rules: str = "seed-tiered"  # rule set for the reward: preset name or YAML path (load_rules)
    grader: str = ""  # a fitted learned reward's directory (`graders fit --out`): reward R = R_base + sum_i w_i p_i, R_base = rules
    estimator: str = "grpo"  # advantage estimator: raw, grpo, dr_grpo, rloo, batch_std, rank
    estimator_options: dict[str, Any] = field(default_factory=dict)  # estimator keywords (JSON on the CLI), e.g. {"ddof": 1, "eps": 1e-4}
    dynamic_sampling: bool = False  # DAPO: drop groups whose rewards are all equal from the loss
    # --- loss --------------------------------------------------------------------------------
    clip_low: float = 0.2  # ratio clipped below at 1 - clip_low
    clip_high: float = 0.2  # ratio clipped above at 1 + clip_high (DAPO clip-higher: 0.28)
    ppo_epochs: int = 1  # optimization passes over each batch (1 = on-policy, ratio is 1)
    beta: float = 0.0  # weight of the k3 KL to the frozen start policy in the loss (tiny model: KL is logged anyway)
    loss_agg: str = "grpo"  # grpo: per-sequence token mean; dr_grpo: sum / (B * max_new_tokens); dapo: token mean
    # --- optimizer ---------------------------------------------------------------------------
    lr: float = 3e-4  # AdamW learning rate (the tiny policy collapsed onto templates at 1e-3)
    adam_beta1: float = 0.9  # AdamW beta1
    adam_beta2: float = 0.99  # AdamW beta2
    weight_decay: float = 0.0  # AdamW decoupled weight decay
    grad_clip: float = 1.0  # max global grad norm (0 = no clipping)
    # --- logging and checkpoints -------------------------------------------------------------
    checkpoint_every: int = 20  # save an atomic checkpoint every N steps (0 = only at the end)
    samples_per_step: int = 8  # completions per step written to samples.parquet
    progress: bool = True  # show a progress bar

    # -----------------------------------------------------------------------------------------
    def validate(self) -> "GRPOConfig":
        """Raise ValueError naming the first bad field; return self."""

        def bad(name: str, expected: str) -> ValueError:
            return ValueError(f"{name}: expected {expected}, got {getattr(self, name)!r}")

        from rewardsmith import advantages

        if isinstance(self.lora_r, bool) or not isinstance(self.lora_r, int) or self.lora_r < 0:
            raise bad("lora_r", "an integer >= 0 (0 = full fine-tuning)")
        if isinstance(self.lora_alpha, bool) or not isinstance(self.lora_alpha, (int, float)) \
                or not math.isfinite(self.lora_alpha) or self.lora_alpha <= 0:
            raise bad("lora_alpha", "a finite number > 0")
        if not isinstance(self.lora_targets, str) or not [t for t in self.lora_targets.split(",") if t.strip()]:
            raise bad("lora_targets", "a comma-separated list of module names, e.g. 'q_proj,v_proj'")
        if self.prompt_style not in ("auto", *PROMPT_STYLES):
            raise bad("prompt_style", f"one of {['auto', *PROMPT_STYLES]}")
        if not isinstance(self.model, str) or not self.model.strip():
            raise bad("model", "'tiny', a model name (see `rewardsmith models`), a checkpoint directory or a cached hub id")
        pos_int = ("digits", "hidden_size", "n_layers", "n_heads", "steps", "prompts_per_step",
                   "max_new_tokens", "ppo_epochs")
        for name in pos_int:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise bad(name, "a positive integer")
        for name in ("threads", "sft_steps", "checkpoint_every", "samples_per_step", "seed", "sft_seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise bad(name, "an integer >= 0")
        if isinstance(self.group_size, bool) or not isinstance(self.group_size, int) or self.group_size < 2:
            raise bad("group_size", "an integer >= 2 (a group of one has no baseline)")
        if not (self.task == "arithmetic" or (self.task.startswith("rg:") and len(self.task) > 3)):
            raise bad("task", "'arithmetic' or 'rg:NAME'")
        if not self.ops or set(self.ops) - set("+-"):
            raise bad("ops", "a non-empty string of '+' and '-'")
        if self.hidden_size % self.n_heads:
            raise bad("hidden_size", f"a multiple of n_heads={self.n_heads}")
        for name in ("sft_good_frac", "sft_wrong_frac"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
                raise bad(name, "a number in [0, 1]")
        for name, lo_open in (("temperature", True), ("lr", False), ("clip_low", False),
                              ("clip_high", False), ("beta", False), ("weight_decay", False),
                              ("grad_clip", False), ("adam_beta1", False), ("adam_beta2", False)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 or (lo_open and v == 0):
                raise bad(name, "a finite number " + ("> 0" if lo_open else ">= 0"))
        if self.clip_low >= 1:
            raise bad("clip_low", "a number in [0, 1)")
        for name in ("adam_beta1", "adam_beta2"):
            if getattr(self, name) >= 1:
                raise bad(name, "a number in [0, 1)")
        advantages.check_estimator(self.estimator)
        if not isinstance(self.estimator_options, dict) or not all(
                isinstance(k, str) for k in self.estimator_options):
            raise bad("estimator_options", "a mapping of option name to value")
        # options the estimator does not take fail here, not after the model is built
        advantages.check_estimator(self.estimator, **self.estimator_options)
        if self.grader and not (Path(self.grader) / "reward.json").is_file():
            raise bad("grader", "'' or a directory holding reward.json (written by `rewardsmith graders fit`)")
        if self.loss_agg not in LOSS_AGGREGATIONS:
            raise bad("loss_agg", f"one of {list(LOSS_AGGREGATIONS)}")
        if self.dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise bad("dtype", "'auto', 'float32', 'bfloat16' or 'float16'")
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


def _field_docs() -> dict[str, str]:
    """The one-line comment after each field above (the CLI's --help text comes from here)."""
    import inspect
    import re

    pat = re.compile(r"^\s+(\w+): [^=]+= .*?  # (.*)$")
    return {m.group(1): m.group(2).strip() for line in inspect.getsource(GRPOConfig).splitlines()
            if (m := pat.match(line))}


FIELD_DOCS: dict[str, str] = _field_docs()
