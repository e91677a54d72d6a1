"""Readers of completions outside verify/ and rules/ stay linear on adversarial input.

A lazy ``<answer>(.*?)</answer>`` regex took 10.8 s on 64 KB of repeated ``<answer>`` and 265 s on
256 KB; the budget below is ~25x what the linear readers need on a busy 2-core machine.
"""

import time

import pytest

ADVERSARIAL = ["<answer>" * 32768, "<answer>" * 32768 + "</answer>", "<answer>x</answer" * 16384]


@pytest.mark.parametrize("text", ADVERSARIAL, ids=["open-tags", "open-tags-then-close", "unclosed-pairs"])
def test_grader_stats_are_linear(text):
    pytest.importorskip("sklearn")
    from rewardsmith.graders.features import _stats

    start = time.perf_counter()
    _stats(text)
    assert time.perf_counter() - start < 10.0


def test_grader_stats_read_the_last_answer_tag():
    pytest.importorskip("sklearn")
    from rewardsmith.graders.features import _stats

    one = _stats("<answer>1 2 3</answer>")
    last = _stats("<answer>1 2 3</answer><answer>4</answer>")
    assert one[6] == 3.0 and last[6] == 1.0
