"""Words a crisis message uses, in everyday questions: answered, not sent to staff.

A plan with an insurer, a planned visit, a last message that got no reply: each has a
word of the plan or farewell cue groups, and none is a person in crisis.
"""

from __future__ import annotations

import pytest

from nlu.engine import TriageEngine

ANSWERED = [
    ("im planning to visit my dad tomorrow what are the visiting hours", "visiting_hours"),
    ("i have a plan with aetna, do you take it", "billing_insurance"),
    ("we are planning on coming saturday, where do we park", None),
    ("my last message didn't get a reply, can someone call me", None),
    ("i'm done waiting, how long is the er wait", None),
]

STILL_A_CRISIS = [
    "i'm done. tonight i'm going to finally do it.",
    "planning to end it this weekend",
    "this is my last message. tell my mom i'm sorry",
    "goodbye everyone, thank you for everything",
]


@pytest.mark.parametrize(("text", "intent"), ANSWERED)
def test_everyday_wording_is_answered_in_public(
    engine: TriageEngine, text: str, intent: str | None
) -> None:
    decision = engine.triage("everyday", text)
    assert decision.action == "reply", decision.reasons
    if intent:
        assert decision.intent == intent


@pytest.mark.parametrize("text", STILL_A_CRISIS)
def test_the_same_cues_in_a_crisis_are_an_emergency(engine: TriageEngine, text: str) -> None:
    decision = engine.triage("crisis", text)
    assert decision.action == "emergency", decision.reasons
    assert "emergency:self_harm" in decision.reasons


@pytest.mark.parametrize("text", ["i have a plan", "i love you all"])
def test_one_warning_sign_outside_a_routine_question_goes_to_a_person(
    engine: TriageEngine, text: str
) -> None:
    decision = engine.triage("warning", text)
    assert decision.action == "escalate", decision.reasons
