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


def save_checkpoint(out_dir: str | Path, *, step: int, model: Any, optimizer: Any,
                    rng: np.random.Generator, history: list[dict], samples: list[dict],
                    config: dict) -> Path:
    import torch

    state = {
        "step": step,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
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
                    rng: np.random.Generator) -> dict:
    """Restore model, optimizer and random states in place; return the checkpoint dict."""
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
    model.load_state_dict({k: v.to(device) for k, v in state["model"].items()})
    optimizer.load_state_dict(state["optimizer"])
    rng.bit_generator.state = state["numpy_rng"]
    random.setstate(state["python_rng"])
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return state
