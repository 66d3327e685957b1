"""The triage policy: a pure function from an Analysis to a Decision.

Order of precedence: emergency > PHI / medical advice > complaint > spam > FAQ answer.
Public texts come only from approved templates and FAQ answers, and every one of them
passes `outbound_check` before it is returned.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nlu import templates
from nlu.intents import FALLBACK
from nlu.models import Action, Analysis, Decision, Priority, Signal

# Identifiers that take a message out of public view on their own.
IDENTIFIER_TYPES = frozenset(
    {
        "US_SSN",
        "MEDICAL_RECORD_NUMBER",
        "MEMBER_ID",
        "MEDICARE_MBI",
        "DATE_OF_BIRTH",
        "ROOM_NUMBER",
        "PHONE_NUMBER",
        "EMAIL_ADDRESS",
        "STREET_ADDRESS",
        "ZIP_CODE",
        "CREDIT_CARD",
        "IBAN_CODE",
        "IP_ADDRESS",
        "US_DRIVER_LICENSE",
        "US_PASSPORT",
        "US_BANK_NUMBER",
        "US_ITIN",
        "ID_NUMBER",
        "PERSON",
    }
)
# Below this score an entity (e.g. a bare name the NER model guessed) is kept out of
# replies but does not escalate by itself.
IDENTIFIER_MIN_SCORE = 0.6
# Classifier-only guard decisions need this much probability.
GUARD_MIN_PROBABILITY = 0.5
# A message the FAQ cannot answer goes to a human rather than the fallback reply when it
# leans medical this much, names any health term, or is this long (a personal story).
FALLBACK_MEDICAL_PROBABILITY = 0.15
FALLBACK_MAX_WORDS = 30
# Health-term kinds that make the classifier's "emergency" vote an emergency.
_ACUTE = frozenset({"HEALTH_SYMPTOM", "HEALTH_CONDITION"})
_MIN_COPIED_WORDS = 6
# The engine's type for addresses the FAQ itself publishes (the campus address).
FACILITY_ADDRESS = "FACILITY_ADDRESS"
_WORD = re.compile(r"\w+")
_DIGITS = re.compile(r"\d[\d\s().\-/]*\d")


@dataclass(frozen=True, slots=True)
class _Route:
    action: Action
    priority: Priority | None
    reply: str | None
    intent: str | None = None
    reason: str | None = None


_EMERGENCY = _Route("emergency", "urgent", templates.EMERGENCY_REPLY)
_IGNORE = _Route("ignore", None, None)


def _escalate(priority: Priority, reason: str | None = None) -> _Route:
    return _Route("escalate", priority, templates.ESCALATION_ACK, reason=reason)


def route(analysis: Analysis, identifiers: Sequence[str], answers: Mapping[str, str]) -> _Route:
    """Pick the action; the first rule that applies wins."""
    signals, guess = analysis.signals, analysis.intent
    voted = guess.name if guess.confidence >= GUARD_MIN_PROBABILITY else None
    if Signal.EMERGENCY in signals:
        return _EMERGENCY
    if voted == "emergency":
        # The classifier alone calls an emergency only when something acute is named;
        # otherwise a human looks first, at high priority.
        acute = any(h.type in _ACUTE for h in analysis.health)
        if acute:
            return _Route(
                "emergency", "urgent", templates.EMERGENCY_REPLY, reason="emergency:classifier"
            )
        return _escalate("high", "emergency:classifier")
    if identifiers or Signal.HEALTH_INFO in signals:
        return _escalate("high")
    if Signal.SPAM in signals and not analysis.personal and Signal.COMPLAINT not in signals:
        # "cheap meds, no prescription needed" names a medicine but is nobody's question.
        return _IGNORE
    if Signal.MEDICAL_ADVICE in signals:
        return _escalate("normal")
    if voted == "medical_advice":
        return _escalate("normal", "medical_advice:classifier")
    if Signal.OTHER_LANGUAGE in signals or Signal.COMPLAINT in signals:
        return _escalate("normal")
    if voted == "complaint":
        return _escalate("normal", "complaint:classifier")
    if Signal.HUMAN_REQUESTED in signals:
        return _escalate("normal")
    if Signal.SPAM in signals:
        return _IGNORE
    if voted == "spam":
        return _Route("ignore", None, None, reason="spam:classifier")
    if guess.name in answers:
        return _Route("reply", None, answers[guess.name], intent=guess.name)
    if (
        analysis.health
        or guess.probability("medical_advice") >= FALLBACK_MEDICAL_PROBABILITY
        or len(_WORD.findall(analysis.text)) >= FALLBACK_MAX_WORDS
    ):
        return _escalate("normal", "needs_human")
    return _Route("reply", None, templates.FALLBACK_REPLY, intent=FALLBACK)


def decide(
    analysis: Analysis,
    message_id: str,
    answers: Mapping[str, str],
    faq_version: str | None = None,
) -> Decision:
    """Decide what to do with one public message."""
    identifiers = sorted(
        {
            e.type
            for e in analysis.entities
            if e.type in IDENTIFIER_TYPES and e.score >= IDENTIFIER_MIN_SCORE
        }
    )
    reasons = [f"phi:{kind}" for kind in identifiers]
    reasons += [str(s) for s in sorted(analysis.signals)]
    chosen = route(analysis, identifiers, answers)
    if chosen.reason:
        reasons.append(chosen.reason)
    if chosen.reply is not None and not outbound_check(chosen.reply, analysis):
        # The approved text would repeat something the person wrote: say less.
        reasons.append("outbound_check")
        if chosen.action == "reply":
            chosen = _escalate("normal")
        if chosen.reply is not None and not outbound_check(chosen.reply, analysis):
            chosen = _Route(chosen.action, chosen.priority, None)

    return Decision(
        id=message_id,
        action=chosen.action,
        intent=chosen.intent,
        confidence=analysis.intent.confidence,
        priority=chosen.priority,
        reasons=reasons,
        entities=[*analysis.entities, *analysis.health],
        reply=chosen.reply,
        faq_version=faq_version if chosen.action == "reply" else None,
    )


def outbound_check(reply: str, analysis: Analysis) -> bool:
    """False when a public text would repeat anything identifying from the message.

    Refused: the text of any detected entity or health term, any number of four or more
    digits from the message, and any run of six or more consecutive words copied from it.
    The emergency reply is exempt from the copied-words rule only: "go to the nearest
    emergency room" written by the person must not suppress the safety reply.
    """
    folded = reply.casefold()
    text = analysis.text
    # Our own published address may appear in both: it identifies nobody.
    public = [(e.start, e.end) for e in analysis.entities if e.type == FACILITY_ADDRESS]
    for span in (*analysis.entities, *analysis.health):
        value = text[span.start : span.end].strip().casefold()
        if span.type != FACILITY_ADDRESS and len(value) >= 2 and value in folded:
            return False
    reply_digits = {_only_digits(m.group()) for m in _DIGITS.finditer(reply)}
    for match in _DIGITS.finditer(text):
        if any(start <= match.start() and match.end() <= end for start, end in public):
            continue
        digits = _only_digits(match.group())
        if len(digits) >= 4 and any(digits in d for d in reply_digits):
            return False
    words = [w.casefold() for w in _WORD.findall(text)]
    if len(words) >= _MIN_COPIED_WORDS and reply != templates.EMERGENCY_REPLY:
        reply_words = " " + " ".join(w.casefold() for w in _WORD.findall(reply)) + " "
        for i in range(len(words) - _MIN_COPIED_WORDS + 1):
            if " " + " ".join(words[i : i + _MIN_COPIED_WORDS]) + " " in reply_words:
                return False
    return True


def _only_digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())
