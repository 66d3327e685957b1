"""IdentifierFragmentRecognizer: the start or end of an identifier, told after its name."""

from __future__ import annotations

import pytest

from nlu.engine import TriageEngine
from nlu.phi.recognizers.identifier_fragment import IdentifierFragmentRecognizer

RECOGNIZER = IdentifierFragmentRecognizer()

MUST_MATCH = [
    ("lost my insurance card, member id starts with W123", "W123"),
    ("mrn ends in 4471", "4471"),
    ("last 4 of my ssn are 1234", "1234"),
    ("the last four digits of my card are 9911 and it was charged twice", "9911"),
    ("my account number ending in 0042 was billed", "0042"),
    ("los ultimos 4 de mi seguro social son 5678", "5678"),
    ("mi expediente termina en 81", "81"),
]
MUST_NOT_MATCH = [
    "what are the last 4 digits of the main number",
    "the line ends in 20 people",
    "my card ends in tears every time",
    "last 4 visits were great",
]


@pytest.mark.parametrize(("text", "value"), MUST_MATCH)
def test_a_fragment_after_the_identifiers_name_is_found(text: str, value: str) -> None:
    found = [text[r.start : r.end] for r in RECOGNIZER.analyze(text, ["ID_NUMBER"])]
    assert found == [value]


@pytest.mark.parametrize("text", MUST_NOT_MATCH)
def test_digits_without_an_identifiers_name_are_not_a_fragment(text: str) -> None:
    assert RECOGNIZER.analyze(text, ["ID_NUMBER"]) == []


def test_a_fragment_is_never_answered_in_public(engine: TriageEngine) -> None:
    decision = engine.triage("frag", "mrn ends in 4471, when are my results back?")
    assert decision.action == "escalate"
    assert "phi:ID_NUMBER" in decision.reasons
