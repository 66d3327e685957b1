"""ZipCodeRecognizer: US ZIP / ZIP+4 and common postcodes, only in context."""

from __future__ import annotations

import pytest

from nlu.phi.recognizers.us_zip_code import ZipCodeRecognizer

RECOGNIZER = ZipCodeRecognizer()
ENTITY = "ZIP_CODE"

MUST_MATCH = [
    ("zip code 62704", "62704"),
    ("zip: 10001-1234", "10001-1234"),
    ("my zip is 627041234", "627041234"),
    ("zipcode 90210", "90210"),
    ("ZIP CODE: 30301", "30301"),
    ("postcode SW1A 1AA", "SW1A 1AA"),
    ("postal code is K1A 0B1", "K1A 0B1"),
    ("postcode 1012 AB", "1012 AB"),
    ("postal code 00-950", "00-950"),
    ("PLZ 10115", "10115"),
    ("Springfield, IL 62704", "62704"),
    ("i live in the zip 60614 area", "60614"),
    ("zip 1234", "1234"),
    ("ZIP: 394 13", "394 13"),
    ("ZIP: 7412 SL", "7412 SL"),
    ("My zip code is 880", "880"),
]
MUST_NOT_MATCH = [
    "62704",
    "order 62704",
    "62704 people came",
    "zip it 12345",
    "plz 12345",
    "zip code please",
    "unzip 12345",
    "what's the postal code for the clinic?",
    "IL 62704",
]


@pytest.mark.parametrize(("text", "expected"), MUST_MATCH)
def test_postcode_after_a_cue_is_found_without_the_cue(text: str, expected: str) -> None:
    results = RECOGNIZER.analyze(text, [ENTITY])
    assert [text[r.start : r.end] for r in results] == [expected]
    assert all(r.entity_type == ENTITY for r in results)


@pytest.mark.parametrize("text", MUST_NOT_MATCH)
def test_bare_five_digit_numbers_do_not_match(text: str) -> None:
    assert RECOGNIZER.analyze(text, [ENTITY]) == []


def test_zip_is_scored_as_context_confirmed() -> None:
    (result,) = RECOGNIZER.analyze("zip 62704", [ENTITY])
    assert 0.85 <= result.score <= 0.95
    assert RECOGNIZER.name == "ZipCodeRecognizer"


@pytest.mark.parametrize("unit", ["1", "zip ", "zip code ", "postcode ", "A, ", "Aa IL "])
def test_zip_finishes_on_100kb_hostile_input(unit: str) -> None:
    text = (unit * (100_000 // len(unit) + 1))[:100_000]
    RECOGNIZER.analyze(text, [ENTITY])
