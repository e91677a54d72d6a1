"""The reward server under hostile code rows, disk-filling rows, and SIGTERM while under load."""

from __future__ import annotations

import shutil
import threading
import time

import httpx
import pytest

from serve_helpers import ServerProcess

TESTS = [{"input": "1 2\n", "output": "3\n"}, {"input": "5 7\n", "output": "12\n"}]
GOOD = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
WRONG = "```python\na, b = map(int, input().split())\nprint(a - b)\n```"
FORK_BOMB = "```python\nimport os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n```"
MEMORY_BOMB = "```python\nx = []\nwhile True:\n    x.append(bytearray(50 * 1024 * 1024))\n```"
DISK_FILL = ("```python\nimport os\nfor d in ['.', '/tmp', '/dev/shm', '/var/tmp']:\n    try:\n"
             "        with open(os.path.join(d, 'fill.bin'), 'wb') as f:\n"
             "            while True:\n                f.write(b'x' * (1 << 20))\n"
             "    except OSError:\n        pass\n```")


@pytest.fixture(scope="module")
def code_server():
    srv = ServerProcess("--rules", "code", "--workers", "2", "--queue-size", "32", "--chunk-rows", "1")
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


def _score(url, rows, timeout_s=None):
    headers = {} if timeout_s is None else {"X-Request-Timeout": str(timeout_s)}
    return httpx.post(url + "/score", json={"rows": rows}, headers=headers, timeout=120)


@pytest.mark.slow
def test_hostile_code_rows_do_not_hold_up_others(code_server):
    """A fork bomb and a memory bomb in one request; an honest request sent meanwhile with a
    20 s deadline is answered in time, and correctly."""
    box = {}

    def hostile():
        box["h"] = _score(code_server.url, [{"completion": FORK_BOMB, "tests": TESTS},
                                           {"completion": MEMORY_BOMB, "tests": TESTS}])

    t = threading.Thread(target=hostile)
    t.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    r = _score(code_server.url, [{"completion": GOOD, "tests": TESTS}, {"completion": WRONG, "tests": TESTS}],
               timeout_s=20)
    took = time.monotonic() - t0
    assert r.status_code == 200, r.text
    assert [x["label"] for x in r.json()["results"]] == ["passed", "wrong_answer"]
    assert took < 20
    t.join(120)
    h = box["h"]
    assert h.status_code == 200, h.text
    labels = [x["label"] for x in h.json()["results"]]
    rewards = [x["reward"] for x in h.json()["results"]]
    assert all(lab != "passed" for lab in labels) and rewards == [-1.0, -1.0], (labels, rewards)
    assert httpx.get(code_server.url + "/ready", timeout=10).json()["ready"]


@pytest.mark.slow
def test_disk_filling_rows_leave_host_disk_and_others_intact(code_server):
    """16 concurrent disk-filling code rewards: the host's free space is unchanged (within what
    other processes on a shared machine may write meanwhile) and honest requests still pass."""
    before = {p: shutil.disk_usage(p).free for p in ("/", "/tmp")}
    out: list = [None] * 17

    def send(k):
        rows = [{"completion": DISK_FILL if k < 16 else GOOD, "tests": TESTS}]
        out[k] = _score(code_server.url, rows)

    threads = [threading.Thread(target=send, args=(k,)) for k in range(17)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    for k, r in enumerate(out):
        assert r is not None and r.status_code == 200, (k, r and r.text)
        lab = r.json()["results"][0]["label"]
        assert (lab == "passed") == (k == 16), (k, lab)
    after = {p: shutil.disk_usage(p).free for p in ("/", "/tmp")}
    for p in before:  # 16 unbounded writers would take gigabytes; allow other helpers' churn
        assert after[p] > before[p] - 256 * 1024 * 1024, (p, before[p], after[p])


@pytest.mark.slow
def test_sigterm_under_load_answers_every_accepted_request():
    """SIGTERM with 6 accepted requests whose rows take 1.5 s of wall time each (a sleeping
    program: the timing holds however loaded the machine is): every one is answered in full,
    the server exits 0 and no longer accepts."""
    srv = ServerProcess("--rules", "code", "--workers", "2", "--queue-size", "32", "--chunk-rows", "1")
    try:
        srv.wait_ready()
        slow = "```python\nimport time\ntime.sleep(1.5)\na, b = map(int, input().split())\nprint(a + b)\n```"
        rows = [{"completion": slow, "tests": TESTS[:1]}, {"completion": WRONG, "tests": TESTS[:1]}]
        n_req = 6
        out: list = [None] * n_req

        def send(k):
            try:
                out[k] = httpx.post(srv.url + "/score", json={"rows": rows}, timeout=120)
            except httpx.HTTPError as exc:  # recorded, asserted below
                out[k] = exc

        threads = [threading.Thread(target=send, args=(k,)) for k in range(n_req)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            q = httpx.get(srv.url + "/ready", timeout=10).json()["queued"]
            if q == n_req:
                break
            time.sleep(0.02)
        assert q == n_req, f"only {q} of {n_req} requests were accepted"
        assert not any(out), "a request finished before all were accepted"
        t0 = time.monotonic()
        srv.proc.terminate()  # SIGTERM with every request accepted and most not yet scored
        for t in threads:
            t.join(120)
        for k, r in enumerate(out):
            assert isinstance(r, httpx.Response) and r.status_code == 200, (k, r)
            assert [x["label"] for x in r.json()["results"]] == ["passed", "wrong_answer"]
        assert srv.proc.wait(60) == 0
        assert time.monotonic() - t0 < 60
        with pytest.raises(httpx.ConnectError):  # it no longer accepts
            httpx.get(srv.url + "/health", timeout=5)
    finally:
        srv.stop()


def test_openrlhf_labels_are_the_code_tests(code_server):
    """With the code rules, OpenRLHF's labels (JSON text of the tests) go to the 'tests' field."""
    import json

    prompt = "<|im_start|>user\nAdd two numbers.<|im_end|>\n<|im_start|>assistant\n"
    body = {"query": [prompt + GOOD + "<|im_end|>", prompt + WRONG], "prompts": [prompt, prompt],
            "labels": [json.dumps(TESTS), json.dumps(TESTS)]}
    r = httpx.post(code_server.url + "/get_reward", json=body, timeout=120)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["rewards"] == [1.0, -1.0] and out["scores"] == [1.0, 0.0]
    assert out["extra_logs"]["rewardsmith/label/passed"] == [1.0, 0.0]
    r = httpx.post(code_server.url + "/get_reward", json={"query": ["x"], "labels": ["not json ["]}, timeout=60)
    assert r.status_code == 200 and r.json()["extra_logs"]["rewardsmith/scored"] == [0.0]
