"""Answers to what a person pressed instead of writing: the welcome and FAQ buttons.

A button is `welcome` or `faq/<key>`, with `@<language>` when it names one (the
connectors map their platforms' payloads to this form). Its answer is approved content,
read as the live FAQ version says, with no NLP: a button carries no text of the person's.
"""

from __future__ import annotations

from collections.abc import Mapping

from nlu.models import Decision

WELCOME = "welcome"


def split_button(button: str) -> tuple[str, str | None]:
    """(`welcome` or the FAQ key, the language the button names or None)."""
    name, _, language = button.partition("@")
    return name.removeprefix("faq/"), language or None


def button_decision(
    message_id: str,
    button: str,
    language: str,
    *,
    answers: Mapping[str, str],
    welcome: Mapping[str, str],
    version: str,
) -> Decision | None:
    """The reply a button gets in `language` (`answers` are that language's FAQ answers);
    None when the content has no such answer, so that its title is triaged instead."""
    key, _ = split_button(button)
    if key == WELCOME:
        text, intent = welcome.get(language), None
    else:
        text, intent = answers.get(key), key
    if text is None:
        return None
    return Decision(
        id=message_id,
        action="reply",
        intent=intent,
        confidence=1.0,
        reasons=[f"button:{'welcome' if intent is None else 'faq'}"],
        reply=text,
        faq_version=version,
        language=language,
    )
