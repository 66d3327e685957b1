"""DateOfBirthRecognizer: dates only when a birth cue introduces them."""

from __future__ import annotations

import pytest

from nlu.phi.recognizers.date_of_birth import DateOfBirthRecognizer

RECOGNIZER = DateOfBirthRecognizer()
ENTITY = "DATE_OF_BIRTH"

MUST_MATCH = [
    ("DOB 02/14/1975", "02/14/1975"),
    ("dob: 2/14/75", "2/14/75"),
    ("she was born on March 3, 1988 at your hospital", "March 3, 1988"),
    ("his birthday is 3-3-88", "3-3-88"),
    ("date of birth 1975-02-14", "1975-02-14"),
    ("b. 04/02/1960", "04/02/1960"),
    ("D.O.B. 14.02.1975", "14.02.1975"),
    ("born 14th feb 1975", "14th feb 1975"),
    ("my sons bday is march 3rd", "march 3rd"),
    ("born on the 3rd of March, 1988", "3rd of March, 1988"),
    ("born in March 1988", "March 1988"),
    ("birthdate: Feb. 14, 1975", "Feb. 14, 1975"),
    ("Harold Finch (dob 2/14/1950)", "2/14/1950"),
]
MUST_NOT_MATCH = [
    "open on 12/24",
    "appointment on March 3",
    "closed Dec 25th",
    "02/14/1975",
    "born in 1988",
    "born on a tuesday",
    "my birthday party is on march 3",
    "plan b. 3/4",
    "dob 13/25/1990",
    "born 2 weeks early",
    "happy birthday to our nurses!",
]


@pytest.mark.parametrize(("text", "expected"), MUST_MATCH)
def test_date_after_a_birth_cue_is_found_without_the_cue(text: str, expected: str) -> None:
    results = RECOGNIZER.analyze(text, [ENTITY])
    assert [text[r.start : r.end] for r in results] == [expected]
    assert all(r.entity_type == ENTITY for r in results)


@pytest.mark.parametrize("text", MUST_NOT_MATCH)
def test_plain_dates_and_birth_words_without_a_date_do_not_match(text: str) -> None:
    assert RECOGNIZER.analyze(text, [ENTITY]) == []


def test_date_of_birth_is_scored_as_context_confirmed() -> None:
    (result,) = RECOGNIZER.analyze("DOB 02/14/1975", [ENTITY])
    assert 0.85 <= result.score <= 0.95
    assert RECOGNIZER.name == "DateOfBirthRecognizer"


@pytest.mark.parametrize("unit", ["1", "1/", "dob ", "born on ", "dob: 1", "born the of "])
def test_date_of_birth_finishes_on_100kb_hostile_input(unit: str) -> None:
    text = (unit * (100_000 // len(unit) + 1))[:100_000]
    RECOGNIZER.analyze(text, [ENTITY])
