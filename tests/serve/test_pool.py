"""The server's scoring pool in process: reuse, the bounded queue, deadlines, a dead worker."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from serve_helpers import make_rows


@pytest.fixture(scope="module")
def rules():
    from rewardsmith.rules import load_rules

    return load_rules("seed-tiered")


@pytest.mark.timeout(60)
def test_scoring_pool_reused_across_runs(rules):
    """Regression: a ScoringPool's second run() waited forever (its workers were never idle)."""
    from rewardsmith.rules import ScoringPool

    rows = make_rows(6)
    texts, golds = [r["completion"] for r in rows], [r["answer"] for r in rows]
    want = rules.score_batch(texts, golds, workers=0).labels
    with ScoringPool(rules, 2, start_method="forkserver") as pool:
        pool.start()
        pids = pool.pids()
        assert len(pids) == 2
        for _ in range(3):
            out = pool.run(texts, golds, [{}] * 6, verify_timeout=5, hard_timeout=30, chunk_size=2)
            assert [r[1] for r in out] == want
        assert pool.pids() == pids  # the same processes served every run
        os.kill(pids[0], signal.SIGKILL)
        time.sleep(0.2)
        out = pool.run(texts, golds, [{}] * 6, verify_timeout=5, hard_timeout=30, chunk_size=2)
        assert [r[1] for r in out] == want and pids[0] not in pool.pids()


def test_service_queue_bound_and_deadline(rules):
    from rewardsmith.serve import DeadlineExceeded, QueueFull, ScoringService

    svc = ScoringService(rules, workers=1, queue_size=2, chunk_rows=16)
    svc.start()
    try:
        rows = make_rows(120, seed=2)
        texts, golds, fields = [r["completion"] for r in rows], [r["answer"] for r in rows], [{}] * 120
        j1 = svc.submit(texts, golds, fields)
        j2 = svc.submit(texts, golds, fields)
        with pytest.raises(QueueFull) as exc:
            svc.submit(texts[:1], golds[:1], fields[:1])
        assert exc.value.retry_after >= 1 and "limit 2" in str(exc.value)
        assert j1.wait(120) and j2.wait(120)
        assert svc.active_jobs == 0 and svc.pending_rows == 0
        want = rules.score_batch(texts, golds, workers=0).labels
        assert [r[1] for r in j1.results] == want == [r[1] for r in j2.results]

        # a deadline that has already passed, so the outcome does not depend on how fast this
        # machine scores 120 rows (a 10 ms deadline was met by a fast CI machine)
        async def late():
            return await svc.run(texts, golds, fields, deadline=time.monotonic() - 1.0)

        with pytest.raises(DeadlineExceeded, match="of 120 rows scored"):
            asyncio.run(late())
        expired = svc.submit(texts, golds, fields, deadline=time.monotonic() - 1.0)
        assert expired.wait(60)
        assert all(r is None for r in expired.results)  # its chunks were dropped, not scored
        deadline = time.monotonic() + 30
        while svc.active_jobs and time.monotonic() < deadline:
            time.sleep(0.01)
        assert svc.active_jobs == 0 and svc.pending_rows == 0
    finally:
        svc.close()
    with pytest.raises(ValueError, match="queue_size"):
        ScoringService(rules, queue_size=0)


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_workers_exit_when_their_owner_is_killed(method):
    """Regression: after the owner of a ScoringPool was SIGKILLed, a forked worker that held a
    sibling's pipe end waited forever (an orphan per server crash)."""
    import subprocess
    import sys

    code = ("from rewardsmith.rules import load_rules, ScoringPool\nimport time\n"
            f"p = ScoringPool(load_rules('seed-tiered'), 2, start_method={method!r}); p.start()\n"
            "print(' '.join(map(str, p.pids())), flush=True); time.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    pids = [int(x) for x in proc.stdout.readline().split()]
    assert len(pids) == 2
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 20

    def alive(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [p for p in pids if alive(p)]
    for p in left:  # never leave them behind, even when the test fails
        os.kill(p, signal.SIGKILL)
    assert not left, f"workers {left} outlived their owner"


def test_small_job_is_not_held_up_by_a_large_one(rules):
    """Jobs take turns chunk by chunk: 16 rows submitted after 1,500 finish long before them."""
    from rewardsmith.serve import ScoringService

    svc = ScoringService(rules, workers=1, queue_size=4, chunk_rows=32)
    svc.start()
    try:
        big = make_rows(1500, seed=30)
        small = make_rows(16, seed=31)
        jb = svc.submit([r["completion"] for r in big], [r["answer"] for r in big], [{}] * 1500)
        js = svc.submit([r["completion"] for r in small], [r["answer"] for r in small], [{}] * 16)
        assert js.wait(120)
        left = jb.remaining
        assert left > 750, f"the small job waited for {1500 - left} of the large job's 1500 rows"
        assert jb.wait(300)
        assert [r[1] for r in js.results] == rules.score_batch([r["completion"] for r in small],
                                                               [r["answer"] for r in small], workers=0).labels
    finally:
        svc.close()
