"""Reading one item of a Meta delivery: typed fields, or an ItemProblem that names where.

Shared by the Meta connector's parts (comments, messaging, mentions). A problem names the
place and the reason, never the content, which may carry PHI.
"""

from __future__ import annotations

import re
from typing import Final

from pydantic import ValidationError

from bot.connectors.base import InboundMessage, ItemProblem, MessageKind, SkipReason

PLATFORM: Final = "meta"
# Ids end up in URL paths; anything outside Graph's id alphabet could rewrite the path.
GRAPH_ID: Final = re.compile(r"[0-9A-Za-z_-]{1,200}")


def meta_message(
    *,
    where: str,
    message_id: str,
    kind: MessageKind,
    author_id: str,
    text: str,
    thread_id: str,
    account_id: str,
    author_name: str | None,
    edited: bool = False,
    button: str | None = None,
    fetch: bool = False,
) -> InboundMessage:
    """An InboundMessage, with a validation error reduced to a message free of user text."""
    try:
        return InboundMessage(
            platform=PLATFORM,
            message_id=message_id,
            kind=kind,
            author_id=author_id,
            text=text,
            thread_id=thread_id,
            account_id=account_id,
            author_name=author_name,
            edited=edited,
            button=button,
            fetch=fetch,
        )
    except ValidationError as error:
        fields = ", ".join(str(item["loc"][0]) for item in error.errors() if item["loc"])
        raise ItemProblem(where, SkipReason.BAD_VALUE, f"fields out of range: {fields}") from None


def json_object(value: object, where: str) -> dict[str, object]:
    """`value` as a JSON object, or an ItemProblem naming where it was expected."""
    if not isinstance(value, dict):
        raise ItemProblem(where, missing_or_wrong(value), "must be an object")
    return value


def json_array(value: object, where: str) -> list[object]:
    """`value` as a JSON array, or an ItemProblem naming where it was expected."""
    if not isinstance(value, list):
        raise ItemProblem(where, missing_or_wrong(value), "must be an array")
    return value


def graph_id(value: object, where: str) -> str:
    """A Graph id (Meta sends strings; a bare number is accepted), safe to put in a URL path."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ItemProblem(where, missing_or_wrong(value), "must be a Graph id")
    if GRAPH_ID.fullmatch(value) is None:
        raise ItemProblem(where, SkipReason.BAD_VALUE, "must be a Graph id")
    return value


def optional_str(value: object, where: str) -> str | None:
    """`value` when it is a string or absent, else an ItemProblem."""
    if value is None or isinstance(value, str):
        return value
    raise ItemProblem(where, SkipReason.WRONG_TYPE, "must be a string")


def missing_or_wrong(value: object) -> SkipReason:
    """MISSING for an absent field, WRONG_TYPE for one of another JSON type."""
    return SkipReason.MISSING if value is None else SkipReason.WRONG_TYPE
