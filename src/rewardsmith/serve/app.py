"""The reward server's ASGI app (FastAPI): endpoints, limits, auth; scoring goes to the pool.

    app = create_app(ServeConfig(rules="seed-tiered", workers=2, token="s3cret"))

Endpoints: ``POST /score`` (ours), ``POST /get_reward`` (OpenRLHF), ``GET /health`` (live),
``GET /ready`` (workers up, not draining), ``GET /metrics`` (Prometheus). Every client error is a
4xx JSON body ``{"error": "<field>: <what is wrong>"}``; a full queue is 429 with ``Retry-After``;
a request whose ``X-Request-Timeout`` (seconds) passes before its rows are scored is 504.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import math
import os
import time
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

import rewardsmith.serve.schema as schema
from rewardsmith.serve.metrics import CONTENT_TYPE_LATEST, ServerMetrics
from rewardsmith.serve.pool import DeadlineExceeded, QueueFull, ScoringService, ServiceClosed

__all__ = ["ServeConfig", "create_app", "DEADLINE_HEADER", "TOKEN_ENV"]

#: Request header: seconds the client will wait; past it the request is answered 504, unscored.
DEADLINE_HEADER = "x-request-timeout"
#: Environment variable read for the bearer token when ``ServeConfig.token`` is not given.
TOKEN_ENV = "REWARDSMITH_SERVE_TOKEN"


@dataclass
class ServeConfig:
    """Everything the server needs; each field is a ``rewardsmith serve`` option.

    ``rules``: preset name, YAML path or dict. ``workers``: scoring processes (default: cores).
    ``queue_size``: requests accepted and unanswered at once (429 beyond). ``chunk_rows``: rows per
    message to a worker. ``row_timeout``: hard seconds per row (default: the rule set's
    ``sample_timeout``). ``max_body_mb`` / ``max_rows``: request limits (413 beyond). ``token``:
    bearer token (default: ``$REWARDSMITH_SERVE_TOKEN``; none = no auth). ``unscored_reward``: what
    ``/get_reward`` pays a NaN (unscored) reward (default: the rule set's lowest tier reward).
    ``label_field``: where ``/get_reward``'s labels go (default: ``answer``, ``tests`` for code).
    """

    rules: Any = "seed-tiered"
    workers: int | None = None
    queue_size: int = 64
    chunk_rows: int = 64
    row_timeout: float | None = None
    max_body_mb: float = 32.0
    max_rows: int = 10_000
    token: str | None = None
    unscored_reward: float | None = None
    label_field: str | None = None
    start_method: str = "forkserver"

    def resolved_token(self) -> str | None:
        tok = self.token if self.token is not None else os.environ.get(TOKEN_ENV)
        return tok or None


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, allow_nan=False, separators=(",", ":")).encode(), status_code=status,
                    media_type="application/json", headers=headers)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return _json(status, {"error": message}, headers)


class _State:
    """What the endpoints share: the rule set, the pool, the metrics, the limits."""

    def __init__(self, cfg: ServeConfig) -> None:
        from rewardsmith.rules import load_rules

        for name in ("max_body_mb", "max_rows"):
            v = getattr(cfg, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 < v < math.inf):
                raise ValueError(f"{name}: expected a positive number, got {v!r}")
        self.cfg = cfg
        self.ruleset = cfg.rules if hasattr(cfg.rules, "score_batch") else load_rules(cfg.rules)
        self.metrics = ServerMetrics()
        self.token = cfg.resolved_token()
        self.max_body = int(cfg.max_body_mb * 1024 * 1024)
        self.unscored = (schema.default_unscored_reward(self.ruleset) if cfg.unscored_reward is None
                         else float(cfg.unscored_reward))
        if not math.isfinite(self.unscored):
            raise ValueError(f"unscored_reward: expected a finite number (OpenRLHF needs one), got {cfg.unscored_reward!r}")
        self.label_field = cfg.label_field or schema.label_field_for(self.ruleset)
        self.service = ScoringService(self.ruleset, workers=cfg.workers, queue_size=cfg.queue_size,
                                      chunk_rows=cfg.chunk_rows, row_timeout=cfg.row_timeout,
                                      start_method=cfg.start_method)
        self.draining = False

    def authorized(self, request: Request) -> Response | None:
        if self.token is None:
            return None
        auth = request.headers.get("authorization")
        if not auth:
            self.metrics.errors.labels("auth").inc()
            return _error(401, "authorization: missing bearer token; send 'Authorization: Bearer <token>'",
                          {"WWW-Authenticate": "Bearer"})
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), self.token.encode()):
            self.metrics.errors.labels("auth").inc()
            return _error(401, "authorization: invalid bearer token", {"WWW-Authenticate": "Bearer"})
        return None

    async def body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                raise schema.BadRequest(400, f"content-length: not an integer: {declared[:40]!r}") from None
            if size > self.max_body:
                raise schema.BadRequest(413, f"body: {size} bytes; the limit is {self.max_body} "
                                             f"({self.cfg.max_body_mb:g} MB, --max-body-mb)")
        chunks, total = [], 0
        async for chunk in request.stream():
            total += len(chunk)
            if total > self.max_body:
                raise schema.BadRequest(413, f"body: more than {self.max_body} bytes; the limit is "
                                             f"{self.cfg.max_body_mb:g} MB (--max-body-mb)")
            chunks.append(chunk)
        return b"".join(chunks)

    def deadline(self, request: Request) -> float | None:
        v = request.headers.get(DEADLINE_HEADER)
        if v is None:
            return None
        try:
            s = float(v)
        except ValueError:
            s = math.nan
        if not (math.isfinite(s) and s > 0):
            raise schema.BadRequest(400, f"{DEADLINE_HEADER}: expected a positive number of seconds, got {v[:40]!r}")
        return time.monotonic() + s


def create_app(cfg: ServeConfig | None = None, *, start: bool = True) -> FastAPI:
    """The FastAPI app for ``cfg``. With ``start=True`` the worker pool starts in the app's
    lifespan (and stops after the last accepted request is answered); with ``start=False`` the
    caller starts it (``app.state.rs.service.start()``), as the Ray Serve replica does."""
    cfg = cfg or ServeConfig()
    st = _State(cfg)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        if start:
            st.service.start()
        try:
            yield
        finally:
            st.draining = True
            st.service.close()

    app = FastAPI(title="rewardsmith reward server", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.rs = st
    m = st.metrics
    m.queue_depth.set_function(lambda: st.service.active_jobs)
    m.pending_rows.set_function(lambda: st.service.pending_rows)
    m.worker_restarts.set_function(lambda: st.service.restarts)

    async def scored(request: Request, endpoint: str, parse, respond) -> Response:
        t0 = time.perf_counter()
        m.in_flight.inc()
        code = 500
        try:
            denied = st.authorized(request)
            if denied is not None:
                code = denied.status_code
                return denied
            try:
                deadline = st.deadline(request)
                req = parse(schema.parse_json(await st.body(request)))
            except schema.BadRequest as exc:
                m.errors.labels("bad_request").inc()
                code = exc.status
                return _error(exc.status, exc.message)
            if st.draining:
                m.errors.labels("draining").inc()
                code = 503
                return _error(503, "server: shutting down; send the request to another replica", {"Retry-After": "1"})
            try:
                results = await st.service.run(req.texts, req.golds, req.fields, deadline, details=req.details)
            except QueueFull as exc:
                m.errors.labels("queue_full").inc()
                code = 429
                return _error(429, str(exc), {"Retry-After": str(int(math.ceil(exc.retry_after)))})
            except ServiceClosed as exc:
                m.errors.labels("draining").inc()
                code = 503
                return _error(503, f"server: {exc}", {"Retry-After": "1"})
            except DeadlineExceeded as exc:
                m.errors.labels("deadline").inc()
                code = 504
                return _error(504, f"{DEADLINE_HEADER}: {exc}")
            except RuntimeError as exc:
                m.errors.labels("scoring").inc()
                code = 503
                return _error(503, f"server: {exc}", {"Retry-After": "1"})
            try:
                body = respond(req, results)
            except schema.BadRequest as exc:
                m.errors.labels("bad_request").inc()
                code = exc.status
                return _error(exc.status, exc.message)
            m.rows.labels(endpoint).inc(len(results))
            for lab, k in _count(r[1] for r in results).items():
                m.labels.labels(lab).inc(k)
            code = 200
            return _json(200, body)
        finally:
            m.in_flight.dec()
            m.requests.labels(endpoint, str(code)).inc()
            m.latency.labels(endpoint).observe(time.perf_counter() - t0)

    rs, max_rows = st.ruleset, cfg.max_rows

    @app.post("/score")
    async def score(request: Request) -> Response:
        return await scored(
            request, "score",
            lambda obj: schema.parse_score_request(obj, rs, max_rows),
            lambda req, res: schema.score_response(rs, req, res),
        )

    @app.post("/get_reward")
    async def get_reward(request: Request) -> Response:
        return await scored(
            request, "get_reward",
            lambda obj: schema.parse_openrlhf_request(obj, rs, max_rows, st.label_field),
            lambda req, res: schema.openrlhf_response(rs, res, st.unscored),
        )

    @app.get("/health")
    async def health() -> Response:
        return _json(200, {"status": "ok"})

    @app.get("/ready")
    async def ready() -> Response:
        ok = st.service.ready and not st.draining
        body = {"ready": ok, "rules": rs.name, "workers": st.service.workers,
                "worker_pids": st.service.worker_pids(), "queued": st.service.active_jobs,
                "queue_size": st.service.queue_size, "draining": st.draining}
        return _json(200 if ok else 503, body)

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        denied = st.authorized(request)
        if denied is not None:
            return denied
        return Response(m.render(), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(404)
    async def not_found(request: Request, exc: Exception) -> Response:
        return _error(404, f"path: no endpoint {request.url.path!r}; expected POST /score, POST /get_reward, "
                           "GET /health, /ready, /metrics")

    @app.exception_handler(405)
    async def bad_method(request: Request, exc: Exception) -> Response:
        return _error(405, f"method: {request.method} is not allowed on {request.url.path!r}")

    return app


def _count(labels) -> dict[str, int]:
    out: dict[str, int] = {}
    for lab in labels:
        out[lab] = out.get(lab, 0) + 1
    return out
