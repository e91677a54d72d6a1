"""Proposition graders: the probability that each proposition holds for a completion.

Two kinds share one interface (``propositions`` and ``predict_proba(texts) -> (n, k) array``):

* ``PropositionGrader``: one logistic regression per proposition on shared features (char + word
  n-gram TF-IDF and text statistics by default, or MiniLM sentence embeddings), with calibrated
  probabilities (``CalibratedClassifierCV``, sigmoid by default).
* ``CallableGrader``: any function ``text -> probability`` per proposition; this is where a
  prompted LLM's yes-probability plugs in (OpenAI's Rule-Based Rewards used exactly that).

Saved models are a skops file (never pickle) plus ``grader.json``. Loading checks every type the
skops file names against ``TRUSTED_TYPES`` and refuses anything else by name.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from rewardsmith.graders.saved_format import FORMAT_VERSION
from rewardsmith.io import atomic_write_bytes, atomic_write_json, read_json

__all__ = [
    "GraderConfig",
    "PropositionGrader",
    "CallableGrader",
    "evaluate",
    "load_grader",
    "proba_metrics",
    "TRUSTED_TYPES",
]


TRUSTED_TYPES: tuple[str, ...] = (
    "rewardsmith.graders.features.TextStats",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.isotonic.IsotonicRegression",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.pipeline.FeatureUnion",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "builtins.dict",
    "builtins.list",
    "builtins.tuple",
    "numpy.float64",
    "numpy.int64",
    "numpy.dtype",
)
"""Types a saved grader may contain; ``load`` refuses a file that names any other."""


@dataclass
class GraderConfig:
    """Hyperparameters of a ``PropositionGrader`` (every field documented)."""

    features: str = "tfidf"
    """"tfidf" (char + word n-grams + text stats), "embeddings" (MiniLM) or "tfidf+embeddings"."""
    char_ngrams: tuple[int, int] = (2, 5)
    """Character n-gram range (``char_wb`` analyzer)."""
    word_ngrams: tuple[int, int] = (1, 2)
    """Word n-gram range; tokens are words and single punctuation marks."""
    max_features: int = 20_000
    """Vocabulary cap of each TF-IDF vectorizer."""
    text_stats: bool = True
    """Add ``TextStats`` (compression ratio, duplicates, tag counts) to the TF-IDF features."""
    C: float = 4.0
    """Inverse L2 strength of each logistic regression."""
    class_weight: str | None = "balanced"
    """LogisticRegression ``class_weight`` (calibration undoes its shift of the probabilities)."""
    calibration: str = "sigmoid"
    """"sigmoid" (Platt), "isotonic" or "none" (the logistic regression's own probabilities)."""
    cv: int = 3
    """Folds of ``CalibratedClassifierCV``; fewer when the rarer class has fewer examples."""
    max_chars: int = 8_000
    """Completions are cut to their first and last ``max_chars // 2`` characters before
    featurizing, so a huge completion costs bounded time."""
    seed: int = 0
    """Random seed of the solvers and folds."""

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "GraderConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"grader config: unknown fields {unknown}; expected some of {sorted(known)}")
        kw = dict(d)
        for k in ("char_ngrams", "word_ngrams"):
            if k in kw:
                kw[k] = tuple(kw[k])
        return cls(**kw)

    def validate(self) -> None:
        if self.features not in ("tfidf", "embeddings", "tfidf+embeddings"):
            raise ValueError(f"features: got {self.features!r}; expected 'tfidf', 'embeddings' "
                             "or 'tfidf+embeddings'")
        if self.calibration not in ("sigmoid", "isotonic", "none"):
            raise ValueError(f"calibration: got {self.calibration!r}; expected 'sigmoid', "
                             "'isotonic' or 'none'")
        if not (self.C > 0 and math.isfinite(self.C)):
            raise ValueError(f"C: got {self.C!r}; expected a positive number")
        if self.max_chars < 16:
            raise ValueError(f"max_chars: got {self.max_chars!r}; expected >= 16")


def _clip(texts: Sequence[str], max_chars: int) -> list[str]:
    half = max_chars // 2
    out = []
    for t in texts:
        if not isinstance(t, str):
            t = "" if t is None else str(t)
        out.append(t if len(t) <= max_chars else t[:half] + " ... " + t[-half:])
    return out


class PropositionGrader:
    """One calibrated logistic regression per proposition on shared text features.

    ``fit(texts, labels, propositions)`` with ``labels`` an (n, k) bool array;
    ``predict_proba(texts)`` -> (n, k) float64 array of P(proposition holds).
    """

    def __init__(self, config: GraderConfig | None = None):
        self.config = config or GraderConfig()
        self.config.validate()
        self.propositions: tuple[str, ...] = ()
        self.featurizer_ = None
        self.classifiers_: list[Any] = []

    # features -----------------------------------------------------------------------------
    def _features(self, texts: Sequence[str], fit: bool):
        from scipy import sparse

        texts = _clip(texts, self.config.max_chars)
        blocks = []
        if "tfidf" in self.config.features:
            if fit:
                from rewardsmith.graders.features import build_tfidf

                self.featurizer_ = build_tfidf(self.config.char_ngrams, self.config.word_ngrams,
                                               self.config.max_features, self.config.text_stats)
                blocks.append(self.featurizer_.fit_transform(texts))
            else:
                blocks.append(self.featurizer_.transform(texts))
        if "embeddings" in self.config.features:
            from rewardsmith.graders.features import embed_texts

            blocks.append(sparse.csr_matrix(embed_texts(texts)))
        return sparse.hstack(blocks, format="csr") if len(blocks) > 1 else sparse.csr_matrix(blocks[0])

    # fit / predict ------------------------------------------------------------------------
    def fit(self, texts: Sequence[str], labels: np.ndarray, propositions: Sequence[str],
            source: str = "<data>") -> "PropositionGrader":
        """Fit every proposition's classifier. A proposition with one class only (all true or all
        false) raises ValueError naming the column and the value."""
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.linear_model import LogisticRegression

        labels = np.asarray(labels, dtype=bool)
        propositions = tuple(propositions)
        if len(texts) == 0:
            raise ValueError(f"{source}: no rows to fit on")
        if labels.shape != (len(texts), len(propositions)):
            raise ValueError(f"labels: expected shape ({len(texts)}, {len(propositions)}), "
                             f"got {labels.shape}")
        for j, name in enumerate(propositions):
            n_pos = int(labels[:, j].sum())
            if n_pos in (0, len(texts)):
                raise ValueError(
                    f"{source}: column {name!r} has the single value {bool(labels[0, j])} in all "
                    f"{len(texts)} training rows; a classifier needs both true and false examples"
                )
        X = self._features(texts, fit=True)
        _drop_stop_words(self.featurizer_)
        cfg = self.config
        self.classifiers_ = []
        for j in range(len(propositions)):
            y = labels[:, j].astype(np.int64)
            lr = LogisticRegression(C=cfg.C, class_weight=cfg.class_weight, solver="liblinear",
                                    max_iter=1000, random_state=cfg.seed)
            minority = int(min(y.sum(), len(y) - y.sum()))
            folds = min(cfg.cv, minority)
            if cfg.calibration == "none" or folds < 2:
                clf = LogisticRegression(C=cfg.C, solver="liblinear", max_iter=1000,
                                         random_state=cfg.seed)
                clf.fit(X, y)
            else:
                clf = CalibratedClassifierCV(lr, method=cfg.calibration, cv=folds, ensemble=False)
                clf.fit(X, y)
            self.classifiers_.append(clf)
        self.propositions = propositions
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(n, k) probabilities, columns in ``self.propositions`` order."""
        if not self.classifiers_:
            raise ValueError("grader: not fitted; call fit() or load a saved grader")
        if len(texts) == 0:
            return np.zeros((0, len(self.propositions)))
        X = self._features(texts, fit=False)
        return np.column_stack([clf.predict_proba(X)[:, 1] for clf in self.classifiers_])

    # save / load --------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike[str], extra: Mapping[str, Any] | None = None) -> Path:
        """Write ``model.skops`` and ``grader.json`` (config, propositions, ``extra``)."""
        import skops.io as sio

        if not self.classifiers_:
            raise ValueError("grader: not fitted; nothing to save")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        import zipfile

        blob = sio.dumps({"featurizer": self.featurizer_, "classifiers": list(self.classifiers_)},
                         compression=zipfile.ZIP_DEFLATED)
        atomic_write_bytes(directory / "model.skops", blob)
        meta = {"format": "rewardsmith.graders", "version": FORMAT_VERSION, "kind": "proposition",
                "propositions": list(self.propositions), "config": asdict(self.config)}
        meta.update(extra or {})
        atomic_write_json(directory / "grader.json", meta)
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> "PropositionGrader":
        """Load a saved grader; refuses a skops file naming a type outside ``TRUSTED_TYPES``."""
        import skops.io as sio

        directory = Path(directory)
        meta = _read_meta(directory)
        blob_path = directory / "model.skops"
        if not blob_path.exists():
            raise ValueError(f"{directory}: model.skops is missing")
        untrusted = sio.get_untrusted_types(file=blob_path)
        bad = sorted(t for t in untrusted if t not in TRUSTED_TYPES)
        if bad:
            raise ValueError(f"{blob_path}: refuses to load types outside the trusted list: {bad}")
        state = sio.load(blob_path, trusted=list(untrusted))
        grader = cls(GraderConfig.from_dict(meta["config"]))
        grader.featurizer_ = state["featurizer"]
        grader.classifiers_ = list(state["classifiers"])
        grader.propositions = tuple(meta["propositions"])
        if len(grader.classifiers_) != len(grader.propositions):
            raise ValueError(f"{directory}: {len(grader.classifiers_)} classifiers for "
                             f"{len(grader.propositions)} propositions")
        return grader


def _drop_stop_words(union: Any) -> None:
    """Drop ``TfidfVectorizer.stop_words_`` (the terms cut by min_df/max_features): only kept
    for introspection, and much of a saved model's size."""
    for _, part in getattr(union, "transformer_list", []):
        if hasattr(part, "stop_words_"):
            part.stop_words_ = None
        if hasattr(part, "vocabulary_"):  # numpy ints are stored one file each by skops
            part.vocabulary_ = {str(k): int(v) for k, v in part.vocabulary_.items()}


def _read_meta(directory: Path) -> dict[str, Any]:
    path = directory / "grader.json"
    meta = read_json(path, "a directory written by `rewardsmith graders fit`")
    if meta.get("format") != "rewardsmith.graders":
        raise ValueError(f"{path}: field 'format' is {meta.get('format')!r}; "
                         "expected 'rewardsmith.graders'")
    if meta.get("version") != FORMAT_VERSION:
        raise ValueError(f"{path}: field 'version' is {meta.get('version')!r}; "
                         f"expected {FORMAT_VERSION}")
    return meta


def load_grader(directory: str | os.PathLike[str], **judge_options: Any):
    """Load the grader saved in ``directory``: a ``PropositionGrader`` (``PropositionGrader.save``)
    or, for ``kind: judge``, an ``LLMJudge`` (``LLMJudge.save``; ``judge_options`` such as
    ``cache`` go to it)."""
    directory = Path(directory)
    meta = _read_meta(directory)
    if meta.get("kind") == "judge":
        from rewardsmith.graders.judge import LLMJudge

        if not isinstance(meta.get("judge"), dict):
            raise ValueError(f"{directory / 'grader.json'}: kind 'judge' without a 'judge' object")
        return LLMJudge.from_dict(meta["judge"], **judge_options)
    return PropositionGrader.load(directory)


class CallableGrader:
    """Propositions graded by functions ``fn(text) -> probability in [0, 1]``.

    Use it for an LLM judge (e.g. the softmax probability of "yes" after a prompt stating the
    proposition), a regex, or a verifier. A function that raises or returns a value outside
    [0, 1] (or NaN) gives NaN for that text and proposition, never a crashed batch; the error is
    kept in ``last_errors`` as ``(row, proposition, message)``. A function runs in this process
    and owns its time limit (give an LLM client its own timeout).
    """

    def __init__(self, functions: Mapping[str, Callable[[str], float]]):
        if not functions:
            raise ValueError("functions: expected at least one proposition -> callable")
        for name, fn in functions.items():
            if not callable(fn):
                raise ValueError(f"functions[{name!r}]: expected a callable, got {type(fn).__name__}")
        self.functions = dict(functions)
        self.propositions: tuple[str, ...] = tuple(self.functions)
        self.last_errors: list[tuple[int, str, str]] = []

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        out = np.full((len(texts), len(self.propositions)), np.nan)
        self.last_errors = []
        for i, text in enumerate(texts):
            for j, name in enumerate(self.propositions):
                try:
                    p = float(self.functions[name](text))
                except Exception as exc:  # untrusted text may break a user's function
                    self.last_errors.append((i, name, f"{type(exc).__name__}: {exc}"))
                    continue
                if not (0.0 <= p <= 1.0):
                    self.last_errors.append((i, name, f"returned {p!r}; expected a probability in [0, 1]"))
                    continue
                out[i, j] = p
        return out


def evaluate(grader: Any, texts: Sequence[str], labels: np.ndarray,
             propositions: Sequence[str] | None = None, threshold: float = 0.5) -> dict[str, dict[str, float]]:
    """Per-proposition precision, recall, F1 (at ``threshold``), ROC AUC, Brier score, accuracy,
    and the positive / negative counts. ``propositions`` names the columns of ``labels``
    (default: the grader's). AUC is NaN when the labels hold one class only."""

    propositions = tuple(propositions or grader.propositions)
    missing = [p for p in propositions if p not in grader.propositions]
    if missing:
        raise ValueError(f"propositions {missing}: the grader has no such propositions; it has "
                         f"{list(grader.propositions)}")
    labels = np.asarray(labels, dtype=bool)
    proba = grader.predict_proba(list(texts))
    cols = [grader.propositions.index(name) for name in propositions]
    return proba_metrics(proba[:, cols], labels, propositions, threshold)


def proba_metrics(proba: np.ndarray, labels: np.ndarray, propositions: Sequence[str],
                  threshold: float = 0.5) -> dict[str, dict[str, float]]:
    """The metrics of ``evaluate`` from probabilities already computed: column j of ``proba``
    against column j of ``labels``; NaN probabilities are left out (``n_nan`` counts them)."""
    from sklearn.metrics import brier_score_loss, precision_recall_fscore_support, roc_auc_score

    labels = np.asarray(labels, dtype=bool)
    proba = np.asarray(proba, dtype=np.float64)
    result: dict[str, dict[str, float]] = {}
    for j, name in enumerate(propositions):
        p = proba[:, j]
        y = labels[:, j]
        ok = np.isfinite(p)
        p, y = p[ok], y[ok]
        pred = p >= threshold
        prec, rec, f1, _ = precision_recall_fscore_support(y, pred, average="binary",
                                                           zero_division=0.0)
        auc = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")
        result[name] = {
            "precision": float(prec),
            "recall": float(rec),
            "f1": float(f1),
            "auc": auc,
            "brier": float(brier_score_loss(y, p)) if len(y) else float("nan"),
            "accuracy": float((pred == y).mean()) if len(y) else float("nan"),
            "n_pos": int(y.sum()),
            "n_neg": int(len(y) - y.sum()),
            "n_nan": int((~ok).sum()),
        }
    return result
