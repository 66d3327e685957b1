"""MedicareMbiRecognizer: the CMS 11-character MBI format, and HICNs in Medicare context."""

from __future__ import annotations

import pytest

from nlu.phi.recognizers.medicare_mbi import MedicareMbiRecognizer

RECOGNIZER = MedicareMbiRecognizer()
ENTITY = "MEDICARE_MBI"

MUST_MATCH = [
    ("1EG4-TE5-MK73", "1EG4-TE5-MK73"),
    ("my medicare number is 1EG4TE5MK73", "1EG4TE5MK73"),
    ("mbi: 1eg4-te5-mk73", "1eg4-te5-mk73"),
    ("Medicare card says 1EG4 TE5 MK73", "1EG4 TE5 MK73"),
    ("beneficiary id 9AA0-AA0-AA00 thx", "9AA0-AA0-AA00"),
    ("MBI 2C13D45EF67 is on the red white and blue card", "2C13D45EF67"),
    ("Medicare number 123-45-6789A", "123-45-6789A"),
    ("my old medicare # was 123456789B1", "123456789B1"),
    ("ref 1EG4TE5MK73", "1EG4TE5MK73"),
]
MUST_NOT_MATCH = [
    "1SG4-TE5-MK73",  # S is excluded by CMS
    "0EG4-TE5-MK73",  # position 1 is 1-9
    "1EG4-TE5MK73",  # inconsistent separators
    "1EGG-TE5-MK73",  # position 4 must be a digit
    "ref 1eg4te5mk73",  # lower-case lookalike without Medicare context
    "call 1-800-633-4227",
    "123-45-6789A",  # HICN shape needs Medicare context
    "medicare 123-45-6789 a week ago",
    "order 1EG4TE5MK73X",
    "medicare covers it",
]


@pytest.mark.parametrize(("text", "expected"), MUST_MATCH)
def test_mbi_shape_is_found(text: str, expected: str) -> None:
    results = RECOGNIZER.analyze(text, [ENTITY])
    assert [text[r.start : r.end] for r in results] == [expected]
    assert all(r.entity_type == ENTITY for r in results)


@pytest.mark.parametrize("text", MUST_NOT_MATCH)
def test_mbi_rejects_invalid_positions_and_uncued_lookalikes(text: str) -> None:
    assert RECOGNIZER.analyze(text, [ENTITY]) == []


def test_mbi_scores_higher_with_medicare_context() -> None:
    (bare,) = RECOGNIZER.analyze("ID 1EG4-TE5-MK73", [ENTITY])
    (cued,) = RECOGNIZER.analyze("Medicare ID 1EG4-TE5-MK73", [ENTITY])
    assert 0.4 <= bare.score <= 0.6
    assert 0.85 <= cued.score <= 0.95
    assert RECOGNIZER.name == "MedicareMbiRecognizer"


@pytest.mark.parametrize("unit", ["1", "1EG4", "1EG4-", "medicare ", "123-45-", "1E"])
def test_mbi_finishes_on_100kb_hostile_input(unit: str) -> None:
    text = (unit * (100_000 // len(unit) + 1))[:100_000]
    RECOGNIZER.analyze(text, [ENTITY])
