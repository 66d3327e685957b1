"""The evaluation figures: confusion of expected against given action, and the case rate."""

from __future__ import annotations

from nlu.evaluation import score

CASES = [
    {"id": "1", "category": "faq", "accept": ["reply"], "intents": ["parking"], "text": "park?"},
    {"id": "2", "category": "faq", "accept": ["reply"], "intents": ["parking"], "text": "lot?"},
    {"id": "3", "category": "phi", "accept": ["escalate", "emergency"], "text": "mrn 1234567"},
    {"id": "4", "category": "emergency", "accept": ["emergency"], "text": "chest pain now"},
    {"id": "5", "category": "out_of_scope", "accept": ["reply", "ignore"], "text": "weather?"},
]
DECISIONS = {
    "1": {"action": "reply", "intent": "parking"},
    "2": {"action": "escalate"},
    "3": {"action": "reply", "intent": "parking"},
    "4": {"action": "emergency"},
    "5": {"action": "ignore"},
}


def test_confusion_counts_each_expected_against_given_action() -> None:
    result = score(CASES, DECISIONS)
    assert result.confusion == {
        "emergency": {"emergency": 1},
        "escalate/emergency": {"reply": 1},
        "reply": {"reply": 1, "escalate": 1},
        "reply/ignore": {"ignore": 1},
    }


def test_case_rate_is_the_share_of_messages_that_open_a_case() -> None:
    figures = score(CASES, DECISIONS).figures
    assert figures["case_rate"] == 0.4  # the escalated FAQ and the emergency
    assert figures["leaks"] == 1
    assert figures["over_escalation"] == 0.5


def test_a_missing_decision_shows_as_none() -> None:
    result = score(CASES[:1], {})
    assert result.confusion == {"reply": {"None": 1}}
    assert result.figures["missing"] == 1
    assert result.figures["case_rate"] == 0.0
