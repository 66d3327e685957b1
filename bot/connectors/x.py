"""X (Twitter): Account Activity and X Activity webhooks in; replies, hidden replies and DMs out.

The Account Activity (AAA) models below go when X ends that API (1 January 2027); the X
Activity API (XAA) side is bot.connectors.x_activity.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections import Counter
from collections.abc import Mapping

from aiohttp import ClientError, ClientSession, ClientTimeout
from pydantic import Field, ValidationError

from bot.connectors.base import (
    ActionKind,
    Delivery,
    InboundMessage,
    ItemProblem,
    MessageKind,
    OutboundAction,
    OutboundError,
    PartlyMalformed,
    maybe_sent,
    retry_after,
)
from bot.connectors.json_body import load_json
from bot.connectors.x_activity import (
    MALFORMED,
    DirectMessageEvent,
    XId,
    XObject,
    activity_delivery,
    direct_message,
    ignored_kind,
    item_problem,
)
from nlu.models import Decision, Signal

SIGNATURE_HEADER = "x-twitter-webhooks-signature"
_SIGNATURE_PREFIX = "sha256="
# X ids are 64-bit snowflakes written in decimal. Checking the shape on the way in and again
# before an id goes into a URL path keeps a hostile id from reaching another endpoint.
_ID = re.compile(r"[0-9]{1,20}")  # used with fullmatch: "$" would accept a trailing newline


class _User(XObject):
    id_str: XId
    screen_name: str | None = Field(default=None, max_length=50)


class _ExtendedTweet(XObject):
    full_text: str


class _Tweet(XObject):
    id_str: XId
    text: str
    user: _User
    in_reply_to_status_id_str: XId | None = None
    extended_tweet: _ExtendedTweet | None = None
    retweeted_status: dict[str, object] | None = None


class _DirectMessageUser(XObject):
    screen_name: str | None = Field(default=None, max_length=50)


class _Payload(XObject):
    # Events and users are read one by one, so that one bad item costs only itself.
    for_user_id: XId | None = None
    tweet_create_events: list[object] = Field(default_factory=list)
    direct_message_events: list[object] = Field(default_factory=list)
    users: dict[str, object] = Field(default_factory=dict)


def _aaa_ignored(raw: dict[str, object], used: int) -> Counter[str]:
    """What an Account Activity body held besides the mentions and DMs triaged: its other
    `*_events` lists by name (follows, favorites, deletes, typing, reads…), and the posts
    and DMs of ours or reposts among the triaged kinds."""
    ignored: Counter[str] = Counter()
    triaged = 0
    for key, value in raw.items():
        if not key.endswith("_events") or not isinstance(value, list):
            continue
        if key in ("tweet_create_events", "direct_message_events"):
            triaged += len(value)
        elif key in _AAA_KINDS:
            ignored[key.removesuffix("_events")] += len(value)
        else:
            ignored["other_event"] += len(value)
    if "user_event" in raw:  # a revocation
        ignored["user_event"] += 1
    if triaged > used:
        ignored["own_or_repost"] += triaged - used
    return ignored


# The Account Activity API's other event lists (a fixed label set for the metric).
_AAA_KINDS = frozenset(
    {
        "favorite_events",
        "follow_events",
        "unfollow_events",
        "block_events",
        "unblock_events",
        "mute_events",
        "unmute_events",
        "tweet_delete_events",
        "direct_message_indicate_typing_events",
        "direct_message_mark_read_events",
    }
)


def _sender_name(users: dict[str, object], sender: str) -> str | None:
    # A user entry X sent wrong costs the name only, not the DM.
    try:
        return _DirectMessageUser.model_validate(users.get(sender)).screen_name
    except ValidationError:
        return None


_URL = re.compile(r"https?://\S+")


def _comparable(text: str) -> str:
    """A DM text as X stores it, roughly: links shortened (any link reads the same)."""
    return " ".join(_URL.sub("<link>", text).split())


def _items(page: dict[str, object]) -> list[dict[str, object]]:
    return [item for item in _list(page.get("data")) if isinstance(item, dict)]


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _until_reset(header: str | None) -> float | None:
    """Seconds until `x-rate-limit-reset` (epoch seconds), when X sent one."""
    try:
        reset = float(header) if header is not None else None
    except ValueError:
        return None
    return min(max(reset - time.time(), 0.0), 900.0) if reset is not None else None


def _signature(secret: str, data: bytes) -> bytes:
    return hmac.new(secret.encode(), data, hashlib.sha256).digest()


def _carries_phi(decision: Decision) -> bool:
    return any(
        reason.startswith("phi:") or reason == Signal.HEALTH_INFO.value
        for reason in decision.reasons
    )


class XConnector:
    """One X account: verifies and parses its webhooks, plans and sends its actions."""

    platform = "x"

    def __init__(
        self,
        consumer_secret: str,
        bearer_token: str,
        api_url: str,
        account_id: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        # An empty secret would make every forged signature valid.
        if not consumer_secret or not bearer_token:
            raise ValueError("X consumer secret and bearer token must not be empty")
        if account_id is not None and not _ID.fullmatch(account_id):
            raise ValueError("X account id must be a numeric id")
        self._consumer_secret = consumer_secret
        self._bearer_token = bearer_token
        self._api_url = api_url.rstrip("/")
        self.account_id = account_id
        self._timeout = ClientTimeout(total=timeout_s)

    def __repr__(self) -> str:
        return f"XConnector(api_url={self._api_url!r}, account_id={self.account_id!r})"

    def crc_response(self, crc_token: str) -> dict[str, str]:
        """The answer to X's Challenge-Response Check for `crc_token`."""
        digest = _signature(self._consumer_secret, crc_token.encode())
        return {"response_token": _SIGNATURE_PREFIX + base64.b64encode(digest).decode()}

    def verify(self, body: bytes, headers: Mapping[str, str]) -> bool:
        """True when `x-twitter-webhooks-signature` is the HMAC of the raw body."""
        # Callers may pass a plain dict, whose lookups are case-sensitive, not a CIMultiDict.
        value = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER), None)
        if value is None or not value.startswith(_SIGNATURE_PREFIX):
            return False
        try:
            given = base64.b64decode(value.removeprefix(_SIGNATURE_PREFIX), validate=True)
        except ValueError:  # binascii.Error and non-ASCII input both land here
            return False
        return hmac.compare_digest(given, _signature(self._consumer_secret, body))

    def parse(self, body: bytes) -> list[InboundMessage]:
        """Mentions and DMs written to our account, from either format.

        ValueError when the body is not a JSON object; PartlyMalformed (with the usable
        messages) when some of its items cannot be read.
        """
        try:
            # Not pydantic's parser: that refuses a whole body for one lone surrogate.
            raw = load_json(body)
        except ValueError:
            raise ValueError(MALFORMED) from None
        if not isinstance(raw, dict):
            raise ValueError(MALFORMED)
        # XAA wraps its one event in "data"; AAA has neither that key nor `event_type`.
        if "data" in raw or "event_type" in raw:
            found, problems = activity_delivery(raw, self.account_id, self.platform)
            messages = Delivery(found)
            if not found and not problems:
                messages.ignored[ignored_kind(raw)] += 1
        else:
            found, problems = self._account_activity(raw)
            messages = Delivery(found, _aaa_ignored(raw, len(found) + len(problems)))
        if problems:
            raise PartlyMalformed(messages, problems)
        return messages

    def _account_activity(
        self, raw: dict[str, object]
    ) -> tuple[list[InboundMessage], list[ItemProblem]]:
        try:
            payload = _Payload.model_validate(raw)
        except ValidationError as error:
            # Without a trustworthy for_user_id our own posts could not be told apart.
            return [], [item_problem(error, "body", _Payload)]
        account = payload.for_user_id or self.account_id
        ours = {i for i in (payload.for_user_id, self.account_id) if i is not None}
        messages: list[InboundMessage] = []
        problems: list[ItemProblem] = []
        for number, item in enumerate(payload.tweet_create_events):
            where = f"tweet_create_events[{number}]"
            try:
                tweet = _Tweet.model_validate(item)
                # Our own tweets and retweets of anything are not questions to triage.
                if tweet.user.id_str not in ours and tweet.retweeted_status is None:
                    messages.append(self._mention(tweet, account))
            except ValidationError as error:
                problems.append(item_problem(error, where, _Tweet))
        for number, item in enumerate(payload.direct_message_events):
            where = f"direct_message_events[{number}]"
            try:
                event = DirectMessageEvent.model_validate(item)
            except ValidationError as error:
                problems.append(item_problem(error, where, DirectMessageEvent))
                continue
            if event.type != "message_create":
                continue
            if event.message_create is not None and event.message_create.sender_id in ours:
                continue  # DMs we sent come back as events too
            sender = event.message_create.sender_id if event.message_create is not None else ""
            name = _sender_name(payload.users, sender)
            try:
                messages.append(direct_message(self.platform, event, account, name))
            except ItemProblem as problem:
                problems.append(ItemProblem(f"{where}.{problem.where}", problem.reason))
        return messages, problems

    def _mention(self, tweet: _Tweet, account: str | None) -> InboundMessage:
        # `text` is cut at 140 characters when the tweet is longer; the full text is elsewhere.
        text = tweet.extended_tweet.full_text if tweet.extended_tweet is not None else tweet.text
        return InboundMessage(
            platform=self.platform,
            message_id=tweet.id_str,
            kind=MessageKind.MENTION,
            author_id=tweet.user.id_str,
            text=text,
            thread_id=tweet.in_reply_to_status_id_str or tweet.id_str,
            account_id=account,
            author_name=tweet.user.screen_name,
        )

    def plan(
        self, message: InboundMessage, decision: Decision, invite: str | None
    ) -> list[OutboundAction]:
        """X actions for a decision; `invite` is the private-channel invitation."""
        if decision.action == "ignore":
            return []
        if message.kind is MessageKind.MENTION:
            return self._plan_mention(message, decision, invite)
        if message.kind is MessageKind.DIRECT:
            return self._plan_direct(message, decision, invite)
        return []

    def _plan_mention(
        self, message: InboundMessage, decision: Decision, invite: str | None
    ) -> list[OutboundAction]:
        reply = (
            self._action(
                ActionKind.REPLY,
                message,
                message.message_id,
                decision.reply,
                safety=decision.action == "emergency",
            )
            if decision.reply is not None
            else None
        )
        if decision.action == "reply":
            return [reply] if reply is not None else []
        # X only lets an account hide replies in conversations it started; a top-level
        # mention cannot be hidden, and asking would only earn a 403.
        is_reply = message.thread_id not in (None, message.message_id)
        hide = (
            self._action(ActionKind.HIDE, message, message.message_id)
            if _carries_phi(decision) and is_reply
            else None
        )
        private = (
            self._action(ActionKind.DIRECT, message, message.author_id, invite)
            if invite is not None
            else None
        )
        # Escalations hide first so that PHI leaves public view before anything else;
        # an emergency answers first because the safety reply is what matters most.
        order = [reply, hide, private] if decision.action == "emergency" else [hide, reply, private]
        return [action for action in order if action is not None]

    def _plan_direct(
        self, message: InboundMessage, decision: Decision, invite: str | None
    ) -> list[OutboundAction]:
        if decision.action == "escalate":
            texts = [invite if invite is not None else decision.reply]
        elif decision.action == "emergency":
            # The safety reply goes first; the invitation lets staff carry on in private.
            texts = [decision.reply, invite]
        else:
            texts = [decision.reply]
        return [
            self._action(
                ActionKind.DIRECT,
                message,
                message.author_id,
                text,
                safety=decision.action == "emergency" and text == decision.reply,
            )
            for text in texts
            if text is not None
        ]

    def _action(
        self,
        kind: ActionKind,
        message: InboundMessage,
        target_id: str,
        text: str | None = None,
        *,
        safety: bool = False,
    ) -> OutboundAction:
        return OutboundAction(
            kind=kind,
            platform=self.platform,
            target_id=target_id,
            text=text,
            account_id=message.account_id,
            safety=safety,
        )

    async def send(self, session: ClientSession, action: OutboundAction) -> None:
        """Perform one action; OutboundError (retryable for 429, 5xx and network errors)."""
        method, path, payload = self._request(action)
        try:
            async with session.request(
                method,
                self._api_url + path,
                json=payload,
                headers={"Authorization": f"Bearer {self._bearer_token}"},
                timeout=self._timeout,
                # A redirect of a POST would be replayed as a GET: treat it as an error.
                allow_redirects=False,
            ) as response:
                status = response.status
                wait = retry_after(response.headers.get("Retry-After"))
                if status == 429 and wait is None:
                    wait = _until_reset(response.headers.get("x-rate-limit-reset"))
        except (ClientError, TimeoutError) as exc:
            # `from None`: aiohttp's message is not ours to vouch for in logs.
            raise OutboundError(
                None,
                retryable=True,
                detail=f"X {action.kind} failed: {type(exc).__name__}",
                uncertain=maybe_sent(exc),
            ) from None
        if 200 <= status < 300:
            return
        raise OutboundError(
            status,
            retryable=status == 429 or status >= 500,
            detail=f"X {action.kind} returned HTTP {status}",
            retry_after_s=wait,
        )

    async def confirm(self, session: ClientSession, action: OutboundAction) -> bool | None:
        """Read back whether an unanswered action was carried out (None: cannot tell).

        X has no idempotency key for posts or DMs. A reply: our account's latest posts,
        one replying to the mention (we post one public reply per mention; X rewrites
        links and may prefix mentions, so the text is not compared). A DM: the
        conversation's latest events, one from us with our text (links compared as links).
        A hide: X shows the flag to no read, but hiding again is harmless (None).
        """
        account = action.account_id or self.account_id
        target = action.target_id
        if account is None or not _ID.fullmatch(account) or not _ID.fullmatch(target):
            return None
        if action.kind is ActionKind.REPLY:
            page = await self._read(
                session,
                f"/users/{account}/tweets",
                {"max_results": "20", "tweet.fields": "referenced_tweets"},
            )
            if page is None:
                return None
            return any(
                isinstance(ref, dict)
                and ref.get("type") == "replied_to"
                and ref.get("id") == target
                for tweet in _items(page)
                for ref in _list(tweet.get("referenced_tweets"))
            )
        if action.kind is ActionKind.DIRECT:
            page = await self._read(
                session,
                f"/dm_conversations/with/{target}/dm_events",
                {
                    "max_results": "20",
                    "event_types": "MessageCreate",
                    "dm_event.fields": "sender_id,text",
                },
            )
            if page is None:
                return None
            ours = _comparable(action.text or "")
            return any(
                event.get("sender_id") == account
                and isinstance(event.get("text"), str)
                and _comparable(str(event["text"])) == ours
                for event in _items(page)
            )
        return None

    async def _read(
        self, session: ClientSession, path: str, query: dict[str, str]
    ) -> dict[str, object] | None:
        """An API GET as a JSON object, or None on any failure (a read-back is advisory)."""
        try:
            async with session.get(
                self._api_url + path,
                params=query,
                headers={"Authorization": f"Bearer {self._bearer_token}"},
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                if response.status != 200:
                    return None
                payload: object = json.loads(await response.read())
        except (ClientError, TimeoutError, ValueError, RecursionError):
            return None
        return payload if isinstance(payload, dict) else None

    def _request(self, action: OutboundAction) -> tuple[str, str, dict[str, object]]:
        """Method, path and JSON body for an action; OutboundError when X cannot do it."""
        if action.platform != self.platform:
            raise OutboundError(None, retryable=False, detail="action is not for X")
        target = action.target_id
        if not _ID.fullmatch(target):
            raise OutboundError(None, retryable=False, detail="target is not an X id")
        if action.kind is ActionKind.HIDE:
            return "PUT", f"/tweets/{target}/hidden", {"hidden": True}
        if not action.text:
            raise OutboundError(None, retryable=False, detail=f"X {action.kind} needs a text")
        if action.kind is ActionKind.REPLY:
            return (
                "POST",
                "/tweets",
                {"text": action.text, "reply": {"in_reply_to_tweet_id": target}},
            )
        if action.kind is ActionKind.DIRECT:
            return "POST", f"/dm_conversations/with/{target}/messages", {"text": action.text}
        raise OutboundError(None, retryable=False, detail=f"X has no {action.kind} action")
