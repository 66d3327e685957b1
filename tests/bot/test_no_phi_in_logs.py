"""PHI through every endpoint, valid and invalid, at DEBUG level: none of it reaches a log."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from redis.asyncio import Redis

from bot.app import create_app
from bot.logs import RUNNER_OPTIONS
from bot.settings import Settings
from tests.bot.test_meta_webhook import APP_SECRET, PAGE_ID, comment, signed

X_SECRET = "x-consumer-secret-for-tests"
TOKEN = "log-test-token"
PHI = {
    "name": "Harold Finch",
    "ssn": "123-45-6789",
    "mrn": "8834120",
    "dob": "04/02/1960",
    "email": "h.finch@example.org",
    "diagnosis": "pancreatic cancer",
}
TEXT = (
    f"I'm {PHI['name']}, ssn {PHI['ssn']}, mrn {PHI['mrn']}, DOB {PHI['dob']}, "
    f"email {PHI['email']}, I was diagnosed with {PHI['diagnosis']}"
)


class Platforms:
    """Local stand-ins for the Graph API and the X API, recording every call."""

    def __init__(self) -> None:
        self.calls = 0
        self.app = web.Application()
        self.app.router.add_route("*", "/{path:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        await request.read()
        return web.json_response({"data": {"id": "1"}, "success": True})


@pytest.fixture
async def client(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> AsyncIterator[tuple[TestClient, Platforms]]:
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()
    platforms = Platforms()
    async with TestServer(platforms.app) as fake:
        settings = Settings(
            _env_file=None,
            data_dir=tmp_path_factory.mktemp("var"),
            redis_url=SecretStr(redis_url),
            api_token=SecretStr(TOKEN),
            meta_app_secret=SecretStr(APP_SECRET),
            meta_page_token=SecretStr("page-token"),
            meta_graph_url=str(fake.make_url("/v21.0")),
            meta_page_id=PAGE_ID,
            x_consumer_secret=SecretStr(X_SECRET),
            x_bearer_token=SecretStr("x-bearer"),
            x_api_url=str(fake.make_url("/2")),
            x_account_id="1000",
            log_level="DEBUG",
        )
        # The runner options `triagebot serve` uses, access log included.
        server = TestServer(create_app(settings))
        await server.start_server(**RUNNER_OPTIONS)
        async with TestClient(server) as test_client:
            yield test_client, platforms


def x_mention(tweet_id: str, text: str) -> bytes:
    return json.dumps(
        {
            "for_user_id": "1000",
            "tweet_create_events": [
                {"id_str": tweet_id, "text": text, "user": {"id_str": "2000", "screen_name": "hf"}}
            ],
        }
    ).encode()


def x_activity(event_type: str, author_id: str, text: str) -> bytes:
    """An X Activity API post event, in the envelope X documents."""
    payload = {"id": "1234567891", "text": text, "author_id": author_id}
    event = {"event_uuid": "-99", "filter": {"user_id": "1000"}, "event_type": event_type}
    return json.dumps({"data": {**event, "payload": payload}}).encode()


def x_signed(body: bytes) -> dict[str, str]:
    digest = hmac.new(X_SECRET.encode(), body, hashlib.sha256).digest()
    return {
        "x-twitter-webhooks-signature": "sha256=" + base64.b64encode(digest).decode(),
        "Content-Type": "application/json",
    }


def everything_logged(records: list[logging.LogRecord]) -> str:
    parts: list[Any] = []
    for record in records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        parts.append(repr(record.__dict__))
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(str(p) for p in parts)


async def test_phi_sent_everywhere_never_reaches_the_logs(
    client: tuple[TestClient, Platforms], caplog: pytest.LogCaptureFixture
) -> None:
    http, platforms = client
    auth = {"Authorization": f"Bearer {TOKEN}"}
    caplog.set_level(logging.DEBUG)
    api = {"message_id": "log1", "author_id": "u", "text": TEXT}
    assert (await http.post("/v1/messages", json=api, headers=auth)).status == 200
    assert (await http.post("/v1/messages", json={**api, TEXT: 1}, headers=auth)).status == 422
    assert (await http.post("/v1/messages", data=TEXT.encode(), headers=auth)).status == 415
    assert (await http.post("/v1/messages", json=api)).status == 401
    body = comment("log_c1", TEXT)
    assert (await http.post("/webhooks/meta", data=body, headers=signed(body))).status == 200
    assert (await http.post("/webhooks/meta", data=body, headers=signed(b"x"))).status == 403
    broken = body[:-5] + TEXT.encode()
    assert (await http.post("/webhooks/meta", data=broken, headers=signed(broken))).status == 400
    tweet = x_mention("1234567890", TEXT)
    assert (await http.post("/webhooks/x", data=tweet, headers=x_signed(tweet))).status == 200
    assert (await http.get("/webhooks/x", params={"crc_token": TEXT})).status == 200
    # X Activity API: triaged, logged as not triaged (our own post), and malformed (skipped
    # and logged by place and reason, still acknowledged).
    for event in (
        x_activity("post.mention.create", "2000", TEXT),
        x_activity("post.create", "1000", TEXT),
        x_activity("post.mention.create", TEXT, TEXT),
    ):
        response = await http.post("/webhooks/x", data=event, headers=x_signed(event))
        assert response.status == 200
    for _ in range(200):  # let the worker triage and act on both webhooks
        if platforms.calls >= 4:
            break
        await asyncio.sleep(0.05)
    assert platforms.calls >= 4
    logged = everything_logged(caplog.records)
    assert "POST /webhooks/{platform} 200" in logged  # access lines are there, safely
    assert "message triaged" in logged
    assert "not triaged: a post by the subscribed account" in logged
    assert "malformed webhook items skipped" in logged
    for value in PHI.values():
        assert value not in logged
        assert value.lower() not in logged.lower()


async def test_a_malformed_header_is_logged_without_its_line_and_without_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    secret = "Bearer sekrit-token-4455667"
    # The runner options `triagebot serve` uses: its access log and server log.
    server = TestServer(app)
    await server.start_server(**RUNNER_OPTIONS)
    try:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        request = f"GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: {secret}\x01\r\n\r\n"
        writer.write(request.encode())
        await writer.drain()
        answer = await reader.read()
        writer.close()
        await writer.wait_closed()
    finally:
        await server.close()
    assert answer.split(b" ", 2)[1] == b"400"
    logged = everything_logged(caplog.records)
    assert "sekrit" not in logged
    assert "4455667" not in logged
    assert "AssertionError" not in logged
    assert "(unmatched) 400" in logged  # the access line is still written
