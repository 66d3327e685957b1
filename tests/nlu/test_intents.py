"""The intent classifier: trained from the YAML, cached by content version, same answers."""

from __future__ import annotations

from pathlib import Path

from nlu.faq import DEMO_CONTENT_DIR, load_faq
from nlu.intents import FALLBACK, IntentClassifier

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
