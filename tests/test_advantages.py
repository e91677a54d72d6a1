"""Tests for rewardsmith.advantages: every estimator against its readable per-group loop (reference.py),
the edge cases of issue #2, the seed's numbers, diagnostics, and the native torch path."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardsmith import advantages as A
from rewardsmith.advantages import fast_numpy

torch = pytest.importorskip("torch")

NAMES = ["raw", "grpo", "dr_grpo", "rloo", "batch_std", "rank"]
NORMALIZING = [n for n in NAMES if n != "raw"]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


# ----------------------------------------------------------------------------------------------
# The reference: the package's plain per-group loops (advantages/reference.py)
# ----------------------------------------------------------------------------------------------


def reference(name, rewards, groups, ddof=0, eps=1e-6):
    """Advantages by the readable loop over groups, for group ids ``groups``."""
    kw = {"ddof": ddof, "eps": eps} if name in ("grpo", "batch_std") else {}
    return A.reference.ESTIMATORS[name](rewards, groups=groups, **kw)


def ids_of(n, group_size):
    return [i // group_size for i in range(n)]


def assert_close(got, want, dtype):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(want))) if want.size else 1.0)
    if dtype in (np.float32, torch.float32):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5 * scale)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * scale)


def random_batch(rng, kind, n_groups, g, nan_frac=0.0):
    n = n_groups * g
    if kind == "tiers":
        r = rng.choice([1.0, -0.5, -2.0], size=n, p=[0.3, 0.3, 0.4])
    elif kind == "binary":
        r = rng.choice([0.0, 1.0], size=n, p=[0.7, 0.3])
    else:
        r = rng.normal(0.3, 2.0, size=n)
    if nan_frac:
        r[rng.random(n) < nan_frac] = np.nan
    return r


# ----------------------------------------------------------------------------------------------
# Agreement with the reference: seeded random batches, both grouping forms, numpy and torch
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["tiers", "binary", "normal"])
@pytest.mark.parametrize("nan_frac", [0.0, 0.1])
def test_group_size_matches_reference(name, dtype, kind, nan_frac):
    rng = np.random.default_rng(zlib.crc32(repr((name, kind, nan_frac)).encode()))
    for g in (1, 2, 3, 8, 16):
        r = random_batch(rng, kind, 40, g, nan_frac).astype(dtype)
        got = A.compute(name, r, group_size=g)
        assert isinstance(got, np.ndarray) and got.dtype == dtype and got.shape == r.shape
        assert_close(got, reference(name, r, ids_of(r.size, g)), dtype)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("block", [8, 24, 40])
def test_blocked_fast_path_matches_reference(name, dtype, block, monkeypatch):
    """Small blocks: NaN-free blocks, NaN blocks and ill-conditioned blocks side by side."""
    monkeypatch.setattr(fast_numpy, "_BLOCK", block)
    rng = np.random.default_rng(block)
    r = random_batch(rng, "tiers", 60, 4)
    r[20:24] = 1000.0 + np.array([0.0, 1.0, 2.0, 3.0]) * 2.0**-13  # |mean| / std ~ 1e7
    r[[45, 46, 47, 130]] = np.nan
    r[100:104] = 0.1  # constant
    r = r.astype(dtype)
    got = A.compute(name, r, group_size=4)
    assert_close(got, reference(name, r, ids_of(r.size, 4)), dtype)
    assert np.all(got[100:104] == 0.0) or name == "raw"
    with pytest.raises(ValueError, match=r"rewards\[201\]"):
        A.compute(name, np.where(np.arange(r.size) == 201, np.inf, r), group_size=4)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["tiers", "normal"])
@pytest.mark.parametrize("nan_frac", [0.0, 0.1])
def test_shuffled_ids_match_reference(name, dtype, kind, nan_frac):
    rng = np.random.default_rng(zlib.crc32(repr((name, kind, nan_frac, 1)).encode()))
    sizes = rng.integers(1, 12, size=50)  # unequal sizes, singletons included
    ids = rng.permutation(np.repeat(rng.permutation(1000)[:50] * 7 - 300, sizes))  # negative too
    r = random_batch(rng, kind, 1, ids.size, nan_frac).astype(dtype)
    got = A.compute(name, r, groups=ids)
    assert got.dtype == dtype
    assert_close(got, reference(name, r, ids.tolist()), dtype)
    # small non-negative ids (the no-sort bincount path) give the same answer
    small = np.unique(ids, return_inverse=True)[1].reshape(-1)
    np.testing.assert_array_equal(A.compute(name, r, groups=small), got)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("ddof,eps", [(0, 1e-6), (1, 1e-4), (1, 0.0), (0, 0.5)])
def test_options_match_reference(name, ddof, eps):
    rng = np.random.default_rng(7)
    r = random_batch(rng, "normal", 30, 6, 0.05)
    kw = {"ddof": ddof, "eps": eps} if name in ("grpo", "batch_std") else {}
    got = A.compute(name, r, group_size=6, **kw)
    assert_close(got, reference(name, r, ids_of(r.size, 6), ddof=ddof, eps=eps), np.float64)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("form", ["group_size", "ids"])
@pytest.mark.parametrize("device", DEVICES)
def test_torch_in_torch_out(name, dtype, form, device):
    rng = np.random.default_rng(3)
    r_np = random_batch(rng, "tiers", 25, 8, 0.1)
    r_np[:8] = 0.1  # one constant group
    r = torch.tensor(r_np, dtype=dtype, device=device)
    if form == "group_size":
        got, groups = A.compute(name, r, group_size=8), ids_of(r_np.size, 8)
    else:
        ids = rng.permutation(np.repeat(np.arange(25) * 3, 8))
        got, groups = A.compute(name, r, groups=torch.tensor(ids, device=device)), ids.tolist()
    assert isinstance(got, torch.Tensor)
    assert got.dtype == dtype and got.device == r.device and got.shape == r.shape
    want = reference(name, r.cpu().double().numpy(), groups)
    assert_close(got.cpu().double().numpy(), want, dtype)
    if name != "raw" and form == "group_size":
        assert torch.all(got[:8] == 0)  # the constant group of 0.1, exactly


@pytest.mark.parametrize("name", NAMES)
def test_torch_path_is_native(name, monkeypatch):
    """torch in: computed with torch ops, never through numpy or a host copy."""
    r = torch.tensor([1.0, -0.5, -2.0, float("nan"), 1.0, 1.0, 1.0, -2.0], dtype=torch.float32)
    want = A.compute(name, r.numpy(), group_size=4)

    def forbidden(*args, **kwargs):
        raise AssertionError("torch path left the device")

    monkeypatch.setattr(torch.Tensor, "numpy", forbidden)
    monkeypatch.setattr(torch.Tensor, "cpu", forbidden)
    got = A.compute(name, r, group_size=4)
    got_ids = A.compute(name, r, groups=torch.tensor([5, 5, 5, 5, 2, 2, 2, 2]))
    monkeypatch.undo()
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got_ids.numpy(), want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", NORMALIZING)
def test_half_precision_in_half_out(name):
    rng = np.random.default_rng(2)
    r = random_batch(rng, "tiers", 16, 8).astype(np.float16)
    r[:8] = np.float16(0.1)
    want = reference(name, r, ids_of(r.size, 8))
    for x, to_np in ((r, np.asarray), (torch.from_numpy(r), lambda t: t.numpy()),
                     (torch.from_numpy(r).bfloat16(), lambda t: t.float().numpy())):
        got = A.compute(name, x, group_size=8)
        assert got.dtype == x.dtype
        np.testing.assert_allclose(to_np(got).astype(np.float64), want, rtol=2e-2, atol=2e-2)
        assert np.all(to_np(got)[:8] == 0)


def test_numpy_groups_with_torch_rewards_and_back():
    r = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 0.0], dtype=torch.float64)
    got = A.grpo(r, groups=np.array([0, 0, 1, 1, 2, 2]))
    assert isinstance(got, torch.Tensor)
    np.testing.assert_allclose(got.numpy(), [1, -1, -1, 1, 1, -1], atol=1e-5)
    # integer rewards are accepted as float64
    np.testing.assert_allclose(A.grpo(np.array([1, 0, 0, 1]), group_size=2), [1, -1, -1, 1], atol=1e-5)


# ----------------------------------------------------------------------------------------------
# Hypothesis: arbitrary batches, both grouping forms, against the reference
# ----------------------------------------------------------------------------------------------

reward_values = st.one_of(
    st.sampled_from([1.0, -0.5, -2.0, 0.0, 0.1]),
    st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, width=32),
    st.just(float("nan")),
)


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    name=st.sampled_from(NAMES),
    dtype=st.sampled_from([np.float32, np.float64]),
    g=st.integers(1, 9),
    n_groups=st.integers(1, 6),
)
def test_property_group_size(data, name, dtype, g, n_groups):
    r = np.array(data.draw(st.lists(reward_values, min_size=g * n_groups, max_size=g * n_groups)))
    r = r.astype(dtype)
    got = A.compute(name, r, group_size=g)
    assert got.dtype == dtype
    assert np.all(np.isfinite(got))
    assert_close(got, reference(name, r, ids_of(r.size, g)), dtype)
    if name == "grpo":  # |A| <= sqrt(G - 1) under population std
        assert np.all(np.abs(got) <= math.sqrt(g - 1) + 1e-6)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.tuples(reward_values, st.integers(-3, 5)), min_size=1, max_size=40),
    name=st.sampled_from(NAMES),
    dtype=st.sampled_from([np.float32, np.float64]),
    use_torch=st.booleans(),
)
def test_property_ids(rows, name, dtype, use_torch):
    r = np.array([x for x, _ in rows], dtype=dtype)
    ids = np.array([g for _, g in rows])
    if use_torch:
        got = A.compute(name, torch.from_numpy(r), groups=torch.from_numpy(ids)).numpy()
    else:
        got = A.compute(name, r, groups=ids)
    assert got.dtype == dtype
    assert_close(got, reference(name, r, ids.tolist()), dtype)
    if name == "grpo":
        g_max = int(np.bincount(ids - ids.min()).max())
        assert np.all(np.abs(got) <= math.sqrt(g_max - 1) + 1e-6)


# ----------------------------------------------------------------------------------------------
# The reference itself: numbers worked by hand, and fast == reference on mixed random batches
# ----------------------------------------------------------------------------------------------


def test_reference_by_hand():
    R = A.reference
    seed = [1.0] + [-0.5] * 9 + [-2.0] * 90  # the seed's figure: +5.50; TRL's settings: +5.48
    assert R.grpo(seed, group_size=100)[0] == pytest.approx(5.50, abs=5e-3)
    assert R.grpo(seed, group_size=100, ddof=1, eps=1e-4)[0] == pytest.approx(5.48, abs=5e-3)
    np.testing.assert_allclose(R.dr_grpo([1, 0, 0, 0], group_size=4), [0.75, -0.25, -0.25, -0.25])
    np.testing.assert_allclose(R.rloo([1, 0, 0], group_size=3), [1.0, -0.5, -0.5])
    # ties share their average rank: ranks 0.5, 0.5, 2.5, 2.5 around the middle 1.5
    np.testing.assert_allclose(R.rank([0, 1, 0, 1], group_size=4), [-2 / 3, 2 / 3, -2 / 3, 2 / 3])
    # batch_std: the group's mean, the whole batch's std (population std of [1, 0, 3, 3] = 1.299)
    np.testing.assert_allclose(R.batch_std([1, 0, 3, 3], group_size=2, eps=0.0),
                               [0.5 / 1.299038, -0.5 / 1.299038, 0.0, 0.0], rtol=1e-6)
    nan = float("nan")
    for name in NORMALIZING:  # NaN -> 0 and out of the group; constant and singleton groups -> 0
        got = A.reference.ESTIMATORS[name]([2.0, nan, 2.0, 5.0, nan, 7.0], groups=[0, 0, 0, 1, 1, 2])
        np.testing.assert_array_equal(got, np.zeros(6))
    np.testing.assert_array_equal(R.raw([nan, -1.5], groups=[0, 0]), [0.0, -1.5])


def mixed_batch(rng, n_groups):
    """Groups of sizes 1..16 in shuffled order, tier rewards (ties), constant groups, NaNs."""
    sizes = rng.choice([1, 2, 3, 5, 8, 16], size=n_groups)
    parts = []
    for k, g in enumerate(sizes):
        if k % 4 == 0:
            parts.append(np.full(g, rng.choice([1.0, -0.5, 0.1])))  # zero variance
        elif k % 4 == 1:
            parts.append(rng.normal(0.3, 2.0, size=g))
        else:
            parts.append(rng.choice([1.0, -0.5, -2.0], size=g))  # ties
    r = np.concatenate(parts)
    ids = np.repeat(rng.permutation(10 * n_groups)[:n_groups], sizes)
    order = rng.permutation(r.size)
    r, ids = r[order], ids[order]
    r[rng.random(r.size) < 0.05] = np.nan
    return r, ids


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("options", [{}, {"ddof": 1, "eps": 1e-4}, {"ddof": 0, "eps": 0.0}])
def test_fast_equals_reference_on_mixed_groups(name, options):
    kw = options if name in ("grpo", "batch_std") else {}
    rng = np.random.default_rng(zlib.crc32(repr((name, options)).encode()))
    for n_groups in (1, 7, 60):
        r, ids = mixed_batch(rng, n_groups)
        want = A.reference.ESTIMATORS[name](r, groups=ids, **kw)
        for dtype in (np.float64, np.float32):
            x = r.astype(dtype)
            want_x = A.reference.ESTIMATORS[name](x, groups=ids, **kw)
            assert_close(A.compute(name, x, groups=ids, **kw), want_x, dtype)
        assert_close(A.compute(name, torch.from_numpy(r), groups=torch.from_numpy(ids), **kw).numpy(),
                     want, np.float64)
        # contiguous equal groups (the reshape fast path)
        g = 8
        rr = np.resize(r, g * max(1, r.size // g))
        assert_close(A.compute(name, rr, group_size=g, **kw),
                     A.reference.ESTIMATORS[name](rr, group_size=g, **kw), np.float64)


# ----------------------------------------------------------------------------------------------
# Edge cases of issue #2, one test each
# ----------------------------------------------------------------------------------------------


def verl_style_grpo(scores, eps=1e-6):
    """verl's compute_grpo_outcome_advantage for one group, as its loop does it (float32 torch)."""
    t = torch.tensor(scores, dtype=torch.float32)
    return ((t - torch.mean(t)) / (torch.std(torch.tensor(list(t))) + eps)).numpy()


@pytest.mark.parametrize("name", NORMALIZING)
def test_constant_group_is_exactly_zero_float32(name):
    r = np.full(8, 0.1, dtype=np.float32)
    naive = verl_style_grpo(r)
    assert np.any(naive != 0)  # the naive loop turns float noise into advantages
    for got in (
        A.compute(name, r, group_size=8),
        A.compute(name, r, groups=np.zeros(8, dtype=np.int64)),
        A.compute(name, torch.from_numpy(r), group_size=8).numpy(),
        A.compute(name, torch.from_numpy(r), groups=torch.zeros(8, dtype=torch.long)).numpy(),
    ):
        assert got.dtype == np.float32
        assert np.all(got == 0.0)


@pytest.mark.parametrize("name", NORMALIZING)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, torch.float32])
@pytest.mark.parametrize("g", [16, 100])
@pytest.mark.parametrize("eps", [1e-6, 0.0])
def test_constant_groups_exact_among_others(name, dtype, g, eps):
    rng = np.random.default_rng(11)
    vals = rng.normal(size=64)  # arbitrary 24/53-bit values, not round numbers
    vals[5] = 0.0  # a constant group of zeros too
    r = np.repeat(vals, g)  # 64 constant groups of g
    r[g : 2 * g] = rng.normal(size=g)  # one non-constant group
    const = np.ones(r.size, bool)
    const[g : 2 * g] = False
    r = torch.tensor(r, dtype=dtype) if dtype is torch.float32 else r.astype(dtype)
    kw = {"eps": eps} if name in ("grpo", "batch_std") else {}
    for grouping in ({"group_size": g}, {"groups": rng.permutation(64)[np.arange(64 * g) // g]}):
        got = np.asarray(A.compute(name, r, **grouping, **kw))
        assert np.all(got[const] == 0.0)
        assert np.all(np.isfinite(got)) and np.any(got[~const] != 0.0)


def test_eight_point_one_verl_value():
    """The issue's number: verl's loop gives about -7.4e-3 for eight float32 rewards of 0.1."""
    naive = verl_style_grpo([0.1] * 8)
    assert np.allclose(naive, naive[0]) and naive[0] == pytest.approx(-7.4e-3, abs=1e-4)
    assert np.all(A.grpo(np.full(8, 0.1, np.float32), group_size=8) == 0.0)


@pytest.mark.parametrize("name", NORMALIZING)
def test_group_of_one_gets_zero_and_is_counted(name):
    r = np.array([1.0, 0.5, -2.0, 1.0])
    ids = np.array([0, 1, 1, 2])  # groups 0 and 2 are singletons
    adv = A.compute(name, r, groups=ids)
    assert adv[0] == 0.0 and adv[3] == 0.0
    assert adv[1] != 0.0
    assert np.all(A.compute(name, r, group_size=1) == 0.0)
    d = A.diagnostics(r, adv, groups=ids)
    assert d.n_singleton_groups == 2 and d.n_groups == 3


def test_raw_ignores_groups_even_singletons():
    r = np.array([1.0, np.nan, -2.0])
    np.testing.assert_array_equal(A.raw(r, group_size=1), [1.0, 0.0, -2.0])
    np.testing.assert_array_equal(A.raw(r, groups=[0, 1, 2]), [1.0, 0.0, -2.0])


@pytest.mark.parametrize("name", NORMALIZING)
@pytest.mark.parametrize("form", ["group_size", "ids"])
def test_nan_left_out_and_zero(name, form):
    r = np.array([1.0, np.nan, -0.5, -2.0, 1.0, 1.0, np.nan, -2.0])
    kw = {"group_size": 4} if form == "group_size" else {"groups": [3, 3, 3, 3, 9, 9, 9, 9]}
    got = A.compute(name, r, **kw)
    assert got[1] == 0.0 and got[6] == 0.0
    # the same as computing without the NaN members at all
    clean = A.compute(name, np.array([1.0, -0.5, -2.0, 1.0, 1.0, -2.0]), groups=[0, 0, 0, 1, 1, 1])
    np.testing.assert_allclose(got[[0, 2, 3, 4, 5, 7]], clean, rtol=1e-12)


def test_nan_group_becomes_singleton():
    r = np.array([np.nan, np.nan, 2.0, 1.0, 0.0, 1.0])
    adv = A.grpo(r, group_size=3)
    assert np.all(adv[:3] == 0.0)
    d = A.diagnostics(r, adv, group_size=3)
    assert d.n_nan == 2 and d.n_singleton_groups == 1


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, "torch"])
def test_inf_raises_naming_value(name, bad, dtype):
    r = np.array([1.0, 0.0, bad, 1.0])
    if dtype == "torch":
        r = torch.tensor(r)
    else:
        r = r.astype(dtype)
    for kw in ({"group_size": 2}, {"groups": [0, 0, 1, 1]}):
        with pytest.raises(ValueError, match=r"rewards\[2\].*inf"):
            A.compute(name, r, **kw)


@pytest.mark.parametrize("name", NAMES)
def test_mismatched_lengths_raise(name):
    with pytest.raises(ValueError, match=r"groups: expected 4 group ids.*got 3"):
        A.compute(name, np.zeros(4), groups=[0, 0, 1])
    with pytest.raises(ValueError, match=r"groups: expected 4 group ids.*got 5"):
        A.compute(name, torch.zeros(4), groups=torch.zeros(5, dtype=torch.long))


@pytest.mark.parametrize("name", NAMES)
def test_empty_batch_raises(name):
    for r in (np.array([]), torch.zeros(0)):
        with pytest.raises(ValueError, match="empty batch"):
            A.compute(name, r, group_size=1)


@pytest.mark.parametrize("name", NAMES)
def test_group_size_not_dividing_raises(name):
    for r in (np.zeros(10), torch.zeros(10)):
        with pytest.raises(ValueError, match=r"group_size: 4 does not divide the batch of 10"):
            A.compute(name, r, group_size=4)


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"group_size": 0}, r"group_size: expected a positive integer, got 0"),
        ({"group_size": 2.5}, r"group_size: .*2\.5"),
        ({"group_size": True}, r"group_size: .*True"),
        ({}, r"expected groups .* or group_size"),
        ({"groups": [0, 0, 1, 1], "group_size": 2}, "either groups or group_size"),
        ({"groups": [0.5, 0, 1, 1]}, r"groups: expected integer group ids, got dtype float64"),
        ({"groups": [[0, 0, 1, 1]]}, r"groups: expected a 1-D array"),
    ],
)
def test_bad_grouping_raises(kw, match):
    with pytest.raises(ValueError, match=match):
        A.grpo(np.zeros(4), **kw)


def test_bad_options_and_names_raise():
    with pytest.raises(ValueError, match=r"ddof: expected 0 .* or 1 .*got 2"):
        A.grpo(np.zeros(4), group_size=2, ddof=2)
    with pytest.raises(ValueError, match=r"eps: expected a finite number >= 0, got -1"):
        A.grpo(np.zeros(4), group_size=2, eps=-1)
    with pytest.raises(ValueError, match=r"^estimator: expected one of \[.*'grpo'.*\], got 'ppo' \(unknown name\)$"):
        A.compute("ppo", np.zeros(4), group_size=2)
    with pytest.raises(ValueError, match=r"^estimator_options: expected none for 'rloo', got \['eps'\] \(unknown option\)$"):
        A.compute("rloo", np.zeros(4), group_size=2, eps=0.1)
    with pytest.raises(ValueError, match=r"^estimator_options: expected a subset of \['ddof', 'eps'\] for 'grpo', got \['dof'\]"):
        A.compute("grpo", np.zeros(4), group_size=2, dof=1)
    with pytest.raises(ValueError, match=r"^estimator_options\['ddof'\]: expected 0 \(population\) or 1 \(Bessel\), got 2$"):
        A.compute("grpo", np.zeros(4), group_size=2, ddof=2)
    with pytest.raises(TypeError):  # the functions themselves keep Python's own error
        A.rloo(np.zeros(4), group_size=2, eps=0.1)
    with pytest.raises(ValueError, match=r"rewards: expected a 1-D array, got shape \(2, 2\)"):
        A.grpo(np.zeros((2, 2)), group_size=2)
    with pytest.raises(ValueError, match=r"rewards: expected real numbers, got dtype <U1"):
        A.grpo(np.array(["a", "b"]), group_size=2)


@pytest.mark.parametrize(
    "args, options, match",
    [
        (("ppo",), {}, r"^estimator: expected one of .*, got 'ppo' \(unknown name\)$"),
        ((None,), {}, r"^estimator: expected one of .*, got None \(unknown name\)$"),
        ((["grpo"],), {}, r"^estimator: .*got \['grpo'\]"),  # unhashable: no TypeError
        (("GRPO",), {}, r"^estimator: .*got 'GRPO'"),  # names are exact
        (("ppo", "estimators"), {}, r"^estimators: expected one of"),  # the caller's field name
        (("dr_grpo",), {"eps": 1e-4}, r"^estimator_options: expected none for 'dr_grpo', got \['eps'\]"),
        (("rank",), {"ddof": 1, "eps": 0.1}, r"got \['ddof', 'eps'\] \(unknown options\)$"),
        (("grpo",), {"dof": 1}, r"^estimator_options: expected a subset of \['ddof', 'eps'\]"),
        (("grpo",), {"ddof": True}, r"^estimator_options\['ddof'\]: expected 0 .* got True$"),
        (("grpo",), {"ddof": "1"}, r"^estimator_options\['ddof'\]: .* got '1'$"),
        (("batch_std",), {"eps": float("nan")}, r"^estimator_options\['eps'\]: expected a finite number >= 0, got nan$"),
        (("batch_std",), {"eps": float("inf")}, r"\['eps'\]: .* got inf$"),
        (("grpo",), {"eps": "1e-4"}, r"\['eps'\]: .* got '1e-4'$"),
        (("grpo", "arm"), {"eps": -1}, r"^arm_options\['eps'\]: .* got -1$"),
    ],
)
def test_check_estimator_rejects_with_one_wording(args, options, match):
    with pytest.raises(ValueError, match=match):
        A.check_estimator(*args, **options)


def test_check_estimator_accepts_and_normalizes():
    assert A.check_estimator("grpo") == {}
    assert A.check_estimator("grpo", ddof=1, eps=1e-4) == {"ddof": 1, "eps": 1e-4}
    out = A.check_estimator("batch_std", ddof=np.int64(1), eps=np.float32(0.5))
    assert out == {"ddof": 1, "eps": 0.5} and type(out["ddof"]) is int and type(out["eps"]) is float
    assert A.check_estimator("rloo", "estimators") == {}
    for name in A.ESTIMATORS:  # every registered estimator passes with no options
        assert A.check_estimator(name) == {}
    # an option literally named like the positional parameters is still an unknown option
    with pytest.raises(ValueError, match=r"got \['field'\]"):
        A.check_estimator("grpo", **{"field": 1})
    assert A.check_options(ddof=1.0, eps=0) == {"ddof": 1, "eps": 0.0}
    with pytest.raises(ValueError, match=r"^estimator_options: expected option names from \['ddof', 'eps'\], got 'dof'"):
        A.check_options(dof=1)
    with pytest.raises(ValueError, match=r"^ddof: expected 0 .* got 2$"):
        A.check_options(ddof=2)


def test_string_group_ids_and_grouping_reuse():
    r = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    uids = np.array(["b", "a", "b", "c", "a", "c"])
    got = A.grpo(r, groups=uids)
    np.testing.assert_allclose(got, reference("grpo", r, uids.tolist()), atol=1e-9)
    grouping = A.make_grouping(r.size, groups=uids)
    assert grouping.n_groups == 3 and sorted(set(grouping.ids.tolist())) == [0, 1, 2]
    np.testing.assert_array_equal(A.grpo(r, groups=grouping), got)
    fixed = A.make_grouping(6, group_size=3)
    assert fixed.group_size == 3 and fixed.ids.tolist() == [0, 0, 0, 1, 1, 1]
    np.testing.assert_array_equal(A.rank(r, groups=fixed), A.rank(r, group_size=3))
    np.testing.assert_array_equal(A.grpo(torch.tensor(r), groups=grouping).numpy(), got)


# ----------------------------------------------------------------------------------------------
# Numerics: where float32 arithmetic would be wrong, the float64 path takes over
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["group_size", "ids"])
def test_float32_ill_conditioned_groups(form):
    """|mean| >> std: single-pass float32 (or float64 E[x^2]-mean^2) arithmetic fails here."""
    rng = np.random.default_rng(5)
    base = np.float32(1000.0)
    r = (base + rng.integers(0, 4, size=64).astype(np.float32) * np.float32(6.1035156e-05))
    r = r.astype(np.float32)  # 1000 + k * ulp(1000): std ~ 1e-4, mean/std ~ 1e7
    kw = {"group_size": 8} if form == "group_size" else {"groups": np.arange(64) % 8}
    ids = ids_of(64, 8) if form == "group_size" else (np.arange(64) % 8).tolist()
    for eps in (0.0, 1e-6):
        got = A.grpo(r, eps=eps, **kw)
        assert_close(got, reference("grpo", r, ids, eps=eps), np.float32)
        assert np.abs(got).max() > 0.5  # real signal, not zeroed or noise
    assert_close(A.dr_grpo(r, **kw), reference("dr_grpo", r, ids), np.float64)


def test_float32_large_batch_precision():
    """A 128k float32 batch through the fast paths stays within float32 rounding of float64."""
    rng = np.random.default_rng(9)
    r64 = rng.choice([1.0, -0.5, -2.0, 0.25], size=2**17)
    r32 = r64.astype(np.float32)
    ids = rng.permutation(np.arange(r64.size) // 16)
    for kw in ({"group_size": 16}, {"groups": ids}):
        for name in ("grpo", "dr_grpo", "rloo", "batch_std"):
            a32, a64 = A.compute(name, r32, **kw), A.compute(name, r64, **kw)
            np.testing.assert_allclose(a32, a64, rtol=0, atol=4e-6)


# ----------------------------------------------------------------------------------------------
# The seed's numbers
# ----------------------------------------------------------------------------------------------


def stage(counts, tiers=(1.0, -0.5, -2.0)):
    return np.concatenate([np.full(c, t) for c, t in zip(counts, tiers)])


@pytest.mark.parametrize("form", ["numpy", "torch", "ids"])
def test_seed_numbers(form):
    early, late = stage((1, 9, 90)), stage((90, 9, 1))

    def run(r, **kw):
        if form == "torch":
            return A.grpo(torch.tensor(r), group_size=100, **kw).numpy()
        if form == "ids":
            return A.grpo(r, groups=np.full(100, 42), **kw)
        return A.grpo(r, group_size=100, **kw)

    assert round(float(run(early)[0]), 2) == 5.50  # the lone correct answer, population std
    assert round(float(run(late)[-1]), 2) == -5.50  # the lone bad format
    assert round(float(run(early, ddof=1, eps=1e-4)[0]), 2) == 5.48  # TRL's numbers
    assert round(float(run(late, ddof=1, eps=1e-4)[-1]), 2) == -5.48
    # pooled over the seed's four stages the normalized rewards take 12 distinct values, raw 3
    stages = [(1, 9, 90), (1, 49, 50), (49, 50, 1), (90, 9, 1)]
    pooled = np.concatenate([stage(c) for c in stages])
    adv = A.grpo(pooled, group_size=100)
    assert np.unique(np.round(adv, 6)).size == 12 and np.unique(pooled).size == 3


# ----------------------------------------------------------------------------------------------
# Diagnostics
# ----------------------------------------------------------------------------------------------


def test_diagnostics_hand_made():
    r = np.array([1.0, -2.0, -2.0, -2.0,  # mixed
                  1.0, 1.0, 1.0, 1.0,  # zero variance
                  np.nan, 0.5, np.nan, np.nan,  # one valid: singleton
                  0.5, np.nan, 0.5, -0.5])  # one NaN, mixed
    adv = A.grpo(r, group_size=4)
    d = A.diagnostics(r, adv, group_size=4)
    assert d.n == 16 and d.n_groups == 4 and d.n_nan == 4
    assert d.zero_variance_frac == 0.25
    assert d.n_singleton_groups == 1
    assert d.distinct_raw == 4  # 1, -2, 0.5, -0.5
    assert d.adv_bound == math.sqrt(3)
    assert d.adv_max == pytest.approx(math.sqrt(3), abs=1e-5)  # lone winner of 4: the bound
    assert d.adv_min == pytest.approx(-math.sqrt(2), abs=1e-5)  # 0.5, 0.5, -0.5 -> -sqrt(2)
    # values: sqrt3, -1/sqrt3, 0, 1/sqrt2, -sqrt2
    assert d.distinct_advantages == 5
    assert set(d.to_dict()) == {
        "n", "n_groups", "n_nan", "zero_variance_frac", "n_singleton_groups", "distinct_raw",
        "distinct_advantages", "adv_min", "adv_max", "adv_bound",
    }
    dt = A.diagnostics(torch.tensor(r), torch.tensor(adv), groups=np.arange(16) // 4)
    assert dt == d


def test_diagnostics_ids_and_bound():
    r = np.array([1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0, 3.0, 7.0])
    ids = np.array([5, 5, 5, 5, 5, 5, 5, 5, 9, 9, 2])  # sizes 8, 2, 1
    adv = A.grpo(r, groups=ids)
    d = A.diagnostics(r, adv, groups=ids)
    assert d.n_groups == 3 and d.n_singleton_groups == 1
    assert d.zero_variance_frac == pytest.approx(1 / 3)
    assert d.adv_bound == math.sqrt(7)
    assert abs(adv).max() <= d.adv_bound
    assert adv[0] == pytest.approx(math.sqrt(7), abs=1e-5)  # 1 of 8 correct reaches the bound
    with pytest.raises(ValueError, match=r"advantages: expected shape \(11,\)"):
        A.diagnostics(r, adv[:5], groups=ids)


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12), st.integers(0, 12))
                    .filter(lambda c: sum(c) >= 1), min_size=1, max_size=5),
    ddof=st.sampled_from([0, 1]),
)
def test_grpo_never_exceeds_bound(counts, ddof):
    g = max(sum(c) for c in counts)
    r = np.concatenate([np.r_[stage(c), np.full(g - sum(c), np.nan)] for c in counts])
    adv = A.grpo(r, group_size=g, ddof=ddof)
    d = A.diagnostics(r, adv, group_size=g)
    assert d.adv_bound == math.sqrt(g - 1)
    assert np.all(np.abs(adv) <= d.adv_bound + 1e-9)
