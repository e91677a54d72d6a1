"""Per-prompt rubrics ("rubrics as rewards"): an LLM judge checks each of a prompt's own items.

A dataset column holds, per row, the prompt's rubric: a list of statements about a good response
(``["names the theorem used", "gives the final value in meters"]``), or of
``{statement, weight}`` objects, or that list as JSON text. With ``p_j`` the judge's P(yes) that
item j holds and ``v_j`` its weight (default 1),

    R = R_base + scale * sum_j v_j p_j / sum_j v_j

so the rubric adds between 0 and ``scale`` on top of the rule tiers (``R_base`` from ``base``,
a RuleSet, or 0). A row with no rubric items gets ``R_base`` (its rubric share is 0 and
``details["rubric"]`` is empty); a NaN from the judge (a server that listed neither Yes nor No)
gives a NaN reward, label ``unscored``. Same ``score`` / ``score_batch`` API as a RuleSet:
rubrics (and prompts, which the judge reads) come in ``fields``.
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping, Sequence

import numpy as np

from rewardsmith.rules import Outcome, ScoredBatch

__all__ = ["RubricReward", "parse_rubric"]

_MAX_ITEMS = 64


def parse_rubric(value: Any, where: str = "rubric") -> list[tuple[str, float]]:
    """``[(statement, weight), ...]`` from a list of strings / ``{statement, weight}`` or JSON text."""
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip().startswith("[") else [value]
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: not valid JSON ({exc.msg}); expected a list of statements") from None
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{where}: got {type(value).__name__}; expected a list of statements or "
                         "{statement, weight} objects")
    if len(value) > _MAX_ITEMS:
        raise ValueError(f"{where}: {len(value)} items; expected at most {_MAX_ITEMS}")
    out = []
    for j, item in enumerate(value):
        w = 1.0
        if isinstance(item, Mapping):
            stmt, w = item.get("statement"), item.get("weight", 1.0)
        else:
            stmt = item
        if not isinstance(stmt, str) or not stmt.strip():
            raise ValueError(f"{where}[{j}]: statement {stmt!r}; expected a non-empty string")
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
            raise ValueError(f"{where}[{j}]: weight {w!r}; expected a finite number >= 0")
        out.append((stmt.strip(), float(w)))
    return out


class RubricReward:
    """``R = R_base + scale * (weighted share of the row's rubric items the judge says hold)``.

    judge: an ``LLMJudge``; base: a RuleSet or None; column: the ``fields`` key holding rubrics;
    prompt_column: the ``fields`` key holding prompts (the judge reads them; optional).
    """

    def __init__(self, judge: Any, base: Any = None, *, scale: float = 1.0, column: str = "rubric",
                 prompt_column: str = "prompt"):
        if not (isinstance(scale, (int, float)) and math.isfinite(scale)):
            raise ValueError(f"scale: got {scale!r}; expected a finite number")
        if base is not None and not hasattr(base, "score_batch"):
            raise ValueError(f"base: expected a RuleSet or None, got {type(base).__name__}")
        self.judge = judge
        self.base = base
        self.scale = float(scale)
        self.column = column
        self.prompt_column = prompt_column

    @property
    def name(self) -> str:
        return f"rubric({getattr(self.base, 'name', 'none')})"

    @property
    def needs_answers(self) -> bool:
        return bool(getattr(self.base, "needs_answers", False))

    @property
    def labels(self) -> tuple[str, ...]:
        base = tuple(getattr(self.base, "labels", ()) or ("rubric",))
        return base + (() if "unscored" in base else ("unscored",))

    def score(self, completion: Any, answer: Any = None, **fields: Any) -> Outcome:
        b = self.score_batch([completion], None if answer is None else [answer],
                             fields={k: [v] for k, v in fields.items()})
        return Outcome(reward=float(b.rewards[0]), label=b.labels[0], details=b.details[0])

    def score_batch(self, completions: Sequence[Any], answers: Sequence[Any] | None = None, *,
                    fields: Mapping[str, Sequence[Any]] | None = None, workers: int | None = 0,
                    **base_options: Any) -> ScoredBatch:
        completions = [c if isinstance(c, str) else str(c) for c in completions]
        n = len(completions)
        fields = dict(fields or {})
        if self.column not in fields:
            raise ValueError(f"fields: no {self.column!r} column; a rubric reward needs each row's "
                             f"rubric items (fields has {sorted(fields)})")
        rubrics = [parse_rubric(r, f"{self.column}[row {i + 1}]") for i, r in enumerate(fields[self.column])]
        if len(rubrics) != n:
            raise ValueError(f"fields[{self.column!r}]: {len(rubrics)} rows for {n} completions")
        prompts = fields.get(self.prompt_column)
        if self.base is not None:
            rest = {k: v for k, v in fields.items() if k not in (self.column,)}
            base = self.base.score_batch(completions, answers, fields=rest or None, workers=workers,
                                         **base_options)
            r_base = np.asarray(base.rewards, dtype=np.float64)
            labels = list(base.labels)
        else:
            r_base, labels = np.zeros(n), ["rubric"] * n
        ps = self.judge.statement_probabilities(None if prompts is None else [str(p or "") for p in prompts],
                                                completions, [[s for s, _ in r] for r in rubrics])
        share = np.zeros(n)
        details = []
        for i, (items, p) in enumerate(zip(rubrics, ps)):
            w = np.asarray([v for _, v in items], dtype=np.float64)
            share[i] = float((w * p).sum() / w.sum()) if len(items) and w.sum() > 0 else 0.0
            details.append({"base_reward": float(r_base[i]), "rubric_share": share[i],
                            "rubric": {s: float(pj) for (s, _), pj in zip(items, p)}})
        rewards = r_base + self.scale * share
        bad = ~np.isfinite(rewards)
        rewards[bad] = np.nan
        labels = [("unscored" if b and np.isfinite(rb) else lab) for lab, b, rb in zip(labels, bad, r_base)]
        return ScoredBatch(rewards=rewards, labels=labels, details=details,
                           components={"base": r_base, "rubric": self.scale * share})
