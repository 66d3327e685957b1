"""Compliance-approved public texts that are not FAQ answers, per language.

They never carry user text and never confirm anything about the person: no "your
appointment", no "your condition", not even that the writer is a patient. The texts live
in the language packs (nlu/languages/<code>/pack.yml); the English ones are also named
here for the code that only ever speaks English (tests, the Rasa actions' defaults).
"""

from __future__ import annotations

from typing import Final

from nlu.languages import LanguageError, LanguagePack, Templates, load_pack

DEFAULT_LANGUAGE: Final = "en"
# Precedence of emergency kinds for the one safety text a message gets: an overdose text
# names 911, Poison Control and 988; a self-harm text 988 first; then danger from others.
_KIND_ORDER: Final = ("overdose", "self_harm", "violence")
_MEDICAL: Final = frozenset(
    {
        "cardiac", "stroke", "breathing", "allergy", "unconscious", "seizure", "bleeding",
        "injury", "pregnancy", "medical",
    }
)  # fmt: skip


def pack(language: str | None) -> LanguagePack:
    """The language pack for a code, English for None or a language without a pack."""
    try:
        return load_pack(language or DEFAULT_LANGUAGE)
    except LanguageError:
        return load_pack(DEFAULT_LANGUAGE)


def for_language(language: str | None) -> Templates:
    """The templates of one language (English when it has none)."""
    return pack(language).templates


def safety_kind(kinds: frozenset[str] | set[str]) -> str:
    """The kind whose safety text a message with these emergency kinds gets."""
    for kind in _KIND_ORDER:
        if kind in kinds:
            return kind
    return "medical" if kinds & _MEDICAL else "general"


def kinds_of(reasons: list[str] | tuple[str, ...]) -> frozenset[str]:
    """The emergency kinds named in a Decision's reasons (`emergency:<kind>`)."""
    return frozenset(r.split(":", 1)[1] for r in reasons if r.startswith("emergency:"))


def safety_text(language: str | None, kinds: frozenset[str] | set[str]) -> str:
    """The safety reply for these kinds of emergency, in the language."""
    return pack(language).safety_text(safety_kind(kinds))


_EN = for_language(DEFAULT_LANGUAGE)
ESCALATION_ACK: Final = _EN.escalation_ack
EMERGENCY_REPLY: Final = _EN.safety.general
FALLBACK_REPLY: Final = _EN.fallback
GENERAL_HEALTH_REPLY: Final = _EN.general_health
# Sent in private (Messenger private reply, X DM), never in public.
PRIVATE_INVITE: Final = _EN.private_invite
# Added to the private invite: the secure web chat, for people who prefer it.
PRIVATE_LINK: Final = _EN.private_link


def all_public(language: str) -> tuple[str, ...]:
    """Every template that may be posted in public in one language."""
    texts = for_language(language)
    safety = texts.safety
    return (
        texts.escalation_ack,
        texts.fallback,
        texts.general_health,
        safety.self_harm,
        safety.overdose,
        safety.violence,
        safety.medical,
        safety.general,
    )


ALL: Final = all_public(DEFAULT_LANGUAGE)
