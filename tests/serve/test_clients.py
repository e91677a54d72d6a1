"""rewardsmith.integrations.remote against a real server: batching, retries, TRL, verl."""

from __future__ import annotations

import asyncio
import pickle

import numpy as np
import pytest

from serve_helpers import TOKEN, make_rows


@pytest.fixture(scope="module")
def engine():
    from rewardsmith.rules import load_rules

    return load_rules("seed-tiered")


def test_sync_client_batches_and_advantages_across_batches(math_server, engine):
    from rewardsmith import advantages
    from rewardsmith.integrations.remote import RewardClient

    rows = make_rows(130, seed=3)
    comps, golds, groups = [r["completion"] for r in rows], [r["answer"] for r in rows], [r["group"] for r in rows]
    with RewardClient(math_server.url + "/score", token=TOKEN, batch_size=50) as c:
        split = c.score(comps, golds, groups=groups, estimator="rloo")
    with RewardClient(math_server.url, token=TOKEN) as c:
        whole = c.score(comps, golds, groups=groups, estimator="rloo", details=True)
    b = engine.score_batch(comps, golds, workers=0)
    for s in (split, whole):
        np.testing.assert_array_equal(s.rewards, b.rewards)
        assert s.labels == b.labels
        np.testing.assert_array_equal(s.components["tier"], b.components["tier"])
        np.testing.assert_allclose(s.advantages, advantages.compute("rloo", b.rewards, groups=groups), atol=1e-12)
    assert whole.details[0]["label"] == b.labels[0] and "verdict" in whole.details[0]


def test_client_errors_name_the_field(math_server):
    from rewardsmith.integrations.remote import RemoteScoringError, RewardClient

    with RewardClient(math_server.url, token=TOKEN, retries=1) as c:
        with pytest.raises(RemoteScoringError, match=r"422.*rows\[1\]\.answer"):
            c.score(["<answer>1</answer>", "x"], ["1", None])
    with RewardClient(math_server.url, token="wrong", retries=0) as c:
        with pytest.raises(RemoteScoringError, match="401"):
            c.score(["x"], ["1"])
    with pytest.raises(ValueError, match="url"):
        RewardClient("localhost:8000")


def test_client_gives_up_after_bounded_retries():
    """Nothing listens on the port: the client retries a fixed number of times, then says so."""
    import socket

    from rewardsmith.integrations.remote import RemoteScoringError, RewardClient

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with RewardClient(f"http://127.0.0.1:{port}", retries=2, backoff=0.01) as c:
        assert len(c.score([], [], estimator="grpo").advantages) == 0  # an empty batch sends nothing
        with pytest.raises(RemoteScoringError, match="3 attempts"):
            c.score(["x"], ["1"])
        assert c.retried == 2


def test_async_client(math_server, engine):
    from rewardsmith.integrations.remote import AsyncRewardClient

    rows = make_rows(90, seed=4)

    async def run():
        async with AsyncRewardClient(math_server.url, token=TOKEN, batch_size=20, concurrency=3) as c:
            return await c.score([r["completion"] for r in rows], [r["answer"] for r in rows])

    s = asyncio.run(run())
    b = engine.score_batch([r["completion"] for r in rows], [r["answer"] for r in rows], workers=0)
    np.testing.assert_array_equal(s.rewards, b.rewards)
    assert s.labels == b.labels


def test_trl_reward_function_matches_local_one(math_server, engine):
    """The remote TRL reward function (TRL's calling convention: prompts, completions as chat
    messages, dataset columns as keywords) returns the engine's rewards; it pickles (TRL's async
    trainer ships reward functions to another process)."""
    from rewardsmith.integrations import remote

    rows = make_rows(16, seed=9)
    completions = [[{"role": "assistant", "content": r["completion"]}] for r in rows]
    prompts = [[{"role": "user", "content": f"q{r['group']}"}] for r in rows]
    kwargs = {"answer": [r["answer"] for r in rows], "trainer_state": None}
    f = remote.reward_func(math_server.url, token=TOKEN)
    got = f(prompts=prompts, completions=completions, **kwargs)
    local = engine.score_batch([r["completion"] for r in rows], kwargs["answer"], workers=0).rewards.tolist()
    assert got == local and len(set(got)) == 3
    g = pickle.loads(pickle.dumps(f))
    assert g(prompts=prompts, completions=completions, **kwargs) == got
    fa = remote.reward_func(math_server.url, token=TOKEN, asynchronous=True)
    assert asyncio.run(fa(prompts=prompts, completions=completions, **kwargs)) == got
    with pytest.raises(ValueError, match="answer_column"):
        f(prompts=prompts, completions=completions, solution=kwargs["answer"])


def test_verl_compute_score_matches_local_one(math_server):
    from rewardsmith.integrations import remote
    from rewardsmith.integrations import verl as rs_verl

    rows = make_rows(6, seed=12)
    for r in rows:
        local = rs_verl.compute_score("math", r["completion"], r["answer"], {"index": 1})
        got = remote.compute_score("math", r["completion"], r["answer"], {"index": 1}, url=math_server.url,
                                   token=TOKEN)
        assert got == local
    batch = remote.compute_score_batch(["m"] * 6, [r["completion"] for r in rows], [r["answer"] for r in rows],
                                       url=math_server.url, token=TOKEN)
    assert [d["score"] for d in batch] == [rs_verl.compute_score("m", r["completion"], r["answer"])["score"]
                                           for r in rows]
    with pytest.raises(ValueError, match="url"):
        remote.compute_score("m", "x", "1")


def _scripted_transport(statuses):
    """An httpx transport that answers each POST with the next status of ``statuses`` (a 429
    carries ``Retry-After: 0.2``, a 200 one scored row); it records every request."""
    import httpx

    seen = []

    def handler(request):
        seen.append(request)
        status = statuses[min(len(seen), len(statuses)) - 1]
        if status == 200:
            return httpx.Response(200, json={"results": [
                {"reward": 1.0, "label": "correct", "components": {}}]})
        headers = {"Retry-After": "0.2"} if status == 429 else {}
        return httpx.Response(status, json={"error": f"status {status}"}, headers=headers)

    return handler, seen


@pytest.mark.parametrize("asynchronous", [False, True])
def test_both_clients_follow_one_retry_policy(monkeypatch, asynchronous):
    """The sync and the async client retry the same way: 429 and 503 are repeated, waiting at
    least the server's Retry-After (times the jitter in [0.5, 1)) or the capped backoff; a 400 is
    raised at once; after ``retries`` repeats the client gives up naming the last failure."""
    import httpx

    from rewardsmith.integrations import remote

    waits: list[float] = []
    monkeypatch.setattr(remote.time, "sleep", waits.append)

    async def fake_async_sleep(seconds):
        waits.append(seconds)

    monkeypatch.setattr(remote.asyncio, "sleep", fake_async_sleep)

    def score(statuses, **kwargs):
        handler, seen = _scripted_transport(statuses)
        transport = httpx.MockTransport(handler)
        if not asynchronous:
            with remote.RewardClient("http://test", backoff=0.001, max_backoff=1.0, **kwargs) as c:
                c._http = httpx.Client(transport=transport)
                return c.score(["x"], ["1"]), c.retried, len(seen)

        async def run():
            async with remote.AsyncRewardClient("http://test", backoff=0.001, max_backoff=1.0, **kwargs) as c:
                c._http = httpx.AsyncClient(transport=transport)
                return await c.score(["x"], ["1"]), c.retried, len(seen)

        return asyncio.run(run())

    scored, retried, sent = score([429, 503, 200], retries=3)
    assert scored.labels == ["correct"] and retried == 2 and sent == 3
    assert 0.1 <= waits[0] < 0.2  # Retry-After: 0.2 s, jittered down by at most half
    assert 0.001 <= waits[1] < 0.002  # 503 without Retry-After: backoff * 2**1 = 0.002, jittered
    waits.clear()
    with pytest.raises(remote.RemoteScoringError, match="400.*status 400"):
        score([400, 200], retries=3)
    assert waits == []  # a client error is not retried
    with pytest.raises(remote.RemoteScoringError, match=r"2 attempts; last: .*503"):
        score([503, 503, 200], retries=1)
    assert len(waits) == 1


def test_remote_reward_function_reads_trls_call_like_the_local_one():
    """The remote TRL reward function reads the dataset columns as the local one does: a missing
    answer column or a string where one answer per completion belongs is refused before any
    request (a string would be split into one 'answer' per character: '42' graded as '4', '2')."""
    from rewardsmith.integrations import remote

    f = remote.reward_func("http://127.0.0.1:9", retries=0)  # nothing listens: nothing may be sent
    completions = ["<answer>4</answer>", "<answer>2</answer>"]
    with pytest.raises(ValueError, match=r"^answer_column: the dataset has no column 'answer'"):
        f(prompts=["p", "p"], completions=completions, solution=["4", "2"])
    with pytest.raises(ValueError, match=r"^answer: expected one gold answer per completion \(a list of 2\), got str"):
        f(prompts=["p", "p"], completions=completions, answer="42")
