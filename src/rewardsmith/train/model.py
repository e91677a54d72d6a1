"""The policy: a character tokenizer, a tiny Llama built locally, real checkpoints, LoRA, warm start.

Nothing here downloads anything: ``model="tiny"`` builds a ``LlamaForCausalLM`` from a
``LlamaConfig`` (a few 10k parameters) over a character vocabulary in which the four format tags
are single tokens; any other ``model`` is a name, directory or cached hub id resolved by
``rewardsmith.models.resolve`` and loaded with ``from_pretrained(local_files_only=True)``.

Prompts: the tiny model reads the bare task text (``"52+13="``); a chat model reads its own chat
template around ``tasks.chat_messages`` (a system prompt stating the format, optionally one worked
example turn, then the problem in words).
"""

from __future__ import annotations

import hashlib
import io
import json
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from rewardsmith.io import atomic_write_bytes, atomic_write_text
from rewardsmith.models import cache_root
from rewardsmith.train.tasks import Problem, chat_messages

__all__ = ["CharTokenizer", "Policy", "add_lora", "build_tiny_model", "load_policy", "save_policy", "warm_start",
           "cache_root"]

TAGS = ("<think>", "</think>", "<answer>", "</answer>")


class CharTokenizer:
    """One token per printable ASCII character, plus the format tags and pad/bos/eos."""

    SPECIALS = ("<pad>", "<bos>", "<eos>")
    FILE = "char_tokenizer.json"

    def __init__(self) -> None:
        chars = [c for c in string.printable if c not in "\t\r\x0b\x0c"]
        self.vocab = list(self.SPECIALS) + list(TAGS) + chars
        self.index = {t: i for i, t in enumerate(self.vocab)}
        self.pad_token_id, self.bos_token_id, self.eos_token_id = 0, 1, 2
        self.unk = self.index["?"]

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, text: str, bos: bool = True) -> list[int]:
        ids = [self.bos_token_id] if bos else []
        i = 0
        while i < len(text):
            if text[i] == "<":
                tag = next((t for t in TAGS if text.startswith(t, i)), None)
                if tag:
                    ids.append(self.index[tag])
                    i += len(tag)
                    continue
            ids.append(self.index.get(text[i], self.unk))
            i += 1
        return ids

    def decode(self, ids: Any) -> str:
        return "".join(self.vocab[i] for i in ids if i > 2 and i < len(self.vocab))

    def save(self, directory: str | Path) -> None:
        atomic_write_text(Path(directory) / self.FILE, json.dumps({"vocab": self.vocab}))


@dataclass
class Policy:
    """A causal LM with the text <-> token functions the trainer needs."""

    model: Any  # transformers PreTrainedModel
    tokenizer: Any  # CharTokenizer or a transformers tokenizer
    eos_id: int
    pad_id: int
    stop_ids: tuple[int, ...]  # single tokens that end a completion (EOS, "</answer>")
    stop_seq: tuple[int, ...]  # multi-token "</answer>" for subword tokenizers (empty if a token)
    prompt_style: str = "bare"  # tasks.PROMPT_STYLES: how a problem becomes the prompt

    @property
    def is_chat(self) -> bool:
        return not isinstance(self.tokenizer, CharTokenizer) and bool(getattr(self.tokenizer, "chat_template", None))

    def encode_messages(self, messages: list[dict]) -> list[int]:
        """Token ids of ``messages`` in the model's chat template, ending with the assistant's turn
        opener. Rendered to text, then tokenized without added specials: in transformers 5
        ``apply_chat_template(tokenize=True)`` returns a BatchEncoding, not a list of ids."""
        text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def encode_prompt(self, text: str) -> list[int]:
        """``text`` as the prompt: bare for the character tokenizer, else one user turn in the chat
        template (or plain text where the tokenizer has no template)."""
        tok = self.tokenizer
        if isinstance(tok, CharTokenizer):
            return tok.encode(text)
        if self.is_chat:
            return self.encode_messages([{"role": "user", "content": text}])
        return list(tok(text)["input_ids"])

    def encode_problem(self, problem: Problem) -> list[int]:
        """The prompt for ``problem`` in this policy's ``prompt_style``: ``bare`` = the task's own
        text (``"52+13="``); otherwise the problem in words in ``tasks.chat_messages``' turns."""
        if self.prompt_style == "bare" or not self.is_chat:
            return self.encode_prompt(problem.prompt)
        return self.encode_messages(chat_messages(problem.question or problem.prompt, self.prompt_style))

    def decode(self, ids: Any) -> str:
        if isinstance(self.tokenizer, CharTokenizer):
            return self.tokenizer.decode(ids)
        return self.tokenizer.decode(ids, skip_special_tokens=True)


def build_tiny_model(vocab_size: int, hidden_size: int = 64, n_layers: int = 2, n_heads: int = 4,
                     max_positions: int = 256, seed: int = 0) -> Any:
    """A Llama-style decoder: RMSNorm, rotary positions, SwiGLU MLP (2x width), tied embeddings."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=n_layers,
        num_attention_heads=n_heads,
        num_key_value_heads=n_heads,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    cfg._attn_implementation = "sdpa"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(cfg)
    return model


def resolve_dtype(dtype: str, device: str) -> str:
    """``"auto"`` -> bfloat16 on CUDA, float32 elsewhere; other names pass through."""
    if dtype == "auto":
        return "bfloat16" if str(device).startswith("cuda") else "float32"
    return dtype


def load_policy(model: str, device: str = "cpu", dtype: str = "float32", hidden_size: int = 64,
                n_layers: int = 2, n_heads: int = 4, seed: int = 0, prompt_style: str = "auto",
                cache_dir: str = "") -> Policy:
    """``"tiny"`` -> a fresh tiny Llama + CharTokenizer; anything else -> ``models.resolve`` (a
    named model, a local directory or a cached hub id; never a download) + ``from_pretrained``.
    A directory holding ``char_tokenizer.json`` (a saved tiny policy) uses CharTokenizer.
    ``prompt_style="auto"``: ``bare`` for the character tokenizer, ``system+example`` for a chat model."""
    import torch

    from rewardsmith.models import resolve

    torch_dtype = getattr(torch, resolve_dtype(dtype, device))
    if model == "tiny":
        tok = CharTokenizer()
        lm = build_tiny_model(len(tok), hidden_size, n_layers, n_heads, seed=seed)
    else:
        path = resolve(model, cache_dir or None)
        from transformers import AutoModelForCausalLM, AutoTokenizer

        lm = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=torch_dtype)
        if (path / CharTokenizer.FILE).exists():
            tok = CharTokenizer()
        else:
            tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    lm = lm.to(device=device, dtype=torch_dtype)
    if isinstance(tok, CharTokenizer):
        return Policy(lm, tok, tok.eos_token_id, tok.pad_token_id,
                      (tok.eos_token_id, tok.index["</answer>"]), (), "bare")
    eos = tok.eos_token_id
    pad = tok.pad_token_id if tok.pad_token_id is not None else eos
    close = tok.encode("</answer>", add_special_tokens=False)
    stop_ids = (eos,) + (tuple(close) if len(close) == 1 else ())
    policy = Policy(lm, tok, eos, pad, stop_ids, tuple(close) if len(close) > 1 else ())
    policy.prompt_style = ("system+example" if policy.is_chat else "bare") if prompt_style == "auto" else prompt_style
    return policy


def add_lora(policy: Policy, r: int, alpha: float, targets: Sequence[str]) -> Policy:
    """Wrap the policy's model in peft LoRA adapters (rank ``r``, scaling ``alpha / r``, no dropout)
    on the named linear modules; only the adapters train. The base model with the adapters
    switched off is the run's reference policy (no second copy of the weights)."""
    from peft import LoraConfig, get_peft_model

    present = {name.rsplit(".", 1)[-1] for name, _ in policy.model.named_modules()}
    missing = [t for t in targets if t not in present]
    if missing:
        raise ValueError(f"lora_targets: {missing} are not modules of this model; expected names among "
                         f"{sorted(n for n in present if n.endswith('proj'))}")
    cfg = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.0, target_modules=list(targets), bias="none",
                     task_type="CAUSAL_LM")
    policy.model = get_peft_model(policy.model, cfg)
    return policy


# ----------------------------------------------------------------------------------------------
# Supervised warm start (tiny model + arithmetic): begin where the seed's stage 1 begins
# ----------------------------------------------------------------------------------------------


def warm_start(policy: Policy, task: Any, steps: int, good_frac: float, wrong_frac: float,
               seed: int, cache_dir: str = "", key_extra: dict | None = None,
               batch_size: int = 64, lr: float = 3e-3) -> Path | None:
    """Train ``policy`` on a mix of well-formed and malformed targets (cross-entropy on the
    completion tokens only), or load the weights cached under the same settings.

    Returns the cache file. The cache key is a hash of every setting that changes the weights.
    """
    import torch

    if steps == 0:
        return None
    key = json.dumps({"task": task.name, "steps": steps, "good": good_frac, "wrong": wrong_frac,
                      "seed": seed, "batch": batch_size, "lr": lr, "vocab": len(policy.tokenizer),
                      "torch": torch.__version__.split("+")[0], **(key_extra or {})}, sort_keys=True)
    path = cache_root(cache_dir) / "warmstart" / (hashlib.sha256(key.encode()).hexdigest()[:16] + ".pt")
    model = policy.model
    if path.exists():
        state = torch.load(path, map_location=next(model.parameters()).device, weights_only=True)
        model.load_state_dict(state)
        return path
    tok = policy.tokenizer
    rng = np.random.default_rng(seed)
    device = next(model.parameters()).device
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.99), weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 50) * max(0.05, 1 - s / steps))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model.train()
        for _ in range(steps):
            pairs = task.sft_batch(rng, batch_size, good_frac, wrong_frac)
            seqs, masks = [], []
            for prompt, target in pairs:
                p = tok.encode(prompt)
                t = tok.encode(target, bos=False)
                if not target.endswith("</answer>"):
                    t = t + [tok.eos_token_id]
                seqs.append(p + t)
                masks.append([0] * len(p) + [1] * len(t))
            L = max(map(len, seqs))
            ids = torch.tensor([s + [tok.pad_token_id] * (L - len(s)) for s in seqs], device=device)
            lm = torch.tensor([m + [0] * (L - len(m)) for m in masks], device=device, dtype=torch.bool)
            att = torch.tensor([[1] * len(s) + [0] * (L - len(s)) for s in seqs], device=device)
            logits = model(input_ids=ids, attention_mask=att).logits[:, :-1]
            labels = ids[:, 1:].masked_fill(~lm[:, 1:], -100)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buf)
    atomic_write_bytes(path, buf.getvalue())
    return path


def save_policy(policy: Policy, directory: str | Path) -> Path:
    """Write the policy as a local checkpoint that ``load_policy(directory)`` reads back."""
    directory = Path(directory)
    policy.model.save_pretrained(directory)
    if isinstance(policy.tokenizer, CharTokenizer):
        policy.tokenizer.save(directory)
    else:
        policy.tokenizer.save_pretrained(directory)
    return directory
