"""Clients of the reward server (``rewardsmith serve``): move scoring off the trainer in one line.

* :class:`RewardClient` / :class:`AsyncRewardClient` -- ``score(completions, answers, fields=,
  groups=, estimator=)`` over HTTP: batches of ``batch_size`` rows (the async client sends them
  concurrently), retries with exponential backoff and jitter on 429 (honouring ``Retry-After``),
  5xx and connection errors, a timeout per request (sent as ``X-Request-Timeout`` so the server
  drops work nobody waits for). A 4xx other than 429 raises :class:`RemoteScoringError` with the
  server's message, which names the row and the field. Results come back as a
  ``rewardsmith.rules.ScoredBatch`` (input order), plus ``advantages`` when an estimator is given.
* :func:`reward_func` -- a TRL reward function that calls a server (``asynchronous=True`` for
  TRL's async reward path): ``reward_funcs=[remote.reward_func("http://host:8000")]``.
* :func:`compute_score` / :func:`compute_score_batch` -- verl's custom reward function signatures,
  returning the same dict as ``rewardsmith.integrations.verl``::

      reward.custom_reward_function.path=pkg://rewardsmith.integrations.remote
      +reward.custom_reward_function.reward_kwargs.url=http://host:8000

Scoring is idempotent, so a retried request can never count a row twice.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import threading
import time
from typing import Any, Mapping, Sequence

import numpy as np

from rewardsmith.integrations._trl_call import dataset_columns

__all__ = [
    "RewardClient",
    "AsyncRewardClient",
    "RemoteScoringError",
    "RemoteScores",
    "reward_func",
    "RemoteReward",
    "AsyncRemoteReward",
    "compute_score",
    "compute_score_batch",
]

_RETRY_STATUS = frozenset({429, 502, 503, 504})
_TOKEN_ENV = "REWARDSMITH_SERVE_TOKEN"


class RemoteScoringError(RuntimeError):
    """The server refused the request (4xx: the message names the field) or kept failing."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RemoteScores:
    """A scored batch from the server: ``rewards`` (NaN = unscored), ``labels``, ``components``
    (name -> array), ``details`` (when asked for) and ``advantages`` (when an estimator was given)."""

    def __init__(self, rewards, labels, components, details, advantages=None) -> None:
        self.rewards = rewards
        self.labels = labels
        self.components = components
        self.details = details
        self.advantages = advantages

    def __len__(self) -> int:
        return len(self.labels)

    def label_counts(self) -> dict[str, int]:
        from collections import Counter

        return dict(Counter(self.labels).most_common())


def _base_url(url: str) -> str:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError(f"url: expected the server's base URL, e.g. 'http://host:8000', got {url!r}")
    url = url.rstrip("/")
    for suffix in ("/score", "/get_reward"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    return url


def _rows(completions, answers, fields, groups) -> list[dict[str, Any]]:
    n = len(completions)
    if answers is not None and len(answers) != n:
        raise ValueError(f"answers: expected {n} (one per completion), got {len(answers)}")
    if groups is not None and len(groups) != n:
        raise ValueError(f"groups: expected {n} (one per completion), got {len(groups)}")
    if isinstance(fields, Mapping):
        for k, col in fields.items():
            if len(col) != n:
                raise ValueError(f"fields[{k!r}]: expected {n} values (one per completion), got {len(col)}")
        fields = [{k: fields[k][i] for k in fields} for i in range(n)]
    elif fields is not None and len(fields) != n:
        raise ValueError(f"fields: expected {n} dicts (one per completion), got {len(fields)}")
    rows = []
    for i in range(n):
        row: dict[str, Any] = dict(fields[i]) if fields is not None else {}
        row["completion"] = completions[i]
        if answers is not None:
            row["answer"] = answers[i]
        if groups is not None:
            row["group"] = groups[i]
        rows.append({k: _jsonable(v) for k, v in row.items()})
    return rows


def _jsonable(v: Any) -> Any:
    """numpy scalars and arrays (dataset columns often hold them) as plain JSON data."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def _empty(estimator) -> RemoteScores:
    return RemoteScores(np.zeros(0), [], {}, [], np.zeros(0) if estimator is not None else None)


def _collect(parts: list[dict[str, Any]], n: int, estimator, options, groups) -> RemoteScores:
    results = [r for p in parts for r in p["results"]]
    if len(results) != n:  # pragma: no cover - the server answers one result per row
        raise RemoteScoringError(f"server returned {len(results)} results for {n} rows")
    f = (lambda v: math.nan if v is None else float(v))
    rewards = np.array([f(r["reward"]) for r in results], dtype=np.float64)
    labels = [r["label"] for r in results]
    names = list(results[0]["components"]) if results else []
    comps = {k: np.array([f(r["components"].get(k)) for r in results], dtype=np.float64) for k in names}
    details = [r.get("details", {}) for r in results]
    adv = None
    if estimator is not None:
        if len(parts) == 1:
            adv = np.array([f(r["advantage"]) for r in results], dtype=np.float64)
        else:  # groups spanned several requests: the same estimator, over the whole batch
            from rewardsmith import advantages

            keys: dict[Any, int] = {}
            ids = np.array([keys.setdefault((type(g).__name__, g), len(keys)) for g in groups], dtype=np.int64)
            adv = np.asarray(advantages.compute(estimator, rewards, groups=ids, **(options or {})))
    return RemoteScores(rewards, labels, comps, details, adv)


class _Common:
    def __init__(self, url: str, *, token: str | None = None, timeout: float = 120.0, retries: int = 8,
                 backoff: float = 0.05, max_backoff: float = 5.0, batch_size: int = 1024) -> None:
        self.url = _base_url(url)
        self.token = token if token is not None else (os.environ.get(_TOKEN_ENV) or None)
        if not (isinstance(timeout, (int, float)) and 0 < timeout < math.inf):
            raise ValueError(f"timeout: expected a positive number of seconds, got {timeout!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries: expected an integer >= 0, got {retries!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size: expected an integer >= 1, got {batch_size!r}")
        self.timeout, self.retries, self.batch_size = float(timeout), retries, batch_size
        self.backoff, self.max_backoff = float(backoff), float(max_backoff)
        self.retried = 0  # attempts repeated after a 429 / 5xx / connection error (for tests, logs)

    def _headers(self) -> dict[str, str]:
        h = {"Content-Type": "application/json", "X-Request-Timeout": f"{self.timeout:g}"}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        return h

    def _batches(self, rows, estimator, options, details):
        n = len(rows)
        one = n <= self.batch_size
        out = []
        for s in range(0, max(n, 1), self.batch_size):
            body: dict[str, Any] = {"rows": rows[s: s + self.batch_size]}
            if estimator is not None and one:
                body["estimator"] = estimator
                if options:
                    body["estimator_options"] = options
            if details:
                body["details"] = True
            out.append(body)
        return out

    @staticmethod
    def _error(resp: Any) -> RemoteScoringError:
        try:
            msg = resp.json().get("error", resp.text)
        except Exception:  # noqa: BLE001
            msg = resp.text[:500]
        return RemoteScoringError(f"reward server answered {resp.status_code}: {msg}", resp.status_code)


class _Retry:
    """The retry policy of one request, shared by :class:`RewardClient` and :class:`AsyncRewardClient`
    (which differ only in how they send and how they sleep).

    Attempt ``k`` (from 0) that failed with 429/502/503/504 or a connection error is repeated after
    ``min(max_backoff, backoff * 2**k)`` seconds -- at least the server's ``Retry-After``, capped
    the same way -- times a jitter drawn from [0.5, 1); after ``retries`` repeats it gives up with a
    :class:`RemoteScoringError` naming the last failure. Any other status but 200 raises at once
    with the server's message (a 4xx names the row and the field: retrying cannot fix it).
    """

    def __init__(self, client: "_Common", path: str) -> None:
        self.client, self.path, self.attempt = client, path, 0

    def after(self, outcome: Any) -> float | None:
        """``outcome``: the attempt's response, or the transport error it raised. ``None`` when the
        response is the answer (200); else the seconds to wait before the next attempt."""
        c = self.client
        if isinstance(outcome, Exception):
            response, last = None, f"{type(outcome).__name__}: {outcome}"
        elif outcome.status_code == 200:
            return None
        elif outcome.status_code not in _RETRY_STATUS:
            raise c._error(outcome)
        else:
            response, last = outcome, str(c._error(outcome))
        if self.attempt >= c.retries:
            raise RemoteScoringError(f"{c.url}{self.path}: no answer after {c.retries + 1} attempts; last: {last}")
        wait = min(c.max_backoff, c.backoff * (2 ** self.attempt))
        if response is not None and response.headers.get("retry-after"):
            try:
                wait = max(wait, min(c.max_backoff, float(response.headers["retry-after"])))
            except ValueError:
                pass
        self.attempt += 1
        c.retried += 1
        return wait * random.uniform(0.5, 1.0)


class RewardClient(_Common):
    """Synchronous client (thread-safe: one ``httpx.Client`` connection pool)."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        import httpx

        self._http = httpx.Client(timeout=self.timeout + 5.0)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "RewardClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` to ``path`` with retries; the decoded JSON answer."""
        import httpx

        retry = _Retry(self, path)
        while True:
            try:
                resp = self._http.post(self.url + path, json=body, headers=self._headers())
            except httpx.TransportError as exc:
                resp = exc
            wait = retry.after(resp)
            if wait is None:
                return resp.json()
            time.sleep(wait)

    def score(self, completions: Sequence[Any], answers: Sequence[Any] | None = None, *,
              fields: Any = None, groups: Sequence[Any] | None = None, estimator: str | None = None,
              estimator_options: dict[str, Any] | None = None, details: bool = False) -> RemoteScores:
        """Score a batch on the server; results in input order."""
        rows = _rows(list(completions), answers, fields, groups)
        if not rows:
            return _empty(estimator)
        parts = [self.post("/score", b) for b in self._batches(rows, estimator, estimator_options, details)]
        return _collect(parts, len(rows), estimator, estimator_options, groups)

    def get(self, path: str) -> dict[str, Any]:
        resp = self._http.get(self.url + path, headers=self._headers())
        if resp.status_code not in (200, 503):
            raise self._error(resp)
        return resp.json()


class AsyncRewardClient(_Common):
    """Asynchronous client (``httpx.AsyncClient``): batches go out concurrently, at most
    ``concurrency`` at a time."""

    def __init__(self, url: str, *, concurrency: int = 8, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency: expected an integer >= 1, got {concurrency!r}")
        self.concurrency = concurrency
        self._http = None

    def _client(self):
        import httpx

        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.timeout + 5.0)
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> "AsyncRewardClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` to ``path`` with retries; the decoded JSON answer."""
        import httpx

        http = self._client()
        retry = _Retry(self, path)
        while True:
            try:
                resp = await http.post(self.url + path, json=body, headers=self._headers())
            except httpx.TransportError as exc:
                resp = exc
            wait = retry.after(resp)
            if wait is None:
                return resp.json()
            await asyncio.sleep(wait)

    async def score(self, completions: Sequence[Any], answers: Sequence[Any] | None = None, *,
                    fields: Any = None, groups: Sequence[Any] | None = None, estimator: str | None = None,
                    estimator_options: dict[str, Any] | None = None, details: bool = False) -> RemoteScores:
        """Score a batch on the server; results in input order."""
        rows = _rows(list(completions), answers, fields, groups)
        if not rows:
            return _empty(estimator)
        sem = asyncio.Semaphore(self.concurrency)

        async def one(body):
            async with sem:
                return await self.post("/score", body)

        parts = await asyncio.gather(*(one(b) for b in self._batches(rows, estimator, estimator_options, details)))
        return _collect(list(parts), len(rows), estimator, estimator_options, groups)


# ------------------------------------------------------------------------------------ TRL


class RemoteReward:
    """A TRL reward function scored by a server: ``f(prompts=, completions=, <columns>=)`` ->
    one ``float | None`` per completion (None = unscored). ``answer_column`` names the dataset
    column with the gold answer (None: rules without one); other list columns go as fields.
    Picklable (the HTTP client is made on first use in each process)."""

    def __init__(self, url: str, *, answer_column: str | None = "answer", component: str | None = None,
                 **client_kwargs: Any) -> None:
        self.url = _base_url(url)
        self.answer_column = answer_column
        self.component = component
        self.client_kwargs = dict(client_kwargs)
        self.__name__ = "rewardsmith_remote" + (f"_{component}" if component else "")
        self._local = threading.local()

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url, "answer_column": self.answer_column, "component": self.component,
                "client_kwargs": self.client_kwargs}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"], answer_column=state["answer_column"], component=state["component"],
                      **state["client_kwargs"])

    def __repr__(self) -> str:
        return f"RemoteReward({self.url!r}, answer_column={self.answer_column!r})"

    def _args(self, prompts, completions, kwargs):
        if completions is None:
            raise ValueError("completions: TRL passes completions=...; got none")
        answers, cols = dataset_columns(kwargs, self.answer_column, len(completions))
        fields = {k: list(v) for k, v in cols.items() if isinstance(v, (list, tuple)) and len(v) == len(completions)}
        return list(completions), answers, (fields or None)

    def _out(self, scored: RemoteScores) -> list[float | None]:
        vals = scored.rewards if self.component is None else scored.components[self.component]
        return [None if math.isnan(v) else float(v) for v in vals]

    def __call__(self, prompts=None, completions=None, **kwargs: Any) -> list[float | None]:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = RewardClient(self.url, **self.client_kwargs)
        c, a, f = self._args(prompts, completions, kwargs)
        return self._out(client.score(c, a, fields=f))


class AsyncRemoteReward(RemoteReward):
    """:class:`RemoteReward` for TRL's async reward path (an ``async`` callable)."""

    async def __call__(self, prompts=None, completions=None, **kwargs: Any) -> list[float | None]:
        c, a, f = self._args(prompts, completions, kwargs)
        async with AsyncRewardClient(self.url, **self.client_kwargs) as client:
            return self._out(await client.score(c, a, fields=f))


def reward_func(url: str, *, answer_column: str | None = "answer", asynchronous: bool = False,
                component: str | None = None, **client_kwargs: Any) -> RemoteReward:
    """A TRL reward function that scores on the server at ``url`` (see :class:`RemoteReward`)."""
    cls = AsyncRemoteReward if asynchronous else RemoteReward
    return cls(url, answer_column=answer_column, component=component, **client_kwargs)


# ------------------------------------------------------------------------------------ verl
_CLIENTS: dict[tuple, RewardClient] = {}
_CLIENTS_LOCK = threading.Lock()


def _shared_client(url: str, token: str | None, timeout: float) -> RewardClient:
    key = (_base_url(url), token, timeout, os.getpid())
    with _CLIENTS_LOCK:
        c = _CLIENTS.get(key)
        if c is None:
            c = _CLIENTS[key] = RewardClient(url, token=token, timeout=timeout)
        return c


def compute_score(data_source: Any, solution_str: str, ground_truth: Any, extra_info: dict | None = None, *,
                  url: str | None = None, token: str | None = None, timeout: float = 120.0,
                  unscored_score: float = 0.0, **kwargs: Any) -> dict[str, Any]:
    """verl's per-sample reward function, scored on the server at ``url``; the same dict as
    ``rewardsmith.integrations.verl.compute_score``. Thread-safe (one pooled client per process)."""
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info], url=url,
                               token=token, timeout=timeout, unscored_score=unscored_score)[0]


def compute_score_batch(data_sources: Sequence[Any], solution_strs: Sequence[str], ground_truths: Sequence[Any],
                        extra_infos: Sequence[dict | None] | None = None, *, url: str | None = None,
                        token: str | None = None, timeout: float = 120.0, unscored_score: float = 0.0,
                        **kwargs: Any) -> list[dict[str, Any]]:
    """verl's batch reward function (``reward_manager=batch``), scored on the server at ``url``."""
    from rewardsmith.integrations.verl import _answer, _fields, score_dicts

    if url is None:
        raise ValueError("url: the reward server's address is required "
                         "(+reward.custom_reward_function.reward_kwargs.url=http://host:8000)")
    n = len(solution_strs)
    if len(ground_truths) != n:
        raise ValueError(f"ground_truths: expected {n} (one per solution), got {len(ground_truths)}")
    extra_infos = [None] * n if extra_infos is None else list(extra_infos)
    if len(extra_infos) != n:
        raise ValueError(f"extra_infos: expected {n} (one per solution), got {len(extra_infos)}")
    client = _shared_client(url, token, timeout)
    scored = client.score(list(solution_strs), [_answer(g) for g in ground_truths],
                          fields=[_fields(e) for e in extra_infos], details=True)
    return score_dicts(scored, unscored_score)
