"""Redis out of memory, frozen or gone: clients get a 503 with Retry-After, readiness answers
at once, the log gets a line per episode rather than a traceback per request."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.app import create_app
from bot.embedded_redis import free_port, redis_server_binary
from bot.settings import Settings
from tests.bot.test_meta_webhook import APP_SECRET, PAGE_ID, comment, signed
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
        meta_app_secret=SecretStr(APP_SECRET),
        meta_page_id=PAGE_ID,
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
        delivery = comment("c_oom", "where do I park?")
        answers.append(await client.post("/webhooks/meta", data=delivery, headers=signed(delivery)))
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
    # Memory back: the next retries are answered (the webhook's was not recorded before).
    again = await client.post("/v1/messages", json=body("oom-0"), headers=AUTH)
    assert again.status == 200
    retried = await client.post("/webhooks/meta", data=delivery, headers=signed(delivery))
    assert retried.status == 200


class RedisServer:
    """A redis-server of this test's own, to freeze and thaw."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        options = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
        self.process = subprocess.Popen(
            [redis_server_binary(), *options, "no", "--dir", str(data_dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def signal(self, signum: signal.Signals) -> None:
        os.kill(self.process.pid, signum)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    try:
        yield server
    finally:
        server.signal(signal.SIGCONT)  # a stopped process does not act on SIGKILL until
        server.process.kill()
        server.process.wait(timeout=10)


async def test_readiness_answers_503_at_once_while_redis_is_frozen(
    own_redis: RedisServer, tmp_path: Path
) -> None:
    probe = Redis.from_url(own_redis.url)
    for _ in range(100):  # bounded: the server starts in milliseconds
        try:
            await probe.ping()
            break
        except RedisConnectionError:
            await asyncio.sleep(0.05)
    await probe.aclose()
    client = await app_client(tmp_path / "var", own_redis.url)
    loop = asyncio.get_running_loop()
    try:
        assert (await client.get("/readyz")).status == 200
        own_redis.signal(signal.SIGSTOP)
        started = loop.time()
        frozen = await client.get("/readyz")
        took = loop.time() - started
        # A client is refused too, and told when to come back, rather than held.
        refused = await client.post("/v1/messages", json=body("frozen"), headers=AUTH)
        own_redis.signal(signal.SIGCONT)
        ready = [(await client.get("/readyz")).status for _ in range(3)]
        assert (await client.post("/v1/messages", json=body("thawed"), headers=AUTH)).status == 200
    finally:
        own_redis.signal(signal.SIGCONT)
        await close_within(client, "the app under its test client")
    assert frozen.status == 503
    assert took < 1.5  # the behaviour itself: a probe answers within its own bound
    assert (refused.status, refused.headers.get("Retry-After")) == (503, "2")
    assert ready[-1] == 200
