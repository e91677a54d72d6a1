"""TRL's reward-function call convention: which keyword arguments are dataset columns, and the
gold answers among them.

TRL calls a reward function as ``f(prompts=..., completions=..., completion_ids=..., <dataset
columns>=..., trainer_state=..., log_extra=..., log_metric=...)``. The local adapter
(``integrations.trl``) and the remote one (``integrations.remote``) read that call the same way
here. No imports beyond the standard library, so the remote client stays light.
"""

from __future__ import annotations

from typing import Any

#: Keyword arguments TRL passes to reward functions that are not dataset columns.
TRL_RESERVED_KWARGS = frozenset(
    {"prompts", "completions", "completion_ids", "trainer_state", "log_extra", "log_metric", "environments"}
)


def dataset_columns(kwargs: dict[str, Any], answer_column: str | None, n: int) -> tuple[list[Any] | None, dict[str, Any]]:
    """``(answers, columns)`` of one reward call's keyword arguments: the gold answers (the list in
    ``answer_column``; ``None`` when ``answer_column`` is None) and every other dataset column.

    Raises ValueError when the column is missing, or is not one answer per completion (a string
    would otherwise become one answer per character: a gold answer ``"42"`` graded as ``"4"``,
    ``"2"``).
    """
    columns = {k: v for k, v in kwargs.items() if k not in TRL_RESERVED_KWARGS}
    if answer_column is None:
        return None, columns
    if answer_column not in columns:
        raise ValueError(
            f"answer_column: the dataset has no column {answer_column!r} (columns passed "
            f"to the reward function: {sorted(columns)}); pass answer_column=<name>, or "
            "answer_column=None for rules that need no gold answer"
        )
    col = columns.pop(answer_column)
    if isinstance(col, (str, bytes)) or not hasattr(col, "__len__"):
        raise ValueError(f"{answer_column}: expected one gold answer per completion (a list of "
                         f"{n}), got {type(col).__name__} {col!r:.60}")
    return list(col), columns
