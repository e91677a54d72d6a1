"""Score a rollout set on Ray: Ray Data ``map_batches`` over the batch engine, one rule set per actor.

``score_rows_ray(spec, rows)`` turns the rows into a Ray Dataset (``__rs_idx``, ``completion``,
``answer`` and the extra field columns) sorted by gold answer, in blocks of about ``batch_size``
rows, and runs ``map_batches`` with a pool of ``num_actors`` actors. Each actor builds the rule set
once (``load_rules(spec)``) and keeps it for every batch it scores, so what the verifiers cache per
process (parsed gold answers) is reused across batches; inside an actor a batch is
scored with ``RuleSet.score_batch(workers=workers)`` (serial in-process by default: Ray provides
the parallelism). Results come back in input order as a ``rewardsmith.rules.ScoredBatch``, equal
to the local engine's row for row.

Local Ray by default (started here, and shut down afterwards, when none is running);
``address="ray://host:10001"`` or ``"auto"`` for a cluster.
"""

from __future__ import annotations

import json
import math
from typing import Any, Sequence

import numpy as np

from rewardsmith.rules import ScoredBatch, completion_text

__all__ = ["score_rows_ray"]

_IDX = "__rs_idx"
_NON_FIELDS = frozenset({"completion", "answer", "group", "reward", "label", "advantage", _IDX})


def _load(spec: Any) -> Any:
    if hasattr(spec, "score_batch"):
        return spec
    from rewardsmith.rules import load_rules

    return load_rules(spec)


class _ScoreActor:
    """Ray Data actor: holds one rule set; scores numpy batches (dict of columns)."""

    def __init__(self, spec: Any, workers: int | None, timeout: float | None, fields: Sequence[str]):
        self.ruleset = _load(spec)
        self.workers = workers
        self.timeout = timeout
        self.fields = list(fields)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        completions = [str(c) for c in batch["completion"]]
        answers = None
        if "__answer" in batch:
            answers = [json.loads(a) for a in batch["__answer"]]
        fields = None
        if self.fields:
            fields = [
                {k: json.loads(batch[f"__field_{k}"][i]) for k in self.fields}
                for i in range(len(completions))
            ]
        kwargs: dict[str, Any] = {"workers": self.workers}
        if self.timeout is not None:
            kwargs["timeout"] = self.timeout
        if fields is not None:
            kwargs["fields"] = fields
        scored = self.ruleset.score_batch(completions, answers, **kwargs)
        out = {
            _IDX: np.asarray(batch[_IDX], dtype=np.int64),
            "reward": np.asarray(scored.rewards, dtype=np.float64),
            "label": np.array(list(scored.labels), dtype=object),
            "details": np.array([json.dumps(d, default=str) for d in scored.details], dtype=object),
        }
        for name, values in (getattr(scored, "components", None) or {}).items():
            out[f"__comp_{name}"] = np.asarray(values, dtype=np.float64)
        return out


def _json_column(rows: Sequence[dict[str, Any]], key: str) -> list[str]:
    """Values of one column as JSON text (keeps numbers, lists, dicts and None through Arrow)."""
    out = []
    for i, r in enumerate(rows):
        v = r.get(key)
        if isinstance(v, np.generic):
            v = v.item()
        try:
            out.append(json.dumps(v))
        except TypeError:
            raise ValueError(
                f"rows[{i}][{key!r}]: a {type(v).__name__} cannot go to Ray; expected JSON-serializable values"
            ) from None
    return out


def score_rows_ray(
    ruleset_spec: Any,
    rows: Sequence[dict[str, Any]],
    address: str | None = None,
    batch_size: int = 256,
    num_actors: int = 2,
    *,
    workers: int | None = 0,
    timeout: float | None = None,
    fields: Sequence[str] | None = None,
    progress: bool = False,
    shutdown: bool | None = None,
) -> ScoredBatch:
    """Score ``rows`` (dicts with ``completion``, ``answer`` and other columns) on Ray.

    ``ruleset_spec``: what ``load_rules`` takes (preset name, YAML path, dict) -- each actor loads
    it -- or a ``RuleSet`` (pickled to the actors). ``batch_size``: rows per ``map_batches`` batch;
    ``num_actors``: actors in the pool (each one CPU). ``workers``: processes each actor's
    ``score_batch`` uses (0 = in the actor). ``fields``: extra columns passed to the rules as
    per-row fields (default: every column but completion/answer/prompt/group and score columns;
    values must be JSON-serializable). ``address``: a Ray cluster (``"auto"``, ``"ray://..."``),
    default a local instance. ``shutdown``: stop Ray afterwards (default: only if started here).
    """
    import ray

    rows = list(rows)
    n = len(rows)
    for name, v, lo in (("batch_size", batch_size, 1), ("num_actors", num_actors, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f"{name}: expected an integer >= {lo}, got {v!r}")
    for i, r in enumerate(rows):
        if not isinstance(r, dict) or "completion" not in r:
            have = sorted(r) if isinstance(r, dict) else type(r).__name__
            raise ValueError(f"rows[{i}]: expected a dict with a 'completion' column, got {have}")
    if n == 0:
        return ScoredBatch(np.zeros(0), [], [], {})
    has_answer = any("answer" in r for r in rows)
    if fields is None:
        names = dict.fromkeys(k for r in rows for k in r if k not in _NON_FIELDS and k != "prompt")
        fields = list(names)
    fields = list(fields)
    columns: dict[str, list] = {
        _IDX: list(range(n)),
        "completion": [completion_text(r["completion"]) for r in rows],
    }
    if has_answer:
        columns["__answer"] = _json_column(rows, "answer")
    for k in fields:
        columns[f"__field_{k}"] = _json_column(rows, k)
    if has_answer:
        # rows with the same gold answer go to the same block (stable sort; __rs_idx restores the
        # input order), so an actor meets each gold answer in as few batches as possible and its
        # parse caches (verify's lru_caches, kept for the actor's lifetime) hit
        order = sorted(range(n), key=columns["__answer"].__getitem__)
        columns = {k: [v[i] for i in order] for k, v in columns.items()}

    started = False
    if not ray.is_initialized():
        init_kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address is not None:
            init_kwargs["address"] = address
        ray.init(**init_kwargs)
        started = True
    try:
        import pyarrow as pa
        from ray.data import DataContext

        DataContext.get_current().enable_progress_bars = bool(progress)
        table = pa.table(
            {k: pa.array(v, type=pa.int64() if k == _IDX else pa.string()) for k, v in columns.items()}
        )
        # One block per batch, built here: a repartition step would need CPUs of its own while
        # the actor pool holds them (a deadlock on a small local cluster).
        n_blocks = max(min(num_actors, n), math.ceil(n / batch_size))
        step = math.ceil(n / n_blocks)
        ds = ray.data.from_arrow([table.slice(s, step) for s in range(0, n, step)])
        ds = ds.map_batches(
            _ScoreActor,
            fn_constructor_kwargs={"spec": ruleset_spec, "workers": workers, "timeout": timeout, "fields": fields},
            batch_size=batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=num_actors),
            num_cpus=1,
        )
        parts = [t for t in ray.get(ds.to_arrow_refs()) if t.num_rows]
        result = pa.concat_tables(parts, promote_options="default") if parts else None
    finally:
        if shutdown or (shutdown is None and started):
            ray.shutdown()
    if result is None or result.num_rows != n:
        got = 0 if result is None else result.num_rows
        raise RuntimeError(f"Ray returned {got} scored rows for {n} input rows")
    order = np.argsort(np.asarray(result.column(_IDX).to_numpy()), kind="stable")
    rewards = np.asarray(result.column("reward").to_numpy(zero_copy_only=False), dtype=np.float64)[order]
    labels = [str(x) for x in np.asarray(result.column("label").to_pylist(), dtype=object)[order]]
    details_json = result.column("details").to_pylist()
    details = [json.loads(details_json[i]) for i in order]
    comps = {
        name[len("__comp_"):]: np.asarray(result.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)[order]
        for name in result.column_names
        if name.startswith("__comp_")
    }
    return ScoredBatch(rewards, labels, details, comps)
