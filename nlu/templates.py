"""Compliance-approved public texts that are not FAQ answers.

They never carry user text and never confirm anything about the person: no "your
appointment", no "your condition", not even that the writer is a patient.
"""

from __future__ import annotations

from typing import Final

ESCALATION_ACK: Final = (
    "Thanks for reaching out. To protect your privacy, please don't share personal or "
    "health details here. We've reached out to you privately so our team can help you "
    "securely."
)

EMERGENCY_REPLY: Final = (
    "If this is an emergency, call 911 or go to the nearest emergency room now. "
    "If you or someone you know is thinking about suicide or self-harm, call or text 988 "
    "(Suicide & Crisis Lifeline), any time. Our team has also been alerted."
)

FALLBACK_REPLY: Final = (
    "Thanks for your message! I can help with visiting hours, parking, directions, "
    "appointments, billing, opening hours, medical records, careers and vaccines. "
    "For anything else, please call us at (555) 010-2000."
)

# Sent in private (Messenger private reply, X DM), never in public.
PRIVATE_INVITE: Final = (
    "Hi, this is the Riverside Health team. We saw your message and would like to help. "
    "Please reply here and a member of our staff will follow up with you privately."
)

# Added to the private invite: the secure web chat, for people who prefer it.
PRIVATE_LINK: Final = "You can also write to us on our secure page: {url}"

ALL: Final = (ESCALATION_ACK, EMERGENCY_REPLY, FALLBACK_REPLY)
