"""Wording signals: tables of messages that must and must not raise each signal."""

from __future__ import annotations

import pytest

from nlu.crisis import assess
from nlu.languages import load_pack
from nlu.models import Signal
from nlu.signals import asks_for_advice, emergency_kinds, normalize_quotes, wording_signals

EMERGENCIES = [
    ("my husband is having a heart attack right now", "cardiac"),
    ("my dad's face is drooping and his speech is slurred", "stroke"),
    ("I can’t breathe", "breathing"),
    ("cant breathe help", "breathing"),
    ("my baby stopped breathing", "breathing"),
    ("she passed out and won't wake up", "unconscious"),
    ("he's unresponsive on the floor", "unconscious"),
    ("my son took a bunch of his adderall pills", "overdose"),
    ("toddler swallowed a battery", "overdose"),
    ("I think I overdosed", "overdose"),
    ("my friend OD'd", "overdose"),
    ("she is having a seizure", "seizure"),
    ("bleeding heavily and it won't stop", "bleeding"),
    ("his throat is closing up after a bee sting", "allergy"),
    ("someone has a gun in the lobby", "violence"),
    ("my boyfriend is going to hurt me", "violence"),
    ("we were in a car accident", "injury"),
    ("having crushing chest pain", "cardiac"),
    ("sharp chest pain going down my left arm", "cardiac"),
    ("THIS IS AN EMERGENCY", "general"),
    ("she fell and can't get up", "injury"),
    ("my friend took a bunch of xanax and isn't waking up", "overdose"),
    ("my boyfriend hit me and says he's coming back", "violence"),
    ("burned my hand really bad, the skin is white and peeling", "injury"),
]
# Self-harm is read by the crisis cues of the language packs (nlu/crisis.py).
SELF_HARM = [
    ("I don't want to live anymore", "en"),
    ("i dont want to be alive", "en"),
    ("thinking about killing myself", "en"),
    ("I want to die", "en"),
    ("there's no reason to live", "en"),
    ("i've been cutting myself again", "en"),
    ("feeling suicidal tonight", "en"),
    ("I'm going to end it all", "en"),
    ("quiero morir", "es"),
    ("i just want it all to stop", "en"),
    ("nobody would miss me. ive already written the notes", "en"),
    ("she says she's going to jump off the bridge", "en"),
]
NOT_EMERGENCIES = [
    "is chest tightness after running normal?",
    "what's the best way to kill time at the airport",
    "that was a stroke of luck",
    "my phone battery is dying",
    "how do I treat poison ivy",
    "when are visiting hours in the emergency department",
    "is the ER open 24 hours",
    "where do I park for the cardiology clinic",
    "is a fever of 100.4 dangerous for a newborn?",
    "what is the deadline to file taxes",
    "how long should I cook a turkey",
    "can you recommend a good shooting range",
]


@pytest.mark.parametrize(("text", "kind"), EMERGENCIES)
def test_possible_emergency_is_flagged_with_its_kind(text: str, kind: str) -> None:
    assert kind in emergency_kinds(normalize_quotes(text))


@pytest.mark.parametrize(("text", "language"), SELF_HARM)
def test_self_harm_is_a_crisis(text: str, language: str) -> None:
    crisis = assess(normalize_quotes(text).casefold(), load_pack(language))
    assert "self_harm" in crisis.kinds


@pytest.mark.parametrize("text", NOT_EMERGENCIES)
def test_idioms_and_routine_questions_are_not_emergencies(text: str) -> None:
    folded = normalize_quotes(text).casefold()
    assert not emergency_kinds(folded)
    assert not assess(folded, load_pack("en")).found


@pytest.mark.parametrize(
    "text",
    [
        "Is it ok to take Advil and Tylenol together?",
        "what are the side effects of metformin",
        "how much ibuprofen should I give my 4 year old",
        "should I be worried about a mole that changed color",
        "symptoms of strep throat?",
        "what does my a1c result mean",
        "can I drink coffee while on antibiotics",
    ],
)
def test_advice_requests_are_flagged(text: str) -> None:
    assert Signal.MEDICAL_ADVICE in wording_signals(text)


@pytest.mark.parametrize(
    "text",
    [
        "When are visiting hours?",
        "do i need a referral for physical therapy",
        "can I reschedule online or do I have to call",
        "Is parking free for visitors?",
        "How do I create a MyChart account?",
    ],
)
def test_routine_questions_are_not_advice_requests(text: str) -> None:
    assert Signal.MEDICAL_ADVICE not in wording_signals(text)


def test_weak_advice_cue_needs_a_question_or_advice_wording() -> None:
    assert asks_for_advice("my knee clicks, do I need surgery")
    assert not asks_for_advice("Knee surgery went well. Thank you all.")


@pytest.mark.parametrize(
    "text",
    [
        "Waited two hours past my appointment time. Terrible.",
        "The nurse was so rude",
        "Nobody returns calls at the billing office. Fed up.",
        "worst hospital ever, 1 star",
        "they lost my dad's hearing aids",
        "still haven't gotten my refund after 4 months",
        "the app crashes every single time, so frustrating",
        "the machine ate my ticket and nobody came to help",
    ],
)
def test_complaints_are_flagged(text: str) -> None:
    assert Signal.COMPLAINT in wording_signals(text)


@pytest.mark.parametrize(
    "text",
    [
        "Get rich quick!!! click here bit.ly/abc",
        "Buy followers cheap, DM me",
        "invest in bitcoin and double your profit, DM me",
        "Congratulations you've won a free iPhone, claim your prize",
        "cheap meds, no prescription needed, discreet shipping",
        "hot singles in your area want to chat",
    ],
)
def test_spam_is_flagged(text: str) -> None:
    assert Signal.SPAM in wording_signals(text)


@pytest.mark.parametrize("text", ["Do you take Cigna?", "thanks!!", "How do I become a volunteer?"])
def test_routine_messages_raise_no_signal(text: str) -> None:
    assert wording_signals(text) == frozenset()


@pytest.mark.parametrize(
    "text",
    ["CAN I SPEAK TO A REAL PERSON?!?!", "i want to talk to someone", "are you a bot?"],
)
def test_asking_for_a_person_is_flagged(text: str) -> None:
    assert Signal.HUMAN_REQUESTED in wording_signals(text)


@pytest.mark.parametrize(
    ("text", "advice"),
    [
        ("how safe is the shingles vaccine", True),
        ("are covid boosters really effective", True),
        ("how accurate are home pregnancy tests", True),
        ("how safe is the parking garage at night", False),
        ("where can i get the flu shot", False),
    ],
)
def test_how_safe_or_effective_a_treatment_is_is_a_medical_question(
    text: str, advice: bool
) -> None:
    assert (Signal.MEDICAL_ADVICE in wording_signals(text)) is advice


@pytest.mark.parametrize(
    "text", ["how often should a newborn eat", "how much should my 2 month old sleep"]
)
def test_caring_for_a_baby_is_a_medical_question(text: str) -> None:
    assert Signal.MEDICAL_ADVICE in wording_signals(text)
