"""Prometheus metrics of one reward server (its own registry, so several apps in one process and
the test suite never collide). Served as text at ``GET /metrics``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["ServerMetrics", "CONTENT_TYPE_LATEST"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class ServerMetrics:
    """Counters, gauges and the latency histogram of the server (names start ``rewardsmith_``)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("rewardsmith_requests", "HTTP requests answered, by endpoint and status code",
                                ["endpoint", "code"], registry=r)
        self.rows = Counter("rewardsmith_rows", "Rows scored, by endpoint", ["endpoint"], registry=r)
        self.labels = Counter("rewardsmith_labels", "Scored rows by label", ["label"], registry=r)
        self.errors = Counter("rewardsmith_errors", "Requests refused or failed, by kind", ["kind"], registry=r)
        self.latency = Histogram("rewardsmith_request_seconds", "Request latency (seconds), by endpoint",
                                 ["endpoint"], buckets=_LATENCY_BUCKETS, registry=r)
        self.queue_depth = Gauge("rewardsmith_queue_depth", "Requests accepted and not yet answered", registry=r)
        self.pending_rows = Gauge("rewardsmith_pending_rows", "Rows queued or being scored", registry=r)
        self.in_flight = Gauge("rewardsmith_in_flight", "HTTP requests being handled", registry=r)
        self.worker_restarts = Gauge("rewardsmith_worker_restarts",
                                     "Rows re-scored after their worker died", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
