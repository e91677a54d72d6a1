"""Answer extraction from a completion: ``extract_answer(text, mode) -> str | None``.

Modes (the mode is part of the rule; there is never a fallback to another mode):

* ``answer_tag``: the content of the LAST complete ``<answer>...</answer>`` block, stripped
  (a model that drafts and then answers is graded on its final block; the format rule is what
  enforces exactly one block).
* ``boxed``: the argument of the LAST ``\\boxed`` / ``\\fbox``: ``\\boxed{...}`` with nested
  braces (escaped ``\\{``/``\\}`` skipped), or ``\\boxed 5`` (the next token). An unterminated
  last box (truncated completion) gives None, not an earlier draft.
* ``the_answer_is``: the text after the last "the answer is" / "the final answer is" /
  "final answer:" (case-insensitive), up to the end of the line or of the sentence; a ``\\boxed``
  inside it is unwrapped; surrounding ``$``, ``**`` and a trailing period are removed.
* ``last_number``: the last number (``-1,234.5``, ``3/4``, ``.5``) in the text.

The whole answer is returned (``2 or 3`` stays ``2 or 3``; the verifier then decides). None when
absent. Every mode is linear in the text length (``str.rfind`` scans and regexes without nested
quantifiers), tested on 1 MB inputs.
"""

from __future__ import annotations

import re

__all__ = ["EXTRACT_MODES", "extract_answer"]

EXTRACT_MODES = ("answer_tag", "boxed", "the_answer_is", "last_number")

_PHRASE_RE = re.compile(r"(?:the\s(?:final\s)?answer\sis|final\sanswer\s?:)", re.IGNORECASE)
_NUMBER_RE = re.compile(r"-?(?:\d+/\d+|\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)")


def _answer_tag(text: str) -> str | None:
    end = text.rfind("</answer>")
    if end == -1:
        return None
    start = text.rfind("<answer>", 0, end)
    if start == -1:
        return None
    return text[start + len("<answer>") : end].strip()


def _brace_arg(text: str, i: int) -> str | None:
    """Content of the ``{...}`` group opening at ``text[i]``; None when unbalanced."""
    depth = 0
    n = len(text)
    j = i
    while j < n:
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j]
        j += 1
    return None


def _boxed(text: str) -> str | None:
    pos, name = -1, ""
    for cmd in ("\\boxed", "\\fbox"):
        p = text.rfind(cmd)
        while p != -1 and p + len(cmd) < len(text) and text[p + len(cmd)].isalpha():
            p = text.rfind(cmd, 0, p)  # \boxedx is another command
        if p > pos:
            pos, name = p, cmd
    if pos == -1:
        return None
    i = pos + len(name)
    n = len(text)
    while i < n and text[i] in " \t":
        i += 1
    if i >= n:
        return None
    if text[i] == "{":
        inner = _brace_arg(text, i)
        return None if inner is None else inner.strip()
    j = i
    while j < n and not text[j].isspace() and text[j] not in "$}":
        j += 1
    return text[i:j] or None


def _the_answer_is(text: str) -> str | None:
    last = None
    for m in _PHRASE_RE.finditer(text):
        last = m
    if last is None:
        return None
    rest = text[last.end() :].lstrip(" \t:")
    if rest.startswith(("\n", "\r")):  # "The final answer is:\n\n42"
        rest = rest.lstrip()
    nl = rest.find("\n")
    rest = rest if nl == -1 else rest[:nl]
    if "\\boxed" in rest or "\\fbox" in rest:
        boxed = _boxed(rest)
        if boxed is not None:
            return boxed
    # end of sentence: ". " or "." at the end (a decimal point is followed by a digit)
    k = 0
    while True:
        k = rest.find(".", k)
        if k == -1:
            break
        if k + 1 >= len(rest) or rest[k + 1].isspace():
            rest = rest[:k]
            break
        k += 1
    ans = rest.strip().strip(":").strip()
    for w in ("**", "$", "\\(", "\\)", "\\[", "\\]"):
        if ans.startswith(w) and ans.endswith(w) and len(ans) >= 2 * len(w):
            ans = ans[len(w) : len(ans) - len(w)].strip()
    ans = ans.strip("*").strip()
    if ans.startswith("$") and ans.endswith("$"):
        ans = ans.strip("$").strip()
    return ans or None


def _last_number(text: str) -> str | None:
    last = None
    for m in _NUMBER_RE.finditer(text):
        last = m
    return None if last is None else last.group(0)


_MODES = {
    "answer_tag": _answer_tag,
    "boxed": _boxed,
    "the_answer_is": _the_answer_is,
    "last_number": _last_number,
}


def extract_answer(text: str, mode: str = "boxed") -> str | None:
    """The answer in ``text`` by ``mode`` (one of ``EXTRACT_MODES``), or None when absent."""
    if mode not in _MODES:
        raise ValueError(f"mode: got {mode!r}, expected one of {', '.join(EXTRACT_MODES)}")
    if not isinstance(text, str):
        raise ValueError(f"text: got {type(text).__name__}, expected a str")
    return _MODES[mode](text)
