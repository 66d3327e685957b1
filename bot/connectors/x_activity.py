"""X Activity API (XAA): its webhook envelope read into the same messages as Account Activity.

X ends the Account Activity API (AAA) on 1 January 2027. XAA posts one event per request to
the same webhook, with the same CRC and signature, as `{"data": {event_uuid, filter,
event_type, tag, payload, includes}}` (X's docs show no body with several events). The
objects both formats carry (DM events) and the per-item error reporting live here, so that
bot.connectors.x keeps only what AAA alone needs and can lose it in one piece.

Shapes follow X's docs; fixtures/x/xaa/README.md names the page each one came from.
"""

from __future__ import annotations

import logging
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from bot.connectors.base import InboundMessage, ItemProblem, MessageKind, SkipReason

log = logging.getLogger("triagebot.x")

MALFORMED = "malformed X webhook body"
XId = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,20}$")]

MENTION = "post.mention.create"
REPLY = "post.reply.create"
QUOTE = "post.quote.create"
DM_RECEIVED = "dm.received"
# What the bot triages, and so what `triagebot x subscribe` asks X to deliver.
TRIAGED_EVENTS = (MENTION, REPLY, QUOTE, DM_RECEIVED)

# Events that may reach the webhook (a managed migration copies every AAA activity) and are
# knowingly not triaged. Each is logged with its reason: nothing is dropped without a trace.
_NOT_TRIAGED = {
    "post.create": "a post by the subscribed account",
    # X sends it for the subscribed account's own posts only, never for a post written to
    # us, so there is no pending reply it could cancel.
    "post.delete": "a deleted post of the account",
    "post.repost.create": "a repost",
    "dm.sent": "a DM the account sent",
    "dm.read": "a read receipt",
    "dm.indicate_typing": "a typing indicator",
    "like.create": "a like",
    "follow.follow": "a follow",
    "follow.unfollow": "an unfollow",
}
# Not triaged either, but someone should know.
_NEEDS_ATTENTION = {
    "oauth.revoke": "the app's access was revoked: replies and DMs will fail",
    "chat.received": "an encrypted XChat message, which the bot cannot read",
}


class XObject(BaseModel):
    """An object X sends; X adds fields over time, so only the ones read here are checked."""

    model_config = ConfigDict(extra="ignore", frozen=True)


# --- Direct messages: the same objects in both formats --------------------------------------


class Target(XObject):
    """Who a DM was sent to."""

    recipient_id: XId


class MessageData(XObject):
    """What a DM says."""

    text: str


class MessageCreate(XObject):
    """A DM being sent."""

    sender_id: XId
    target: Target
    message_data: MessageData


class DirectMessageEvent(XObject):
    """One entry of `direct_message_events`."""

    type: str
    # Optional here so that event types we skip may have other shapes; checked when read.
    id: XId | None = None
    message_create: MessageCreate | None = None


def item_problem(error: ValidationError, where: str, model: type[BaseModel]) -> ItemProblem:
    """An item's validation error as a problem that names fields, never values."""
    first = error.errors()[0]
    kind = first["type"]
    if kind == "missing":
        reason = SkipReason.MISSING
    elif kind.endswith("_type"):
        reason = SkipReason.WRONG_TYPE
    else:
        reason = SkipReason.BAD_VALUE
    # Only a field name of our own model: a dict key in `loc` would be the sender's text.
    field = first["loc"][0] if first["loc"] else None
    if isinstance(field, str) and field in model.model_fields:
        where = f"{where}.{field}"
    return ItemProblem(where, reason)


def direct_message(
    platform: str, event: DirectMessageEvent, account: str | None, author_name: str | None
) -> InboundMessage:
    """The message a `message_create` DM event carries; ItemProblem when it is incomplete."""
    if event.id is None:
        raise ItemProblem("id", SkipReason.MISSING)
    if event.message_create is None:
        raise ItemProblem("message_create", SkipReason.MISSING)
    sender = event.message_create.sender_id
    try:
        return InboundMessage(
            platform=platform,
            message_id=event.id,
            kind=MessageKind.DIRECT,
            author_id=sender,
            text=event.message_create.message_data.text,
            thread_id=sender,
            account_id=account,
            author_name=author_name,
        )
    except ValidationError as error:
        raise item_problem(error, "message", InboundMessage) from None


def screen_name(users: dict[str, object], user_id: str) -> str | None:
    """The name of a DM's sender from the `users` map; an entry X sent wrong costs only it."""
    try:
        return _User.model_validate(users.get(user_id)).unwrapped().username
    except ValidationError:
        return None


# --- The XAA envelope and its payloads ------------------------------------------------------


class _User(XObject):
    id: XId | None = None
    username: str | None = Field(default=None, max_length=50)
    # post.delete and the DM events' `users` map wrap each user in "data"; posts do not.
    data: _User | None = None

    def unwrapped(self) -> _User:
        return self.data if self.data is not None else self


class _Includes(XObject):
    users: list[_User] = Field(default_factory=list)


class _Filter(XObject):
    user_id: XId | None = None


class _Reference(XObject):
    type: str
    id: XId


class _NoteTweet(XObject):
    text: str


class _Post(XObject):
    id: XId
    text: str
    author_id: XId
    in_reply_to_tweet_id: XId | None = None
    referenced_tweets: list[_Reference] = Field(default_factory=list)
    # Posts over 280 characters: `text` is cut, the whole text is here.
    note_tweet: _NoteTweet | None = None


class _DirectMessages(XObject):
    # Each event and user is read on its own, so one bad event costs only itself.
    direct_message_events: list[object]
    users: dict[str, object] = Field(default_factory=dict)


class ActivityEvent(XObject):
    """The envelope of one XAA event."""

    # Signed 64-bit numbers in X's samples; only ever logged, so a tame shape is enough.
    event_uuid: str = Field(pattern=r"^[0-9A-Za-z-]{1,64}$")
    filter: _Filter = Field(default_factory=_Filter)
    event_type: str = Field(pattern=r"^[a-z_.]{1,64}$")
    tag: str | None = Field(default=None, max_length=200)
    payload: dict[str, object] = Field(default_factory=dict)
    includes: _Includes | None = None


def activity_delivery(
    body: dict[str, object], account_id: str | None, platform: str
) -> tuple[list[InboundMessage], list[ItemProblem]]:
    """Messages to triage in an XAA body, and the problems of the items that cannot be used."""
    # Every sample in X's docs is wrapped in "data"; a bare envelope is read too rather than
    # taken for an AAA body with nothing in it (which would be a silent drop).
    raw, where = (body["data"], "data") if "data" in body else (body, "event")
    try:
        event = ActivityEvent.model_validate(raw)
    except ValidationError as error:
        return [], [item_problem(error, where, ActivityEvent)]
    return activity_messages(event, account_id, platform, where)


def activity_messages(
    event: ActivityEvent, account_id: str | None, platform: str, where: str = "data"
) -> tuple[list[InboundMessage], list[ItemProblem]]:
    """Messages to triage in one XAA event, and the problems of its unusable items.

    A post or DM has the same id in both formats, so the receipt's dedupe on that id (not on
    `event_uuid`, which AAA lacks) also catches one mention delivered by AAA and by XAA, or as
    both a mention and a reply; a redelivered XAA event carries the same ids again.
    """
    account = event.filter.user_id or account_id
    ours = {i for i in (event.filter.user_id, account_id) if i is not None}
    if event.event_type in (MENTION, REPLY, QUOTE):
        try:
            post = _Post.model_validate(event.payload)
            message = _post_message(event, post, ours, account, platform)
        except ValidationError as error:
            return [], [item_problem(error, f"{where}.payload", _Post)]
        return ([message] if message is not None else []), []
    if event.event_type == DM_RECEIVED:
        try:
            dms = _DirectMessages.model_validate(event.payload)
        except ValidationError as error:
            return [], [item_problem(error, f"{where}.payload", _DirectMessages)]
        return _direct_messages(event, dms, ours, account, platform, where=f"{where}.payload")
    if event.event_type in _NEEDS_ATTENTION:
        _not_triaged(event, _NEEDS_ATTENTION[event.event_type], logging.WARNING)
    elif event.event_type in _NOT_TRIAGED:
        _not_triaged(event, _NOT_TRIAGED[event.event_type])
    else:
        _not_triaged(event, "an event type the bot does not triage", logging.WARNING)
    return [], []


def ignored_kind(body: dict[str, object]) -> str:
    """The kind an XAA body that held nothing to triage is counted as: its event type when
    it is one X documents (a bounded label), else `other_event`."""
    raw = body.get("data", body)
    kind = raw.get("event_type") if isinstance(raw, dict) else None
    known = {MENTION, REPLY, QUOTE, DM_RECEIVED, *_NOT_TRIAGED, *_NEEDS_ATTENTION}
    return kind if isinstance(kind, str) and kind in known else "other_event"


def _post_message(
    event: ActivityEvent, post: _Post, ours: set[str], account: str | None, platform: str
) -> InboundMessage | None:
    if post.author_id in ours:
        _not_triaged(event, "a post by the account itself")
        return None
    if any(ref.type == "retweeted" for ref in post.referenced_tweets):
        _not_triaged(event, "a repost")
        return None
    replied_to = next((r.id for r in post.referenced_tweets if r.type == "replied_to"), None)
    users = [u.unwrapped() for u in event.includes.users] if event.includes is not None else []
    author = next((u.username for u in users if u.id == post.author_id), None)
    return InboundMessage(
        platform=platform,
        message_id=post.id,
        kind=MessageKind.MENTION,
        author_id=post.author_id,
        text=post.note_tweet.text if post.note_tweet is not None else post.text,
        # As for AAA: the post it answers, so that replies under our posts can be hidden.
        thread_id=post.in_reply_to_tweet_id or replied_to or post.id,
        account_id=account,
        author_name=author,
    )


def _direct_messages(
    event: ActivityEvent,
    dms: _DirectMessages,
    ours: set[str],
    account: str | None,
    platform: str,
    *,
    where: str,
) -> tuple[list[InboundMessage], list[ItemProblem]]:
    messages, problems = [], []
    for number, raw in enumerate(dms.direct_message_events):
        item = f"{where}.direct_message_events[{number}]"
        try:
            dm = DirectMessageEvent.model_validate(raw)
        except ValidationError as error:
            problems.append(item_problem(error, item, DirectMessageEvent))
            continue
        if dm.type != "message_create":
            _not_triaged(event, f"a DM event of type {dm.type[:40]!r}")
            continue
        if dm.message_create is not None and dm.message_create.sender_id in ours:
            _not_triaged(event, "a DM the account sent")
            continue
        sender = dm.message_create.sender_id if dm.message_create is not None else ""
        try:
            messages.append(direct_message(platform, dm, account, screen_name(dms.users, sender)))
        except ItemProblem as problem:
            problems.append(ItemProblem(f"{item}.{problem.where}", problem.reason))
    return messages, problems


def _not_triaged(event: ActivityEvent, reason: str, level: int = logging.INFO) -> None:
    # Types, ids and the reason only: never the payload.
    log.log(
        level,
        "X %s event %s not triaged: %s",
        event.event_type,
        event.event_uuid,
        reason,
        extra={"event_type": event.event_type, "event_uuid": event.event_uuid, "reason": reason},
    )
