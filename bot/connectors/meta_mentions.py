"""Instagram `mentions`: the account tagged in someone else's comment or caption.

The webhook carries only ids (`{media_id, comment_id?}`), so intake records the receipt
and the worker fetches the text through the mentioned_comment / mentioned_media fields.
Answers go through `POST /{ig-user-id}/mentions`, the one way to comment there. The
comment is on someone else's media: it cannot be hidden, and no private reply is offered
for it, so a sensitive mention gets no public answer at all and goes to a case.
"""

from __future__ import annotations

import json
from typing import Final

from pydantic import ValidationError

from bot.connectors.base import ActionKind, InboundMessage, MessageKind, OutboundAction
from bot.connectors.meta_items import graph_id, json_object, meta_message, optional_str

# Until the worker fetches it, a mention's author is unknown.
UNKNOWN_AUTHOR: Final = "unknown"


def mention_item(account: str, value: dict[str, object], where: str) -> InboundMessage:
    """The mention in one `mentions` change, to be fetched by the worker."""
    media_id = graph_id(value.get("media_id"), f"{where}.value.media_id")
    comment = value.get("comment_id")
    # Tagged in a caption: the media is the message.
    comment_id = media_id if comment is None else graph_id(comment, f"{where}.value.comment_id")
    return meta_message(
        where=where,
        message_id=comment_id,
        kind=MessageKind.MENTION,
        author_id=UNKNOWN_AUTHOR,
        text="",
        thread_id=media_id,
        account_id=f"ig:{account}",
        author_name=None,
        fetch=True,
    )


def fetch_query(account: str, message: InboundMessage) -> tuple[str, dict[str, str]]:
    """The Graph path and query that read a mention's text and author."""
    if message.message_id == message.thread_id:
        field = f"mentioned_media.media_id({message.message_id}){{caption,username,timestamp}}"
    else:
        field = f"mentioned_comment.comment_id({message.message_id}){{text,username,timestamp}}"
    return account, {"fields": field}


def fetched(message: InboundMessage, raw: bytes) -> InboundMessage | None:
    """The mention with the text and author Graph returned; None when it has no text."""
    try:
        payload: object = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(payload, dict):
        return None
    name = "mentioned_media" if message.message_id == message.thread_id else "mentioned_comment"
    try:
        found = json_object(payload.get(name), name)
        text = optional_str(found.get("caption" if name == "mentioned_media" else "text"), name)
        username = optional_str(found.get("username"), f"{name}.username")
    except ValueError:
        return None
    if not text:
        return None  # a photo without a caption: nothing to read
    update = {"text": text, "author_id": username or UNKNOWN_AUTHOR, "author_name": username}
    try:
        return InboundMessage.model_validate({**message.model_dump(), **update, "fetch": False})
    except ValidationError:
        return None


def mention_reply(message: InboundMessage, text: str) -> OutboundAction:
    """A public answer under the mention."""
    return OutboundAction(
        kind=ActionKind.MENTION_REPLY,
        platform=message.platform,
        target_id=message.message_id,
        text=text,
        account_id=message.account_id,
        thread_id=message.thread_id,
    )


def mention_request(account: str, action: OutboundAction, text: str) -> tuple[str, object]:
    """The Graph path and body of a reply to a mention (`comment_id` only for a comment)."""
    media = action.thread_id or action.target_id
    body: dict[str, str] = {"media_id": media, "message": text}
    if action.target_id != media:
        body["comment_id"] = action.target_id
    return f"{account}/mentions", body
