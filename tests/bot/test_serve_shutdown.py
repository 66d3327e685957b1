"""SIGTERM a running `triagebot serve` mid-work: it exits within its grace period, having
finished the platform call in flight and handed back the receipt it could not finish."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from bot.embedded_redis import free_port
from escalation import keys
from tests.bot.test_x_webhook import ACCOUNT, SECRET, mention, signed

ROOT = Path(__file__).resolve().parents[2]
GRACE_S = 6.0
LEASE_S = 30.0
TWEET = "1897000000000000555"


class HeldXApi:
    """X's API that answers its first call only when told to, and never answers the rest."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.first_arrived = asyncio.Event()
        self.release_first = asyncio.Event()
        self.release_all = asyncio.Event()  # set at teardown only
        self.app = web.Application()
        self.app.router.add_route("*", "/2/{path:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        self.paths.append(request.match_info["path"])
        if len(self.paths) == 1:
            self.first_arrived.set()
            await self.release_first.wait()
        else:
            await self.release_all.wait()
        return web.json_response({"data": {"id": "1897000000000009999"}}, status=201)


@pytest.fixture
async def x_api() -> AsyncIterator[tuple[HeldXApi, str]]:
    api = HeldXApi()
    async with TestServer(api.app) as server:
        try:
            yield api, str(server.make_url("/2"))
        finally:  # let the held handlers end, or closing the server waits for them
            api.release_first.set()
            api.release_all.set()


@pytest.fixture
async def service(
    tmp_path: Path, redis_url: str, x_api: tuple[HeldXApi, str]
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """`triagebot serve` on the test Redis, X's API the held one; yields it and its URL."""
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TRIAGE_PORT": str(port),
        "TRIAGE_REDIS_URL": redis_url,
        "TRIAGE_DATA_DIR": str(tmp_path),
        "TRIAGE_X_CONSUMER_SECRET": SECRET,
        "TRIAGE_X_BEARER_TOKEN": "bearer",
        "TRIAGE_X_API_URL": x_api[1],
        "TRIAGE_X_ACCOUNT_ID": ACCOUNT,
        "TRIAGE_WORKERS": "1",
        "TRIAGE_WORKER_LEASE_S": str(LEASE_S),
        "TRIAGE_OUTBOUND_ATTEMPTS": "1",
        "TRIAGE_SHUTDOWN_GRACE_S": str(GRACE_S),
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "serve", cwd=ROOT, env=env, stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    try:
        async with (
            asyncio.timeout(90),  # the models load in a few seconds; a slow host gets more
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
        ):
            while process.returncode is None:
                try:
                    async with http.get(f"{base}/readyz") as ready:
                        if ready.status == 200:
                            break
                except (aiohttp.ClientConnectionError, TimeoutError):
                    pass
                await asyncio.sleep(0.2)
        assert process.returncode is None, log.read_text()[-2000:]
        yield process, base
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_sigterm_finishes_the_call_in_flight_and_hands_back_the_rest_within_grace(
    service: tuple[asyncio.subprocess.Process, str], x_api: tuple[HeldXApi, str], redis_url: str
) -> None:
    process, base = service
    api = x_api[0]
    # A PHI mention under our post: hide it, reply publicly, invite privately.
    text = "@RiversideHealth I'm Dana Whitfield, MRN 5566778, my dialysis was moved again"
    body = mention(TWEET, text, in_reply_to="1897000000000000001")
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
        http.post(f"{base}/webhooks/x", data=body, headers=signed(body)) as response,
    ):
        assert response.status == 200
    async with asyncio.timeout(60):
        await api.first_arrived.wait()

    loop = asyncio.get_running_loop()
    process.send_signal(signal.SIGTERM)
    sent_at = loop.time()
    api.release_first.set()  # the call in flight is answered while the service stops
    async with asyncio.timeout(GRACE_S + 10):  # bounded even when the assertion fails
        returncode = await process.wait()
    took = loop.time() - sent_at

    assert returncode == 0
    assert took < GRACE_S
    assert api.paths[0] == f"tweets/{TWEET}/hidden"
    assert len(api.paths) == 2  # the reply was sent, and never answered
    redis = Redis.from_url(redis_url)
    try:
        marks: dict[Any, Any] = await redis.hgetall(keys.actions("x", TWEET))
        # The answered call is recorded as sent; the unanswered one stays marked, so the
        # worker that takes the receipt over never sends that reply a second time.
        assert marks == {b"0": b"sent", b"1": b"pending"}
        # Handed back: another worker takes the receipt now, not after its 30 s lease.
        taken = await redis.xautoclaim(
            keys.INBOX, keys.INBOX_GROUP, "successor", int(LEASE_S * 1000), "0-0", justid=True
        )
        assert len(taken) == 1
        assert await redis.xlen(keys.INBOX) == 1  # and nothing was acknowledged unfinished
    finally:
        await redis.aclose()
