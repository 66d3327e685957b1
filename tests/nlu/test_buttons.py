"""Buttons: the welcome and FAQ answers a pressed button gets, in the person's language."""

from __future__ import annotations

import pytest

from nlu.buttons import button_decision, split_button
from nlu.engine import TriageEngine


@pytest.mark.parametrize(
    ("button", "parts"),
    [
        ("welcome", ("welcome", None)),
        ("welcome@es", ("welcome", "es")),
        ("faq/parking", ("parking", None)),
        ("faq/visiting_hours@es", ("visiting_hours", "es")),
    ],
)
def test_split_button(button: str, parts: tuple[str, str | None]) -> None:
    assert split_button(button) == parts


def test_a_button_without_an_answer_has_no_decision() -> None:
    made = button_decision("m1", "faq/parking", "es", answers={}, welcome={}, version="v")
    assert made is None


def test_welcome_lists_the_topics_in_english_and_in_spanish(engine: TriageEngine) -> None:
    english = engine.answer_button("m1", "welcome", "Get Started")
    spanish = engine.answer_button("m2", "welcome@es", "Empezar")
    assert english is not None
    assert spanish is not None
    assert (english.action, english.language, english.reasons) == (
        "reply",
        "en",
        ["button:welcome"],
    )
    assert english.reply is not None
    assert "parking" in english.reply
    assert spanish.language == "es"
    assert spanish.reply is not None
    assert "estacionamiento" in spanish.reply


def test_faq_button_gets_the_approved_answer_in_the_language_it_names(
    engine: TriageEngine,
) -> None:
    english = engine.answer_button("m3", "faq/parking", "Parking")
    spanish = engine.answer_button("m4", "faq/parking@es", "Estacionamiento")
    assert english is not None
    assert spanish is not None
    assert english.reply == engine.content.intents["parking"].answer
    assert spanish.reply == engine.content.intents["parking"].translations["es"]
    assert (english.intent, english.confidence, english.priority) == ("parking", 1.0, None)


def test_faq_button_without_a_language_answers_in_its_titles_language(
    engine: TriageEngine,
) -> None:
    made = engine.answer_button("m5", "faq/visiting_hours", "Horario de visitas del hospital")
    assert made is not None
    assert made.language == "es"


def test_a_button_naming_no_faq_intent_has_no_decision(engine: TriageEngine) -> None:
    assert engine.answer_button("m6", "faq/lottery", "Lottery") is None
