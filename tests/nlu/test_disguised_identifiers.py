"""End to end: a message hiding an identifier in words, spaces or leetspeak is never
answered in public, and ordinary wording with numbers in it still is."""

from __future__ import annotations

import pytest

from escalation.masking import mask
from nlu.engine import TriageEngine

HIDDEN = [
    ("visiting hours? my mrn is four four two one nine eight seven", "MEDICAL_RECORD_NUMBER"),
    # nine digits in one run read as the digits themselves do: a number, not yet an SSN
    ("what are visiting hours? my ssn is five three six two two eight seven two six", None),
    ("what are visiting hours? my ssn is five three six, two two, eight seven two six", "US_SSN"),
    ("where do I park? call me back at five five five, two three four, one two one two", None),
    ("parking for my visit? ssn 536 . 22 . 8726", "US_SSN"),
    ("what time is visiting? my s.s.n is 5-3-6-2-2-8-7-2-6", None),
    ("visiting hours please, d o b 0 3 / 1 4 / 1 9 8 5", "DATE_OF_BIRTH"),
    ("hi, my name is j0hn sm1th, when can I visit?", "PERSON"),
    ("what are your opening hours? my ph0ne is five5five 234 1212", None),
    ("horario de visitas? mi numero es cinco cinco cinco dos tres cuatro uno dos uno dos", None),
]

ROUTINE = [
    ("can I bring one or two visitors to the maternity floor?", "visiting_hours"),
    ("I have two kids and three dogs, can the kids visit?", "visiting_hours"),
    ("is the clinic open 9 to 5 on saturdays", "opening_hours"),
    ("are you open from 9 - 5 on weekdays?", "opening_hours"),
]


@pytest.mark.parametrize(("text", "kind"), HIDDEN)
def test_a_disguised_identifier_is_escalated_not_answered(
    engine: TriageEngine, text: str, kind: str | None
) -> None:
    decision = engine.triage("m1", text)
    assert decision.action == "escalate"
    assert any(reason.startswith("phi:") for reason in decision.reasons)
    if kind is not None:
        assert f"phi:{kind}" in decision.reasons


@pytest.mark.parametrize(("text", "intent"), ROUTINE)
def test_numbers_in_ordinary_wording_still_get_the_faq_answer(
    engine: TriageEngine, text: str, intent: str
) -> None:
    decision = engine.triage("m2", text)
    assert decision.action == "reply"
    assert decision.intent == intent


def test_the_staff_mask_hides_the_spelled_out_number(engine: TriageEngine) -> None:
    text = "visiting hours? my mrn is four four two one nine eight seven thanks"
    decision = engine.triage("m3", text)
    masked = mask(text, [(e.type, e.start, e.end) for e in decision.entities])
    assert "four" not in masked
    assert "seven" not in masked
    assert masked.startswith("visiting hours? my mrn is [")
    assert masked.endswith("] thanks")


def test_an_identifier_found_on_the_plain_reading_spans_its_disguise(
    engine: TriageEngine,
) -> None:
    disguise = "5 3 6 - 2 2 - 8 7 2 6"
    text = f"where do I park? my s.s.n is {disguise}, thanks"
    decision = engine.triage("m4", text)
    spans = {text[e.start : e.end] for e in decision.entities if e.type.startswith(("US_", "ID"))}
    assert spans == {disguise}
