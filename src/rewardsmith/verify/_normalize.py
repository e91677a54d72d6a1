"""The old import path of the answer reader, kept so ``from rewardsmith.verify._normalize import X``
still works. Its code now lives one concern per module (see the map in ``verify/__init__.py``):
limits, normalize, tokens, tree, labels, structure, exact, leaf_eq, intervals, compare,
explain, sympy_text, prepare. New code imports from those.
"""

from rewardsmith.verify.compare import compare
from rewardsmith.verify.exact import Inf, Num, Sym, exact_value
from rewardsmith.verify.explain import explain
from rewardsmith.verify.labels import _is_label
from rewardsmith.verify.leaf_eq import DECIMAL_DIGITS, decimal_matches, exact_approx, exact_leaf_eq, rounds_to
from rewardsmith.verify.limits import MAX_ANSWER_CHARS, MAX_DEPTH, NotExact, TooLarge, Undecided
from rewardsmith.verify.normalize import normalize, squash
from rewardsmith.verify.prepare import Prepared, _prepare, prepare, same_based_number
from rewardsmith.verify.structure import is_time, structure
from rewardsmith.verify.sympy_text import sym_text
from rewardsmith.verify.tokens import tokenize
from rewardsmith.verify.tree import Chain, Eq, Leaf, Seq, UnionNode

__all__ = [
    "MAX_ANSWER_CHARS",
    "MAX_DEPTH",
    "NotExact",
    "TooLarge",
    "Leaf",
    "Seq",
    "UnionNode",
    "Eq",
    "Num",
    "Sym",
    "Inf",
    "normalize",
    "tokenize",
    "structure",
    "exact_value",
    "compare",
    "explain",
    "exact_approx",
    "exact_leaf_eq",
    "Chain",
    "sym_text",
    "is_time",
    "same_based_number",
    "DECIMAL_DIGITS",
    "Undecided",
    "Prepared",
    "prepare",
]
