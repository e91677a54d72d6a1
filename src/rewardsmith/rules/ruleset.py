"""``RuleSet``: score completions with declared tiers and shaping terms.

For one completion (text ``y``, gold answer ``g``, extra ``fields``)::

    tier   = first tier whose conditions (format / answer / correct) all hold   # lazily evaluated
    reward = tier.reward * (score of tier.scale_by, or 1)  +  sum_k weight_k * value_k(y)

When a tier needs ``correct`` and the verifier cannot decide (timeout, error), the completion gets
label ``timeout`` / ``error`` and ``policy.on_timeout`` / ``on_error`` in place of the tier reward
(NaN by default: unscored). ``Outcome.details`` says which tier fired and why.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

import rewardsmith.rules.shaping as _shaping
from rewardsmith.rules.checks import CHECKS, UNDECIDED_LABELS, CheckResult
from rewardsmith.rules.completions import completion_text
from rewardsmith.rules.spec import RESERVED_LABELS, RuleSetSpec, term_name
from rewardsmith.rules.validation import validate_spec

__all__ = ["RuleSet", "Outcome", "ScoredBatch", "completion_text"]

_DETAIL_CHARS = 500  # extracted answers and reasons are cut to this in details


@dataclass(frozen=True)
class Outcome:
    """One scored completion: ``reward`` (NaN = unscored), ``label`` and ``details`` (which tier
    fired and why: format reason, extracted answer, verdict, each term's value)."""

    reward: float
    label: str
    details: dict[str, Any]


@dataclass
class ScoredBatch:
    """A scored batch in input order: ``rewards`` (float64, NaN = unscored), ``labels``,
    ``details`` and ``components`` (name -> float64 array: ``tier`` and each shaping term, already
    weighted; ``rewards == tier + sum(shaping terms)``)."""

    rewards: np.ndarray
    labels: list[str]
    details: list[dict[str, Any]]
    components: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.labels)

    def label_counts(self) -> dict[str, int]:
        """How many completions got each label, most common first."""
        return dict(Counter(self.labels).most_common())


def _cut(s: Any) -> Any:
    if isinstance(s, str) and len(s) > _DETAIL_CHARS:
        return s[:_DETAIL_CHARS] + f"... [{len(s) - _DETAIL_CHARS} more chars]"
    return s


class _Undecided(Exception):
    def __init__(self, result: CheckResult) -> None:
        self.result = result


_TRUE, _FALSE = frozenset({"true", "1", "yes"}), frozenset({"false", "0", "no", ""})


def _truth(v: Any, where: str) -> bool:
    """A yes/no field (``truncated``): bools, 0/1 and "true"/"false"/"yes"/"no"; the string
    "false" is not True (as ``bool("false")`` would have it)."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
        return v.strip().lower() in _TRUE
    raise ValueError(f"{where}: expected true or false (or 1/0), got {v!r}")


class RuleSet:
    """A validated rule set that scores completions (see the module docstring for the formula).

    Build with ``load_rules(preset | path | dict)`` or ``RuleSet(spec)``; ``tokenizer`` (text ->
    token ids, or an HF tokenizer) measures lengths for shaping terms with ``unit: tokens`` when the
    rows carry no ``num_tokens`` field.
    """

    def __init__(
        self,
        spec: RuleSetSpec | Mapping[str, Any],
        *,
        tokenizer: Callable[[str], Any] | None = None,
        source: str | None = None,
    ) -> None:
        if not isinstance(spec, RuleSetSpec):
            spec = validate_spec(spec, source=source or "rules")
        self.spec = spec
        self.tokenizer = tokenizer
        self.check = CHECKS[spec.answer.compare](spec.answer)
        self._uses_tokens = any(getattr(t, "unit", "chars") == "tokens" for t in spec.shaping)
        conds = {c for t in spec.tiers for c in t.when} | {t.scale_by for t in spec.tiers if t.scale_by}
        conds |= {t.check for t in spec.shaping if t.kind == "check"}
        self._uses_correct = "correct" in conds

    # ------------------------------------------------------------------ description
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label this rule set can emit: the tiers in order, then ``timeout``, ``error``."""
        return tuple(t.label for t in self.spec.tiers) + RESERVED_LABELS

    @property
    def component_names(self) -> tuple[str, ...]:
        return ("tier",) + tuple(term_name(t) for t in self.spec.shaping)

    @property
    def needs_answers(self) -> bool:
        """True when scoring compares against a gold answer (one per completion is required)."""
        return self._uses_correct and self.check.needs_answer

    def to_dict(self) -> dict[str, Any]:
        """The full spec as plain data (YAML-ready; NaN policy rewards stay NaN; ``load_rules(d)``
        rebuilds it)."""
        return self.spec.model_dump(mode="json")

    def __repr__(self) -> str:
        return f"RuleSet(name={self.name!r}, labels={self.labels})"

    def __getstate__(self) -> dict[str, Any]:
        return {"spec": self.to_dict(), "tokenizer": self.tokenizer}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(RuleSetSpec.model_validate(state["spec"]), tokenizer=state["tokenizer"])

    # ------------------------------------------------------------------ scoring
    def score(self, completion: Any, answer: Any = None, **fields: Any) -> Outcome:
        """Score one completion (str or chat messages) against ``answer``; ``fields`` are extra row
        values (e.g. ``num_tokens``, ``truncated``, or what a registered check reads)."""
        text = completion_text(completion)
        if answer is None and self.needs_answers:
            raise ValueError(
                f"answer: rule set {self.name!r} checks correctness "
                f"(compare: {self.spec.answer.compare}) and needs the gold answer; got None"
            )
        self._check_fields(fields, where="fields")
        reward, label, details, _ = self.evaluate(text, answer, fields, self.spec.answer.timeout)
        return Outcome(reward, label, details)

    def score_batch(
        self,
        completions: Sequence[Any],
        answers: Sequence[Any] | None = None,
        *,
        fields: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]] | None = None,
        workers: int | None = None,
        timeout: float | None = None,
        progress: bool = False,
        chunk_size: int | None = None,
    ) -> ScoredBatch:
        """Score a batch in input order.

        ``workers``: processes (default: all cores; ``0`` = in this process, serially, no hard
        timeout beyond the verifier's own). ``timeout``: hard seconds per completion in a worker
        (default ``spec.sample_timeout``); a completion past it, or one whose worker dies, gets
        label ``timeout`` / ``error`` and the batch goes on. ``fields``: per-row extra values, as a
        list of dicts or a dict of columns. ``chunk_size``: completions per message to a worker.
        """
        texts = [completion_text(c, i) for i, c in enumerate(completions)]
        n = len(texts)
        golds = self._validate_answers(answers, n)
        rows = _validate_fields(fields, n)
        for i, f in enumerate(rows):
            self._check_fields(f, where=f"fields[{i}]")
        if timeout is not None and not (isinstance(timeout, (int, float)) and 0 < timeout < math.inf):
            raise ValueError(f"timeout: expected a positive number of seconds, got {timeout!r}")
        from rewardsmith.rules.engine import run_batch

        results = run_batch(
            self, texts, golds, rows, workers=workers, timeout=timeout, progress=progress,
            chunk_size=chunk_size,
        )
        names = self.component_names
        comps = {k: np.empty(n, dtype=np.float64) for k in names}
        rewards = np.empty(n, dtype=np.float64)
        labels: list[str] = []
        details: list[dict[str, Any]] = []
        for i, (reward, label, det, comp) in enumerate(results):
            rewards[i] = reward
            labels.append(label)
            details.append(det)
            for k in names:
                comps[k][i] = comp.get(k, math.nan)
        return ScoredBatch(rewards, labels, details, comps)

    # ------------------------------------------------------------------ validation helpers
    def _validate_answers(self, answers: Sequence[Any] | None, n: int) -> list[Any]:
        if answers is None:
            if self.needs_answers:
                raise ValueError(
                    f"answers: rule set {self.name!r} checks correctness (compare: "
                    f"{self.spec.answer.compare}) and needs one gold answer per completion; got None"
                )
            return [None] * n
        if isinstance(answers, (str, bytes)):
            raise ValueError("answers: expected a sequence of answers (one per completion), got a string")
        answers = list(answers)
        if len(answers) != n:
            raise ValueError(f"answers: expected {n} (one per completion), got {len(answers)}")
        if self.needs_answers:
            missing = [i for i, a in enumerate(answers) if a is None]
            if missing:
                raise ValueError(
                    f"answers: missing (None) at rows {missing[:10]}; rule set {self.name!r} needs a "
                    "gold answer for every completion"
                )
        return answers

    def _check_fields(self, fields: Mapping[str, Any], where: str) -> None:
        """A row's fields at the boundary: a length source for token terms, valid values."""
        if self._uses_tokens and self.tokenizer is None and "num_tokens" not in fields:
            raise ValueError(
                f"{where}: a shaping term measures length in tokens; give each row a 'num_tokens' "
                "field or build the rule set with tokenizer=..."
            )
        # The fields the built-in terms read are checked here, at the boundary: a bad value
        # would otherwise make one row's reward NaN (unscored) whatever its tier.
        if "num_tokens" in fields:
            v = fields["num_tokens"]
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"{where}.num_tokens: expected an integer >= 0, got {v!r}")
        if "truncated" in fields:
            _truth(fields["truncated"], f"{where}.truncated")

    def _length(self, text: str, unit: str, fields: Mapping[str, Any], memo: dict) -> int:
        if unit == "chars":
            return len(text)
        if "tokens" not in memo:
            if "num_tokens" in fields:
                memo["tokens"] = int(fields["num_tokens"])
            else:
                ids = self.tokenizer(text)  # type: ignore[misc]
                if isinstance(ids, int):
                    memo["tokens"] = ids
                elif hasattr(ids, "get") and ids.get("input_ids") is not None:
                    memo["tokens"] = len(ids["input_ids"])
                else:
                    memo["tokens"] = len(ids)
        return memo["tokens"]

    # ------------------------------------------------------------------ the rule
    def evaluate(
        self, text: str, gold: Any, fields: Mapping[str, Any], timeout: float
    ) -> tuple[float, str, dict[str, Any], dict[str, float]]:
        """Score one completion's text: ``(reward, label, details, components)``. Pure; any
        exception inside a check becomes label ``error`` (never an exception out of here)."""
        spec = self.spec
        details: dict[str, Any] = {}
        memo: dict[str, Any] = {}

        def fmt() -> CheckResult:
            if "format" not in memo:
                r = _format_check(spec.format, text)
                memo["format"] = CheckResult(r.ok, "ok" if r.ok else "bad_format", r.reason)
                details["format"] = {"ok": r.ok, "reason": r.reason}
            return memo["format"]

        def extracted() -> str | None:
            if "pred" not in memo:
                memo["pred"] = _extract(text, spec.answer.extract)
                details["extracted"] = _cut(memo["pred"])
            return memo["pred"]

        def ans() -> CheckResult:
            p = extracted()
            ok = p is not None and bool(p.strip())
            return CheckResult(ok, "answer" if ok else "no_answer", "")

        def correct() -> CheckResult:
            if "correct" not in memo:
                pred = extracted()
                try:
                    r = self.check(pred, gold, text=text, fields=fields, timeout=timeout)
                    if r.passed is None and r.label not in UNDECIDED_LABELS:
                        r = CheckResult(None, "error", f"{r.label}: {r.reason}", path=r.path)
                except Exception as exc:  # noqa: BLE001 - a check's bug or bad data: label it
                    r = CheckResult(None, "error", f"{type(exc).__name__}: {exc}", path="exception")
                memo["correct"] = r
                v = {"label": r.label, "reason": _cut(r.reason), "path": r.path, "score": r.score}
                if r.details:
                    v["details"] = r.details
                details["verdict"] = v
            return memo["correct"]

        checks = {"format": fmt, "answer": ans, "correct": correct}
        comps: dict[str, float] = {}
        try:
            tier_reward, label, rule = self._tiers(checks, details)
        except _Undecided as u:
            label = u.result.label
            tier_reward = spec.policy.on_timeout if label == "timeout" else spec.policy.on_error
            rule = None
            details["why"] = f"verification undecided ({label}): {_cut(u.result.reason)}"
        except Exception as exc:  # noqa: BLE001 - e.g. a format regex error on hostile input
            label, tier_reward, rule = "error", spec.policy.on_error, None
            details["why"] = f"{type(exc).__name__}: {_cut(str(exc))}"
        details["rule"] = rule
        comps["tier"] = tier_reward
        terms: dict[str, float] = {}
        total = tier_reward
        for t in spec.shaping:
            name = term_name(t)
            try:
                v = self._term(t, text, fields, checks, memo)
            except _Undecided:
                v = math.nan
            except Exception as exc:  # noqa: BLE001
                v = math.nan
                details.setdefault("term_errors", {})[name] = f"{type(exc).__name__}: {_cut(str(exc))}"
            terms[name] = v
            comps[name] = t.weight * v
            total += t.weight * v
        if terms:
            details["terms"] = terms
        details["label"] = label
        return float(total), label, details, comps

    def failed(self, text: str, fields: Mapping[str, Any], label: str, why: str) -> tuple[float, str, dict, dict]:
        """The result for a completion whose worker hung (``timeout``) or died (``error``): the
        policy reward plus the shaping terms that need no check (those are NaN)."""
        if label not in RESERVED_LABELS:
            raise ValueError(f"label: expected one of {RESERVED_LABELS}, got {label!r}")
        spec = self.spec
        tier_reward = spec.policy.on_timeout if label == "timeout" else spec.policy.on_error
        comps: dict[str, float] = {"tier": tier_reward}
        terms: dict[str, float] = {}
        total = tier_reward
        memo: dict[str, Any] = {}
        for t in spec.shaping:
            name = term_name(t)
            try:
                v = math.nan if t.kind == "check" else self._term(t, text, fields, {}, memo)
            except Exception:  # noqa: BLE001
                v = math.nan
            terms[name] = v
            comps[name] = t.weight * v
            total += t.weight * v
        details: dict[str, Any] = {"rule": None, "why": why, "label": label}
        if terms:
            details["terms"] = terms
        return float(total), label, details, comps

    def _tiers(self, checks: dict[str, Callable[[], CheckResult]], details: dict) -> tuple[float, str, int]:
        for i, tier in enumerate(self.spec.tiers):
            ok = True
            for cond, want in tier.when.items():
                r = checks[cond]()
                if r.passed is None:
                    raise _Undecided(r)
                if r.passed != want:
                    ok = False
                    break
            if ok:
                reward = tier.reward
                if tier.scale_by:
                    r = checks[tier.scale_by]()
                    if r.passed is None:
                        raise _Undecided(r)
                    reward = reward * r.score
                conds = ", ".join(f"{c}={w}" for c, w in tier.when.items()) or "catch-all"
                seen = []
                for c in ("format", "answer", "correct"):
                    r = self._seen(c, details)
                    if r:
                        seen.append(r)
                details["why"] = f"tier {i} {tier.label!r} ({conds})" + ("; " + "; ".join(seen) if seen else "")
                return float(reward), tier.label, i
        raise AssertionError("unreachable: the last tier is a catch-all")  # pragma: no cover

    @staticmethod
    def _seen(cond: str, details: dict) -> str:
        """A short account of a check already run for this completion ('' if it was not)."""
        if cond == "format" and "format" in details:
            f = details["format"]
            return "format ok" if f["ok"] else f"bad format: {f['reason']}"
        if cond == "answer" and "extracted" in details and "verdict" not in details:
            return "no answer extracted" if details["extracted"] is None else "answer extracted"
        if cond == "correct" and "verdict" in details:
            v = details["verdict"]
            return f"verdict {v['label']}" + (f" ({v['reason']})" if v["reason"] else "")
        return ""

    def _term(self, t: Any, text: str, fields: Mapping[str, Any], checks: dict, memo: dict) -> float:
        kind = t.kind
        if kind == "check":
            r = checks[t.check]()
            if r.passed is None:
                raise _Undecided(r)
            return float(r.score)
        if kind == "repetition":
            return _shaping.repetition(text, t.ngram)
        if kind == "tag_count":
            from rewardsmith.verify.format import count_tags

            f = self.spec.format
            return count_tags(text, f.tags, f.prefilled_think)
        length = self._length(text, t.unit, fields, memo)
        if kind == "soft_overlong":
            return _shaping.soft_overlong(length, t.max_length, t.cache)
        if kind == "overlong":
            return _shaping.overlong(length, t.max_length, _truth(fields.get("truncated", False), "truncated"))
        if kind == "length":
            return _shaping.length_penalty(length, t.free, t.scale)
        raise AssertionError(f"unknown term kind {kind!r}")  # pragma: no cover


def _format_check(f: Any, text: str):
    from rewardsmith.verify import format as vf

    if f.kind == "tags":
        return vf.check_tag_format(text, f.tags, prefilled_think=f.prefilled_think, nonempty=f.nonempty)
    if f.kind == "regex":
        return vf.check_regex(text, f.pattern, fullmatch=f.fullmatch)
    if f.kind == "json":
        return vf.check_json(text, require=f.require)
    return vf.FormatResult(True, "no format rule")


def _extract(text: str, mode: str) -> str | None:
    if mode == "none":
        return text.strip()
    from rewardsmith import verify

    return verify.extract_answer(text, mode)


def _validate_fields(
    fields: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]] | None, n: int
) -> list[dict[str, Any]]:
    if fields is None:
        return [{} for _ in range(n)]
    if isinstance(fields, Mapping):
        cols = dict(fields)
        for k, col in cols.items():
            if isinstance(col, (str, bytes)) or not hasattr(col, "__len__"):
                raise ValueError(f"fields[{k!r}]: expected a column (one value per completion), got {type(col).__name__}")
            if len(col) != n:
                raise ValueError(f"fields[{k!r}]: expected {n} values (one per completion), got {len(col)}")
        return [{k: cols[k][i] for k in cols} for i in range(n)]
    rows = list(fields)
    if len(rows) != n:
        raise ValueError(f"fields: expected {n} dicts (one per completion), got {len(rows)}")
    for i, r in enumerate(rows):
        if not isinstance(r, Mapping):
            raise ValueError(f"fields[{i}]: expected a dict, got {type(r).__name__}")
    return [dict(r) for r in rows]
