"""A real TRL GRPOTrainer whose reward function calls the reward server (the one-line switch)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from serve_helpers import ServerProcess

pytest.importorskip("trl")

# The tiny model emits random characters: a rule set whose tiers and length term vary on them.
TINY_RULES = {
    "name": "tiny",
    "format": {"kind": "regex", "pattern": "x", "fullmatch": False},
    "answer": {"extract": "last_number", "compare": "math"},
    "tiers": [
        {"when": {"format": True, "correct": True}, "reward": 1.0, "label": "correct"},
        {"when": {"format": True}, "reward": -0.5, "label": "wrong_answer"},
        {"when": {}, "reward": -2.0, "label": "bad_format"},
    ],
    "shaping": [{"kind": "length", "free": 0, "scale": 8, "weight": 0.25}],
}


def _tiny_model_and_tokenizer():
    import torch
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<eos>": 1, "<unk>": 2}
    for c in "abcx0123<>/ ":
        vocab[c] = len(vocab)
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
                      pad_token_id=0, eos_token_id=1, bos_token_id=None)
    return LlamaForCausalLM(cfg), hf_tok


@pytest.mark.slow
def test_grpo_trainer_scores_on_the_server(tmp_path):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from rewardsmith.integrations import remote
    from rewardsmith.rules import load_rules

    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY_RULES))
    srv = ServerProcess("--rules", str(path), "--workers", "1")
    try:
        srv.wait_ready()
        func = remote.reward_func(srv.url)  # in place of rs_trl.reward_funcs(rules)
        model, tok = _tiny_model_and_tokenizer()
        ds = Dataset.from_dict({"prompt": ["ab", "bc", "ca", "x0"] * 4, "answer": ["1", "2", "3", "0"] * 4})
        args = GRPOConfig(output_dir=str(tmp_path / "out"), per_device_train_batch_size=8, num_generations=4,
                          max_completion_length=8, max_steps=2, logging_steps=1, report_to=[], use_cpu=True,
                          save_strategy="no", disable_tqdm=True, seed=0)
        trainer = GRPOTrainer(model=model, reward_funcs=[func], args=args, train_dataset=ds, processing_class=tok)
        batches = []
        orig = trainer._generate_and_score_completions

        def gen(batch):
            out = orig(batch)
            n = len(batch)
            batches.append((list(trainer._logs["completion"])[-n:], [x["answer"] for x in batch],
                            list(trainer._logs["rewards"][func.__name__])[-n:]))
            return out

        trainer._generate_and_score_completions = gen
        trainer.train()
    finally:
        srv.stop()
    rules = load_rules(TINY_RULES)
    assert len(batches) == 2
    distinct = set()
    for completions, answers, got in batches:
        want = rules.score_batch(completions, answers, workers=0).rewards
        np.testing.assert_allclose(got, want, atol=1e-6)  # TRL trained on the server's rewards
        distinct |= set(np.round(want, 6))
    assert len(distinct) > 2  # real, varied rewards, not a constant
