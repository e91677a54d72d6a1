"""The smoothing study (rewardsmith.smoothing) and its figures (rewardsmith.report.stages)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rewardsmith import smoothing as S
from rewardsmith.report import stages as R


def grpo_by_hand(tiers, counts, ddof=0, eps=1e-6):
    """Independent recomputation: (r_k - mean) / (std + eps) from the counts alone."""
    t = np.asarray(tiers, float)
    c = np.asarray(counts, float)
    n = c.sum()
    mean = (c * t).sum() / n
    var = (c * (t - mean) ** 2).sum() / (n - ddof)
    return (t - mean) / (math.sqrt(var) + eps)


# ----------------------------------------------------------------------------- stages


def test_seed_numbers_population_std():
    study = S.study_stages()
    assert [s.counts for s in study.stages] == [(1, 9, 90), (1, 49, 50), (49, 50, 1), (90, 9, 1)]
    s1, s4 = study.stages[0], study.stages[3]
    assert round(s1.tier_advantage[0], 2) == 5.50
    assert s1.tier_advantage[0] == pytest.approx(5.504324869962375, rel=1e-9)
    assert round(s4.tier_advantage[2], 2) == -5.50
    assert s1.normalized_max == pytest.approx(s1.tier_advantage[0])
    assert s4.normalized_min == pytest.approx(s4.tier_advantage[2])
    assert study.pooled_raw_values.tolist() == [-2.0, -0.5, 1.0]
    assert study.pooled_normalized_values.size == 12
    assert int(study.pooled_normalized_counts.sum()) == 400
    d = study.to_dict()
    assert d["pooled"]["distinct_raw"] == 3 and d["pooled"]["distinct_normalized"] == 12
    assert d["ddof"] == 0 and d["eps"] == 1e-6


@pytest.mark.parametrize("ddof,eps", [(0, 1e-6), (1, 1e-6), (1, 1e-4), (0, 0.0)])
def test_stages_match_independent_formula(ddof, eps):
    study = S.study_stages(ddof=ddof, eps=eps)
    for s in study.stages:
        want = grpo_by_hand(S.DEFAULT_TIERS, s.counts, ddof, eps)
        np.testing.assert_allclose(s.tier_advantage, want, rtol=1e-12)
        np.testing.assert_allclose(s.normalized_values, np.sort(want), rtol=1e-8)
        assert s.std == pytest.approx(
            np.std(S.stage_rewards(S.DEFAULT_TIERS, s.counts), ddof=ddof)
        )


def test_trl_numbers_bessel_std():
    # TRL: torch.std (ddof=1) and eps=1e-4 -> 5.4757; ddof=1 with eps=1e-6 -> 5.4767: both 5.48.
    trl = S.study_stages(ddof=1, eps=1e-4).stages[0].tier_advantage[0]
    assert trl == pytest.approx(5.475686917883133, rel=1e-9)
    tiny = S.study_stages(ddof=1).stages[0].tier_advantage[0]
    assert tiny == pytest.approx(5.47673414866674, rel=1e-9)
    assert round(trl, 2) == round(tiny, 2) == 5.48
    assert round(S.study_stages(ddof=1).stages[3].tier_advantage[2], 2) == -5.48


def test_other_estimators_and_absent_tier():
    dr = S.study_stages(estimator="dr_grpo")
    assert dr.options == {}
    assert dr.to_dict()["ddof"] is None
    assert dr.stages[0].tier_advantage[0] == pytest.approx(1.0 - (-1.835))
    rloo = S.study_stages(estimator="rloo")
    assert rloo.stages[0].tier_advantage[0] == pytest.approx(100 / 99 * 2.835)
    rk = S.study_stages(estimator="rank")
    assert np.all(np.abs(np.concatenate([s.tier_advantage for s in rk.stages])) <= 1.0)
    raw = S.study_stages(estimator="raw")
    assert raw.pooled_normalized_values.tolist() == [-2.0, -0.5, 1.0]
    st = S.study_stages(stages=[(0, 50, 50), (3, 3, 94)])
    a = st.stages[0].tier_advantage
    assert math.isnan(a[0]) and a[1] == pytest.approx(1.0, abs=1e-5) and a[2] == pytest.approx(-1.0, abs=1e-5)
    assert st.to_dict()["stages"][0]["advantage"]["correct"] is None
    assert st.stages[1].tier_advantage[1] == pytest.approx(2.41573574776495, rel=1e-9)


def test_custom_tiers_and_labels():
    st = S.study_stages(tiers=(1.0, 0.0), stages=[(3, 1)], labels=("pass", "fail"))
    assert st.labels == ("pass", "fail")
    np.testing.assert_allclose(st.stages[0].tier_advantage, grpo_by_hand((1, 0), (3, 1)))
    assert S.validate_tiers((2.0, 1.0, 0.0, -1.0))[1] == ("tier1", "tier2", "tier3", "tier4")


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: S.parse_counts("1,x,90"), r"cannot parse 'x' in '1,x,90'"),
        (lambda: S.parse_counts("1,-9,90"), r"non-negative counts, got -9"),
        (lambda: S.parse_counts("1,0,0"), r"at least 2 samples, got 1"),
        (lambda: S.parse_floats("1,abc"), r"tiers: cannot parse 'abc'"),
        (lambda: S.parse_floats("1,nan"), r"finite"),
        (lambda: S.study_stages(estimator="ppo"), r"^estimator: expected one of .*, got 'ppo' \(unknown name\)"),
        (lambda: S.study_stages(ddof=2), r"ddof: expected 0 .* got 2"),
        (lambda: S.study_stages(eps=-1.0), r"eps: expected"),
        (lambda: S.study_stages(stages=[(1, 9)]), r"stage 1: expected 3 counts"),
        (lambda: S.study_stages(stages=[]), r"at least one stage"),
        (lambda: S.study_stages(tiers=(1.0, 1.0, -2.0)), r"distinct"),
        (lambda: S.study_stages(labels=("a", "b")), r"labels: expected 3 labels"),
        (lambda: S.simplex_map(tiers=(1.0, 0.0)), r"exactly 3 tiers"),
        (lambda: S.simplex_map(group_size=1), r"group_size: expected an integer from 2"),
        (lambda: S.simplex_map(group_size=10).lookup((1, 1, 1)), r"not a mix"),
    ],
)
def test_bad_input_names_value(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------------- simplex


def test_simplex_mixes_cover_the_simplex():
    m = S.simplex_mixes(7)
    assert m.shape == (36, 3)
    assert np.all(m.sum(axis=1) == 7) and np.all(m >= 0)
    assert len({tuple(r) for r in m.tolist()}) == 36


def test_simplex_grpo_wrong_answer_positive_where_bad_outnumbers_correct():
    sm = S.simplex_map()
    assert sm.counts.shape == (5151, 3)
    a = sm.lookup((3, 3, 94))
    np.testing.assert_allclose(a, grpo_by_hand(S.DEFAULT_TIERS, (3, 3, 94)), rtol=1e-12)
    assert round(a[1], 1) == 2.4
    c = sm.counts
    expected = (c[:, 2] > c[:, 0]) & (c[:, 1] > 0)
    np.testing.assert_array_equal(sm.positive(1), expected)
    assert int(expected.sum()) == 2500
    summ = sm.summary()
    assert summ["tiers"]["wrong_answer"]["n_positive"] == 2500
    assert summ["tiers"]["wrong_answer"]["n_mixes_present"] == 5050
    assert summ["middle_tier_positive_fraction"] == pytest.approx(2500 / 5050)
    assert summ["tiers"]["wrong_answer"]["max"] == pytest.approx(math.sqrt(99), rel=1e-5)
    assert summ["tiers"]["wrong_answer"]["argmax_counts"] == [0, 1, 99]
    # the correct answer is never pushed down, bad format never up
    assert summ["tiers"]["correct"]["min"] == 0.0 and summ["tiers"]["bad_format"]["max"] == 0.0
    # a tier absent from the mix has no advantage
    assert np.all(np.isnan(sm.advantage[c[:, 1] == 0, 1]))
    # spot-check random mixes against the formula
    rng = np.random.default_rng(0)
    for i in rng.choice(len(c), 25, replace=False):
        want = grpo_by_hand(S.DEFAULT_TIERS, c[i])
        got = sm.advantage[i]
        ok = c[i] > 0
        if np.ptp(np.asarray(S.DEFAULT_TIERS)[ok]) == 0:
            assert np.all(got[ok] == 0.0)
        else:
            np.testing.assert_allclose(got[ok], want[ok], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("est", ["dr_grpo", "rloo", "batch_std", "rank"])
def test_simplex_same_sign_region_for_other_baselines(est):
    sm = S.simplex_map(group_size=30, estimator=est)
    c = sm.counts
    np.testing.assert_array_equal(sm.positive(1), (c[:, 2] > c[:, 0]) & (c[:, 1] > 0))


def test_simplex_batch_std_is_grpo_when_each_mix_is_its_own_batch():
    g = S.simplex_map(group_size=20, ddof=1, eps=1e-4)
    b = S.simplex_map(group_size=20, estimator="batch_std", ddof=1, eps=1e-4)
    np.testing.assert_allclose(b.advantage, g.advantage, rtol=1e-10, atol=1e-12)


def test_simplex_to_dict_rows():
    d = S.simplex_map(group_size=4).to_dict()
    assert len(d["grid"]) == 15
    row = next(r for r in d["grid"] if r["counts"] == [1, 1, 2])
    np.testing.assert_allclose(
        [row["advantage"][k] for k in S.DEFAULT_LABELS], grpo_by_hand(S.DEFAULT_TIERS, (1, 1, 2))
    )
    assert next(r for r in d["grid"] if r["counts"] == [0, 2, 2])["advantage"]["correct"] is None


# ----------------------------------------------------------------------------- figures


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [
        ax.get_title(loc="left") + ax.get_title() for ax in fig.axes
    ]


def test_stages_figure_shows_the_printed_numbers(tmp_path):
    study = S.study_stages()
    fig = R.stages_figure(study)
    texts = "\n".join(_texts(fig))
    for s in study.stages:
        for a, c in zip(s.tier_advantage, s.counts):
            assert f"{R.fmt_adv(a)}\nn={c}" in texts
    for v in study.pooled_normalized_values:
        assert R.fmt_adv(v) in texts
    assert "12 distinct normalized values" in texts
    assert "Group normalization turns 3 rule rewards into 12 advantages" in fig._suptitle.get_text()
    p = R.save_figure(fig, tmp_path / "s.png")
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simplex_figure_has_zero_contour_and_stage_values(tmp_path):
    sm = S.simplex_map(group_size=100)
    fig = R.simplex_figure(sm)
    wrong_ax = fig.axes[1]
    texts = [t.get_text() for t in wrong_ax.texts]
    assert "A = 0" in texts
    assert "S1 +2.59" in texts and "S4 -2.59" in texts
    assert any(t.startswith("A > 0 here") for t in texts)
    assert "2500 of the 5050" in fig._suptitle.get_text()
    # only the wrong-answer panel changes sign, so only it carries a contour label
    assert "A = 0" not in [t.get_text() for t in fig.axes[0].texts]
    p = R.save_figure(fig, tmp_path / "m.png")
    assert p.stat().st_size > 10_000
