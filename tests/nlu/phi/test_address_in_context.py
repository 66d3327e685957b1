"""AddressInContextRecognizer: addresses announced by the sentence, in any country's format."""

from __future__ import annotations

import pytest

from nlu.phi.recognizers.address_in_context import AddressInContextRecognizer

RECOGNIZER = AddressInContextRecognizer()

MUST_MATCH = [
    ("Tilly lives at 10252 Μεγάλη Άμμος 184, ΠΑΦΟΣ", "10252 Μεγάλη Άμμος 184"),
    ("He lives on the north side of Joaquin Suarez 2906.", "Joaquin Suarez 2906"),
    ("The office is at Růžena and Király u. 15.", "Růžena and Király u"),
    ("the bus drops you off at 74678 midtvollen 130 st.", "74678 midtvollen 130"),
    ("my new address is the corner of Csabai kapu 37 and Oak", "the corner of Csabai kapu 37"),
    ("please send it to Hersnapvej 75", "Hersnapvej 75"),
    ("my address: 22 baker street", "22"),
    ("meet you at 63 Avenue du Golf", "63"),
    (
        "Ask the driver to stop at the corner of Nieuwe Baan 473 St.",
        "the corner of Nieuwe Baan 473",
    ),
]
MUST_NOT_MATCH = [
    "is the clinic at 1200 River Road open on sunday?",
    "the pharmacy is on 3rd floor",
    "the garage entrance is at 45 Elm St",
    "my appointment is at 10:30 am",
    "the copay is at $20",
    "visiting hours? I live in town",
    "the meeting is at noon",
    "my address changed, how do I update it online?",
    "I live at home with my parents",
]


@pytest.mark.parametrize(("text", "expected"), MUST_MATCH)
def test_address_after_a_cue_is_found(text: str, expected: str) -> None:
    found = [text[r.start : r.end] for r in RECOGNIZER.analyze(text, ["STREET_ADDRESS"])]
    assert any(expected in span for span in found), found


@pytest.mark.parametrize("text", MUST_NOT_MATCH)
def test_clinic_locations_times_and_amounts_are_not_addresses(text: str) -> None:
    assert RECOGNIZER.analyze(text, ["STREET_ADDRESS"]) == []


def test_hostile_input_finishes() -> None:
    for text in ("lives at " * 12_000, "address is 1" * 9_000, "corner of a" * 10_000):
        RECOGNIZER.analyze(text, ["STREET_ADDRESS"])
