"""Redis out of memory: clients get a 503 with Retry-After, the log gets a line per episode
rather than a traceback per request."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from redis.asyncio import Redis

from bot.app import create_app
from bot.settings import Settings
from tests.hangs import close_within

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def body(message_id: str) -> dict[str, str]:
    return {"message_id": message_id, "author_id": "u1", "text": "where do I park?"}


async def app_client(data_dir: Path, redis_url: str) -> TestClient:
    settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        api_token=SecretStr(TOKEN),
        redis_url=SecretStr(redis_url),
        workers=0,  # requests only: the log lines counted are theirs
        shutdown_grace_s=4,
    )
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    return client


@pytest.fixture
async def client(tmp_path: Path, redis_url: str) -> AsyncIterator[TestClient]:
    test_client = await app_client(tmp_path, redis_url)
    try:
        yield test_client
    finally:
        await close_within(test_client, "the app under its test client")


async def test_redis_out_of_memory_is_a_503_with_retry_after_logged_once(
    client: TestClient, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    redis = Redis.from_url(redis_url)
    saved = await redis.config_get("maxmemory*")
    caplog.set_level(logging.INFO)
    try:
        # Any write is refused now: the dataset is already above one byte.
        await redis.config_set("maxmemory-policy", "noeviction")
        await redis.config_set("maxmemory", "1")
        answers = [
            await client.post("/v1/messages", json=body(f"oom-{i}"), headers=AUTH) for i in range(5)
        ]
        refused = [(a.status, a.headers.get("Retry-After"), await a.json()) for a in answers]
    finally:
        await redis.config_set("maxmemory", saved["maxmemory"])
        await redis.config_set("maxmemory-policy", saved["maxmemory-policy"])
        await redis.aclose()
    assert refused == [
        (503, "5", {"error": "storage temporarily unavailable; retry shortly"})
    ] * len(answers)
    logged = [r for r in caplog.records if r.name == "triagebot.http"]
    assert len(logged) == 1  # one line for the episode, not one per request
    assert logged[0].levelno == logging.WARNING
    assert logged[0].exc_info is None  # and no traceback
    assert getattr(logged[0], "kind", None) == "redis_out_of_memory"
    # Memory back: the next retry is answered.
    again = await client.post("/v1/messages", json=body("oom-0"), headers=AUTH)
    assert again.status == 200
