"""Format checks for completions: tag structure, a regular expression, parsable JSON.

Every check returns ``FormatResult(ok, reason)`` and runs in time linear in the completion's length:
the tag check uses ``str.count``/``str.find`` only (no backtracking regex), ``check_regex`` runs the
user's pattern under the ``regex`` module's timeout, ``check_json`` catches depth and size errors.

Why not open-r1's ``format_reward``: its pattern ``^<think>\\n.*?\\n</think>\\n<answer>\\n.*?\\n</answer>$``
(``re.DOTALL | re.MULTILINE``, ``re.match``) accepts text after ``</answer>`` (``$`` matches at any
line end), accepts repeated ``<think>``/``<answer>`` blocks (``.*?`` spans them), and scores 0 for
every completion when the chat template pre-fills ``<think>``. ``check_tag_format`` rejects the first
two and has ``prefilled_think=True`` for the third.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Sequence

__all__ = ["FormatResult", "check_tag_format", "check_regex", "check_json", "count_tags"]


@dataclass(frozen=True)
class FormatResult:
    """Outcome of a format check: ``ok`` and a human-readable ``reason`` ("ok" when it passes)."""

    ok: bool
    reason: str

    def __bool__(self) -> bool:
        return self.ok


_OK = FormatResult(True, "ok")
_VALID_TAGS: set[tuple[str, ...]] = set()  # tag tuples already validated


def _validate_tags(tags: Sequence[str]) -> tuple[str, ...]:
    if type(tags) is tuple and tags in _VALID_TAGS:
        return tags
    if isinstance(tags, str) or not tags:
        raise ValueError(f"tags: expected a non-empty sequence of tag names, got {tags!r}")
    for t in tags:
        if not isinstance(t, str) or not t or any(c in t for c in "<>/ \t\n"):
            raise ValueError(f"tags: expected plain tag names like 'think', got {t!r}")
    if len(set(tags)) != len(tags):
        raise ValueError(f"tags: expected distinct tag names, got {list(tags)!r}")
    tags = tuple(tags)
    if len(_VALID_TAGS) < 64:
        _VALID_TAGS.add(tags)
    return tags


def check_tag_format(
    text: str,
    tags: Sequence[str] = ("think", "answer"),
    prefilled_think: bool = False,
    nonempty: Sequence[str] | None = None,
) -> FormatResult:
    """Check that ``text`` is exactly ``<t1>...</t1> <t2>...</t2> ...`` (whitespace between blocks).

    Rules: each opening and closing tag appears exactly once, in the given order, with nothing but
    whitespace before the first block, between blocks and after the last one. With
    ``prefilled_think=True`` the chat template already emitted the first opening tag (``<think>``),
    so the completion starts inside that block: the opening tag must then be absent. Blocks named in
    ``nonempty`` (default: the last tag, i.e. ``answer``) must hold non-whitespace text.

    Linear time: a fixed number of ``str.count``/``str.find`` passes over ``text``.
    """
    tags = _validate_tags(tags)
    if not isinstance(text, str):
        return FormatResult(False, f"completion is {type(text).__name__}, not text")
    must_fill = set(tags[-1:] if nonempty is None else nonempty)
    # 1. counts: each tag exactly once (the pre-filled opening tag exactly zero times)
    for i, tag in enumerate(tags):
        open_t, close_t = f"<{tag}>", f"</{tag}>"
        n_open, n_close = text.count(open_t), text.count(close_t)
        if i == 0 and prefilled_think:
            if n_open:
                return FormatResult(
                    False, f"{open_t} appears {n_open} time(s) but the template pre-fills it"
                )
        elif n_open != 1:
            what = "missing" if n_open == 0 else f"appears {n_open} times"
            return FormatResult(False, f"{open_t} {what}; expected exactly once")
        if n_close != 1:
            what = "missing" if n_close == 0 else f"appears {n_close} times"
            return FormatResult(False, f"{close_t} {what}; expected exactly once")
    # 2. order and what lies between the blocks
    pos = 0
    prev = None
    for i, tag in enumerate(tags):
        open_t, close_t = f"<{tag}>", f"</{tag}>"
        if i == 0 and prefilled_think:
            start = 0
        else:
            o = text.find(open_t, pos)
            if o < 0:
                return FormatResult(False, f"{open_t} comes before {prev}; expected {prev} first")
            gap = text[pos:o]
            if gap.strip():
                if close_t in gap:
                    return FormatResult(False, f"{close_t} comes before {open_t}")
                for later in tags[i + 1 :]:
                    if f"<{later}>" in gap or f"</{later}>" in gap:
                        return FormatResult(False, f"<{later}> comes before {open_t}; wrong order")
                where = f"between {prev} and {open_t}" if prev else f"before {open_t}"
                return FormatResult(False, f"text {where}")
            start = o + len(open_t)
        c = text.find(close_t, start)
        if c < 0:
            return FormatResult(False, f"{close_t} comes before <{tag}>")
        if tag in must_fill and not text[start:c].strip():
            return FormatResult(False, f"empty <{tag}> block")
        pos = c + len(close_t)
        prev = close_t
    if text[pos:].strip():
        return FormatResult(False, f"text after {prev}")
    return _OK


def count_tags(
    text: str, tags: Sequence[str] = ("think", "answer"), prefilled_think: bool = False
) -> float:
    """open-r1's tag-count score, without its newline requirements: the fraction of the expected
    tags (``<think>``, ``</think>``, ``<answer>``, ``</answer>``) that appear exactly once.

    With ``prefilled_think`` the first opening tag is expected zero times. Value in [0, 1].
    """
    tags = _validate_tags(tags)
    hits = 0
    for i, tag in enumerate(tags):
        want_open = 0 if (i == 0 and prefilled_think) else 1
        hits += text.count(f"<{tag}>") == want_open
        hits += text.count(f"</{tag}>") == 1
    return hits / (2 * len(tags))


def check_regex(
    text: str, pattern: str, *, fullmatch: bool = True, flags: int = 0, timeout: float = 1.0
) -> FormatResult:
    """Check ``text`` against ``pattern`` (whole text by default, or a search with ``fullmatch=False``).

    The pattern runs in the ``regex`` module with a ``timeout`` (seconds): a pathological pattern on
    a hostile completion returns ``ok=False`` with reason "regex timed out" instead of hanging
    (Python's ``re`` has no timeout and backtracks exponentially on e.g. ``(a|aa)+$``).
    """
    import regex

    if not isinstance(text, str):
        return FormatResult(False, f"completion is {type(text).__name__}, not text")
    try:
        compiled = regex.compile(pattern, flags)
    except (regex.error, TypeError) as exc:
        raise ValueError(f"pattern: invalid regular expression {pattern!r} ({exc})") from None
    try:
        m = (compiled.fullmatch if fullmatch else compiled.search)(text, timeout=timeout)
    except TimeoutError:
        return FormatResult(False, f"regex timed out after {timeout:g}s")
    if m is None:
        how = "does not match" if fullmatch else "has no match for"
        return FormatResult(False, f"text {how} /{pattern}/")
    return _OK


def check_json(text: str, *, require: str | None = None, strip_fence: bool = True) -> FormatResult:
    """Check that ``text`` parses as JSON (``require="object"`` or ``"array"`` to demand a kind).

    With ``strip_fence`` a single surrounding Markdown fence (```` ```json ... ``` ````) is removed.
    Deeply nested or oversized input is a failed check with a reason, never an exception.
    """
    if require not in (None, "object", "array"):
        raise ValueError(f"require: expected None, 'object' or 'array', got {require!r}")
    if not isinstance(text, str):
        return FormatResult(False, f"completion is {type(text).__name__}, not text")
    s = text.strip()
    if strip_fence and s.startswith("```") and s.endswith("```") and len(s) >= 6:
        first_nl = s.find("\n")
        if first_nl < 0:
            return FormatResult(False, "code fence without content")
        s = s[first_nl + 1 : -3].strip()
    try:
        value = json.loads(s)
    except RecursionError:
        return FormatResult(False, "JSON nested too deeply")
    except ValueError as exc:  # JSONDecodeError, and int() digit limits
        msg = getattr(exc, "msg", None) or str(exc)
        return FormatResult(False, f"invalid JSON: {msg}")
    if require == "object" and not isinstance(value, dict):
        return FormatResult(False, f"JSON is {type(value).__name__}, expected an object")
    if require == "array" and not isinstance(value, list):
        return FormatResult(False, f"JSON is {type(value).__name__}, expected an array")
    return _OK
