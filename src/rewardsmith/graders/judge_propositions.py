"""Propositions as data: the statements an LLM judge grades, with few-shot examples, from YAML.

A file holds ``version: 1`` and a list ``propositions`` of ``{name, statement, examples}``;
``statement`` completes "The response ..."; each example is ``{prompt, response, answer: yes|no}``.
The shipped defaults (``data/graders/propositions.yaml``) are task-agnostic: shows its reasoning,
one final answer, restates the question, generic filler, hedges, repeats itself, answers a
different question, refuses. Every error names the file, the key path, the value and what was
expected.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

__all__ = ["Example", "Proposition", "load_propositions", "default_propositions_path",
           "propositions_from_data"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_MAX_PROPOSITIONS = 256
_MAX_TEXT = 4_000


@dataclass(frozen=True)
class Example:
    """One few-shot turn: a question, a response, and whether the proposition holds for it."""

    prompt: str
    response: str
    answer: bool


@dataclass(frozen=True)
class Proposition:
    """A named yes/no statement about a response (``statement`` completes "The response ...")."""

    name: str
    statement: str
    examples: tuple[Example, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "statement": self.statement,
                "examples": [{"prompt": e.prompt, "response": e.response,
                              "answer": "yes" if e.answer else "no"} for e in self.examples]}


def default_propositions_path() -> Path:
    """The shipped task-agnostic propositions (``rewardsmith/data/graders/propositions.yaml``)."""
    return Path(str(resources.files("rewardsmith"))) / "data" / "graders" / "propositions.yaml"


def _text(value: Any, where: str, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise ValueError(f"{where}: got {value!r}; expected a non-empty string")
    if len(value) > _MAX_TEXT:
        raise ValueError(f"{where}: {len(value)} characters; expected at most {_MAX_TEXT}")
    return value


def _answer(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("yes", "no"):
        return value.strip().lower() == "yes"
    raise ValueError(f"{where}: got {value!r}; expected yes or no")


def propositions_from_data(data: Any, source: str = "<propositions>") -> tuple[Proposition, ...]:
    """Validate parsed YAML/JSON (``{version: 1, propositions: [...]}`` or the bare list)."""
    if isinstance(data, dict):
        unknown = sorted(set(data) - {"version", "propositions"})
        if unknown:
            raise ValueError(f"{source}: unknown keys {unknown}; expected 'version' and 'propositions'")
        if data.get("version", 1) != 1:
            raise ValueError(f"{source}: version: got {data.get('version')!r}; expected 1")
        data = data.get("propositions")
    if not isinstance(data, list) or not data:
        raise ValueError(f"{source}: propositions: got {type(data).__name__}; expected a non-empty "
                         "list of {name, statement, examples}")
    if len(data) > _MAX_PROPOSITIONS:
        raise ValueError(f"{source}: {len(data)} propositions; expected at most {_MAX_PROPOSITIONS}")
    out: list[Proposition] = []
    seen: set[str] = set()
    for i, item in enumerate(data):
        where = f"{source}: propositions[{i}]"
        if not isinstance(item, dict):
            raise ValueError(f"{where}: got {item!r}; expected a mapping with name and statement")
        unknown = sorted(set(item) - {"name", "statement", "examples"})
        if unknown:
            raise ValueError(f"{where}: unknown keys {unknown}; expected name, statement, examples")
        name = item.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"{where}.name: got {name!r}; expected an identifier (letters, digits, _)")
        if name in seen:
            raise ValueError(f"{where}.name: {name!r} appears twice; expected unique names")
        seen.add(name)
        statement = _text(item.get("statement"), f"{where}.statement")
        examples = item.get("examples") or []
        if not isinstance(examples, list):
            raise ValueError(f"{where}.examples: got {examples!r}; expected a list")
        ex: list[Example] = []
        for j, e in enumerate(examples):
            w = f"{where}.examples[{j}]"
            if not isinstance(e, dict) or set(e) - {"prompt", "response", "answer"} or "answer" not in e:
                raise ValueError(f"{w}: got {e!r}; expected {{prompt, response, answer: yes|no}}")
            ex.append(Example(prompt=_text(e.get("prompt", ""), f"{w}.prompt", allow_empty=True),
                              response=_text(e.get("response"), f"{w}.response"),
                              answer=_answer(e["answer"], f"{w}.answer")))
        out.append(Proposition(name=name, statement=statement.strip(), examples=tuple(ex)))
    return tuple(out)


def _read_yaml(path: Path) -> Any:
    import yaml

    from rewardsmith.io import refuse_yaml_aliases

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the propositions file ({exc})") from None
    try:
        refuse_yaml_aliases(text, path, "propositions file", "write the value out")
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    except RecursionError:
        raise ValueError(f"{path}: not valid YAML: nested too deep") from None


def load_propositions(source: str | os.PathLike[str] | Sequence[Proposition] | None = None,
                      names: Sequence[str] | None = None) -> tuple[Proposition, ...]:
    """Propositions from a YAML/JSON file (default: the shipped task-agnostic set), or pass a
    sequence of ``Proposition`` through. ``names`` keeps those, in that order."""
    if source is None or (isinstance(source, str) and source in ("", "default")):
        source = default_propositions_path()
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"propositions: no file {str(path)!r}; expected a YAML file of "
                             "{name, statement, examples} (see data/graders/propositions.yaml)")
        props = propositions_from_data(_read_yaml(path), source=str(path))
    else:
        props = tuple(source)
        if not props or not all(isinstance(p, Proposition) for p in props):
            raise ValueError("propositions: expected a file path or a non-empty sequence of Proposition")
    if names:
        by_name = {p.name: p for p in props}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise ValueError(f"propositions: {missing} not in the file; it has {list(by_name)}")
        props = tuple(by_name[n] for n in names)
    return props
