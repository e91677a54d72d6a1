"""TRL adapter: reward functions, advantage reward, config check, monitor/callback, and a real
GRPOTrainer run on CPU whose advantages must equal ours."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("trl")

from rewardsmith import advantages
from rewardsmith.integrations import trl as rt

CORRECT = "<think>2+2</think><answer>4</answer>"
WRONG = "<think>2+2</think><answer>5</answer>"
JUNK = "four"


def _chat(text):
    return [{"role": "assistant", "content": text}]


# --------------------------------------------------------------------------- reward functions


def test_reward_funcs_score_strings_chat_and_columns(seed_rules):
    total, tier = rt.reward_funcs(seed_rules, per_rule=True)
    assert [total.__name__, tier.__name__] == ["rs_total", "rs_tier"]
    assert rt.reward_weights([total, tier]) == [1.0, 0.0]
    comps = [CORRECT, WRONG, JUNK, _chat(CORRECT), [{"role": "assistant", "content": [{"type": "text", "text": WRONG}]}]]
    kw = dict(prompts=["p"] * 5, completions=comps, answer=["4"] * 5, completion_ids=[[1]] * 5)
    assert total(**kw) == [1.0, -0.5, -2.0, 1.0, -0.5]
    assert tier(**kw) == [1.0, -0.5, -2.0, 1.0, -0.5]


def test_reward_funcs_need_the_answer_column(seed_rules):
    (total,) = rt.reward_funcs(seed_rules)
    with pytest.raises(ValueError, match="answer_column.*solution"):
        total(prompts=["p"], completions=[CORRECT], solution=["4"])
    (by_solution,) = rt.reward_funcs(seed_rules, answer_column="solution")
    assert by_solution(prompts=["p"], completions=[CORRECT], solution=["4"]) == [1.0]


def test_one_score_per_batch_and_none_where_unscored(table_scorer):
    sc = table_scorer({"a": 1.0, "b": -1.0})
    total, tier, bonus = rt.reward_funcs(sc, per_rule=True, answer_column=None)
    comps = ["a", "b", "zzz", "a"]
    kw = dict(prompts=["p"] * 4, completions=comps)
    assert total(**kw) == [1.0, -1.0, None, 1.0]
    assert tier(**kw) == [0.5, -1.5, None, 0.5]
    # bonus is finite for the unscored row, but must be None there: TRL would otherwise sum the
    # remaining components into a reward of 0 instead of leaving the completion out
    assert bonus(**kw) == [0.5, 0.5, None, 0.5]
    assert sc.calls == 1
    total(prompts=["p"] * 4, completions=list(comps))  # a new batch (new list) is scored again
    assert sc.calls == 2


def test_dataset_columns_and_the_prompt_reach_the_rules_as_fields(table_scorer):
    sc = table_scorer({"a": 1.0})
    (total,) = rt.reward_funcs(sc, answer_column=None, log_metrics=False)
    chat_prompt = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "1+1?"}]
    total(prompts=[chat_prompt], completions=["a"], tests=[["assert f(1) == 2"]], completion_ids=[[3]],
          trainer_state=object(), log_extra=print, log_metric=print)
    assert sc.last_fields == {"tests": [["assert f(1) == 2"]], "prompt": ["1+1?"]}


def test_async_reward_funcs_for_trls_async_path(seed_rules):
    from trl.trainer.utils import is_async_callable

    sync = rt.reward_funcs(seed_rules, per_rule=True, log_metrics=False)
    afuncs = rt.reward_funcs(seed_rules, per_rule=True, asynchronous=True, log_metrics=False)
    assert all(is_async_callable(f) for f in afuncs) and not any(is_async_callable(f) for f in sync)
    assert [f.__name__ for f in afuncs] == ["rs_total", "rs_tier"]
    comps = [CORRECT, WRONG, JUNK, CORRECT]
    kw = dict(prompts=["p"] * 4, completions=comps, answer=["4"] * 4)

    async def run():  # as TRL does: asyncio.gather on an event loop in a daemon thread
        return await asyncio.gather(*(f(**kw) for f in afuncs))

    box = []
    t = threading.Thread(target=lambda: box.append(asyncio.run(run())), daemon=True)
    t.start()
    t.join(60)
    assert box and box[0] == [[1.0, -0.5, -2.0, 1.0]] * 2


def test_reward_funcs_work_off_the_main_thread(seed_rules):
    (total,) = rt.reward_funcs(seed_rules, log_metrics=False)
    comps = [CORRECT, "<think>x</think><answer>\\frac{8}{2}</answer>", "<think>x</think><answer>(x+1)^2</answer>", JUNK]
    answers = ["4", "4", "x^2+2x+1", "4"]
    expected = [1.0, 1.0, 1.0, -2.0]
    results, errors = [], []

    def work():
        try:
            results.append(total(prompts=["p"] * 4, completions=list(comps), answer=answers))
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len(results) == 3
    for got in results:
        # the symbolic check runs in a verify worker process under a 5 s budget; on a loaded
        # machine it may time out, which seed-tiered pays as a wrong answer (-0.5, label timeout)
        assert got[:2] == expected[:2] and got[3] == expected[3]
        assert got[2] in (1.0, -0.5)


# --------------------------------------------------------------------------- advantage reward


@pytest.mark.parametrize("name", ["grpo", "dr_grpo", "rloo", "batch_std", "rank"])
def test_trls_recentring_is_a_no_op_on_our_advantages(name, table_scorer):
    """TRL with scale_rewards='none' returns A - nanmean_g(A); for every estimator but raw that is A."""
    import torch

    rng = np.random.default_rng(0)
    g, n_groups = 6, 5
    values = rng.choice([1.0, -0.5, -2.0, 0.3], size=g * n_groups)
    texts = [f"c{i}" for i in range(g * n_groups)]
    table = {t: v for t, v in zip(texts, values)}
    del table["c3"], table["c14"]  # two unscored completions
    adv = rt.advantage_reward(table_scorer(table), name, num_generations=g, answer_column=None)
    prompts = [f"p{i // g}" for i in range(g * n_groups)]
    out = adv(prompts=prompts, completions=texts)
    rewards = np.array([table.get(t, np.nan) for t in texts])
    ours = advantages.compute(name, rewards, group_size=g)
    got = np.array([np.nan if v is None else v for v in out])
    assert np.isnan(got[[3, 14]]).all()  # None for unscored: TRL excludes them and gives them 0
    np.testing.assert_allclose(np.nan_to_num(got), ours, atol=1e-12)
    # TRL's computation, verbatim in spirit: float32 tensor, nanmean per group, subtract, NaN -> 0
    t = torch.tensor([np.nan if v is None else v for v in out], dtype=torch.float32)
    trl_adv = torch.nan_to_num(t - torch.nanmean(t.view(-1, g), dim=1).repeat_interleave(g), nan=0.0)
    np.testing.assert_allclose(trl_adv.numpy(), ours, atol=1e-6)


def test_raw_is_refused_because_trl_recentres_it(seed_rules):
    r = np.array([1.0, -0.5, -2.0, 1.0])
    assert abs(advantages.compute("raw", r, group_size=4).mean()) > 0.1  # not zero-mean
    with pytest.raises(ValueError, match="raw.*dr_grpo"):
        rt.advantage_reward(seed_rules, "raw", num_generations=4)


def test_advantage_reward_refuses_batches_that_are_not_whole_groups(seed_rules):
    adv = rt.advantage_reward(seed_rules, "rank", num_generations=2)
    with pytest.raises(ValueError, match="num_generations.*different prompts"):
        adv(prompts=["a", "b", "b", "c"], completions=[CORRECT, WRONG, JUNK, CORRECT], answer=["4"] * 4)
    with pytest.raises(ValueError, match="does not divide 3"):
        adv(prompts=["a", "a", "b"], completions=[CORRECT, WRONG, JUNK], answer=["4"] * 3)
    with pytest.raises(ValueError, match="num_generations: expected an integer >= 2"):
        rt.advantage_reward(seed_rules, "rank", num_generations=1)
    with pytest.raises(ValueError, match=r"^estimator: expected one of \[.*\], got 'ppo' \(unknown name\)$"):
        rt.advantage_reward(seed_rules, "ppo", num_generations=2)
    # options are checked when the reward function is made, in advantages.check_estimator's words
    with pytest.raises(ValueError, match=r"^estimator_options: expected a subset of \['ddof', 'eps'\] for 'grpo'"):
        rt.advantage_reward(seed_rules, "grpo", num_generations=2, dof=1)
    with pytest.raises(ValueError, match=r"^estimator_options\['eps'\]: expected a finite number >= 0, got -1"):
        rt.advantage_reward(seed_rules, "grpo", num_generations=2, eps=-1)


@settings(max_examples=60, deadline=None)
@given(
    g=st.integers(2, 9),
    data=st.data(),
    name=st.sampled_from(["grpo", "dr_grpo", "rloo", "batch_std", "rank"]),
)
def test_recentring_is_a_no_op_for_any_batch(g, data, name):
    """Property: for any rewards (NaN allowed), nanmean over each group of our advantages is 0."""
    n_groups = data.draw(st.integers(1, 6))
    values = data.draw(st.lists(st.one_of(st.floats(-10, 10), st.just(float("nan"))),
                                min_size=g * n_groups, max_size=g * n_groups))
    r = np.array(values, dtype=np.float64)
    a = advantages.compute(name, r, group_size=g)
    a = np.where(np.isnan(r), np.nan, a).reshape(-1, g)
    valid = ~np.isnan(a).all(axis=1)
    if valid.any():
        np.testing.assert_allclose(np.nanmean(a[valid], axis=1), 0.0, atol=1e-9 * max(1.0, np.nanmax(np.abs(a))))


def test_advantage_reward_refuses_an_async_source():
    async def judge(prompts, completions, **kw):
        return [1.0] * len(completions)

    with pytest.raises(ValueError, match="async reward function cannot be wrapped"):
        rt.advantage_reward(judge, "rank", num_generations=2)


def test_advantage_reward_wraps_a_plain_trl_reward_function():
    def length_reward(prompts, completions, **kw):
        return [float(len(c)) if c else None for c in completions]

    adv = rt.advantage_reward(length_reward, "rloo", num_generations=3)
    out = adv(prompts=["p"] * 3 + ["q"] * 3, completions=["a", "bbb", "cc", "", "dd", "eeee"])
    np.testing.assert_allclose(out[:3], advantages.rloo(np.array([1.0, 3.0, 2.0]), group_size=3))
    assert out[3] is None
    np.testing.assert_allclose(out[4:], [-2.0, 2.0])


# --------------------------------------------------------------------------- config check


def _args(**kw):
    from trl import GRPOConfig

    base = dict(output_dir="/tmp/rs-trl-check", per_device_train_batch_size=8, num_generations=4,
                scale_rewards="none", use_cpu=True, report_to=[])
    base.update(kw)
    return GRPOConfig(**base)


def test_check_trl_config_accepts_the_documented_setup(seed_rules):
    adv = rt.advantage_reward(seed_rules, "rank", num_generations=4)
    funcs = [adv, *rt.reward_funcs(seed_rules, per_rule=True)]
    rt.check_trl_config(_args(reward_weights=rt.reward_weights(funcs)), funcs)
    rt.check_trl_config(_args(), [adv])


@pytest.mark.parametrize(
    "kw, funcs_extra, match",
    [
        ({"scale_rewards": "group"}, False, "scale_rewards: 'group'"),
        ({"scale_rewards": "batch"}, False, "scale_rewards: 'batch'"),
        ({"multi_objective_aggregation": "normalize_then_sum"}, False, "multi_objective_aggregation"),
        ({"num_generations": 8}, False, "num_generations: the trainer uses 8"),
        ({}, True, r"reward_weights\[1\] \(rs_total\): 1.0; expected 0.0"),
    ],
)
def test_check_trl_config_refuses(seed_rules, kw, funcs_extra, match):
    adv = rt.advantage_reward(seed_rules, "rank", num_generations=4)
    funcs = [adv, *rt.reward_funcs(seed_rules)] if funcs_extra else [adv]
    with pytest.raises(ValueError, match=match):
        rt.check_trl_config(_args(**kw), funcs)


def test_check_trl_config_refuses_groups_split_across_processes(seed_rules):
    # 2 processes x 3 per device x 2 steps = 12 = 3 groups of 4 globally (TRL accepts it), but each
    # process scores 6 completions: one group would be split between the two processes
    from types import SimpleNamespace

    args = SimpleNamespace(scale_rewards="none", multi_objective_aggregation="sum_then_normalize",
                           reward_weights=None, num_generations=4, num_generations_eval=None,
                           per_device_train_batch_size=3, steps_per_generation=2)
    adv = rt.advantage_reward(seed_rules, "rank", num_generations=4)
    with pytest.raises(ValueError, match="3 \\* 2 = 6 is not a multiple of num_generations=4"):
        rt.check_trl_config(args, [adv])


def test_check_trl_config_refuses_counting_the_reward_twice(seed_rules):
    funcs = rt.reward_funcs(seed_rules, per_rule=True)
    with pytest.raises(ValueError, match="counts the reward twice"):
        rt.check_trl_config(_args(), funcs)  # default weights: all 1.0
    rt.check_trl_config(_args(reward_weights=rt.reward_weights(funcs)), funcs)


def test_trl_estimator_reproduces_trls_own_advantage():
    import torch

    r = np.array([1.0, -0.5, -2.0, -2.0, 1.0, 1.0, 1.0, -0.5])
    name, opts = rt.trl_estimator(_args(scale_rewards="group"))
    t = torch.tensor(r, dtype=torch.float32).view(-1, 4)
    trl = ((t - t.mean(1, keepdim=True)) / (t.std(1, keepdim=True) + 1e-4)).flatten().numpy()
    np.testing.assert_allclose(advantages.compute(name, r, group_size=4, **opts), trl, atol=1e-5)
    assert rt.trl_estimator(_args(scale_rewards="none"))[0] == "dr_grpo"


# --------------------------------------------------------------------------- monitor and callback


def test_monitor_metrics_and_informational_detectors_never_alarm(table_scorer):
    from transformers import TrainerControl, TrainerState

    sc = table_scorer({"a": 1.0, "b": -1.0})
    (total,) = rt.reward_funcs(sc, answer_column=None, num_generations=2)
    mon = rt.monitor_of(total)
    mon.collapse.correct_label = "good"
    cb = rt.RewardsmithCallback([total], stop_on_collapse=True)
    state, control = TrainerState(), TrainerControl()
    logged: dict[str, list] = {}

    def log_metric(k, v):
        logged.setdefault(k, []).append(v)

    total(prompts=["p", "p", "q", "q"], completions=["a", "b", "b", "a"], log_metric=log_metric)
    assert logged["rewardsmith/label/good"] == [0.5]
    assert logged["rewardsmith/adv/zero_variance_frac"] == [0.0]
    assert logged["rewardsmith/collapse/alarm"] == [0.0]
    # batches where every group is constant and identical and all right: the informational
    # detectors fire, but a policy that is 100% right is not collapsed and raises no alarm
    for _ in range(8):
        total(prompts=["p", "p", "q", "q"], completions=["a", "a", "a", "a"], log_metric=log_metric)
    assert logged["rewardsmith/collapse/no_signal"][-2:] == [1.0, 1.0]
    assert logged["rewardsmith/collapse/label_collapse"][-1] == 1.0
    assert logged["rewardsmith/collapse/group_distinct_frac"][-1] == 0.5
    assert logged["rewardsmith/collapse/top_skeleton_share"][:2] == [0.5, 1.0]
    assert set(logged["rewardsmith/collapse/template_collapse"]) == {0.0}
    assert set(logged["rewardsmith/collapse/alarm"]) == {0.0} and not mon.alarms
    control = cb.on_log(None, state, control, logs={})
    assert not control.should_training_stop and cb.alarms == []
    # without log_metric the metrics wait for the callback, which adds them to the log
    total(prompts=["p", "p"], completions=["a", "b"])
    logs = {}
    cb.on_log(None, state, TrainerControl(), logs=logs)
    assert logs["rewardsmith/label/good"] == 0.5 and logs["rewardsmith/collapse/alarm"] == 0.0


def _arith_batch(rng, n_prompts, g, kind):
    """n_prompts x g completions of the seed's arithmetic format, with their gold answers.

    kind "start": a stage-1 policy (mostly broken format, some wrong, few right, many shapes);
    "converged": the right answer in one honest format (94% right); "fixed": ``<answer>11</answer>``
    whatever the problem."""
    prompts, comps, answers = [], [], []
    for i in range(n_prompts):
        a, b = rng.integers(10, 99, size=2)
        gold = str(a + b)
        for _ in range(g):
            u = rng.random()
            if kind == "fixed":
                text = "<think>1</think><answer>11</answer>"
            elif kind == "converged":
                ans = gold if u < 0.94 else str(a + b + 1)
                text = f"<think>{ans[::-1]}</think><answer>{ans}</answer>"
            elif u < 0.15:
                text = f"<think>{gold[::-1]}</think><answer>{gold}</answer>"
            elif u < 0.3:
                text = f"<think>{a}+{b}</think><answer>{a + b + int(rng.integers(1, 9))}</answer>"
            else:
                text = rng.choice([f"{a + b}", f"the sum is {gold}", f"<answer>{gold}", f"<think>{a}</think> {b}",
                                   f"{a}+{b}={gold} i think", f"<answer>{a}</answer> or {b}"])
            prompts.append(f"{a}+{b}=#{i}")
            comps.append(text)
            answers.append(gold)
    return dict(prompts=prompts, completions=comps, answer=answers)


def _run_monitor(seed_rules, kinds, seed=0, patience=2):
    (total,) = rt.reward_funcs(seed_rules, num_generations=8)
    mon = rt.monitor_of(total)
    mon.reset()  # one binding per rule set: forget the previous test's batches, as on_train_begin does
    mon.collapse.patience = patience
    rng = np.random.default_rng(seed)
    logged: dict[str, list] = {}
    for kind in kinds:
        total(**_arith_batch(rng, 4, 8, kind), log_metric=lambda k, v: logged.setdefault(k, []).append(v))
    return total, mon, logged


def test_collapse_alarm_is_the_shared_verdict(seed_rules):
    from transformers import TrainerControl, TrainerState

    from rewardsmith.train.collapse import RULE

    # the issue's SmolLM2 case: 94% right in one honest format, one template in the whole batch
    _, mon, logged = _run_monitor(seed_rules, ["start"] * 3 + ["converged"] * 12)
    assert logged["rewardsmith/collapse/top_skeleton_share"][-1] >= 0.9
    assert logged["rewardsmith/collapse/template_signs"][-1] == 1.0
    assert logged["rewardsmith/label/correct"][-1] >= 0.8
    assert set(logged["rewardsmith/collapse/template_collapse"]) == {0.0} and not mon.alarms
    assert "mostly right" in mon.verdict.reason
    # a policy that answers one fixed number whatever the problem: collapsed, alarm, stop
    total, mon, logged = _run_monitor(seed_rules, ["start"] * 3 + ["fixed"] * 12)
    tc = logged["rewardsmith/collapse/template_collapse"]
    too_short = RULE.start_steps + RULE.min_end_steps - 1  # batches before two separate windows exist
    assert tc[:too_short] == [0.0] * too_short
    assert tc[-1] == 1.0 and logged["rewardsmith/collapse/alarm"][-1] == 1.0
    first = tc.index(1.0)
    assert logged["rewardsmith/collapse/alarm"][first] == 0.0  # patience 2: the batch after
    assert mon.alarms == {"template_collapse"} and mon.verdict.collapsed
    cb = rt.RewardsmithCallback([total], stop_on_collapse=True, check=False)
    control = cb.on_log(None, TrainerState(global_step=15), TrainerControl(), logs={})
    assert control.should_training_stop and cb.alarms == [(15, "template_collapse")]


@pytest.mark.parametrize("seed", range(5))
def test_a_policy_that_does_not_change_never_raises_the_alarm(seed_rules, seed):
    _, mon, logged = _run_monitor(seed_rules, ["start"] * 40, seed=seed, patience=1)
    assert set(logged["rewardsmith/collapse/template_collapse"]) == {0.0}
    assert max(logged["rewardsmith/collapse/top_skeleton_share"]) < 0.5  # far from the template share
    assert not mon.alarms


# --------------------------------------------------------------------------- a real GRPOTrainer


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


def _trainer(out_dir, funcs, callbacks, **cfg):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    model, tok = _tiny_model_and_tokenizer()
    ds = Dataset.from_dict({"prompt": ["ab", "bc", "ca", "x0"] * 4, "answer": ["1", "2", "3", "0"] * 4})
    base = dict(output_dir=str(out_dir), per_device_train_batch_size=8, num_generations=4,
                max_completion_length=8, max_steps=3, logging_steps=1, report_to=[], use_cpu=True,
                save_strategy="no", disable_tqdm=True, seed=0, scale_rewards="none",
                reward_weights=rt.reward_weights(funcs))
    base.update(cfg)
    return GRPOTrainer(model=model, reward_funcs=funcs, args=GRPOConfig(**base), train_dataset=ds,
                       processing_class=tok, callbacks=callbacks)


@pytest.mark.slow
def test_grpo_trainer_trains_on_our_rank_advantages(tmp_path):
    from rewardsmith.rules import load_rules

    rules = load_rules(TINY_RULES)
    adv = rt.advantage_reward(rules, "rank", num_generations=4)
    funcs = [adv, *rt.reward_funcs(rules, per_rule=True), *rt.reward_funcs(rules, asynchronous=True, log_metrics=False)[:1]]
    cb = rt.RewardsmithCallback(funcs)
    trainer = _trainer(tmp_path, funcs, [cb])
    gen_batches, loss_advs = [], []
    orig_gen, orig_loss = trainer._generate_and_score_completions, trainer._compute_loss

    def gen(batch):  # TRL's advantages for the batch, in generation order, and its inputs
        out = orig_gen(batch)
        n = len(batch)
        completions = list(trainer._logs["completion"])[-n:]
        gen_batches.append((out["advantages"].clone(), completions, [x["answer"] for x in batch], adv.last))
        return out

    def loss(model, inputs):  # the advantages the policy-gradient loss actually multiplies
        loss_advs.append(inputs["advantages"].detach().clone())
        return orig_loss(model, inputs)

    trainer._generate_and_score_completions = gen
    trainer._compute_loss = loss
    trainer.train()

    assert len(gen_batches) == 3 and len(loss_advs) == 3
    informative = differs = 0
    for (trl_adv, completions, answers, last), used in zip(gen_batches, loss_advs):
        # ours, recomputed independently from the completions TRL generated
        scored = rules.score_batch(completions, answers, workers=0)
        ours = advantages.compute("rank", scored.rewards, group_size=4)
        np.testing.assert_allclose(trl_adv.numpy(), ours, atol=1e-6)
        np.testing.assert_allclose(last["advantages"], ours, atol=1e-12)
        # the loss sees the same advantages (TRL shuffles the batch before splitting it)
        np.testing.assert_allclose(np.sort(used.numpy()), np.sort(ours), atol=1e-6)
        informative += int(np.abs(ours).max() > 0)
        # and they differ from what TRL's default (grpo, Bessel std) would have used
        if np.unique(np.round(scored.rewards, 6)).size > 2:
            trl_default = advantages.compute("grpo", scored.rewards, group_size=4, ddof=1, eps=1e-4)
            assert not np.allclose(trl_default, ours, atol=1e-3)
            differs += 1
    assert informative >= 2 and differs >= 1  # the check compared real, non-trivial advantages
    history = [h for h in trainer.state.log_history if "rewardsmith/reward_mean" in h]
    assert len(history) == 3
    assert {"rewardsmith/label/correct", "rewardsmith/label/bad_format", "rewardsmith/adv/distinct_advantages",
            "rewardsmith/collapse/alarm", "rewards/rs_total/mean", "rewards/rs_tier/mean"} <= set(history[0])
    fr = sum(history[0][f"rewardsmith/label/{k}"] for k in rules.labels)
    assert fr == pytest.approx(1.0)
    # our label and reward are columns of TRL's completions table, aligned with its completions
    assert list(trainer._logs["extra"]["rs_label"])[-8:] == adv.last["labels"]
    np.testing.assert_allclose(list(trainer._logs["extra"]["rs_reward"])[-8:], adv.last["rewards"])


@pytest.mark.slow
def test_grpo_trainer_refuses_scale_rewards_group_with_our_advantages(tmp_path):
    from rewardsmith.rules import load_rules

    rules = load_rules(TINY_RULES)
    funcs = [rt.advantage_reward(rules, "rloo", num_generations=4)]
    trainer = _trainer(tmp_path, funcs, [rt.RewardsmithCallback(funcs)], scale_rewards="group")
    with pytest.raises(ValueError, match="scale_rewards: 'group' would divide the rloo advantages"):
        trainer.train()


def test_a_new_advantage_reward_takes_over_its_rule_sets_monitor(seed_rules):
    (total,) = rt.reward_funcs(seed_rules)
    first = rt.advantage_reward(seed_rules, "rank", num_generations=2)
    second = rt.advantage_reward(seed_rules, "rloo", num_generations=2)  # e.g. a second run in a notebook
    assert rt.monitor_of(total) is second.monitor is rt.monitor_of(first)
    assert second.monitor.estimator == "rloo" and rt.monitor_of(len) is None
    out = second(prompts=["p", "p"], completions=[CORRECT, WRONG], answer=["4", "4"])
    assert out == [1.5, -1.5]  # rloo: each minus the other's reward, 1 - (-0.5)
    assert second.monitor.history[-1]["rewardsmith/adv/adv_max"] == 1.5


def _score_group_in_child(funcs_blob, kwargs):
    """What AsyncGRPOTrainer's rollout worker does in its spawned process: unpickle the reward
    functions, run them with asyncio.gather (sync ones through asyncio.to_thread)."""
    import pickle

    from trl.trainer.utils import is_async_callable

    funcs = pickle.loads(funcs_blob)

    async def run():
        return await asyncio.gather(*[f(**kwargs) if is_async_callable(f) else asyncio.to_thread(f, **kwargs)
                                      for f in funcs])

    return [f.__name__ for f in funcs], asyncio.run(run())


@pytest.mark.slow
def test_reward_funcs_pickle_into_a_spawned_process_like_async_grpo(seed_rules):
    import multiprocessing as mp
    import pickle

    funcs = [*rt.reward_funcs(seed_rules), *rt.reward_funcs(seed_rules, asynchronous=True, answer_column="gold")]
    kwargs = dict(prompts=["p"] * 3, completions=[CORRECT, WRONG, _chat(JUNK)], completion_ids=[[1]] * 3,
                  answer=["4"] * 3, gold=["5"] * 3)
    with mp.get_context("spawn").Pool(1) as pool:
        names, results = pool.apply(_score_group_in_child, (pickle.dumps(funcs), kwargs))
    assert names == ["rs_total", "rs_total"]
    assert results == [[1.0, -0.5, -2.0], [-0.5, 1.0, -2.0]]
    adv = pickle.loads(pickle.dumps(rt.advantage_reward(seed_rules, "rank", num_generations=3)))
    assert adv(**kwargs) == [1.0, 0.0, -1.0] and adv.monitor.estimator == "rank"


def test_check_refuses_what_async_grpo_would_renormalize_or_double_count(seed_rules):
    from trl.experimental.async_grpo import AsyncGRPOConfig

    args = AsyncGRPOConfig(output_dir="/tmp/rs-trl-check", use_cpu=True, report_to=[])
    rt.check_trl_config(args, rt.reward_funcs(seed_rules))
    with pytest.raises(ValueError, match="AsyncGRPOTrainer z-scores each group"):
        rt.check_trl_config(args, [rt.advantage_reward(seed_rules, "rank", num_generations=8)])
    with pytest.raises(ValueError, match="without weights, so per-rule components would count the reward twice"):
        rt.check_trl_config(args, rt.reward_funcs(seed_rules, per_rule=True))
