"""FAQ intent classifier trained from the Rasa-format examples.

TF-IDF over words and character n-grams with a multinomial logistic regression: small,
fast to retrain (well under a second on the demo content) and robust to the typos and
slang of social media. Guard classes (medical advice, emergency, complaint, spam, out of
scope) are trained beside the FAQ intents so that a message resembling them is never
answered with a FAQ answer.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from nlu.faq import GUARD_CLASSES, FaqContent
from nlu.models import IntentGuess

FALLBACK = "nlu_fallback"
_URL = re.compile(r"(?:https?://|www\.)\S+|\b[a-z0-9-]+\.(?:ly|com|net|org|io|co|me)/\S*", re.I)
_MENTION = re.compile(r"@\w+")
_REPEAT = re.compile(r"(.)\1{2,}")
_SPACE = re.compile(r"\s+")
# Bump when the features or the model change: older cache files are then ignored.
_MODEL_FORMAT = "v1"  # unchanged: the file holds the same arrays


def model_path(cache_dir: Path, content: FaqContent) -> Path:
    """Where the model trained on this content is kept: one file per format and version."""
    return cache_dir / f"intents-{_MODEL_FORMAT}-{content.version}.npz"


def normalize(text: str) -> str:
    """Fold case, links, mentions and stretched letters ("sooooo") into stable tokens."""
    text = _URL.sub(" urltoken ", text)
    text = _MENTION.sub(" ", text)
    text = _REPEAT.sub(r"\1\1", text.casefold())
    return _SPACE.sub(" ", text).strip()


_TOKEN = re.compile(r"\b\w+\b")
_WHITESPACES = re.compile(r"\s\s+")
_WORD_TOKEN_PATTERN = r"\b\w+\b"  # noqa: S105 - not a password
_CHAR_NGRAMS = (2, 5)


def word_terms(text: str) -> list[str]:
    """Words and word pairs, as TfidfVectorizer(ngram_range=(1, 2)) makes them."""
    tokens = _TOKEN.findall(text.lower())
    return tokens + [f"{a} {b}" for a, b in pairwise(tokens)]


def char_terms(text: str) -> list[str]:
    """Character 2- to 5-grams inside space-padded words, as analyzer="char_wb" makes them.

    Written out so that a service loading a trained model never imports scikit-learn
    (seconds of start-up in every process); a test checks it equals scikit-learn's.
    """
    low, high = _CHAR_NGRAMS
    grams: list[str] = []
    for word in _WHITESPACES.sub(" ", text.lower()).split():
        padded = f" {word} "
        for n in range(low, high + 1):
            grams.extend(padded[i : i + n] for i in range(max(len(padded) - n, 0) + 1))
            if n >= len(padded):
                break  # a word no longer than n counts once, whole
    return grams


_ANALYZERS: tuple[Callable[[str], list[str]], ...] = (word_terms, char_terms)


@dataclass(frozen=True, slots=True)
class _Terms:
    """One fitted vectorizer's parts that prediction needs."""

    analyze: Callable[[str], list[str]]
    vocabulary: Mapping[str, int]
    idf: Any  # numpy array, one weight per term
    coef: Any  # numpy array, the rows of the model's coefficients for these terms


class IntentClassifier:
    """Predicts a FAQ intent, a guard class, or `nlu_fallback` below the threshold."""

    def __init__(
        self, content: FaqContent, threshold: float, cache_dir: Path | None = None
    ) -> None:
        """Train on the content's examples, or load the model trained on them before.

        A trained model is kept in `cache_dir` under the content's version (a hash of
        the files), so a restart with unchanged content skips the training.
        """
        self.threshold = threshold
        self.faq_keys = frozenset(content.intents)
        cached = model_path(cache_dir, content) if cache_dir else None
        if cached is not None and self._load(cached):
            self._terms = self._term_tables()
            return
        # Imported here: scikit-learn takes seconds to import and only training needs it.
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self._vectorizers = (
            TfidfVectorizer(
                ngram_range=(1, 2), sublinear_tf=True, token_pattern=_WORD_TOKEN_PATTERN
            ),
            TfidfVectorizer(analyzer="char_wb", ngram_range=_CHAR_NGRAMS, sublinear_tf=True),
        )
        texts, labels = zip(*content.training_data(), strict=True)
        features = self._features([normalize(t) for t in texts], fit=True)
        # newton-cg converges in about a second on a thousand examples; lbfgs needs four.
        model = LogisticRegression(C=20.0, solver="newton-cg", max_iter=200)
        model.fit(features, list(labels))
        self.classes: tuple[str, ...] = tuple(str(c) for c in model.classes_)
        # Prediction is the softmax of a linear score: done directly with numpy, because
        # scikit-learn's per-call validation costs more than the arithmetic for one message.
        self._vocabularies = tuple(dict(v.vocabulary_) for v in self._vectorizers)
        self._idfs = tuple(np.asarray(v.idf_, dtype=np.float64) for v in self._vectorizers)
        self._coef = model.coef_.T.copy()
        self._intercept = model.intercept_.copy()
        if len(self.classes) == 2:
            # Two classes give one score column, the second class's log-odds: a zero column
            # before it makes the softmax equal that sigmoid, like every other class count.
            self._coef = np.hstack([np.zeros_like(self._coef), self._coef])
            self._intercept = np.concatenate([np.zeros_like(self._intercept), self._intercept])
        self._terms = self._term_tables()
        if cached is not None:
            self._save(cached)

    def _save(self, path: Path) -> None:
        arrays = {
            "coef": self._coef,
            "intercept": self._intercept,
            "classes": np.array(self.classes),
        }
        for kind, vocabulary, idf in zip(
            ("word", "char"), self._vocabularies, self._idfs, strict=True
        ):
            arrays[f"{kind}_terms"] = np.array(list(vocabulary))
            arrays[f"{kind}_index"] = np.array(list(vocabulary.values()))
            arrays[f"{kind}_idf"] = idf
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(partial, **arrays)
        partial.replace(path)  # atomic: another process never reads half a file

    def _load(self, path: Path) -> bool:
        try:
            # Plain arrays only (no pickle): a cache file can never run code.
            with np.load(path, allow_pickle=False) as data:
                self._vocabularies = tuple(
                    dict(
                        zip(
                            data[f"{kind}_terms"].tolist(),
                            data[f"{kind}_index"].tolist(),
                            strict=True,
                        )
                    )
                    for kind in ("word", "char")
                )
                self._idfs = tuple(
                    np.asarray(data[f"{kind}_idf"], dtype=np.float64) for kind in ("word", "char")
                )
                self._coef, self._intercept = data["coef"], data["intercept"]
                self.classes = tuple(str(c) for c in data["classes"])
        except (OSError, KeyError, ValueError):
            return False
        return True

    def _features(self, normalized: list[str], fit: bool = False) -> Any:
        """scikit-learn's feature matrix: for training, and for tests of a trained model."""
        from scipy.sparse import hstack

        parts = [
            v.fit_transform(normalized) if fit else v.transform(normalized)
            for v in self._vectorizers
        ]
        return hstack(parts, format="csr")

    def _term_tables(self) -> tuple[_Terms, ...]:
        """Per vectorizer: its analyzer, and for each known term its weight row."""
        tables, offset = [], 0
        for analyze, vocabulary, idf in zip(
            _ANALYZERS, self._vocabularies, self._idfs, strict=True
        ):
            size = len(idf)
            tables.append(
                _Terms(
                    analyze=analyze,
                    vocabulary=vocabulary,
                    idf=idf,
                    coef=self._coef[offset : offset + size],
                )
            )
            offset += size
        return tuple(tables)

    def _scores(self, text: str) -> Any:
        """The linear score of each class for one normalised text.

        The same arithmetic as TfidfVectorizer.transform (sublinear tf, idf, l2 norm per
        vectorizer) followed by the product with the coefficients, done on the few terms
        the text has: scikit-learn's input validation and sparse-matrix assembly cost
        several times more than this for a short message.
        """
        scores = self._intercept.copy()
        for table in self._terms:
            counts: dict[int, int] = {}
            for term in table.analyze(text):
                index = table.vocabulary.get(term)
                if index is not None:
                    counts[index] = counts.get(index, 0) + 1
            if not counts:
                continue
            indices = np.fromiter(counts, dtype=np.intp, count=len(counts))
            weights = np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))
            weights += 1.0
            weights *= table.idf[indices]
            weights /= np.sqrt(weights @ weights)
            scores += weights @ table.coef[indices]
        return scores

    def predict_many(self, texts: Sequence[str]) -> list[IntentGuess]:
        """Classify a batch; one probability matrix for all of them."""
        if not texts:
            return []
        scores = np.stack([self._scores(normalize(t)) for t in texts])
        scores -= scores.max(axis=1, keepdims=True)
        probabilities = np.exp(scores)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        guesses = []
        for row in probabilities:
            ranked = sorted(
                zip(self.classes, (float(p) for p in row), strict=True),
                key=lambda pair: pair[1],
                reverse=True,
            )
            top, confidence = ranked[0]
            name = top if confidence >= self.threshold else FALLBACK
            guesses.append(
                IntentGuess(name, round(confidence, 4), tuple((k, round(v, 4)) for k, v in ranked))
            )
        return guesses

    def predict(self, text: str) -> IntentGuess:
        """Classify one message."""
        return self.predict_many([text])[0]

    def is_guard(self, name: str) -> bool:
        """True for classes that must never be answered from the FAQ."""
        return name in GUARD_CLASSES


def accuracy(classifier: IntentClassifier, pairs: Iterable[tuple[str, str]]) -> float:
    """Share of (text, label) pairs the classifier gets right (fallback counts as wrong)."""
    items = list(pairs)
    if not items:
        return 0.0
    guesses = classifier.predict_many([text for text, _ in items])
    hits = sum(guess.name == label for guess, (_, label) in zip(guesses, items, strict=True))
    return hits / len(items)
