"""SIGKILL the service between the 200 and the triage: after a restart the message is done once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from bot.embedded_redis import free_port
from escalation import keys
from tests.bot.test_meta_webhook import APP_SECRET, PAGE_ID, GraphApi, comment, signed

TRIAGEBOT = str(Path(sys.executable).with_name("triagebot"))


@pytest.fixture
async def graph() -> AsyncIterator[tuple[GraphApi, str]]:
    api = GraphApi()
    async with TestServer(api.app) as server:
        yield api, str(server.make_url("/v21.0"))


async def start(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(  # noqa: ASYNC220 - a child process the test kills on purpose
        [TRIAGEBOT, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    # Each probe bounded too: a server that accepts and never answers fails the test.
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        for _ in range(300):  # bounded: about 30 s for the models to load
            try:
                async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                    if response.status == 200:
                        return proc
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.1)
    proc.kill()
    raise AssertionError("the service did not become ready")


async def test_receipt_survives_a_sigkill_and_is_processed_once(
    tmp_path: Path, redis_url: str, graph: tuple[GraphApi, str]
) -> None:
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    port = free_port()
    env = {
        **os.environ,
        "TRIAGE_PORT": str(port),
        "TRIAGE_REDIS_URL": redis_url,
        "TRIAGE_DATA_DIR": str(tmp_path),  # the key file must survive the restart
        "TRIAGE_META_APP_SECRET": APP_SECRET,
        "TRIAGE_META_PAGE_TOKEN": "page-token",
        "TRIAGE_META_GRAPH_URL": graph[1],
        "TRIAGE_META_PAGE_ID": PAGE_ID,
        "TRIAGE_WORKERS": "0",  # acknowledge only: the crash comes before any triage
    }
    body = comment("c_crash", "when are visiting hours?")
    proc = await start(env, port)
    async with aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{port}/webhooks/meta"
        async with session.post(url, data=body, headers=signed(body)) as response:
            assert response.status == 200
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert await redis.xlen(keys.INBOX) == 1
    assert graph[0].calls == []

    proc = await start({**env, "TRIAGE_WORKERS": "1", "TRIAGE_WORKER_LEASE_S": "0.5"}, port)
    try:
        for _ in range(200):
            if graph[0].calls:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # a second, wrong reply would show up here
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(asyncio.to_thread(proc.wait), 30)
        except TimeoutError:
            proc.kill()
            proc.wait()
    assert [c["path"] for c in graph[0].calls] == ["c_crash/comments"]
    assert await redis.xlen(keys.INBOX) == 0
    await redis.aclose()
