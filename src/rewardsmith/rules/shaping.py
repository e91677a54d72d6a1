"""Additive shaping terms: pure functions of a length or a text, each documented with its formula.

A rule set adds ``weight * value`` of each term to the tier reward. Values are in [-1, 0] for the
penalties and [0, 1] for the tag count, so ``weight`` alone sets a term's scale.
"""

from __future__ import annotations

__all__ = ["soft_overlong", "overlong", "length_penalty", "repetition", "distinct_ngram_frac"]


def soft_overlong(length: int, max_length: int, cache: int) -> float:
    """DAPO's soft overlong punishment (Yu et al. 2025, eq. 13).

    ``0`` if ``L <= max_length - cache``; ``(max_length - cache - L) / cache`` if
    ``max_length - cache < L <= max_length``; ``-1`` if ``L > max_length``.
    """
    start = max_length - cache
    if length <= start:
        return 0.0
    if length > max_length:
        return -1.0
    return (start - length) / cache


def overlong(length: int, max_length: int, truncated: bool = False) -> float:
    """Hard overlong punishment: ``-1`` if ``L > max_length`` or the completion was truncated, else 0."""
    return -1.0 if (truncated or length > max_length) else 0.0


def length_penalty(length: int, free: int, scale: int) -> float:
    """Linear length penalty: ``-min(1, max(0, L - free) / scale)``."""
    return -min(1.0, max(0, length - free) / scale)


def distinct_ngram_frac(text: str, n: int) -> float | None:
    """Distinct n-grams / n-grams over lower-cased whitespace words; None with fewer than n words."""
    words = text.lower().split()
    total = len(words) - n + 1
    if total <= 0:
        return None
    if n == 1:
        return len(set(words)) / total
    return len(set(zip(*(words[i:] for i in range(n))))) / total


def repetition(text: str, n: int) -> float:
    """n-gram repetition penalty (open-r1's ``repetition_penalty_reward`` with max_penalty -1):
    ``-(1 - distinct n-grams / n-grams)``; 0 for texts shorter than ``n`` words."""
    frac = distinct_ngram_frac(text, n)
    return 0.0 if frac is None else -(1.0 - frac)
