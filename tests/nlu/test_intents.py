"""The intent classifier: trained from the YAML, cached by content version, same answers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from nlu.faq import DEMO_CONTENT_DIR, load_faq
from nlu.intents import FALLBACK, IntentClassifier, normalize

QUESTIONS = [
    "when are visiting hours",
    "where do i park",
    "do you take aetna",
    "what is the meaning of life",
    "is the pharmacy open sunday",
]


def test_a_cached_model_answers_exactly_like_the_trained_one(tmp_path: Path) -> None:
    content = load_faq(DEMO_CONTENT_DIR)
    trained = IntentClassifier(content, 0.45, tmp_path)
    cached_files = list(tmp_path.glob("intents-*.npz"))
    assert len(cached_files) == 1
    assert content.version in cached_files[0].name
    loaded = IntentClassifier(content, 0.45, tmp_path)
    assert loaded.classes == trained.classes
    assert loaded.predict_many(QUESTIONS) == trained.predict_many(QUESTIONS)


def test_a_broken_cache_file_is_ignored_and_retrained(tmp_path: Path) -> None:
    content = load_faq(DEMO_CONTENT_DIR)
    IntentClassifier(content, 0.45, tmp_path)
    cached = next(tmp_path.glob("intents-*.npz"))
    cached.write_bytes(b"not a model")
    again = IntentClassifier(content, 0.45, tmp_path)
    assert again.predict("where do i park").name == "parking"


def test_low_confidence_falls_back() -> None:
    classifier = IntentClassifier(load_faq(DEMO_CONTENT_DIR), 0.99)
    assert classifier.predict("hmm ok so").name == FALLBACK


def test_prediction_scores_equal_scikit_learns_features_times_the_coefficients() -> None:
    """The fast per-message scoring is the same arithmetic as the training features."""
    classifier = IntentClassifier(load_faq(DEMO_CONTENT_DIR), 0.45)
    texts = [
        *QUESTIONS,
        "",  # no known term at all
        "zzzq xxyq",
        "parking parking parking parking where where",  # repeated terms: sublinear tf
        "visiting hours?? for my mom in room 12, and is valet open on sundays too",
    ]
    normalized = [normalize(t) for t in texts]
    expected = np.asarray(
        classifier._features(normalized) @ classifier._coef + classifier._intercept
    )
    fast = np.stack([classifier._scores(t) for t in normalized])
    assert fast.shape == expected.shape
    np.testing.assert_allclose(fast, expected, rtol=1e-9, atol=1e-12)


def test_two_intents_give_scikit_learns_probabilities() -> None:
    """Binary logistic regression has one score column; predictions still cover both classes."""
    from sklearn.linear_model import LogisticRegression

    full = load_faq(DEMO_CONTENT_DIR)
    kept = {key: full.intents[key] for key in ("parking", "visiting_hours")}
    content = replace(full, intents=kept, guards={})
    classifier = IntentClassifier(content, 0.0)
    assert classifier.classes == ("parking", "visiting_hours")
    texts, labels = zip(*content.training_data(), strict=True)
    features = classifier._features([normalize(t) for t in texts])
    reference = LogisticRegression(C=20.0, solver="newton-cg", max_iter=200)
    reference.fit(features, list(labels))
    questions = ["where do i park my car", "when can my family visit"]
    expected = reference.predict_proba(classifier._features([normalize(q) for q in questions]))
    guesses = classifier.predict_many(questions)
    assert [g.name for g in guesses] == ["parking", "visiting_hours"]
    for guess, row in zip(guesses, expected, strict=True):
        assert dict(guess.ranking) == pytest.approx(
            dict(zip(reference.classes_, row, strict=True)), abs=1e-4
        )


@pytest.mark.parametrize(
    "text",
    ["", "a", "ab", "where do i park", "  visiting   hours?? a b  c ", "café ñandú x", "12 34 567"],
)
def test_term_analyzers_equal_scikit_learns(text: str) -> None:
    """Prediction reads terms without scikit-learn; they must be the ones it trained on."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from nlu.intents import char_terms, word_terms

    words = TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"\b\w+\b").build_analyzer()
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)).build_analyzer()
    assert word_terms(text) == words(text)
    assert char_terms(text) == chars(text)


def test_a_cached_model_predicts_without_importing_scikit_learn(tmp_path: Path) -> None:
    import subprocess
    import sys

    IntentClassifier(load_faq(DEMO_CONTENT_DIR), 0.45, tmp_path)
    script = (
        "import sys; from pathlib import Path\n"
        "from nlu.faq import DEMO_CONTENT_DIR, load_faq\n"
        "from nlu.intents import IntentClassifier\n"
        f"c = IntentClassifier(load_faq(DEMO_CONTENT_DIR), 0.45, Path({str(tmp_path)!r}))\n"
        "print(c.predict('where do i park').name, 'sklearn' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.split() == ["parking", "False"]
