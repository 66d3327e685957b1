"""Meta connector: Facebook Page comments, Messenger, Instagram comments, messages and
mentions over the Graph API.

Messaging events (buttons, links) are read in meta_messaging.py, mentions in
meta_mentions.py; the field readers they share are in meta_items.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections import Counter
from collections.abc import Mapping
from typing import Final, Literal

import aiohttp
from aiohttp import ClientSession

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
from bot.connectors.meta_graph import as_object, graph_data, graph_error, ours, regain_access_s
from bot.connectors.meta_items import (
    GRAPH_ID,
    graph_id,
    json_array,
    json_object,
    meta_message,
    optional_str,
)
from bot.connectors.meta_mentions import (
    fetch_query,
    fetched,
    mention_item,
    mention_reply,
    mention_request,
)
from bot.connectors.meta_messaging import DEFAULT_GET_STARTED, messaging_item
from nlu.models import Decision, Signal

Network = Literal["fb", "ig"]

SIGNATURE_HEADER: Final = "x-hub-signature-256"
_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")
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
        get_started: str = DEFAULT_GET_STARTED,
    ) -> None:
        self._app_secret = app_secret
        self._page_token = page_token
        self._graph_url = graph_url.rstrip("/")
        # Comments written as this id are our own and never triaged (the entry id is too).
        self._page_id = page_id
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._get_started = get_started

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
        """Messages in a verified webhook body (a Delivery, counting the items not for
        triage by kind); ValueError when it is not a delivery, PartlyMalformed when some
        of its items cannot be used."""
        payload = load_json(body)
        root = json_object(payload, "body")
        kind = root.get("object")
        if not isinstance(kind, str):
            raise ValueError("object must be a string")
        entries = json_array(root.get("entry"), "entry")
        if kind == "page":
            network: Network = "fb"
        elif kind == "instagram":
            network = "ig"
        else:
            # Other subscriptions (user, permissions…) carry nothing to triage.
            return Delivery(ignored=Counter({"other_object": len(entries)}))
        messages = Delivery()
        # One malformed item never costs the others: each is read on its own.
        problems: list[ItemProblem] = []
        for index, raw_entry in enumerate(entries):
            where = f"entry[{index}]"
            try:
                entry = json_object(raw_entry, where)
                account = graph_id(entry.get("id"), f"{where}.id")
                changes = json_array(entry.get("changes", []), f"{where}.changes")
                events = json_array(entry.get("messaging", []), f"{where}.messaging")
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
                        message = read(network, account, json_object(raw_item, item), item)
                    except ItemProblem as exc:
                        problems.append(exc)
                        continue
                    if isinstance(message, str):
                        messages.ignored[message] += 1
                    else:
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
        if message.kind is MessageKind.MENTION:
            return _plan_mention(message, decision)
        if message.kind is not MessageKind.COMMENT:
            raise ValueError("Meta messages are comments, mentions or direct messages")

        def action(
            kind: ActionKind, text: str | None = None, safety: bool = False
        ) -> OutboundAction:
            return OutboundAction(
                kind=kind,
                platform=self.platform,
                target_id=message.message_id,
                text=text,
                account_id=message.account_id,
                safety=safety,
            )

        if decision.action == "ignore":
            return [action(ActionKind.HIDE)]
        actions: list[OutboundAction] = []
        if decision.action in ("escalate", "emergency") and _carries_health_info(decision):
            actions.append(action(ActionKind.HIDE))
        if decision.reply is not None:
            actions.append(
                action(ActionKind.REPLY, decision.reply, safety=decision.action == "emergency")
            )
        if decision.action in ("escalate", "emergency") and invite is not None:
            actions.append(action(ActionKind.PRIVATE_REPLY, invite))
        return actions

    async def send(self, session: ClientSession, action: OutboundAction) -> None:
        """Perform one action; raises OutboundError on failure."""
        network, account = _account(action.account_id)
        path, payload = _request(network, account, action)
        what = f"{action.kind} on {_surface(network, action.kind)}"
        await self._call(session, "POST", path, what, json=payload)

    async def fetch_text(
        self, session: ClientSession, message: InboundMessage
    ) -> InboundMessage | None:
        """A mention's text and author, read from Graph; None when it has none."""
        network, account = _account(message.account_id)
        if network != "ig" or message.kind is not MessageKind.MENTION:
            return message
        path, query = fetch_query(account, message)
        return fetched(
            message, await self._call(session, "GET", path, "mention fetch", params=query)
        )

    async def _call(
        self,
        session: ClientSession,
        method: str,
        path: str,
        what: str,
        *,
        params: Mapping[str, str] | None = None,
        json: object = None,
    ) -> bytes:
        """One Graph request; its body on success, OutboundError otherwise."""
        try:
            async with session.request(
                method,
                f"{self._graph_url}/{path}",
                params=params,
                json=json,
                headers={"Authorization": f"Bearer {self._page_token}"},
                timeout=self._timeout,
            ) as response:
                raw = await response.read()
                status = response.status
                wait = retry_after(response.headers.get("Retry-After")) or regain_access_s(
                    response.headers.get("X-Business-Use-Case-Usage")
                )
        # `from None`: aiohttp errors keep the request, and with it the bearer token.
        except (aiohttp.ClientError, TimeoutError) as error:
            raise OutboundError(
                None,
                retryable=True,
                detail=f"{what}: {type(error).__name__}",
                uncertain=maybe_sent(error),
            ) from None
        if 200 <= status < 300:
            return raw
        code, transient = graph_error(raw)
        retryable = status == 429 or status >= 500 or transient or code in _TRANSIENT_CODES
        detail = f"{what}: HTTP {status}"
        if code is not None:
            detail += f", graph error {code}"
        raise OutboundError(status, retryable=retryable, detail=detail, retry_after_s=wait)

    async def confirm(self, session: ClientSession, action: OutboundAction) -> bool | None:
        """Read back whether an unanswered action was carried out (None: cannot tell).

        A hide: the comment's hidden flag. A public reply: a reply from our account with
        our text among the comment's latest replies. A Facebook private reply: Meta allows
        one per comment, so `can_reply_privately` turns false once it is sent; Instagram
        has no such field (None: a resend is refused by Meta rather than delivered twice).
        A private message: the conversation's latest messages.
        """
        network, account = _account(action.account_id)
        target = action.target_id
        if GRAPH_ID.fullmatch(target) is None:
            return None
        kind, text = action.kind, (action.text or "").strip()
        if kind is ActionKind.HIDE:
            field = "hidden" if network == "ig" else "is_hidden"
            node = await self._read(session, target, {"fields": field})
            hidden = node.get(field) if node is not None else None
            return hidden if isinstance(hidden, bool) else None
        if kind is ActionKind.REPLY:
            edge, body = ("replies", "text") if network == "ig" else ("comments", "message")
            query = {"fields": f"from,{body}", "limit": "50"}
            if network == "fb":
                query["order"] = "reverse_chronological"
            node = await self._read(session, f"{target}/{edge}", query)
            if node is None:
                return None
            return any(ours(item, account, body, text) for item in graph_data(node))
        if kind is ActionKind.PRIVATE_REPLY and network == "fb":
            node = await self._read(session, target, {"fields": "can_reply_privately"})
            can = node.get("can_reply_privately") if node is not None else None
            return (not can) if isinstance(can, bool) else None
        if kind is ActionKind.DIRECT:
            query = {"user_id": target, "fields": "messages.limit(20){message,from}"}
            if network == "ig":
                query["platform"] = "instagram"
            node = await self._read(session, f"{account}/conversations", query)
            if node is None:
                return None
            messages = [
                item
                for conversation in graph_data(node)
                for item in graph_data(as_object(conversation.get("messages")))
            ]
            return any(ours(item, account, "message", text) for item in messages)
        return None

    async def _read(
        self, session: ClientSession, path: str, query: dict[str, str]
    ) -> dict[str, object] | None:
        """A Graph GET as a JSON object, or None on any failure (a read-back is advisory)."""
        try:
            async with session.get(
                f"{self._graph_url}/{path}",
                params=query,
                headers={"Authorization": f"Bearer {self._page_token}"},
                timeout=self._timeout,
            ) as response:
                if response.status != 200:
                    return None
                payload: object = json.loads(await response.read())
        except (aiohttp.ClientError, TimeoutError, ValueError, RecursionError):
            return None
        return payload if isinstance(payload, dict) else None

    def _change(
        self, network: Network, account: str, change: dict[str, object], where: str
    ) -> InboundMessage | str:
        """A public comment (or an edit of one, or a mention) from one `changes` item, or
        the kind of change it is when it is not one to triage."""
        field = change.get("field")
        if network == "fb" and field == "feed":
            value = json_object(change.get("value"), f"{where}.value")
            # An edit is triaged again: it can add what must not stay public. Removals,
            # reactions and posts are not comments to triage.
            verb, item = value.get("verb"), value.get("item")
            if item in ("reaction", "like"):
                return "reaction"
            if item != "comment":
                return "post"
            if verb not in ("add", "edited"):
                return "removal" if verb == "remove" else "comment_other"
            author = json_object(value.get("from"), f"{where}.value.from")
            author_id = graph_id(author.get("id"), f"{where}.value.from.id")
            if author_id in (account, self._page_id):
                return "own"
            text = optional_str(value.get("message"), f"{where}.value.message")
            if not text:
                return "no_text"  # a photo or sticker alone: nothing to read
            return meta_message(
                where=where,
                message_id=graph_id(value.get("comment_id"), f"{where}.value.comment_id"),
                kind=MessageKind.COMMENT,
                author_id=author_id,
                text=text,
                thread_id=graph_id(value.get("post_id"), f"{where}.value.post_id"),
                account_id=f"fb:{account}",
                author_name=optional_str(author.get("name"), f"{where}.value.from.name"),
                edited=verb == "edited",
            )
        if network == "ig" and field in ("comments", "live_comments"):
            value = json_object(change.get("value"), f"{where}.value")
            author = json_object(value.get("from"), f"{where}.value.from")
            author_id = graph_id(author.get("id"), f"{where}.value.from.id")
            if author_id == account:
                return "own"
            text = optional_str(value.get("text"), f"{where}.value.text")
            if not text:
                return "no_text"
            media = json_object(value.get("media"), f"{where}.value.media")
            return meta_message(
                where=where,
                message_id=graph_id(value.get("id"), f"{where}.value.id"),
                kind=MessageKind.COMMENT,
                author_id=author_id,
                text=text,
                thread_id=graph_id(media.get("id"), f"{where}.value.media.id"),
                account_id=f"ig:{account}",
                author_name=optional_str(author.get("username"), f"{where}.value.from.username"),
            )
        if network == "ig" and field == "mentions":
            return mention_item(account, json_object(change.get("value"), f"{where}.value"), where)
        return "other_change"

    def _messaging(
        self, network: Network, account: str, event: dict[str, object], where: str
    ) -> InboundMessage | str:
        """A private message, edit, button or link from one `messaging` event, or the kind
        of event it is (echo, receipt, reaction…) when it is not one to triage."""
        return messaging_item(
            network,
            account,
            event,
            where,
            ours=(self._page_id,),
            get_started=self._get_started,
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
                safety=decision.action == "emergency",  # its text is the safety reply
            )
        ]


def _plan_mention(message: InboundMessage, decision: Decision) -> list[OutboundAction]:
    """A mention sits on someone else's media: it cannot be hidden and takes no private
    reply. A safety reply and FAQ answers go under it; a neutral acknowledgement only when
    it shows no one's health, since any answer there draws eyes to what it shows."""
    if decision.reply is None or decision.action == "ignore":
        return []
    if decision.action == "escalate" and _carries_health_info(decision):
        return []
    reply = mention_reply(message, decision.reply)
    return [reply.model_copy(update={"safety": decision.action == "emergency"})]


def _carries_health_info(decision: Decision) -> bool:
    """True when the decision found PHI or health details, so the comment must leave view."""
    return any(
        reason.startswith(_PHI_PREFIX) or reason == Signal.HEALTH_INFO
        for reason in decision.reasons
    )


def _request(network: Network, account: str, action: OutboundAction) -> tuple[str, object]:
    """The Graph path (under graph_url) and JSON body for one action."""
    target = action.target_id
    if GRAPH_ID.fullmatch(target) is None:
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
    if action.kind is ActionKind.MENTION_REPLY:
        return mention_request(account, action, text)
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
