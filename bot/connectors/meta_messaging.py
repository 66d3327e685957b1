"""Messenger and Instagram `messaging` events: messages, edits, quick replies, postbacks
and referrals, each read into one InboundMessage or named as a kind that is not triaged.

What a person pressed is mapped to `InboundMessage.button` by one documented convention
(README, "Buttons"): the Get Started payload (a setting, `GET_STARTED` by default) is the
welcome; `faq/<key>` or `FAQ_<KEY>` names an FAQ intent; either may end in `@<language>`
(`faq/parking@es`). An m.me link's `ref` follows the same convention, and any other ref is
the welcome. A payload the convention does not know is triaged by the button's title.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Final

from bot.connectors.base import InboundMessage, ItemProblem, MessageKind, SkipReason
from bot.connectors.meta_items import graph_id, json_object, meta_message, optional_str

DEFAULT_GET_STARTED: Final = "GET_STARTED"
WELCOME: Final = "welcome"
_FAQ = re.compile(r"(?:faq/|FAQ_)([A-Za-z][A-Za-z0-9_]{0,80})")
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}")
# Events with nothing to triage, by the key that names them: counted, never silent.
_NOT_TRIAGED: Final = {
    "delivery": "delivery",
    "read": "read",
    "reaction": "reaction",
    "optin": "optin",
    "account_linking": "account_linking",
    "pass_thread_control": "handover",
    "take_thread_control": "handover",
    "request_thread_control": "handover",
    "policy_enforcement": "policy",
}


def button_of(payload: str, get_started: str) -> str | None:
    """The normalized button a payload names (`welcome`, `faq/<key>`, `…@<language>`),
    or None when it follows no convention of ours."""
    name, at, language = payload.strip().rpartition("@")
    if not at or _LANGUAGE.fullmatch(language) is None:
        name, language = payload.strip(), ""
    suffix = f"@{language.lower()}" if language else ""
    if name == get_started:
        return WELCOME + suffix
    match = _FAQ.fullmatch(name)
    if match is not None:
        return f"faq/{match.group(1).lower()}{suffix}"
    return None


def messaging_item(
    network: str,
    account: str,
    event: dict[str, object],
    where: str,
    *,
    ours: Collection[str | None],
    get_started: str,
) -> InboundMessage | str:
    """The message in one `messaging` event, or the kind of event it is when it is not one
    to triage (an echo of ours, a receipt, a reaction…)."""
    for key, kind in _NOT_TRIAGED.items():
        if key in event:
            return kind
    if "postback" in event:
        return _pressed(
            network, account, event, where, "postback", ours=ours, get_started=get_started
        )
    if "referral" in event:
        return _pressed(
            network, account, event, where, "referral", ours=ours, get_started=get_started
        )
    # Messenger and Instagram send an edit as `message_edit` {mid, text, num_edit}.
    name = "message_edit" if "message_edit" in event else "message"
    if name not in event:
        return "other_event"
    body = json_object(event[name], f"{where}.{name}")
    if body.get("is_echo") is True:
        return "echo"  # our own outgoing message, mirrored back
    button = None
    quick = body.get("quick_reply")
    if isinstance(quick, dict):
        payload = optional_str(quick.get("payload"), f"{where}.{name}.quick_reply.payload")
        button = button_of(payload, get_started) if payload else None
    text = optional_str(body.get("text"), f"{where}.{name}.text")
    if not text and button is None:
        return "no_text"  # attachments only
    sender_id = _sender(event, where)
    if sender_id in (account, *ours):
        return "own"
    mid = body.get("mid")
    if not isinstance(mid, str) or not mid:
        reason = SkipReason.MISSING if mid is None else SkipReason.WRONG_TYPE
        raise ItemProblem(f"{where}.{name}.mid", reason, "must be a non-empty string")
    return meta_message(
        where=where,
        message_id=mid,
        kind=MessageKind.DIRECT,
        author_id=sender_id,
        text=text or "",
        thread_id=sender_id,
        account_id=f"{network}:{account}",
        author_name=None,
        edited=name == "message_edit",
        button=button,
    )


def _pressed(
    network: str,
    account: str,
    event: dict[str, object],
    where: str,
    name: str,
    *,
    ours: Collection[str | None],
    get_started: str,
) -> InboundMessage | str:
    """A postback (a button, Get Started, a menu item) or a referral (an m.me link)."""
    body = json_object(event[name], f"{where}.{name}")
    sender_id = _sender(event, where)
    if sender_id in (account, *ours):
        return "own"
    if name == "postback":
        payload = optional_str(body.get("payload"), f"{where}.postback.payload") or ""
        title = optional_str(body.get("title"), f"{where}.postback.title") or ""
        referral = body.get("referral")
    else:
        payload, title, referral = "", "", body
    button = button_of(payload, get_started) if payload else None
    if button is None and isinstance(referral, dict):
        ref = optional_str(referral.get("ref"), f"{where}.{name}.ref")
        # Whoever follows our m.me link is welcomed, unless its ref names an FAQ.
        button = (button_of(ref, get_started) if ref else None) or WELCOME
    if button is None and not title.strip():
        return "unknown_payload"
    # Referrals carry no mid: the sender and the time name them, so a redelivery dedupes.
    mid = body.get("mid")
    if isinstance(mid, str) and mid:
        message_id = mid
    else:
        stamp = event.get("timestamp")
        if isinstance(stamp, bool) or not isinstance(stamp, int | str) or not str(stamp).isdigit():
            raise ItemProblem(f"{where}.timestamp", SkipReason.MISSING, "needed without a mid")
        message_id = f"{name}-{sender_id}-{stamp}"
    return meta_message(
        where=where,
        message_id=message_id,
        kind=MessageKind.DIRECT,
        author_id=sender_id,
        text=title,
        thread_id=sender_id,
        account_id=f"{network}:{account}",
        author_name=None,
        button=button,
    )


def _sender(event: dict[str, object], where: str) -> str:
    sender = json_object(event.get("sender"), f"{where}.sender")
    return graph_id(sender.get("id"), f"{where}.sender.id")
