"""LongNumberRecognizer: long digit runs in any national format, not amounts or years."""

from __future__ import annotations

import pytest

from nlu.phi.recognizers.long_number import LongNumberRecognizer

RECOGNIZER = LongNumberRecognizer()

MUST_MATCH = [
    ("I would like to stop receiving messages to 699 956 915", "699 956 915"),
    ("They're not answering at 78 651 450", "78 651 450"),
    ("text me at 0688 872 49 99 please", "0688 872 49 99"),
    ("My driver's license number is 6940579", "6940579"),
    ("call (415) 555-0134", "(415) 555-0134"),
    ("card 3590730093437731 was lost", "3590730093437731"),
    ("order 2270-66-1551 never came", "2270-66-1551"),
    ("reach me +44 20 7946 0958", "+44 20 7946 0958"),
    ("acct 12.345.678", "12.345.678"),
]
MUST_NOT_MATCH = [
    "we have 2,000,000 visitors a year",
    "open 24 hours, 7 days",
    "call 911",
    "the garage at 1200 River Road",
    "born in 1975 and moved in 2001",
    "it costs 1234.56 dollars",
    "room 220 bed 4",
    "version 3.14159",
    "12345",
]


@pytest.mark.parametrize(("text", "expected"), MUST_MATCH)
def test_long_digit_run_is_found_in_any_format(text: str, expected: str) -> None:
    results = RECOGNIZER.analyze(text, ["ID_NUMBER"])
    assert [text[r.start : r.end] for r in results] == [expected]
    assert all(r.entity_type == "ID_NUMBER" for r in results)


@pytest.mark.parametrize("text", MUST_NOT_MATCH)
def test_short_numbers_amounts_and_decimals_are_not_ids(text: str) -> None:
    assert RECOGNIZER.analyze(text, ["ID_NUMBER"]) == []


def test_hostile_input_finishes() -> None:
    for text in ("1 " * 50_000, "1" * 100_000, "1-" * 50_000 + "x", "(1)." * 25_000):
        RECOGNIZER.analyze(text, ["ID_NUMBER"])
