"""One's own procedure told in a thank-you or a review is health information; the same
procedure named in a question about a service is not ("can I park here for my MRI")."""

from __future__ import annotations

import pytest

from nlu.engine import TriageEngine

TOLD = [
    "my c-section went great thanks to dr lee",
    "the nurses made my delivery so easy",
    "thanks for the quick turnaround on my mri results",
]

ASKED = [
    ("can i park in the garage for my mri", "parking"),
    ("i need to reschedule my appointment for my mri", "appointments"),
    ("what floor is labor and delivery on", "directions"),
]


@pytest.mark.parametrize("text", TOLD)
def test_a_procedure_of_ones_own_told_in_thanks_goes_to_a_person(
    engine: TriageEngine, text: str
) -> None:
    decision = engine.triage("told", text)
    assert decision.action == "escalate"
    assert "health_info" in decision.reasons


@pytest.mark.parametrize(("text", "intent"), ASKED)
def test_a_procedure_named_in_a_service_question_is_answered(
    engine: TriageEngine, text: str, intent: str
) -> None:
    decision = engine.triage("asked", text)
    assert (decision.action, decision.intent) == ("reply", intent)
