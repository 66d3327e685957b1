"""X end to end: signed Account Activity webhooks into the real app, a local server as X's API."""

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
from tests.hangs import close_within

FIXTURES = Path(__file__).resolve().parents[2] / "bot" / "connectors" / "fixtures" / "x"
ACCOUNT = "1500000000000000001"
SECRET = "x-consumer-secret-for-tests"


class XApi:
    """A local stand-in for api.x.com/2 that records every call."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.app = web.Application()
        self.app.router.add_route("*", "/2/{path:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append({"path": request.match_info["path"], "json": await request.json()})
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
    for _ in range(3):  # redelivered
        assert (await client.post("/webhooks/x", data=body, headers=signed(body))).status == 200
    sender = "6600000000000000006"
    [call] = await x_api[0].about(f"dm_conversations/with/{sender}", 1)
    assert "/p/" in call["json"]["text"]
    assert "7788990" not in call["json"]["text"]
    assert "biopsy" not in call["json"]["text"]


async def test_wrong_signature_is_refused(client: TestClient) -> None:
    body = mention("1897000000000000444", "@RiversideHealth hi")
    headers = signed(body + b" ")
    assert (await client.post("/webhooks/x", data=body, headers=headers)).status == 403
