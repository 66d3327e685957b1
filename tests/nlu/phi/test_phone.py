"""GatedPhoneRecognizer: presidio's phone detection, skipped only where no phone can be."""

from __future__ import annotations

import pytest

from nlu.phi.recognizers.phone import GatedPhoneRecognizer

RECOGNIZER = GatedPhoneRecognizer()

MUST_MATCH = [
    ("call me at (212) 555-7890", "(212) 555-7890"),
    ("my cell is 212-555-7890 thanks", "212-555-7890"),
    ("ring +44 20 7946 0958", "+44 20 7946 0958"),
    ("text 6135550123 pls", "6135550123"),
]
MUST_NOT_MATCH = [
    "call 911",
    "visiting hours 8 to 8",
    "room 220, bed 4",
    "we have 2 campuses and 14 clinics",
    "open 24/7",
]


@pytest.mark.parametrize(("text", "expected"), MUST_MATCH)
def test_phone_numbers_are_found(text: str, expected: str) -> None:
    found = [text[r.start : r.end] for r in RECOGNIZER.analyze(text, ["PHONE_NUMBER"])]
    assert expected in found


@pytest.mark.parametrize("text", MUST_NOT_MATCH)
def test_texts_without_a_phone_number_give_nothing(text: str) -> None:
    assert RECOGNIZER.analyze(text, ["PHONE_NUMBER"]) == []
