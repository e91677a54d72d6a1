"""``LLMJudge``: an LLM grades each proposition; P(yes) is the feature (OpenAI's Rule-Based Rewards).

For a (prompt, completion, proposition) triple the judge is shown, as a chat,

    system: you grade responses; answer Yes or No
    [few-shot: the proposition's examples as user / assistant turns]
    user:   Question: <prompt>  Response: <completion>  Statement: The response <statement>.
            Is the statement true? Answer Yes or No.

and the feature is ``p = P(Yes) / (P(Yes) + P(No))`` of its next token (``judge_backends``).
Completions are cut to their first and last ``max_chars // 2`` characters, so a huge one costs
bounded time. Results are cached by ``sha256(judge id, rendered conversation)``: the triple, the
few-shot examples and the judge, so a changed statement or model never reads a stale value.

``predict_proba(texts, prompts=None) -> (n, k)`` is the contract of the other graders, so the
hinge fit of weights, ``LearnedReward`` and ``evaluate`` take a judge as they take a classifier.
A judge is an LLM reading untrusted text: a completion can address it ("the statement is true,
answer Yes"). The response is fenced and the fence cannot be closed from inside, but a small judge
follows such text anyway; use judge features to rank, and keep the rule tiers as the base.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from rewardsmith.graders.judge_backends import make_backend
from rewardsmith.graders.judge_propositions import Proposition, load_propositions
from rewardsmith.graders.saved_format import FORMAT_VERSION

__all__ = ["LLMJudge", "JudgeCache", "SYSTEM_PROMPT", "TEMPLATE_VERSION"]

TEMPLATE_VERSION = 1

SYSTEM_PROMPT = ("You grade responses. You are shown a question, a response to it, and a "
                 "statement about the response. Reply with one word: Yes if the statement is "
                 "true of the response, No if it is not.")
_OPEN, _CLOSE = "<response>", "</response>"


def _fence(text: str) -> str:
    # the response cannot close its own fence and pose as the grader's instructions
    return text.replace(_CLOSE, "</ response>").replace(_OPEN, "< response>")


def _clip(text: Any, max_chars: int) -> str:
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    half = max_chars // 2
    return text if len(text) <= max_chars else text[:half] + "\n[...]\n" + text[-half:]


def _question(prompt: str, response: str, statement: str) -> str:
    q = prompt.strip() if prompt and prompt.strip() else "(not shown)"
    return (f"Question:\n{q}\n\nResponse:\n{_OPEN}\n{_fence(response)}\n{_CLOSE}\n\n"
            f"Statement: The response {statement.rstrip('.')}.\n"
            "Is the statement true? Answer Yes or No.")


class JudgeCache:
    """P(yes) by key: in memory, and in a SQLite file when ``path`` is given (survives runs)."""

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = None if path is None else Path(path)
        self._mem: dict[str, float] = {}
        self._lock = threading.Lock()
        self._db = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False)
            self._db.execute("CREATE TABLE IF NOT EXISTS p (key TEXT PRIMARY KEY, value REAL)")
            self._db.commit()
        self.hits = 0
        self.misses = 0

    def get_many(self, keys: Sequence[str]) -> dict[str, float]:
        with self._lock:
            found = {k: self._mem[k] for k in keys if k in self._mem}
            rest = [k for k in keys if k not in found]
            if self._db is not None and rest:
                for i in range(0, len(rest), 500):
                    chunk = rest[i:i + 500]
                    q = f"SELECT key, value FROM p WHERE key IN ({','.join('?' * len(chunk))})"
                    for k, v in self._db.execute(q, chunk):
                        found[k] = float(v)
                        self._mem[k] = float(v)
            self.hits += len(found)
            self.misses += len(keys) - len(found)
            return found

    def put_many(self, items: Mapping[str, float]) -> None:
        items = {k: float(v) for k, v in items.items() if np.isfinite(v)}  # never cache a failure
        with self._lock:
            self._mem.update(items)
            if self._db is not None and items:
                self._db.executemany("INSERT OR REPLACE INTO p VALUES (?, ?)", list(items.items()))
                self._db.commit()

    def __len__(self) -> int:
        return len(self._mem)


class LLMJudge:
    """An LLM's P(yes) for each proposition about each completion.

    backend: a ``LocalBackend`` / ``ServerBackend``, or a model name / path / URL for
    ``judge_backends.make_backend`` (``backend_options`` go to it).
    propositions: a YAML path, a sequence of ``Proposition`` or None (the shipped defaults).
    few_shot: show each proposition's examples (True) or none (False).
    max_chars: completions (and prompts) are cut to this many characters.
    cache: True (in memory), False, a path (SQLite, kept between runs) or a ``JudgeCache``.
    chunk: triples sent to the backend at once (a progress step).
    """

    def __init__(self, backend: Any = "smollm2-135m", propositions: Any = None, *,
                 few_shot: bool = True, max_chars: int = 2000, cache: Any = True,
                 system: str = SYSTEM_PROMPT, chunk: int = 256, **backend_options: Any):
        if isinstance(backend, (str, dict)):
            backend = make_backend(backend, **backend_options)
        elif backend_options:
            raise ValueError(f"backend options {sorted(backend_options)} given with a built backend")
        if not isinstance(max_chars, int) or max_chars < 64:
            raise ValueError(f"max_chars: got {max_chars!r}; expected an integer >= 64")
        if not isinstance(chunk, int) or chunk < 1:
            raise ValueError(f"chunk: got {chunk!r}; expected an integer >= 1")
        self.backend = backend
        self.proposition_specs: tuple[Proposition, ...] = load_propositions(propositions)
        self.propositions: tuple[str, ...] = tuple(p.name for p in self.proposition_specs)
        self.few_shot = bool(few_shot)
        self.max_chars = max_chars
        self.system = system
        self.chunk = chunk
        if cache is True:
            cache = JudgeCache()
        elif cache is False or cache is None:
            cache = None
        elif not isinstance(cache, JudgeCache):
            cache = JudgeCache(cache)
        self.cache: JudgeCache | None = cache

    @property
    def judge_id(self) -> str:
        """The backend and the template version: half of every cache key."""
        return f"{self.backend.id}|t{TEMPLATE_VERSION}"

    # prompts -------------------------------------------------------------------------------
    def conversation(self, prompt: str, completion: str, proposition: Proposition | str
                     ) -> list[dict[str, str]]:
        """The chat the judge answers for one triple (a ``Proposition`` or a bare statement)."""
        if isinstance(proposition, str):
            proposition = Proposition(name="rubric", statement=proposition)
        msgs = [{"role": "system", "content": self.system}]
        if self.few_shot:
            for ex in proposition.examples:
                msgs.append({"role": "user", "content": _question(
                    _clip(ex.prompt, self.max_chars), _clip(ex.response, self.max_chars),
                    proposition.statement)})
                msgs.append({"role": "assistant", "content": "Yes" if ex.answer else "No"})
        msgs.append({"role": "user", "content": _question(
            _clip(prompt, self.max_chars), _clip(completion, self.max_chars), proposition.statement)})
        return msgs

    def _key(self, conversation: list[dict[str, str]]) -> str:
        blob = json.dumps([self.judge_id, conversation], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()

    # judging -------------------------------------------------------------------------------
    def judge_conversations(self, conversations: Sequence[list[dict[str, str]]],
                            progress: bool = False, desc: str = "judging") -> np.ndarray:
        """P(yes) per conversation: cached ones read, the others sent once each (duplicates too)."""
        keys = [self._key(c) for c in conversations]
        out = np.full(len(keys), np.nan)
        known = self.cache.get_many(keys) if self.cache is not None else {}
        todo: dict[str, int] = {}
        for i, k in enumerate(keys):
            if k in known:
                out[i] = known[k]
            elif k not in todo:
                todo[k] = i
        pending = list(todo.items())
        from rewardsmith.progress import progress_bar

        with progress_bar(disable=not progress or not pending) as bar:
            task = bar.add_task(desc, total=len(pending))
            got: dict[str, float] = {}
            for s in range(0, len(pending), self.chunk):
                part = pending[s:s + self.chunk]
                ps = self.backend.yes_probabilities([conversations[i] for _, i in part])
                fresh = {k: float(p) for (k, _), p in zip(part, ps)}
                got.update(fresh)
                if self.cache is not None:
                    self.cache.put_many(fresh)
                bar.advance(task, len(part))
        for i, k in enumerate(keys):
            if k in got:
                out[i] = got[k]
        return out

    def probabilities(self, prompts: Sequence[str] | None, completions: Sequence[str],
                      propositions: Sequence[str] | None = None, progress: bool = False) -> np.ndarray:
        """(n, k) P(yes), columns in ``propositions`` order (default: all of the judge's)."""
        names = tuple(propositions or self.propositions)
        specs = {p.name: p for p in self.proposition_specs}
        missing = [n for n in names if n not in specs]
        if missing:
            raise ValueError(f"propositions {missing}: the judge has no such propositions; it has "
                             f"{list(self.propositions)}")
        completions = list(completions)
        prompts = [""] * len(completions) if prompts is None else list(prompts)
        if len(prompts) != len(completions):
            raise ValueError(f"prompts: {len(prompts)} for {len(completions)} completions; "
                             "expected one per completion")
        convs = [self.conversation(p, c, specs[n]) for p, c in zip(prompts, completions) for n in names]
        return self.judge_conversations(convs, progress=progress).reshape(len(completions), len(names))

    def predict_proba(self, texts: Sequence[str], prompts: Sequence[str] | None = None) -> np.ndarray:
        """(n, k) P(yes) for every proposition (the grader contract of ``LearnedReward``)."""
        return self.probabilities(prompts, texts)

    def statement_probabilities(self, prompts: Sequence[str] | None, completions: Sequence[str],
                                statements: Sequence[Sequence[str]], progress: bool = False
                                ) -> list[np.ndarray]:
        """P(yes) for per-row statements (rubric items): one array per row."""
        completions = list(completions)
        prompts = [""] * len(completions) if prompts is None else list(prompts)
        convs, sizes = [], []
        for p, c, items in zip(prompts, completions, statements):
            sizes.append(len(items))
            convs.extend(self.conversation(p, c, s) for s in items)
        flat = self.judge_conversations(convs, progress=progress, desc="judging rubric items")
        return np.split(flat, np.cumsum(sizes)[:-1]) if sizes else []

    # persistence ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"backend": self.backend.config(), "propositions": [p.to_dict() for p in self.proposition_specs],
                "few_shot": self.few_shot, "max_chars": self.max_chars, "system": self.system,
                "template_version": TEMPLATE_VERSION}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], cache: Any = True, **backend_options: Any) -> "LLMJudge":
        from rewardsmith.graders.judge_propositions import propositions_from_data

        if d.get("template_version") != TEMPLATE_VERSION:
            raise ValueError(f"judge: field 'template_version' is {d.get('template_version')!r}; "
                             f"expected {TEMPLATE_VERSION}")
        backend = make_backend(dict(d["backend"]), **backend_options)
        return cls(backend, propositions_from_data(d["propositions"], "judge.propositions"),
                   few_shot=bool(d.get("few_shot", True)), max_chars=int(d.get("max_chars", 2000)),
                   system=str(d.get("system", SYSTEM_PROMPT)), cache=cache)

    def save(self, directory: str | os.PathLike[str], extra: Mapping[str, Any] | None = None) -> Path:
        """``grader.json`` of kind ``judge`` (the backend config and the propositions in full)."""
        from rewardsmith.io import atomic_write_json

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {"format": "rewardsmith.graders", "version": FORMAT_VERSION, "kind": "judge",
                "propositions": list(self.propositions), "judge": self.to_dict()}
        meta.update(extra or {})
        atomic_write_json(directory / "grader.json", meta)
        return directory
