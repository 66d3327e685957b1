"""Every Redis key name triagebot uses, in one place."""

from __future__ import annotations

PREFIX = "triage"
# Platforms retry webhooks for up to a day; remember ids for a week.
DEDUPE_TTL_S = 7 * 24 * 3600

# Stream of durable receipts (encrypted messages) consumed by the triage workers.
INBOX = f"{PREFIX}:inbox"
INBOX_GROUP = "triage-workers"
# Stream of escalated and emergency messages (encrypted) waiting for the human queue.
ESCALATIONS = f"{PREFIX}:escalations"


def seen(platform: str, message_id: str) -> str:
    """Set once when a platform message is first recorded (dedupe of redeliveries)."""
    return f"{PREFIX}:seen:{platform}:{message_id}"


def message_decision(channel: str, message_id: str) -> str:
    """The first Decision made for a message (no message text: types and offsets only)."""
    return f"{PREFIX}:msg:{channel}:{message_id}"


def actions(platform: str, message_id: str) -> str:
    """Hash of outbound action index -> pending / sent / failed:<status>."""
    return f"{PREFIX}:actions:{platform}:{message_id}"


def escalated(platform: str, message_id: str) -> str:
    """Set once when a message has been handed to the human queue."""
    return f"{PREFIX}:escalated:{platform}:{message_id}"
