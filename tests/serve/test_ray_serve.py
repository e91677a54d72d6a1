"""Ray Serve mode: the same app on a local Ray with 2 replicas (light: no dashboard, small CPUs)."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest

from serve_helpers import make_rows

pytest.importorskip("ray.serve")


@pytest.mark.slow
def test_two_replicas_serve_the_same_endpoints():
    import httpx
    import ray
    from ray import serve

    from rewardsmith.rules import load_rules
    from rewardsmith.serve import ServeConfig
    from rewardsmith.serve.ray_serve import build_deployment

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(build_deployment(ServeConfig(rules="seed-tiered", workers=1), replicas=2, num_cpus=0.5),
                  name="rewardsmith", route_prefix="/")
        url = f"http://127.0.0.1:{port}"
        rules = load_rules("seed-tiered")
        pids = set()
        deadline = time.monotonic() + 60
        while len(pids) < 2 and time.monotonic() < deadline:  # both replicas answer
            r = httpx.get(url + "/ready", timeout=30)
            if r.status_code == 200:
                pids.add(tuple(r.json()["worker_pids"]))
        assert len(pids) == 2, pids
        for k in range(6):
            rows = make_rows(40, seed=50 + k)
            r = httpx.post(url + "/score", json={"rows": rows, "estimator": "rank"}, timeout=60)
            assert r.status_code == 200, r.text
            b = rules.score_batch([x["completion"] for x in rows], [x["answer"] for x in rows], workers=0)
            res = r.json()["results"]
            assert [x["label"] for x in res] == b.labels
            np.testing.assert_array_equal([x["reward"] for x in res], b.rewards)
        r = httpx.post(url + "/get_reward", json={"query": ["<think>a</think><answer>3</answer>"], "labels": ["3"]},
                       timeout=60)
        assert r.json()["rewards"] == [1.0]
        r = httpx.post(url + "/score", content=b'{"rows": [', timeout=60)
        assert r.status_code == 400 and "malformed JSON" in r.json()["error"]
        assert "rewardsmith_rows_total" in httpx.get(url + "/metrics", timeout=30).text
    finally:
        serve.shutdown()
        ray.shutdown()
