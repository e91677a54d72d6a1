"""``REWARDSMITH_TEST_THREADS=N pytest tests/train`` runs every demo-config training at N torch
threads (default: the config's 1): another float summation order in the BLAS kernels, the kind of
variation another machine brings. The training tests must pass either way."""

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _torch_threads():
    threads = os.environ.get("REWARDSMITH_TEST_THREADS")
    if not threads:
        yield
        return
    from rewardsmith.train.experiment import DEMO

    saved = DEMO["config"]
    DEMO["config"] = {**saved, "threads": int(threads)}
    yield
    DEMO["config"] = saved
