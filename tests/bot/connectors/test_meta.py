"""The Meta connector against its fixtures and a local aiohttp server playing the Graph API."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from bot.connectors.base import (
    ActionKind,
    Connector,
    InboundMessage,
    MessageKind,
    OutboundAction,
    OutboundError,
    ignored_kinds,
)
from bot.connectors.meta import MetaConnector
from bot.connectors.meta_messaging import button_of
from nlu.models import Decision, Entity
from nlu.templates import EMERGENCY_REPLY, ESCALATION_ACK

FIXTURES = Path(__file__).parents[3] / "bot" / "connectors" / "fixtures" / "meta"
APP_SECRET = "app-secret-7f3c9a1e5b"
PAGE_TOKEN = "EAAG-page-token-9d8c7b6a5f4e"
VERIFY_TOKEN = "verify-token-42"
PAGE_ID = "104857362918273"
IG_ID = "17841405822304914"
INVITE = "Please continue with our team privately: https://triage.example.org/p/q7Lm2Xv9"
FAQ_PARKING = "Visitor parking is free in the North Garage, open 24 hours."


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def connector(
    graph_url: str = "https://graph.facebook.com/v21.0", **kwargs: float
) -> MetaConnector:
    return MetaConnector(APP_SECRET, PAGE_TOKEN, graph_url, page_id=PAGE_ID, **kwargs)


# --- a local Graph API -------------------------------------------------------------------


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    json: object


@dataclass
class Graph:
    """What the fake Graph API answers, and every request it saw."""

    url: str
    requests: list[Recorded] = field(default_factory=list)
    status: int = 200
    body: object = field(default_factory=lambda: {"success": True})
    stall: bool = False
    release: asyncio.Event = field(default_factory=asyncio.Event)
    # What reads answer, by path; a path not here answers 404.
    reads: dict[str, object] = field(default_factory=dict)
    queries: list[tuple[str, dict[str, str]]] = field(default_factory=list)


GRAPH = web.AppKey("graph", Graph)


async def graph_read(request: web.Request) -> web.Response:
    graph = request.app[GRAPH]
    graph.queries.append((request.path, dict(request.query)))
    if request.path not in graph.reads:
        return web.json_response({"error": {"code": 100}}, status=404)
    return web.json_response(graph.reads[request.path])


async def graph_handler(request: web.Request) -> web.Response:
    graph = request.app[GRAPH]
    graph.requests.append(Recorded(request.path, dict(request.headers), await request.json()))
    if graph.stall:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(graph.release.wait(), timeout=5)
    return web.json_response(graph.body, status=graph.status)


@pytest.fixture
async def graph() -> AsyncIterator[Graph]:
    app = web.Application()
    app.router.add_post("/{tail:.*}", graph_handler)
    app.router.add_get("/{tail:.*}", graph_read)
    state = Graph(url="")
    app[GRAPH] = state
    server = TestServer(app)
    await server.start_server()
    state.url = str(server.make_url("/v21.0"))
    try:
        yield state
    finally:
        state.release.set()  # let a stalled handler finish so the server closes at once
        await server.close()


@pytest.fixture
async def session() -> AsyncIterator[ClientSession]:
    async with ClientSession() as client_session:
        yield client_session


# --- verify ------------------------------------------------------------------------------


def test_meta_connector_satisfies_the_connector_protocol() -> None:
    as_protocol: Connector = connector()
    assert as_protocol.platform == "meta"


def test_repr_never_shows_secrets() -> None:
    text = repr(connector())
    assert APP_SECRET not in text
    assert PAGE_TOKEN not in text
    assert PAGE_ID in text


def test_valid_signature_is_accepted_with_any_header_case() -> None:
    body = fixture("feed_comment.json")
    meta = connector()
    assert meta.verify(body, {"X-Hub-Signature-256": sign(body)})
    assert meta.verify(body, {"x-hub-signature-256": sign(body)})
    assert meta.verify(
        body, {"X-HUB-SIGNATURE-256": sign(body).upper().replace("SHA256", "sha256")}
    )


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("sha1=" + "0" * 40, id="sha1-only"),
        pytest.param("sha256=", id="no-digest"),
        pytest.param("sha256=" + "z" * 64, id="not-hex"),
        pytest.param("sha256=" + "ab" * 31, id="too-short"),
        pytest.param("sha256=" + "é" * 64, id="non-ascii"),
        pytest.param("sha256=" + "0" * 64, id="wrong-digest"),
    ],
)
def test_missing_or_malformed_signature_is_rejected(header: str | None) -> None:
    body = fixture("feed_comment.json")
    headers = {} if header is None else {"X-Hub-Signature-256": header}
    assert not connector().verify(body, headers)


def test_signature_by_another_secret_or_of_another_body_is_rejected() -> None:
    body = fixture("feed_comment.json")
    meta = connector()
    assert not meta.verify(body, {"X-Hub-Signature-256": sign(body, "another-secret")})
    assert not meta.verify(body + b" ", {"X-Hub-Signature-256": sign(body)})


def test_empty_app_secret_accepts_nothing() -> None:
    body = fixture("feed_comment.json")
    meta = MetaConnector("", PAGE_TOKEN, "https://graph.facebook.com/v21.0")
    assert not meta.verify(body, {"X-Hub-Signature-256": sign(body, "")})


# --- subscription handshake ----------------------------------------------------------------


def test_subscription_handshake_returns_the_challenge() -> None:
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    assert connector().verify_subscription(query, VERIFY_TOKEN) == "1158201444"


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN},
        {"hub.mode": "subscribe", "hub.verify_token": "tökén", "hub.challenge": "1"},
    ],
)
def test_subscription_handshake_refuses_anything_else(query: dict[str, str]) -> None:
    assert connector().verify_subscription(query, VERIFY_TOKEN) is None


def test_subscription_handshake_refuses_when_no_verify_token_is_configured() -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}
    assert connector().verify_subscription(query, "") is None


# --- parse ---------------------------------------------------------------------------------


def test_page_feed_comment_becomes_a_comment() -> None:
    [message] = connector().parse(fixture("feed_comment.json"))
    assert message == InboundMessage(
        platform="meta",
        message_id="912384756102938_1187364520394857",
        kind=MessageKind.COMMENT,
        author_id="7093218845120934",
        text="What are the visiting hours on the maternity ward this weekend?",
        thread_id="104857362918273_912384756102938",
        account_id=f"fb:{PAGE_ID}",
        author_name="Dana Whitfield",
    )


def test_messenger_message_becomes_a_direct_message() -> None:
    [message] = connector().parse(fixture("messenger_message.json"))
    assert message.kind is MessageKind.DIRECT
    assert message.message_id == "m_Xq3Zr8kP2vN7bW1yT5uL0aEoHcJmGdSfRiKlBnMpQwVxYz4A9s6D_hFgTjUe"
    assert (message.author_id, message.thread_id) == ("6583920174628391", "6583920174628391")
    assert message.account_id == f"fb:{PAGE_ID}"
    assert message.text.startswith("Hi, my dad was admitted")
    assert message.author_name is None


def test_instagram_comment_becomes_a_comment_on_the_media() -> None:
    [message] = connector().parse(fixture("instagram_comment.json"))
    assert message == InboundMessage(
        platform="meta",
        message_id="17989123456789012",
        kind=MessageKind.COMMENT,
        author_id="1220573498861340",
        text="Is there free parking for visitors at the north entrance?",
        thread_id="18034519287654321",
        account_id=f"ig:{IG_ID}",
        author_name="river.runner.22",
    )


def test_instagram_direct_message_is_marked_as_instagram() -> None:
    [message] = connector().parse(fixture("instagram_message.json"))
    assert (message.kind, message.account_id) == (MessageKind.DIRECT, f"ig:{IG_ID}")
    assert message.author_id == "1220573498861340"


def test_batch_keeps_new_messages_and_edits_drops_echoes_receipts_reactions_and_our_own() -> None:
    messages = connector().parse(fixture("batch.json"))
    assert [(m.kind, m.message_id, m.account_id, m.edited) for m in messages] == [
        (MessageKind.COMMENT, "912399001188776_554120938471123", f"fb:{PAGE_ID}", False),
        (MessageKind.COMMENT, "912384756102938_1187364520394857", f"fb:{PAGE_ID}", True),
        (
            MessageKind.DIRECT,
            "m_Bn7Kq2Wx5Zt8Yc1Vd4Rf6Hg9Js0Lp3Mo_eAuIyTrEwQ",
            f"fb:{PAGE_ID}",
            False,
        ),
        (MessageKind.COMMENT, "771029384756102_990011223344601", "fb:228811004466552", False),
    ]


def test_edited_comment_is_the_same_comment_with_its_new_text() -> None:
    [original] = connector().parse(fixture("feed_comment.json"))
    edited = json.loads(fixture("feed_comment.json"))
    value = edited["entry"][0]["changes"][0]["value"]
    value.update(verb="edited", message="Tom Reyes DOB 4/2/61 was moved to ICU, visiting hours?")
    [message] = connector().parse(json.dumps(edited).encode())
    assert message.edited
    assert not original.edited
    assert message.model_dump(exclude={"edited", "text"}) == original.model_dump(
        exclude={"edited", "text"}
    )
    assert message.text.startswith("Tom Reyes")
    assert message.version is None  # set at intake, never by the connector


def test_message_edit_is_the_same_direct_message_with_its_new_text() -> None:
    [original] = connector().parse(fixture("messenger_message.json"))
    [message] = connector().parse(fixture("messenger_message_edit.json"))
    assert (message.kind, message.message_id, message.edited) == (
        MessageKind.DIRECT,
        original.message_id,
        True,
    )
    assert "Tom Reyes" in message.text


def test_message_edit_by_the_page_itself_is_not_triaged() -> None:
    body = json.loads(fixture("messenger_message_edit.json"))
    body["entry"][0]["messaging"][0]["sender"]["id"] = PAGE_ID
    assert connector().parse(json.dumps(body).encode()) == []


def test_own_page_comment_is_ignored_when_page_id_is_configured() -> None:
    body = json.loads(fixture("feed_comment.json"))
    body["entry"][0]["id"] = "999000111222333"  # another page of ours, same app
    body["entry"][0]["changes"][0]["value"]["from"] = {"id": PAGE_ID, "name": "Riverside Health"}
    assert connector().parse(json.dumps(body).encode()) == []


def test_comment_without_text_and_unknown_objects_yield_nothing() -> None:
    body = json.loads(fixture("feed_comment.json"))
    del body["entry"][0]["changes"][0]["value"]["message"]  # a photo-only comment
    assert connector().parse(json.dumps(body).encode()) == []
    assert connector().parse(b'{"object": "permissions", "entry": []}') == []


def test_very_long_text_is_kept_whole() -> None:
    body = json.loads(fixture("feed_comment.json"))
    body["entry"][0]["changes"][0]["value"]["message"] = "x" * 25_000
    [message] = connector().parse(json.dumps(body).encode())
    assert len(message.text) == 25_000


SECRET_TEXT = "Jane Roe SSN 123-45-6789 chemo"


def _feed(**value: object) -> bytes:
    base: dict[str, object] = {
        "item": "comment",
        "verb": "add",
        "comment_id": "1_2",
        "post_id": "1_3",
        "from": {"id": "55", "name": "Jane Roe"},
        "message": SECRET_TEXT,
    }
    base.update(value)
    entry = {"id": PAGE_ID, "time": 1, "changes": [{"field": "feed", "value": base}]}
    return json.dumps({"object": "page", "entry": [entry]}).encode()


def _messaging(event: object) -> bytes:
    entry = {"id": PAGE_ID, "time": 1, "messaging": [event]}
    return json.dumps({"object": "page", "entry": [entry]}).encode()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(SECRET_TEXT.encode(), id="not-json"),
        pytest.param(b"\xff\xfe" + SECRET_TEXT.encode(), id="not-utf8"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="deeply-nested"),
        pytest.param(json.dumps([SECRET_TEXT]).encode(), id="top-level-array"),
        pytest.param(b'{"object": 7, "entry": []}', id="object-not-string"),
        pytest.param(b'{"object": "page"}', id="no-entry"),
        pytest.param(b'{"object": "page", "entry": {}}', id="entry-not-list"),
        pytest.param(json.dumps({"object": "page", "entry": [SECRET_TEXT]}).encode(), id="entry"),
        pytest.param(b'{"object": "page", "entry": [{"time": 1, "changes": []}]}', id="no-id"),
        pytest.param(b'{"object": "page", "entry": [{"id": "1/../me", "changes": []}]}', id="path"),
        pytest.param(b'{"object": "page", "entry": [{"id": "1", "changes": {}}]}', id="changes"),
        pytest.param(_feed(comment_id=None), id="no-comment-id"),
        pytest.param(_feed(comment_id="1_2?fields=access_token"), id="comment-id-not-graph-id"),
        pytest.param(_feed(post_id=None), id="no-post-id"),
        pytest.param(_feed(**{"from": None}), id="no-from"),
        pytest.param(_feed(**{"from": {"id": True}}), id="from-id-bool"),
        pytest.param(_feed(message=["not", "text"]), id="message-not-string"),
        pytest.param(_feed(comment_id="9" * 201), id="id-too-long"),
        pytest.param(
            _messaging({"sender": {"id": "5"}, "message": {"text": SECRET_TEXT}}), id="mid"
        ),
        pytest.param(_messaging({"message": {"mid": "m_1", "text": SECRET_TEXT}}), id="sender"),
        pytest.param(
            _messaging({"sender": {"id": "5"}, "message": {"mid": "m_" + "a" * 300, "text": "hi"}}),
            id="mid-too-long",
        ),
        pytest.param(_messaging({"sender": {"id": "5"}, "message": SECRET_TEXT}), id="message"),
        pytest.param(
            json.dumps(
                {
                    "object": "instagram",
                    "entry": [
                        {
                            "id": IG_ID,
                            "changes": [
                                {
                                    "field": "comments",
                                    "value": {"id": "1", "text": SECRET_TEXT, "from": {"id": "2"}},
                                }
                            ],
                        }
                    ],
                }
            ).encode(),
            id="instagram-no-media",
        ),
    ],
)
def test_malformed_body_raises_value_error_without_echoing_it(body: bytes) -> None:
    with pytest.raises(ValueError, match=r".") as caught:
        connector().parse(body)
    message = str(caught.value)
    assert len(message) < 120
    for secret in ("Jane", "123-45-6789", "chemo", "access_token"):
        assert secret not in message
    assert caught.value.__cause__ is None


# --- plan ----------------------------------------------------------------------------------


def decision(action: str, reply: str | None, reasons: list[str], **extra: object) -> Decision:
    return Decision.model_validate(
        {"id": "d-1", "action": action, "reasons": reasons, "reply": reply, **extra}
    )


REPLY = decision("reply", FAQ_PARKING, [], intent="parking", confidence=0.94, priority="low")
ESCALATE_PHI = decision(
    "escalate",
    ESCALATION_ACK,
    ["phi:PERSON", "phi:DATE_TIME", "medical_advice"],
    priority="high",
    entities=[Entity(type="PERSON", start=3, end=11, score=0.85)],
    case_id="case-7c1e",
)
ESCALATE_HEALTH = decision("escalate", ESCALATION_ACK, ["health_info"], priority="high")
ESCALATE_NO_PHI = decision("escalate", ESCALATION_ACK, ["complaint"], priority="normal")
EMERGENCY = decision("emergency", EMERGENCY_REPLY, ["emergency"], priority="urgent")
EMERGENCY_PHI = decision(
    "emergency", EMERGENCY_REPLY, ["emergency", "phi:PERSON"], priority="urgent"
)
IGNORE = decision("ignore", None, ["spam"], priority="low")

FB_COMMENT = InboundMessage(
    platform="meta",
    message_id="912384756102938_1187364520394857",
    kind=MessageKind.COMMENT,
    author_id="7093218845120934",
    text="…",
    thread_id="104857362918273_912384756102938",
    account_id=f"fb:{PAGE_ID}",
)
DIRECT = InboundMessage(
    platform="meta",
    message_id="m_Xq3Zr8kP2vN7bW1yT5uL0aEoHcJmGdSfRiKlBnMpQwVxYz4A9s6D",
    kind=MessageKind.DIRECT,
    author_id="6583920174628391",
    text="…",
    thread_id="6583920174628391",
    account_id=f"fb:{PAGE_ID}",
)


def planned(actions: list[OutboundAction]) -> list[tuple[ActionKind, str, str | None]]:
    return [(action.kind, action.target_id, action.text) for action in actions]


C = FB_COMMENT.message_id
P = DIRECT.author_id


@pytest.mark.parametrize(
    ("choice", "invite", "expected"),
    [
        pytest.param(REPLY, None, [(ActionKind.REPLY, C, FAQ_PARKING)], id="reply"),
        pytest.param(
            ESCALATE_PHI,
            INVITE,
            [
                (ActionKind.HIDE, C, None),
                (ActionKind.REPLY, C, ESCALATION_ACK),
                (ActionKind.PRIVATE_REPLY, C, INVITE),
            ],
            id="escalate-phi",
        ),
        pytest.param(
            ESCALATE_HEALTH,
            INVITE,
            [
                (ActionKind.HIDE, C, None),
                (ActionKind.REPLY, C, ESCALATION_ACK),
                (ActionKind.PRIVATE_REPLY, C, INVITE),
            ],
            id="escalate-health-info",
        ),
        pytest.param(
            ESCALATE_NO_PHI,
            INVITE,
            [(ActionKind.REPLY, C, ESCALATION_ACK), (ActionKind.PRIVATE_REPLY, C, INVITE)],
            id="escalate-no-phi",
        ),
        pytest.param(
            ESCALATE_NO_PHI, None, [(ActionKind.REPLY, C, ESCALATION_ACK)], id="escalate-no-invite"
        ),
        pytest.param(
            EMERGENCY,
            INVITE,
            [(ActionKind.REPLY, C, EMERGENCY_REPLY), (ActionKind.PRIVATE_REPLY, C, INVITE)],
            id="emergency",
        ),
        pytest.param(
            EMERGENCY_PHI,
            None,
            [(ActionKind.HIDE, C, None), (ActionKind.REPLY, C, EMERGENCY_REPLY)],
            id="emergency-phi",
        ),
        pytest.param(IGNORE, INVITE, [(ActionKind.HIDE, C, None)], id="ignore"),
    ],
)
def test_plan_for_a_public_comment(
    choice: Decision, invite: str | None, expected: list[tuple[ActionKind, str, str | None]]
) -> None:
    actions = connector().plan(FB_COMMENT, choice, invite)
    assert planned(actions) == expected
    assert {(a.platform, a.account_id) for a in actions} <= {("meta", f"fb:{PAGE_ID}")}


@pytest.mark.parametrize(
    ("choice", "invite", "expected"),
    [
        pytest.param(REPLY, None, [(ActionKind.DIRECT, P, FAQ_PARKING)], id="reply"),
        pytest.param(ESCALATE_PHI, INVITE, [(ActionKind.DIRECT, P, INVITE)], id="escalate-phi"),
        pytest.param(ESCALATE_NO_PHI, INVITE, [(ActionKind.DIRECT, P, INVITE)], id="escalate"),
        pytest.param(
            ESCALATE_NO_PHI, None, [(ActionKind.DIRECT, P, ESCALATION_ACK)], id="escalate-no-invite"
        ),
        pytest.param(EMERGENCY, INVITE, [(ActionKind.DIRECT, P, EMERGENCY_REPLY)], id="emergency"),
        pytest.param(IGNORE, INVITE, [], id="ignore"),
    ],
)
def test_plan_for_a_direct_message(
    choice: Decision, invite: str | None, expected: list[tuple[ActionKind, str, str | None]]
) -> None:
    actions = connector().plan(DIRECT, choice, invite)
    assert planned(actions) == expected
    assert all(a.account_id == f"fb:{PAGE_ID}" for a in actions)


def test_plan_refuses_messages_from_other_platforms() -> None:
    other = FB_COMMENT.model_copy(update={"platform": "x", "account_id": None})
    with pytest.raises(ValueError, match="not a Meta message"):
        connector().plan(other, REPLY, None)


# --- send ----------------------------------------------------------------------------------


def action(kind: ActionKind, target: str, account: str, text: str | None = None) -> OutboundAction:
    return OutboundAction(
        kind=kind, platform="meta", target_id=target, text=text, account_id=account
    )


FB = f"fb:{PAGE_ID}"
IG = f"ig:{IG_ID}"
IG_COMMENT = "17989123456789012"


@pytest.mark.parametrize(
    ("outbound", "path", "payload"),
    [
        pytest.param(
            action(ActionKind.REPLY, C, FB, FAQ_PARKING),
            f"/v21.0/{C}/comments",
            {"message": FAQ_PARKING},
            id="facebook-reply",
        ),
        pytest.param(
            action(ActionKind.HIDE, C, FB), f"/v21.0/{C}", {"is_hidden": True}, id="facebook-hide"
        ),
        pytest.param(
            action(ActionKind.PRIVATE_REPLY, C, FB, INVITE),
            f"/v21.0/{PAGE_ID}/messages",
            {"recipient": {"comment_id": C}, "message": {"text": INVITE}},
            id="facebook-private-reply",
        ),
        pytest.param(
            action(ActionKind.REPLY, IG_COMMENT, IG, FAQ_PARKING),
            f"/v21.0/{IG_COMMENT}/replies",
            {"message": FAQ_PARKING},
            id="instagram-reply",
        ),
        pytest.param(
            action(ActionKind.HIDE, IG_COMMENT, IG),
            f"/v21.0/{IG_COMMENT}",
            {"hide": True},
            id="instagram-hide",
        ),
        pytest.param(
            action(ActionKind.PRIVATE_REPLY, IG_COMMENT, IG, INVITE),
            f"/v21.0/{IG_ID}/messages",
            {"recipient": {"comment_id": IG_COMMENT}, "message": {"text": INVITE}},
            id="instagram-private-reply",
        ),
        pytest.param(
            action(ActionKind.DIRECT, P, FB, INVITE),
            f"/v21.0/{PAGE_ID}/messages",
            {"recipient": {"id": P}, "messaging_type": "RESPONSE", "message": {"text": INVITE}},
            id="messenger",
        ),
        pytest.param(
            action(ActionKind.DIRECT, "1220573498861340", IG, INVITE),
            f"/v21.0/{IG_ID}/messages",
            {"recipient": {"id": "1220573498861340"}, "message": {"text": INVITE}},
            id="instagram-direct",
        ),
    ],
)
async def test_send_calls_the_graph_api_with_the_page_token(
    graph: Graph, session: ClientSession, outbound: OutboundAction, path: str, payload: object
) -> None:
    await connector(graph.url).send(session, outbound)
    [request] = graph.requests
    assert (request.path, request.json) == (path, payload)
    assert request.headers["Authorization"] == f"Bearer {PAGE_TOKEN}"
    assert PAGE_TOKEN not in path


async def test_planned_escalation_is_sent_in_order(graph: Graph, session: ClientSession) -> None:
    meta = connector(graph.url)
    [message] = meta.parse(fixture("instagram_comment.json"))
    for outbound in meta.plan(message, ESCALATE_PHI, INVITE):
        await meta.send(session, outbound)
    assert [request.path for request in graph.requests] == [
        f"/v21.0/{IG_COMMENT}",
        f"/v21.0/{IG_COMMENT}/replies",
        f"/v21.0/{IG_ID}/messages",
    ]


GRAPH_THROTTLED = {"error": {"message": "(#4) Application request limit reached", "code": 4}}
GRAPH_BAD_PARAM = {
    "error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100}
}


@pytest.mark.parametrize(
    ("status", "body", "retryable"),
    [
        pytest.param(429, {}, True, id="429"),
        pytest.param(503, {}, True, id="503"),
        pytest.param(500, "oops", True, id="500-without-graph-error"),
        pytest.param(400, GRAPH_BAD_PARAM, False, id="400"),
        pytest.param(403, {"error": {"code": 10}}, False, id="403"),
        pytest.param(400, GRAPH_THROTTLED, True, id="400-graph-throttling"),
        pytest.param(
            400, {"error": {"code": 9999, "is_transient": True}}, True, id="400-transient"
        ),
    ],
)
async def test_failed_call_raises_outbound_error_free_of_text_and_token(
    graph: Graph, session: ClientSession, status: int, body: object, retryable: bool
) -> None:
    graph.status, graph.body = status, body
    with pytest.raises(OutboundError) as caught:
        await connector(graph.url).send(session, action(ActionKind.REPLY, C, FB, FAQ_PARKING))
    assert (caught.value.status, caught.value.retryable) == (status, retryable)
    assert FAQ_PARKING not in str(caught.value)
    assert PAGE_TOKEN not in str(caught.value)


async def test_slow_graph_call_times_out_as_retryable(graph: Graph, session: ClientSession) -> None:
    graph.stall = True
    with pytest.raises(OutboundError) as caught:
        await connector(graph.url, timeout_s=0.05).send(session, action(ActionKind.HIDE, C, FB))
    assert (caught.value.status, caught.value.retryable) == (None, True)
    assert caught.value.uncertain  # the hide may be done: looked for before a resend
    assert caught.value.__cause__ is None


def ours(text: str, author: str = PAGE_ID, field: str = "message") -> dict[str, object]:
    return {"from": {"id": author}, field: text, "id": "1_9"}


@pytest.mark.parametrize(
    ("sent", "path", "answer", "done"),
    [
        pytest.param(action(ActionKind.HIDE, C, FB), C, {"is_hidden": True}, True, id="fb-hidden"),
        pytest.param(
            action(ActionKind.HIDE, IG_COMMENT, IG),
            IG_COMMENT,
            {"hidden": False},
            False,
            id="ig-shown",
        ),
        pytest.param(
            action(ActionKind.REPLY, C, FB, FAQ_PARKING),
            f"{C}/comments",
            {"data": [ours("Thanks!", author="5532019987431276"), ours(FAQ_PARKING)]},
            True,
            id="fb-reply-found",
        ),
        pytest.param(
            action(ActionKind.REPLY, C, FB, FAQ_PARKING),
            f"{C}/comments",
            {"data": [ours(FAQ_PARKING, author="5532019987431276")]},  # someone quoting us
            False,
            id="fb-reply-absent",
        ),
        pytest.param(
            action(ActionKind.REPLY, IG_COMMENT, IG, FAQ_PARKING),
            f"{IG_COMMENT}/replies",
            {"data": [ours(FAQ_PARKING, author=IG_ID, field="text")]},
            True,
            id="ig-reply-found",
        ),
        pytest.param(
            action(ActionKind.PRIVATE_REPLY, C, FB, INVITE),
            C,
            {"can_reply_privately": False},  # one private reply per comment: it was sent
            True,
            id="fb-private-reply-sent",
        ),
        pytest.param(
            action(ActionKind.PRIVATE_REPLY, IG_COMMENT, IG, INVITE),
            IG_COMMENT,
            {},
            None,
            id="ig-private-reply-unknown",
        ),
        pytest.param(
            action(ActionKind.DIRECT, P, FB, INVITE),
            f"{PAGE_ID}/conversations",
            {"data": [{"messages": {"data": [ours("hi", author=P), ours(INVITE)]}, "id": "t_1"}]},
            True,
            id="messenger-found",
        ),
        pytest.param(
            action(ActionKind.REPLY, C, FB, FAQ_PARKING), "elsewhere", {}, None, id="read-fails"
        ),
    ],
)
async def test_confirm_reads_back_whether_an_unanswered_action_was_done(
    graph: Graph,
    session: ClientSession,
    sent: OutboundAction,
    path: str,
    answer: object,
    done: bool | None,
) -> None:
    graph.reads[f"/v21.0/{path}"] = answer
    assert await connector(graph.url).confirm(session, sent) is done
    assert all(PAGE_TOKEN not in str(query) for query in graph.queries)


async def test_a_throttled_call_says_how_long_graph_asks_to_wait(
    graph: Graph, session: ClientSession
) -> None:
    graph.status, graph.body = 400, GRAPH_THROTTLED
    with pytest.raises(OutboundError) as caught:
        await connector(graph.url).send(session, action(ActionKind.HIDE, C, FB))
    # Without Retry-After or X-Business-Use-Case-Usage our own backoff applies.
    assert (caught.value.retryable, caught.value.retry_after_s) == (True, None)


async def test_unreachable_graph_is_retryable(session: ClientSession) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    meta = connector(f"http://127.0.0.1:{port}/v21.0")
    with pytest.raises(OutboundError) as caught:
        await meta.send(session, action(ActionKind.DIRECT, P, FB, INVITE))
    assert (caught.value.status, caught.value.retryable) == (None, True)
    assert not caught.value.uncertain  # never connected: surely not sent
    assert INVITE not in str(caught.value)
    assert PAGE_TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    "outbound",
    [
        pytest.param(action(ActionKind.REPLY, C, FB), id="reply-without-text"),
        pytest.param(action(ActionKind.HIDE, "1_2/../../me", FB), id="target-not-graph-id"),
        pytest.param(action(ActionKind.HIDE, C, "x:123"), id="unknown-account"),
    ],
)
async def test_unsendable_action_fails_without_calling_graph(
    graph: Graph, session: ClientSession, outbound: OutboundAction
) -> None:
    with pytest.raises(OutboundError) as caught:
        await connector(graph.url).send(session, outbound)
    assert caught.value.retryable is False
    assert graph.requests == []


# --- buttons, links and mentions -----------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "button"),
    [
        ("GET_STARTED", "welcome"),
        ("GET_STARTED@es", "welcome@es"),
        ("FAQ_PARKING", "faq/parking"),
        ("FAQ_BILLING_INSURANCE@ES", "faq/billing_insurance@es"),
        ("faq/visiting_hours@es", "faq/visiting_hours@es"),
        ("faq/parking", "faq/parking"),
        ("TALK_TO_NURSE", None),
        ("faq/", None),
        ("FAQ_PARKING@spanish", None),
        ("user@example.org", None),
    ],
)
def test_button_payload_convention(payload: str, button: str | None) -> None:
    assert button_of(payload, "GET_STARTED") == button


def test_get_started_postback_is_the_welcome_with_its_title() -> None:
    [message] = connector().parse(fixture("messenger_postback_get_started.json"))
    assert (message.kind, message.button, message.text) == (
        MessageKind.DIRECT,
        "welcome",
        "Get Started",
    )
    assert message.message_id.startswith("m_PbGs")
    assert message.author_id == "7301842265190011"


def test_a_configured_get_started_payload_is_the_welcome() -> None:
    body = fixture("messenger_postback_get_started.json").replace(b'"GET_STARTED"', b'"HELLO"')
    meta = MetaConnector(APP_SECRET, PAGE_TOKEN, "https://g.example", get_started="HELLO")
    assert [m.button for m in meta.parse(body)] == ["welcome"]


def test_menu_postback_names_its_faq_intent() -> None:
    [message] = connector().parse(fixture("messenger_postback_menu_faq.json"))
    assert (message.button, message.text) == ("faq/parking", "Parking")


def test_unknown_payload_is_triaged_by_its_title_or_counted_when_it_has_none() -> None:
    messages = connector().parse(fixture("messenger_postback_unknown.json"))
    assert [(m.button, m.text) for m in messages] == [(None, "Talk to a nurse")]
    assert ignored_kinds(messages) == {"unknown_payload": 1}


def test_quick_reply_carries_its_payload_and_its_text() -> None:
    [message] = connector().parse(fixture("messenger_quick_reply.json"))
    assert (message.button, message.text) == ("faq/visiting_hours@es", "Horario de visitas")


def test_referral_link_is_the_welcome_unless_its_ref_names_an_faq() -> None:
    messages = connector().parse(fixture("messenger_referral.json"))
    assert [m.button for m in messages] == ["faq/directions", "welcome"]
    # No mid in a referral: the sender and the time name it, so redeliveries dedupe.
    assert messages[0].message_id == "referral-7301842265190015-1733414000006"
    assert messages == connector().parse(fixture("messenger_referral.json"))


def test_receipts_reactions_and_echoes_are_counted_by_kind() -> None:
    messages = connector().parse(fixture("messenger_receipts_reactions.json"))
    assert messages == []
    assert ignored_kinds(messages) == {"delivery": 1, "read": 1, "reaction": 1, "echo": 1}


def test_removals_reactions_posts_and_our_own_comments_are_counted_by_kind() -> None:
    messages = connector().parse(fixture("feed_removals_reactions.json"))
    assert messages == []
    assert ignored_kinds(messages) == {"removal": 1, "reaction": 1, "post": 1, "own": 1}


def test_instagram_mention_is_recorded_by_ids_to_be_fetched() -> None:
    [comment] = connector().parse(fixture("instagram_mention_comment.json"))
    [caption] = connector().parse(fixture("instagram_mention_caption.json"))
    assert (comment.kind, comment.fetch, comment.text) == (MessageKind.MENTION, True, "")
    assert (comment.message_id, comment.thread_id) == ("17890455612398765", "18011257736543210")
    assert caption.message_id == caption.thread_id == "18027766554433221"
    assert comment.account_id == f"ig:{IG_ID}"


MENTION = InboundMessage(
    platform="meta",
    message_id="17890455612398765",
    kind=MessageKind.MENTION,
    author_id="rosa.m",
    text="@riverside where do visitors park?",
    thread_id="18011257736543210",
    account_id=f"ig:{IG_ID}",
)


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        pytest.param(
            REPLY, [(ActionKind.MENTION_REPLY, MENTION.message_id, FAQ_PARKING)], id="faq"
        ),
        pytest.param(
            EMERGENCY,
            [(ActionKind.MENTION_REPLY, MENTION.message_id, EMERGENCY_REPLY)],
            id="emergency",
        ),
        pytest.param(
            ESCALATE_NO_PHI,
            [(ActionKind.MENTION_REPLY, MENTION.message_id, ESCALATION_ACK)],
            id="escalate",
        ),
        # Someone else's media: no hide, no private reply, and no answer beside the PHI.
        pytest.param(ESCALATE_PHI, [], id="escalate-phi"),
        pytest.param(IGNORE, [], id="ignore"),
    ],
)
def test_plan_for_a_mention(
    choice: Decision, expected: list[tuple[ActionKind, str, str | None]]
) -> None:
    actions = connector().plan(MENTION, choice, INVITE)
    assert planned(actions) == expected
    assert all(a.thread_id == MENTION.thread_id for a in actions)


async def test_mention_reply_goes_to_the_mentions_edge(
    graph: Graph, session: ClientSession
) -> None:
    [action_] = connector(graph.url).plan(MENTION, REPLY, None)
    await connector(graph.url).send(session, action_)
    caption = action_.model_copy(update={"target_id": MENTION.thread_id})
    await connector(graph.url).send(session, caption)
    assert [(r.path, r.json) for r in graph.requests] == [
        (
            f"/v21.0/{IG_ID}/mentions",
            {
                "media_id": MENTION.thread_id,
                "comment_id": MENTION.message_id,
                "message": FAQ_PARKING,
            },
        ),
        (f"/v21.0/{IG_ID}/mentions", {"media_id": MENTION.thread_id, "message": FAQ_PARKING}),
    ]


async def test_mention_text_is_fetched_from_the_mentioned_comment_field(
    session: ClientSession,
) -> None:
    seen: list[dict[str, str]] = []

    async def read(request: web.Request) -> web.Response:
        seen.append(dict(request.query))
        if "mentioned_media" in request.query["fields"]:
            return web.json_response({"mentioned_media": {"id": "1"}, "id": IG_ID})
        found = {"text": "@riverside parking?", "username": "rosa.m", "id": "178"}
        return web.json_response({"mentioned_comment": found, "id": IG_ID})

    app = web.Application()
    app.router.add_get("/v21.0/{tail:.*}", read)
    async with TestServer(app) as server:
        meta = connector(str(server.make_url("/v21.0")))
        [mention] = meta.parse(fixture("instagram_mention_comment.json"))
        found = await meta.fetch_text(session, mention)
        [caption] = meta.parse(fixture("instagram_mention_caption.json"))
        bare = await meta.fetch_text(session, caption)
    assert found is not None
    assert (found.text, found.author_id, found.fetch) == ("@riverside parking?", "rosa.m", False)
    assert seen[0]["fields"] == (
        "mentioned_comment.comment_id(17890455612398765){text,username,timestamp}"
    )
    assert bare is None  # a caption-less photo: nothing to triage
