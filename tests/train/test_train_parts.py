"""Fast unit tests of the trainer's parts: config, tasks, tokenizer, metrics, loss."""

import json
import re

import numpy as np
import pytest
import torch

from rewardsmith.train.config import FIELD_DOCS, GRPOConfig
from rewardsmith.train.metrics import collapse_metrics, label_fractions, reward_stats, skeleton
from rewardsmith.train.model import CharTokenizer
from rewardsmith.train.tasks import MALFORMED_KINDS, ArithmeticTask, make_task
from rewardsmith.train.trainer import grpo_loss


def test_every_config_field_has_a_doc():
    from dataclasses import fields

    assert {f.name for f in fields(GRPOConfig)} == set(FIELD_DOCS)
    for f in fields(GRPOConfig):
        assert len(f.metadata["help"]) > 10 and f.metadata["help"] == FIELD_DOCS[f.name], f.name


def test_every_config_field_help_reaches_the_cli():
    # The help used to be parsed out of source comments by a regex: a comment wrapped onto a
    # second line silently dropped that field's --help. Now it is field metadata, read as is.
    from dataclasses import fields

    from typer.testing import CliRunner

    from rewardsmith.cli import app

    res = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "400", "NO_COLOR": "1"},
                             terminal_width=400)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.replace("│", " ").split())
    for f in fields(GRPOConfig):
        assert "--" + f.name.replace("_", "-") in text
        assert " ".join(f.metadata["help"].split())[:40] in text, f.name


# a value of the wrong kind for each annotation: every field must refuse it, naming itself
_WRONG = {"str": [123, None], "int": ["3", True, 2.5], "float": ["0.1", float("nan"), None],
          "bool": ["false", 1, None], "dict[str, Any]": [[], "x"]}


def test_every_config_field_is_validated():
    from dataclasses import fields

    from rewardsmith.train.config import field_checks

    assert [name for name, _, _ in field_checks()] == [f.name for f in fields(GRPOConfig)]
    for f in fields(GRPOConfig):
        for value in _WRONG[f.type]:
            with pytest.raises(ValueError, match=f"^{f.name}: expected .+, got {re.escape(repr(value))}$"):
                GRPOConfig(**{f.name: value}).validate()


@pytest.mark.parametrize(
    "change, field",
    [({"group_size": 1}, "group_size"), ({"lr": float("nan")}, "lr"), ({"estimator": "nope"}, "estimator"),
     ({"loss_agg": "mean"}, "loss_agg"), ({"task": "maths"}, "task"), ({"clip_low": 1.0}, "clip_low"),
     ({"temperature": 0}, "temperature"), ({"hidden_size": 30}, "hidden_size"),
     ({"estimator": "raw", "estimator_options": {"ddof": 1}}, "estimator_options"),
     ({"grader": "/no/such/grader"}, "grader"), ({"rules": "no-such-preset"}, "rules"),
     ({"device": "cuda 1"}, "device"), ({"sft_wrong_frac": 1.5}, "sft_wrong_frac"), ({"ops": "*"}, "ops"),
     ({"progress": "false"}, "progress"), ({"lora_targets": " , "}, "lora_targets")],
)
def test_config_rejects_bad_values_naming_the_field(change, field):
    with pytest.raises(ValueError, match=f"^{field}: "):
        GRPOConfig(**change).validate()


def test_config_from_yaml_and_json(tmp_path):
    (tmp_path / "c.yaml").write_text("steps: 7\nestimator: rloo\nestimator_options: {}\n")
    (tmp_path / "c.json").write_text(json.dumps({"steps": 9, "dynamic_sampling": True}))
    assert GRPOConfig.from_file(tmp_path / "c.yaml").steps == 7
    assert GRPOConfig.from_file(tmp_path / "c.json").dynamic_sampling is True
    (tmp_path / "bad.yaml").write_text("stepz: 3\n")
    with pytest.raises(ValueError, match="unknown field"):
        GRPOConfig.from_file(tmp_path / "bad.yaml")


def test_arithmetic_problems_and_targets():
    task = ArithmeticTask(digits=2, ops="+-")
    probs = task.sample(np.random.default_rng(0), 200)
    for p in probs:
        a, op, b = p.prompt[:2], p.prompt[2], p.prompt[3:5]
        assert p.prompt.endswith("=")
        assert int(p.answer) == (int(a) + int(b) if op == "+" else int(a) - int(b)) >= 0
    p = probs[0]
    good = task.target(p)
    assert good == f"<think>{p.answer[::-1]}</think><answer>{p.answer}</answer>"
    assert all(task.target(p, k) != good for k in MALFORMED_KINDS)


def test_sft_mix_has_the_requested_fractions():
    task = ArithmeticTask()
    rng = np.random.default_rng(1)
    pairs = task.sft_batch(rng, 4000, good_frac=0.25, wrong_frac=0.5)
    good = [t for _, t in pairs if t.startswith("<think>") and "</think><answer>" in t and t.endswith("</answer>")]
    assert abs(len(good) / 4000 - 0.25) < 0.03
    probs = {p: None for p, _ in pairs}
    right = 0
    for prompt, t in pairs:
        a, op, b = int(prompt[:2]), prompt[2], int(prompt[3:5])
        ans = str(a + b if op == "+" else a - b)
        right += ans == t.replace("<answer>", " ").replace("</answer>", " ").replace("</think>", " ").split()[-1]
    assert abs(right / 4000 - 0.5) < 0.04
    assert len(probs) > 1000


def test_char_tokenizer_round_trip_and_single_token_tags():
    tok = CharTokenizer()
    text = "<think>58</think><answer>85</answer>"
    ids = tok.encode(text, bos=False)
    assert len(ids) == 8 and tok.decode(ids) == text
    assert tok.decode([tok.bos_token_id] + ids + [tok.eos_token_id, tok.pad_token_id]) == text
    assert tok.decode(tok.encode("a<b<answ", bos=False)) == "a<b<answ"


def test_make_task_rejects_unknown():
    with pytest.raises(ValueError, match="task"):
        make_task("algebra")


def test_collapse_metrics_flag_a_template():
    varied = ["<think>1</think><answer>1</answer>", "<answer>2</answer>", "3", "<think>4</think>4"]
    template = ["<think>1</think><answer>1</answer>", "<think>2</think><answer>2</answer>",
                "<think>3</think><answer>3</answer>", "<think>1</think><answer>1</answer>"]
    tok = CharTokenizer()
    m_var = collapse_metrics(varied, [tok.encode(t, bos=False) for t in varied], group_size=4)
    m_tpl = collapse_metrics(template, [tok.encode(t, bos=False) for t in template], group_size=4)
    assert m_tpl["top_skeleton_share"] == 1.0 and m_var["top_skeleton_share"] == 0.25
    assert m_tpl["top_completion_share"] == 0.5 and m_var["top_completion_share"] == 0.25
    assert m_tpl["group_distinct_frac"] == 0.75 and m_var["group_distinct_frac"] == 1.0
    assert m_tpl["distinct_2"] < m_var["distinct_2"]
    rep = collapse_metrics(["ababab"], [[1, 2, 1, 2, 1, 2]], group_size=1)["repetition"]
    assert rep == pytest.approx(0.5)
    assert skeleton("<answer>-12</answer>") == "<answer>-##</answer>"


def test_label_fractions_and_reward_stats():
    lf = label_fractions(["correct", "bad_format", "bad_format", "x"], known=("correct", "wrong_answer"))
    assert lf == {"correct": 0.25, "wrong_answer": 0.0, "bad_format": 0.5, "x": 0.25}
    st = reward_stats(np.array([1.0, np.nan, -2.0]))
    assert st["reward_mean"] == -0.5 and st["reward_nan"] == 1


def _loss_inputs():
    logp = torch.tensor([[-1.0, -1.0, -1.0], [-2.0, -2.0, 0.0]], requires_grad=True)
    old = torch.tensor([[-1.0, -1.5, -0.5], [-2.0, -2.0, 0.0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]], dtype=torch.bool)
    adv = torch.tensor([1.0, -1.0])
    return logp, old, mask, adv


@pytest.mark.parametrize("agg", ["grpo", "dr_grpo", "dapo"])
def test_loss_aggregations_match_their_formulas(agg):
    logp, old, mask, adv = _loss_inputs()
    cfg = GRPOConfig(loss_agg=agg, clip_low=0.2, clip_high=0.28, max_new_tokens=4)
    loss, stats = grpo_loss(logp, old, None, adv, mask, cfg)
    ratio = torch.exp(logp - old).detach()
    a = adv[:, None]
    tok = -torch.minimum(ratio * a, ratio.clamp(0.8, 1.28) * a)
    m = mask.float()
    expected = {
        "grpo": ((tok * m).sum(1) / m.sum(1)).mean(),
        "dr_grpo": (tok * m).sum() / (2 * 4),
        "dapo": (tok * m).sum() / m.sum(),
    }[agg]
    assert float(loss.detach()) == pytest.approx(float(expected), rel=1e-6)
    # row 0, token 1: ratio e^0.5 > 1.28 with A > 0 -> clipped, no gradient; token 2: e^-0.5 < 0.8 is not
    # clipped for A > 0 (the min keeps the unclipped, lower term)
    loss.backward()
    assert logp.grad[0, 1] == 0 and logp.grad[0, 2] != 0
    assert stats["clip_frac"] == pytest.approx(1 / 5)
    assert stats["kl"] is None


def test_k3_kl_is_zero_at_reference_and_positive_elsewhere():
    logp, old, mask, adv = _loss_inputs()
    cfg = GRPOConfig(beta=0.1)
    _, st0 = grpo_loss(logp, logp.detach(), logp.detach(), adv, mask, cfg)
    _, st1 = grpo_loss(logp, logp.detach(), old, adv, mask, cfg)
    assert st0["kl"] == pytest.approx(0.0, abs=1e-7) and st1["kl"] > 0.01
    loss_b0, _ = grpo_loss(logp, logp.detach(), old, adv, mask, GRPOConfig(beta=0.0))
    loss_b1, _ = grpo_loss(logp, logp.detach(), old, adv, mask, cfg)
    assert float(loss_b1.detach()) > float(loss_b0.detach())


@pytest.mark.parametrize("kind,fuse", [("llama", True), ("llama_gqa", True), ("qwen2", True), ("llama_gqa", False),
                                       ("qwen2", False)])
def test_fastlm_matches_transformers_forward_and_gradients(kind, fuse):
    """Fused weights (small models) and per-module weights (large ones) give transformers' numbers."""
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    from rewardsmith.train.fastlm import FastLM, HFForward

    torch.manual_seed(0)
    common = dict(vocab_size=50, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2 if kind != "llama" else 4,
                  max_position_embeddings=64)
    model = Qwen2ForCausalLM(Qwen2Config(**common)) if kind == "qwen2" else LlamaForCausalLM(LlamaConfig(**common))
    assert FastLM.supports(model)
    fast, hf = FastLM(model), HFForward(model)
    assert fast.fuse  # a small model
    fast.fuse = fuse
    ids = torch.randint(0, 50, (3, 10))
    pos = torch.arange(10).expand(3, 10)
    assert torch.allclose(fast(ids, pos), hf(ids, pos), atol=1e-5)
    assert torch.allclose(fast(ids, pos, tail=4), hf(ids, pos, tail=4), atol=1e-5)
    assert fast(ids, pos, tail=4).shape == (3, 4, 50)
    # left padding: real tokens give the same logits
    km = torch.ones(3, 10, dtype=torch.bool)
    km[0, :3] = False
    pos_l = (km.long().cumsum(-1) - 1).clamp(min=0)
    assert torch.allclose(fast(ids, pos_l, km)[km], hf(ids, pos_l, km)[km], atol=1e-5)
    # KV-cache decoding (frozen fused weights) equals the full forward
    cache = fast.new_cache()
    fast.freeze()
    with torch.no_grad():
        steps = [fast(ids[:, :6], pos[:, :6], None, cache, tail=1)]
        steps += [fast(ids[:, t : t + 1], pos[:, t : t + 1], None, cache, tail=1) for t in range(6, 10)]
    fast.unfreeze()
    full = hf(ids, pos)
    assert torch.allclose(torch.cat(steps, 1), full[:, 5:], atol=1e-5)
    # the same gradients reach the same parameters
    fast(ids, pos).logsumexp(-1).sum().backward()
    g_fast = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    hf(ids, pos).logsumexp(-1).sum().backward()
    assert all(torch.allclose(a, p.grad, atol=1e-5) for a, p in zip(g_fast, model.parameters()))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    import pickle

    import numpy as np
    import torch

    from rewardsmith.train.checkpoint import CHECKPOINT_FILE, load_checkpoint

    class Boom:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    torch.save({"step": 1, "x": Boom()}, tmp_path / CHECKPOINT_FILE, pickle_module=pickle)
    model = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match="resume: .* is not a rewardsmith checkpoint"):
        load_checkpoint(tmp_path, model=model, optimizer=torch.optim.AdamW(model.parameters()),
                        rng=np.random.default_rng(0))
    assert not (tmp_path / "pwned").exists()
    (tmp_path / CHECKPOINT_FILE).write_bytes(b"truncated")
    with pytest.raises(ValueError, match="resume: .* is not a rewardsmith checkpoint"):
        load_checkpoint(tmp_path, model=model, optimizer=torch.optim.AdamW(model.parameters()),
                        rng=np.random.default_rng(0))
