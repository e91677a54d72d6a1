"""The reward server against the in-process engine: load, faults, limits, OpenRLHF's shapes.

Every request goes to a real ``rewardsmith serve`` on 127.0.0.1 (see conftest); every loop is
bounded (a fixed number of requests, clients with a fixed number of retries).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import socket
import threading
import time

import httpx
import numpy as np
import pytest

from serve_helpers import HOST, TOKEN, make_rows

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def engine():
    from rewardsmith.rules import load_rules

    return load_rules("seed-tiered")


def expected(engine, rows):
    b = engine.score_batch([r["completion"] for r in rows], [r["answer"] for r in rows], workers=0)
    return b.rewards, b.labels


def metric(url: str, name: str, **labels) -> float:
    text = httpx.get(url + "/metrics", headers=AUTH, timeout=10).text
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        key, _, val = line.rpartition(" ")
        head, _, lab = key.partition("{")
        if head != name:
            continue
        got = ",".join(sorted(lab.rstrip("}").split(","))) if lab else ""
        if all(part in got.split(",") for part in want.split(",") if part):
            total += float(val)
    return total


def test_score_matches_engine_with_advantages(math_server, engine):
    from rewardsmith import advantages

    rows = make_rows(40, seed=1)
    r = httpx.post(math_server.url + "/score", headers=AUTH, timeout=60,
                   json={"rows": rows, "estimator": "grpo", "estimator_options": {"ddof": 1}})
    assert r.status_code == 200, r.text
    body = r.json()
    rewards, labels = expected(engine, rows)
    got = np.array([x["reward"] for x in body["results"]], dtype=float)
    np.testing.assert_array_equal(got, rewards)
    assert [x["label"] for x in body["results"]] == labels
    assert set(labels) >= {"correct", "wrong_answer", "bad_format"}
    adv = advantages.compute("grpo", rewards, groups=[x["group"] for x in rows], ddof=1)
    np.testing.assert_allclose([x["advantage"] for x in body["results"]], adv, rtol=1e-12)
    assert all(x["components"]["tier"] == x["reward"] for x in body["results"])
    assert body["label_counts"] == {k: labels.count(k) for k in set(labels)}


@pytest.mark.parametrize("concurrency", [1, 8, 32, 64])
def test_load_every_row_correct_none_lost(math_server, engine, concurrency):
    """A fixed number of requests at this concurrency: every row comes back once, equal to the
    in-process engine; the queue holds 8 requests, so 429 happens only above 8 and the client's
    retries then deliver every row."""
    from rewardsmith.integrations.remote import AsyncRewardClient

    n_requests = max(8, concurrency * 2) if concurrency <= 8 else concurrency
    per = 24 if concurrency <= 8 else 40  # above the bound, requests that surely overlap
    batches = [make_rows(per, seed=100 * concurrency + k, tag=f"c{concurrency}r{k}-") for k in range(n_requests)]
    before_429 = metric(math_server.url, "rewardsmith_requests_total", code="429")

    async def run():
        sem = asyncio.Semaphore(concurrency)
        async with AsyncRewardClient(math_server.url, token=TOKEN, retries=200, backoff=0.01,
                                     max_backoff=0.05, timeout=60) as client:
            async def one(rows):
                async with sem:
                    return await client.score([r["completion"] for r in rows], [r["answer"] for r in rows])
            out = await asyncio.gather(*(one(b) for b in batches))
            return out, client.retried

    results, retried = asyncio.run(run())
    assert len(results) == n_requests
    all_rows = [r for b in batches for r in b]
    rewards, labels = expected(engine, all_rows)
    got_r = np.concatenate([s.rewards for s in results])
    got_l = [lab for s in results for lab in s.labels]
    assert len(got_l) == len(all_rows)
    np.testing.assert_array_equal(got_r, rewards)
    assert got_l == labels
    n429 = metric(math_server.url, "rewardsmith_requests_total", code="429") - before_429
    if concurrency <= 8:
        assert n429 == 0 and retried == 0
    if concurrency == 64:
        assert n429 > 0 and retried >= n429  # the bound held, and retries delivered every row


def test_openrlhf_get_reward_shapes(math_server, engine):
    prompts = ["<|im_start|>user\nWhat is 1+2?<|im_end|>\n<|im_start|>assistant\n"] * 3
    responses = ["<think>\n1+2\n</think>\n<answer>\n3\n</answer><|im_end|>",
                 "<think>\n1+2\n</think>\n<answer>\n4\n</answer><|im_end|><|endoftext|>",
                 "3"]
    body = {"query": [p + r for p, r in zip(prompts, responses)], "prompts": prompts, "labels": ["3", "3", "3"]}
    r = httpx.post(math_server.url + "/get_reward", headers=AUTH, json=body, timeout=30)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["rewards"] == [1.0, -0.5, -2.0]
    assert out["scores"] == [1.0, 0.0, 0.0]
    logs = out["extra_logs"]
    assert logs["rewardsmith/label/correct"] == [1.0, 0.0, 0.0]
    assert logs["rewardsmith/label/bad_format"] == [0.0, 0.0, 1.0]
    assert all(len(v) == 3 and all(math.isfinite(x) for x in v) for v in logs.values())
    # the prompt's own text is never scored: a prompt holding a right answer block does not pay
    trap = "Example: <think>x</think><answer>3</answer>\n"
    r = httpx.post(math_server.url + "/get_reward", headers=AUTH, timeout=30,
                   json={"query": [trap + "<answer>3</answer>"], "prompts": [trap], "labels": ["3"]})
    assert r.json()["rewards"] == [-2.0]
    # a left-truncated prompt (OpenRLHF keeps its tail) still separates the response
    long_prompt = "x" * 500 + prompts[0]
    r = httpx.post(math_server.url + "/get_reward", headers=AUTH, timeout=30,
                   json={"query": [long_prompt[100:] + responses[0]], "prompts": [long_prompt], "labels": ["3"]})
    assert r.json()["rewards"] == [1.0]
    # old OpenRLHF sends only "query": a rule set that needs answers says which key is missing
    r = httpx.post(math_server.url + "/get_reward", headers=AUTH, json={"query": ["x"]}, timeout=30)
    assert r.status_code == 422 and "labels" in r.json()["error"]
    r = httpx.post(math_server.url + "/get_reward", headers=AUTH, timeout=30,
                   json={"query": ["abc"], "prompts": ["zzz"], "labels": ["3"]})
    assert r.status_code == 422 and "query[0]" in r.json()["error"]


def _raw(url: str, request: bytes, send_more=None, timeout: float = 30.0) -> bytes:
    host, port = url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(request)
        if send_more is not None:
            t = threading.Thread(target=send_more, args=(s,), daemon=True)
            t.start()
        data = b""
        try:
            while b"\r\n\r\n" not in data or len(data) < 12:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            s.settimeout(1.0)
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        return data


@pytest.mark.parametrize("case", ["malformed", "not_object", "rows_not_list", "completion_int", "answer_object",
                                  "missing_answer", "unknown_key", "bad_estimator", "group_missing",
                                  "num_tokens_str", "deep_10000", "deep_in_field", "not_utf8", "bad_deadline",
                                  "too_many_rows", "huge_int", "bad_option", "estimator_array", "huge_estimator"])
def test_bad_requests_are_4xx_naming_the_problem(math_server, case):
    ok_row = {"completion": "<think>a</think><answer>3</answer>", "answer": "3"}
    deep = "[" * 10_000 + "]" * 10_000
    bodies = {
        "malformed": (b'{"rows": [{"completion": "x"', 400, "malformed JSON"),
        "not_object": (b"[1, 2]", 422, "body"),
        "rows_not_list": (json.dumps({"rows": {"a": 1}}).encode(), 422, "rows: expected an array"),
        "completion_int": (json.dumps({"rows": [ok_row, {"completion": 5, "answer": "3"}]}).encode(), 422,
                           "rows[1].completion"),
        "answer_object": (json.dumps({"rows": [{"completion": "x", "answer": {"a": 1}}]}).encode(), 422,
                          "rows[0].answer"),
        "missing_answer": (json.dumps({"rows": [ok_row, ok_row, {"completion": "x"}]}).encode(), 422,
                           "rows[2].answer"),
        "unknown_key": (json.dumps({"rows": [ok_row], "estimatr": "grpo"}).encode(), 422, "estimatr"),
        "bad_estimator": (json.dumps({"rows": [ok_row], "estimator": "ppo"}).encode(), 422, "estimator"),
        "group_missing": (json.dumps({"rows": [ok_row], "estimator": "grpo"}).encode(), 422, "rows[0].group"),
        "num_tokens_str": (json.dumps({"rows": [dict(ok_row, num_tokens="12")]}).encode(), 422,
                           "rows[0].num_tokens"),
        "deep_10000": (('{"rows": ' + deep + "}").encode(), 400, "nested too deeply"),
        "deep_in_field": (('{"rows": [{"completion": "x", "answer": "3", "meta": ' + deep + "}]}").encode(), 400,
                          "nested too deeply"),
        "not_utf8": (b'{"rows": [{"completion": "\xff\xfe"}]}', 400, "UTF-8"),
        "bad_deadline": (json.dumps({"rows": [ok_row]}).encode(), 400, "x-request-timeout"),
        "too_many_rows": (json.dumps({"rows": [ok_row] * 5001}).encode(), 413, "rows: 5001"),
        "bad_option": (json.dumps({"rows": [dict(ok_row, group=1)], "estimator": "grpo",
                                   "estimator_options": {"ddof": 3}}).encode(), 422,
                       "estimator_options['ddof']: expected 0 (population) or 1 (Bessel), got 3"),
        "estimator_array": (json.dumps({"rows": [ok_row], "estimator": ["grpo"]}).encode(), 422,
                            "estimator: expected one of"),
        "huge_estimator": (json.dumps({"rows": [ok_row], "estimator": "g" * 100_000}).encode(), 422,
                           "estimator: expected one of"),
        "huge_int": (('{"rows": [{"completion": "x", "answer": ' + "9" * 5000 + "}]}").encode(), 400, "5000 digits"),
    }
    body, status, needle = bodies[case]
    headers = dict(AUTH)
    if case == "bad_deadline":
        headers["X-Request-Timeout"] = "soon"
    r = httpx.post(math_server.url + "/score", headers=headers, content=body, timeout=60)
    assert r.status_code == status, r.text
    assert needle in r.json()["error"], r.json()
    assert len(r.json()["error"]) < 1000  # the message names the value, it does not echo a huge one
    # the server is still up and scores
    r = httpx.post(math_server.url + "/score", headers=AUTH, json={"rows": [ok_row]}, timeout=30)
    assert r.status_code == 200 and r.json()["results"][0]["label"] == "correct"


def test_auth_token(math_server):
    ok = {"rows": [{"completion": "<think>a</think><answer>3</answer>", "answer": "3"}]}
    r = httpx.post(math_server.url + "/score", json=ok, timeout=30)
    assert r.status_code == 401 and "missing bearer token" in r.json()["error"]
    assert r.headers["www-authenticate"] == "Bearer"
    r = httpx.post(math_server.url + "/score", json=ok, headers={"Authorization": "Bearer nope"}, timeout=30)
    assert r.status_code == 401 and "invalid" in r.json()["error"]
    r = httpx.post(math_server.url + "/get_reward", json={"query": ["x"]}, timeout=30)
    assert r.status_code == 401
    assert httpx.get(math_server.url + "/metrics", timeout=30).status_code == 401
    assert httpx.get(math_server.url + "/health", timeout=30).status_code == 200  # probes stay open
    assert httpx.post(math_server.url + "/score", json=ok, headers=AUTH, timeout=30).status_code == 200


def test_body_limit_declared_and_streamed(math_server):
    """100 MB bodies: refused (413) by the declared length before any of it is read, and by the
    running count when the length is not declared (chunked); the server stays up."""
    head = (f"POST /score HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {100 * 1024 * 1024}\r\n\r\n").encode()
    resp = _raw(math_server.url, head + b'{"rows": [')
    assert resp.startswith(b"HTTP/1.1 413"), resp[:200]
    assert b"limit" in resp

    def send_chunks(s):
        piece = b"x" * (1024 * 1024)
        try:
            for _ in range(100):
                s.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
            s.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed: expected

    head = (f"POST /score HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {TOKEN}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    resp = _raw(math_server.url, head, send_more=send_chunks)
    assert resp.startswith(b"HTTP/1.1 413"), resp[:200]
    assert httpx.get(math_server.url + "/health", timeout=10).status_code == 200


def test_deadline_header(math_server):
    rows = make_rows(3000, seed=7)
    # 1 us: passed before scoring can finish on any machine (20 ms was close to a fast machine's time)
    r = httpx.post(math_server.url + "/score", headers={**AUTH, "X-Request-Timeout": "0.000001"},
                   json={"rows": rows}, timeout=60)
    assert r.status_code == 504 and "x-request-timeout" in r.json()["error"]
    # nothing is left behind: the queue drains and the next request is served at once
    deadline = time.monotonic() + 30
    while httpx.get(math_server.url + "/ready", timeout=10).json()["queued"] and time.monotonic() < deadline:
        time.sleep(0.05)
    r = httpx.post(math_server.url + "/score", headers={**AUTH, "X-Request-Timeout": "30"},
                   json={"rows": rows[:10]}, timeout=60)
    assert r.status_code == 200


def test_worker_killed_mid_request(math_server, engine):
    """SIGKILL a worker while a large request is in flight: every row still comes back, equal to
    the engine (the dead worker's rows are re-scored on a fresh one); the server stays up."""
    rows = make_rows(1500, seed=11, tag="kill-")
    box = {}

    def send():
        box["r"] = httpx.post(math_server.url + "/score", headers=AUTH, json={"rows": rows}, timeout=120)

    pids = httpx.get(math_server.url + "/ready", timeout=10).json()["worker_pids"]
    t = threading.Thread(target=send)
    t.start()
    deadline = time.monotonic() + 20
    while metric(math_server.url, "rewardsmith_pending_rows") < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    os.kill(pids[0], signal.SIGKILL)
    t.join(120)
    r = box["r"]
    assert r.status_code == 200, r.text
    rewards, labels = expected(engine, rows)
    res = r.json()["results"]
    assert [x["label"] for x in res] == labels
    np.testing.assert_array_equal([x["reward"] for x in res], rewards)
    ready = httpx.get(math_server.url + "/ready", timeout=10).json()
    assert ready["ready"] and pids[0] not in ready["worker_pids"]
    assert httpx.post(math_server.url + "/score", headers=AUTH, json={"rows": rows[:5]}, timeout=30).status_code == 200


def test_not_found_and_method(math_server):
    r = httpx.get(math_server.url + "/nope", timeout=10)
    assert r.status_code == 404 and "/nope" in r.json()["error"]
    r = httpx.get(math_server.url + "/score", timeout=10)
    assert r.status_code == 405 and "GET" in r.json()["error"]


def test_metrics_count_rows_and_labels(math_server):
    before = metric(math_server.url, "rewardsmith_rows_total", endpoint="score")
    before_c = metric(math_server.url, "rewardsmith_labels_total", label="correct")
    rows = [{"completion": "<think>a</think><answer>3</answer>", "answer": "3"}] * 7
    assert httpx.post(math_server.url + "/score", headers=AUTH, json={"rows": rows}, timeout=30).status_code == 200
    assert metric(math_server.url, "rewardsmith_rows_total", endpoint="score") == before + 7
    assert metric(math_server.url, "rewardsmith_labels_total", label="correct") == before_c + 7
    assert metric(math_server.url, "rewardsmith_request_seconds_count", endpoint="score") > 0
    assert metric(math_server.url, "rewardsmith_queue_depth") == 0


def test_details_are_strict_json():
    """Details hold NaN (an undecided shaping term) and numpy values: the answer stays strict JSON."""
    import numpy as np

    from rewardsmith.serve import schema

    det = {"terms": {"soft_overlong": float("nan")}, "score": np.float32(0.5), "ids": (np.int64(3),), "x": object()}
    out = schema.plain(det)
    assert json.loads(json.dumps(out, allow_nan=False)) == {"terms": {"soft_overlong": None}, "score": 0.5,
                                                             "ids": [3], "x": out["x"]}


def test_full_queue_is_429_with_retry_after(math_server):
    """12 large requests at once against a queue of 8, without retries: the ones over the bound
    get 429 with an integer Retry-After and a message naming the limit; the rest are scored."""
    rows = make_rows(800, seed=21)
    out: list = [None] * 12

    def send(k):
        out[k] = httpx.post(math_server.url + "/score", headers=AUTH, json={"rows": rows}, timeout=120)

    threads = [threading.Thread(target=send, args=(k,)) for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    codes = [r.status_code for r in out]
    assert set(codes) <= {200, 429} and codes.count(200) >= 8 and 429 in codes, codes
    full = next(r for r in out if r.status_code == 429)
    assert int(full.headers["retry-after"]) >= 1
    assert "queue is full" in full.json()["error"] and "limit 8" in full.json()["error"]
