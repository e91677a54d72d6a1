"""Ray engine: a local Ray instance scores a rollout set exactly as the local engine does."""

from __future__ import annotations

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from rewardsmith.integrations.ray import score_rows_ray


def _rows():
    rows = []
    for i in range(48):
        if i % 6 == 0:
            completion = "no tags at all"
        elif i % 6 == 1:
            completion = [{"role": "assistant", "content": f"<think>chat</think><answer>{i % 3}</answer>"}]
        else:
            completion = f"<think>row {i}</think><answer>{i % 4}</answer>"
        rows.append({"completion": completion, "answer": i % 3 if i % 2 else str(i % 3),
                     "prompt": f"p{i // 4}", "group": i // 4, "num_tokens": 10 + i})
    rows.append({"completion": "<think>" + "x" * 50_000 + "</think><answer>1</answer>", "answer": "1",
                 "prompt": "big", "group": 99, "num_tokens": 50_000})
    return rows


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.mark.slow
def test_ray_scores_equal_the_local_engine(local_ray, seed_rules):
    rows = _rows()
    got = score_rows_ray("seed-tiered", rows, batch_size=16, num_actors=2)
    assert ray.is_initialized()  # a Ray it did not start is left running
    local = seed_rules.score_batch(
        [r["completion"] for r in rows], [r["answer"] for r in rows], workers=0,
        fields=[{"num_tokens": r["num_tokens"]} for r in rows],
    )
    assert len(got) == len(rows)
    np.testing.assert_array_equal(got.rewards, local.rewards)
    assert got.labels == local.labels
    assert got.details == local.details
    assert set(got.components) == set(local.components)
    for k in local.components:
        np.testing.assert_array_equal(got.components[k], local.components[k])
    assert {"correct", "wrong_answer", "bad_format"} <= set(got.labels)


@pytest.mark.slow
def test_ray_takes_a_ruleset_object_and_keeps_order_with_one_actor(local_ray, seed_rules):
    rows = _rows()[:10][::-1]
    got = score_rows_ray(seed_rules, rows, batch_size=3, num_actors=1)
    local = seed_rules.score_batch([r["completion"] for r in rows], [r["answer"] for r in rows], workers=0)
    assert got.labels == local.labels
    np.testing.assert_array_equal(got.rewards, local.rewards)


def test_ray_validates_its_input_before_starting_anything():
    with pytest.raises(ValueError, match=r"rows\[1\]: expected a dict with a 'completion' column"):
        score_rows_ray("seed-tiered", [{"completion": "a"}, {"text": "b"}])
    with pytest.raises(ValueError, match="batch_size: expected an integer >= 1"):
        score_rows_ray("seed-tiered", [{"completion": "a"}], batch_size=0)
    with pytest.raises(ValueError, match=r"rows\[0\]\['tests'\]: a object cannot go to Ray"):
        score_rows_ray("seed-tiered", [{"completion": "a", "tests": object()}])
    assert len(score_rows_ray("seed-tiered", [])) == 0
