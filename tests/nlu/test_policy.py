"""The policy is pure: Analysis in, Decision out. Precedence, templates and the outbound check."""

from __future__ import annotations

import pytest

from nlu import templates
from nlu.intents import FALLBACK
from nlu.models import Analysis, Entity, IntentGuess, Signal
from nlu.policy import decide, outbound_check

ANSWERS = {
    "visiting_hours": "Visiting hours are 8 am to 8 pm.",
    "contact": "Call our main line at (555) 010-2000.",
}


def analysis(
    text: str = "when can I visit",
    *,
    entities: tuple[Entity, ...] = (),
    health: tuple[Entity, ...] = (),
    signals: frozenset[Signal] = frozenset(),
    intent: str = "visiting_hours",
    confidence: float = 0.9,
) -> Analysis:
    return Analysis(
        text=text,
        entities=entities,
        health=health,
        signals=signals,
        intent=IntentGuess(intent, confidence),
    )


def test_routine_question_gets_its_faq_answer() -> None:
    decision = decide(analysis(), "m1", ANSWERS, "v1")
    assert decision.action == "reply"
    assert decision.intent == "visiting_hours"
    assert decision.reply == ANSWERS["visiting_hours"]
    assert decision.faq_version == "v1"
    assert decision.priority is None


def test_unknown_intent_gets_the_fallback_reply() -> None:
    decision = decide(analysis(intent=FALLBACK, confidence=0.2), "m1", ANSWERS)
    assert (decision.action, decision.intent, decision.reply) == (
        "reply",
        FALLBACK,
        templates.FALLBACK_REPLY,
    )


def test_an_impersonal_public_health_question_gets_the_template_and_no_faq_intent() -> None:
    # Not FAQ content: the decision names the fallback family, never the vaccines answer.
    text = "how safe is the shingles vaccine"
    asked = analysis(text, signals=frozenset({Signal.MEDICAL_ADVICE}), intent="vaccines")
    decision = decide(asked, "m1", {**ANSWERS, "vaccines": "Flu shots at the pharmacy."})
    assert (decision.action, decision.intent) == ("reply", FALLBACK)
    assert decision.reply == templates.for_language("en").general_health
    assert "general_health" in decision.reasons


def test_emergency_beats_everything() -> None:
    text = "my SSN is 123-45-6789 and I can't breathe, visiting hours?"
    ssn = Entity(type="US_SSN", start=10, end=21, score=0.85)
    signals = frozenset({Signal.EMERGENCY, Signal.COMPLAINT, Signal.SPAM})
    decision = decide(analysis(text, entities=(ssn,), signals=signals), "m1", ANSWERS)
    assert decision.action == "emergency"
    assert decision.priority == "urgent"
    assert decision.reply == templates.EMERGENCY_REPLY
    assert "phi:US_SSN" in decision.reasons


@pytest.mark.parametrize(
    ("kind", "score"), [("US_SSN", 0.85), ("MEDICAL_RECORD_NUMBER", 0.9), ("PERSON", 0.85)]
)
def test_identifier_escalates_with_high_priority_and_neutral_ack(kind: str, score: float) -> None:
    entity = Entity(type=kind, start=0, end=4, score=score)
    decision = decide(analysis("abcd when can I visit", entities=(entity,)), "m1", ANSWERS)
    assert decision.action == "escalate"
    assert decision.priority == "high"
    assert decision.reply == templates.ESCALATION_ACK
    assert f"phi:{kind}" in decision.reasons
    assert decision.intent is None


def test_low_score_name_alone_does_not_escalate() -> None:
    name = Entity(type="PERSON", start=0, end=5, score=0.5)
    decision = decide(analysis("Lopez when can I visit", entities=(name,)), "m1", ANSWERS)
    assert decision.action == "reply"
    assert decision.entities == [name]


def test_medical_advice_escalates_with_normal_priority() -> None:
    decision = decide(analysis(signals=frozenset({Signal.MEDICAL_ADVICE})), "m1", ANSWERS)
    assert (decision.action, decision.priority) == ("escalate", "normal")


def test_classifier_alone_can_route_advice_but_not_below_its_threshold() -> None:
    sure = decide(analysis(intent="medical_advice", confidence=0.8), "m1", ANSWERS)
    unsure = decide(analysis(intent="medical_advice", confidence=0.3), "m1", ANSWERS)
    assert sure.action == "escalate"
    assert "medical_advice:classifier" in sure.reasons
    assert unsure.action == "reply"
    assert unsure.intent == FALLBACK


def test_phi_and_advice_beat_complaint_and_complaint_beats_spam() -> None:
    both = frozenset({Signal.HEALTH_INFO, Signal.COMPLAINT})
    assert decide(analysis(signals=both), "m", ANSWERS).priority == "high"
    complaint = decide(analysis(signals=frozenset({Signal.COMPLAINT, Signal.SPAM})), "m", ANSWERS)
    assert (complaint.action, complaint.priority) == ("escalate", "normal")


def test_spam_is_ignored_without_a_public_reply() -> None:
    decision = decide(analysis(signals=frozenset({Signal.SPAM})), "m1", ANSWERS)
    assert (decision.action, decision.reply) == ("ignore", None)


def test_faq_answer_that_would_repeat_a_number_from_the_message_is_withheld() -> None:
    text = "is (555) 010-2000 your number?"
    decision = decide(analysis(text, intent="contact"), "m1", ANSWERS)
    assert decision.action == "escalate"
    assert decision.reply == templates.ESCALATION_ACK
    assert "outbound_check" in decision.reasons


@pytest.mark.parametrize(
    ("text", "reply", "entity"),
    [
        ("I'm Ana Ruiz", "Hello Ana Ruiz", (4, 12)),
        ("mrn 8834120 thanks", "Your record 8834120 is ready", None),
        ("call 415 555 0134", "we will call 415-555-0134", None),
        ("one two three four five six seven", "x one two three four five six y", None),
    ],
)
def test_outbound_check_refuses_text_that_repeats_the_message(
    text: str, reply: str, entity: tuple[int, int] | None
) -> None:
    entities = (
        ()
        if entity is None
        else (Entity(type="PERSON", start=entity[0], end=entity[1], score=0.9),)
    )
    assert not outbound_check(reply, analysis(text, entities=entities))


def test_outbound_check_allows_a_template_that_shares_only_common_words() -> None:
    assert outbound_check(ANSWERS["visiting_hours"], analysis("what are visiting hours"))
    assert outbound_check(templates.ESCALATION_ACK, analysis("thanks for reaching out to me"))


def test_entities_in_the_decision_carry_offsets_not_text() -> None:
    entity = Entity(type="US_SSN", start=3, end=14, score=0.9)
    decision = decide(analysis("ss 123-45-6789", entities=(entity,)), "m1", ANSWERS)
    dumped = decision.model_dump()
    assert dumped["entities"] == [{"type": "US_SSN", "start": 3, "end": 14, "score": 0.9}]
    assert "123-45-6789" not in decision.model_dump_json()


def test_safety_reply_survives_a_person_quoting_its_words() -> None:
    text = "should I call 911 or go to the nearest emergency room now"
    decision = decide(analysis(text, signals=frozenset({Signal.EMERGENCY})), "m1", ANSWERS)
    assert decision.reply == templates.EMERGENCY_REPLY


def test_emergency_reply_is_still_withheld_if_it_would_repeat_an_entity() -> None:
    text = "help, Crisis Lifeline is my name"
    name = Entity(type="PERSON", start=6, end=21, score=0.9)
    signals = frozenset({Signal.EMERGENCY})
    decision = decide(analysis(text, entities=(name,), signals=signals), "m1", ANSWERS)
    assert decision.action == "emergency"
    assert decision.reply is None


def test_spam_that_names_a_medicine_is_ignored_but_a_personal_one_is_not() -> None:
    signals = frozenset({Signal.SPAM, Signal.MEDICAL_ADVICE})
    promo = analysis("cheap meds no prescription needed", signals=signals)
    assert decide(promo, "m1", ANSWERS).action == "ignore"
    personal = Analysis(
        text="my meds, click here",
        entities=(),
        health=(),
        signals=signals,
        intent=IntentGuess(FALLBACK, 0.2),
        personal=True,
    )
    assert decide(personal, "m2", ANSWERS).action == "escalate"
