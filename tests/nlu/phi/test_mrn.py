"""MrnRecognizer: medical record numbers and patient IDs, only after a cue word."""

from __future__ import annotations

import pytest

from nlu.phi.recognizers.mrn import MrnRecognizer

RECOGNIZER = MrnRecognizer()
ENTITY = "MEDICAL_RECORD_NUMBER"

MUST_MATCH = [
    ("mrn 8834120", "8834120"),
    ("MRN: A1234567", "A1234567"),
    ("her medical record number is 00451234", "00451234"),
    ("med rec # 5521903", "5521903"),
    ("patient id 77120045", "77120045"),
    ("patient ID: PT-448812", "PT-448812"),
    ("chart number 4471120 if that helps", "4471120"),
    ("hospital number 123456", "123456"),
    ("my moms mrn is 8834120 can someone call", "8834120"),
    ("MRN#8834120", "8834120"),
    ("m.r.n. 5512003", "5512003"),
    ("pt id no. 33-11902", "33-11902"),
    ("patient identifier: 12345678.", "12345678"),
]
MUST_NOT_MATCH = [
    "8834120",
    "call me at 8834120",
    "what is my mrn?",
    "patient no longer in pain",
    "patient #3 in line",
    "the hospital number is 555-123-4567",
    "The hospital number is 555-0100",
    "record number of visitors: 12",
    "I was patient for 12345 minutes",
    "mrn",
    "chart number please",
]


@pytest.mark.parametrize(("text", "expected"), MUST_MATCH)
def test_mrn_after_a_cue_is_found_without_the_cue(text: str, expected: str) -> None:
    results = RECOGNIZER.analyze(text, [ENTITY])
    assert [text[r.start : r.end] for r in results] == [expected]
    assert all(r.entity_type == ENTITY for r in results)


@pytest.mark.parametrize("text", MUST_NOT_MATCH)
def test_mrn_requires_a_context_word_and_a_plausible_value(text: str) -> None:
    assert RECOGNIZER.analyze(text, [ENTITY]) == []


def test_mrn_is_scored_as_context_confirmed() -> None:
    (result,) = RECOGNIZER.analyze("MRN 8834120", [ENTITY])
    assert 0.85 <= result.score <= 0.95


def test_mrn_works_without_nlp_artifacts_and_respects_requested_entities() -> None:
    assert RECOGNIZER.analyze("mrn 8834120", [ENTITY], None)
    assert RECOGNIZER.analyze("mrn 8834120", ["PERSON"]) == []
    assert RECOGNIZER.name == "MrnRecognizer"


@pytest.mark.parametrize("unit", ["1", "mrn ", "mrn: ", "patient id ", "MRN-", "a1-"])
def test_mrn_finishes_on_100kb_hostile_input(unit: str) -> None:
    text = (unit * (100_000 // len(unit) + 1))[:100_000]
    RECOGNIZER.analyze(text, [ENTITY])
