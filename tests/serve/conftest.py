"""Fixtures of the reward-server tests (helpers in serve_helpers.py)."""

from __future__ import annotations

import pytest

from serve_helpers import TOKEN, ServerProcess


@pytest.fixture(scope="session")
def math_server():
    """seed-tiered, 2 workers, a queue of 8 requests, a bearer token."""
    srv = ServerProcess("--rules", "seed-tiered", "--workers", "2", "--queue-size", "8", "--token", TOKEN,
                        "--max-rows", "5000")
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()
