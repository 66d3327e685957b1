"""Meta connector: Facebook Page comments, Messenger and Instagram comments over the Graph API."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Final, Literal

import aiohttp
from aiohttp import ClientSession
from pydantic import ValidationError

from bot.connectors.base import (
    ActionKind,
    InboundMessage,
    ItemProblem,
    MessageKind,
    OutboundAction,
    OutboundError,
    PartlyMalformed,
    SkipReason,
)
from bot.connectors.json_body import load_json
from nlu.models import Decision, Signal

Network = Literal["fb", "ig"]

SIGNATURE_HEADER: Final = "x-hub-signature-256"
_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")
# Ids end up in URL paths; anything outside Graph's id alphabet could rewrite the path.
_GRAPH_ID = re.compile(r"[0-9A-Za-z_-]{1,200}")
_ACCOUNT = re.compile(r"(fb|ig):([0-9A-Za-z_-]{1,200})")
# Graph reports throttling and outages as 4xx with these codes, not only as 429/5xx.
_TRANSIENT_CODES: Final = frozenset({1, 2, 4, 17, 32, 341, 613})
_PHI_PREFIX: Final = "phi:"


class MetaConnector:
    """Verifies, parses, plans and sends for one Meta app (Pages, Messenger, Instagram)."""

    platform: str = "meta"

    def __init__(
        self,
        app_secret: str,
        page_token: str,
        graph_url: str,
        page_id: str | None = None,
        *,
        timeout_s: float = 10.0,
    ) -> None:
        self._app_secret = app_secret
        self._page_token = page_token
        self._graph_url = graph_url.rstrip("/")
        # Comments written as this id are our own and never triaged (the entry id is too).
        self._page_id = page_id
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    def __repr__(self) -> str:
        return f"MetaConnector(graph_url={self._graph_url!r}, page_id={self._page_id!r})"

    def verify(self, body: bytes, headers: Mapping[str, str]) -> bool:
        """True when `X-Hub-Signature-256` is the app secret's HMAC-SHA256 of the raw body."""
        # With an empty secret anyone could compute the signature.
        if not self._app_secret:
            return False
        header = _header(headers, SIGNATURE_HEADER)
        match = _SIGNATURE.fullmatch(header.strip()) if header is not None else None
        if match is None:
            return False
        expected = hmac.new(self._app_secret.encode(), body, hashlib.sha256).digest()
        return hmac.compare_digest(expected, bytes.fromhex(match.group(1)))

    def verify_subscription(self, query: Mapping[str, str], verify_token: str) -> str | None:
        """The `hub.challenge` to echo when the subscription handshake is ours, else None."""
        if not verify_token or query.get("hub.mode") != "subscribe":
            return None
        offered = query.get("hub.verify_token", "")
        if not hmac.compare_digest(offered.encode(), verify_token.encode()):
            return None
        return query.get("hub.challenge") or None

    def parse(self, body: bytes) -> list[InboundMessage]:
        """Messages in a verified webhook body; ValueError when it is malformed."""
        payload = load_json(body)
        root = _object(payload, "body")
        kind = root.get("object")
        if not isinstance(kind, str):
            raise ValueError("object must be a string")
        entries = _array(root.get("entry"), "entry")
        if kind == "page":
            network: Network = "fb"
        elif kind == "instagram":
            network = "ig"
        else:
            # Other subscriptions (user, permissions…) carry nothing to triage.
            return []
        messages: list[InboundMessage] = []
        # One malformed item never costs the others: each is read on its own.
        problems: list[ItemProblem] = []
        for index, raw_entry in enumerate(entries):
            where = f"entry[{index}]"
            try:
                entry = _object(raw_entry, where)
                account = _graph_id(entry.get("id"), f"{where}.id")
                changes = _array(entry.get("changes", []), f"{where}.changes")
                events = _array(entry.get("messaging", []), f"{where}.messaging")
            except ItemProblem as exc:
                problems.append(exc)
                continue
            for field, raw_items, read in (
                ("changes", changes, self._change),
                ("messaging", events, self._messaging),
            ):
                for number, raw_item in enumerate(raw_items):
                    item = f"{where}.{field}[{number}]"
                    try:
                        message = read(network, account, _object(raw_item, item), item)
                    except ItemProblem as exc:
                        problems.append(exc)
                        continue
                    if message is not None:
                        messages.append(message)
        if problems:
            # Even with no usable item left: Meta redelivers a refused body for hours and
            # the same body can never succeed, so it is acknowledged with its skips named.
            raise PartlyMalformed(messages, problems)
        return messages

    def plan(
        self, message: InboundMessage, decision: Decision, invite: str | None
    ) -> list[OutboundAction]:
        """Platform actions for a decision: hide first, then the public reply, then private."""
        if message.platform != self.platform:
            raise ValueError("not a Meta message")
        if message.account_id is None or _ACCOUNT.fullmatch(message.account_id) is None:
            raise ValueError("message has no Meta account")
        if message.kind is MessageKind.DIRECT:
            return self._plan_direct(message, decision, invite)
        if message.kind is not MessageKind.COMMENT:
            raise ValueError("Meta messages are comments or direct messages")

        def action(kind: ActionKind, text: str | None = None) -> OutboundAction:
            return OutboundAction(
                kind=kind,
                platform=self.platform,
                target_id=message.message_id,
                text=text,
                account_id=message.account_id,
            )

        if decision.action == "ignore":
            return [action(ActionKind.HIDE)]
        actions: list[OutboundAction] = []
        if decision.action in ("escalate", "emergency") and _carries_health_info(decision):
            actions.append(action(ActionKind.HIDE))
        if decision.reply is not None:
            actions.append(action(ActionKind.REPLY, decision.reply))
        if decision.action in ("escalate", "emergency") and invite is not None:
            actions.append(action(ActionKind.PRIVATE_REPLY, invite))
        return actions

    async def send(self, session: ClientSession, action: OutboundAction) -> None:
        """Perform one action; raises OutboundError on failure."""
        network, account = _account(action.account_id)
        surface = _surface(network, action.kind)
        path, payload = _request(network, account, action)
        try:
            async with session.post(
                f"{self._graph_url}/{path}",
                json=payload,
                headers={"Authorization": f"Bearer {self._page_token}"},
                timeout=self._timeout,
            ) as response:
                if 200 <= response.status < 300:
                    return
                status = response.status
                raw = await response.read()
        # `from None`: aiohttp errors keep the request, and with it the bearer token.
        except (aiohttp.ClientError, TimeoutError) as error:
            detail = f"{action.kind} on {surface}: {type(error).__name__}"
            raise OutboundError(None, retryable=True, detail=detail) from None
        code, transient = _graph_error(raw)
        retryable = status == 429 or status >= 500 or transient or code in _TRANSIENT_CODES
        detail = f"{action.kind} on {surface}: HTTP {status}"
        if code is not None:
            detail += f", graph error {code}"
        raise OutboundError(status, retryable=retryable, detail=detail)

    def _change(
        self, network: Network, account: str, change: dict[str, object], where: str
    ) -> InboundMessage | None:
        """A public comment (or an edit of one) from one `changes` item, or None."""
        field = change.get("field")
        if network == "fb" and field == "feed":
            value = _object(change.get("value"), f"{where}.value")
            # An edit is triaged again: it can add what must not stay public. Removals,
            # reactions and posts are not comments to triage.
            verb = value.get("verb")
            if value.get("item") != "comment" or verb not in ("add", "edited"):
                return None
            author = _object(value.get("from"), f"{where}.value.from")
            author_id = _graph_id(author.get("id"), f"{where}.value.from.id")
            if author_id in (account, self._page_id):
                return None
            text = _optional_str(value.get("message"), f"{where}.value.message")
            if not text:
                return None  # a photo or sticker alone: nothing to read
            return _message(
                where=where,
                message_id=_graph_id(value.get("comment_id"), f"{where}.value.comment_id"),
                kind=MessageKind.COMMENT,
                author_id=author_id,
                text=text,
                thread_id=_graph_id(value.get("post_id"), f"{where}.value.post_id"),
                account_id=f"fb:{account}",
                author_name=_optional_str(author.get("name"), f"{where}.value.from.name"),
                edited=verb == "edited",
            )
        if network == "ig" and field in ("comments", "live_comments"):
            value = _object(change.get("value"), f"{where}.value")
            author = _object(value.get("from"), f"{where}.value.from")
            author_id = _graph_id(author.get("id"), f"{where}.value.from.id")
            if author_id == account:
                return None
            text = _optional_str(value.get("text"), f"{where}.value.text")
            if not text:
                return None
            media = _object(value.get("media"), f"{where}.value.media")
            return _message(
                where=where,
                message_id=_graph_id(value.get("id"), f"{where}.value.id"),
                kind=MessageKind.COMMENT,
                author_id=author_id,
                text=text,
                thread_id=_graph_id(media.get("id"), f"{where}.value.media.id"),
                account_id=f"ig:{account}",
                author_name=_optional_str(author.get("username"), f"{where}.value.from.username"),
            )
        return None

    def _messaging(
        self, network: Network, account: str, event: dict[str, object], where: str
    ) -> InboundMessage | None:
        """A private message (or an edit of one) from one `messaging` event, or None for
        echoes, receipts and such."""
        # Messenger and Instagram send an edit as `message_edit` {mid, text, num_edit}.
        name = "message_edit" if "message_edit" in event else "message"
        if name not in event:
            return None  # delivery, read, postback, reaction…
        body = _object(event[name], f"{where}.{name}")
        if body.get("is_echo") is True:
            return None  # our own outgoing message, mirrored back
        text = _optional_str(body.get("text"), f"{where}.{name}.text")
        if not text:
            return None  # attachments only
        sender = _object(event.get("sender"), f"{where}.sender")
        sender_id = _graph_id(sender.get("id"), f"{where}.sender.id")
        if sender_id in (account, self._page_id):
            return None
        mid = body.get("mid")
        if not isinstance(mid, str) or not mid:
            reason = SkipReason.MISSING if mid is None else SkipReason.WRONG_TYPE
            raise ItemProblem(f"{where}.{name}.mid", reason, "must be a non-empty string")
        return _message(
            where=where,
            message_id=mid,
            kind=MessageKind.DIRECT,
            author_id=sender_id,
            text=text,
            thread_id=sender_id,
            account_id=f"{network}:{account}",
            author_name=None,
            edited=name == "message_edit",
        )

    def _plan_direct(
        self, message: InboundMessage, decision: Decision, invite: str | None
    ) -> list[OutboundAction]:
        """Actions for a private conversation: at most one message back."""
        if decision.action == "ignore":
            return []
        text = invite if decision.action == "escalate" and invite is not None else decision.reply
        if text is None:
            return []
        return [
            OutboundAction(
                kind=ActionKind.DIRECT,
                platform=self.platform,
                target_id=message.author_id,
                text=text,
                account_id=message.account_id,
            )
        ]


def _carries_health_info(decision: Decision) -> bool:
    """True when the decision found PHI or health details, so the comment must leave view."""
    return any(
        reason.startswith(_PHI_PREFIX) or reason == Signal.HEALTH_INFO
        for reason in decision.reasons
    )


def _request(network: Network, account: str, action: OutboundAction) -> tuple[str, object]:
    """The Graph path (under graph_url) and JSON body for one action."""
    target = action.target_id
    if _GRAPH_ID.fullmatch(target) is None:
        raise OutboundError(
            None, retryable=False, detail=f"{action.kind}: target is not a Graph id"
        )
    if action.kind is ActionKind.HIDE:
        return target, {"hide": True} if network == "ig" else {"is_hidden": True}
    text = action.text
    if text is None:
        raise OutboundError(None, retryable=False, detail=f"{action.kind} without text")
    if action.kind is ActionKind.REPLY:
        edge = "replies" if network == "ig" else "comments"
        return f"{target}/{edge}", {"message": text}
    if action.kind is ActionKind.PRIVATE_REPLY:
        return f"{account}/messages", {
            "recipient": {"comment_id": target},
            "message": {"text": text},
        }
    if action.kind is ActionKind.DIRECT:
        payload: dict[str, object] = {"recipient": {"id": target}, "message": {"text": text}}
        if network == "fb":
            # Messenger: a reply inside the 24-hour window opened by the person's message.
            payload["messaging_type"] = "RESPONSE"
        return f"{account}/messages", payload
    raise OutboundError(None, retryable=False, detail=f"{action.kind} is not a Meta action")


def _surface(network: Network, kind: ActionKind) -> str:
    """The product an action goes to, for error details."""
    if kind is ActionKind.DIRECT:
        return "messenger" if network == "fb" else "instagram direct"
    return "facebook" if network == "fb" else "instagram"


def _graph_error(raw: bytes) -> tuple[int | None, bool]:
    """The Graph error code and `is_transient` flag of an error body, when it has them."""
    try:
        payload: object = json.loads(raw)
    except (ValueError, RecursionError):
        return None, False
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return None, False
    code = error.get("code")
    valid_code = code if isinstance(code, int) and not isinstance(code, bool) else None
    return valid_code, error.get("is_transient") is True


def _account(account_id: str | None) -> tuple[Network, str]:
    """Split an `fb:<page id>` / `ig:<instagram id>` account into network and Graph id."""
    match = _ACCOUNT.fullmatch(account_id or "")
    if match is None:
        raise OutboundError(None, retryable=False, detail="action has no Meta account")
    network: Network = "fb" if match.group(1) == "fb" else "ig"
    return network, match.group(2)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by case-insensitive name, for plain dicts as well as aiohttp's multidicts."""
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _message(
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
) -> InboundMessage:
    """An InboundMessage, with a validation error reduced to a message free of user text."""
    try:
        return InboundMessage(
            platform=MetaConnector.platform,
            message_id=message_id,
            kind=kind,
            author_id=author_id,
            text=text,
            thread_id=thread_id,
            account_id=account_id,
            author_name=author_name,
            edited=edited,
        )
    except ValidationError as error:
        fields = ", ".join(str(item["loc"][0]) for item in error.errors() if item["loc"])
        raise ItemProblem(where, SkipReason.BAD_VALUE, f"fields out of range: {fields}") from None


def _object(value: object, where: str) -> dict[str, object]:
    """`value` as a JSON object, or ValueError naming where it was expected."""
    if not isinstance(value, dict):
        raise ItemProblem(where, _missing_or_wrong(value), "must be an object")
    return value


def _array(value: object, where: str) -> list[object]:
    """`value` as a JSON array, or ValueError naming where it was expected."""
    if not isinstance(value, list):
        raise ItemProblem(where, _missing_or_wrong(value), "must be an array")
    return value


def _graph_id(value: object, where: str) -> str:
    """A Graph id (Meta sends strings; a bare number is accepted), safe to put in a URL path."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ItemProblem(where, _missing_or_wrong(value), "must be a Graph id")
    if _GRAPH_ID.fullmatch(value) is None:
        raise ItemProblem(where, SkipReason.BAD_VALUE, "must be a Graph id")
    return value


def _optional_str(value: object, where: str) -> str | None:
    """`value` when it is a string or absent, else ValueError."""
    if value is None or isinstance(value, str):
        return value
    raise ItemProblem(where, SkipReason.WRONG_TYPE, "must be a string")


def _missing_or_wrong(value: object) -> SkipReason:
    return SkipReason.MISSING if value is None else SkipReason.WRONG_TYPE
