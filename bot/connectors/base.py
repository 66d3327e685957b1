"""What every connector speaks: inbound messages, outbound actions and the Protocol."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Protocol, runtime_checkable

from aiohttp import ClientConnectorError, ClientSession, ConnectionTimeoutError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from nlu.models import Decision


class MessageKind(StrEnum):
    """Where a message was written: in public or in private."""

    COMMENT = "comment"  # public comment on a post (Facebook, Instagram)
    MENTION = "mention"  # public post that mentions the page (X)
    DIRECT = "direct"  # private message (Messenger, X DM)
    API = "api"  # the generic API: the integrator decides what to do


# JSON can carry half of a UTF-16 pair ("\ud800"), which no UTF-8 text can hold.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_NOT_AN_ID = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


class InboundMessage(BaseModel):
    """One message from any platform, as the worker triages it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: str = Field(min_length=1, max_length=40)  # an API channel is up to 40
    message_id: str = Field(min_length=1, max_length=200)
    kind: MessageKind
    author_id: str = Field(min_length=1, max_length=200)
    text: str
    thread_id: str | None = None  # post / media / conversation the message belongs to
    account_id: str | None = None  # our page / account that received it
    author_name: str | None = None
    # An edit of an earlier message: the same platform id, a new text to triage again.
    edited: bool = False
    # What the person pressed rather than wrote (a button, a quick reply, an m.me link):
    # `welcome` or `faq/<key>`, with `@<language>` when the payload names one. It is
    # answered from the content without the NLP; `text` holds the button's title.
    button: str | None = Field(
        default=None, pattern=r"^(welcome|faq/[a-z][a-z0-9_]{0,80})(@[a-z]{2,3})?$"
    )
    # Only ids came in (an Instagram mention): the worker fetches the text before triage,
    # so that intake makes no outbound call and stays durable.
    fetch: bool = False
    # Set at intake for an edit (a keyed digest of its text), never by a connector.
    version: str | None = Field(default=None, pattern=r"^[0-9a-f]{1,64}$")

    @property
    def dedupe_id(self) -> str:
        """What receipts, Decisions and actions are keyed by: one per version of a message,
        so an edit is triaged again while a redelivery of the same edit is not."""
        return self.message_id if self.version is None else f"{self.message_id}~{self.version}"

    @field_validator("text", "author_name")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        # A broken emoji is no reason to lose the message: it reads as U+FFFD.
        return None if value is None else _LONE_SURROGATE.sub("\ufffd", value)

    @field_validator("platform", "message_id", "author_id", "thread_id", "account_id")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and _NOT_AN_ID.search(value):
            raise ValueError("ids are printable text")
        return value


class SkipReason(StrEnum):
    """Why an item of a delivery could not be used: a short, bounded label for metrics."""

    MISSING = "missing_field"
    WRONG_TYPE = "wrong_type"
    BAD_VALUE = "bad_value"  # an id of the wrong shape, a string too long, a control character


class ItemProblem(ValueError):
    """One unusable item: where it sits in the delivery and why, never what it says."""

    def __init__(self, where: str, reason: SkipReason, detail: str | None = None) -> None:
        super().__init__(f"{where} {detail}" if detail else f"{where}: {reason}")
        self.where, self.reason = where, reason


class PartlyMalformed(ValueError):
    """Some items of a delivery are malformed: `messages` holds the good ones (maybe none),
    `problems` says where the others are and what is wrong with them (never their content)."""

    def __init__(self, messages: list[InboundMessage], problems: list[ItemProblem]) -> None:
        super().__init__(f"{len(problems)} malformed item(s): {problems[0]}")
        self.messages, self.problems = messages, problems


class Delivery(list[InboundMessage]):
    """The messages of a delivery, and its items that are not for triage counted by kind
    (echoes, receipts, reactions…), so that nothing leaves a delivery without a trace.

    A list, so that `Connector.parse` keeps its type and a connector that counts nothing
    may return a plain one; `kind` labels come from code, never from the body."""

    def __init__(
        self, messages: Iterable[InboundMessage] = (), ignored: Counter[str] | None = None
    ) -> None:
        super().__init__(messages)
        self.ignored: Counter[str] = Counter() if ignored is None else ignored


def ignored_kinds(messages: list[InboundMessage]) -> Counter[str]:
    """The ignored items a connector counted (none for a connector that returns a plain list)."""
    return messages.ignored if isinstance(messages, Delivery) else Counter()


class ActionKind(StrEnum):
    """Things a connector can do on its platform."""

    REPLY = "reply"  # public reply under the message
    HIDE = "hide"  # hide the public message from everyone but its author
    PRIVATE_REPLY = "private_reply"  # the one private message a page may send about a comment
    DIRECT = "direct"  # a message in an existing private conversation
    MENTION_REPLY = "mention_reply"  # a reply where someone else's post or comment tagged us


class OutboundAction(BaseModel):
    """One call to a platform, planned from a Decision."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ActionKind
    platform: str
    target_id: str  # comment, post, user or conversation the action is about
    text: str | None = None
    account_id: str | None = None
    thread_id: str | None = None  # the post or media the target belongs to, where needed
    # The emergency safety reply: when a timed-out send cannot be confirmed either way it
    # is sent again, since a missing safety reply is worse than a second one.
    safety: bool = False


class OutboundError(Exception):
    """A platform call failed; `retryable` for 429 and 5xx, not for 4xx.

    `uncertain`: the request went out and no answer came back (a timeout, a connection
    dropped after sending), so the platform may have carried it out; look before resending.
    `retry_after_s`: how long the platform asked us to wait (429, throttling), if it said.
    """

    def __init__(
        self,
        status: int | None,
        retryable: bool,
        detail: str,
        *,
        uncertain: bool = False,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.retryable = retryable
        self.uncertain = uncertain
        self.retry_after_s = retry_after_s


def maybe_sent(error: BaseException) -> bool:
    """Whether a call that raised `error` may have reached the platform: False only when no
    connection was ever made; a timeout or a drop after that may follow a done action."""
    return not isinstance(error, ClientConnectorError | ConnectionTimeoutError)


def retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header in its delta-seconds form, else None."""
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None  # the HTTP-date form: our backoff applies instead
    return seconds if seconds is not None and 0 <= seconds < 86_400 else None


@runtime_checkable
class FetchesText(Protocol):
    """A connector whose webhooks can carry only ids (`InboundMessage.fetch`): the worker
    asks it for the text before triage."""

    async def fetch_text(
        self, session: ClientSession, message: InboundMessage
    ) -> InboundMessage | None:
        """The message with its text and author; None when it is gone or has no text;
        OutboundError when the platform cannot answer now (`retryable`) or at all."""
        ...


class Connector(Protocol):
    """A platform: verifies and parses its webhooks, plans and sends its actions."""

    platform: str

    def verify(self, body: bytes, headers: Mapping[str, str]) -> bool:
        """True when the raw body carries a valid signature."""
        ...

    def parse(self, body: bytes) -> list[InboundMessage]:
        """Messages in a verified webhook body; ValueError when it is not a delivery at all,
        PartlyMalformed (with the good messages) when some of its items cannot be used."""
        ...

    def plan(
        self, message: InboundMessage, decision: Decision, invite: str | None
    ) -> list[OutboundAction]:
        """Platform actions for a decision; `invite` is the private-channel invitation."""
        ...

    async def send(self, session: ClientSession, action: OutboundAction) -> None:
        """Perform one action; raises OutboundError on failure."""
        ...

    async def confirm(self, session: ClientSession, action: OutboundAction) -> bool | None:
        """Read back whether an action whose send went unanswered was carried out: True
        (done), False (not done), None (the platform cannot tell us, or did not answer)."""
        ...
