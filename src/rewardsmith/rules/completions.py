"""The text to score in a completion: a string as is, or the last assistant message of chat
messages (``{role, content}`` dicts, content as text or a list of text parts)."""

from __future__ import annotations

from typing import Any, Mapping

__all__ = ["completion_text"]


def completion_text(completion: Any, index: int | None = None) -> str:
    """The text to score: a string as is; chat messages (list of ``{role, content}``, or one
    message dict): the last assistant message's content (text parts joined when it is a list);
    None (a rollout that produced nothing) scores as the empty string."""
    where = "completion" if index is None else f"completions[{index}]"
    if isinstance(completion, str):
        return completion
    if completion is None:
        return ""
    if isinstance(completion, Mapping):
        return _content(completion.get("content"), where)
    if isinstance(completion, (list, tuple)):
        if not all(isinstance(m, Mapping) for m in completion):
            raise ValueError(
                f"{where}: expected a string or a list of chat messages ({{role, content}} dicts), "
                f"got a list holding {[type(m).__name__ for m in completion][:3]}"
            )
        assistant = [m for m in completion if m.get("role", "assistant") == "assistant"]
        if not assistant:
            return ""
        return _content(assistant[-1].get("content"), where)
    raise ValueError(
        f"{where}: expected a string or a list of chat messages, got {type(completion).__name__}"
    )


def _content(content: Any, where: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        parts = []
        for p in content:
            if isinstance(p, str):
                parts.append(p)
            elif isinstance(p, Mapping) and isinstance(p.get("text"), str):
                parts.append(p["text"])
        return "".join(parts)
    raise ValueError(f"{where}: message content must be text, got {type(content).__name__}")
