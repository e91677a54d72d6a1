"""Request parsing and response building for the reward server (no I/O, no web framework).

Two request shapes:

* ``POST /score`` (ours)::

      {"rows": [{"completion": str | [chat messages], "answer": ..., "group": int | str,
                 <any other field the rule set reads, e.g. "tests", "num_tokens">}, ...],
       "estimator": "grpo" | ... (optional, needs a group per row),
       "estimator_options": {"ddof": 1, ...} (optional),
       "details": false (optional: also return each row's details)}

  -> ``{"rules", "n", "results": [{"reward", "label", "components", ["advantage"], ["details"]}],
  "label_counts"}``; a NaN reward (unscored) is ``null``.

* ``POST /get_reward`` (OpenRLHF's ``--remote_rm_url``)::

      {"query": [prompt + response, ...], "prompts": [...], "labels": [...]}

  -> ``{"rewards": [...], "scores": [...], "extra_logs": {name: [...]}}``, every number finite
  (OpenRLHF refuses NaN): an unscored row gets ``unscored_reward``.

Every problem raises :class:`BadRequest` with the HTTP status and a message naming the field.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any, Sequence

import numpy as np

from rewardsmith.rules import completion_text

__all__ = [
    "BadRequest",
    "parse_json",
    "parse_score_request",
    "parse_openrlhf_request",
    "score_response",
    "openrlhf_response",
    "ScoreRequest",
    "END_TOKENS",
    "strip_prompt",
]

#: Special tokens OpenRLHF leaves at the end of ``query`` (it decodes with
#: ``skip_special_tokens=False``); stripped, or a tag format would see "text after </answer>".
END_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "</s>", "<eos>",
              "<end_of_turn>", "<｜end▁of▁sentence｜>", "<|end|>", "<pad>", "<|return|>")
_RESERVED = frozenset({"completion", "answer", "group"})
_PROMPT_TAIL = 200  # characters of a (left-truncated) prompt looked for in the query


class BadRequest(Exception):
    """A client error: ``status`` (4xx) and a message that names the field and the value."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _type(v: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null",
            int: "integer", float: "number"}.get(type(v), type(v).__name__)


def _short(v: Any, n: int = 60) -> str:
    s = json.dumps(v, default=str) if not isinstance(v, str) else repr(v)
    return s if len(s) <= n else s[:n] + "..."


def parse_json(body: bytes) -> Any:
    """The request body as JSON; 400 naming what is wrong (not UTF-8, not JSON, nested too deep)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(400, f"body: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise BadRequest(400, "body: JSON nested too deeply to parse; nest values less deeply") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(400, f"body: malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise BadRequest(400, f"body: unreadable JSON value: {exc}") from None


class ScoreRequest:
    """A validated scoring request: texts, gold answers, per-row fields, groups and options."""

    __slots__ = ("texts", "golds", "fields", "groups", "estimator", "estimator_options", "details")

    def __init__(self, texts, golds, fields, groups=None, estimator=None, estimator_options=None,
                 details=False) -> None:
        self.texts, self.golds, self.fields = texts, golds, fields
        self.groups = groups
        self.estimator = estimator
        self.estimator_options = estimator_options or {}
        self.details = details

    def __len__(self) -> int:
        return len(self.texts)


def _gold(v: Any, where: str) -> Any:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        raise BadRequest(422, f"{where}: expected a string or a number, got boolean {v!r}")
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if not math.isfinite(v):
            raise BadRequest(422, f"{where}: expected a finite number, got {v!r}")
        return v
    raise BadRequest(422, f"{where}: expected a string or a number, got {_type(v)} {_short(v)}")


def _check_fields(ruleset: Any, f: dict, where: str) -> None:
    try:
        ruleset._check_fields(f, where=where)
    except ValueError as exc:
        raise BadRequest(422, str(exc)) from None


def parse_score_request(obj: Any, ruleset: Any, max_rows: int) -> ScoreRequest:
    """Validate a ``/score`` body (see the module docstring)."""
    from rewardsmith import advantages

    if not isinstance(obj, dict):
        raise BadRequest(422, f"body: expected a JSON object with 'rows', got {_type(obj)}")
    unknown = sorted(set(obj) - {"rows", "estimator", "estimator_options", "details"})
    if unknown:
        raise BadRequest(422, f"body: unknown key(s) {unknown}; expected rows, estimator, "
                              "estimator_options, details")
    rows = obj.get("rows")
    if not isinstance(rows, list):
        raise BadRequest(422, f"rows: expected an array of row objects, got {_type(rows)}")
    if len(rows) > max_rows:
        raise BadRequest(413, f"rows: {len(rows)} rows; this server takes at most {max_rows} per request "
                              "(split the batch or start it with a larger --max-rows)")
    estimator = obj.get("estimator")
    options = obj.get("estimator_options") or {}
    if not isinstance(options, dict):
        raise BadRequest(422, f"estimator_options: expected an object, got {_type(options)}")
    if options and estimator is None:
        raise BadRequest(422, "estimator_options: given without an estimator")
    if estimator is not None:  # a bad name or option is refused before any row is scored
        try:
            advantages.check_estimator(estimator, **options)
        except ValueError as exc:  # the message quotes the client's value: cut a huge one short
            message = str(exc)
            raise BadRequest(422, message if len(message) <= 500 else message[:500] + "...") from None
    details = obj.get("details", False)
    if not isinstance(details, bool):
        raise BadRequest(422, f"details: expected true or false, got {_type(details)} {_short(details)}")
    needs = ruleset.needs_answers
    texts: list[str] = []
    golds: list[Any] = []
    fields: list[dict] = []
    groups: list[Any] = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise BadRequest(422, f"rows[{i}]: expected an object with 'completion', got {_type(row)}")
        if "completion" not in row:
            raise BadRequest(422, f"rows[{i}].completion: missing")
        c = row["completion"]
        if type(c) is str:  # the common case, without a call
            texts.append(c)
        elif not isinstance(c, (list, dict)):
            raise BadRequest(422, f"rows[{i}].completion: expected a string or chat messages, got {_type(c)}")
        else:
            try:
                texts.append(completion_text(c, i))
            except ValueError as exc:
                raise BadRequest(422, f"rows[{i}].completion: {str(exc).split(': ', 1)[-1]}") from None
        g = row.get("answer")
        if type(g) is not str:
            g = _gold(g, f"rows[{i}].answer")
            if g is None and needs:
                raise BadRequest(422, f"rows[{i}].answer: missing; rule set {ruleset.name!r} compares "
                                      "against a gold answer")
        golds.append(g)
        if len(row) <= len(_RESERVED) and _RESERVED.issuperset(row):
            f = {}
        else:
            f = {k: v for k, v in row.items() if k not in _RESERVED}
        _check_fields(ruleset, f, f"rows[{i}]")
        fields.append(f)
        if estimator is not None:
            gid = row.get("group")
            if gid is None:
                raise BadRequest(422, f"rows[{i}].group: missing; estimator {estimator!r} needs a group id per row")
            if isinstance(gid, bool) or not isinstance(gid, (int, str)):
                raise BadRequest(422, f"rows[{i}].group: expected an integer or a string, got {_type(gid)}")
            groups.append(gid)
    return ScoreRequest(texts, golds, fields, groups if estimator is not None else None, estimator,
                        options, details)


def strip_prompt(query: str, prompt: str | None, where: str) -> str:
    """The response part of an OpenRLHF ``query`` (prompt + response): the text after the prompt
    (or after the prompt's last ``_PROMPT_TAIL`` characters, when OpenRLHF truncated the prompt
    from the left), with trailing end-of-sequence tokens removed."""
    text = query
    if prompt:
        if query.startswith(prompt):
            text = query[len(prompt):]
        else:
            tail = prompt[-_PROMPT_TAIL:]
            k = query.find(tail)
            if k < 0:
                raise BadRequest(422, f"{where}: the query does not contain its prompt (prompts entry of "
                                      f"{len(prompt)} characters), so the response cannot be separated")
            text = query[k + len(tail):]
    changed = True
    while changed:
        changed = False
        stripped = text.rstrip()
        for tok in END_TOKENS:
            if stripped.endswith(tok):
                text = stripped[: -len(tok)]
                changed = True
                break
    return text


def parse_openrlhf_request(obj: Any, ruleset: Any, max_rows: int, label_field: str) -> ScoreRequest:
    """Validate an OpenRLHF ``/get_reward`` body: ``query`` (required), ``prompts`` and
    ``labels`` (lists of the same length); ``labels`` go to ``label_field`` (``answer`` for math)."""
    if not isinstance(obj, dict):
        raise BadRequest(422, f"body: expected a JSON object with 'query', got {_type(obj)}")
    q = obj.get("query")
    if isinstance(q, str):
        q = [q]
    if not isinstance(q, list):
        raise BadRequest(422, f"query: expected an array of strings, got {_type(q)}")
    n = len(q)
    if n > max_rows:
        raise BadRequest(413, f"query: {n} rows; this server takes at most {max_rows} per request")
    cols: dict[str, list] = {}
    for key in ("prompts", "labels"):
        v = obj.get(key)
        if v is None:
            continue
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list):
            raise BadRequest(422, f"{key}: expected an array, got {_type(v)}")
        if len(v) != n:
            raise BadRequest(422, f"{key}: {len(v)} entries for {n} queries; expected one per query")
        cols[key] = v
    prompts = cols.get("prompts")
    labels = cols.get("labels")
    if labels is None and (label_field != "answer" or ruleset.needs_answers):
        if label_field == "answer" and ruleset.needs_answers:
            raise BadRequest(422, f"labels: missing; rule set {ruleset.name!r} compares against a gold answer "
                                  "(start OpenRLHF with --label_key <answer column>)")
        if label_field != "answer":
            raise BadRequest(422, f"labels: missing; rule set {ruleset.name!r} reads its {label_field!r} "
                                  "from the labels (start OpenRLHF with --label_key <column>)")
    texts, golds, fields = [], [], []
    for i, item in enumerate(q):
        if not isinstance(item, str):
            raise BadRequest(422, f"query[{i}]: expected a string, got {_type(item)}")
        p = None
        if prompts is not None:
            p = prompts[i]
            if not isinstance(p, str):
                raise BadRequest(422, f"prompts[{i}]: expected a string, got {_type(p)}")
        texts.append(strip_prompt(item, p, f"query[{i}]"))
        f: dict[str, Any] = {}
        g = None
        if labels is not None:
            if label_field == "answer":
                g = _gold(labels[i], f"labels[{i}]")
                if g is None and ruleset.needs_answers:
                    raise BadRequest(422, f"labels[{i}]: null; rule set {ruleset.name!r} needs a gold answer")
            else:
                f[label_field] = labels[i]
                _check_fields(ruleset, f, f"labels[{i}]")
        golds.append(g)
        fields.append(f)
    return ScoreRequest(texts, golds, fields)


# ---------------------------------------------------------------------------------- responses
def _num(v: float) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def advantages_for(req: ScoreRequest, rewards: np.ndarray) -> np.ndarray:
    from rewardsmith import advantages

    keys: dict[Any, int] = {}
    ids = np.array([keys.setdefault((type(g).__name__, g), len(keys)) for g in req.groups], dtype=np.int64)
    try:
        return np.asarray(advantages.compute(req.estimator, rewards, groups=ids, **req.estimator_options),
                          dtype=np.float64)
    except ValueError as exc:
        raise BadRequest(422, f"estimator_options: {exc}") from None


def score_response(ruleset: Any, req: ScoreRequest, results: Sequence[tuple]) -> dict[str, Any]:
    """``/score``'s answer for the results of ``req``."""
    rewards = np.array([r[0] for r in results], dtype=np.float64)
    adv = advantages_for(req, rewards) if req.estimator is not None and len(results) else None
    out = []
    names = ruleset.component_names
    for i, (reward, label, det, comp) in enumerate(results):
        row: dict[str, Any] = {
            "reward": _num(reward),
            "label": label,
            "components": {k: _num(comp.get(k, math.nan)) for k in names},
        }
        if adv is not None:
            row["advantage"] = _num(adv[i])
        if req.details:
            row["details"] = plain(det)
        out.append(row)
    counts = Counter(r[1] for r in results)
    body: dict[str, Any] = {"rules": ruleset.name, "n": len(out), "results": out,
                            "label_counts": dict(counts.most_common())}
    if req.estimator is not None:
        body["estimator"] = req.estimator
    return body


def plain(v: Any, depth: int = 0) -> Any:
    """``v`` as strict JSON data: NaN and infinities become null, numpy scalars Python numbers,
    anything else its ``str`` (details come from checks, some of them user-registered)."""
    if v is None or isinstance(v, (str, bool, int)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, np.generic):
        return plain(v.item(), depth)
    if depth > 32:
        return str(v)
    if isinstance(v, dict):
        return {str(k): plain(x, depth + 1) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x, depth + 1) for x in v]
    return str(v)


def _accuracy(det: dict, label: str) -> float:
    """The answer check's score in [0, 1] (1 correct, a fraction for partial checks, 0 otherwise)."""
    if label in ("timeout", "error"):
        return 0.0
    v = det.get("verdict")
    if not isinstance(v, dict) or v.get("score") is None:
        return 0.0
    s = float(v["score"])
    return min(1.0, max(0.0, s)) if math.isfinite(s) else 0.0


def openrlhf_response(ruleset: Any, results: Sequence[tuple], unscored_reward: float) -> dict[str, Any]:
    """OpenRLHF's answer: ``rewards`` (NaN -> ``unscored_reward``), ``scores`` (the answer check's
    0-1 score, for OpenRLHF's dynamic filtering) and ``extra_logs`` (per-row 0/1 label indicators
    and ``scored``), all finite."""
    rewards = [float(r[0]) if math.isfinite(r[0]) else float(unscored_reward) for r in results]
    scores = [_accuracy(r[2], r[1]) for r in results]
    logs: dict[str, list[float]] = {"rewardsmith/scored": [1.0 if math.isfinite(r[0]) else 0.0 for r in results]}
    for lab in ruleset.labels:
        logs[f"rewardsmith/label/{lab}"] = [1.0 if r[1] == lab else 0.0 for r in results]
    return {"rewards": rewards, "scores": scores, "extra_logs": logs}


def default_unscored_reward(ruleset: Any) -> float:
    """The lowest reward a tier pays (0 counts when a tier scales by a check's score): an
    unscorable completion never earns more than the worst scored one."""
    vals = []
    for t in ruleset.spec.tiers:
        if math.isfinite(t.reward):
            vals.append(t.reward)
            if t.scale_by:
                vals.append(0.0)
    return float(min(vals)) if vals else 0.0


def label_field_for(ruleset: Any) -> str:
    """Where OpenRLHF's ``labels`` go: ``answer`` when the rule set compares against a gold
    answer, ``tests`` for the code rules."""
    if ruleset.needs_answers:
        return "answer"
    try:
        from rewardsmith.rules.code import CodeCheck

        if isinstance(ruleset.check, CodeCheck):
            return "tests"
    except ImportError:  # pragma: no cover
        pass
    return "answer"
