"""Every Redis key name triagebot uses, in one place."""

from __future__ import annotations

PREFIX = "triage"
# Platforms retry webhooks for up to a day; remember ids for a week.
DEDUPE_TTL_S = 7 * 24 * 3600


def message_decision(channel: str, message_id: str) -> str:
    """The first Decision made for a platform message (dedupe record; no message text)."""
    return f"{PREFIX}:msg:{channel}:{message_id}"
