"""X end to end: signed Account Activity and X Activity webhooks into the real app, a local
server as X's API."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from redis.asyncio import Redis

from bot.app import create_app
from bot.settings import Settings
from escalation import keys
from tests.hangs import close_within

FIXTURES = Path(__file__).resolve().parents[2] / "bot" / "connectors" / "fixtures" / "x"
XAA = FIXTURES / "xaa"
ACCOUNT = "1500000000000000001"
SECRET = "x-consumer-secret-for-tests"


class XApi:
    """A local stand-in for api.x.com/2 that records every call."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.app = web.Application()
        self.app.router.add_route("*", "/2/{path:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        payload = await request.json() if request.can_read_body else None
        self.calls.append({"path": request.match_info["path"], "json": payload})
        return web.json_response({"data": {"id": "1897000000000009999"}}, status=201)

    async def about(self, needle: str, count: int) -> list[dict[str, Any]]:
        """Calls mentioning `needle` once `count` of them arrived (bounded wait)."""
        for _ in range(200):
            found = [c for c in self.calls if needle in json.dumps(c)]
            if len(found) >= count:
                await asyncio.sleep(0.2)  # room for a wrong extra call to show
                return [c for c in self.calls if needle in json.dumps(c)]
            await asyncio.sleep(0.05)
        return [c for c in self.calls if needle in json.dumps(c)]


@pytest.fixture(scope="module")
async def x_api() -> AsyncIterator[tuple[XApi, str]]:
    api = XApi()
    server = TestServer(api.app)
    await server.start_server()
    try:
        yield api, str(server.make_url("/2"))
    finally:
        await close_within(server, "the local X API")


@pytest.fixture(scope="module")
async def client(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, x_api: tuple[XApi, str]
) -> AsyncIterator[TestClient]:
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path_factory.mktemp("var"),
        redis_url=SecretStr(redis_url),
        x_consumer_secret=SecretStr(SECRET),
        x_bearer_token=SecretStr("bearer"),
        x_api_url=x_api[1],
        x_account_id=ACCOUNT,
        workers=1,
        outbound_attempts=2,
        shutdown_grace_s=4,
    )
    # Closed before the local platform server (pytest tears fixtures down in reverse).
    test_client = TestClient(TestServer(create_app(settings)))
    await test_client.start_server()
    try:
        yield test_client
    finally:
        await close_within(test_client, "the app under its test client")


def signed(body: bytes) -> dict[str, str]:
    digest = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return {"x-twitter-webhooks-signature": f"sha256={digest}", "Content-Type": "application/json"}


def mention(tweet_id: str, text: str, in_reply_to: str | None = None) -> bytes:
    body = json.loads((FIXTURES / "mention.json").read_text())
    event = body["tweet_create_events"][0]
    event.update(id=int(tweet_id), id_str=tweet_id, text=text)
    if in_reply_to is not None:  # a reply under one of our posts: X lets us hide it
        event.update(in_reply_to_status_id=int(in_reply_to), in_reply_to_status_id_str=in_reply_to)
    return json.dumps(body).encode()


def direct(event_id: str, text: str) -> bytes:
    body = json.loads((FIXTURES / "dm.json").read_text())
    event = body["direct_message_events"][0]
    event["id"] = event_id
    event["message_create"]["message_data"]["text"] = text
    return json.dumps(body).encode()


async def test_crc_challenge_is_answered(client: TestClient) -> None:
    response = await client.get("/webhooks/x", params={"crc_token": "abc"})
    assert response.status == 200
    expected = base64.b64encode(hmac.new(SECRET.encode(), b"abc", hashlib.sha256).digest())
    assert (await response.json())["response_token"] == f"sha256={expected.decode()}"


async def test_routine_mention_gets_a_public_reply(
    client: TestClient, x_api: tuple[XApi, str]
) -> None:
    body = mention("1897000000000000111", "@RiversideHealth what are the visiting hours?")
    assert (await client.post("/webhooks/x", data=body, headers=signed(body))).status == 200
    [call] = await x_api[0].about("1897000000000000111", 1)
    assert call["path"] == "tweets"
    assert call["json"]["reply"] == {"in_reply_to_tweet_id": "1897000000000000111"}


async def test_phi_mention_is_hidden_and_acknowledged_without_repeating_it(
    client: TestClient, x_api: tuple[XApi, str]
) -> None:
    text = "@RiversideHealth I'm Dana Whitfield, MRN 5566778, my dialysis was moved again"
    body = mention("1897000000000000222", text, in_reply_to="1897000000000000001")
    assert (await client.post("/webhooks/x", data=body, headers=signed(body))).status == 200
    calls = await x_api[0].about("1897000000000000222", 2)
    assert [c["path"] for c in calls] == ["tweets/1897000000000000222/hidden", "tweets"]
    [invite] = await x_api[0].about("dm_conversations/with/3300000000000000003", 1)
    assert "/p/" in invite["json"]["text"]
    sent = json.dumps([c["json"] for c in [*calls, invite]]).lower()
    for part in ("dana", "whitfield", "5566778", "dialysis"):
        assert part not in sent


async def test_phi_direct_message_gets_the_private_invite_once(
    client: TestClient, x_api: tuple[XApi, str]
) -> None:
    body = direct("1897000000000000333", "my mrn is 7788990, are my biopsy results back?")
    earlier = len(x_api[0].calls)  # the module's tests share the sender's conversation
    for _ in range(3):  # redelivered
        assert (await client.post("/webhooks/x", data=body, headers=signed(body))).status == 200
    sender = "6600000000000000006"
    needle = f"dm_conversations/with/{sender}"
    prior = sum(needle in json.dumps(c) for c in x_api[0].calls[:earlier])
    await x_api[0].about(needle, prior + 1)
    [call] = [c for c in x_api[0].calls[earlier:] if needle in json.dumps(c)]
    assert "/p/" in call["json"]["text"]
    assert "7788990" not in call["json"]["text"]
    assert "biopsy" not in call["json"]["text"]


async def test_wrong_signature_is_refused(client: TestClient) -> None:
    body = mention("1897000000000000444", "@RiversideHealth hi")
    headers = signed(body + b" ")
    assert (await client.post("/webhooks/x", data=body, headers=headers)).status == 403


# --- X Activity API ----------------------------------------------------------------------


def xaa_post(
    event_uuid: str,
    post_id: str,
    text: str,
    author: str,
    in_reply_to: str | None = None,
) -> bytes:
    """An XAA mention (or, with `in_reply_to`, a reply) shaped like X's sample."""
    name = "post_reply_create.json" if in_reply_to else "post_mention_create.json"
    delivery = json.loads((XAA / name).read_text())
    event = delivery["data"]
    event.update(event_uuid=event_uuid, filter={"user_id": ACCOUNT}, includes={})
    event["payload"].update(id=post_id, text=text, author_id=author)
    if in_reply_to is not None:
        event["payload"].update(in_reply_to_tweet_id=in_reply_to, in_reply_to_user_id=ACCOUNT)
        event["payload"]["referenced_tweets"] = [{"type": "replied_to", "id": in_reply_to}]
    return json.dumps(delivery).encode()


def xaa_dm(event_uuid: str, event_id: str, text: str, sender: str) -> bytes:
    """An XAA dm.received shaped like X's sample."""
    delivery = json.loads((XAA / "dm_received.json").read_text())
    delivery["data"].update(event_uuid=event_uuid, filter={"user_id": ACCOUNT})
    dm = delivery["data"]["payload"]["direct_message_events"][0]
    dm["id"] = event_id
    dm["message_create"].update(sender_id=sender, target={"recipient_id": ACCOUNT})
    dm["message_create"]["message_data"]["text"] = text
    return json.dumps(delivery).encode()


async def post(client: TestClient, body: bytes) -> dict[str, int]:
    response = await client.post("/webhooks/x", data=body, headers=signed(body))
    assert response.status == 200
    result: dict[str, int] = await response.json()
    return result


async def test_xaa_mention_gets_a_public_reply(client: TestClient, x_api: tuple[XApi, str]) -> None:
    body = xaa_post(
        "-7000000000000000001",
        "2090000000000000111",
        "@RiversideHealth what are the visiting hours?",
        author="7700000000000000007",
    )
    assert await post(client, body) == {"received": 1, "new": 1}
    [call] = await x_api[0].about("2090000000000000111", 1)
    assert call["path"] == "tweets"
    assert call["json"]["reply"] == {"in_reply_to_tweet_id": "2090000000000000111"}
    assert "visiting" in call["json"]["text"].lower()


async def test_xaa_phi_dm_gets_the_private_invite_once(
    client: TestClient, x_api: tuple[XApi, str]
) -> None:
    sender = "9900000000000000009"
    body = xaa_dm(
        "-6000000000000000001",
        "2090000000000000333",
        "my mrn is 7788990, are my biopsy results back?",
        sender,
    )
    results = [await post(client, body) for _ in range(3)]  # the same event_uuid, redelivered
    assert results == [{"received": 1, "new": 1}, *[{"received": 1, "new": 0}] * 2]
    [call] = await x_api[0].about(f"dm_conversations/with/{sender}", 1)
    assert "/p/" in call["json"]["text"]
    assert "7788990" not in call["json"]["text"]
    assert "biopsy" not in call["json"]["text"]


async def test_xaa_phi_reply_is_hidden_and_acknowledged_without_repeating_it(
    client: TestClient, x_api: tuple[XApi, str]
) -> None:
    text = "@RiversideHealth I'm Dana Whitfield, MRN 5566778, my dialysis was moved again"
    author = "7700000000000000017"
    body = xaa_post(
        "3000000000000000001", "2090000000000000222", text, author, "2090000000000000001"
    )
    assert await post(client, body) == {"received": 1, "new": 1}
    calls = await x_api[0].about("2090000000000000222", 2)
    assert [c["path"] for c in calls] == ["tweets/2090000000000000222/hidden", "tweets"]
    [invite] = await x_api[0].about(f"dm_conversations/with/{author}", 1)
    assert "/p/" in invite["json"]["text"]
    sent = json.dumps([c["json"] for c in [*calls, invite]]).lower()
    for part in ("dana", "whitfield", "5566778", "dialysis"):
        assert part not in sent


async def test_mention_delivered_in_both_formats_and_as_a_reply_gets_one_reply(
    client: TestClient, x_api: tuple[XApi, str]
) -> None:
    post_id, text = "2090000000000000444", "@RiversideHealth where can I park?"
    author = "3300000000000000003"  # the author of the AAA fixture
    old = mention(post_id, text)
    as_mention = xaa_post("4000000000000000001", post_id, text, author)
    as_reply = xaa_post("4000000000000000002", post_id, text, author, "2090000000000000001")
    assert await post(client, old) == {"received": 1, "new": 1}
    assert await post(client, as_mention) == {"received": 1, "new": 0}
    assert await post(client, as_reply) == {"received": 1, "new": 0}
    assert await post(client, old) == {"received": 1, "new": 0}
    [call] = await x_api[0].about(post_id, 1)
    assert call["path"] == "tweets"


async def test_dm_delivered_in_both_formats_gets_one_answer(
    client: TestClient, x_api: tuple[XApi, str]
) -> None:
    sender = "6600000000000000016"
    text = "my mrn is 1122334, can someone call me about my scan?"
    new = xaa_dm("5000000000000000001", "2090000000000000555", text, sender)
    old_body = json.loads(direct("2090000000000000555", text))
    old_body["direct_message_events"][0]["message_create"]["sender_id"] = sender
    old = json.dumps(old_body).encode()
    assert await post(client, new) == {"received": 1, "new": 1}
    assert await post(client, old) == {"received": 1, "new": 0}
    calls = await x_api[0].about("2090000000000000555", 0)
    assert calls == []  # a DM answer names the sender, never the DM
    invites = [
        c
        for c in await x_api[0].about(f"dm_conversations/with/{sender}", 1)
        if "/p/" in c["json"]["text"]
    ]
    assert len(invites) == 1


# Every sample of X's that the webhook may get, as X sent it (see fixtures/x/xaa/README.md).
SAMPLES = sorted(p.name for p in XAA.glob("*.json"))
TRIAGED = {
    "post_mention_create.json": "2080765813578191303",
    "post_reply_create.json": "2090000000000000001",
    "post_quote_create.json": "2090000000000000002",
    "dm_received.json": "2080765901528535096",
}
DOC_ACCOUNT, DOC_OTHER = "1111111111111111111", "2222222222222222222"


async def decided(redis_url: str, message_ids: list[str]) -> bool:
    """True once every message has its Decision stored (bounded wait)."""
    redis = Redis.from_url(redis_url)
    try:
        for _ in range(200):
            names = [keys.message_decision("x", m) for m in message_ids]
            if all(await redis.mget(names)):
                return True
            await asyncio.sleep(0.05)
        return False
    finally:
        await redis.aclose()


async def test_x_samples_replayed_signed_unsigned_badly_signed_and_twice(
    client: TestClient, x_api: tuple[XApi, str], redis_url: str
) -> None:
    json_only = {"Content-Type": "application/json"}
    for name in SAMPLES:
        body = (XAA / name).read_bytes()
        unsigned = await client.post("/webhooks/x", data=body, headers=json_only)
        assert unsigned.status == 401, name
        forged = {**signed(body + b"\n"), **json_only}
        assert (await client.post("/webhooks/x", data=body, headers=forged)).status == 403, name
        expected = 1 if name in TRIAGED else 0
        assert await post(client, body) == {"received": expected, "new": expected}, name
        assert await post(client, body) == {"received": expected, "new": 0}, name
    assert set(TRIAGED) <= set(SAMPLES)
    assert await decided(redis_url, list(TRIAGED.values()))
    # The mention, the reply and the DM are greetings (one answer each); the quote,
    # "Adding some context to this. <link>", is taken for spam and ignored.
    replies = await x_api[0].about(TRIAGED["post_mention_create.json"], 1)
    replies += await x_api[0].about(TRIAGED["post_reply_create.json"], 1)
    assert [c["json"]["reply"]["in_reply_to_tweet_id"] for c in replies] == [
        TRIAGED["post_mention_create.json"],
        TRIAGED["post_reply_create.json"],
    ]
    assert await x_api[0].about(TRIAGED["post_quote_create.json"], 0) == []
    [dm] = await x_api[0].about(f"dm_conversations/with/{DOC_OTHER}", 1)
    assert "/p/" not in dm["json"]["text"]
    # Nothing answers, hides or writes to the account's own posts, its sent DM, or a repost.
    own = ["2080761390344937796", "2080761269309813134", "2090000000000000003"]
    for target in [*own, DOC_ACCOUNT, "2244994945"]:
        touching = [
            c
            for c in x_api[0].calls
            if target in c["path"]
            or (c["json"] or {}).get("reply", {}).get("in_reply_to_tweet_id") == target
        ]
        assert touching == [], target


# --- partly malformed deliveries ---------------------------------------------------------


async def test_one_bad_item_is_skipped_counted_and_the_rest_answered(
    client: TestClient, x_api: tuple[XApi, str], caplog: pytest.LogCaptureFixture
) -> None:
    good = json.loads(mention("1897000000000000555", "@RiversideHealth where do I park?"))
    bad = {"id_str": "1897000000000000556", "text": "Harold Finch MRN 4455667"}  # no user
    odd = {**good["tweet_create_events"][0], "id_str": "1897000000000000557", "text": ["Harold"]}
    dm = json.loads(direct("1897000000000000558", "what are your opening hours?"))
    good["tweet_create_events"] += [bad, odd]
    good.update(direct_message_events=dm["direct_message_events"], users=dm.get("users", {}))
    body = json.dumps(good).encode()
    before = await (await client.get("/metrics")).text()
    for delivery in range(2):  # X redelivers: still 200, still recorded once
        with caplog.at_level("WARNING", logger="triagebot.webhooks"):
            response = await client.post("/webhooks/x", data=body, headers=signed(body))
        assert response.status == 200
        answer = await response.json()
        assert (answer["received"], answer["new"]) == (2, 2 if delivery == 0 else 0)
        assert answer["skipped"] == [
            "tweet_create_events[1].user: missing_field",
            "tweet_create_events[2].text: wrong_type",
        ]
    [reply] = await x_api[0].about("1897000000000000555", 1)
    assert reply["path"] == "tweets"
    metrics = await (await client.get("/metrics")).text()
    # The module's app is shared: other tests may have skipped items before this one.
    for reason in ("missing_field", "wrong_type"):
        assert _skipped(metrics, reason) - _skipped(before, reason) == 2.0
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "missing_field" in logged
    for text in (metrics, logged, json.dumps(answer)):
        assert "Harold" not in text
        assert "4455667" not in text


async def test_xaa_event_that_cannot_be_read_is_acknowledged_and_counted(
    client: TestClient,
) -> None:
    delivery = json.loads(xaa_post("-7000000000000000009", "2090000000000000009", "hi", "77"))
    del delivery["data"]["payload"]["author_id"]
    assert await post(client, json.dumps(delivery).encode()) == {
        "received": 0,
        "new": 0,
        "skipped": ["data.payload.author_id: missing_field"],  # type: ignore[dict-item]
    }


@pytest.mark.parametrize("body", [b"Harold Finch {", b"[]", b'"Harold"'])
async def test_only_a_body_that_is_no_json_object_gets_400(client: TestClient, body: bytes) -> None:
    response = await client.post("/webhooks/x", data=body, headers=signed(body))
    assert response.status == 400
    assert "Harold" not in await response.text()


def _skipped(metrics: str, reason: str) -> float:
    """The X items skipped for `reason` so far, from the Prometheus text."""
    name = f'triage_webhook_items_skipped_total{{platform="x",reason="{reason}"}} '
    line = next((line for line in metrics.splitlines() if line.startswith(name)), None)
    return float(line.removeprefix(name)) if line else 0.0
