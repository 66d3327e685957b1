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
from nlu.faq import GUARD_CLASSES
from nlu.intents import FALLBACK
from nlu.languages import Templates, available
from nlu.models import Action, Analysis, Decision, IntentGuess, Priority, Signal

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


_IGNORE = _Route("ignore", None, None)
# Impersonal questions about a public-health topic, without advice asked: a template that
# points to the nurse line and trusted sources, no case (TRIAGE_GENERAL_HEALTH_REPLIES).
_PUBLIC_HEALTH = re.compile(
    r"\b(?:covid\w*|coronavirus|corona|pandemic\w*|epidemic\w*|outbreak\w*|flu|influenza|"
    r"vaccines?|vaccinat\w*|masks?|quarantin\w*|lockdowns?|social distancing|virus(?:es)?|"
    r"variants?|herd immunity|measles|rsv|cdc|who|public health|tests?|testing)\b",
    re.IGNORECASE,
)
GENERAL_HEALTH_MAX_WORDS = 25


def _escalate(texts: Templates, priority: Priority, reason: str | None = None) -> _Route:
    return _Route("escalate", priority, texts.escalation_ack, reason=reason)


def route(
    analysis: Analysis,
    identifiers: Sequence[str],
    answers: Mapping[str, str],
    *,
    general_health: bool = True,
) -> _Route:
    """Pick the action; the first rule that applies wins."""
    signals, guess = analysis.signals, analysis.intent
    texts = templates.for_language(analysis.language)
    voted = guess.name if guess.confidence >= GUARD_MIN_PROBABILITY else None
    if Signal.EMERGENCY in signals:
        reply = templates.safety_text(analysis.language, analysis.emergency_kinds)
        return _Route("emergency", "urgent", reply)
    # The classifier's "emergency" vote is an emergency when a symptom is named with it
    # ("worst headache of my life, all of a sudden"). Alone it is not an emergency signal:
    # on ordinary venting and counselling questions it fires far too often (nlu/README.md),
    # so a human looks first.
    if (
        voted == "emergency"
        and analysis.set_apart is None
        and any(h.type == "HEALTH_SYMPTOM" for h in analysis.health)
    ):
        reply = templates.safety_text(analysis.language, frozenset({"medical"}))
        return _Route("emergency", "urgent", reply, reason="emergency:classifier")
    if voted == "emergency":
        return _escalate(texts, "high", "possible_emergency:classifier")
    if identifiers or Signal.HEALTH_INFO in signals:
        return _escalate(texts, "high")
    if Signal.SPAM in signals and not analysis.personal and Signal.COMPLAINT not in signals:
        # "cheap meds, no prescription needed" names a medicine but is nobody's question.
        return _IGNORE
    if Signal.OTHER_LANGUAGE in signals:
        # A language we have no content for: a human reads it, whatever it says.
        return _escalate(texts, "normal", f"lang_unsupported:{analysis.language}")
    if Signal.MEDICAL_ADVICE in signals:
        if general_health and _impersonal_public_health(analysis):
            # A template, not FAQ content: it counts as the fallback family of answers.
            return _Route(
                "reply", None, texts.general_health, intent=FALLBACK, reason="general_health"
            )
        return _escalate(texts, "normal")
    if voted == "medical_advice":
        return _escalate(texts, "normal", "medical_advice:classifier")
    if Signal.COMPLAINT in signals:
        return _escalate(texts, "normal")
    if voted == "complaint":
        return _escalate(texts, "normal", "complaint:classifier")
    if Signal.HUMAN_REQUESTED in signals:
        return _escalate(texts, "normal")
    if Signal.SPAM in signals:
        return _IGNORE
    if voted == "spam":
        return _Route("ignore", None, None, reason="spam:classifier")
    if guess.name in answers:
        return _Route("reply", None, answers[guess.name], intent=guess.name)
    if guess.name in guard_free_keys(guess) and guess.name not in answers:
        # A routine question with no approved answer in this language: a human answers.
        return _escalate(texts, "normal", f"no_answer:{analysis.language}")
    if (
        analysis.health
        or guess.probability("medical_advice") >= FALLBACK_MEDICAL_PROBABILITY
        or len(_WORD.findall(analysis.text)) >= FALLBACK_MAX_WORDS
    ):
        return _escalate(texts, "normal", "needs_human")
    return _Route("reply", None, texts.fallback, intent=FALLBACK)


def guard_free_keys(guess: IntentGuess) -> frozenset[str]:
    """FAQ keys the classifier knows (its ranking), guard classes and the fallback excluded."""
    return frozenset(name for name, _ in guess.ranking) - _NOT_FAQ


_NOT_FAQ = frozenset({*GUARD_CLASSES, FALLBACK})


def _impersonal_public_health(analysis: Analysis) -> bool:
    """A short, impersonal question about a public-health topic ("are covid tests accurate")."""
    return (
        not analysis.personal
        and not analysis.entities
        and bool(_PUBLIC_HEALTH.search(analysis.text))
        and len(_WORD.findall(analysis.text)) <= GENERAL_HEALTH_MAX_WORDS
        and not analysis.health
    )


def decide(
    analysis: Analysis,
    message_id: str,
    answers: Mapping[str, str],
    faq_version: str | None = None,
    *,
    general_health: bool = True,
) -> Decision:
    """Decide what to do with one public message; `answers` are in the message's language."""
    identifiers = sorted(
        {
            e.type
            for e in analysis.entities
            if e.type in IDENTIFIER_TYPES and e.score >= IDENTIFIER_MIN_SCORE
        }
    )
    reasons = [f"phi:{kind}" for kind in identifiers]
    reasons += [str(s) for s in sorted(analysis.signals)]
    reasons += [f"emergency:{kind}" for kind in sorted(analysis.emergency_kinds)]
    reasons += [f"crisis:{group}" for group in analysis.crisis_cues]
    if analysis.set_apart:
        reasons.append(f"set_apart:{analysis.set_apart}")
    chosen = route(analysis, identifiers, answers, general_health=general_health)
    if chosen.reason:
        reasons.append(chosen.reason)
    reasons.append(f"lang:{analysis.language}")
    texts = templates.for_language(analysis.language)
    if chosen.reply is not None and not outbound_check(chosen.reply, analysis):
        # The approved text would repeat something the person wrote: say less.
        reasons.append("outbound_check")
        if chosen.action == "reply":
            chosen = _escalate(texts, "normal")
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
        faq_version=faq_version if chosen.action == "reply" and chosen.intent else None,
        language=analysis.language,
    )


def outbound_check(reply: str, analysis: Analysis) -> bool:
    """False when a public text would repeat anything identifying from the message.

    Refused: the text of any detected entity or health term, any number of four or more
    digits from the message, and any run of six or more consecutive words copied from it.
    Safety replies are fixed texts chosen by the kind of emergency, not by the words: the
    health terms they name ("suicide", "poison") and words copied from them ("go to the
    nearest emergency room") must never suppress one. Identifiers still refuse them.
    """
    safety = reply in _SAFETY_TEXTS
    folded = reply.casefold()
    text = analysis.text
    # Our own published address may appear in both: it identifies nobody.
    public = [(e.start, e.end) for e in analysis.entities if e.type == FACILITY_ADDRESS]
    for span in analysis.entities if safety else (*analysis.entities, *analysis.health):
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
    if len(words) >= _MIN_COPIED_WORDS and not safety:
        reply_words = " " + " ".join(w.casefold() for w in _WORD.findall(reply)) + " "
        for i in range(len(words) - _MIN_COPIED_WORDS + 1):
            if " " + " ".join(words[i : i + _MIN_COPIED_WORDS]) + " " in reply_words:
                return False
    return True


_SAFETY_TEXTS = frozenset(
    text
    for code in available()
    for text in templates.for_language(code).safety.model_dump().values()
)


def _only_digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())
