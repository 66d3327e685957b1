"""StreetAddressRecognizer: street addresses in US, UK and European formats."""

from __future__ import annotations

import pytest

from nlu.phi.recognizers.street_address import StreetAddressRecognizer

RECOGNIZER = StreetAddressRecognizer()
ENTITY = "STREET_ADDRESS"

MUST_MATCH = [
    ("1234 Elm Street", "1234 Elm Street"),
    ("send it to 55 N Main St Apt 4 please", "55 N Main St Apt 4"),
    ("42 Oak Ave, Springfield, IL 62704", "42 Oak Ave, Springfield, IL 62704"),
    ("PO Box 1234", "PO Box 1234"),
    ("PSC 3294, Box 9168 APO AA 61487", "PSC 3294, Box 9168 APO AA 61487"),
    ("Apt. 864", "Apt. 864"),
    ("Suite 910", "Suite 910"),
    ("asun Kiannonkatu 98", "Kiannonkatu 98"),
    ("ul. Miła 53", "ul. Miła 53"),
    ("Rue de Rivoli 12", "Rue de Rivoli 12"),
    ("Hauptstraße 5", "Hauptstraße 5"),
    ("Calle Mayor 7", "Calle Mayor 7"),
    ("Nybyvägen 65", "Nybyvägen 65"),
    ("I live at Reyes Católicos 17", "Reyes Católicos 17"),
    ("Reyes Católicos 17, 28001 Madrid", "Reyes Católicos 17, 28001 Madrid"),
    ("63 Avenue du Golf", "63 Avenue du Golf"),
    ("i live at 1234 elm street", "1234 elm street"),
    ("we moved to 12 maple ave last year", "12 maple ave"),
    ("10 Downing Street, London SW1A 2AA", "10 Downing Street, London SW1A 2AA"),
    ("Ich wohne in der Berliner Straße 12", "Berliner Straße 12"),
    ("Andrássy út 12", "Andrássy út 12"),
    ("calle mayor 7", "calle mayor 7"),
    ("1500 Route 9", "1500 Route 9"),
    ("p.o. box 55", "p.o. box 55"),
    ("221B Baker Street", "221B Baker Street"),
    ("123 5th Ave", "123 5th Ave"),
    ("Karl-Marx-Allee 33", "Karl-Marx-Allee 33"),
    ("she lives at 55 N. Main St. Apt. 4B", "55 N. Main St. Apt. 4B"),
    ("Visit us at 100 Medical Plaza Dr, Suite 200", "100 Medical Plaza Dr, Suite 200"),
]
MUST_NOT_MATCH = [
    "1200 people came to the fair",
    "we are open 24 hours",
    "go to the 2nd floor",
    "take route 9 north",
    "use the main street entrance",
    "Riverside Medical Center",
    "3 blocks down the street",
    "a 20 minute drive",
    "4 wheel drive",
    "I came in 2nd place",
    "we talked via Zoom 3 times",
    "see you in Spring 2024",
    "I saw 2 different court dates",
    "I have a flat 2 miles away",
    "Reyes Católicos",
]


@pytest.mark.parametrize(("text", "expected"), MUST_MATCH)
def test_address_is_found_in_many_formats(text: str, expected: str) -> None:
    results = RECOGNIZER.analyze(text, [ENTITY])
    assert [text[r.start : r.end] for r in results] == [expected]
    assert all(r.entity_type == ENTITY for r in results)


@pytest.mark.parametrize("text", MUST_NOT_MATCH)
def test_routine_phrases_with_numbers_are_not_addresses(text: str) -> None:
    assert RECOGNIZER.analyze(text, [ENTITY]) == []


def test_address_scores_reflect_how_complete_it_is() -> None:
    (full,) = RECOGNIZER.analyze("42 Oak Ave, Springfield, IL 62704", [ENTITY])
    (street,) = RECOGNIZER.analyze("42 Oak Ave", [ENTITY])
    (lowercase,) = RECOGNIZER.analyze("42 oak ave", [ENTITY])
    (unit,) = RECOGNIZER.analyze("Suite 910", [ENTITY])
    assert full.score > street.score >= 0.85
    assert 0.4 <= lowercase.score <= 0.6
    assert 0.4 <= unit.score <= 0.6
    assert RECOGNIZER.name == "StreetAddressRecognizer"


@pytest.mark.parametrize(
    "unit",
    ["1", "1 ", "A ", "1 Elm St ", "12 rue de ", "Calle ", "ul. ", "katu", "Aa Straße ", "po box "],
)
def test_street_address_finishes_on_100kb_hostile_input(unit: str) -> None:
    text = (unit * (100_000 // len(unit) + 1))[:100_000]
    RECOGNIZER.analyze(text, [ENTITY])
