"""Labeled grader data: validation at the boundary, splits by prompt, ranked pairs.

A labeled table (JSONL or Parquet) has a ``text`` column, one boolean column per proposition, and
for rule-weight fitting ``prompt_id`` and ``rank_class``. Every check raises ValueError naming the
file, the column, the row and the value.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from rewardsmith.io import read_rows

__all__ = [
    "LabeledData",
    "load_labeled",
    "validate_rows",
    "split_by_prompt",
    "ranked_pairs",
    "shipped_data_path",
]

_BOOL_STRINGS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def shipped_data_path(name: str = "arithmetic.jsonl") -> Path:
    """Path of a data file shipped in ``rewardsmith/data/graders`` (``arithmetic.jsonl``,
    ``handchecked.jsonl``)."""
    path = Path(str(resources.files("rewardsmith"))) / "data" / "graders" / name
    if not path.exists():
        raise ValueError(f"data: no shipped file {name!r} in {path.parent}")
    return path


class LabeledData:
    """Validated rows: ``texts`` (list[str]), ``labels`` (n x k bool array, columns in
    ``propositions`` order), ``prompt_ids`` and ``rank_classes`` (lists or None), ``rows``."""

    def __init__(self, rows, texts, labels, propositions, prompt_ids, rank_classes, source):
        self.rows: list[dict[str, Any]] = rows
        self.texts: list[str] = texts
        self.labels: np.ndarray = labels
        self.propositions: tuple[str, ...] = tuple(propositions)
        self.prompt_ids: list[str] | None = prompt_ids
        self.rank_classes: list[str] | None = rank_classes
        self.source = source

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, index: Sequence[int] | np.ndarray) -> "LabeledData":
        idx = [int(i) for i in index]
        return LabeledData(
            [self.rows[i] for i in idx],
            [self.texts[i] for i in idx],
            self.labels[idx],
            self.propositions,
            None if self.prompt_ids is None else [self.prompt_ids[i] for i in idx],
            None if self.rank_classes is None else [self.rank_classes[i] for i in idx],
            self.source,
        )


def _as_bool(value: Any, where: str, column: str) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _BOOL_STRINGS:
        return _BOOL_STRINGS[value.strip().lower()]
    raise ValueError(f"{where}: column {column!r} has value {value!r}; expected true or false")


def validate_rows(
    rows: list[dict[str, Any]],
    propositions: Sequence[str] | None = None,
    *,
    source: str = "<rows>",
    text_column: str = "text",
    need_ranking: bool = False,
    classes: Sequence[str] | None = None,
) -> LabeledData:
    """Check rows and turn them into ``LabeledData``.

    ``propositions=None`` takes every boolean column of the first row except ``correct`` and
    ``well_formed`` (bookkeeping columns of the shipped data). ``need_ranking`` requires
    ``prompt_id`` and ``rank_class``; ``classes`` (best first) restricts ``rank_class`` values.
    """
    if not rows:
        raise ValueError(f"{source}: the file has no rows; expected JSONL/Parquet rows with a "
                         f"{text_column!r} column and one boolean column per proposition")
    if propositions is None:
        propositions = [k for k, v in rows[0].items()
                        if isinstance(v, bool) and k not in ("correct", "well_formed")]
        if not propositions:
            raise ValueError(f"{source}: row 1 has no boolean proposition columns; expected one "
                             "true/false column per proposition next to the text column")
    propositions = list(propositions)
    texts: list[str] = []
    labels = np.zeros((len(rows), len(propositions)), dtype=bool)
    prompt_ids: list[str] = []
    rank_classes: list[str] = []
    for i, row in enumerate(rows):
        where = f"{source}: row {i + 1}"
        if text_column not in row:
            raise ValueError(f"{where}: column {text_column!r} is missing; "
                             f"columns are {sorted(row)}")
        text = row[text_column]
        if not isinstance(text, str):
            raise ValueError(f"{where}: column {text_column!r} has value {text!r}; expected a string")
        texts.append(text)
        for j, name in enumerate(propositions):
            if name not in row or row[name] is None:
                raise ValueError(f"{where}: proposition column {name!r} is missing; "
                                 f"columns are {sorted(row)}")
            labels[i, j] = _as_bool(row[name], where, name)
        if need_ranking:
            for col in ("prompt_id", "rank_class"):
                if row.get(col) is None:
                    raise ValueError(f"{where}: column {col!r} is missing; rule-weight fitting "
                                     "needs prompt_id and rank_class on every row")
            rc = str(row["rank_class"])
            if classes is not None and rc not in classes:
                raise ValueError(f"{where}: column 'rank_class' has value {rc!r}; expected one of "
                                 f"{list(classes)}")
            prompt_ids.append(str(row["prompt_id"]))
            rank_classes.append(rc)
        elif "prompt_id" in row:
            prompt_ids.append(str(row["prompt_id"]))
    has_ids = len(prompt_ids) == len(rows)
    return LabeledData(
        rows,
        texts,
        labels,
        propositions,
        prompt_ids if has_ids else None,
        rank_classes if need_ranking else None,
        source,
    )


def load_labeled(
    path: str | os.PathLike[str],
    propositions: Sequence[str] | None = None,
    *,
    need_ranking: bool = False,
    classes: Sequence[str] | None = None,
) -> LabeledData:
    """Read and validate a labeled JSONL/Parquet file (see ``validate_rows``)."""
    rows = read_rows(path)
    return validate_rows(rows, propositions, source=str(path), need_ranking=need_ranking,
                         classes=classes)


def split_by_prompt(
    prompt_ids: Sequence[str] | None, n: int, fractions: Sequence[float], seed: int = 0
) -> list[np.ndarray]:
    """Split row indices into parts of about ``fractions`` of the prompts each (the last part
    takes the rest), so no prompt's completions sit on both sides. Without prompt ids, rows are
    split one by one."""
    keys = list(prompt_ids) if prompt_ids is not None else [str(i) for i in range(n)]
    uniq = sorted(set(keys))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(uniq))
    bounds = np.cumsum([0.0, *fractions])
    if bounds[-1] > 1.0 + 1e-9:
        raise ValueError(f"fractions: expected a sum <= 1, got {list(fractions)}")
    part_of: dict[str, int] = {}
    for rank, u in enumerate(order):
        frac = (rank + 0.5) / len(uniq)
        part = int(np.searchsorted(bounds[1:], frac, side="right"))
        part_of[uniq[u]] = min(part, len(fractions))
    parts = [[] for _ in range(len(fractions) + 1)]
    for i, k in enumerate(keys):
        parts[part_of[k]].append(i)
    return [np.asarray(p, dtype=np.int64) for p in parts]


def ranked_pairs(prompt_ids: Sequence[str], rank_classes: Sequence[str],
                 classes: Sequence[str]) -> np.ndarray:
    """All (better, worse) index pairs from the same prompt with different classes.

    ``classes`` lists the class names best first. Returns an int array of shape (n_pairs, 2).
    """
    order = {c: i for i, c in enumerate(classes)}
    by_prompt: dict[str, list[int]] = {}
    for i, p in enumerate(prompt_ids):
        by_prompt.setdefault(p, []).append(i)
    pairs: list[tuple[int, int]] = []
    for idx in by_prompt.values():
        for x in idx:
            for y in idx:
                if order[rank_classes[x]] < order[rank_classes[y]]:
                    pairs.append((x, y))
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
