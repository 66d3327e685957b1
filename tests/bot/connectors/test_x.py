"""The X connector against its fixtures and a local aiohttp server playing the X API."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

from bot.connectors.base import (
    ActionKind,
    Connector,
    InboundMessage,
    MessageKind,
    OutboundAction,
    OutboundError,
    PartlyMalformed,
    SkipReason,
    ignored_kinds,
)
from bot.connectors.x import XConnector
from nlu.models import Decision

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

FIXTURES = Path(__file__).resolve().parents[3] / "bot" / "connectors" / "fixtures" / "x"

ACCOUNT = "1500000000000000001"
CONSUMER_SECRET = "z3ZX4v7mAAUGykl3EcmkqbartmuW8VFOOzCloLx9Q45P0hLrFu"
BEARER = "AAAAAAAAAAAAAAAAAAAAAtest-bearer-token"
ACK = "Thanks for reaching out. To protect your privacy, our team will message you privately."
INVITE = "Please continue with our team here: https://riverside.example/p/tok123"
SAFETY = "If this is an emergency, call 911 or go to the nearest emergency room now."
FAQ = "Visiting hours are 8am to 8pm every day."
# Text that must never come back in an error message.
SECRET_TEXT = "Jane Doe MRN 4455667 has diabetes"


def fixture(name: str) -> bytes:
    """The raw bytes of one webhook fixture."""
    return (FIXTURES / name).read_bytes()


def sign(body: bytes, secret: str = CONSUMER_SECRET) -> str:
    """The header value X would send for `body`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


@pytest.fixture
def connector() -> XConnector:
    return XConnector(CONSUMER_SECRET, BEARER, "https://api.x.invalid/2", account_id=ACCOUNT)


# --- construction -------------------------------------------------------------------------


def test_satisfies_the_connector_protocol() -> None:
    connector: Connector = XConnector(CONSUMER_SECRET, BEARER, "https://api.x.com/2")
    assert connector.platform == "x"


def test_repr_never_shows_secrets(connector: XConnector) -> None:
    text = repr(connector) + str(connector)
    assert CONSUMER_SECRET not in text
    assert BEARER not in text
    assert ACCOUNT in text


@pytest.mark.parametrize(
    ("secret", "token", "account"),
    [("", BEARER, None), (CONSUMER_SECRET, "", None), (CONSUMER_SECRET, BEARER, "@handle")],
)
def test_rejects_empty_secrets_and_non_numeric_account(
    secret: str, token: str, account: str | None
) -> None:
    with pytest.raises(ValueError, match="X "):
        XConnector(secret, token, "https://api.x.com/2", account_id=account)


# --- CRC and signatures -------------------------------------------------------------------


def test_crc_response_matches_known_vector(connector: XConnector) -> None:
    token = "9b4507b3-9040-4669-9ca3-6b94edb50553"
    digest = hmac.new(CONSUMER_SECRET.encode(), token.encode(), hashlib.sha256).digest()
    expected = "sha256=" + base64.b64encode(digest).decode()
    # Also computed outside Python: openssl dgst -sha256 -hmac SECRET -binary | base64
    assert expected == "sha256=Cytd4Sq+NvEcV3MMrXxWJGJx5A+y/lXzzU2Maartkx8="
    assert connector.crc_response(token) == {"response_token": expected}


def test_crc_response_depends_on_the_secret() -> None:
    other = XConnector("another-secret", BEARER, "https://api.x.com/2")
    mine = XConnector(CONSUMER_SECRET, BEARER, "https://api.x.com/2")
    assert other.crc_response("abc") != mine.crc_response("abc")


@pytest.mark.parametrize(
    "name",
    [
        "x-twitter-webhooks-signature",
        "X-Twitter-Webhooks-Signature",
        "X-TWITTER-WEBHOOKS-SIGNATURE",
    ],
)
def test_valid_signature_is_accepted_whatever_the_header_case(
    connector: XConnector, name: str
) -> None:
    body = fixture("mention.json")
    assert connector.verify(body, {name: sign(body)})
    assert connector.verify(body, CIMultiDict({name: sign(body)}))


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="missing"),
        pytest.param({"x-other-header": "x"}, id="other-header-only"),
        pytest.param({"x-twitter-webhooks-signature": ""}, id="empty"),
        pytest.param({"x-twitter-webhooks-signature": "sha256="}, id="empty-digest"),
        pytest.param({"x-twitter-webhooks-signature": "sha256=!!not-base64!!"}, id="not-base64"),
        pytest.param({"x-twitter-webhooks-signature": "sha256=é"}, id="non-ascii"),
        pytest.param({"x-twitter-webhooks-signature": "sha256=AAAA"}, id="short-digest"),
    ],
)
def test_missing_or_malformed_signature_is_rejected(
    connector: XConnector, headers: dict[str, str]
) -> None:
    assert not connector.verify(fixture("mention.json"), headers)


def test_signature_without_prefix_or_with_other_algorithm_is_rejected(
    connector: XConnector,
) -> None:
    body = fixture("mention.json")
    digest = sign(body).removeprefix("sha256=")
    header = "x-twitter-webhooks-signature"
    assert not connector.verify(body, {header: digest})
    assert not connector.verify(body, {header: "sha1=" + digest})


def test_signature_with_wrong_secret_or_tampered_body_is_rejected(
    connector: XConnector,
) -> None:
    body = fixture("mention.json")
    header = "x-twitter-webhooks-signature"
    assert not connector.verify(body, {header: sign(body, secret="not-the-secret")})
    assert not connector.verify(body + b" ", {header: sign(body)})


# --- parse --------------------------------------------------------------------------------


def test_parse_mention(connector: XConnector) -> None:
    assert connector.parse(fixture("mention.json")) == [
        InboundMessage(
            platform="x",
            message_id="1897000000000000101",
            kind=MessageKind.MENTION,
            author_id="3300000000000000003",
            text="@RiversideHealth what are the visiting hours this weekend?",
            thread_id="1897000000000000101",
            account_id=ACCOUNT,
            author_name="samvisits",
        )
    ]


def test_parse_reply_belongs_to_the_tweet_it_answers(connector: XConnector) -> None:
    [message] = connector.parse(fixture("reply_thread.json"))
    assert message.kind is MessageKind.MENTION
    assert message.message_id == "1897000000000000202"
    assert message.thread_id == "1896000000000000050"
    assert message.author_id == "4400000000000000004"


def test_parse_prefers_the_full_text_of_a_long_tweet(connector: XConnector) -> None:
    [message] = connector.parse(fixture("extended_tweet.json"))
    assert message.text.startswith("@RiversideHealth I have a question")
    assert message.text.endswith("Who should I call about billing and insurance questions?")
    assert "…" not in message.text


def test_parse_direct_message(connector: XConnector) -> None:
    assert connector.parse(fixture("dm.json")) == [
        InboundMessage(
            platform="x",
            message_id="1897000000000000404",
            kind=MessageKind.DIRECT,
            author_id="6600000000000000006",
            text="Hi, how do I request a copy of my medical records?",
            thread_id="6600000000000000006",
            account_id=ACCOUNT,
            author_name="caseyrecords",
        )
    ]


def test_parse_batch_skips_own_posts_retweets_and_other_events(connector: XConnector) -> None:
    messages = connector.parse(fixture("batch.json"))
    assert [(m.kind, m.message_id, m.author_id) for m in messages] == [
        (MessageKind.MENTION, "1897000000000000503", "8800000000000000008"),
        (MessageKind.DIRECT, "1897000000000000602", "6600000000000000006"),
    ]
    assert messages[0].thread_id == "1897000000000000501"


def test_parse_event_types_we_do_not_triage_give_nothing(connector: XConnector) -> None:
    assert connector.parse(fixture("follow.json")) == []
    assert connector.parse(b"{}") == []


def test_parse_skips_direct_message_events_other_than_message_create(
    connector: XConnector,
) -> None:
    body = {"for_user_id": ACCOUNT, "direct_message_events": [{"type": "reaction_create"}]}
    assert connector.parse(json.dumps(body).encode()) == []


def test_parse_falls_back_to_the_configured_account(connector: XConnector) -> None:
    payload = json.loads(fixture("batch.json"))
    del payload["for_user_id"]
    messages = connector.parse(json.dumps(payload).encode())
    assert [m.message_id for m in messages] == ["1897000000000000503", "1897000000000000602"]
    assert {m.account_id for m in messages} == {ACCOUNT}


def test_parse_uses_for_user_id_when_no_account_is_configured() -> None:
    connector = XConnector(CONSUMER_SECRET, BEARER, "https://api.x.com/2")
    messages = connector.parse(fixture("batch.json"))
    assert [m.message_id for m in messages] == ["1897000000000000503", "1897000000000000602"]


def _tweet(**changes: object) -> dict[str, object]:
    tweet: dict[str, object] = {
        "id_str": "1897000000000000999",
        "text": SECRET_TEXT,
        "user": {"id_str": "3300000000000000003", "screen_name": "someone"},
    }
    tweet.update(changes)
    return {"for_user_id": ACCOUNT, "tweet_create_events": [tweet]}


def _dm(**changes: object) -> dict[str, object]:
    event: dict[str, object] = {
        "type": "message_create",
        "id": "1897000000000000998",
        "message_create": {
            "sender_id": "6600000000000000006",
            "target": {"recipient_id": ACCOUNT},
            "message_data": {"text": SECRET_TEXT},
        },
    }
    event.update(changes)
    return {"for_user_id": ACCOUNT, "direct_message_events": [event]}


NOT_A_DELIVERY: list[object] = [
    pytest.param(SECRET_TEXT.encode(), id="not-json"),
    pytest.param(b'{"text": "' + SECRET_TEXT.encode() + b'"', id="truncated-json"),
    pytest.param(SECRET_TEXT.encode("utf-16"), id="not-utf8"),
    pytest.param(json.dumps([SECRET_TEXT]).encode(), id="array"),
    pytest.param(json.dumps(SECRET_TEXT).encode(), id="string"),
]


@pytest.mark.parametrize("body", NOT_A_DELIVERY)
def test_body_that_is_no_json_object_raises_value_error_without_echo(
    connector: XConnector, body: bytes
) -> None:
    with pytest.raises(ValueError, match="malformed X webhook body") as caught:
        connector.parse(body)
    assert not isinstance(caught.value, PartlyMalformed)
    assert "Jane" not in str(caught.value)


MALFORMED_ITEM: list[object] = [
    pytest.param(json.dumps({"tweet_create_events": SECRET_TEXT}).encode(), id="events-not-list"),
    pytest.param(json.dumps(_tweet(id_str=None)).encode(), id="tweet-without-id"),
    pytest.param(json.dumps(_tweet(id_str=SECRET_TEXT)).encode(), id="tweet-id-not-numeric"),
    pytest.param(json.dumps(_tweet(id_str="123\n")).encode(), id="tweet-id-trailing-newline"),
    pytest.param(json.dumps(_tweet(id_str="1" * 21)).encode(), id="tweet-id-too-long"),
    pytest.param(json.dumps(_tweet(id_str=1897000000000000999)).encode(), id="tweet-id-number"),
    pytest.param(json.dumps(_tweet(text=None)).encode(), id="tweet-without-text"),
    pytest.param(json.dumps(_tweet(user=SECRET_TEXT)).encode(), id="tweet-user-not-object"),
    pytest.param(
        json.dumps(_tweet(in_reply_to_status_id_str=SECRET_TEXT)).encode(), id="reply-to-not-id"
    ),
    pytest.param(
        json.dumps(_tweet(extended_tweet={"text": SECRET_TEXT})).encode(), id="extended-no-full"
    ),
    pytest.param(json.dumps({"for_user_id": SECRET_TEXT}).encode(), id="for-user-id-not-numeric"),
    pytest.param(json.dumps(_dm(id=None)).encode(), id="dm-without-id"),
    pytest.param(json.dumps(_dm(message_create=None)).encode(), id="dm-without-message"),
    pytest.param(
        json.dumps(_dm(message_create={"sender_id": "1", "message_data": {}})).encode(),
        id="dm-message-incomplete",
    ),
]


@pytest.mark.parametrize("body", MALFORMED_ITEM)
def test_malformed_item_is_reported_by_place_and_reason_without_echo(
    connector: XConnector, body: bytes
) -> None:
    with pytest.raises(PartlyMalformed) as caught:
        connector.parse(body)
    assert caught.value.messages == []
    for problem in caught.value.problems:
        assert problem.reason in set(SkipReason)
        assert "Jane" not in str(problem)
        assert "4455667" not in str(problem)
    # The pydantic error quotes the input: a traceback must not show it as cause or context.
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


def _several(*tweets: dict[str, object], dms: tuple[dict[str, object], ...] = ()) -> bytes:
    good = json.loads(fixture("mention.json"))["tweet_create_events"][0]
    dm = json.loads(fixture("dm.json"))["direct_message_events"][0]
    return json.dumps(
        {
            "for_user_id": ACCOUNT,
            "tweet_create_events": [good, *tweets],
            "direct_message_events": [dm, *dms],
        }
    ).encode()


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        pytest.param({"id_str": "1897000000000000901", "text": SECRET_TEXT}, "missing_field"),
        pytest.param(
            {"id_str": "1897000000000000902", "text": 42, "user": {"id_str": "77"}}, "wrong_type"
        ),
        pytest.param(
            {"id_str": "19\ud800", "text": SECRET_TEXT, "user": {"id_str": "77"}}, "bad_value"
        ),
        pytest.param(SECRET_TEXT, "wrong_type"),
    ],
)
def test_one_bad_tweet_costs_only_itself(connector: XConnector, bad: object, reason: str) -> None:
    body = _several(bad)  # type: ignore[arg-type]
    with pytest.raises(PartlyMalformed) as caught:
        connector.parse(body)
    assert [m.kind for m in caught.value.messages] == [MessageKind.MENTION, MessageKind.DIRECT]
    [problem] = caught.value.problems
    assert problem.where.startswith("tweet_create_events[1]")
    assert problem.reason == reason
    assert "Jane" not in str(problem)


def test_one_bad_dm_costs_only_itself(connector: XConnector) -> None:
    bad = {"type": "message_create", "id": "1897000000000000903", "message_create": SECRET_TEXT}
    incomplete = {"type": "message_create", "id": "1897000000000000904"}
    with pytest.raises(PartlyMalformed) as caught:
        connector.parse(_several(dms=(bad, incomplete)))
    assert len(caught.value.messages) == 2
    assert [(p.where, p.reason) for p in caught.value.problems] == [
        ("direct_message_events[1].message_create", SkipReason.WRONG_TYPE),
        ("direct_message_events[2].message_create", SkipReason.MISSING),
    ]


def test_lone_surrogate_in_a_text_is_read_not_refused(connector: XConnector) -> None:
    body = json.dumps(_tweet(text="it hurts \ud800 here")).encode()
    assert b"\\ud800" in body
    [message] = connector.parse(body)
    assert message.text == "it hurts \ufffd here"


def test_a_bad_user_entry_costs_the_name_only(connector: XConnector) -> None:
    body = json.loads(fixture("dm.json"))
    sender = body["direct_message_events"][0]["message_create"]["sender_id"]
    body["users"] = {sender: SECRET_TEXT}
    [message] = connector.parse(json.dumps(body).encode())
    assert message.author_name is None


# --- plan ---------------------------------------------------------------------------------

MENTION = InboundMessage(
    platform="x",
    message_id="1897000000000000101",
    kind=MessageKind.MENTION,
    author_id="3300000000000000003",
    text="@RiversideHealth question",
    thread_id="1897000000000000101",
    account_id=ACCOUNT,
)
REPLY_TWEET = MENTION.model_copy(
    update={"message_id": "1897000000000000202", "thread_id": "1896000000000000050"}
)
DM = InboundMessage(
    platform="x",
    message_id="1897000000000000404",
    kind=MessageKind.DIRECT,
    author_id="6600000000000000006",
    text="question",
    thread_id="6600000000000000006",
    account_id=ACCOUNT,
)

R, H, D = ActionKind.REPLY, ActionKind.HIDE, ActionKind.DIRECT
M_ID, RT_ID, M_AUTHOR = MENTION.message_id, REPLY_TWEET.message_id, MENTION.author_id
DM_AUTHOR = DM.author_id

PLANS: list[object] = [
    pytest.param(MENTION, "reply", [], FAQ, None, [(R, M_ID, FAQ)], id="mention-reply"),
    pytest.param(MENTION, "reply", [], None, INVITE, [], id="mention-reply-without-text"),
    pytest.param(
        REPLY_TWEET,
        "escalate",
        ["phi:PERSON", "medical_advice"],
        ACK,
        INVITE,
        [(H, RT_ID, None), (R, RT_ID, ACK), (D, M_AUTHOR, INVITE)],
        id="reply-escalate-phi-hides-first",
    ),
    pytest.param(
        REPLY_TWEET,
        "escalate",
        ["health_info"],
        ACK,
        None,
        [(H, RT_ID, None), (R, RT_ID, ACK)],
        id="reply-escalate-health-info-no-invite",
    ),
    pytest.param(
        REPLY_TWEET,
        "escalate",
        ["complaint", "phi_like_but_not_phi"],
        ACK,
        INVITE,
        [(R, RT_ID, ACK), (D, M_AUTHOR, INVITE)],
        id="reply-escalate-without-phi-does-not-hide",
    ),
    pytest.param(
        MENTION,
        "escalate",
        ["phi:US_SSN"],
        ACK,
        INVITE,
        [(R, M_ID, ACK), (D, M_AUTHOR, INVITE)],
        id="top-level-mention-cannot-be-hidden",
    ),
    pytest.param(
        REPLY_TWEET,
        "escalate",
        ["phi:PERSON"],
        None,
        None,
        [(H, RT_ID, None)],
        id="escalate-without-ack-or-invite-only-hides",
    ),
    pytest.param(
        REPLY_TWEET,
        "emergency",
        ["emergency", "phi:PERSON"],
        SAFETY,
        INVITE,
        [(R, RT_ID, SAFETY), (H, RT_ID, None), (D, M_AUTHOR, INVITE)],
        id="reply-emergency-answers-first",
    ),
    pytest.param(
        MENTION,
        "emergency",
        ["emergency"],
        SAFETY,
        None,
        [(R, M_ID, SAFETY)],
        id="mention-emergency",
    ),
    pytest.param(MENTION, "ignore", ["spam", "phi:PERSON"], ACK, INVITE, [], id="mention-ignore"),
    pytest.param(DM, "reply", [], FAQ, INVITE, [(D, DM_AUTHOR, FAQ)], id="dm-reply"),
    pytest.param(
        DM,
        "escalate",
        ["phi:PERSON"],
        ACK,
        INVITE,
        [(D, DM_AUTHOR, INVITE)],
        id="dm-escalate-invite",
    ),
    pytest.param(
        DM, "escalate", ["phi:PERSON"], ACK, None, [(D, DM_AUTHOR, ACK)], id="dm-escalate-ack"
    ),
    pytest.param(
        DM,
        "emergency",
        ["emergency"],
        SAFETY,
        INVITE,
        [(D, DM_AUTHOR, SAFETY), (D, DM_AUTHOR, INVITE)],
        id="dm-emergency",
    ),
    pytest.param(
        DM,
        "emergency",
        ["emergency"],
        SAFETY,
        None,
        [(D, DM_AUTHOR, SAFETY)],
        id="dm-emergency-no-invite",
    ),
    pytest.param(DM, "ignore", ["spam"], FAQ, INVITE, [], id="dm-ignore"),
]


@pytest.mark.parametrize(("message", "action", "reasons", "reply", "invite", "expected"), PLANS)
def test_plan(
    connector: XConnector,
    message: InboundMessage,
    action: str,
    reasons: list[str],
    reply: str | None,
    invite: str | None,
    expected: list[tuple[ActionKind, str, str | None]],
) -> None:
    decision = Decision.model_validate(
        {"id": "d-1", "action": action, "reasons": reasons, "reply": reply}
    )
    planned = connector.plan(message, decision, invite)
    assert [(a.kind, a.target_id, a.text) for a in planned] == expected
    assert all(a.platform == "x" and a.account_id == ACCOUNT for a in planned)


def test_plan_nothing_for_messages_that_are_not_from_x(connector: XConnector) -> None:
    api = MENTION.model_copy(update={"kind": MessageKind.API})
    decision = Decision(id="d-1", action="reply", reply=FAQ)
    assert connector.plan(api, decision, INVITE) == []


# --- send ---------------------------------------------------------------------------------


@dataclass
class Recorded:
    """One request the fake X API received."""

    method: str
    path: str
    authorization: str | None
    content_type: str
    body: object


@dataclass
class FakeX:
    """A local server playing the X API v2; `status` overrides its answers."""

    api_url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    status: int | None = None
    stall: bool = False
    release: asyncio.Event = field(default_factory=asyncio.Event)
    # What reads answer: our latest posts and the DM conversation's latest events.
    timeline: list[dict[str, object]] = field(default_factory=list)
    dm_events: list[dict[str, object]] = field(default_factory=list)


@pytest.fixture
async def fake_x() -> AsyncIterator[FakeX]:
    state = FakeX()

    def handler(status: int, data: dict[str, object]) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            state.requests.append(
                Recorded(
                    method=request.method,
                    path=request.path,
                    authorization=request.headers.get("Authorization"),
                    content_type=request.content_type,
                    body=await request.json(),
                )
            )
            if state.stall:
                await state.release.wait()
            if state.status is not None:
                return web.json_response({"title": "Error"}, status=state.status)
            return web.json_response({"data": data}, status=status)

        return handle

    async def timeline(request: web.Request) -> web.Response:
        if state.status is not None or request.match_info["id"] != ACCOUNT:
            return web.json_response({"title": "Error"}, status=state.status or 404)
        return web.json_response({"data": state.timeline})

    async def dm_events(request: web.Request) -> web.Response:
        if state.status is not None:
            return web.json_response({"title": "Error"}, status=state.status)
        return web.json_response({"data": state.dm_events})

    app = web.Application()
    app.router.add_get("/2/users/{id}/tweets", timeline)
    app.router.add_get("/2/dm_conversations/with/{id}/dm_events", dm_events)
    app.router.add_post("/2/tweets", handler(201, {"id": "1897000000000009999", "text": "ok"}))
    app.router.add_put("/2/tweets/{id}/hidden", handler(200, {"hidden": True}))
    app.router.add_post(
        "/2/dm_conversations/with/{id}/messages",
        handler(201, {"dm_conversation_id": "1-2", "dm_event_id": "1897000000000008888"}),
    )
    async with TestServer(app) as server:
        state.api_url = str(server.make_url("/2"))
        yield state
        state.release.set()


@pytest.fixture
async def session() -> AsyncIterator[ClientSession]:
    async with ClientSession() as client:
        yield client


def live(fake: FakeX, timeout_s: float = 10.0) -> XConnector:
    """A connector that talks to the fake X API."""
    return XConnector(CONSUMER_SECRET, BEARER, fake.api_url, ACCOUNT, timeout_s=timeout_s)


def action(kind: ActionKind, target: str, text: str | None = None) -> OutboundAction:
    return OutboundAction(kind=kind, platform="x", target_id=target, text=text, account_id=ACCOUNT)


async def test_send_reply_posts_a_tweet_in_reply(fake_x: FakeX, session: ClientSession) -> None:
    await live(fake_x).send(session, action(R, "1897000000000000101", FAQ))
    assert fake_x.requests == [
        Recorded(
            method="POST",
            path="/2/tweets",
            authorization=f"Bearer {BEARER}",
            content_type="application/json",
            body={"text": FAQ, "reply": {"in_reply_to_tweet_id": "1897000000000000101"}},
        )
    ]


async def test_send_hide_puts_hidden_true(fake_x: FakeX, session: ClientSession) -> None:
    await live(fake_x).send(session, action(H, "1897000000000000202"))
    assert fake_x.requests == [
        Recorded(
            method="PUT",
            path="/2/tweets/1897000000000000202/hidden",
            authorization=f"Bearer {BEARER}",
            content_type="application/json",
            body={"hidden": True},
        )
    ]


async def test_send_direct_messages_the_participant(fake_x: FakeX, session: ClientSession) -> None:
    await live(fake_x).send(session, action(D, "6600000000000000006", INVITE))
    assert fake_x.requests == [
        Recorded(
            method="POST",
            path="/2/dm_conversations/with/6600000000000000006/messages",
            authorization=f"Bearer {BEARER}",
            content_type="application/json",
            body={"text": INVITE},
        )
    ]


async def test_api_url_with_trailing_slash(fake_x: FakeX, session: ClientSession) -> None:
    connector = XConnector(CONSUMER_SECRET, BEARER, fake_x.api_url + "/")
    await connector.send(session, action(H, "1897000000000000202"))
    assert [r.path for r in fake_x.requests] == ["/2/tweets/1897000000000000202/hidden"]


async def test_parsed_escalation_is_planned_and_sent_in_order(
    fake_x: FakeX, session: ClientSession
) -> None:
    connector = live(fake_x)
    [message] = connector.parse(fixture("reply_thread.json"))
    decision = Decision(id="d-2", action="escalate", reasons=["phi:PERSON"], reply=ACK)
    for planned in connector.plan(message, decision, INVITE):
        await connector.send(session, planned)
    assert [(r.method, r.path, r.body) for r in fake_x.requests] == [
        ("PUT", "/2/tweets/1897000000000000202/hidden", {"hidden": True}),
        (
            "POST",
            "/2/tweets",
            {"text": ACK, "reply": {"in_reply_to_tweet_id": "1897000000000000202"}},
        ),
        ("POST", "/2/dm_conversations/with/4400000000000000004/messages", {"text": INVITE}),
    ]


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (302, False),
    ],
)
async def test_http_errors(
    fake_x: FakeX, session: ClientSession, status: int, retryable: bool
) -> None:
    fake_x.status = status
    with pytest.raises(OutboundError) as caught:
        await live(fake_x).send(session, action(R, "1897000000000000101", SECRET_TEXT))
    assert caught.value.status == status
    assert caught.value.retryable is retryable
    assert str(status) in str(caught.value)
    assert SECRET_TEXT not in str(caught.value)
    assert BEARER not in str(caught.value)
    assert len(fake_x.requests) == 1


async def test_timeout_is_retryable(fake_x: FakeX, session: ClientSession) -> None:
    fake_x.stall = True
    with pytest.raises(OutboundError) as caught:
        await live(fake_x, timeout_s=0.2).send(session, action(D, "6600000000000000006", INVITE))
    assert caught.value.retryable
    assert caught.value.uncertain  # the DM may have gone out: looked for before a resend
    assert caught.value.status is None
    assert INVITE not in str(caught.value)
    assert BEARER not in str(caught.value)


async def test_connection_refused_is_retryable(session: ClientSession) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port once the probe is closed.
    connector = XConnector(CONSUMER_SECRET, BEARER, f"http://127.0.0.1:{port}/2")
    with pytest.raises(OutboundError) as caught:
        await connector.send(session, action(R, "1897000000000000101", SECRET_TEXT))
    assert caught.value.retryable
    assert not caught.value.uncertain  # never connected: surely not sent
    assert caught.value.status is None
    assert SECRET_TEXT not in str(caught.value)
    assert BEARER not in str(caught.value)


TWEET = "1897000000000000101"
PERSON = "6600000000000000006"


def reply_to(tweet_id: str) -> dict[str, object]:
    return {
        "id": "1897000000000000777",
        "referenced_tweets": [{"type": "replied_to", "id": tweet_id}],
    }


@pytest.mark.parametrize(
    ("timeline", "dm_events", "sent", "done"),
    [
        pytest.param([reply_to(TWEET)], [], action(R, TWEET, FAQ), True, id="reply-found"),
        pytest.param(
            [reply_to("1897000000000000999")], [], action(R, TWEET, FAQ), False, id="reply-absent"
        ),
        pytest.param(
            [],
            # X shortens links: any link reads the same.
            [{"sender_id": ACCOUNT, "text": "Please continue with our team here: https://t.co/x1"}],
            action(D, PERSON, INVITE),
            True,
            id="dm-found",
        ),
        pytest.param(
            [],
            [{"sender_id": PERSON, "text": INVITE}],
            action(D, PERSON, INVITE),
            False,
            id="dm-from-them-not-us",
        ),
        pytest.param([], [], action(H, TWEET), None, id="hide-cannot-be-read"),
    ],
)
async def test_confirm_reads_back_whether_an_unanswered_action_was_done(
    fake_x: FakeX,
    session: ClientSession,
    timeline: list[dict[str, object]],
    dm_events: list[dict[str, object]],
    sent: OutboundAction,
    done: bool | None,
) -> None:
    fake_x.timeline, fake_x.dm_events = timeline, dm_events
    assert await live(fake_x).confirm(session, sent) is done


async def test_confirm_is_unknown_when_x_does_not_answer(
    fake_x: FakeX, session: ClientSession
) -> None:
    fake_x.status = 503
    assert await live(fake_x).confirm(session, action(R, TWEET, FAQ)) is None


async def test_a_rate_limited_call_says_how_long_to_wait(
    fake_x: FakeX, session: ClientSession
) -> None:
    fake_x.status = 429
    with pytest.raises(OutboundError) as caught:
        await live(fake_x).send(session, action(R, TWEET, FAQ))
    # No Retry-After and no x-rate-limit-reset from this fake: our own backoff applies.
    assert (caught.value.retryable, caught.value.retry_after_s) == (True, None)


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(action(H, "../users/1"), id="target-not-an-id"),
        pytest.param(action(D, "6600000000000000006/../../tweets"), id="target-with-path"),
        pytest.param(action(R, "1897000000000000101"), id="reply-without-text"),
        pytest.param(action(D, "6600000000000000006", ""), id="direct-with-empty-text"),
        pytest.param(action(ActionKind.PRIVATE_REPLY, "1", INVITE), id="private-reply"),
        pytest.param(
            OutboundAction(kind=R, platform="meta", target_id="1", text=FAQ), id="other-platform"
        ),
    ],
)
async def test_actions_x_cannot_perform_fail_without_a_request(
    fake_x: FakeX, session: ClientSession, bad: OutboundAction
) -> None:
    with pytest.raises(OutboundError) as caught:
        await live(fake_x).send(session, bad)
    assert not caught.value.retryable
    assert caught.value.status is None
    assert fake_x.requests == []


def test_account_activity_events_not_triaged_are_counted_by_kind(connector: XConnector) -> None:
    messages = connector.parse(fixture("batch.json"))
    assert len(messages) == 2
    # Our own posts and DMs, and a repost, besides a like and a typing indicator.
    assert ignored_kinds(messages) == {
        "own_or_repost": 3,
        "favorite": 1,
        "direct_message_indicate_typing": 1,
    }
    assert ignored_kinds(connector.parse(fixture("follow.json"))) == {"follow": 1}
