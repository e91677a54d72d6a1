"""Rollout tables in and out: JSONL, Parquet, Hugging Face ``datasets``, pyarrow, pandas, rows.

One column convention everywhere (files, datasets, the CLI, the Ray engine, the adapters):

=============  =====================================================================================
``completion``  the model's output: a string, or a list of chat messages (the last assistant
                message's content is scored)
``answer``      the gold answer (string; numbers are accepted and compared as text), optional for
                rules that need none
``prompt``      the prompt (string or chat messages), optional
``group``       the group id (completions sampled for one prompt), optional: groups default to
                one per distinct prompt
=============  =====================================================================================

Scores come back as columns ``reward`` (float, NaN/null = unscored), ``label`` and, when an
estimator is asked for, ``advantage``. Any other column passes through untouched.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from rewardsmith import io as _io

__all__ = [
    "COLUMNS",
    "read_rollouts",
    "write_rollouts",
    "to_rows",
    "to_dataset",
    "to_table",
    "group_ids",
    "add_scores",
]

#: The column names every rewardsmith table uses.
COLUMNS = ("prompt", "completion", "answer", "group")
# Columns that are not passed to the rules as per-row fields (the CLI's convention too).
_NON_FIELDS = frozenset(COLUMNS) | {"reward", "label", "advantage"}


def _kind(data: Any) -> str:
    mod = type(data).__module__
    name = type(data).__name__
    if isinstance(data, (str, os.PathLike)):
        return "path"
    if mod.startswith("datasets"):
        if name == "DatasetDict":
            return "dataset_dict"
        if name in ("Dataset", "IterableDataset"):
            return "dataset" if name == "Dataset" else "iterable_dataset"
    if mod.startswith("pyarrow") and name == "Table":
        return "table"
    if mod.startswith("pandas") and name == "DataFrame":
        return "dataframe"
    if isinstance(data, Mapping):
        return "columns"
    if isinstance(data, (list, tuple)):
        return "rows"
    raise ValueError(
        f"data: expected a path (.jsonl/.parquet), a datasets.Dataset, a pyarrow.Table, a pandas "
        f"DataFrame, a dict of columns or a list of row dicts; got {type(data).__name__}"
    )


def to_rows(data: Any, split: str | None = None) -> list[dict[str, Any]]:
    """Any supported table as a list of row dicts (a path is read with ``rewardsmith.io.read_rows``)."""
    kind = _kind(data)
    if kind == "path":
        return _io.read_rows(data)
    if kind == "dataset_dict":
        splits = list(data.keys())
        if split is None:
            if len(splits) != 1:
                raise ValueError(f"split: the DatasetDict has splits {splits}; pass split=<one of them>")
            split = splits[0]
        if split not in data:
            raise ValueError(f"split: {split!r} is not one of {splits}")
        return data[split].to_list()
    if kind == "dataset":
        return data.to_list()
    if kind == "iterable_dataset":
        return [dict(r) for r in data]
    if kind == "table":
        return data.to_pylist()
    if kind == "dataframe":
        return data.to_dict(orient="records")
    if kind == "columns":
        lengths = {k: len(v) for k, v in data.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"columns: expected columns of one length, got {lengths}")
        n = next(iter(lengths.values()), 0)
        return [{k: data[k][i] for k in data} for i in range(n)]
    rows = list(data)
    for i, r in enumerate(rows):
        if not isinstance(r, Mapping):
            raise ValueError(f"rows[{i}]: expected a dict per row, got {type(r).__name__}")
    return [dict(r) for r in rows]


def read_rollouts(
    source: Any,
    *,
    split: str | None = None,
    rename: Mapping[str, str] | None = None,
    require: Sequence[str] = ("completion",),
) -> list[dict[str, Any]]:
    """Rollouts from a file, a dataset or rows, as row dicts with the standard column names.

    ``rename`` maps source names to ours (e.g. ``{"response": "completion", "solution": "answer"}``).
    ``require``: columns that must be present in every row (ValueError naming the row and the
    columns it has otherwise).
    """
    rows = to_rows(source, split=split)
    if rename:
        clash = [v for v in rename.values() if v not in COLUMNS]
        if clash:
            raise ValueError(f"rename: targets {clash} are not rewardsmith columns {list(COLUMNS)}")
        rows = [{rename.get(k, k): v for k, v in r.items()} for r in rows]
    for i, r in enumerate(rows):
        missing = [c for c in require if c not in r]
        if missing:
            raise ValueError(
                f"rows[{i}]: missing column(s) {missing}; it has {sorted(r)} "
                "(pass rename={'<their name>': '<our name>'})"
            )
    return rows


def write_rollouts(rows: Any, target: str | os.PathLike[str] | None = None) -> Any:
    """Write rollouts to ``target`` (.jsonl / .parquet, atomically) and return the path.

    With ``target=None`` returns a ``datasets.Dataset`` instead (``save_to_disk`` / ``push_to_hub``
    from there).
    """
    if target is None:
        return to_dataset(rows)
    return _io.write_rows(Path(target), to_rows(rows))


def to_dataset(data: Any) -> Any:
    """A ``datasets.Dataset`` from any supported table (needs the ``trl`` extra's ``datasets``)."""
    from datasets import Dataset

    if _kind(data) == "dataset":
        return data
    return Dataset.from_list(to_rows(data))


def to_table(data: Any) -> Any:
    """A ``pyarrow.Table`` from any supported table."""
    import pyarrow as pa

    if _kind(data) == "table":
        return data
    if _kind(data) == "dataset":
        return data.with_format("arrow")[:]  # honours select/shuffle (an indices mapping)
    return pa.Table.from_pylist(to_rows(data))


def _key(v: Any) -> Any:
    if isinstance(v, (list, dict)):
        import json

        return json.dumps(v, sort_keys=True, default=str)
    return v


def group_ids(rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Integer group ids: from the ``group`` column, else one group per distinct ``prompt``.

    Ids are numbered in order of first appearance. A row with neither column raises ValueError.
    """
    ids: dict[Any, int] = {}
    out = np.empty(len(rows), dtype=np.int64)
    for i, r in enumerate(rows):
        if "group" in r and r["group"] is not None:
            k = ("g", _key(r["group"]))
        elif "prompt" in r and r["prompt"] is not None:
            k = ("p", _key(r["prompt"]))
        else:
            raise ValueError(
                f"rows[{i}]: no 'group' or 'prompt' column to group completions by; it has {sorted(r)}"
            )
        out[i] = ids.setdefault(k, len(ids))
    return out


def add_scores(
    ruleset: Any,
    data: Any,
    *,
    estimator: str | None = None,
    workers: int | None = None,
    timeout: float | None = None,
    progress: bool = False,
    split: str | None = None,
    **estimator_options: Any,
) -> Any:
    """Score every row with ``ruleset`` and return ``data`` with ``reward`` and ``label`` columns.

    Columns other than the standard ones (e.g. ``num_tokens``, ``tests``) reach the rules as fields.

    The result has the input's kind: rows -> rows, ``datasets.Dataset`` -> Dataset (columns added
    with ``add_column``), ``pyarrow.Table`` -> Table, ``pandas.DataFrame`` -> DataFrame, a path ->
    rows. With ``estimator`` (a name in ``rewardsmith.advantages.ESTIMATORS``) an ``advantage``
    column is added too, over the groups of :func:`group_ids`.
    """
    from rewardsmith.integrations._scoring import score_texts

    kind = _kind(data)
    rows = read_rollouts(data, split=split)
    completions = [r["completion"] for r in rows]
    answers = [r.get("answer") for r in rows] if any("answer" in r for r in rows) else None
    extra = [k for k in dict.fromkeys(k for r in rows for k in r) if k not in _NON_FIELDS]
    fields = {k: [r.get(k) for r in rows] for k in extra} or None
    batch = score_texts(ruleset, completions, answers, fields=fields, workers=workers, timeout=timeout)
    rewards = np.asarray(batch.rewards, dtype=np.float64)
    cols: dict[str, list] = {
        "reward": [None if np.isnan(x) else float(x) for x in rewards],
        "label": list(batch.labels),
    }
    if estimator is not None:
        from rewardsmith import advantages as _adv

        adv = _adv.compute(estimator, rewards, groups=group_ids(rows), **estimator_options)
        cols["advantage"] = [float(a) for a in np.asarray(adv, dtype=np.float64)]
    if kind == "dataset":
        out = data
        for name, values in cols.items():
            if name in out.column_names:
                out = out.remove_columns(name)
            out = out.add_column(name, values)
        return out
    if kind == "table":
        import pyarrow as pa

        out = data
        for name, values in cols.items():
            if name in out.column_names:
                out = out.drop_columns([name])
            out = out.append_column(name, pa.array(values, type=pa.string() if name == "label" else pa.float64()))
        return out
    if kind == "dataframe":
        out = data.copy()
        for name, values in cols.items():
            out[name] = [np.nan if v is None else v for v in values] if name != "label" else values
        return out
    return [dict(r, **{k: v[i] for k, v in cols.items()}) for i, r in enumerate(rows)]
