"""Batch engine: input order, worker crash / hang survival, hostile completions, progress."""

import math
import os
import time

import numpy as np
import pytest

from rewardsmith.rules import AnswerCheck, CheckResult, load_rules, register_check
from rewardsmith.rules import engine


class HostileCheck(AnswerCheck):
    """Exact match, except for marker answers that kill, hang or break the process scoring them."""

    def __call__(self, pred, gold, *, text, fields, timeout):
        if pred == "CRASH":
            os._exit(3)
        if pred == "HANG":
            time.sleep(3600)
        if pred == "RAISE":
            raise RuntimeError("boom")
        if pred == "PID":
            return CheckResult(True, "equal", str(os.getpid()))
        ok = pred == gold
        return CheckResult(ok, "equal" if ok else "not_equal", "")


register_check("test-hostile", HostileCheck, overwrite=True)

HOSTILE = {
    "format": {"kind": "none"},
    "answer": {"extract": "answer_tag", "compare": "test-hostile"},
    "tiers": [{"when": {"correct": True}, "reward": 1.0, "label": "correct"},
              {"reward": 0.0, "label": "wrong"}],
    "shaping": [{"kind": "tag_count", "weight": 0.5}],
    "policy": {"on_error": -3.0},
}


def rows(n, markers):
    comps, golds, want = [], [], []
    for i in range(n):
        if i in markers:
            comps.append(f"<answer>{markers[i]}</answer>")
            want.append({"CRASH": "error", "HANG": "timeout", "RAISE": "error"}[markers[i]])
        elif i % 3 == 0:
            comps.append(f"<answer>{i + 1}</answer>")
            want.append("wrong")
        else:
            comps.append(f"<answer>{i}</answer>")
            want.append("correct")
        golds.append(str(i))
    return comps, golds, want


def test_order_kept_and_crash_and_hang_survived():
    rs = load_rules(HOSTILE)
    markers = {3: "CRASH", 10: "HANG", 17: "RAISE", 25: "CRASH"}
    comps, golds, want = rows(40, markers)
    t = time.perf_counter()
    b = rs.score_batch(comps, golds, workers=2, timeout=2.0, chunk_size=4)
    assert time.perf_counter() - t < 30
    assert b.labels == want
    for i, lb in enumerate(want):
        if lb == "correct":
            assert b.rewards[i] == 1.25  # + 0.5 * tag_count (2 of 4 tags)
        elif lb == "wrong":
            assert b.rewards[i] == 0.25
        elif lb == "timeout":
            assert math.isnan(b.rewards[i])  # default policy: unscored
        else:
            assert b.rewards[i] == -3.0 + 0.25  # policy on_error plus the shaping term
    assert "worker died" in b.details[3]["why"] and "exit code 3" in b.details[3]["why"]
    assert "killed" in b.details[10]["why"]
    assert "RuntimeError: boom" in b.details[17]["why"]  # raised in process: caught, not a crash
    np.testing.assert_allclose(b.components["tier"] + b.components["tag_count"], b.rewards)


def test_serial_and_parallel_agree():
    rs = load_rules(HOSTILE)
    comps, golds, _ = rows(50, {7: "RAISE"})
    a = rs.score_batch(comps, golds, workers=0)
    b = rs.score_batch(comps, golds, workers=2, chunk_size=3)
    assert a.labels == b.labels
    np.testing.assert_array_equal(a.rewards, b.rewards)
    assert [d["rule"] for d in a.details] == [d["rule"] for d in b.details]


def test_work_runs_in_worker_processes():
    rs = load_rules(HOSTILE)
    b = rs.score_batch(["<answer>PID</answer>"] * 8, ["x"] * 8, workers=2, chunk_size=2)
    pids = {d["verdict"]["reason"] for d in b.details}
    assert str(os.getpid()) not in pids and 1 <= len(pids) <= 2
    serial = rs.score_batch(["<answer>PID</answer>"], ["x"], workers=0)
    assert serial.details[0]["verdict"]["reason"] == str(os.getpid())


def test_a_worker_that_dies_at_startup_is_reported(monkeypatch):
    def boom(*a, **k):
        os._exit(7)

    monkeypatch.setattr(engine, "_worker_main", boom)
    rs = load_rules(HOSTILE)
    with pytest.raises(RuntimeError, match="keep dying"):
        rs.score_batch(["<answer>1</answer>"] * 4, ["1"] * 4, workers=1)


def test_empty_batch_and_bad_arguments():
    rs = load_rules("seed-tiered")
    b = rs.score_batch([], [], workers=2)
    assert b.rewards.shape == (0,) and b.labels == []
    with pytest.raises(ValueError, match="workers"):
        rs.score_batch(["a"], ["1"], workers=-1)
    with pytest.raises(ValueError, match="timeout"):
        rs.score_batch(["a"], ["1"], timeout=0)
    with pytest.raises(ValueError, match="chunk_size"):
        rs.score_batch(["a"], ["1"], workers=1, chunk_size=0)


def test_hostile_completions_get_labels_and_the_batch_completes():
    rs = load_rules("seed-tiered")
    hostile = [
        "<think>a</think><answer>9^{9^{9^9}}</answer>",
        "<think>a</think><answer>(10^{100})!</answer>",
        "<think>a</think><answer>\\dfrac{5^{(5^{(5^{5^5})}-4)}-5}{16}</answer>",
        "<think>a</think><answer>" + "(" * 10_000 + "1" + ")" * 10_000 + "</answer>",
        "<think>" + "x" * 1_000_000 + "</think><answer>4</answer>",  # 1 MB
        "<think>a</think><answer>4\udcff\x00\x1b[31m</answer>",  # lone surrogate, control chars
        "<think>" + "<think>" * 50_000 + "</think><answer>4</answer>",
        "<think>a</think><answer>" + "a" * 50_000 + "!" + "</answer>",
        "<think>a</think><answer>4</answer>",
    ]
    t = time.perf_counter()
    b = rs.score_batch(hostile, ["4"] * len(hostile), workers=2, timeout=20.0)
    assert time.perf_counter() - t < 60
    assert len(b.labels) == len(hostile)
    assert set(b.labels) <= set(rs.labels)
    assert b.labels[4] == "correct" and b.labels[-1] == "correct"
    assert b.labels[6] == "bad_format"
    for i in (0, 1, 2, 3, 5, 7):
        assert b.labels[i] in ("wrong_answer", "timeout", "error"), (i, b.details[i])
    assert len(str(b.details[4])) < 5_000  # details stay small


def test_progress_bar_runs(capsys):
    rs = load_rules("seed-tiered")
    b = rs.score_batch(["<think>a</think><answer>1</answer>"] * 20, ["1"] * 20, workers=0, progress=True)
    assert b.labels == ["correct"] * 20
    b = rs.score_batch(["<think>a</think><answer>1</answer>"] * 20, ["1"] * 20, workers=1, progress=True)
    assert b.labels == ["correct"] * 20


def test_gold_sent_once_per_chunk(monkeypatch):
    """Each chunk message carries its distinct gold answers once (items refer to them by index),
    so the worker parses each gold once and its cache serves the group's other completions."""
    msgs = []
    real_run = engine.ScoringPool.run

    def spy_run(self, texts, golds, fields, **kw):
        from multiprocessing.connection import Connection

        orig = Connection.send

        def send(conn, obj):
            if obj is not None:
                msgs.append(obj)
            return orig(conn, obj)

        monkeypatch.setattr(Connection, "send", send)
        try:
            return real_run(self, texts, golds, fields, **kw)
        finally:
            monkeypatch.setattr(Connection, "send", orig)

    monkeypatch.setattr(engine.ScoringPool, "run", spy_run)
    rs = load_rules("seed-tiered")
    golds = [str(g) for g in range(4) for _ in range(8)]  # 4 prompts x 8 completions
    comps = [f"<think>a</think><answer>{g}</answer>" for g in golds]
    b = rs.score_batch(comps, golds, workers=1, chunk_size=16)
    assert b.labels == ["correct"] * 32
    assert len(msgs) == 2
    for _, chunk_golds, payload, _ in msgs:
        assert len(chunk_golds) == 2 and len(payload) == 16


def _score_in_daemon(n):
    rs = load_rules("seed-tiered")
    b = rs.score_batch(["<think>a</think><answer>2</answer>"] * n, ["2"] * n, workers=2)
    return b.labels


def test_called_from_a_daemonic_process_falls_back_to_serial():
    import multiprocessing as mp

    with mp.get_context("fork").Pool(1) as pool:  # pool workers are daemonic: no children allowed
        assert pool.apply(_score_in_daemon, (5,)) == ["correct"] * 5


def test_forkserver_start_method(monkeypatch):
    monkeypatch.setattr(engine, "START_METHOD", "forkserver")
    rs = load_rules("seed-tiered")
    comps = [f"<think>a</think><answer>{i}</answer>" for i in range(20)]
    b = rs.score_batch(comps, [str(i % 3) for i in range(20)], workers=2, chunk_size=5)
    assert b.labels == ["correct" if i == i % 3 else "wrong_answer" for i in range(20)]
