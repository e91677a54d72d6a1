"""Atomic checkpoints: everything a run needs to continue as if it had never stopped.

One file, ``DIR/checkpoint.pt``, replaced atomically: model and optimizer state, the step, the
metric rows and samples so far, and every random state the run draws from (torch CPU and CUDA,
numpy's Generator for prompts, Python's ``random``). Restoring it and running on gives, on CPU with
the same seed, the same metrics as the uninterrupted run (tested).
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import numpy as np

from rewardsmith.io import atomic_write_bytes

__all__ = ["save_checkpoint", "load_checkpoint", "CHECKPOINT_FILE"]

CHECKPOINT_FILE = "checkpoint.pt"


def _model_state(model: Any, trainable_only: bool) -> dict:
    if trainable_only:  # LoRA: the adapters; the base weights come back from the model name
        return {k: v.detach().cpu() for k, v in model.named_parameters() if v.requires_grad}
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def save_checkpoint(out_dir: str | Path, *, step: int, model: Any, optimizer: Any,
                    rng: np.random.Generator, history: list[dict], samples: list[dict],
                    config: dict, trainable_only: bool = False) -> Path:
    """``trainable_only``: save only parameters that require grad (a LoRA run's adapters, a few MB
    instead of the 540 MB base model)."""
    import torch

    state = {
        "step": step,
        "trainable_only": trainable_only,
        "model": _model_state(model, trainable_only),
        "optimizer": optimizer.state_dict(),
        "numpy_rng": rng.bit_generator.state,
        "python_rng": random.getstate(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "history": history,
        "samples": samples,
        "config": config,
    }
    buf = io.BytesIO()
    torch.save(state, buf)
    return atomic_write_bytes(Path(out_dir) / CHECKPOINT_FILE, buf.getvalue())


def load_checkpoint(out_dir: str | Path, *, model: Any, optimizer: Any,
                    rng: np.random.Generator, trainable_only: bool = False) -> dict:
    """Restore model, optimizer and random states in place; return the checkpoint dict.
    ``trainable_only``: the checkpoint holds exactly the parameters that require grad."""
    import torch

    path = Path(out_dir) / CHECKPOINT_FILE
    if not path.exists():
        raise ValueError(f"resume: no checkpoint at {str(path)!r} (expected a run directory)")
    device = next(model.parameters()).device
    try:  # tensors and plain data only: a checkpoint file is never a way to run code (pickle)
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises UnpicklingError, RuntimeError, EOFError...
        raise ValueError(f"resume: {str(path)!r} is not a rewardsmith checkpoint of tensors and plain "
                         f"data ({type(exc).__name__}: {str(exc)[:200]})") from None
    if bool(state.get("trainable_only", False)) != trainable_only:
        raise ValueError(f"resume: {str(path)!r} was saved from a "
                         f"{'LoRA' if state.get('trainable_only') else 'full fine-tuning'} run; this run is "
                         f"{'LoRA' if trainable_only else 'full fine-tuning'} (check lora_r)")
    weights = {k: v.to(device) for k, v in state["model"].items()}
    if trainable_only:
        expected = {k for k, p in model.named_parameters() if p.requires_grad}
        if set(weights) != expected:
            raise ValueError(f"resume: the adapters in {str(path)!r} do not match this run's "
                             f"({len(set(weights) ^ expected)} parameter names differ; check lora_r / lora_targets)")
        model.load_state_dict(weights, strict=False)
    else:
        model.load_state_dict(weights)
    optimizer.load_state_dict(state["optimizer"])
    rng.bit_generator.state = state["numpy_rng"]
    random.setstate(state["python_rng"])
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return state
