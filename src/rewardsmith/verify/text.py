"""Text answers: multiple choice letters and normalized string equality.

``choice_equal("The answer is (B).", "B")`` reads one option letter from each side; a reply that
names no letter, or several, is not equal (no guessing). ``string_equal`` compares after the
normalizations asked for (case, whitespace, punctuation, articles, unicode), SQuAD-style.
"""

from __future__ import annotations

import re
import string
import unicodedata
from typing import Iterable

__all__ = ["extract_choice", "choice_equal", "normalize_text", "string_equal", "NORMALIZATIONS"]

_PREFIXES = re.compile(
    r"^(?:the\s+(?:correct\s+|final\s+)?answer\s+is|(?:final\s+|correct\s+)?answer|option|choice)"
    r"\s*[:\-]?\s*",
    re.IGNORECASE,
)
_WRAPPERS = re.compile(r"^\\(?:boxed|text|textbf|mathrm)\{(.*)\}$", re.DOTALL)


def extract_choice(text: str, letters: str = "ABCDEFGHIJ") -> str | None:
    """The option letter ``text`` names, or None.

    Accepts ``B``, ``(B)``, ``B.``, ``B)``, ``B:``, ``**B**``, ``\\boxed{B}``, ``Answer: B``,
    ``The answer is (B).`` and ``B. <option text>``; lower-case letters count. A letter followed by
    more words without punctuation ("A cat") is not a choice.
    """
    if not isinstance(text, str):
        return None
    s = text.strip()[:1000].strip("*_` \t\r\n")
    for _ in range(3):  # peel prefixes and wrappers in any order, a bounded number of times
        s = _PREFIXES.sub("", s, count=1).strip("*_` \t\r\n$")
        m = _WRAPPERS.match(s)
        if m:
            s = m.group(1).strip()
    if not s:
        return None
    if s[0] == "(" and len(s) >= 3 and s[2] == ")":
        letter, rest = s[1], s[3:]
    else:
        letter, rest = s[0], s[1:]
        if rest and rest[0] not in ".):":
            return None
        rest = rest[1:]
    letter = letter.upper()
    if letter not in letters.upper():
        return None
    rest = rest.strip().rstrip(".")
    # "(B)" alone, or "(B) option text"/"B. option text": fine; "B, C" or "B or C": ambiguous
    if rest and re.match(r"^(?:,|or\b|and\b|/)", rest, re.IGNORECASE):
        return None
    return letter


def choice_equal(pred: str | None, gold: str, letters: str = "ABCDEFGHIJ") -> bool:
    """True when ``pred`` and ``gold`` name the same option letter (see ``extract_choice``)."""
    g = extract_choice(gold, letters)
    if g is None:
        raise ValueError(f"gold: expected an option letter among {letters!r}, got {gold!r}")
    return pred is not None and extract_choice(pred, letters) == g


NORMALIZATIONS = ("case", "whitespace", "punctuation", "articles", "unicode")
_ARTICLES = re.compile(r"\b(?:a|an|the)\b", re.IGNORECASE)
_PUNCT = str.maketrans("", "", string.punctuation)


def _as_options(normalize: Iterable[str] | str | bool | None) -> tuple[str, ...]:
    if normalize is None or normalize is True:
        return ("case", "whitespace")
    if normalize is False:
        return ()
    if normalize == "all":
        return NORMALIZATIONS
    opts = (normalize,) if isinstance(normalize, str) else tuple(normalize)
    bad = [o for o in opts if o not in NORMALIZATIONS]
    if bad:
        raise ValueError(
            f"normalize: unknown option(s) {bad!r}; expected a subset of {list(NORMALIZATIONS)}, "
            "'all', True or False"
        )
    return opts


def normalize_text(text: str, normalize: Iterable[str] | str | bool | None = None) -> str:
    """Apply the chosen normalizations (in the fixed order unicode, case, punctuation, articles,
    whitespace). Default ``("case", "whitespace")``; ``"all"`` for every one; ``False`` for none."""
    opts = _as_options(normalize)
    s = text
    if "unicode" in opts:
        s = unicodedata.normalize("NFKC", s)
    if "case" in opts:
        s = s.casefold()
    if "punctuation" in opts:
        s = s.translate(_PUNCT)
    if "articles" in opts:
        s = _ARTICLES.sub(" ", s)
    if "whitespace" in opts:
        s = " ".join(s.split())
    return s


def string_equal(
    pred: str | None, gold: str, normalize: Iterable[str] | str | bool | None = None
) -> bool:
    """``normalize_text(pred) == normalize_text(gold)``; None (no answer) is never equal."""
    if not isinstance(gold, str):
        raise ValueError(f"gold: expected a string, got {type(gold).__name__}")
    opts = _as_options(normalize)
    if pred is None or not isinstance(pred, str):
        return False
    return normalize_text(pred, opts) == normalize_text(gold, opts)
