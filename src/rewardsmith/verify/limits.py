"""Size bounds of the math verifier and the signals its exact path raises.

Every answer is untrusted input: past these bounds it is refused (``TooLarge``), never computed.
``NotExact``: a leaf needs the symbolic path; ``Undecided``: the exact path cannot decide a pair,
which then goes to the symbolic worker. Bounds local to one step stand beside it (``MAX_TERMS``,
``MAX_ROOTS``, ``MAX_CACHED_VALUES`` in exact.py, ``MAX_PAIRS`` in compare.py,
``MAX_EXPLAIN_ITEMS`` in explain.py).
"""

from __future__ import annotations

__all__ = [
    "MAX_ANSWER_CHARS",
    "MAX_DEPTH",
    "MAX_DIGITS",
    "MAX_BITS",
    "MAX_FACTORIAL",
    "MAX_RADICAND",
    "NotExact",
    "TooLarge",
    "Undecided",
]


MAX_ANSWER_CHARS = 10_000  # longer "answers" are refused (parse_error), never parsed
MAX_DEPTH = 100  # bracket nesting / parser recursion bound
MAX_DIGITS = 2_000  # digits of one numeric literal
MAX_BITS = 100_000  # bits of any intermediate numerator/denominator (~30,000 digits)
MAX_FACTORIAL = 5_000  # n! computed exactly for n <= this (5000! has 16,326 digits)
MAX_RADICAND = 10**10  # sqrt(n) reduced by trial division up to 1e5


class NotExact(Exception):
    """The leaf is not a pure number the exact path understands (symbols, functions...)."""


class TooLarge(Exception):
    """The value would be too large to compute; it is refused, never computed."""


class Undecided(Exception):
    """The exact path cannot decide; the pair goes to the symbolic worker."""
